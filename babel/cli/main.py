"""The `babel` command: a thin shell over the library.

Each command parses its arguments, calls the library (babel.app: `do_request`,
`run_plan_text`, `run_skill`, `run_eval`, ...; the stage functions for the rest) and
renders what it returns: human views on stderr, machine output (--json) and results on
stdout. What only a person can answer (may a plan with effects run?) is asked here, on
the terminal, for the library. Bad input becomes a message naming what is wrong and
where, and a documented exit code (see `Exit`), never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, NoReturn

import typer

from babel import __version__
from babel.app import (
    LiveStatus,
    Paths,
    load_skill_table,
    show_diagnostics,
    show_plan,
    show_policy,
    show_step_event,
    show_trace,
    stderr_console,
    stdout_console,
)
from babel.cli.lpu import asm_cmd, lpu_app
from babel.lang import Diagnostic, Event, ParseResult, Plan, TraceStore, errors, parse_plan, plan_from_json, read_events, to_json, to_text
from babel.model import Config, ModelClient
from babel.skills import SkillMap
from babel.verify import Policy, PolicyError, load_policy, replace_budgets, validate_policy, verify
from babel.vm import RunResult


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


#: The commands in `babel --help`, in the order a user needs them (others follow, as registered).
COMMAND_ORDER = ("do", "compile", "run", "undo", "verify", "fmt", "logs", "trace", "eval", "skill", "memory", "isa", "doctor", "sandbox")

#: What an interrupt leaves, by command, when the command itself says nothing more precise.
INTERRUPTED = {"eval": "the suite did not finish; no workspace was changed", "sandbox": "the image was not built",
               "memory": "the repair memory is as it was"}


class Commands(typer.core.TyperGroup):
    """babel's command group: its commands listed in COMMAND_ORDER, and ^C anywhere in a
    command exits 130 with one line saying what was (not) done (typer's own is silent)."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: COMMAND_ORDER.index(name) if name in COMMAND_ORDER else len(COMMAND_ORDER))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            what = INTERRUPTED.get(ctx.invoked_subcommand or "", "nothing was run; the workspace is unchanged")
            console.print(f"[red]interrupted[/red]: {what}")
            raise typer.Exit(int(Exit.INTERRUPTED)) from None


app = typer.Typer(
    name="babel",
    cls=Commands,
    help="Run plain-language requests as safe, checkable programs: compile, verify, run in a sandbox.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion (docs/cli.md)
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
sandbox_app = typer.Typer(help="Build and inspect the sandbox image.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

app.command("asm")(asm_cmd)  # the LPU's commands: docs/lpu.md
app.add_typer(lpu_app, name="lpu")


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
    policy_file: Path | None,
    allow_write: list[str],
    allow_exec: list[str],
    workspace: str | None,
    timeout: float | None = None,
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
    problems = validate_policy(policy)
    if problems:  # --allow-write /etc, --allow-exec ./x, --timeout -5: said before anything runs, naming the flag
        flags = {"'write'": "--allow-write", "'exec'": "--allow-exec", "'budgets.step_timeout'": "--timeout", "'workspace'": "--workspace"}
        named = [next((f"{flag}: {problem}" for key, flag in flags.items() if problem.startswith(key)), problem) for problem in problems]
        fail("the policy cannot be used: " + "; ".join(named))
    return policy


def check_root(root: Path) -> Path:
    if not root.exists():
        fail(f"--root {root}: no such directory")
    if not root.is_dir():
        fail(f"--root {root}: not a directory")
    return root.resolve()


# ---- shared option definitions -------------------------------------------------

RootOpt = typer.Option(Path("."), "--root", "-r", metavar="DIR", help="The workspace directory the plan works on.")
PolicyOpt = typer.Option(None, "--policy", metavar="FILE", help="A policy file (YAML or JSON): read, write, exec, network, workspace, budgets.")
WriteOpt = typer.Option([], "--allow-write", "-w", metavar="PATH", help="Grant writes under this workspace path (repeatable; '.' = everywhere).")
ExecOpt = typer.Option([], "--allow-exec", metavar="TOOL", help="Add a program to the exec allow-list (repeatable).")
MountOpt = typer.Option(None, "--workspace", metavar="/MOUNT", help="Where the workspace is mounted in the sandbox (default /workspace).")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output on stdout.")
ModelOpt = typer.Option(
    None, "--model", "-m", metavar="NAME|PATH",
    help="Model: an embedded name (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b), a GGUF path, or an endpoint's model name."
)
KOpt = typer.Option(None, "-k", metavar="N", help="How many candidate plans to compile (default 3).")
CheckOpt = typer.Option(True, "--check/--no-check",
                        help="Judge each dry run's output against the request with the model, and weigh the vote by it (default on).")
RefineOpt = typer.Option(0, "--refine", metavar="N", min=0, max=5,
                         help="When the checker rejects the chosen plan's output, compile again showing the model what the plans "
                              "printed, up to N rounds (default 0: measured, it gained nothing on the held-out suite).")


def read_request(request: str) -> str:
    """The request as given, or read from stdin for `-`; an empty one is a usage error."""
    if request == "-":
        request = sys.stdin.read()
    request = request.strip()
    if not request:
        fail("the request is empty: say what you want done, e.g. babel do \"count the lines of every .py file\"")
    return request


@app.callback(invoke_without_command=True)
def main(version: bool = typer.Option(False, "--version", "-V", help="Print the version and exit.")) -> None:
    if version:
        print(f"babel {__version__}")
        raise typer.Exit(0)
    for variable in ("BABEL_STATE_DIR", "BABEL_CACHE_DIR", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        value = os.environ.get(variable)
        if value and Path(value).exists() and not Path(value).is_dir():  # said here, not as a crash when a trace is written
            fail(f"{variable}={value}: not a directory; {variable} names a directory (or unset it for the default)")


@app.command("verify")
def verify_cmd(
    plan_path: str = typer.Argument(..., metavar="PLAN", help="A plan file (text or JSON form), or - for stdin."),
    policy_file: Path | None = PolicyOpt,
    allow_write: list[str] = WriteOpt,
    allow_exec: list[str] = ExecOpt,
    workspace: str | None = MountOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Check a plan statically: syntax, operands, data flow, types, permissions, budgets."""
    parsed, source = load_plan(plan_path)
    policy = make_policy(policy_file, allow_write, allow_exec, workspace)
    diagnostics = parsed.diagnostics if parsed.plan is None else verify(parsed.plan, policy, skills=skill_table())
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
    to: str = typer.Option("text", "--to", metavar="text|json", help="The form to print: text or json."),
    canonical: bool = typer.Option(False, "--canonical", help="Print the canonical form (what the decoder votes on)."),
) -> None:
    """Print a plan in the text or JSON form (the two round-trip)."""
    from babel.lang import canonical as canonical_form

    if to not in ("text", "json"):
        fail(f"--to takes text or json, not {to!r}")
    parsed, source = load_plan(plan_path)
    if parsed.plan is None:
        show_diagnostics(console, parsed.diagnostics, source)
        raise typer.Exit(int(Exit.REJECTED))
    plan = canonical_form(parsed.plan) if canonical else parsed.plan
    print(json.dumps(to_json(plan), indent=2, ensure_ascii=False) if to == "json" else to_text(plan), end="" if to == "text" else "\n")


@dataclass
class Screen:
    """How a run's events are shown as they happen: with --json each as a JSON line on
    stdout (the trace's own form), else its steps, repairs and commits on stderr."""

    as_json: bool
    plan: Plan | None = None  # the plan shown, whose steps the step lines name
    live: bool = True  # off: nothing is shown (a rejected plan's trace is reported otherwise)
    status: LiveStatus | None = None  # the live line: what a step's end leaves the run doing

    def __call__(self, record: Event) -> None:
        if not self.live:
            return
        event = record.to_json()
        kind = event.get("event")
        if kind == "run_start" and self.plan is None and isinstance(event.get("plan"), dict):
            self.plan = plan_from_json(event["plan"]).plan  # (`babel skill run`: the call the library made)
        if self.as_json:
            print(json.dumps(event, ensure_ascii=False, default=str), flush=True)
        elif kind == "step":
            show_step_event(console, event, self.plan)
            if self.status is not None:
                self.status.say("finishing the run" if event.get("status") == "ok" else f"{event['id']} failed: deciding what to do")
        elif kind == "result_check":
            console.print(f"[yellow]check[/yellow] {event['step']}: the result looks wrong: {escape_markup(str(event.get('problem')))}")
        elif kind == "repair":
            console.print(f"[cyan]repair[/cyan] {event['step']}: {event.get('outcome')} {escape_markup(str(event.get('new') or ''))}")
        elif kind == "commit":
            changed = event["written"] + ["-" + d for d in event["deleted"]]
            console.print(f"[dim]applied: {', '.join(changed) or 'no changes'}[/dim]")
        elif kind == "commit_refused":
            console.print("[red]not applied[/red]: the run's changes were refused; nothing was changed in the workspace")
            for problem in event.get("problems") or ():
                console.print(f"  {escape_markup(str(problem))}")
        elif kind == "recovered":
            console.print(f"[yellow]recovered[/yellow] an interrupted apply: {escape_markup(str(event.get('detail')))}")
        elif kind == "discard":
            console.print(f"[dim]{escape_markup(str(event.get('reason') or 'the run did not complete; the workspace is unchanged'))}[/dim]")


def skill_table() -> SkillMap:
    """The skills this command works with: built-in, the project's, the user's."""
    return load_skill_table(Paths.from_env()).skills


def print_result(result: RunResult) -> None:
    status = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
    console.print(f"{status} in {result.duration_ms:.0f} ms  [dim](babel logs {result.run_id})[/dim]")
    if result.error:
        console.print(f"[red]{escape_markup(result.error)}[/red]")
    if result.ok and result.result:
        sys.stdout.write(result.result if result.result.endswith("\n") else result.result + "\n")


def show_repairs(result: RunResult) -> None:
    """The final report's repairs (babel.vm.repair_report): what was repaired, old → new,
    what was refused, and how the answer differs from the first plan's; on stderr."""
    from babel.vm import repair_report

    for line in repair_report(result).lines():
        console.print(f"[cyan]report[/cyan] {escape_markup(line)}")


@app.command("run")
def run_cmd(
    plan_path: str = typer.Argument(..., metavar="PLAN", help="A plan file (text or JSON form), or - for stdin."),
    root: Path = RootOpt,
    policy_file: Path | None = PolicyOpt,
    allow_write: list[str] = WriteOpt,
    allow_exec: list[str] = ExecOpt,
    workspace: str | None = MountOpt,
    timeout: float | None = typer.Option(None, "--timeout", metavar="SECONDS", help="Seconds each step may take (default 30)."),
    repair: bool = typer.Option(False, "--repair/--no-repair", help="Repair a failing step with the model and resume (default off)."),
    model: str | None = ModelOpt,
    git_commit: bool = typer.Option(False, "--git-commit", help="In a git work tree, commit the applied files ('babel run PLAN')."),
    as_json: bool = JsonOpt,
) -> None:
    """Verify a plan, then run it step by step in the sandbox over --root. PLAN `last` is
    the plan `babel do` or `babel compile` showed last."""
    from babel.app import RunInterrupted, last_plan, run_plan_text

    if plan_path == "last":  # (a file named last is ./last)
        kept = last_plan(Paths.from_env())
        if not kept.is_file():
            fail("no plan shown yet: `babel compile REQUEST` or `babel do REQUEST` keeps the plan it shows for `babel run last`")
        plan_path = str(kept)
    data, source = read_source(plan_path)
    policy = make_policy(policy_file, allow_write, allow_exec, workspace, timeout)
    root = check_root(root)
    paths = Paths.from_env()
    status = LiveStatus(console, LiveStatus.wanted(as_json))
    screen = Screen(as_json, live=as_json, status=status)  # --json: every event, a rejected plan's too (`babel trace check` reads them)

    def checked(plan: Plan, warnings: tuple[Diagnostic, ...]) -> None:
        screen.plan, screen.live = plan, True
        if not as_json:
            show_diagnostics(console, list(warnings), source)
            show_policy(console, policy)

    def repair_model() -> ModelClient:
        return load_model(model, root, None, paths, status)[1]

    try:
        with status:
            outcome = run_plan_text(data, root, policy, source=source, repair_model=repair_model if repair else None, model=repair_model,
                                    on_checked=checked,
                                    on_event=screen, paths=paths, skills=load_skill_table(paths).skills, approve=Reviewer(ask=False, show=not as_json),
                                    git_commit=git_commit or configured_git_commit(root, paths),
                                    say=None if as_json else (lambda msg: console.print(f"[dim]{escape_markup(msg)}[/dim]")),
                                    progress=status.say, on_output=status.output)
    except RunInterrupted as stopped:
        fail(f"interrupted: the run stopped and the workspace is unchanged (babel logs {stopped.run_id})", Exit.INTERRUPTED)
    if outcome.run is None:
        diagnostics = list(outcome.diagnostics)
        show_diagnostics(console, diagnostics, source)
        console.print(f"[red]rejected[/red]: the plan was not run (trace {outcome.run_id})")
        raise typer.Exit(int(Exit.REJECTED))
    result = outcome.run
    if not as_json:
        print_result(result)
        show_repairs(result)
    raise typer.Exit(int(Exit.OK if result.ok else Exit.STEP_FAILED))


@app.command("logs")
def logs_cmd(
    run_id: str | None = typer.Argument(None, help="A run id (or a unique prefix, or 'last'); without it, list runs."),
    limit: int = typer.Option(20, "--limit", "-n", help="How many runs to list."),
    as_json: bool = JsonOpt,
) -> None:
    """List past runs, or show one run's trace."""
    store = TraceStore(Paths.from_env().state)
    if run_id is None:
        runs = store.runs()[:limit]
        if as_json:
            rows = [{"run_id": r.run_id, "time": r.time, "status": r.status, "steps": r.steps, "request": r.request, "path": str(r.path)} for r in runs]
            print(json.dumps(rows, indent=2))
            return
        if not runs:
            console.print(f"no runs yet (traces are kept in {store.root})")
            return
        for r in runs:
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
        show_trace(stdout_console(), events)


@app.command("isa")
def isa_cmd(
    opcode: str | None = typer.Argument(None, help="Show one opcode."),
    schema: bool = typer.Option(False, "--schema", help="Print the plan JSON Schema (strict: implemented opcodes)."),
) -> None:
    """Show the instruction set: opcodes, operands, result types, permissions, failure kinds."""
    from babel.lang import load_isa, model_schema

    if schema:
        print(json.dumps(model_schema(), indent=2))
        return
    isa = load_isa()
    ops = list(isa.opcodes.values())
    if opcode:
        if opcode not in isa.opcodes:
            fail(f"unknown opcode {opcode!r}; opcodes: {', '.join(isa.opcodes)}")
        ops = [isa.opcodes[opcode]]
    out = stdout_console()
    for op in ops:
        status = "" if op.implemented else f"  [dim]({op.status})[/dim]"
        out.print(f"[bold]{op.name}[/bold]  [dim]{op.family}[/dim]{status}  {op.summary}")
        for operand in op.operands.values():
            need = "required" if operand.required else f"default {json.dumps(operand.default)}" if operand.default is not None else "optional"
            out.print(f"    {operand.name}: {operand.type} ({need}) — {operand.doc}")
        if op.implemented:
            out.print(f"    → {op.result}; permission: {op.permission or 'none'}; failures: {', '.join(op.failures)}")


# ---- the model side: compile, do, eval --------------------------------------------

memory_app = typer.Typer(help="The repair memory: failures and the repairs that fixed them.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")


def load_model(model: str | None, root: Path | None, k: int | None = None, paths: Paths | None = None,
               status: LiveStatus | None = None) -> tuple[Config, ModelClient]:
    """The configuration and its model client (babel.app.open_model); one that cannot be loaded exits 6.
    Its assembly, its load and the tokens it decodes go to the live `status` (none: quiet)."""
    from babel.app import open_model
    from babel.model import ConfigError, ModelError, ModelPool

    try:
        # one command is one run: its pool holds the engine until the process ends
        return open_model(model, root=root, k=k, paths=paths, progress=status.say if status is not None else None, pool=ModelPool(),
                          on_tokens=status.tokens if status is not None else None)
    except ConfigError as error:  # a bad key, value or flag: the message names it and what it takes
        fail(str(error), Exit.USAGE)
    except ModelError as error:
        fail(f"the model failed: {error}", Exit.MODEL_ERROR)


def show_vote(decision: Any, compilation: Any) -> None:
    for candidate in compilation.candidates:
        if candidate.valid:
            mark = "[green]valid[/green]"
        else:
            first = next((d for d in candidate.diagnostics if d.is_error), None)
            mark = f"[red]rejected[/red] {first.code if first else ''}"
        chosen = " [bold]← chosen[/bold]" if decision.chosen == candidate.index else ""
        console.print(f"  candidate {candidate.index + 1} ({candidate.origin}): {mark}{chosen}")
    console.print(f"[dim]vote: {decision.reason}[/dim]")
    if decision.rounds:
        console.print(f"[dim]refined: {decision.rounds} round{'s' if decision.rounds != 1 else ''} after the output checker "
                      "rejected the first answer[/dim]")
    if decision.rejected:
        console.print("[yellow]warning:[/yellow] the output checker doubts that the chosen plan's output answers the request; "
                      "read it with care")


def ask_to_run(plan: Plan) -> bool:
    """The confirmation `babel do` and `babel skill run` ask for, on a terminal only; ^C
    there (which the prompt turns into an abort) exits 130: nothing has run yet."""
    if not sys.stdin.isatty():
        return False
    try:
        return typer.confirm("Run this plan? (in the sandbox: its changes are shown for approval before any is applied)", default=False, err=True)
    except typer.Abort:
        fail("interrupted at the prompt: nothing was run; the workspace is unchanged", Exit.INTERRUPTED)


def ask_on_terminal(question: str) -> bool:
    """The control loop's question during a run; ^C there interrupts the run (its trace
    ends `interrupted`, the workspace is unchanged), as ^C anywhere else in it does."""
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:
        raise KeyboardInterrupt from None


def show_review(review: Any) -> None:
    """A writing run's changes, before they are applied: each file's summary and unified
    diff (or why there is none: binary, too large), then the warnings; on stderr."""
    from rich.text import Text

    console.print(f"[bold]changes[/bold] ({len(review.files)} file{'s' if len(review.files) != 1 else ''}):")
    styles = {"+": "green", "-": "red", "@": "cyan"}
    for file in review.files:
        console.print(Text(f"  {file.summary()}", style="bold"), highlight=False)
        for line in file.diff.splitlines():
            style = "bold" if line.startswith(("+++", "---")) else styles.get(line[:1], "")
            console.print(Text(line, style=style), highlight=False, soft_wrap=True)
    for warning in review.warnings:
        console.print(f"[yellow]warning[/yellow]: {escape_markup(warning)}")


@dataclass
class Reviewer:
    """`approve` for the library: shows a writing run's diff and says which files to apply.
    With `ask` (a terminal, no -y) it asks: all, none, or file by file; without, it applies
    all (the caller's consent was -y, or a plan's grants). It remembers what was declined."""

    ask: bool
    show: bool = True
    declined: tuple[str, ...] = ()

    def __call__(self, review: Any) -> list[str]:
        if self.show:
            show_review(review)
        paths = list(review.paths)
        if not self.ask:
            return paths
        try:
            answer = typer.prompt("Apply these changes to the workspace? [y]es, [n]o, [p]er file", default="n", err=True,
                                  show_default=False).strip().lower()
            while answer not in ("y", "yes", "n", "no", "p", "per file"):
                answer = typer.prompt("Answer y (apply all), n (apply none) or p (ask per file)", default="n", err=True,
                                      show_default=False).strip().lower()
            if answer.startswith("y"):
                chosen = paths
            elif answer.startswith("n"):
                chosen = []
            else:
                chosen = [f.path for f in review.files if typer.confirm(f"  apply {f.summary()}?", default=False, err=True)]
        except typer.Abort:
            raise KeyboardInterrupt from None  # ^C at the prompt: the run is interrupted, nothing is applied
        self.declined = tuple(p for p in paths if p not in chosen)
        return chosen


def not_confirmed(trace: str | None = None) -> NoReturn:
    where = f" (babel logs {trace})" if trace else ""
    if not sys.stdin.isatty():
        fail("this plan writes to the workspace or runs commands with effects; re-run with -y to allow it (no terminal to ask on)" + where,
             Exit.NOT_CONFIRMED)
    fail("aborted: nothing was run" + where, Exit.NOT_CONFIRMED)


def configured_git_commit(root: Path, paths: Paths) -> bool:
    """The configuration's `git_commit` (BABEL_GIT_COMMIT, .babel.toml, the user's file:
    docs/configuration.md), for a command that loads no model; a bad value exits 2."""
    from babel.model import ConfigError, load_config

    try:
        return load_config(None, root, user_file=paths.user_config, project=paths.project).git_commit
    except ConfigError as error:
        fail(str(error), Exit.USAGE)


@app.command("compile")
def compile_cmd(
    request: str = typer.Argument(..., help="What you want done, in plain language; - reads it from stdin."),
    root: Path = RootOpt,
    k: int | None = KOpt,
    model: str | None = ModelOpt,
    workspace: str | None = MountOpt,
    execute_candidates: bool = typer.Option(True, "--execute/--no-execute", help="Dry-run read-only candidates and vote on their outputs."),
    as_json: bool = JsonOpt,
) -> None:
    """Compile a request into candidate plans and show them with the vote; run nothing for real."""
    from babel.app import compile_and_decode, keep_plan, sandbox_factory

    request = read_request(request)
    root = check_root(root)
    policy = make_policy(None, ["."], [], workspace)
    paths = Paths.from_env()
    status = LiveStatus(console, LiveStatus.wanted(as_json))
    with status:
        config, client = load_model(model, root, k, paths, status)
        status.say("starting the sandbox")
        box = sandbox_factory(policy.workspace)(root, False)
        try:
            compilation, decision = compile_and_decode(request, client, box, policy, k=config.k, execute_candidates=execute_candidates,
                                                       progress=status.say, skills=load_skill_table(paths).skills)
        finally:
            box.close()
    kept = keep_plan(decision.plan, paths) if decision.plan is not None else None
    if as_json:
        print(json.dumps({
            "request": request,
            "candidates": [{"index": c.index, "origin": c.origin, "valid": c.valid, "text": c.text,
                            "plan": to_json(c.plan) if c.plan else None, "diagnostics": [d.to_json() for d in c.diagnostics]}
                           for c in compilation.candidates],
            "vote": decision.summary(), "plan": to_json(decision.plan) if decision.plan else None,
            "tokens": {"prompt": compilation.prompt_tokens, "completion": compilation.completion_tokens},
            "model_calls": compilation.model_calls, "latency_s": compilation.latency_s,
        }, indent=2, ensure_ascii=False))
    else:
        for candidate in compilation.candidates:
            console.print(f"[bold]candidate {candidate.index + 1}[/bold] ({candidate.origin})")
            if candidate.plan is not None:
                console.print(escape_markup(to_text(candidate.plan).rstrip()))
            show_diagnostics(console, [d for d in candidate.diagnostics])
        show_vote(decision, compilation)
        if decision.plan is not None:  # the chosen plan alone on stdout: `babel compile REQ > p.plan; babel run p.plan`
            console.print(f"[bold]chosen plan[/bold] (on stdout; kept as {kept}: `babel run last` runs it)")
            sys.stdout.write(to_text(decision.plan))
    raise typer.Exit(int(Exit.OK if decision.plan is not None else Exit.REJECTED))


def plan_editor() -> list[str]:
    """The editor `babel do --edit` opens a plan in: $EDITOR, else $VISUAL (a command line,
    `code --wait` too); neither set is a usage error, said before anything is compiled."""
    import shlex

    command = (os.environ.get("EDITOR") or os.environ.get("VISUAL") or "").strip()
    if not command:
        fail("--edit needs an editor: set EDITOR (or VISUAL), e.g. EDITOR=nano babel do --edit ...")
    try:
        return shlex.split(command)
    except ValueError as error:
        fail(f"EDITOR={command!r} is not a command line ({error})")


def edit_plan(plan: Plan, editor: list[str], policy: Policy, skills: SkillMap) -> Plan:
    """The plan as the person left it in their editor: written to a temporary file in its
    text form, the editor run on it, then read back, parsed and verified again. An editor
    that fails (`:cq`) runs nothing (exit 5); a plan that no longer parses or passes the
    verifier is refused with its diagnostics (exit 3), its file kept for another try."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", prefix="babel-", suffix=".plan", delete=False, encoding="utf-8") as handle:
        handle.write(to_text(plan))
    path = Path(handle.name)
    try:
        code = subprocess.call([*editor, str(path)])
    except OSError as error:
        path.unlink(missing_ok=True)
        fail(f"cannot start the editor {editor[0]!r}: {error.strerror}; nothing was run")
    if code != 0:
        path.unlink(missing_ok=True)
        fail(f"the editor exited with {code}: nothing was run", Exit.NOT_CONFIRMED)
    parsed = parse_plan(path.read_bytes())
    diagnostics = parsed.diagnostics if parsed.plan is None else verify(parsed.plan, policy, skills=skills)
    show_diagnostics(console, list(diagnostics), str(path))
    if errors(list(diagnostics)) or parsed.plan is None:
        fail(f"the edited plan was not run: the verifier rejected it (your edit is kept in {path})", Exit.REJECTED)
    path.unlink(missing_ok=True)
    return parsed.plan


def escape_markup(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@app.command("do")
def do_cmd(
    request: str = typer.Argument(..., help="What you want done, in plain language; - reads it from stdin."),
    root: Path = RootOpt,
    k: int | None = KOpt,
    model: str | None = ModelOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="Compile, choose and show the plan; change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Run steps with effects without asking."),
    read_only: bool = typer.Option(False, "--read-only", help="Grant no writes: plans that write are rejected."),
    repair: bool = typer.Option(True, "--repair/--no-repair", help="Repair a failing step and resume (default on)."),
    workspace: str | None = MountOpt,
    allow_exec: list[str] = ExecOpt,
    git_commit: bool = typer.Option(False, "--git-commit", help="In a git work tree, commit the applied files, the request as the message."),
    edit: bool = typer.Option(False, "--edit", help="Open the chosen plan in $EDITOR (or $VISUAL) before running it; the edited plan runs."),
    check: bool = CheckOpt,
    refine: int = RefineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Compile a request into plans, choose one by vote, show it, run it in the sandbox, and
    show its changes as a diff to approve before they are applied (`babel undo` restores them)."""
    from babel.app import RunInterrupted, do_request, keep_plan

    request = read_request(request)
    root = check_root(root)
    policy = make_policy(None, [] if read_only else ["."], allow_exec, workspace)
    paths = Paths.from_env()
    editor = plan_editor() if edit else None  # (refused before any model is loaded)
    status = LiveStatus(console, LiveStatus.wanted(as_json))
    screen = Screen(as_json, status=status)
    with status:
        config, client = load_model(model, root, k, paths, status)
    skills = load_skill_table(paths).skills

    def chosen(compilation: Any, decision: Any) -> None:
        screen.plan = decision.plan
        if decision.plan is not None:
            kept = keep_plan(decision.plan, paths)
        if not as_json:
            show_vote(decision, compilation)
            if decision.plan is not None:
                show_plan(console, decision.plan, "plan", skills=skills)
                show_policy(console, policy)
                console.print(f"[dim]plan kept as {escape_markup(str(kept))} (`babel run last` runs it)[/dim]")

    def revise(plan: Plan) -> Plan:
        assert editor is not None
        with status.paused():
            edited = edit_plan(plan, editor, policy, skills)
        screen.plan = edited
        kept = keep_plan(edited, paths)
        if not as_json:
            show_plan(console, edited, "edited plan", skills=skills)
            console.print(f"[dim]edited plan kept as {escape_markup(str(kept))}[/dim]")
        return edited

    def paused(ask: Any) -> Any:
        def asking(*args: Any) -> Any:
            with status.paused():
                return ask(*args)
        return asking

    say = (lambda msg: None) if as_json else (lambda msg: console.print(f"[dim]{escape_markup(msg)}[/dim]"))
    asking = not yes and sys.stdin.isatty()
    reviewer = Reviewer(ask=asking, show=asking or not as_json)  # (a question is never asked without its diff)
    try:
        with status:
            outcome = do_request(request, root, policy, client, k=config.k, repair=repair, dry_run=dry_run, yes=yes, confirm=paused(ask_to_run),
                                 ask_user=paused(ask_on_terminal) if sys.stdin.isatty() else None,
                                 on_plan=chosen, on_event=screen, progress=status.say, on_output=status.output, say=say, paths=paths,
                                 skills=skills, approve=paused(reviewer), git_commit=git_commit or config.git_commit,
                                 revise=revise if editor is not None and not dry_run else None, check_outputs=check, refine=refine)
    except RunInterrupted as stopped:
        fail(f"interrupted: the run stopped and the workspace is unchanged (babel logs {stopped.run_id})", Exit.INTERRUPTED)
    if outcome.missing is not None:  # the request is about a path that is not there: that is the answer, not a repair
        where = f" (babel logs {outcome.run.run_id})" if outcome.run is not None else ""
        fail(f"the request names {outcome.missing}, and there is no {outcome.missing} in the workspace{where}", Exit.USAGE)
    decision = outcome.decision
    if decision.plan is None:
        show_diagnostics(console, list(decision.diagnostics))
        fail("no candidate plan passed the verifier; try rephrasing the request, or -k with more candidates"
             + (f" (babel logs {outcome.trace})" if outcome.trace else ""), Exit.REJECTED)
    if dry_run:
        if as_json:
            print(json.dumps({"plan": to_json(decision.plan), "vote": decision.summary()}, ensure_ascii=False))
        console.print("[dim]dry run: nothing was run[/dim]")
        raise typer.Exit(int(Exit.OK))
    if outcome.run is None:
        not_confirmed(outcome.trace)
    if not as_json:
        print_result(outcome.run)
        show_repairs(outcome.run)
    if reviewer.declined and not outcome.run.ok:  # every change was declined at the review: nothing was applied
        raise typer.Exit(int(Exit.NOT_CONFIRMED))
    raise typer.Exit(int(Exit.OK if outcome.run.ok else Exit.STEP_FAILED))


@app.command("undo")
def undo_cmd(
    run_id: str | None = typer.Argument(None, metavar="[RUN]", help="A run id, a unique prefix of one, or 'last' (default: the newest run not undone)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be restored; change nothing."),
) -> None:
    """Restore what a run changed in its workspace, from the old contents kept with the run."""
    from babel.app import UndoError, undo_run

    try:
        done = undo_run(run_id, paths=Paths.from_env(), dry_run=dry_run)
    except UndoError as error:
        fail(str(error), Exit.STEP_FAILED)
    verb = "would restore" if dry_run else "restored"
    console.print(f"{'dry run: ' if dry_run else ''}run {done.run_id} in {escape_markup(str(done.root))}:")
    for path in done.restored:
        console.print(f"  {verb} {escape_markup(path)}")
    for path in done.removed:
        console.print(f"  {'would remove' if dry_run else 'removed'} {escape_markup(path)} (the run created it)")
    for path in done.removed_dirs:
        console.print(f"  {'would remove' if dry_run else 'removed'} {escape_markup(path)}/ (the run created it; it is empty now)")
    if not done.restored and not done.removed:
        console.print("  nothing to restore")
    if done.trace:
        console.print(f"[dim](babel logs {done.trace})[/dim]")
    raise typer.Exit(int(Exit.OK))


@app.command("eval")
def eval_cmd(
    suite: Path = typer.Argument(..., help="A directory of YAML task files, or one JSONL file."),
    k: int | None = KOpt,
    model: str | None = ModelOpt,
    repair: bool = typer.Option(True, "--repair/--no-repair", help="Let the control loop repair failing steps."),
    execute_candidates: bool = typer.Option(True, "--execute/--no-execute", help="Agreement by execution in the decoder."),
    variants: bool = typer.Option(False, "--variants/--no-variants",
                                  help="Decode some candidates on a prompt variant that spells out the answer's shape (k >= 3)."),
    review: bool = typer.Option(False, "--review/--no-review",
                                help="Weigh candidates also by the reviewer: how likely the request is given each plan (embedded model)."),
    check: bool = CheckOpt,
    refine: int = RefineOpt,
    jobs: int | None = typer.Option(None, "-j", "--jobs", min=1, max=1024,
                                    help="Tasks run in parallel (default 1; with --ray, one worker per CPU of the cluster)."),
    ray: str | None = typer.Option(None, "--ray", metavar="ADDRESS",
                                   help="Fan the tasks out over a Ray cluster: 'local' starts one here for this run, "
                                        "'auto' joins the one `ray start` began, or a host:port / ray:// address."),
    only: str | None = typer.Option(None, "--only", help="Run only tasks whose id contains this text."),
    naive: bool = typer.Option(False, "--naive", help="Run the baseline instead of Babel: a full-history agent loop, at most 8 "
                                                      "rounds of one shell command each (docs/eval.md)."),
    as_json: bool = JsonOpt,
) -> None:
    """Measure task success on a suite; prints one line per task and `N passed, N failed`."""
    from babel.app import SuiteError, iter_summary, load_suite, naive_runner, run_eval, run_suite
    from babel.sandbox import SandboxError, started

    try:
        tasks = load_suite(suite)
    except SuiteError as error:
        fail(str(error))
    if only:
        tasks = [t for t in tasks if only in t.id]
    paths = Paths.from_env()
    out = sys.stdout  # the results' stream (Ray writes its own messages to sys.stdout: they go to stderr)

    def on_result(r: Any) -> None:
        if as_json:
            print(json.dumps(r.to_json(), ensure_ascii=False), flush=True, file=out)
        else:
            mark = "PASS" if r.passed else "FAIL"
            print(f"{mark} {r.id}  {r.latency_s:.1f} s  {'' if r.passed else r.reason}", flush=True, file=out)

    try:
        if naive and ray is not None:
            fail("--naive runs here only: it cannot be combined with --ray", Exit.USAGE)
        if naive:
            _, client = load_model(model, None, k, paths)
            results = run_suite(tasks, naive_runner(client, started), jobs=jobs or 1, on_result=on_result)
        elif ray is not None:
            results = eval_on_ray(tasks, ray, jobs, model, k, paths, on_result, repair=repair, execute_candidates=execute_candidates,
                                  variants=variants, review=review, check_outputs=check, refine=refine)
        else:
            config, client = load_model(model, None, k, paths)
            results = run_eval(tasks, client, k=config.k, repair=repair, execute_candidates=execute_candidates, variants=variants,
                               review=review, check_outputs=check, refine=refine, jobs=jobs or 1, on_result=on_result, skills=load_skill_table(paths).skills)
    except SandboxError as error:
        fail(str(error), Exit.NO_SANDBOX)
    for line in iter_summary(results):
        (sys.stderr if as_json else out).write(line + "\n")
    passed = sum(r.passed for r in results)
    raise typer.Exit(int(Exit.OK if passed == len(results) else Exit.STEP_FAILED))


def eval_on_ray(tasks: list[Any], address: str, jobs: int | None, model: str | None, k: int | None, paths: Paths,
                on_result: Callable[[Any], None], **settings: Any) -> list[Any]:
    """`babel eval --ray`: the driver loads no model; each worker builds its own from this configuration."""
    from babel.app import ClusterError, EvalJob, run_eval_on_ray
    from babel.model import ConfigError, load_config

    flags: dict[str, Any] = {key: value for key, value in (("model", model), ("k", k)) if value is not None}
    try:
        config = load_config(flags, None, user_file=paths.user_config, project=paths.project)
    except ConfigError as error:
        fail(str(error), Exit.USAGE)
    job = EvalJob(config, k=config.k, skills=dict(load_skill_table(paths).skills), **settings)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Ray's own messages (a worker lost, a task retried) are not results
            return run_eval_on_ray(tasks, job, address=address, workers=jobs, on_result=on_result)
    except ClusterError as error:
        fail(str(error), Exit.USAGE)


@memory_app.command("show")
def memory_show(as_json: bool = JsonOpt) -> None:
    """Show recorded failures and the repairs that fixed them."""
    from babel.vm import RepairMemory

    memory = RepairMemory(Paths.from_env().repairs)
    data = memory.load()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    if not data:
        console.print(f"the repair memory is empty ({memory.path})")
        return
    out = stdout_console()
    for key, entry in sorted(data.items()):
        failures = ", ".join(f"{k} ×{v}" for k, v in entry.get("failures", {}).items())
        out.print(f"[bold]{escape_markup(key)}[/bold]: {escape_markup(failures)}")
        for failure, fixes in entry.get("fixes", {}).items():
            for change, count in fixes.items():
                out.print(f"    {escape_markup(failure)} fixed by {escape_markup(change)} ×{count}")


@memory_app.command("reset")
def memory_reset() -> None:
    """Forget all recorded failures and repairs."""
    from babel.vm import RepairMemory

    memory = RepairMemory(Paths.from_env().repairs)
    memory.reset()
    console.print(f"cleared {memory.path}")


vm_app = typer.Typer(help="Context memory: the page table, and what a run paged (docs/memory.md).", no_args_is_help=True)
app.add_typer(vm_app, name="vm")


@vm_app.command("pages")
def vm_pages(
    limit: int = typer.Option(50, "--limit", "-n", help="How many pages to list (the most recently used first)."),
    as_json: bool = JsonOpt,
) -> None:
    """List the page table: each page's id, source, size in tokens, and last use."""
    from babel.app import page_table

    paths = Paths.from_env()
    rows = page_table(paths.pages)
    if as_json:
        print(json.dumps(rows[:limit], indent=2))
        return
    if not rows:
        console.print(f"no pages yet (model ops page their contexts into {paths.pages})")
        return
    out = stdout_console()
    out.print(f"{len(rows)} pages in {paths.pages}" + (f"; the {limit} most recently used:" if len(rows) > limit else ":"))
    print(f"{'id':<14} {'tokens':>7}  {'last use':<19}  {'uses':>4}  flags  source")
    for row in rows[:limit]:
        flags = "".join(mark if row[key] else "-" for key, mark in (("resident", "R"), ("pinned", "P"), ("dirty", "D"), ("stored", "S")))
        print(f"{row['id']:<14} {max(row['tokens'], row['reserved']):>7}  {row['last_use'][:19]:<19}  {row['uses']:>4}  {flags:<5}  {row['source']}")
    print("flags: R resident and P pinned when the last run that used it ended, D dirty (not written back), "
          "S its text is stored (a file page's text is its file)")


@vm_app.command("stats")
def vm_stats(
    run_id: str = typer.Argument(..., help="A run id (or a unique prefix, or 'last'), or a trace file."),
    as_json: bool = JsonOpt,
) -> None:
    """Show what a run's context memory did: tokens per stage, page faults, hits, evictions."""
    from babel.app import run_stats

    stats = run_stats(trace_events(run_id))
    if as_json:
        print(json.dumps(stats, indent=2))
        return
    compile_, execute = stats["stages"]["compile"], stats["stages"]["execute"]
    print(f"run {stats['run_id']}" + (f": {stats['request']}" if stats.get("request") else ""))
    if compile_["prompt_tokens"] is not None:
        print(f"  compile   {compile_['prompt_tokens']} prompt tokens, {compile_['completion_tokens']} completion tokens")
    else:
        print("  compile   (no compile stage: the plan was given)")
    print(f"  execute   {execute['model_calls']} model calls, {execute['tokens_sent']} context tokens sent"
          + (f" (budget {stats['budget']} a call)" if stats.get("budget") else ""))
    print(f"            {execute['faults']} faults, {execute['hits']} hits, {execute['reused']} reused, "
          f"{execute['invalidated']} invalidated, {execute['evictions']} evictions, {execute['writebacks']} write-backs; "
          f"peak working set {execute['peak_resident']} tokens")
    for row in stats["steps"]:
        what = ", ".join(f"{k} {v}" for k, v in row.items() if k not in ("id", "op", "status", "page", "source", "tokens"))
        page = f"page {row['page']} ({row['source']}, {row['tokens']} tokens)" if "page" in row else ""
        print(f"  {row['id']:<6} {row['op']:<7} {row['status']:<7} " + "; ".join(x for x in (page, what) if x))


trace_app = typer.Typer(help="Show, compare and check run traces (for CI).", no_args_is_help=True)
app.add_typer(trace_app, name="trace")


def trace_events(which: str) -> list[dict[str, Any]]:
    """A trace by file path, run id, unique prefix, or 'last'."""
    from babel.app import read_trace

    path = Path(which)
    if not (path.suffix == ".jsonl" and path.is_file()):
        found = TraceStore(Paths.from_env().state).find(which)
        if found is None:
            fail(f"no trace matches {which!r}: give a .jsonl file, a run id (see `babel logs`), or 'last'")
        path = found
    events = read_trace(path)
    if not events:
        fail(f"{path}: not a trace (no events)")
    return events


@trace_app.command("show")
def trace_show(trace: str = typer.Argument(..., help="A trace file, a run id, or 'last'."), as_json: bool = JsonOpt) -> None:
    """Show a run's trace step by step."""
    events = trace_events(trace)
    if as_json:
        for event in events:
            print(json.dumps(event, ensure_ascii=False))
    else:
        show_trace(stdout_console(), events)


@trace_app.command("diff")
def trace_diff(first: str = typer.Argument(..., help="A trace file or run id."), second: str = typer.Argument(..., help="Another.")) -> None:
    """What differs between two runs: steps, statuses, outputs, the result. Exit 1 if anything does."""
    from babel.app import diff

    lines = diff(trace_events(first), trace_events(second))
    for line in lines:
        print(line)
    if not lines:
        console.print("the runs agree")
    raise typer.Exit(1 if lines else 0)


@trace_app.command("check")
def trace_check(
    trace: str = typer.Argument(..., help="A trace file (`babel run --json > t.jsonl`), a run id, or 'last'."),
    expect_file: Path | None = typer.Argument(None, metavar="[EXPECT]", help="A YAML file of expectations (docs/ci.md)."),
    expect_option: Path | None = typer.Option(None, "--expect", metavar="FILE", help="The same, as an option."),
    as_json: bool = JsonOpt,
) -> None:
    """Check a trace against expectations; exit 1 with a readable report if any fails."""
    from babel.app import ExpectationError, load_expectations
    from babel.app import check_trace as check

    expect = expect_option or expect_file
    if expect is None:
        fail("give the expectations file: babel trace check TRACE EXPECT.yaml (or --expect FILE)")
    try:
        expectations = load_expectations(expect)
    except ExpectationError as error:
        fail(str(error))
    findings = check(trace_events(trace), expectations)
    if as_json:
        print(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        for finding in findings:
            mark = "[green]✓[/green]" if finding.ok else "[red]✗[/red]"
            detail = "" if finding.ok else f"  [dim]({escape_markup(finding.detail)})[/dim]"
            console.print(f"{mark} {escape_markup(finding.what)}{detail}")
        failed = sum(not f.ok for f in findings)
        console.print(f"{len(findings) - failed} passed, {failed} failed")
    raise typer.Exit(int(Exit.STEP_FAILED if any(not f.ok for f in findings) else Exit.OK))


@sandbox_app.command("build")
def sandbox_build(force: bool = typer.Option(True, "--force/--if-missing", help="Rebuild even if the image exists.")) -> None:
    """Build the sandbox image locally from sandbox/ (no registry is contacted)."""
    from babel.sandbox import SandboxError, build_image

    try:
        tag = build_image(force=force, progress=lambda msg: console.print(f"[dim]{msg}[/dim]"))
    except SandboxError as error:
        fail(str(error), Exit.NO_SANDBOX)
    console.print(f"[green]built[/green] {tag}")


def probe_endpoint(base_url: str, key: str | None, timeout: float = 5.0) -> tuple[str, bool, str]:
    """Ask an OpenAI-compatible endpoint for its models: (name, answers?, what it said)."""
    import urllib.error
    import urllib.request

    url = base_url.rstrip("/") + "/models"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the user's own endpoint)
            data = json.loads(response.read(1_000_000))
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        return "endpoint", False, f"OPENAI_BASE_URL={base_url}: {url} does not answer ({reason}); start the server or fix the URL"
    names = [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)] if isinstance(data, dict) else []
    return "endpoint", True, f"OPENAI_BASE_URL={base_url} answers; models: {', '.join(names) or 'none listed'}"


@app.command("doctor")
def doctor_cmd(as_json: bool = JsonOpt) -> None:
    """Report which sandbox backends and models work on this machine, and what to do if none does."""
    from babel.model import model_statuses
    from babel.sandbox import doctor

    statuses = doctor()
    models = model_statuses(Paths.from_env().cache)
    endpoint = os.environ.get("OPENAI_BASE_URL")
    if endpoint:
        models.append(probe_endpoint(endpoint, os.environ.get("OPENAI_API_KEY")))
    if as_json:
        print(json.dumps({"sandbox": [s.__dict__ for s in statuses],
                          "models": [{"name": n, "ok": ok, "detail": d} for n, ok, d in models]}, indent=2, default=str))
    else:
        for s in statuses:
            mark = "[green]ok[/green]" if s.ok else "[red]no[/red]"
            console.print(f"{mark}  [bold]{s.name}[/bold]: {s.detail}")
        for name, ok, detail in models:
            mark = "[green]ok[/green]" if ok else "[yellow]--[/yellow]"
            console.print(f"{mark}  [bold]{name}[/bold]: {escape_markup(detail)}")
    raise typer.Exit(int(Exit.OK if any(s.ok for s in statuses) else Exit.NO_SANDBOX))




# ---- babel skill ------------------------------------------------------------------

skill_app = typer.Typer(help="Skills: reusable plans in YAML (docs/skills.md).", no_args_is_help=True)
app.add_typer(skill_app, name="skill")


def _find_skill(name: str, skills: SkillMap | None = None) -> Any:
    skill = (skill_table() if skills is None else skills).get(name)
    if skill is None:
        fail(f"no skill named {name!r} (see `babel skill list`)", Exit.USAGE)
    return skill


@skill_app.command("list")
def skill_list_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The skills Babel knows: built-in, ./.babel/skills and ~/.config/babel/skills."""
    registry = load_skill_table(Paths.from_env())
    if as_json:
        print(json.dumps([{"name": s.name, "description": s.description, "path": str(s.path)} for s in registry.skills.values()], indent=2))
        return
    for skill in sorted(registry.skills.values(), key=lambda s: s.name):
        print(f"{skill.name:<16} {skill.description.splitlines()[0]}")
    for error in registry.errors:
        console.print(f"[yellow]skipped[/yellow] {error}")


@skill_app.command("show")
def skill_show_cmd(name: str = typer.Argument(..., metavar="SKILL", help="The skill's name (babel skill list).")) -> None:
    """A skill: description, inputs, permissions, and its steps in the text form."""
    from babel.lang import to_text

    skill = _find_skill(name)
    print(f"{skill.name}: {skill.description}\nfile: {skill.path}")
    for key, spec in skill.inputs.get("properties", {}).items():
        need = "required" if key in skill.inputs.get("required", []) else f"default {json.dumps(spec.get('default'))}"
        print(f"input {key}: {spec.get('type')} ({need}) {spec.get('description', '')}")
    print(f"permissions: {json.dumps(skill.permissions)}")
    print(to_text(skill.plan), end="")


@skill_app.command("new")
def skill_new_cmd(name: str, directory: Path = typer.Option(Path(".babel/skills"), "--dir", help="Where to write it.")) -> None:
    """Scaffold a new, valid skill file to edit."""
    from babel.skills import new_skill

    try:
        path = new_skill(name, directory)
    except (ValueError, FileExistsError) as error:
        fail(str(error), Exit.USAGE)
    print(path)


@skill_app.command("validate")
def skill_validate_cmd(paths: list[Path] = typer.Argument(None, help="Skill files (default: every known skill).")) -> None:
    """Report every error of the skill files, each with file:line:column. Exit 3 if any."""
    from babel.skills import load_skill

    files = list(paths) if paths else [p for d in Paths.from_env().skill_dirs() for p in sorted(d.glob("*.yaml"))]
    count = 0
    for path in files:
        _, errors = load_skill(path)
        for error in errors:
            print(error)
        count += len(errors)
        if not errors:
            console.print(f"[green]valid[/green] {path}")
    raise typer.Exit(int(Exit.REJECTED if count else Exit.OK))


@skill_app.command("test")
def skill_test_cmd(name: str = typer.Argument(..., metavar="SKILL", help="The skill's name (babel skill list)."), model: str | None = ModelOpt) -> None:
    """Run a skill's examples in the sandbox; one line per example and `N passed, N failed` (a skill with model ops loads the model)."""
    from babel.app import run_examples
    from babel.sandbox import started
    from babel.verify import asks_model
    from babel.vm import ALU

    skills = skill_table()
    skill = _find_skill(name, skills)
    alu = ALU(load_model(model, Path("."), None, Paths.from_env())[1]) if asks_model(skill.plan, skills) else None
    results = run_examples(skill, started, skills=skills, alu=alu)
    for result in results:
        print(f"{'PASS' if result.passed else 'FAIL'} {name}: {result.name}" + ("" if result.passed else f"  {result.reason}"))
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    raise typer.Exit(int(Exit.OK if passed == len(results) else Exit.STEP_FAILED))


@skill_app.command("run")
def skill_run_cmd(
    name: str = typer.Argument(..., metavar="SKILL", help="The skill's name (babel skill list)."),
    inputs: list[str] = typer.Option([], "--input", "-i", metavar="KEY=VALUE", help="An input as key=value (repeatable; arrays as a,b,c)."),
    root: Path = typer.Option(Path("."), "--root", "-r", metavar="DIR", help="The workspace."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Allow the skill's writes without asking."),
    as_json: bool = typer.Option(False, "--json", help="Events as JSON Lines on stdout."),
    model: str | None = ModelOpt,
) -> None:
    """Run a skill over a workspace with the given inputs; print its result (a skill with model ops loads the model)."""
    from babel.app import RunInterrupted, run_skill
    from babel.skills import SkillInputError, bind_inputs

    paths = Paths.from_env()
    skills = load_skill_table(paths).skills
    skill = _find_skill(name, skills)
    values: dict[str, Any] = {}
    for item in inputs:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--input {item!r}: write key=value", Exit.USAGE)
        values[key.strip()] = value
    try:
        bind_inputs(skill, values)
    except SkillInputError as error:
        fail(f"skill {name}: {error}", Exit.USAGE)
    root = check_root(root)
    status = LiveStatus(console, LiveStatus.wanted(as_json))  # the live step line and its output, as `babel run` shows them
    reviewer = Reviewer(ask=not yes and sys.stdin.isatty(), show=not as_json or (not yes and sys.stdin.isatty()))

    def paused(ask: Any) -> Any:
        def asking(*args: Any) -> Any:
            with status.paused():
                return ask(*args)
        return asking

    try:
        with status:
            outcome = run_skill(name, values, root, yes=yes, confirm=paused(ask_to_run), on_event=Screen(as_json, status=status), paths=paths,
                                skills=skills, model=lambda: load_model(model, root, None, paths, status)[1], approve=paused(reviewer),
                                say=None if as_json else (lambda msg: console.print(f"[dim]{escape_markup(msg)}[/dim]")),
                                progress=status.say, on_output=status.output)
    except RunInterrupted as stopped:
        fail(f"interrupted: the run stopped and the workspace is unchanged (babel logs {stopped.run_id})", Exit.INTERRUPTED)
    if outcome.run is None:
        not_confirmed()
    result = outcome.run
    if result.ok and result.result is not None and not as_json:
        sys.stdout.write(result.result if result.result.endswith("\n") or not result.result else result.result + "\n")
    raise typer.Exit(int(Exit.OK if result.ok else Exit.STEP_FAILED))


def plain_help() -> None:
    """Help and usage errors as plain text where no terminal reads them (or NO_COLOR is set):
    no boxes, no escape codes; and no `<bool>` after a flag on a terminal either."""
    if os.environ.get("NO_COLOR") or not (sys.stdout.isatty() and sys.stderr.isatty()):
        for typer_app in [app, *(group.typer_instance for group in app.registered_groups if group.typer_instance)]:
            typer_app.rich_markup_mode = None


def without_flag_types(command: Any) -> Any:
    """The command tree with no type shown after a flag (rich help would say `<bool>`), nor
    after a positional argument, whose name says what it takes (`PLAN`, not `PLAN <str>`)."""
    for param in command.params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif isinstance(param, typer.core.TyperArgument):
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]  # (typer has no setting for it)
    make_help_option = command.get_help_option  # -h/--help is made when asked for, so it is tidied then

    def help_option(ctx: Any) -> Any:
        option = make_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        without_flag_types(sub)
    return command


def run() -> None:
    """The console script: typer's app, with no traceback for anything the user did."""
    plain_help()
    try:
        without_flag_types(typer.main.get_command(app))()
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        raise SystemExit(int(Exit.INTERRUPTED)) from None
    except SystemExit:
        raise
    except Exception as error:  # a bug: one readable line, the traceback only on request
        from babel.model import ConfigError, ModelError
        from babel.sandbox import SandboxError

        if isinstance(error, ModelError):  # wherever it surfaced (a compile, a repair): the model failed, exit 6
            console.print(f"[red]error[/red]: the model failed: {error}")
            raise SystemExit(int(Exit.MODEL_ERROR)) from None
        if isinstance(error, ConfigError):  # a configuration read late (a repair's model): a usage error
            console.print(f"[red]error[/red]: {error}")
            raise SystemExit(int(Exit.USAGE)) from None
        if isinstance(error, SandboxError):
            console.print(f"[red]error[/red]: {error}")
            raise SystemExit(int(Exit.NO_SANDBOX)) from None
        if os.environ.get("BABEL_DEBUG"):
            raise
        console.print(f"[red]internal error[/red]: {type(error).__name__}: {error} (set BABEL_DEBUG=1 for the traceback; please report it)")
        raise SystemExit(70) from None

