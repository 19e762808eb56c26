"""The machine: a verified plan, run one instruction at a time in a sandbox, gives a trace.

A `Process` is a program (a plan), a program counter, its slots and a status. `step()`
advances it by one instruction: the opcode's handler (babel.verify's table, one per
opcode) turns the step's resolved operands into executor requests
(sandbox/executor.py) and the answers into a value; the step ends ok or failed with a
failure kind, its output bounded and its time measured. `run_plan` is a loop over
`step()`; what happens when a step fails, or a completed result does not answer the
request, is a `Supervisor`'s decision (babel.vm.control's `Controller` is one): it
returns a patched program, and the process resumes at the failed step with the slots of
the steps before it kept. Events (babel.lang's records) stream to a callback as they
happen, so the CLI can show progress and the trace store can keep them; with a callback,
a running command's output streams too, as live-only StepOutput events.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from babel.lang import (
    MAIN_PID,
    Diagnostic,
    Event,
    Plan,
    ResultChecked,
    RunEnd,
    RunStart,
    SlotRef,
    Step,
    StepOutput,
    StepResult,
    StepStart,
    Value,
    as_text,
    is_page,
    preview,
    to_json,
)
from babel.skills import NO_SKILLS, SkillInputError, SkillMap, bind_inputs, skill_policy
from babel.verify import Answer, Chat, Choice, Outcome, Policy, StepFailure, handler, kernel_rules, step_facts
from babel.vm.alu import ALU
from babel.vm.pages import Memory, MemoryStats, Pager, PageStore

EventSink = Callable[[Event], None]
#: Hears a running step's output as it comes: (stream "stdout" or "stderr", text, cut).
OutputSink = Callable[[str, str, bool], None]
#: The wire ops whose output the executor streams (sandbox/executor.py): only a command's.
STREAMED_OPS = frozenset({"exec"})


class StepSandbox(Protocol):
    """What the machine needs of a sandbox: one request in, one response out. A run with
    an event sink also hands a streamed op's request (STREAMED_OPS) an `on_chunk`, which
    hears the output as it comes, before the response (babel.sandbox's DockerSandbox); a
    sandbox that cannot stream answers whole and never calls it."""

    def call(self, request: dict[str, Any], on_chunk: OutputSink | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str  # "ok", "failed" or "rejected"
    steps: tuple[StepResult, ...]
    result: str | None
    diagnostics: tuple[Diagnostic, ...]
    duration_ms: float
    slots: dict[str, Any] = field(default_factory=dict, compare=False)
    plan: Plan | None = None  # the plan as it finally ran (after any repairs)
    repairs: tuple[dict[str, Any], ...] = ()
    model_calls: int = 0
    # What the run would have given without the supervisor: None if it was never asked,
    # else (completed?, result). For measuring repair on the same plan.
    unrepaired: tuple[bool, str | None] | None = None
    error: str | None = None  # why a run whose steps all completed still failed (its commit was refused)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def failed_step(self) -> StepResult | None:
        """The step that stopped the run (None if it completed)."""
        if self.ok or not self.steps:
            return None
        return self.steps[-1]


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


#: rules for the host's own commands (an eval task's fixture and reference answer, a skill
#: example's setup): every program of the image, the whole workspace. Never a plan's.
HARNESS_RULES = {"read": ["."], "write": ["."], "exec": ["*"]}


def exec_request(cmd: str, rules: dict[str, list[str]], timeout: float, max_output: int) -> dict[str, Any]:
    """An executor request that runs one shell command under the given kernel rules."""
    return {"op": "exec", "args": {"cmd": cmd, "argv": None, "stdin": None, "rules": rules}, "timeout": timeout, "max_output": max_output}


#: the slot that names the halt which stopped a process with a value (no step id or slot
#: name can be it); kept with the slots, so a run restored to an earlier answer keeps it
HALTED = "#!halt"


@dataclass
class Process:
    """A program being run: its plan, the index of its next step, its slots and its status.

    `status` is "ready" (not started), "running", "done" (it ran off its last step, or a
    halt stopped it) or "failed" (the step at `pc` failed; a supervisor may `resume` it
    with a patched plan). `pc` moves to the next step, or where a step's handler says
    (`Outcome.jump_to`); `edges` counts the bounded edges taken, `confidence` keeps the
    confidence of the model op whose value a slot holds (a branch may test it).
    """

    program: Plan
    policy: Policy
    skills: SkillMap = field(default_factory=lambda: NO_SKILLS)
    env: Mapping[str, Any] = field(default_factory=dict)  # a skill's inputs, for its commands
    alu: ALU | None = None  # the model, for model ops (None: a plan with model ops fails them with model_error)
    pid: int = MAIN_PID
    pc: int = 0
    slots: dict[str, Any] = field(default_factory=dict)
    status: str = "ready"
    results: list[StepResult] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    confidence: dict[str, float] = field(default_factory=dict)
    edges: dict[tuple[str, str], int] = field(default_factory=dict)
    pages: PageStore | None = None  # the page table (Paths.pages; None: one kept for the run only)
    memory: Memory | None = None  # its context pages' working set, made when a step first needs it

    def working_set(self) -> Memory:
        """The process's working set of context pages, over its page table."""
        if self.memory is None:
            self.pages = self.pages or PageStore()
            self.memory = Memory(self.pages, self.policy.budgets.context_tokens)
        return self.memory

    @property
    def at(self) -> str | None:
        """The id of the step the program counter points at (None past the end)."""
        return self.program.steps[self.pc].id if self.pc < len(self.program.steps) else None

    def resume(self, program: Plan, at: int | None = None) -> None:
        """Go on with a patched program, at step index `at` (the current one by default)."""
        self.program = program
        self.pc = self.pc if at is None else at
        self.status = "running" if self.pc < len(program.steps) else "done"
        if self.status == "running":
            self.slots.pop(HALTED, None)

    def value(self) -> Any:
        """The program's result: a halt's value, its result slot, or the last step's value."""
        plan = self.program
        if HALTED in self.slots:
            return self.slots.get(f"#{self.slots[HALTED]}")
        return self.slots.get(plan.result) if plan.result else self.slots.get(f"#{plan.steps[-1].id}")


class _Machine:
    """What a handler may ask while it performs one step of a process (babel.verify.Machine)."""

    def __init__(self, process: Process, sandbox: StepSandbox, output: OutputSink | None = None) -> None:
        self.process, self.sandbox, self.output = process, sandbox, output

    @property
    def policy(self) -> Policy:
        return self.process.policy

    @property
    def env(self) -> Mapping[str, Any]:
        return self.process.env

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.output is not None and request.get("op") in STREAMED_OPS:
            return self.sandbox.call(request, on_chunk=self.output)
        return self.sandbox.call(request)

    def say(self, line: str) -> None:
        if self.output is not None:
            self.output("stderr", line.rstrip("\n") + "\n", False)

    def call_skill(self, name: str, inputs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """A skill's plan as one step: its inputs bound as slots (and as variables for its
        commands), under its permissions intersected with the run's. Its steps' statuses go
        into the call step's detail; the first failure fails the call with the same kind."""
        skill = self.process.skills.get(name)
        if skill is None:
            raise StepFailure("not_found", f"no skill named {name!r}" + ("" if self.process.skills else " (this run was given no skills)"))
        try:
            bound = bind_inputs(skill, inputs)
        except SkillInputError as error:
            raise StepFailure("invalid_output", f"skill {name}: {error}") from None
        inner = Process(skill.plan, skill_policy(skill, self.process.policy), self.process.skills, bound,
                        alu=self.process.alu, pid=self.process.pid, slots=dict(bound), memory=self.process.working_set())
        statuses = []
        while inner.status in ("ready", "running"):
            result = step(inner, self.sandbox, self.output)  # (its commands' output is the call step's)
            statuses.append(f"{result.id} {result.status}" + (f" {result.failure}" if result.failure else ""))
            if not result.ok:
                raise StepFailure(result.failure or "sandbox_error", f"skill {name}, step {result.id}: {result.message}")
        return inner.value(), {"skill": name, "steps": statuses}


    def _alu(self) -> ALU:
        if self.process.alu is None:
            raise StepFailure("model_error", "this run was given no model, and the step asks one")
        return self.process.alu

    def ask(self, chat: Chat, max_tokens: int) -> Answer:
        return self._alu().ask(chat, max_tokens)

    def choose(self, chat: Chat, options: list[str]) -> Choice:
        return self._alu().choose(chat, options)

    def confidence(self, slot: str) -> float | None:
        return self.process.confidence.get(slot)

    @property
    def memory(self) -> Pager:
        return Pager(self.process.working_set(), self._read)

    def _read(self, path: str) -> str:
        """A workspace file's text, read through the sandbox (a page's fault)."""
        policy = self.process.policy
        response = self.send({"op": "read", "args": {"path": path, "encoding": "utf-8", "roots": list(policy.read)},
                              "timeout": float(policy.budgets.step_timeout), "max_output": policy.budgets.output_bytes})
        if response.get("status") != "ok":
            raise StepFailure(response.get("failure") or "sandbox_error", response.get("message") or f"cannot read {path}")
        return as_text(response.get("value"))


def _resolve(value: Value, slots: dict[str, Any]) -> Any:
    if isinstance(value, SlotRef):
        if value.name not in slots:
            raise StepFailure("invalid_output", f"${value.name} has no value (was its step skipped?)")
        return slots[value.name]
    if isinstance(value, list):
        return [_item(_resolve(item, slots)) if isinstance(item, SlotRef) else item for item in value]
    return value


def _item(value: Any) -> Any:
    """A slot's value as an item of a list operand: its text, or a page as itself."""
    return value if is_page(value) else as_text(value)


def _perform(process: Process, sandbox: StepSandbox, current: Step, output: OutputSink | None = None) -> Outcome:
    semantics = handler(current.op)
    if semantics is None:
        raise StepFailure("invalid_output", f"the runtime cannot run opcode {current.op!r}")
    args = {name: _resolve(value, process.slots) for name, value in current.args.items()}
    return semantics.perform(current, args, _Machine(process, sandbox, output))


def step(process: Process, sandbox: StepSandbox, output: OutputSink | None = None) -> StepResult:
    """Advance the process by one instruction and say how it went (`output`, if given,
    hears its command's output as it comes).

    On success the step's value is stored (in its out slot, and as `#id` for the plan's
    result) and the program counter moves on: to the next step, or where the handler
    sends it (a jump, a branch taken; a bounded edge past its bound fails the step with
    `loop_bound`), and a halt ends the process; on failure it stays at the step and the
    process is "failed"."""
    if process.pc >= len(process.program.steps):
        raise ValueError(f"process {process.pid} has no step at {process.pc}: its program has {len(process.program.steps)}")
    current = process.program.steps[process.pc]
    process.status = "running"
    started = time.perf_counter()
    before = replace(process.memory.stats) if process.memory is not None else MemoryStats()
    if time.perf_counter() - process.started > process.policy.budgets.run_timeout:
        outcome = Outcome(None, failure="timeout", message=f"the run passed its budget of {process.policy.budgets.run_timeout:g} s")
    else:
        try:
            outcome = _perform(process, sandbox, current, output)
        except StepFailure as error:
            outcome = Outcome(None, failure=error.failure, message=error.message)
        except (KeyError, TypeError, re.error) as error:
            outcome = Outcome(None, failure="invalid_output", message=f"cannot run this step: {error}")
    paging = process.memory.stats.minus(before) if process.memory is not None else {}
    if paging:
        outcome = replace(outcome, detail={**outcome.detail, "memory": paging})
    target = _target(process, current, outcome) if outcome.failure is None and outcome.jump_to is not None else None
    if isinstance(target, Outcome):
        outcome = target
    shown, cut, size = preview(outcome.value, process.policy.budgets.trace_output_bytes)
    result = StepResult(
        id=current.id, op=current.op, status="failed" if outcome.failure else "ok", failure=outcome.failure, message=outcome.message,
        output=shown, truncated=cut or bool(outcome.detail.get("truncated")), bytes=size,
        duration_ms=round((time.perf_counter() - started) * 1000, 3), detail=outcome.detail, pid=process.pid,
    )
    process.results.append(result)
    if result.ok:
        if current.out:
            process.slots[current.out] = outcome.value
            if "confidence" in outcome.detail:
                process.confidence[current.out] = float(outcome.detail["confidence"])
            else:
                process.confidence.pop(current.out, None)
        process.slots[f"#{current.id}"] = outcome.value
        process.pc = target if isinstance(target, int) else process.pc + 1
        process.status = "done" if process.pc == len(process.program.steps) or outcome.halt else "running"
        if outcome.halt and outcome.value is not None:  # the pc stays just past the halt, so a result repair resumes at it
            process.slots[HALTED] = current.id
    else:
        process.status = "failed"
    return result


def _target(process: Process, current: Step, outcome: Outcome) -> int | Outcome:
    """The index a step's handler sends control to, or the failure that stops it: a step
    the program does not have (the verifier refuses that first), or a bounded edge taken
    once more than its bound."""
    to = outcome.jump_to or ""
    index = next((i for i, s in enumerate(process.program.steps) if s.id == to), None)
    if index is None:
        return Outcome(None, failure="invalid_output", message=f"{current.id} continues at step {to!r}, which the program does not have")
    if outcome.bound is not None:
        edge = (current.id, to)
        taken = process.edges.get(edge, 0) + 1
        if taken > outcome.bound:
            return Outcome(None, outcome.detail, failure="loop_bound",
                           message=f"the edge {current.id} → {to} was taken {outcome.bound} times, its bound (times={outcome.bound}); the loop did not end")
        process.edges[edge] = taken
    return index


class Supervisor(Protocol):
    """Decides what happens when a process's step fails or its result falls short.

    Both return a patched program to resume at the step concerned, or None to stop."""

    def step_failed(self, process: Process, result: StepResult, emit: EventSink) -> Plan | None: ...
    def result_problem(self, result: str) -> str | None:
        """Why a completed read-only plan's result does not answer the request, or None."""
        ...
    def result_wanting(self, process: Process, problem: str, result: StepResult, emit: EventSink) -> Plan | None: ...


#: A supervisor as one function: (plan, index of the failed step, its result, the slots so
#: far, the event sink) -> a patched plan, or None. The Controller is callable as one too.
FailureHook = Callable[[Plan, int, StepResult, dict[str, Any], EventSink], "Plan | None"]

#: Called with a completed read-only plan's result: why it does not answer the request, or None.
ResultCheck = Callable[[str], "str | None"]

#: Called when every step completed, before the run ends: (run id, event sink) -> None, or
#: why the run fails after all. The pipeline's commit of a staged copy is one.
Finish = Callable[[str, EventSink], "str | None"]


def flagged(process: Process, problem: str, result: StepResult) -> StepResult:
    """The last step of a completed plan whose result falls short, as a failure to repair."""
    return replace(result, status="failed", failure="invalid_output",
                   message=f"the step ran, but {problem}: {preview(process.value(), 300)[0]!r}",
                   detail={**result.detail, "result_check": problem})


@dataclass
class HookSupervisor:
    """A supervisor made of a bare failure hook and a result check (tests' fakes, plain callers)."""

    on_failure: FailureHook
    check_result: ResultCheck | None = None

    def result_problem(self, result: str) -> str | None:
        return self.check_result(result) if self.check_result is not None else None

    def step_failed(self, process: Process, result: StepResult, emit: EventSink) -> Plan | None:
        return self.on_failure(process.program, process.pc, result, process.slots, emit)

    def result_wanting(self, process: Process, problem: str, result: StepResult, emit: EventSink) -> Plan | None:
        return self.on_failure(process.program, process.pc - 1, flagged(process, problem, result), process.slots, emit)


def run_plan(
    plan: Plan,
    sandbox: StepSandbox,
    policy: Policy | None = None,
    *,
    on_event: EventSink | None = None,
    run_id: str | None = None,
    meta: dict[str, Any] | None = None,
    on_failure: FailureHook | None = None,
    inputs: dict[str, Any] | None = None,
    check_result: ResultCheck | None = None,
    finish: Finish | None = None,
    skills: SkillMap = NO_SKILLS,
    alu: ALU | None = None,
    supervisor: Supervisor | None = None,
    pages: PageStore | None = None,
) -> RunResult:
    """Run the plan, a loop over `step()`, until it completes or fails past repair.

    `inputs` are slot values defined before the first step (a skill's inputs); `skills`
    are those its `call`s may run; `alu` answers its model ops, whose contexts are paged
    through the page table `pages` (babel.vm.pages; without one, the run keeps its own). A `supervisor` (the
    Controller) decides on failed steps and wanting results; a bare `on_failure` hook
    (with `check_result`) is one too.

    Steps that succeeded are never run again: a repaired plan resumes at the failed
    step with the slots of the steps before it kept.

    With `check_result` and a hook, a read-only plan whose final step completes but whose
    result the check finds wanting (empty, or not the shape the request asks for) has
    that step treated as failed with `invalid_output`, so the hook may repair it. If the
    repairs do not produce a result that passes, the first result stands: the check is
    a heuristic, and it never turns a completed run into a failed one.
    """
    if supervisor is None and on_failure is not None:
        supervisor = HookSupervisor(on_failure, check_result)
    checking = check_result is not None or (supervisor is not None and on_failure is None)
    return supervise(plan, sandbox, policy or Policy(), supervisor, on_event=on_event, run_id=run_id, meta=meta,
                     inputs=inputs, finish=finish, skills=skills, check=checking, alu=alu, pages=pages)


def supervise(
    plan: Plan,
    sandbox: StepSandbox,
    policy: Policy,
    supervisor: Supervisor | None,
    *,
    on_event: EventSink | None = None,
    run_id: str | None = None,
    meta: dict[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    finish: Finish | None = None,
    skills: SkillMap = NO_SKILLS,
    check: bool = False,
    alu: ALU | None = None,
    pages: PageStore | None = None,
) -> RunResult:
    """Run a process to its end, the supervisor deciding on each failed step and, when
    `check` is set and the plan is read-only, on a completed result that falls short."""
    run_id = run_id or new_run_id()
    emit = on_event or (lambda event: None)
    process = Process(plan, policy, skills, dict(inputs or {}), alu=alu, slots=dict(inputs or {}), pages=pages)
    emit(RunStart(run_id, datetime.now(UTC).isoformat(), to_json(plan), policy.to_json(), dict(meta or {}), pid=process.pid))
    first_answer: tuple[Plan, dict[str, Any]] | None = None  # the run as it completed before any result repair
    unrepaired: tuple[bool, str | None] | None = None
    checking = check and supervisor is not None and not any(step_facts(s, skills).effects for s in plan.steps)
    if not plan.steps:
        process.status = "failed"  # nothing to run (the verifier refuses an empty plan first)
    while process.status in ("ready", "running"):
        current = process.program.steps[process.pc]
        emit(StepStart(current.id, current.op, pid=process.pid))
        result = step(process, sandbox, _streamed(emit, current.id, process.pid) if on_event is not None else None)
        emit(result)
        if process.status == "failed":
            if supervisor is not None and unrepaired is None:
                unrepaired = (False, None)
            patched = supervisor.step_failed(process, result, emit) if supervisor is not None else None
            if patched is None:
                if first_answer is not None:  # a repair of the result went wrong: the first result stands
                    process.program, process.slots = first_answer
                    process.resume(process.program, len(process.program.steps))
                break
            process.resume(patched)
            continue
        if checking and process.status == "done" and supervisor is not None:
            reason = supervisor.result_problem(as_text(process.value()))
            if reason is not None:
                if first_answer is None:
                    first_answer = (process.program, dict(process.slots))
                if unrepaired is None:
                    unrepaired = (True, as_text(process.value()))
                emit(ResultChecked(result.id, reason, pid=process.pid))
                patched = supervisor.result_wanting(process, reason, result, emit)
                if patched is None:
                    process.program, process.slots = first_answer
                    process.resume(process.program, len(process.program.steps))
                else:
                    process.resume(patched, process.pc - 1)
    if process.memory is not None:
        process.memory.flush()
    status = "ok" if process.status == "done" and process.program.steps else "failed"
    error = finish(run_id, emit) if status == "ok" and finish is not None else None
    if error is not None:
        status = "failed"
    result_text = as_text(process.value()) if status == "ok" else None
    duration = round((time.perf_counter() - process.started) * 1000, 3)
    skipped = [s.id for s in process.program.steps[process.pc + 1:]] if status != "ok" else []
    results = process.results
    emit(RunEnd(run_id, status, result_text, sum(r.ok for r in results), sum(not r.ok for r in results), skipped, duration, error,
                pid=process.pid))
    return RunResult(run_id, status, tuple(results), result_text, (), duration, process.slots, process.program,
                     unrepaired=unrepaired, error=error)


def _streamed(emit: EventSink, step_id: str, pid: int) -> OutputSink:
    """A step's output as it comes, as live-only StepOutput events."""
    return lambda stream, text, cut: emit(StepOutput(step_id, stream, text, cut, pid=pid))


def rejected(plan: Plan | None, diagnostics: list[Diagnostic], *, on_event: EventSink | None = None,
             run_id: str | None = None, meta: dict[str, Any] | None = None) -> RunResult:
    """The run that did not happen because the verifier refused the plan; it is traced too."""
    run_id = run_id or new_run_id()
    emit = on_event or (lambda event: None)
    emit(RunStart(run_id, datetime.now(UTC).isoformat(), to_json(plan) if plan else None, None, dict(meta or {})))
    emit(RunEnd(run_id, "rejected", None, 0, 0, None, 0.0, diagnostics=[d.to_json() for d in diagnostics]))
    return RunResult(run_id, "rejected", (), None, tuple(diagnostics), 0.0)


__all__ = ["HARNESS_RULES", "STREAMED_OPS", "EventSink", "Finish", "OutputSink", "Process", "ResultCheck", "RunResult", "StepResult", "StepSandbox",
           "Supervisor", "exec_request", "kernel_rules", "new_run_id", "rejected", "run_plan", "step", "supervise"]
