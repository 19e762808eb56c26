"""The control loop: when a step fails, repair that step alone and resume.

The runtime's failure hook. A step that fails says precisely why (its failure kind),
and the controller acts on that alone, like the proportional term of a controller:
a transient failure is retried with backoff; any other kind asks the model for a
replacement of the failing step only, given the step, its error and the slots it
reads (not the whole history), then re-verifies the patched plan and resumes at that
step, keeping the outputs of the steps before it. The derivative term stops
oscillation (the same repair proposed twice, or repairs that alternate), budgets
bound the loop, and the integral term is `RepairMemory`: a persistent record of
failures and of the repairs that fixed them, which proposes a learned fix first
(for example a grep flag that keeps being needed) before asking the model.

A repair changes how a step works, never what it is about: given the workspace paths the
request names (its `scope`, read by the compiler's intent), a proposal that reaches
outside them, or that swaps the step for a skill, is refused, and a step that fails
because a path the request names does not exist ends the run, saying so, before any
model is asked (`Controller.missing`). `repair_report` says what a finished run's
repairs changed, and how its answer differs from the first plan's.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from babel.lang import Plan, Repair, RepairRequest, Step, StepResult, load_isa, preview, to_text
from babel.verify import NO_SKILLS, Policy, SkillTable, handler, relabel, step_facts, verify
from babel.vm.machine import EventSink, Process, ResultCheck, RunResult, flagged

TRANSIENT = {"sandbox_error"}
RETRY_ONCE = {"timeout"}


@dataclass(frozen=True)
class RepairBudget:
    per_step: int = 2  # model repairs of one step
    per_run: int = 4  # model repairs in the whole run
    retries: int = 2  # retries of a transient failure
    backoff_s: float = 0.25


class RepairMemory:
    """Failures and the repairs that fixed them, per opcode (and program, for exec).

    Kept as JSON in the state dir (repairs.json). `learned_fix` proposes a change that
    fixed the same failure at least `threshold` times before.
    """

    FLAGS = ("ignore_case", "fixed", "allow_empty", "invert", "extract")

    def __init__(self, path: Path, threshold: int = 2) -> None:
        self.path = path
        self.threshold = threshold
        self._lock = threading.Lock()

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, json.JSONDecodeError):
            return {}

    def _save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)

    @staticmethod
    def key(step: Step) -> str:
        op = handler(step.op)
        return op.memory_key(step) if op is not None else step.op

    @classmethod
    def change(cls, old: Step, new: Step) -> str | None:
        """A reusable description of a repair: a flag set, or None when it is not one."""
        if old.op != new.op:
            return None
        changed = {k for k in set(old.args) | set(new.args) if old.args.get(k) != new.args.get(k)}
        flags = [k for k in changed if k in cls.FLAGS and new.args.get(k) is True]
        if flags and changed == set(flags):
            return "set:" + ",".join(sorted(flags))
        return None

    def record(self, step: Step, failure: str, new: Step | None, fixed: bool) -> None:
        with self._lock:
            data = self.load()
            entry = data.setdefault(self.key(step), {"failures": {}, "fixes": {}})
            entry["failures"][failure] = entry["failures"].get(failure, 0) + 1
            change = self.change(step, new) if new is not None and fixed else None
            if change:
                fixes = entry["fixes"].setdefault(failure, {})
                fixes[change] = fixes.get(change, 0) + 1
            self._save(data)

    def learned_fix(self, step: Step, failure: str) -> Step | None:
        entry = self.load().get(self.key(step), {})
        fixes = entry.get("fixes", {}).get(failure, {})
        for change, count in sorted(fixes.items(), key=lambda item: -item[1]):
            if count < self.threshold or not change.startswith("set:"):
                continue
            flags = change[4:].split(",")
            if all(step.args.get(flag) is True for flag in flags):
                continue  # already tried: this step has them
            return replace(step, args={**step.args, **{flag: True for flag in flags}})
        return None

    def reset(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)


#: Replacements for a failed step, best first (the compiler's `ModelRepairs` is one).
RepairProposer = Callable[[RepairRequest], list[list[Step]]]


# ---- what a step is about: the paths it names, the skill it calls ------------------------

#: a word of a command line that can be a path: no options, quoting, regex or shell syntax
_PATH_WORD = re.compile(r"^[\w.\-/~@*?]+$")
_SED_EXPRESSION = re.compile(r"^[sy]/[^/]*/[^/]*/[a-z0-9]*$")
_PATH_TYPES = ("path", "paths")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _relative(word: str, mount: str) -> str:
    """A path as the workspace names it: no mount prefix, no ./, no trailing / ("." for the root)."""
    root = mount.rstrip("/") or "/"
    if word == root or word.startswith(root + "/"):
        word = word[len(root):].lstrip("/") or "."
    while word.startswith("./"):
        word = word[2:]
    return word.rstrip("/") or "."


def step_paths(step: Step, mount: str = "/workspace") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The workspace paths a step names, relative (`read`'s path, `grep`'s paths, a skill's
    inputs), and the words of its command line that may be paths (`grep -rn x src` gives
    x and src): (surely paths, maybe paths). Read from the ISA table's operand types and
    the handler's command text, so no opcode is named here."""
    opcode = load_isa().opcodes.get(step.op)
    sure: list[str] = []
    maybe: list[str] = []
    for name, value in step.args.items():
        operand = opcode.operands.get(name) if opcode is not None else None
        if operand is not None and operand.type in _PATH_TYPES:
            sure += _strings(value)
        elif operand is None and opcode is not None and opcode.variadic:  # a skill's inputs
            maybe += _strings(value)
    semantics = handler(step.op)
    command = semantics.command(step) if semantics is not None else None
    if command:
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        maybe += [w for w in words[1:] if _PATH_WORD.match(w) and not w.startswith("-") and not _SED_EXPRESSION.match(w)]
    return tuple(_relative(p, mount) for p in sure), tuple(_relative(p, mount) for p in maybe)


