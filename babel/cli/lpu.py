"""`babel asm` and `babel lpu dis | check | run`: the LPU's assembly language on the command line.

Each command reads a file, calls babel.app (load_program, check_program, run_program)
and renders: problems as `FILE:LINE:COL: error: message [CODE]` on stderr (exit 3, like
a rejected plan), a program's output on stdout as it prints it, the run's summary on
stderr. Exit codes as docs/cli.md: 0 ok, 1 an instruction failed, 2 usage (no such
file), 3 rejected, 4 no sandbox, 6 the model failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import typer
from rich.markup import escape

from babel.app import LpuSource, Paths, check_program, load_program, open_model, run_program, stderr_console
from babel.lang import Diagnostic, errors, lpu, parse_asm, to_asm
from babel.model import ModelClient

OK, FAILED, USAGE, REJECTED, NO_SANDBOX, MODEL_ERROR = 0, 1, 2, 3, 4, 6

console = stderr_console()
lpu_app = typer.Typer(help="The LPU's programs: disassemble, check and run them (docs/lpu.md).", no_args_is_help=True)


def _fail(message: str, code: int = USAGE) -> NoReturn:
    console.print(f"[red]error[/red]: {escape(message)}", highlight=False)
    raise typer.Exit(code)


def _read(path: Path) -> bytes:
    if not path.exists():
        _fail(f"{path}: no such file")
    if path.is_dir():
        _fail(f"{path}: is a directory, not a program file")
    try:
        return path.read_bytes()
    except OSError as error:
        _fail(f"{path}: cannot read it ({error.strerror})")


def _show(diagnostics: list[Diagnostic], source: str) -> None:
    for d in diagnostics:
        where = ":".join(str(p) for p in (source, d.line, d.column) if p is not None)
        sys.stderr.write(f"{where}: {d.severity}: {d.message} [{d.code}]\n")


def _load(path: Path) -> LpuSource:
    data = _read(path)
    return load_program(data, str(path), str(path.resolve().parent))


def asm_cmd(
    file: Path = typer.Argument(..., metavar="FILE.aasm", help="The program's text form."),
    output: Path | None = typer.Option(None, "-o", "--output", metavar="FILE.lpu", help="Where to write the bytecode (default: FILE.lpu beside FILE)."),
) -> None:
    """Assemble the LPU's text form into its bytecode, byte for byte as its own assembler does."""
    data = _read(file)
    parsed = parse_asm(data, str(file))
    if parsed.program is None:
        _show(list(parsed.diagnostics), str(file))
        raise typer.Exit(REJECTED)
    blob = lpu.encode(parsed.program)
    target = output or file.with_suffix(".lpu")
    try:
        target.write_bytes(blob)
    except OSError as error:
        _fail(f"{target}: cannot write it ({error.strerror})")
    console.print(f"wrote {target} ({len(parsed.program.instrs)} instructions, {len(blob)} bytes)", markup=False, highlight=False)


@lpu_app.command("dis")
def dis_cmd(
    file: Path = typer.Argument(..., metavar="FILE.lpu", help="A bytecode file."),
    output: Path | None = typer.Option(None, "-o", "--output", metavar="FILE.aasm", help="Write the text there instead of stdout."),
) -> None:
    """Disassemble bytecode into the text form (`babel asm` gives the same bytes back)."""
    data = _read(file)
    decoded = lpu.decode(data, str(file))
    if decoded.program is None:
        _show(list(decoded.diagnostics), str(file))
        raise typer.Exit(REJECTED)
    text = to_asm(decoded.program)
    again = parse_asm(text)
    if again.program is None or lpu.encode(again.program) != data:
        console.print(f"[yellow]warning[/yellow]: {file}: its data segment is not laid out as the LPU's assembler lays it; "
                      "assembling this text gives other bytes (the same program)", highlight=False)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            _fail(f"{output}: cannot write it ({error.strerror})")


@lpu_app.command("check")
def check_cmd(file: Path = typer.Argument(..., metavar="FILE", help="A program: FILE.aasm or FILE.lpu.")) -> None:
    """Check a program without running it: every problem with its line and column."""
    source = _load(file)
    diagnostics = check_program(source)
    _show(diagnostics, str(file))
    if errors(diagnostics):
        raise typer.Exit(REJECTED)
    console.print(f"{file}: ok ({len(source.program.instrs) if source.program else 0} instructions)", markup=False, highlight=False)


@lpu_app.command("run")
def run_cmd(
    file: Path = typer.Argument(..., metavar="FILE", help="A program: FILE.aasm or FILE.lpu."),
    root: Path = typer.Option(Path("."), "--root", "-r", metavar="DIR",
                              help="The directory LC reads from, read-only in the sandbox (default: the current directory)."),
    model: str | None = typer.Option(None, "--model", "-m", metavar="NAME", help="The model (default: the configured one)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary as JSON on stdout, after the program's output."),
) -> None:
    """Check a program, then run it on Babel's machine with the model, offline."""
    from babel.model import ConfigError, ModelError
    from babel.sandbox import SandboxError

    if not root.is_dir():
        _fail(f"--root {root}: no such directory")
    source = _load(file)
    paths = Paths.from_env()

    def client() -> ModelClient:
        try:
            return open_model(model, root=root.resolve(), paths=paths)[1]
        except ConfigError as error:
            _fail(str(error), USAGE)
        except ModelError as error:
            _fail(f"the model failed: {error}", MODEL_ERROR)

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    try:
        outcome = run_program(source, root.resolve(), paths=paths, model=client, write=write)
    except SandboxError as error:
        _fail(f"no sandbox: {error}", NO_SANDBOX)
    if outcome.run is None:
        _show(list(outcome.diagnostics), str(file))
        console.print(f"[red]rejected[/red]: {file} was not run", highlight=False)
        raise typer.Exit(REJECTED)
    _show([d for d in outcome.diagnostics if not d.is_error], str(file))
    run = outcome.run
    if as_json:
        print(json.dumps({"run_id": run.run_id, "status": run.status, "failure": run.failure, "message": run.message, "at": run.at,
                          "model_calls": run.model_calls, "memo_hits": run.memo_hits, "tokens": run.tokens,
                          "instructions": len(run.steps), "duration_ms": run.duration_ms}))
    status = "[green]ok[/green]" if run.ok else f"[red]failed[/red] at {run.at}: {run.failure}: {escape(run.message or '')}"
    console.print(f"{status} in {run.duration_ms:.0f} ms, {len(run.steps)} instructions, {run.model_calls} model calls "
                  f"({run.memo_hits} from the memo)  [dim](babel logs {run.run_id})[/dim]", highlight=False)
    if not run.ok:
        raise typer.Exit(MODEL_ERROR if run.failure == "model_error" else FAILED)
