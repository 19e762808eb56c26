"""The runtime: a verified plan, run step by step in a sandbox, gives a trace.

The host keeps the slots; every step that touches the workspace is sent, with its
operands resolved to plain values, to the executor inside the sandbox
(sandbox/executor.py), which performs it and answers with a status. Each step ends
ok or failed with a failure kind the control loop can steer by, its output bounded
and its time measured; the run stops at the first failed step. Events stream to a
callback as they happen (run_start, step, run_end) so the CLI can show progress and
the trace store can keep them.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from babel.diagnostics import Diagnostic
from babel.plan import Plan, SlotRef, Step, Value, to_json
from babel.policy import Policy, resolve
from babel.skills import SkillInputError, bind_inputs, builtin_registry, skill_policy
from babel.values import as_lines, as_paths, as_text, preview
from babel.verify import step_facts

EventSink = Callable[[dict[str, Any]], None]


class StepSandbox(Protocol):
    """What the runtime needs of a sandbox: one request in, one response out."""

    def call(self, request: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StepResult:
    id: str
    op: str
    status: str  # "ok" or "failed"
    failure: str | None
    message: str | None
    output: str  # a bounded preview of the value as text
    truncated: bool
    bytes: int
    duration_ms: float
    detail: dict[str, Any] = field(default_factory=dict)  # exit code, stderr tail, ...

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_event(self) -> dict[str, Any]:
        return {"event": "step", **asdict(self)}


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
    # What the run would have given without the failure hook: None if the hook was never
    # called, else (completed?, result). For measuring repair on the same plan.
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


class StepFailure(Exception):
    """Raised inside the runtime when a step cannot even be sent; becomes a failed status."""

    def __init__(self, failure: str, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


def _resolve(value: Value, slots: dict[str, Any]) -> Any:
    if isinstance(value, SlotRef):
        if value.name not in slots:
            raise StepFailure("invalid_output", f"${value.name} has no value (was its step skipped?)")
        return slots[value.name]
    if isinstance(value, list):
        return [as_text(_resolve(item, slots)) if isinstance(item, SlotRef) else item for item in value]
    return value


def _path(policy: Policy, raw: Any, access: str) -> str:
    path = as_text(raw).strip()
    verdict = resolve(policy, path, access)
    if verdict.relative is None:
        raise StepFailure("permission_denied", verdict.message or "path refused")
    return verdict.relative


def kernel_rules(policy: Policy) -> dict[str, list[str]]:
    """The part of a policy that the sandbox's kernel enforces for a command (Landlock):
    the roots it may read and write, and the programs it may execute."""
    return {"read": list(policy.read), "write": list(policy.write), "exec": [p for p in policy.exec if p != "*"]}


#: rules for the host's own commands (an eval task's fixture and reference answer, a skill
#: example's setup): every program of the image, the whole workspace. Never a plan's.
HARNESS_RULES = {"read": ["."], "write": ["."], "exec": ["*"]}


def exec_request(cmd: str, rules: dict[str, list[str]], timeout: float, max_output: int) -> dict[str, Any]:
    """An executor request that runs one shell command under the given kernel rules."""
    return {"op": "exec", "args": {"cmd": cmd, "argv": None, "stdin": None, "rules": rules}, "timeout": timeout, "max_output": max_output}


def build_request(step: Step, slots: dict[str, Any], policy: Policy, env: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The executor request for a step, or None when the host performs it (write to a slot).

    `env` are a skill's inputs, given to its commands as environment variables."""
    env = env or {}
    args = {name: _resolve(value, slots) for name, value in step.args.items()}
    limits = {"timeout": float(policy.budgets.step_timeout), "max_output": policy.budgets.output_bytes}
    if step.op == "read":
        return {"op": "read", "args": {"path": _path(policy, args["path"], "read"), "encoding": args.get("encoding", "utf-8"),
                                       "roots": list(policy.read)}, **limits}
    if step.op == "write":
        if "path" not in args:
            return None
        return {"op": "write", "args": {"path": _path(policy, args["path"], "write"), "content": as_text(args["value"]),
                                        "append": bool(args.get("append", False)), "roots": list(policy.write)}, **limits}
    if step.op == "grep":
        flags = {key: bool(args.get(key, False)) for key in ("ignore_case", "fixed", "invert")}
        # extraction happens on the host, so the executor must not fail an empty result on its own
        grep_args: dict[str, Any] = {"pattern": as_text(args["pattern"]), **flags, "allow_empty": True, "roots": list(policy.read)}
        if "in" in args:
            grep_args["input"] = as_lines(args["in"])
        else:
            paths = as_paths(args["paths"]) if "paths" in args else ["."]
            grep_args["paths"] = [_path(policy, p, "read") for p in paths]
        return {"op": "grep", "args": grep_args, **limits}
    if step.op == "exec":
        timeout = args.get("timeout")
        if isinstance(timeout, int) and not isinstance(timeout, bool):
            limits["timeout"] = float(min(timeout, policy.budgets.step_timeout))
        exec_args: dict[str, Any] = {"cmd": as_text(args["cmd"]) if "cmd" in args else None,
                                     "argv": as_lines(args["argv"]) if "argv" in args else None,
                                     "stdin": as_text(args["stdin"]) if "stdin" in args else None,
                                     "env": {name: as_text(value).rstrip("\n") for name, value in env.items()},
                                     "rules": kernel_rules(policy)}
        return {"op": "exec", "args": exec_args, **limits}
    raise StepFailure("invalid_output", f"the runtime cannot run opcode {step.op!r}")