def _within(path: str, scope: tuple[str, ...]) -> bool:
    return any(path == s or path.startswith(s + "/") for s in scope)


def _skill(step: Step, skills: SkillTable) -> str | None:
    """The skill a step calls (from its facts), if it calls one."""
    if step_facts(step, skills).permission != "skill":
        return None
    name = step.args.get("skill")
    return name if isinstance(name, str) else "?"


def _reads_a_slot(step: Step) -> bool:
    return any(True for _ in step.reads())


def scope_problem(old: Step, new_steps: list[Step], scope: tuple[str, ...], mount: str = "/workspace",
                  skills: SkillTable = NO_SKILLS) -> str | None:
    """Why a proposed replacement of `old` changes what the step is about, or None.

    Its subject: a step that did not call a skill may not be replaced by a call of one
    (a targeted search is not a broad review), nor a call by a call of another skill. Its
    scope: when `old` named a path within the request's `scope`, every replacement step
    must stay within it: name no path outside it (nor the whole workspace, `.`), and name
    one inside it unless it reads its input from a slot."""
    called = _skill(old, skills)
    for new in new_steps:
        skill = _skill(new, skills)
        if skill is not None and skill != called:
            what = f"the skill {called}" if called else "the step's own search"
            return f"it swaps {what} for the skill {skill}: a repair may change how a step works, not what it looks for"
    if not scope:
        return None
    sure, maybe = step_paths(old, mount)
    if not any(_within(p, scope) for p in (*sure, *maybe)):
        return None  # the step was not about a path the request names
    named = ", ".join(scope)
    for new in new_steps:
        sure, maybe = step_paths(new, mount)
        outside = [p for p in sure if not _within(p, scope)] + [p for p in maybe if (p == "." or "/" in p) and not _within(p, scope)]
        if outside:
            where = "the whole workspace" if outside[0] == "." else outside[0]
            return f"it reaches outside {named}, the path the request names: it looks in {where}"
        if not any(_within(p, scope) for p in (*sure, *maybe)) and not _reads_a_slot(new):
            return f"it reaches outside {named}, the path the request names: it does not look there"
    return None


#: what tools and the executor say of a path that is not there (grep: src: No such file or
#: directory; find: 'src': ...; the executor's "no such file: src/a.py")
_MISSING = (re.compile(r"([^\s:'\"`]+)['\"`]?: No such file or directory"),
            re.compile(r"no such file(?: or directory)?: ['\"`]?([^\s'\"`]+)", re.IGNORECASE),
            re.compile(r"cannot (?:read|open|access|stat) ['\"`]?([^\s:'\"`]+)['\"`]?: No such file", re.IGNORECASE))


def missing_path(step: Step, result: StepResult, scope: tuple[str, ...], mount: str = "/workspace") -> str | None:
    """The path the request names that the failed step found missing, or None: its error
    says a path is not there, that path is one the request names (exactly, not a guess
    beneath it), and the step itself names it."""
    if not scope or result.failure not in ("not_found", "nonzero_exit", "empty_match"):
        return None
    text = f"{result.message or ''}\n{(result.detail or {}).get('stderr') or ''}"
    sure, maybe = step_paths(step, mount)
    for pattern in _MISSING:
        for match in pattern.finditer(text):
            path = _relative(match.group(1), mount)
            if path in scope and path in (*sure, *maybe):
                return path
    return None


