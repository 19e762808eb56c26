"""The static verifier: is this plan well-formed, well-typed and within its policy?

Pure: `verify(plan, policy)` looks only at the plan and the policy and returns
diagnostics (empty means valid). It checks opcodes and operands against the ISA table,
data flow (a slot is written before it is read), types (an operand accepts the type of
the slot that feeds it), permissions (paths within the readable / writable roots,
programs on the exec allow-list, no network) and budgets. The decoder uses these
diagnostics as the syndrome of a candidate; the runtime re-checks at run time what
only then becomes known. It never raises on bad input.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any, Protocol

from babel.diagnostics import Diagnostic
from babel.isa import ISA, Opcode, Operand, load_isa
from babel.plan import Plan, SlotRef, Step, Value
from babel.policy import NETWORK_TOOLS, Policy, resolve
from babel.shell import CommandLine, read_argv, read_command_line

#: Which slot types each operand type accepts (text is the universal rendering).
ACCEPTS: dict[str, set[str]] = {
    "str": {"text", "lines", "matches"},
    "regex": {"text"},
    "path": {"text"},
    "paths": {"text", "lines", "matches"},
    "lines": {"text", "lines", "matches"},
    "value": {"text", "lines", "matches"},
    "argv": {"lines"},
    "int": set(),
    "bool": set(),
}


@dataclass(frozen=True)
class StepFacts:
    """What the verifier learned about a step, for the runtime and `babel do`'s prompt."""

    effects: bool
    permission: str | None
    programs: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


class SkillSignature(Protocol):
    """What the verifier needs of a skill that a plan calls (babel.skills.Skill is one)."""

    @property
    def inputs(self) -> dict[str, Any]: ...
    @property
    def permissions(self) -> dict[str, Any]: ...
    @property
    def plan(self) -> Plan: ...
    def needs(self, run: Policy) -> list[str]:
        """What the skill needs that the run's policy does not grant."""
        ...


#: The skills a plan may call, by name: a value the caller makes (from babel.skills) and passes in.
SkillTable = Mapping[str, SkillSignature]
NO_SKILLS: SkillTable = MappingProxyType({})


def verify(plan: Plan, policy: Policy | None = None, inputs: dict[str, str] | None = None, skills: SkillTable = NO_SKILLS) -> list[Diagnostic]:
    """Diagnostics for `plan` under `policy`; `inputs` are slots defined before the first
    step (a skill's inputs), by name and type; `skills` are those its `call`s may name."""
    policy = policy or Policy()
    try:
        return _verify(plan, policy, load_isa(), dict(inputs or {}), skills)
    except Exception as error:  # a verifier bug must still not become a traceback
        return [Diagnostic("E_INTERNAL_CHECK", f"the verifier failed on this plan ({_failure(error)}); please report it")]


