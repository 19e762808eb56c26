"""The `babel` command: a thin shell over the library.

Each command parses its arguments, calls the stage functions (parse, verify, run, ...)
and renders what they return: human views on stderr, machine output (--json) and
results on stdout. Bad input becomes a message naming what is wrong and where, and a
documented exit code (see `Exit`), never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from enum import IntEnum
from pathlib import Path
from typing import Any, Callable, NoReturn, Optional

import typer

from babel import __version__
from babel.diagnostics import Diagnostic, errors
from babel.plan import Plan, ParseResult, parse_plan, to_json, to_text
from babel.policy import Policy, PolicyError, load_policy, replace_budgets
from babel.render import show_diagnostics, show_plan, show_policy, show_result, show_step_event, show_trace, stderr_console
from babel.run import RunResult, new_run_id, rejected, run_plan
from babel.trace import TraceStore, read_events
from babel.verify import verify


class Exit(IntEnum):
    """Exit codes, documented in docs/cli.md."""

    OK = 0
    STEP_FAILED = 1  # a step failed (or the task failed, for eval)
    USAGE = 2  # bad arguments, unreadable files
    REJECTED = 3  # the verifier rejected the plan (or no candidate was valid)
    NO_SANDBOX = 4  # no sandbox backend works here
    NOT_CONFIRMED = 5  # a step needs confirmation and none was given
    MODEL_ERROR = 6  # the model could not be reached or failed
    INTERRUPTED = 130


app = typer.Typer(
    name="babel",
    help="Run plain-language requests as safe, checkable programs: compile, verify, run in a sandbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(help="Build and inspect the sandbox image.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

console = stderr_console()


def fail(message: str, code: Exit = Exit.USAGE) -> NoReturn:
    console.print(f"[red]error[/red]: {message}")
    raise typer.Exit(int(code))


def read_source(path: str) -> tuple[bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    file = Path(path)
    if not file.exists():
        fail(f"{path}: no such file")
    if file.is_dir():
        fail(f"{path}: is a directory, not a plan file")
    try:
        return file.read_bytes(), path
    except OSError as error:
        fail(f"{path}: cannot read it ({error.strerror})")


def load_plan(path: str) -> tuple[ParseResult, str]:
    data, source = read_source(path)
    return parse_plan(data), source


def make_policy(
    policy_file: Optional[Path],
    allow_write: list[str],
    allow_exec: list[str],
    workspace: Optional[str],
    timeout: Optional[float] = None,
) -> Policy:
    policy = Policy()
    if policy_file is not None:
        try:
            policy = load_policy(policy_file)
        except PolicyError as error:
            fail(str(error))
    if allow_write:
        policy = policy.granting_writes(tuple(allow_write))
    if allow_exec:
        policy = policy.allowing_exec(tuple(allow_exec))
    if workspace:
        if not workspace.startswith("/"):
            fail(f"--workspace must be an absolute path inside the sandbox, such as /workspace (got {workspace!r})")
        policy = dataclasses.replace(policy, workspace=workspace)
    if timeout is not None:
        policy = replace_budgets(policy, step_timeout=timeout)
    return policy


def check_root(root: Path) -> Path:
    if not root.exists():
        fail(f"--root {root}: no such directory")
    if not root.is_dir():
        fail(f"--root {root}: not a directory")
    return root.resolve()


# ---- shared option definitions -------------------------------------------------

RootOpt = typer.Option(Path("."), "--root", "-r", help="The workspace directory the plan works on.")
PolicyOpt = typer.Option(None, "--policy", help="A policy file (YAML or JSON): read, write, exec, network, workspace, budgets.")
WriteOpt = typer.Option([], "--allow-write", "-w", help="Grant writes under this workspace path (repeatable; '.' = everywhere).")
ExecOpt = typer.Option([], "--allow-exec", help="Add a program to the exec allow-list (repeatable).")
MountOpt = typer.Option(None, "--workspace", help="Where the workspace is mounted in the sandbox (default /workspace).")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output on stdout.")


@app.callback(invoke_without_command=True)
def main(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        print(f"babel {__version__}")
        raise typer.Exit(0)


@app.command("verify")
def verify_cmd(
    plan_path: str = typer.Argument(..., metavar="PLAN", help="A plan file (text or JSON form), or - for stdin."),
    policy_file: Optional[Path] = PolicyOpt,
    allow_write: list[str] = WriteOpt,
    allow_exec: list[str] = ExecOpt,
    workspace: Optional[str] = MountOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Check a plan statically: syntax, operands, data flow, types, permissions, budgets."""
    parsed, source = load_plan(plan_path)
    policy = make_policy(policy_file, allow_write, allow_exec, workspace)
    diagnostics = parsed.diagnostics if parsed.plan is None else verify(parsed.plan, policy)
    if as_json:
        print(json.dumps({"valid": not errors(diagnostics), "diagnostics": [d.to_json() for d in diagnostics]}, indent=2))
    else:
        show_diagnostics(console, diagnostics, source)
        n_err = len(errors(diagnostics))
        if n_err:
            console.print(f"[red]{source}: rejected[/red] ({n_err} error{'s' if n_err != 1 else ''})")
        else:
            console.print(f"[green]{source}: valid[/green] ({len(parsed.plan.steps) if parsed.plan else 0} steps)")
    raise typer.Exit(int(Exit.REJECTED if errors(diagnostics) else Exit.OK))