@dataclass
class Controller:
    """A failure hook for `run_plan` that repairs failing steps within budgets."""

    propose: RepairProposer | None  # replacements for a failed step (the compiler's ModelRepairs); None: retries only
    policy: Policy
    request: str = ""
    check: ResultCheck | None = None  # why a result does not answer the request (babel.compiler.result_problem)
    budget: RepairBudget = field(default_factory=RepairBudget)
    memory: RepairMemory | None = None
    ask_user: Callable[[str], bool] | None = None  # interactive: may the loop go on?
    skills: SkillTable = field(default_factory=lambda: NO_SKILLS)  # the skills the plan's calls may name (as given to run_plan)
    scope: tuple[str, ...] = ()  # the workspace paths the request names (babel.compiler's Intent.scope): repairs keep to them
    repairs: list[dict[str, Any]] = field(default_factory=list)
    model_calls: int = 0
    _attempts: dict[str, int] = field(default_factory=dict)
    _retries: dict[str, int] = field(default_factory=dict)
    _seen: dict[str, list[str]] = field(default_factory=dict)
    _pending: dict[str, tuple[Step, Step, str]] = field(default_factory=dict)
    _queue: dict[str, list[tuple[list[Step], str]]] = field(default_factory=dict)  # untried proposals, per step
    stopped: str | None = None  # why the loop gave up: "oscillation", "budget", "missing"
    missing: str | None = None  # the path the request names that a step found missing (the run ends, unrepaired)

    # the hook ----------------------------------------------------------------------
    def __call__(self, plan: Plan, index: int, result: StepResult, slots: dict[str, Any], emit: EventSink) -> Plan | None:
        step = plan.steps[index]
        failure = result.failure or "sandbox_error"
        self._settle(step, fixed=False)
        if failure in TRANSIENT or (failure in RETRY_ONCE and self._retries.get(step.id, 0) < 1):
            tries = self._retries.get(step.id, 0)
            if tries < self.budget.retries:
                self._retries[step.id] = tries + 1
                time.sleep(self.budget.backoff_s * (2 ** tries))
                self._log(emit, step, failure, result, step, "retry")
                return plan
        missing = missing_path(step, result, self.scope, self.policy.workspace)
        if missing is not None:  # the request is about something that is not there: that is the answer
            self.missing, self.stopped = missing, "missing"
            self._log(emit, step, failure, result, None, f"missing: the request names {missing}, and there is no {missing} in the workspace")
            return None
        if self.memory is not None:
            self.memory.record(step, failure, None, fixed=False)
        root = self._root_id(step)
        history = self._seen.setdefault(root, [self._signature([step])])
        queue = self._queue.setdefault(root, [])
        learned = self.memory.learned_fix(step, failure) if self.memory is not None else None
        if learned is not None and self._signature([learned]) not in history:
            queue.insert(0, ([learned], "memory"))
        read_only = not any(step_facts(s, self.skills).effects for s in plan.steps)
        while True:
            # untried proposals first (a learned fix, then the alternatives of the last model call)
            while queue:
                new_steps, source = queue.pop(0)
                signature = self._signature(new_steps)
                if signature in history:
                    continue
                history.append(signature)
                patched = self._patch(plan, index, new_steps, len(history) - 1)
                replacement = patched.steps[index]
                problems = [d for d in verify(patched, self.policy, skills=self.skills) if d.is_error]
                if read_only and any(step_facts(s, self.skills).effects for s in new_steps):
                    # what was shown (and confirmed, or not asked) was a plan that changes nothing
                    self._log(emit, step, failure, result, replacement, "refused: it would change files, and the plan it repairs changes none", source)
                    continue
                off_task = scope_problem(step, new_steps, self.scope, self.policy.workspace, self.skills)
                if off_task is not None:  # a repair may change how, never what
                    self._log(emit, step, failure, result, replacement, f"refused: {off_task}", source)
                    continue
                if problems:
                    self._log(emit, step, failure, result, replacement, f"rejected by the verifier: {problems[0].code}: {problems[0].message}", source)
                    continue
                self._pending[replacement.id] = (step, replacement, failure)
                self._log(emit, step, failure, result, replacement, "patched", source)
                return patched
            if not self._within_budget(step, emit, failure, result):
                return None
            self._attempts[root] = self._attempts.get(root, 0) + 1
            proposals = self._ask_model(plan, index, result, slots)
            self.model_calls += 1
            if not proposals:
                self._log(emit, step, failure, result, None, "no repair proposed")
                return None
            fresh = [p for p in proposals if self._signature(p) not in history]
            if not fresh:
                self.stopped = "oscillation"
                self._log(emit, step, failure, result, proposals[0][0], "oscillation: this repair was already tried for this step", "model")
                return None
            queue.extend((p, "model") for p in fresh)

    def settle_all(self, ok: bool) -> None:
        """At the end of a run: record whether the pending repairs fixed their steps."""
        for step_id in list(self._pending):
            old, new, failure = self._pending.pop(step_id)
            if self.memory is not None and ok:
                self.memory.record(old, failure, new, fixed=True)
            for repair in self.repairs:
                if repair.get("new_id") == step_id and repair.get("outcome") == "patched":
                    repair["outcome"] = "fixed" if ok else "did not fix"

    def check_result(self, result: str) -> str | None:
        """For `run_plan(check_result=...)`: why the result does not answer the request."""
        return self.check(result) if self.check is not None else None

    # the machine's supervisor (babel.vm.machine.Supervisor) ------------------------
    def step_failed(self, process: Process, result: StepResult, emit: EventSink) -> Plan | None:
        return self(process.program, process.pc, result, process.slots, emit)

    def result_problem(self, result: str) -> str | None:
        return self.check_result(result)

    def result_wanting(self, process: Process, problem: str, result: StepResult, emit: EventSink) -> Plan | None:
        return self(process.program, process.pc - 1, flagged(process, problem, result), process.slots, emit)

    # helpers -----------------------------------------------------------------------
    def _settle(self, step: Step, fixed: bool) -> None:
        """The step failed: a pending repair of it (or of the step it replaced, for a
        replacement of several steps) did not fix it."""
        root = self._root_id(step)
        for step_id in [i for i in self._pending if self._root_id_of(i) == root]:
            del self._pending[step_id]
            for repair in self.repairs:
                if repair.get("new_id") == step_id and repair.get("outcome") == "patched":
                    repair["outcome"] = "did not fix"

    @staticmethod
    def _signature(steps: list[Step]) -> str:
        """A proposal's text without step ids, to tell proposals apart."""
        return " ; ".join(to_text(Plan((replace(s, id="x"),))).strip() for s in steps)

    @staticmethod
    def _root_id(step: Step) -> str:
        """The id of the original step a repaired one replaces (s2 for s2-r1 and s2-r2-1)."""
        return Controller._root_id_of(step.id)

    @staticmethod
    def _root_id_of(step_id: str) -> str:
        return re.sub(r"(-r\d+(-\d+)?)+$", "", step_id)

    def _has_budget(self, step: Step) -> bool:
        spent_run = sum(self._attempts.values())
        return self._attempts.get(self._root_id(step), 0) < self.budget.per_step and spent_run < self.budget.per_run

    def _within_budget(self, step: Step, emit: EventSink, failure: str, result: StepResult) -> bool:
        if self._has_budget(step):
            return True
        question = f"step {step.id} still fails ({failure}) after {self._attempts.get(self._root_id(step), 0)} repairs; try more?"
        if self.ask_user is not None and self.ask_user(question):
            self.budget = replace(self.budget, per_step=self.budget.per_step + 2, per_run=self.budget.per_run + 2)
            return True
        self.stopped = "budget"
        self._log(emit, step, failure, result, None, "repair budget spent")
        return False

    def _log(self, emit: EventSink, step: Step, failure: str, result: StepResult, new: Step | None, outcome: str, source: str = "") -> None:
        record = Repair(step.id, outcome, f"{failure}: {result.message or ''}"[:500], to_text(Plan((step,))).strip(),
                        to_text(Plan((new,))).strip() if new is not None else None, new.id if new is not None else None, source,
                        pid=result.pid)
        self.repairs.append(record.to_json())
        emit(record)

    def _patch(self, plan: Plan, index: int, new_steps: list[Step], attempt: int) -> Plan:
        """The plan with step `index` replaced by `new_steps` (ids s2-r<attempt>[-n])."""
        old = plan.steps[index]
        base = self._root_id(old)
        renamed = []
        for n, new in enumerate(new_steps):
            new_id = f"{base}-r{attempt}" + (f"-{n + 1}" if len(new_steps) > 1 else "")
            # the last replacement step writes the slot later steps read
            out = old.out if n == len(new_steps) - 1 else new.out
            renamed.append(replace(new, id=new_id, out=out, line=None, column=None))
        result = plan.result
        # a jump or branch to the replaced step goes to its first replacement
        patched = Plan(plan.steps[:index] + tuple(renamed) + plan.steps[index + 1:], result)
        return relabel(patched, old.id, renamed[0].id) if renamed else patched

    def _ask_model(self, plan: Plan, index: int, result: StepResult, slots: dict[str, Any]) -> list[list[Step]]:
        if self.propose is None:
            return []
        step = plan.steps[index]
        reads = []
        for _, ref in step.reads():
            shown, cut, size = preview(slots.get(ref.name), 600)
            reads.append(f"${ref.name} ({size} bytes{', cut' if cut else ''}):\n{shown}")
        ask = RepairRequest(plan, index, result.failure or "sandbox_error", result.message or "", result.output,
                            ((result.detail or {}).get("stderr") or "").strip(), (result.detail or {}).get("result_check"), tuple(reads),
                            read_only=not any(step_facts(s, self.skills).effects for s in plan.steps),
                            seed=len(self.repairs) + 7)
        try:
            return self.propose(ask)
        except Exception as error:  # the model failing is a failed repair, not a crash
            self.repairs.append({"event": "repair", "step": step.id, "outcome": f"model error: {error}"})
            return []