def _grep_post(step: Step, args: dict[str, Any], value: Any) -> Any:
    """grep's `extract` and `allow_empty`, applied on the host to what the executor matched."""
    items = value if isinstance(value, list) else []
    if args.get("extract") and not args.get("invert"):
        flags = re.IGNORECASE if args.get("ignore_case") else 0
        pattern = re.escape(as_text(args["pattern"])) if args.get("fixed") else as_text(args["pattern"])
        regex = re.compile(pattern, flags)
        extracted: list[Any] = []
        for item in items:
            text = item["text"] if isinstance(item, dict) else item
            for match in regex.finditer(text):
                part = match.group(1) if regex.groups and match.group(1) is not None else match.group(0)
                extracted.append(part)
        items = extracted
    if not items and not args.get("allow_empty"):
        where = "the input" if "in" in args else "the files searched"
        raise StepFailure("empty_match", f"no line of {where} matches {as_text(args['pattern'])!r}")
    return items


def call_skill(step: Step, slots: dict[str, Any], policy: Policy, sandbox: StepSandbox) -> tuple[Any, dict[str, Any]]:
    """Run a skill's plan as one step: its inputs bound as slots (and as variables for its
    commands), under its permissions intersected with the run's. Its steps' statuses go
    into the call step's detail; the first failure fails the call with the same kind."""
    name = as_text(_resolve(step.args.get("skill", ""), slots))
    skill = builtin_registry().skills.get(name)
    if skill is None:
        raise StepFailure("not_found", f"no skill named {name!r}")
    raw = {key: _resolve(value, slots) for key, value in step.args.items() if key != "skill"}
    try:
        inputs = bind_inputs(skill, {k: v if isinstance(v, (str, list)) else as_text(v) for k, v in raw.items()})
    except SkillInputError as error:
        raise StepFailure("invalid_output", f"skill {name}: {error}") from None
    inner_policy = skill_policy(skill, policy)
    inner_slots: dict[str, Any] = dict(inputs)
    statuses = []
    value: Any = None
    for inner in skill.plan.steps:
        result, value = run_step(inner, inner_slots, inner_policy, sandbox, inputs)
        statuses.append(f"{inner.id} {result.status}" + (f" {result.failure}" if result.failure else ""))
        if not result.ok:
            raise StepFailure(result.failure or "sandbox_error", f"skill {name}, step {inner.id}: {result.message}")
        if inner.out:
            inner_slots[inner.out] = value
    if skill.plan.result:
        value = inner_slots.get(skill.plan.result)
    return value, {"skill": name, "steps": statuses}


