"""Progress on the long waits: a live line on a terminal's stderr (what is happening and
for how long: the model's load, compiling with the tokens so far, dry runs, each running
step), and nothing at all when stderr is piped or the output is --json."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from babel.app import LiveStatus
from babel.lang import StepStart, event_from_json
from babel.model.engine import EngineClient
from babel.model.port import ModelRequest, Sample
from tests.conftest import make_files

SLOW_PLAN = 's1: w = exec "sleep 2"\ns2: n = exec "wc -l notes.txt"\n'
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(*args: str) -> tuple[int, str, str]:
    """The CLI with its stderr on a pseudo-terminal: (exit code, what the terminal got, stdout)."""
    master, slave = pty.openpty()
    done = subprocess.Popen([sys.executable, "-m", "babel.cli", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave, env={k: v for k, v in os.environ.items() if k != "NO_COLOR"})
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert done.stdout is not None
    out = done.stdout.read().decode()
    return done.wait(timeout=120), seen.decode(errors="replace"), out


def slow_plan(tmp_path: Path, workspace: Path) -> Path:
    make_files(workspace, {"notes.txt": "a\nb\n"})
    plan = tmp_path / "slow.plan"
    plan.write_text(SLOW_PLAN)
    return plan


@pytest.mark.docker
def test_a_running_step_shows_what_it_runs_and_for_how_long_on_a_terminal(docker_ready: None, tmp_path: Path, workspace: Path) -> None:
    code, terminal, out = on_a_terminal("run", str(slow_plan(tmp_path, workspace)), "--root", str(workspace), "--allow-exec", "sleep")
    assert code == 0 and out.strip() == "2 notes.txt", terminal
    plain = ANSI.sub("", terminal)
    assert re.search(r's1 w = exec "sleep 2" 1\.\d s', plain), plain  # the step, while it runs, with its time so far
    assert "✓ s1" in plain and "✓ s2" in plain


@pytest.mark.docker
def test_piped_stderr_gets_no_progress(docker_ready: None, tmp_path: Path, workspace: Path) -> None:
    plan = slow_plan(tmp_path, workspace)
    done = subprocess.run([sys.executable, "-m", "babel.cli", "run", str(plan), "--root", str(workspace), "--allow-exec", "sleep"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "2 notes.txt"
    assert "\x1b" not in done.stderr and " s\n" not in done.stderr and "finishing the run" not in done.stderr, done.stderr
    assert "✓ s1" in done.stderr  # the step lines stay: they are the run's report, not progress


@pytest.mark.docker
def test_a_steps_start_is_live_only_never_in_the_trace_or_json(docker_ready: None, tmp_path: Path, workspace: Path) -> None:
    plan = slow_plan(tmp_path, workspace)
    code, terminal, out = on_a_terminal("run", str(plan), "--root", str(workspace), "--allow-exec", "sleep", "--json")
    assert code == 0 and "sleep 2" not in ANSI.sub("", terminal)  # --json: no live line either
    assert [json.loads(line)["event"] for line in out.splitlines()] == ["run_start", "step", "step", "run_end"]


def test_a_step_start_reads_back_from_its_json() -> None:
    start = StepStart("s2", "exec", pid=1)
    assert event_from_json(start.to_json()) == start
    assert event_from_json({"event": "step_start", "id": "s1"}) == StepStart("s1", "")


def test_the_status_is_silent_when_off() -> None:
    console = Console(file=io.StringIO(), force_terminal=True)
    with LiveStatus(console, enabled=False) as status:
        status.say("compiling: 3 candidates")
        status.tokens(12)
        with status.paused():
            pass
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_the_status_says_the_tokens_so_far_of_the_phase() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with LiveStatus(console, enabled=True) as status:
        status.say("compiling: 5 candidates")
        status.tokens(212)
        status._progress.refresh()  # type: ignore[union-attr]  (rather than wait for its refresh thread)
    assert "compiling: 5 candidates, 212 tokens so far" in ANSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]


class CountingEngine:
    """Stands in for the BatchedEngine: reports tokens as it 'decodes', and records what it was asked."""

    def __init__(self) -> None:
        self.asked: dict[str, Any] = {}

    def generate(self, messages: Any, **kwargs: Any) -> list[Any]:
        from babel.model.engine import Generated

        on_tokens = kwargs.pop("on_tokens")
        self.asked = {"messages": messages, **kwargs}
        for count in (2, 4, 6) if on_tokens is not None else ():
            on_tokens(count)
        return [Generated("{}", 10, 3, -1.0, True, "m", 0.1) for _ in range(kwargs["n"])]


def test_the_engine_client_reports_tokens_as_it_decodes_and_asks_the_same() -> None:
    seen: list[int] = []
    engine = CountingEngine()
    quiet, counting = EngineClient(engine), EngineClient(engine, on_tokens=seen.append)  # type: ignore[arg-type]
    request = ModelRequest(({"role": "user", "content": "hi"},), (Sample(0.0, 1), Sample(0.7, 2)))
    answers, asked = [], []
    for client in (counting, quiet):
        answers.append(client.submit([request]))
        asked.append(engine.asked)
    assert seen == [2, 4, 6] and answers[0] == answers[1] and asked[0] == asked[1]  # the same asked, the same answered