@app.command("fmt")
def fmt_cmd(
    plan_path: str = typer.Argument(..., metavar="PLAN", help="A plan file (text or JSON form), or - for stdin."),
    to: str = typer.Option("text", "--to", help="The form to print: text or json."),
    canonical: bool = typer.Option(False, "--canonical", help="Print the canonical form (what the decoder votes on)."),
) -> None:
    """Print a plan in the text or JSON form (the two round-trip)."""
    from babel.plan import canonical as canonical_form

    if to not in ("text", "json"):
        fail(f"--to takes text or json, not {to!r}")
    parsed, source = load_plan(plan_path)
    if parsed.plan is None:
        show_diagnostics(console, parsed.diagnostics, source)
        raise typer.Exit(int(Exit.REJECTED))
    plan = canonical_form(parsed.plan) if canonical else parsed.plan
    print(json.dumps(to_json(plan), indent=2, ensure_ascii=False) if to == "json" else to_text(plan), end="" if to == "text" else "\n")


def open_sandbox(root: Path, policy: Policy) -> Any:
    from babel.sandbox import DockerSandbox, SandboxError

    try:
        box = DockerSandbox(root, mount_at=policy.workspace, writable=bool(policy.write), progress=lambda msg: console.print(f"[dim]{msg}[/dim]"))
        box.start()
    except SandboxError as error:
        fail(str(error), Exit.NO_SANDBOX)
    return box


def execute(
    plan: Plan,
    root: Path,
    policy: Policy,
    as_json: bool,
    meta: dict[str, Any],
    runner: Optional[Callable[..., RunResult]] = None,
) -> RunResult:
    """Run a verified plan in a fresh sandbox, streaming events to the trace and the screen."""
    run_id = new_run_id()
    writer = TraceStore().writer(run_id)

    def on_event(event: dict[str, Any]) -> None:
        writer(event)
        if as_json:
            print(json.dumps(event, ensure_ascii=False, default=str), flush=True)
        elif event.get("event") == "step":
            show_step_event(console, event, plan)

    box = open_sandbox(root, policy)
    try:
        run = runner or run_plan
        return run(plan, box, policy, on_event=on_event, run_id=run_id, meta={"root": str(root), **meta})
    except KeyboardInterrupt:
        writer({"event": "run_end", "run_id": run_id, "status": "interrupted"})
        fail("interrupted", Exit.INTERRUPTED)
    finally:
        box.close()
        writer.close()


@app.command("run")
def run_cmd(
    plan_path: str = typer.Argument(..., metavar="PLAN", help="A plan file (text or JSON form), or - for stdin."),
    root: Path = RootOpt,
    policy_file: Optional[Path] = PolicyOpt,
    allow_write: list[str] = WriteOpt,
    allow_exec: list[str] = ExecOpt,
    workspace: Optional[str] = MountOpt,
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds each step may take (default 30)."),
    as_json: bool = JsonOpt,
) -> None:
    """Verify a plan, then run it step by step in the sandbox over --root."""
    parsed, source = load_plan(plan_path)
    policy = make_policy(policy_file, allow_write, allow_exec, workspace, timeout)
    root = check_root(root)
    store = TraceStore()
    diagnostics = parsed.diagnostics if parsed.plan is None else verify(parsed.plan, policy)
    if errors(diagnostics):
        run_id = new_run_id()
        writer = store.writer(run_id)
        rejected(parsed.plan, errors(diagnostics), on_event=writer, run_id=run_id, meta={"root": str(root), "source": source})
        writer.close()
        if as_json:
            print(json.dumps({"event": "rejected", "run_id": run_id, "diagnostics": [d.to_json() for d in diagnostics]}))
        show_diagnostics(console, diagnostics, source)
        console.print(f"[red]rejected[/red]: the plan was not run (trace {run_id})")
        raise typer.Exit(int(Exit.REJECTED))
    assert parsed.plan is not None
    plan = parsed.plan
    if not as_json:
        show_diagnostics(console, diagnostics, source)  # warnings
        show_policy(console, policy)
    result = execute(plan, root, policy, as_json, {"source": source})
    if not as_json:
        status = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
        console.print(f"{status} in {result.duration_ms:.0f} ms  [dim](trace {result.run_id}; babel logs {result.run_id})[/dim]")
        if result.ok and result.result is not None:
            sys.stdout.write(result.result if result.result.endswith("\n") or not result.result else result.result + "\n")
    raise typer.Exit(int(Exit.OK if result.ok else Exit.STEP_FAILED))


