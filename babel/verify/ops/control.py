"""The control family: call, branch, jump and halt; ret is reserved.

`call` runs a skill's plan as one step. Its checks and facts read the skill table the
caller gives (the verifier is pure); performing it is the machine's (`Machine.call_skill`
runs the skill's steps under its permissions intersected with the run's).

`jump`, `branch` and `halt` move control. Their labels are step ids (every step has
one), so the text form's grammar does not change. Each says where control may go
(`flow`, the verifier's control-flow graph: babel.verify.flow) and, when performed, where
it goes (`Outcome.jump_to`, `Outcome.halt`); the machine moves its program counter by
that answer and counts each bounded edge (`times=`), failing the step with `loop_bound`
past it. A branch tests a value as a bool, a comparison, or a model op's confidence.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from babel.lang import Diagnostic, Opcode, SlotRef, Step, Value, as_text
from babel.verify.ops.base import FactsOf, Flow, Handler, Machine, Outcome, SkillTable, Source, StepFacts, StepFailure, diag
from babel.verify.policy import Policy


class Call(Handler):
    op = "call"

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        """A call names an installed skill, gives its required inputs and only known ones, and
        the skill's permissions fit the run's policy."""
        name = step.args.get("skill")
        if not isinstance(name, str):
            return [diag(step, "E_ARG_INVALID", "skill= must name a skill literally (see `babel skill list`)")]
        skill = skills.get(name)
        if skill is None:
            near = difflib.get_close_matches(name, list(skills), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; skills: {', '.join(sorted(skills)) or 'none'}"
            return [diag(step, "E_SKILL_UNKNOWN", f"no skill named {name!r}{hint}")]
        out: list[Diagnostic] = []
        known = skill.inputs.get("properties", {})
        for key in step.args:
            if key != "skill" and key not in known:
                out.append(diag(step, "E_ARG_UNKNOWN", f"skill {name} has no input {key!r} (inputs: {', '.join(known) or 'none'})"))
        for key in skill.inputs.get("required", []):
            if key not in step.args:
                out.append(diag(step, "E_ARG_MISSING", f"skill {name} needs the input {key}= ({known.get(key, {}).get('description', '')})"))
        for need in skill.needs(policy):
            out.append(diag(step, "E_SKILL_PERMISSION", f"skill {name} needs {need}, which this run's policy does not grant"))
        return out

    def facts(self, step: Step, opcode: Opcode, skills: SkillTable, facts_of: FactsOf) -> StepFacts:
        """A skill's steps' facts; a call of a skill not in the table is taken to have effects."""
        skill = skills.get(str(step.args.get("skill")))
        if skill is None:
            return StepFacts(effects=True, permission="skill")
        inner = [facts_of(s) for s in skill.plan.steps]
        return StepFacts(effects=any(f.effects for f in inner) or bool(skill.permissions.get("write")), permission="skill",
                         programs=tuple(p for f in inner for p in f.programs))

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        name = as_text(args.get("skill", ""))
        inputs = {k: v if isinstance(v, (str, list)) else as_text(v) for k, v in args.items() if k != "skill"}
        value, detail = machine.call_skill(name, inputs)
        return Outcome(value, detail)


#: the most times= may allow (a loop's bound is checked, and a run has a time budget besides)
MAX_TIMES = 1000
#: what a bool-like value reads as false; anything else that is not empty holds
FALSE = frozenset({"", "no", "false", "0"})
NUMERIC = ("lt", "le", "gt", "ge")
COMPARISONS = ("eq", "ne", *NUMERIC)


def _check_target(step: Step) -> list[Diagnostic]:
    """to= names a step literally; times= is a positive bound within MAX_TIMES (the graph
    checks that the step exists: babel.verify.flow)."""
    out: list[Diagnostic] = []
    if not isinstance(step.args.get("to"), str):
        out.append(diag(step, "E_ARG_INVALID", "to= must name a step id literally, e.g. to=\"s2\""))
    times = step.args.get("times")
    if isinstance(times, int) and not isinstance(times, bool) and not 1 <= times <= MAX_TIMES:
        out.append(diag(step, "E_ARG_INVALID", f"times={times} is outside 1 to {MAX_TIMES}"))
    return out


def _bound(args: dict[str, Any]) -> int | None:
    times = args.get("times")
    return int(times) if times is not None else None


def truthy(value: Any) -> bool:
    """A value read as a bool: "yes", "true", any other non-empty text hold; "no",
    "false", "0" and empty text (or an empty list) do not."""
    if isinstance(value, list):
        return any(as_text(item).strip() for item in value)
    return as_text(value).strip().lower() not in FALSE


def _number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def _is_number(value: Value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and _number(value) is not None)


def _relabel(step: Step, old: str, new: str) -> Step:
    return replace(step, args={**step.args, "to": new}) if step.args.get("to") == old else step


def _named(value: Value) -> str:
    return f"${value.name}" if isinstance(value, SlotRef) else repr(value)


class Jump(Handler):
    op = "jump"

    def flow(self, step: Step) -> Flow:
        to = step.args.get("to")
        return Flow((to,) if isinstance(to, str) else (), falls_through=False, bounded="times" in step.args)

    def relabel(self, step: Step, old: str, new: str) -> Step:
        return _relabel(step, old, new)

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        return _check_target(step)

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        return Outcome(None, jump_to=as_text(args["to"]), bound=_bound(args))


class Branch(Handler):
    op = "branch"

    def flow(self, step: Step) -> Flow:
        to = step.args.get("to")
        return Flow((to,) if isinstance(to, str) else (), falls_through=True, bounded="times" in step.args)

    def relabel(self, step: Step, old: str, new: str) -> Step:
        return _relabel(step, old, new)

    @staticmethod
    def _comparison(step: Step) -> tuple[str, Value] | None:
        return next(((name, step.args[name]) for name in COMPARISONS if name in step.args), None)

    @staticmethod
    def _numeric(comparison: tuple[str, Value] | None) -> bool:
        return comparison is not None and (comparison[0] in NUMERIC or isinstance(comparison[1], int))

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        out = _check_target(step)
        tested, comparison = step.args.get("if"), self._comparison(step)
        if self._numeric(comparison) and tested is not None and not isinstance(tested, SlotRef) and not _is_number(tested):
            assert comparison is not None
            out.append(diag(step, "E_TYPE_MISMATCH", f"{comparison[0]}= compares numbers, and if= is {tested!r}, not a number"))
        confidence = step.args.get("min_confidence")
        if confidence is not None:
            if not isinstance(tested, SlotRef):
                out.append(diag(step, "E_TYPE_MISMATCH", "min_confidence= tests the confidence of a model op's value: if= must be the slot it wrote"))
            if isinstance(confidence, int) and not isinstance(confidence, bool) and not 0 <= confidence <= 100:
                out.append(diag(step, "E_ARG_INVALID", f"min_confidence={confidence} is a percentage: 0 to 100"))
        return out

    def check_reads(self, step: Step, sources: Mapping[str, tuple[Source, ...]]) -> list[Diagnostic]:
        """The types at the branch: a comparison of numbers needs a value that can be one, a
        text comparison with a model op's fixed answers one of them, min_confidence= a value
        written by a model op that gives a confidence — on every path that reaches it."""
        tested = step.args.get("if")
        if not isinstance(tested, SlotRef):
            return []
        out: list[Diagnostic] = []
        comparison = self._comparison(step)
        for source in sources.get(tested.name, ()):
            if source.step is None:
                continue  # a plan's input: only the run knows its value
            by = f"written by {source.step.id} ({source.step.op})"
            answers = source.handler.answers if source.handler is not None else None
            if comparison is not None and self._numeric(comparison):
                if source.type in ("lines", "matches"):
                    out.append(diag(step, "E_TYPE_MISMATCH", f"{comparison[0]}= compares numbers; ${tested.name} holds {source.type}, {by}"))
                elif answers is not None:
                    out.append(diag(step, "E_TYPE_MISMATCH", f"{comparison[0]}= compares numbers; ${tested.name} holds {' or '.join(answers)}, {by}"))
            elif comparison is not None and answers is not None and isinstance(comparison[1], str) and comparison[1].strip() not in answers:
                never = f"{comparison[0]}={comparison[1]!r} can never match: ${tested.name} holds {' or '.join(answers)}, {by}"
                out.append(diag(step, "E_TYPE_MISMATCH", never))
            if "min_confidence" in step.args and (source.handler is None or not source.handler.confident):
                out.append(diag(step, "E_TYPE_MISMATCH", "min_confidence= needs the value of a model op that gives a confidence "
                                f"(eval, select); ${tested.name} is {by}, which gives none"))
        return out

    def _holds(self, step: Step, args: dict[str, Any], machine: Machine) -> bool:
        value = args["if"]
        comparison = self._comparison(step)
        if comparison is None:
            held = truthy(value)
            wanted = args.get("min_confidence")
            if wanted is None:
                return held
            tested = step.args["if"]
            confidence = machine.confidence(tested.name) if isinstance(tested, SlotRef) else None
            if confidence is None:
                raise StepFailure("invalid_output", f"min_confidence= needs a confidence, and if= {_named(tested)} has none (no model op wrote it)")
            return held and confidence * 100 >= int(wanted)
        name, against = comparison[0], args[comparison[0]]
        text = as_text(value).strip()
        if not self._numeric(comparison):
            return (text == as_text(against).strip()) == (name == "eq")
        number = _number(text)
        if number is None:
            raise StepFailure("invalid_output", f"{name}= compares numbers, and the value is {text[:60]!r}, not a number")
        bound = float(against)
        return {"eq": number == bound, "ne": number != bound, "lt": number < bound, "le": number <= bound,
                "gt": number > bound, "ge": number >= bound}[name]

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        if self._holds(step, args, machine):
            return Outcome(None, {"taken": True}, jump_to=as_text(args["to"]), bound=_bound(args))
        return Outcome(None, {"taken": False})


class Halt(Handler):
    op = "halt"

    def flow(self, step: Step) -> Flow:
        return Flow(falls_through=False, ends=True)

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        value = args.get("value")
        return Outcome(value if isinstance(value, (str, list)) or value is None else as_text(value), halt=True)


HANDLERS: dict[str, Handler] = {h.op: h for h in (Call(), Branch(), Jump(), Halt())}
