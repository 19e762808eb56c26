"""Human views of plans, diagnostics, traces and votes: Babel's disassembler.

Everything here writes to a rich Console it is given: results and views go to stdout
(`stdout_console`), progress and diagnostics to stderr (`stderr_console`), so that a
result can be piped. With NO_COLOR set no escape code is written at all, and a console
that is not a terminal gets plain text. `LiveStatus` is the progress of the long waits
(model assembly and load, compiling, dry runs, a running step), one live line on a
terminal's stderr with the time the current phase has taken, and nothing when stderr is
piped or the output is --json; under a running step's line, the last lines of its output
as the command prints them (dimmed, made safe to show: no escape sequence of the
command's reaches the terminal), gone with the line when the step ends.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from babel.lang import Diagnostic, Plan, Step, StepOutput, to_text
from babel.verify import NO_SKILLS, Policy, SkillTable, handler, step_facts

_FAIL = "[red]✗[/red]"
_OK = "[green]✓[/green]"


def stderr_console() -> Console:
    """Progress, diagnostics and prompts: stderr, so that results can be piped."""
    return Console(stderr=True, highlight=False, soft_wrap=True, **_plain())


def stdout_console() -> Console:
    """Results and views (a trace, the ISA, the repair memory): stdout, for `> file` and `| less`."""
    return Console(highlight=False, soft_wrap=True, **_plain())


def _plain() -> dict[str, Any]:
    # NO_COLOR (no-color.org): rich drops colours for it but keeps bold and dim; no escape codes at all
    return {"color_system": None} if os.environ.get("NO_COLOR") else {}


def step_line(step: Step) -> str:
    """A step in the text form, without its id."""
    line = to_text(Plan((step,))).strip()
    return line.split(":", 1)[1].strip() if ":" in line else line


def show_plan(console: Console, plan: Plan, title: str = "plan", skills: SkillTable = NO_SKILLS) -> None:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, expand=False)
    table.add_column("step", style="bold")
    table.add_column("instruction", overflow="fold")
    table.add_column("effects")
    for step in plan.steps:
        facts = step_facts(step, skills)
        semantics = handler(step.op)
        mark = "[yellow]writes[/yellow]" if facts.effects else (semantics.label if semantics is not None else "")
        table.add_row(step.id, escape(step_line(step)), mark)
    console.print(table)
    if plan.result:
        console.print(f"result: ${plan.result}")


def show_diagnostics(console: Console, diagnostics: list[Diagnostic], source: str | None = None) -> None:
    for d in diagnostics:
        colour = "red" if d.is_error else "yellow"
        where = d.location(source)
        prefix = f"{escape(where)}: " if where else ""
        console.print(f"{prefix}[{colour}]{d.severity}[/{colour}] [bold]{d.code}[/bold]: {escape(d.message)}")


def show_step_event(console: Console, event: dict[str, Any], plan: Plan | None = None) -> None:
    step = plan.step(event["id"]) if plan else None
    what = escape(step_line(step)) if step else event.get("op", "")
    took = f"{event.get('duration_ms', 0):.0f} ms"
    if event.get("status") == "ok":
        size = event.get("bytes", 0)
        console.print(f"{_OK} {event['id']:<4} {what}  [dim]{took}, {size} bytes[/dim]")
    else:
        console.print(f"{_FAIL} {event['id']:<4} {what}  [dim]{took}[/dim]")
        console.print(f"       [red]{event.get('failure')}[/red]: {escape(str(event.get('message') or ''))}")
        stderr = (event.get("detail") or {}).get("stderr")
        if stderr:
            console.print(f"       [dim]stderr: {escape(stderr.strip()[-400:])}[/dim]")
    repair = event.get("repair")
    if repair:
        console.print(f"       [cyan]repaired[/cyan]: {escape(str(repair))}")


def show_result(console: Console, text: str | None, truncated_at: int = 4000) -> None:
    if text is None:
        return
    body = text if len(text) <= truncated_at else text[:truncated_at] + f"\n… ({len(text) - truncated_at} more characters)"
    console.print(escape(body), markup=True, highlight=False)


def show_trace(console: Console, events: list[dict[str, Any]]) -> None:
    from babel.lang import plan_from_json

    start = events[0] if events else {}
    plan = None
    if start.get("plan"):
        parsed = plan_from_json(start["plan"])
        plan = parsed.plan
    console.print(f"[bold]run {start.get('run_id', '?')}[/bold]  {start.get('time', '')}")
    if start.get("request"):
        console.print(f"request: {escape(start['request'])}")
    if start.get("root"):
        console.print(f"root: {escape(str(start['root']))}")
    for event in events:
        kind = event.get("event")
        if kind == "step":
            show_step_event(console, event, plan)
        elif kind == "repair":
            reason, new = escape(str(event.get("reason", ""))), escape(str(event.get("new", "")))
            console.print(f"[cyan]repair[/cyan] {event.get('step')}: {reason} → {new} ({event.get('outcome', '')})")
        elif kind == "run_end":
            status = event.get("status")
            colour = {"ok": "green", "failed": "red", "rejected": "red"}.get(str(status), "yellow")
            console.print(f"[{colour}]{status}[/{colour}] in {event.get('duration_ms', 0):.0f} ms")
            if event.get("error"):
                console.print(f"[red]{escape(str(event['error']))}[/red]")
            for d in event.get("diagnostics", []):
                show_diagnostics(console, [Diagnostic(**d)])
            if event.get("result") is not None:
                console.print("[bold]result[/bold]:")
                show_result(console, event["result"])


def show_policy(console: Console, policy: Policy) -> None:
    writes = ", ".join(policy.write) if policy.write else "none"
    console.print(f"[dim]policy: read {', '.join(policy.read)}; write {writes}; network {'on' if policy.network else 'off'}[/dim]")


class _Elapsed(ProgressColumn):
    """The time the current phase has taken, as `3.2 s` (rich's own column says 0:00:03)."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.elapsed or 0.0:.1f} s", style="dim")


#: escape sequences (CSI, OSC, two-character ones) and the other control characters, which
#: a command's output could use to move the cursor, retitle the terminal or worse
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown_output(line: str) -> str:
    """A line of a command's output as it may be shown on a terminal: what a carriage
    return would have overwritten dropped (a progress bar shows its last state), tabs as
    spaces, and no escape sequence or control character left."""
    return _CONTROL.sub("", line.rsplit("\r", 1)[-1].expandtabs(4))


class OutputTail:
    """The last lines of a running step's output, as it comes in pieces: a line is complete
    at its newline; the one being written shows too."""

    def __init__(self, lines: int = 8) -> None:
        self.lines: deque[tuple[str, str]] = deque(maxlen=lines)  # (stream, text) of complete lines
        self.partial: dict[str, str] = {}  # per stream: the line being written
        self.cut = False  # the sandbox stopped streaming at its bound
        self._lock = threading.Lock()  # pieces come on the run's thread, the terminal is drawn on rich's

    def add(self, stream: str, text: str, cut: bool = False) -> None:
        with self._lock:
            pieces = (self.partial.pop(stream, "") + text).split("\n")
            for line in pieces[:-1]:
                self.lines.append((stream, line))
            if pieces[-1]:
                self.partial[stream] = pieces[-1][-4000:]  # (a line without end is shown by its end)
            self.cut = self.cut or cut

    def clear(self) -> None:
        with self._lock:
            self.lines.clear()
            self.partial.clear()
            self.cut = False

    def renderables(self) -> list[Text]:
        with self._lock:
            shown = [*self.lines, *self.partial.items()][-(self.lines.maxlen or 8):]
            cut = self.cut
        out = [Text("  " + shown_output(line), style="dim" if stream == "stdout" else "dim yellow", no_wrap=True, overflow="ellipsis")
               for stream, line in shown]
        if cut:
            out.append(Text("  … (more output: the step's result keeps it, `babel logs` shows it)", style="dim", no_wrap=True,
                            overflow="ellipsis"))
        return out


class _StatusProgress(Progress):
    """rich's Progress with the running step's output tail under its line."""

    def __init__(self, *columns: ProgressColumn, tail: OutputTail, **options: Any) -> None:
        self.tail = tail  # (before rich's own set-up, which draws it once)
        super().__init__(*columns, **options)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        lines = self.tail.renderables()
        if lines:
            yield Group(*lines)


class LiveStatus:
    """What Babel is waiting for, live: one line on stderr (a spinner, the phase, the time it
    has taken), replaced as the phase changes and gone when it stops. `say` starts a
    phase (its clock restarts), `tokens` adds the tokens decoded so far to it, `output`
    shows a running step's output under it (the last lines, cleared with the next phase),
    `paused()` lifts the line off the terminal while a person is asked something. Off
    (every call a no-op) unless `enabled`: the CLI enables it only when stderr is a
    terminal and the output is not --json (`wanted`), so a pipe gets no progress at all."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.enabled = enabled
        self.phase = ""
        self._tail = OutputTail()
        self._progress = _StatusProgress(SpinnerColumn(), TextColumn("{task.description}"), _Elapsed(), tail=self._tail, console=console,
                                         transient=True, refresh_per_second=8) if enabled else None
        self._task: TaskID | None = None
        self._running = False

    @staticmethod
    def wanted(as_json: bool = False) -> bool:
        return not as_json and sys.stderr.isatty()

    def say(self, message: str) -> None:
        """A new phase: `message` is what is happening now; its clock starts at zero (and
        the last phase's output is cleared)."""
        self.phase = message
        if self._progress is None:
            return
        self._tail.clear()
        if self._task is None:
            self._task = self._progress.add_task(escape(message), total=None)
        else:
            self._progress.reset(self._task, description=escape(message))
        self._start()

    def tokens(self, count: int) -> None:
        """The model has decoded `count` tokens of its current answer (the engine reports them)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=escape(f"{self.phase}, {count} tokens so far"))

    def output(self, event: StepOutput) -> None:
        """A piece of the running step's output (babel.lang's StepOutput), shown under its line."""
        if self._progress is None:
            return
        self._tail.add(event.stream, event.text, event.cut)
        self._progress.refresh()

    def _start(self) -> None:
        if self._progress is not None and not self._running:
            self._progress.start()
            self._running = True

    def stop(self) -> None:
        if self._progress is not None and self._running:
            self._progress.stop()
            self._running = False

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The line lifted off while a person answers a prompt, put back after."""
        running = self._running
        self.stop()
        try:
            yield
        finally:
            if running:
                self._start()

    def __enter__(self) -> LiveStatus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