def _failure(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 200 else text[:197] + "..."


def _guarded(step: Step, check: Callable[[], list[Diagnostic]]) -> list[Diagnostic]:
    """One step's checks; a failure in them is that step's diagnostic, and the other steps are still checked."""
    try:
        return check()
    except Exception as error:  # a verifier bug: refuse the step, say so, never raise
        return [_diag(step, "E_INTERNAL_CHECK", f"the verifier could not check this step ({_failure(error)}); please report it")]


def _diag(step: Step, code: str, message: str, severity: str = "error") -> Diagnostic:
    return Diagnostic(code, message, step=step.id, line=step.line, column=step.column, severity=severity)


def _verify(plan: Plan, policy: Policy, isa: ISA, inputs: dict[str, str], skills: SkillTable) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if not plan.steps:
        return [Diagnostic("E_PLAN_EMPTY", "the plan has no steps")]
    if len(plan.steps) > policy.budgets.steps:
        out.append(Diagnostic("E_BUDGET_STEPS", f"the plan has {len(plan.steps)} steps; the budget is {policy.budgets.steps}"))
    seen_ids: set[str] = set()
    slot_types: dict[str, str] = dict(inputs)
    written_by: dict[str, str] = {name: "(input)" for name in inputs}
    later_writers = {s.out: s.id for s in plan.steps if s.out}
    read_slots: set[str] = set()
    for step in plan.steps:
        if step.id in seen_ids:
            out.append(_diag(step, "E_STEP_DUPLICATE_ID", f"step id {step.id!r} is used twice; ids must be unique"))
        seen_ids.add(step.id)
        opcode = isa.opcodes.get(step.op)
        if opcode is None:
            near = difflib.get_close_matches(step.op, [o.name for o in isa.implemented()], n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; opcodes: {', '.join(o.name for o in isa.implemented())}"
            out.append(_diag(step, "E_OPCODE_UNKNOWN", f"unknown opcode {step.op!r}{hint}"))
        elif not opcode.implemented:
            out.append(_diag(step, "E_OPCODE_RESERVED", f"{step.op!r} belongs to the {opcode.family} family, reserved but not implemented yet"))
        # data flow first: it applies whatever the opcode
        for operand, ref in step.reads():
            read_slots.add(ref.name)
            if ref.name not in slot_types:
                if ref.name in later_writers and later_writers[ref.name] != step.id:
                    why = f"it is written later, by step {later_writers[ref.name]}"
                else:
                    why = "no step writes it"
                out.append(_diag(step, "E_SLOT_UNDEFINED", f"{operand}= reads ${ref.name} before it is written ({why})"))
        if opcode is not None and opcode.implemented:
            out += _guarded(step, partial(_check_operands, step, opcode, slot_types, policy, skills))
        if step.out:
            if step.out in written_by and step.out not in inputs:
                out.append(_diag(step, "W_SLOT_REDEFINED", f"${step.out} was already written by step {written_by[step.out]}; this replaces it", "warning"))
            given = set(step.args)
            slot_types[step.out] = opcode.result_type(given) if opcode else "text"
            written_by[step.out] = step.id
    if plan.result and plan.result not in slot_types:
        out.append(Diagnostic("E_RESULT_UNDEFINED", f"the plan's result ${plan.result} is never written"))
    result_slot = plan.result_slot()
    for step in plan.steps[:-1]:
        if step.out and step.out not in read_slots and step.out != result_slot:
            out.append(_diag(step, "W_SLOT_UNUSED", f"${step.out} is written but never read", "warning"))
    return out


def _literal_type(value: Value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "slot"


def _check_value(step: Step, operand: Operand, value: Value, slot_types: dict[str, str]) -> list[Diagnostic]:
    kind = operand.type
    if isinstance(value, SlotRef):
        found = slot_types.get(value.name)
        if found is None:  # already reported as undefined
            return []
        if found not in ACCEPTS[kind]:
            wants = ", ".join(sorted(ACCEPTS[kind])) or "a literal"
            return [_diag(step, "E_TYPE_MISMATCH", f"{operand.name}= takes {kind} ({wants}); ${value.name} holds {found}")]
        return []
    literal = _literal_type(value)
    ok = {
        "bool": literal == "bool",
        "int": literal == "int",
        "argv": literal == "list",
        "paths": literal in ("str", "list"),
        "lines": literal in ("str", "list"),
        "value": literal in ("str", "int", "list"),
    }.get(kind, literal == "str")
    if not ok:
        return [_diag(step, "E_TYPE_MISMATCH", f"{operand.name}= takes {kind}, not {literal} {_show(value)}")]
    problems: list[Diagnostic] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, SlotRef):
                found = slot_types.get(item.name)
                if found is not None and found != "text":
                    problems.append(_diag(step, "E_TYPE_MISMATCH", f"{operand.name}= lists take text slots; ${item.name} holds {found}"))
            elif not isinstance(item, str) or isinstance(item, bool):
                problems.append(_diag(step, "E_TYPE_MISMATCH", f"{operand.name}= takes a list of strings, found {_show(item)}"))
        if kind == "argv" and not value:
            problems.append(_diag(step, "E_ARG_INVALID", "argv= needs at least the program name"))
    if operand.enum and isinstance(value, str) and value not in operand.enum:
        problems.append(_diag(step, "E_ARG_INVALID", f"{operand.name}= must be one of {', '.join(operand.enum)}, not {value!r}"))
    return problems


def _show(value: Value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_operands(step: Step, opcode: Opcode, slot_types: dict[str, str], policy: Policy, skills: SkillTable) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if opcode.variadic:
        out += _check_call(step, policy, skills)
    for name, value in step.args.items():
        operand = opcode.operands.get(name)
        if operand is None and opcode.variadic:
            continue
        if operand is None:
            near = difflib.get_close_matches(name, list(opcode.operands), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; {opcode.name} takes {', '.join(opcode.operands)}"
            out.append(_diag(step, "E_ARG_UNKNOWN", f"{opcode.name} has no operand {name!r}{hint}"))
            continue
        out += _check_value(step, operand, value, slot_types)
    for name, operand in opcode.operands.items():
        if operand.required and name not in step.args:
            out.append(_diag(step, "E_ARG_MISSING", f"{opcode.name} needs {name}= ({operand.doc})"))
    for group in opcode.one_of:
        present = [n for n in group if n in step.args]
        if len(present) != 1:
            what = "needs one of" if not present else "takes only one of"
            out.append(_diag(step, "E_ARG_MISSING" if not present else "E_ARG_CONFLICT", f"{opcode.name} {what} {' or '.join(n + '=' for n in group)}"))
    for group in opcode.exclusive:
        present = [n for n in group if n in step.args]
        if len(present) > 1:
            out.append(_diag(step, "E_ARG_CONFLICT", f"{opcode.name} takes only one of {' or '.join(n + '=' for n in group)}"))
    out += _check_permissions(step, opcode, policy)
    return out


def _check_call(step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
    """A call names an installed skill, gives its required inputs and only known ones, and
    the skill's permissions fit the run's policy."""
    name = step.args.get("skill")
    if not isinstance(name, str):
        return [_diag(step, "E_ARG_INVALID", "skill= must name a skill literally (see `babel skill list`)")]
    skill = skills.get(name)
    if skill is None:
        near = difflib.get_close_matches(name, list(skills), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else f"; skills: {', '.join(sorted(skills)) or 'none'}"
        return [_diag(step, "E_SKILL_UNKNOWN", f"no skill named {name!r}{hint}")]
    out: list[Diagnostic] = []
    known = skill.inputs.get("properties", {})
    for key in step.args:
        if key != "skill" and key not in known:
            out.append(_diag(step, "E_ARG_UNKNOWN", f"skill {name} has no input {key!r} (inputs: {', '.join(known) or 'none'})"))
    for key in skill.inputs.get("required", []):
        if key not in step.args:
            out.append(_diag(step, "E_ARG_MISSING", f"skill {name} needs the input {key}= ({known.get(key, {}).get('description', '')})"))
    for need in skill.needs(policy):
        out.append(_diag(step, "E_SKILL_PERMISSION", f"skill {name} needs {need}, which this run's policy does not grant"))
    return out


def _literal_paths(value: Value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and not isinstance(item, bool)]
    return []


def _check_permissions(step: Step, opcode: Opcode, policy: Policy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    permission = opcode.needs_permission(set(step.args))
    for name, operand in opcode.operands.items():
        if operand.type not in ("path", "paths") or name not in step.args:
            continue
        access = "write" if permission == "write" else "read"
        for path in _literal_paths(step.args[name]):
            verdict = resolve(policy, path, access)
            if verdict.code:
                out.append(_diag(step, verdict.code, f"{name}=: {verdict.message}"))
    if opcode.name == "exec":
        out += _check_exec(step, policy)
    timeout = step.args.get("timeout")
    if isinstance(timeout, int) and not isinstance(timeout, bool):
        if timeout <= 0:
            out.append(_diag(step, "E_ARG_INVALID", "timeout= must be a positive number of seconds"))
        elif timeout > policy.budgets.step_timeout:
            out.append(_diag(step, "E_BUDGET_TIME", f"timeout={timeout} is over the step budget of {policy.budgets.step_timeout:g} s"))
    return out


def exec_programs(step: Step) -> CommandLine:
    """What an exec step with literal operands starts and writes."""
    cmd, argv = step.args.get("cmd"), step.args.get("argv")
    if isinstance(cmd, str):
        return read_command_line(cmd)
    if isinstance(argv, list) and argv and isinstance(argv[0], str):
        # argv runs without a shell: no redirections, but the program and any it wraps are read
        # as in a command line; a slot in argv is an argument only known at run time
        return read_argv([a if isinstance(a, str) else None for a in argv])
    # a command only known at run time is treated as writing
    return CommandLine(writes=True, program_writes=True)


def _check_exec(step: Step, policy: Policy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if isinstance(step.args.get("cmd"), SlotRef) or isinstance(step.args.get("argv"), SlotRef):
        return [_diag(step, "E_EXEC_DYNAMIC", "the command comes from a slot, so it cannot be checked before it runs; write it out in the plan")]
    line = exec_programs(step)
    for problem in line.problems:
        out.append(_diag(step, "E_EXEC_UNCHECKABLE", problem))
    allowed = set(policy.exec)
    for program in dict.fromkeys(line.programs):
        if program in NETWORK_TOOLS and not policy.network:
            out.append(_diag(step, "E_NETWORK_DENIED", f"{program} needs the network, and this run has none (network is off by policy)"))
        elif program not in allowed:
            out.append(_diag(step, "E_EXEC_NOT_ALLOWED", f"{program!r} is not on the exec allow-list; add it with --allow-exec {program} if it is safe"))
    for target in line.redirect_targets:
        verdict = resolve(policy, target, "write")
        if verdict.code:
            out.append(_diag(step, verdict.code, f"the command writes to {target}: {verdict.message}"))
    if line.program_writes and not policy.write:
        out.append(_diag(step, "E_PERMISSION_WRITE", "the command writes files, and no writes are granted: pass --allow-write PATH"))
    return out


def step_facts(step: Step, skills: SkillTable = NO_SKILLS) -> StepFacts:
    """Whether a step has effects (writes or runs something that writes), for confirmation and
    dry runs; a call of a skill not in `skills` is taken to have effects."""
    try:
        return _step_facts(step, skills)
    except Exception:  # a step the verifier cannot judge is treated as having effects
        return StepFacts(effects=True, permission=None)


def _step_facts(step: Step, skills: SkillTable) -> StepFacts:
    isa = load_isa()
    opcode = isa.opcodes.get(step.op)
    if opcode is None:
        return StepFacts(effects=True, permission=None)
    given = set(step.args)
    if opcode.name == "exec":
        line = exec_programs(step)
        # what the reader cannot read may write
        return StepFacts(effects=line.writes or bool(line.problems), permission="exec", programs=tuple(line.programs), writes=tuple(line.redirect_targets))
    if opcode.variadic:
        skill = skills.get(str(step.args.get("skill")))
        if skill is None:
            return StepFacts(effects=True, permission="skill")
        inner = [_step_facts(s, skills) for s in skill.plan.steps]
        return StepFacts(effects=any(f.effects for f in inner) or bool(skill.permissions.get("write")), permission="skill",
                         programs=tuple(p for f in inner for p in f.programs))
    path = step.args.get("path")
    effects = opcode.has_effects(given)
    return StepFacts(effects=effects, permission=opcode.needs_permission(given),
                     writes=(path,) if effects and isinstance(path, str) else ())


def is_valid(diagnostics: list[Diagnostic]) -> bool:
    return not any(d.is_error for d in diagnostics)