@app.command("logs")
def logs_cmd(
    run_id: Optional[str] = typer.Argument(None, help="A run id (or a unique prefix, or 'last'); without it, list runs."),
    limit: int = typer.Option(20, "--limit", "-n", help="How many runs to list."),
    as_json: bool = JsonOpt,
) -> None:
    """List past runs, or show one run's trace."""
    store = TraceStore()
    if run_id is None:
        runs = store.runs()[:limit]
        if as_json:
            print(json.dumps([{"run_id": r.run_id, "time": r.time, "status": r.status, "steps": r.steps, "request": r.request, "path": str(r.path)} for r in runs], indent=2))
            return
        if not runs:
            console.print(f"no runs yet (traces are kept in {store.root})")
            return
        for r in runs:
            colour = {"ok": "green", "failed": "red", "rejected": "red"}.get(r.status, "yellow")
            what = f"  {r.request}" if r.request else ""
            print(f"{r.run_id}  {r.time[:19]}  {r.status:<10} {r.steps:>3} steps{what}")
        return
    path = store.find(run_id)
    if path is None:
        fail(f"no run matches {run_id!r} (see `babel logs` for the list)")
    events = list(read_events(path))
    if as_json:
        for event in events:
            print(json.dumps(event, ensure_ascii=False))
    else:
        show_trace(stderr_console(), events)


@app.command("isa")
def isa_cmd(
    opcode: Optional[str] = typer.Argument(None, help="Show one opcode."),
    schema: bool = typer.Option(False, "--schema", help="Print the plan JSON Schema (strict: implemented opcodes)."),
) -> None:
    """Show the instruction set: opcodes, operands, result types, permissions, failure kinds."""
    from babel.isa import load_isa, model_schema

    if schema:
        print(json.dumps(model_schema(), indent=2))
        return
    isa = load_isa()
    ops = list(isa.opcodes.values())
    if opcode:
        if opcode not in isa.opcodes:
            fail(f"unknown opcode {opcode!r}; opcodes: {', '.join(isa.opcodes)}")
        ops = [isa.opcodes[opcode]]
    for op in ops:
        status = "" if op.implemented else f"  [dim]({op.status})[/dim]"
        console.print(f"[bold]{op.name}[/bold]  [dim]{op.family}[/dim]{status}  {op.summary}")
        for operand in op.operands.values():
            need = "required" if operand.required else f"default {json.dumps(operand.default)}" if operand.default is not None else "optional"
            console.print(f"    {operand.name}: {operand.type} ({need}) — {operand.doc}")
        if op.implemented:
            console.print(f"    → {op.result}; permission: {op.permission or 'none'}; failures: {', '.join(op.failures)}")


@sandbox_app.command("build")
def sandbox_build(force: bool = typer.Option(True, "--force/--if-missing", help="Rebuild even if the image exists.")) -> None:
    """Build the sandbox image locally from sandbox/ (no registry is contacted)."""
    from babel.sandbox import SandboxError, build_image

    try:
        tag = build_image(force=force, progress=lambda msg: console.print(f"[dim]{msg}[/dim]"))
    except SandboxError as error:
        fail(str(error), Exit.NO_SANDBOX)
    console.print(f"[green]built[/green] {tag}")


@app.command("doctor")
def doctor_cmd(as_json: bool = JsonOpt) -> None:
    """Report which sandbox backends and models work on this machine, and what to do if none does."""
    from babel.sandbox import doctor

    statuses = doctor()
    if as_json:
        print(json.dumps([s.__dict__ for s in statuses], indent=2, default=str))
    else:
        for s in statuses:
            mark = "[green]ok[/green]" if s.ok else "[red]no[/red]"
            console.print(f"{mark}  [bold]{s.name}[/bold]: {s.detail}")
    raise typer.Exit(int(Exit.OK if any(s.ok for s in statuses) else Exit.NO_SANDBOX))


def run() -> None:
    """The console script: typer's app, with no traceback for anything the user did."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        raise SystemExit(int(Exit.INTERRUPTED))
    except SystemExit:
        raise
    except Exception as error:  # a bug: one readable line, the traceback only on request
        if os.environ.get("BABEL_DEBUG"):
            raise
        console.print(f"[red]internal error[/red]: {type(error).__name__}: {error} (set BABEL_DEBUG=1 for the traceback; please report it)")
        raise SystemExit(70)


if __name__ == "__main__":
    run()