def run_step(step: Step, slots: dict[str, Any], policy: Policy, sandbox: StepSandbox,
             env: dict[str, Any] | None = None) -> tuple[StepResult, Any]:
    started = time.perf_counter()
    value: Any = None
    failure = message = None
    detail: dict[str, Any] = {}
    try:
        request = None if step.op == "call" else build_request(step, slots, policy, env)
        if step.op == "call":
            value, detail = call_skill(step, slots, policy, sandbox)
        elif request is None:  # write to a slot: nothing leaves the host
            value = as_text(_resolve(step.args["value"], slots))
        else:
            response = sandbox.call(request)
            value = response.get("value")
            if step.op == "exec" and isinstance(value, dict):
                detail = {"exit_code": value.get("exit_code"), "stderr": as_text(value.get("stderr"))[-2000:]}
                if value.get("background_killed"):
                    detail["background"] = f"{value['background_killed']} process(es) the command left running were stopped when it ended"
                value = value.get("stdout", "")
            if response.get("status") != "ok":
                failure = response.get("failure") or "sandbox_error"
                message = response.get("message") or failure
                if response.get("truncated"):
                    detail["truncated"] = True
            elif step.op == "grep":
                value = _grep_post(step, {k: _resolve(v, slots) for k, v in step.args.items()}, value)
            elif step.op == "write":
                value = as_text(_resolve(step.args["value"], slots))
    except StepFailure as error:
        failure, message = error.failure, error.message
    except (KeyError, TypeError, re.error) as error:
        failure, message = "invalid_output", f"cannot run this step: {error}"
    limit = policy.budgets.trace_output_bytes
    shown, cut, size = preview(value, limit)
    result = StepResult(
        id=step.id, op=step.op, status="failed" if failure else "ok", failure=failure, message=message,
        output=shown, truncated=cut or bool(detail.get("truncated")), bytes=size,
        duration_ms=round((time.perf_counter() - started) * 1000, 3), detail=detail,
    )
    return result, value


#: Called when a step fails: (plan, index of the failed step, its result, the slots so
#: far, the event sink). It returns a patched plan to resume at that index, or None to
#: stop. The control loop (babel.control) is one; plain `babel run` has none.
FailureHook = Callable[[Plan, int, StepResult, dict[str, Any], EventSink], "Plan | None"]

#: Called with a completed read-only plan's result: why it does not answer the request
#: (babel.shape.result_problem), or None.
ResultCheck = Callable[[str], "str | None"]