# ---- the report: what the repairs changed ------------------------------------------------


@dataclass(frozen=True)
class Repaired:
    """One repair that stayed in the plan that ran: step `step`'s `old` became `new`."""

    step: str
    old: str
    new: str
    source: str  # "model" or "memory"


@dataclass(frozen=True)
class RepairReport:
    """What a finished run's repairs did, for its final report (`repair_report`)."""

    repaired: tuple[Repaired, ...] = ()
    refused: tuple[str, ...] = ()  # why proposals were refused ("it reaches outside src ...")
    missing: str | None = None  # the path the request names that does not exist (the run failed, unrepaired)
    first: str | None = None  # how the first plan ended, when repairs were asked for: "failed at s1 (not_found)", "completed"
    first_result: str | None = None  # the first plan's answer, when it completed
    differs: bool = False  # the first plan completed, and its answer is not the one given

    @property
    def empty(self) -> bool:
        return not (self.repaired or self.refused or self.missing)

    def lines(self) -> list[str]:
        """The report as a person reads it, a line each."""
        out: list[str] = []
        if self.missing is not None:
            out.append(f"the request names {self.missing}, and there is no {self.missing} in the workspace: nothing else was searched instead")
        for r in self.repaired:
            out.append(f"repaired {r.step}: {r.old} → {r.new}" + (f" (from {r.source})" if r.source else ""))
        for why in dict.fromkeys(self.refused):
            out.append(f"refused a repair: {why}")
        if self.repaired and self.first is not None and self.first != "completed":
            out.append(f"the first plan gave no answer ({self.first}); the answer is the repaired plan's")
        elif self.differs:
            out.append(f"the first plan's answer differed: {_compare(self.first_result or '')}")
        return out


