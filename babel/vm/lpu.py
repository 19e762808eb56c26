"""The LPU's programs run on Babel's machine: its registers and contexts, its opcodes, over
the sandbox and the ALU.

A checked program (babel.verify's `check_lpu` passed) runs one instruction at a time.
Text registers X0-X32 hold nothing, a text or a number; context registers C0-C32 hold
lists of messages. The opcodes do what the LPU's do (docs/lpu.md), with Babel's parts
underneath: LC reads its file through the sandbox's `read` (the read-only sandbox over
the run's root, never the host's open()); INF is the ALU's greedy `ask` over the LPU's
chat (its system message, the context, the prompt; consecutive messages of one role
merged with a new line; new lines stripped from the answer); EVAL is the ALU's `choose`
between YES and NO with its probability, the number 100 or 0 as the LPU gives; SIM is a
`choose` over the scale 0-10, its expected value times ten. Every model op is memoised
by the ALU's Memo, and every instruction is a step in the trace (id `L<line>`, op its
mnemonic), model ops with their tokens, time and memo hit, so `babel logs` shows a run.
A run stops at EXIT, past its last instruction, at a failure, or when its fuel (a bound
on instructions from the program's own counters) runs out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from babel.lang import RunEnd, RunStart, Step, StepResult, StepStart, lpu, preview
from babel.verify import Answer, Chat, Choice, Machine, Policy, StepFailure, handler, loop_bound
from babel.vm.alu import ALU
from babel.vm.machine import EventSink, StepSandbox, new_run_id

SYSTEM_PROMPT = "Provide exactly the requested output. Follow structural markers strictly."
EVAL_SUFFIX = "\nAnswer with exactly one word: YES or NO, TRUE or FALSE.\n\nAnswer only:"
EVAL_OPTIONS = ["YES", "NO"]
SIM_OPTIONS = [str(n) for n in range(11)]
INF_TOKENS = 512  # the LPU asks for no limit; Babel's model ops are bounded
MODEL_OPS = ("INF", "EVAL", "SIM")

Value = str | int | None


@dataclass
class LpuRun:
    """What a run of an LPU program gave."""

    run_id: str
    status: str  # "ok" or "failed"
    output: str  # what PUT, PLN and PCX printed
    steps: list[StepResult] = field(default_factory=list)
    failure: str | None = None
    message: str | None = None
    at: str | None = None  # the instruction that failed
    model_calls: int = 0  # model ops the model answered (not replayed)
    memo_hits: int = 0
    tokens: int = 0  # context and generated tokens of the answered model ops
    duration_ms: float = 0.0
    registers: list[Value] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def chat(prompt: str, context: list[dict[str, str]]) -> Chat:
    """The LPU's messages for a model op: its system message, the context, the prompt as a
    user message, consecutive messages of one role merged with a new line."""
    merged: Chat = []
    for message in [{"role": "system", "content": SYSTEM_PROMPT}, *context, {"role": "user", "content": prompt}]:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1] = {"role": message["role"], "content": merged[-1]["content"] + "\n" + message["content"]}
        else:
            merged.append(dict(message))
    if len(merged) < 2 or merged[1]["role"] != "user":
        raise StepFailure("invalid_output", "the context starts with an assistant message: the model call needs a user message first")
    return merged


class _ReadMachine:
    """What the `read` handler asks of a machine: the policy and the sandbox."""

    def __init__(self, policy: Policy, sandbox: StepSandbox | None) -> None:
        self._policy, self._sandbox = policy, sandbox

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def env(self) -> Mapping[str, Any]:
        return {}

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._sandbox is None:
            raise StepFailure("sandbox_error", "this run was given no sandbox, and LC reads a file")
        return self._sandbox.call(request)


@dataclass
class _State:
    x: list[Value]
    c: list[list[dict[str, str]]]
    printed: list[str]


def _text(state: _State, reg: int, op: str) -> str:
    value = state.x[reg]
    if not isinstance(value, str):
        raise StepFailure("invalid_output", f"{op} needs text in X{reg}, which holds {'nothing' if value is None else 'a number'}")
    return value


def _number(state: _State, reg: int, op: str) -> int:
    value = state.x[reg]
    if not isinstance(value, int):
        raise StepFailure("invalid_output", f"{op} needs a number in X{reg}, which holds {'nothing' if value is None else 'text'}")
    return value


def _put(state: _State, reg: int, reg_name: str, op: str) -> None:
    if reg == 0:
        raise StepFailure("invalid_output", f"{op} writes {reg_name}0, which is read-only")


def _shown(value: Value) -> str:
    return "" if value is None else str(value)


def _cost(answer: Answer | Choice) -> dict[str, Any]:
    out: dict[str, Any] = {"context_tokens": answer.context_tokens, "latency_ms": answer.latency_ms, "memo": "hit" if answer.memo else "miss"}
    if isinstance(answer, Answer):
        out["tokens_out"] = answer.tokens_out
    return out


def _execute(instr: lpu.Instr, state: _State, policy: Policy, sandbox: StepSandbox | None, alu: Callable[[], ALU],
             write: Callable[[str], None]) -> tuple[Any, dict[str, Any], bool | None]:
    """Perform one instruction: (its value for the trace, its detail, whether a branch jumped)."""
    op = instr.op
    v = [o.value for o in instr.operands]
    x, c = state.x, state.c
    if op == "LS":
        _put(state, int(v[0]), "X", op)
        x[int(v[0])] = str(v[1])
        return x[int(v[0])], {}, None
    if op == "LC":
        _put(state, int(v[0]), "X", op)
        path = str(v[1])
        read = handler("read")
        if read is None:
            raise StepFailure("sandbox_error", "this Babel has no read op")
        machine: Machine = _ReadMachine(policy, sandbox)  # type: ignore[assignment]  # (read asks only the policy and send)
        outcome = read.perform(Step(instr.id, "read", {"path": path}), {"path": path}, machine)
        if outcome.failure:
            raise StepFailure(outcome.failure, f"LC {path}: {outcome.message}")
        x[int(v[0])] = str(outcome.value)
        return outcome.value, {"path": path}, None
    if op == "LI":
        _put(state, int(v[0]), "X", op)
        x[int(v[0])] = int(v[1])
        return int(v[1]), {}, None
    if op == "MV":
        _put(state, int(v[0]), "X", op)
        x[int(v[0])] = x[int(v[1])]
        return x[int(v[0])], {}, None
    if op in lpu.BRANCHES:
        a, b = _number(state, int(v[0]), op), _number(state, int(v[1]), op)
        taken = {"BEQ": a == b, "BLE": a <= b, "BLT": a < b, "BGE": a >= b, "BGT": a > b}[op]
        return None, {"a": a, "b": b, "taken": taken}, taken
    if op == "EXIT":
        return None, {}, None
    if op in ("PUT", "PLN"):
        shown = _shown(x[int(v[0])])
        write(shown + ("\n" if op == "PLN" else ""))
        return shown, {}, None
    if op == "PCX":
        context = json.dumps(c[int(v[0])], ensure_ascii=False, separators=(",", ":"))
        write(context + "\n")
        return context, {}, None
    if op == "INF":
        _put(state, int(v[0]), "X", op)
        answer = alu().ask(chat(_text(state, int(v[1]), op), c[int(v[2])]), INF_TOKENS)
        x[int(v[0])] = answer.text.strip().replace("\n", "")
        return x[int(v[0])], _cost(answer), None
    if op == "EVAL":
        _put(state, int(v[0]), "X", op)
        choice = alu().choose(chat(_text(state, int(v[1]), op) + EVAL_SUFFIX, c[int(v[2])]), EVAL_OPTIONS)
        yes, no = choice.probabilities
        x[int(v[0])] = 100 if yes > no else 0
        return x[int(v[0])], {**_cost(choice), "confidence": round(max(yes, no), 4), "p_yes": round(yes, 4)}, None
    if op == "SIM":
        _put(state, int(v[0]), "X", op)
        first, second = _text(state, int(v[1]), op), _text(state, int(v[2]), op)
        prompt = (f"Text A:\n{first}\n\nText B:\n{second}\n\nHow similar in meaning are text A and text B, from 0 (unrelated) "
                  "to 10 (the same meaning)? Answer with one number.")
        choice = alu().choose(chat(prompt, []), SIM_OPTIONS)
        expected = sum(p * n for n, p in enumerate(choice.probabilities))
        x[int(v[0])] = max(0, min(100, round(expected * 10)))
        return x[int(v[0])], {**_cost(choice), "expected": round(expected, 4)}, None
    if op == "PSH":
        _put(state, int(v[0]), "C", op)
        value = x[int(v[1])]
        if value is None:
            raise StepFailure("invalid_output", f"PSH reads X{v[1]}, which is empty")
        c[int(v[0])].append({"role": str(v[2]).lower(), "content": str(value)})
        return str(value), {"role": str(v[2]).lower(), "messages": len(c[int(v[0])])}, None
    if op in ("POP", "DRP"):
        src = int(v[1]) if op == "POP" else int(v[0])
        if src == 0 or not c[src]:
            raise StepFailure("invalid_output", f"{op} takes a message off C{src}, which is empty")
        if op == "POP":
            _put(state, int(v[0]), "X", op)
        message = c[src].pop()
        if op == "POP":
            x[int(v[0])] = message["content"]
        return message["content"], {"messages": len(c[src])}, None
    if op == "MVC":
        _put(state, int(v[0]), "C", op)
        c[int(v[0])] = [dict(m) for m in c[int(v[1])]]
        return None, {"messages": len(c[int(v[0])])}, None
    if op == "SUBI":
        _put(state, int(v[0]), "X", op)
        value = _number(state, int(v[0]), op)
        if value < int(v[1]):
            raise StepFailure("invalid_output", f"SUBI X{v[0]}, {v[1]} would go below zero (X{v[0]} is {value})")
        x[int(v[0])] = value - int(v[1])
        return x[int(v[0])], {}, None
    raise StepFailure("invalid_output", f"the machine cannot run {op}")


def run_lpu(
    program: lpu.LpuProgram,
    sandbox: StepSandbox | None,
    policy: Policy | None = None,
    *,
    alu: ALU | Callable[[], ALU] | None = None,
    write: Callable[[str], None] | None = None,
    on_event: EventSink | None = None,
    run_id: str | None = None,
    meta: dict[str, Any] | None = None,
    fuel: int | None = None,
) -> LpuRun:
    """Run a checked program to its end. `alu` answers its model ops (an ALU, or a function
    that gives the ALU for each op: a fresh one each time asks the model every time);
    `write` gets what it prints, as it prints it."""
    policy = policy or Policy()
    run_id = run_id or new_run_id()
    emit = on_event or (lambda event: None)
    printed: list[str] = []

    def out(text: str) -> None:
        printed.append(text)
        if write is not None:
            write(text)

    def the_alu() -> ALU:
        if alu is None:
            raise StepFailure("model_error", "this run was given no model, and the instruction asks one")
        return alu if isinstance(alu, ALU) else alu()

    state = _State([None] * lpu.REGISTERS, [[] for _ in range(lpu.REGISTERS)], printed)
    run = LpuRun(run_id, "ok", "")
    started = time.perf_counter()
    emit(RunStart(run_id, datetime.now(UTC).isoformat(), None, policy.to_json(), {"lpu": program.source, **(meta or {})}))
    budget = fuel if fuel is not None else loop_bound(program)
    pc, taken = 0, 0
    instrs = program.instrs
    while pc < len(instrs):
        instr = instrs[pc]
        step_id, op = instr.id, instr.op.lower()
        emit(StepStart(step_id, op))
        t0 = time.perf_counter()
        value: Any = None
        detail: dict[str, Any] = {}
        failure = message = None
        jumped: bool | None = None
        if taken >= budget:
            failure, message = "loop_bound", f"the program ran {budget} instructions, its bound; a loop did not end"
        elif time.perf_counter() - started > policy.budgets.run_timeout:
            failure, message = "timeout", f"the run passed its budget of {policy.budgets.run_timeout:g} s"
        else:
            try:
                value, detail, jumped = _execute(instr, state, policy, sandbox, the_alu, out)
            except StepFailure as error:
                failure, message = error.failure, error.message
        taken += 1
        if instr.op in MODEL_OPS and failure is None:
            if detail.get("memo") == "hit":
                run.memo_hits += 1
            else:
                run.model_calls += 1
                run.tokens += int(detail.get("context_tokens", 0)) + int(detail.get("tokens_out", 0))
        shown, cut, size = preview(value, policy.budgets.trace_output_bytes)
        result = StepResult(step_id, op, "failed" if failure else "ok", failure, message, shown, cut, size,
                            round((time.perf_counter() - t0) * 1000, 3), detail)
        run.steps.append(result)
        emit(result)
        if failure:
            run.status, run.failure, run.message, run.at = "failed", failure, message, step_id
            break
        if instr.op == "EXIT":
            break
        if jumped:
            target = program.target(str(instr.operands[2].value))
            pc = target if target is not None else len(instrs)
        else:
            pc += 1
    run.output = "".join(printed)
    run.registers = list(state.x)
    run.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    emit(RunEnd(run_id, run.status, run.output, sum(r.ok for r in run.steps), sum(not r.ok for r in run.steps), None, run.duration_ms,
                None if run.ok else f"{run.at}: {run.message}"))
    return run


def asks_model(program: lpu.LpuProgram) -> bool:
    return any(i.op in MODEL_OPS for i in program.instrs)


def reads_files(program: lpu.LpuProgram) -> bool:
    return any(i.op == "LC" for i in program.instrs)


__all__ = ["LpuRun", "asks_model", "chat", "reads_files", "run_lpu"]