#: Called when every step completed, before the run ends: (run id, event sink) -> None, or
#: why the run fails after all. The pipeline's commit of a staged copy is one.
Finish = Callable[[str, EventSink], "str | None"]


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
) -> RunResult:
    """Run the plan's steps in order, stopping at the first failure the hook does not repair.

    `inputs` are slot values defined before the first step (a skill's inputs).

    Steps that succeeded are never run again: a repaired plan resumes at the failed
    step with the slots of the steps before it kept.

    With `check_result` and a hook, a read-only plan whose final step completes but whose
    result the check finds wanting (empty, or not the shape the request asks for) has
    that step treated as failed with `invalid_output`, so the hook may repair it. If the
    repairs do not produce a result that passes, the first result stands: the check is
    a heuristic, and it never turns a completed run into a failed one.
    """
    policy = policy or Policy()
    run_id = run_id or new_run_id()
    emit = on_event or (lambda event: None)
    slots: dict[str, Any] = dict(inputs or {})
    started = time.perf_counter()
    emit({"event": "run_start", "run_id": run_id, "time": datetime.now(UTC).isoformat(),
          "plan": to_json(plan), "policy": policy.to_json(), **(meta or {})})
    results: list[StepResult] = []
    index = 0
    first_answer: tuple[Plan, dict[str, Any]] | None = None  # the run as it completed before any result repair
    unrepaired: tuple[bool, str | None] | None = None
    checking = check_result is not None and on_failure is not None and not any(step_facts(s, builtin_registry().skills).effects for s in plan.steps)
    while index < len(plan.steps):
        step = plan.steps[index]
        if time.perf_counter() - started > policy.budgets.run_timeout:
            result = StepResult(step.id, step.op, "failed", "timeout", f"the run passed its budget of {policy.budgets.run_timeout:g} s",
                                "", False, 0, 0.0)
            value = None
        else:
            result, value = run_step(step, slots, policy, sandbox, inputs)
        results.append(result)
        emit(result.to_event())
        if not result.ok:
            if on_failure is not None and unrepaired is None:
                unrepaired = (False, None)
            patched = on_failure(plan, index, result, slots, emit) if on_failure else None
            if patched is None:
                if first_answer is not None:  # a repair of the result went wrong: the first result stands
                    plan, slots = first_answer
                    index = len(plan.steps)
                break
            plan = patched
            continue
        if step.out:
            slots[step.out] = value
        slots[f"#{step.id}"] = value  # every step's value, for the plan's result
        index += 1
        if checking and index == len(plan.steps) and check_result is not None and on_failure is not None:
            value = slots.get(plan.result) if plan.result else value
            problem = check_result(as_text(value))
            if problem is not None:
                if first_answer is None:
                    first_answer = (plan, dict(slots))
                if unrepaired is None:
                    unrepaired = (True, as_text(value))
                flagged = replace(result, status="failed", failure="invalid_output",
                                  message=f"the step ran, but {problem}: {preview(value, 300)[0]!r}",
                                  detail={**result.detail, "result_check": problem})
                emit({"event": "result_check", "step": step.id, "problem": problem})
                patched = on_failure(plan, index - 1, flagged, slots, emit)
                if patched is None:
                    plan, slots = first_answer
                    index = len(plan.steps)
                else:
                    plan = patched
                    index -= 1
    status = "ok" if plan.steps and index == len(plan.steps) else "failed"
    error = finish(run_id, emit) if status == "ok" and finish is not None else None
    if error is not None:
        status = "failed"
    result_text = None
    if status == "ok":
        value = slots.get(plan.result) if plan.result else slots.get(f"#{plan.steps[-1].id}")
        result_text = as_text(value)
    duration = round((time.perf_counter() - started) * 1000, 3)
    skipped = [s.id for s in plan.steps[index + 1:]] if status != "ok" else []
    emit({"event": "run_end", "run_id": run_id, "status": status, "result": result_text,
          "steps_ok": sum(r.ok for r in results), "steps_failed": sum(not r.ok for r in results),
          "skipped": skipped, "duration_ms": duration, **({"error": error} if error else {})})
    return RunResult(run_id, status, tuple(results), result_text, (), duration, slots, plan, unrepaired=unrepaired, error=error)


def rejected(plan: Plan | None, diagnostics: list[Diagnostic], *, on_event: EventSink | None = None,
             run_id: str | None = None, meta: dict[str, Any] | None = None) -> RunResult:
    """The run that did not happen because the verifier refused the plan; it is traced too."""
    run_id = run_id or new_run_id()
    emit = on_event or (lambda event: None)
    emit({"event": "run_start", "run_id": run_id, "time": datetime.now(UTC).isoformat(),
          "plan": to_json(plan) if plan else None, **(meta or {})})
    emit({"event": "run_end", "run_id": run_id, "status": "rejected", "result": None, "steps_ok": 0, "steps_failed": 0,
          "diagnostics": [d.to_json() for d in diagnostics], "duration_ms": 0.0})
    return RunResult(run_id, "rejected", (), None, tuple(diagnostics), 0.0)