def _compare(first: str) -> str:
    lines = first.splitlines()
    shown, cut, _ = preview(first, 160)
    return f"{len(lines)} line{'s' if len(lines) != 1 else ''}, {shown!r}{' (cut)' if cut else ''}"


_MISSING_OUTCOME = re.compile(r"^missing: the request names (.+?), and there is no ")


def repair_report(run: RunResult) -> RepairReport:
    """What the run's repairs (its `repairs`, the controller's records) changed and how
    its answer differs from the first plan's (its `unrepaired`): a pure reading of the run."""
    repaired: list[Repaired] = []
    refused: list[str] = []
    missing: str | None = None
    for record in run.repairs:
        outcome = str(record.get("outcome") or "")
        if outcome in ("fixed", "patched") and run.ok:
            repaired.append(Repaired(str(record.get("step")), str(record.get("old") or ""), str(record.get("new") or ""),
                                     str(record.get("source") or "")))
        elif outcome.startswith("refused: "):
            refused.append(outcome[len("refused: "):])
        elif (named := _MISSING_OUTCOME.match(outcome)) is not None:
            missing = named.group(1)
    first = first_result = None
    differs = False
    if run.unrepaired is not None:
        completed, first_result = run.unrepaired
        if completed:
            first = "completed"
            differs = run.ok and (first_result or "") != (run.result or "")
        else:
            failed = next((r for r in run.steps if not r.ok), None)
            first = f"{failed.id} failed: {failed.failure}" if failed is not None else "a step failed"
    return RepairReport(tuple(repaired), tuple(refused), missing, first, first_result, differs)
