"""`babel asm` and `babel lpu`: the LPU's programs loaded, checked and run, traced like plans.

A program comes as text (`.aasm`) or bytecode (`.lpu`, told by its name or by its
header); it is checked (babel.verify's `check_lpu`) before anything runs; it runs on
babel.vm's LPU machine in a read-only sandbox over the root (the current directory
unless told otherwise: the LPU reads LC's paths relative to where it runs), with the
model only when it has model ops, its answers memoised in the state directory like
every model op's, and its trace kept under a run id for `babel logs`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.app.do import sandbox_factory, trace_recorder
from babel.app.paths import Paths
from babel.app.pipeline import SandboxFactory
from babel.lang import Diagnostic, errors, lpu, parse_asm
from babel.model import ModelClient
from babel.verify import Policy, check_lpu
from babel.vm import ALU, EventSink, LpuRun, Memo, lpu_asks_model, lpu_reads_files, new_run_id, run_lpu


@dataclass(frozen=True)
class LpuSource:
    """A program file read: the program, or the diagnostics that say why there is none."""

    program: lpu.LpuProgram | None
    diagnostics: tuple[Diagnostic, ...]
    bytecode: bool  # it was a .lpu file


def is_bytecode(data: bytes, name: str) -> bool:
    if name.endswith(".lpu"):
        return True
    if name.endswith(".aasm"):
        return False
    return data[:4] == lpu.HEADER_WORDS.to_bytes(4, "big")


def load_program(data: bytes, name: str, directory: str | None = None) -> LpuSource:
    """A program from a file's bytes: bytecode or text, by its name (else by its first word)."""
    if is_bytecode(data, name):
        decoded = lpu.decode(data, name)
        return LpuSource(decoded.program, decoded.diagnostics, True)
    parsed = parse_asm(data, name, directory)
    return LpuSource(parsed.program, parsed.diagnostics, False)


def check_program(source: LpuSource) -> list[Diagnostic]:
    """Everything wrong with a program before it runs: its parse, then the checks."""
    if source.program is None:
        return list(source.diagnostics)
    return list(source.diagnostics) + check_lpu(source.program)


@dataclass(frozen=True)
class LpuOutcome:
    run_id: str
    diagnostics: tuple[Diagnostic, ...]
    run: LpuRun | None  # None: the checks rejected it


def run_program(
    source: LpuSource,
    root: Path,
    *,
    paths: Paths | None = None,
    model: Callable[[], ModelClient] | None = None,
    sandbox: SandboxFactory | None = None,
    write: Callable[[str], None] | None = None,
    on_event: EventSink | None = None,
    memo: Memo | None = None,
    fresh_calls: bool = False,
) -> LpuOutcome:
    """`babel lpu run`: check the program, then run it over `root` (read-only), traced.
    `fresh_calls` asks the model for every model op, with no memo (the LPU's own way; the
    benchmark's baseline)."""
    paths = paths or Paths.from_env()
    diagnostics = tuple(check_program(source))
    run_id = new_run_id()
    if errors(list(diagnostics)) or source.program is None:
        return LpuOutcome(run_id, diagnostics, None)
    program = source.program
    policy = Policy()
    alu: ALU | Callable[[], ALU] | None = None
    if model is not None and lpu_asks_model(program):
        client = model()
        alu = (lambda: ALU(client, Memo())) if fresh_calls else ALU(client, memo or Memo(paths.model_memo))
    factory = sandbox or sandbox_factory(policy.workspace)
    box: Any = factory(root, False) if lpu_reads_files(program) else nullcontext(None)  # raises SandboxError when none starts
    writer, record = trace_recorder(paths, run_id, on_event)
    try:
        with box as started:
            run = run_lpu(program, started, policy, alu=alu, write=write, on_event=record, run_id=run_id,
                          meta={"root": str(root), "source": program.source})
    finally:
        writer.close()
    return LpuOutcome(run_id, diagnostics, run)


__all__ = ["LpuOutcome", "LpuSource", "check_program", "is_bytecode", "load_program", "run_program"]
