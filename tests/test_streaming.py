"""A running step's output, live: the executor streams an exec's output in chunks before
its response (bounded; the response still carries the whole bounded output), the host
hands them to a callback, the machine makes them live-only `step_output` events, and a
terminal shows them under the running step's line; a pipe and --json show nothing of them.

No test here measures time: each proves the order of things. The waiting command prints
a line, then waits for a file `go` to appear in the workspace, and the test (or the
callback) makes that file only once it has seen the line: so the command can end with
`go` only if its first line reached us while it ran.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from babel.app import LiveStatus, Paths, run_plan_text
from babel.app.render import OutputTail, shown_output
from babel.lang import StepOutput, StepResult, event_from_json, parse_plan, read_events
from babel.verify import Policy
from babel.vm import exec_request, run_plan
from tests.conftest import make_files

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: prints `line-42` (a text its command line does not hold), then waits (boundedly) for `go`
WAITING = ("printf 'line-%s\\n' $((20+22)); i=0; while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; "
           "if [ -e go ]; then echo go; else echo no-go; fi")
RULES = {"read": ["."], "write": [], "exec": ["sleep"]}
SIMPLE = "echo one; sleep 1; echo two"


def executor_module() -> Any:
    spec = importlib.util.spec_from_file_location("babel_executor_for_tests", ROOT / "sandbox" / "executor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- the executor's streamer (in-process: no Docker) ----------------------------------


def test_a_streams_chunks_join_into_its_text_a_character_split_between_reads_kept_whole() -> None:
    sent: list[dict[str, Any]] = []
    streamer = executor_module().Streamer(sent.append, 1000)
    data = "one\ncafé\nlast, no newline".encode()
    for piece in (data[:4], data[4:8], data[8:]):  # (the é split between two reads)
        streamer.feed("stdout", piece)
    streamer.feed("stderr", b"warning\n")
    streamer.close()
    joined = {name: "".join(m["chunk"] for m in sent if m["stream"] == name) for name in ("stdout", "stderr")}
    assert joined == {"stdout": data.decode(), "stderr": "warning\n"}
    assert not any(m.get("cut") for m in sent)


def test_a_flood_is_streamed_only_up_to_the_budget_and_then_says_it_was_cut() -> None:
    sent: list[dict[str, Any]] = []
    streamer = executor_module().Streamer(sent.append, 100)
    for _ in range(50):
        streamer.feed("stdout", b"y\n" * 40)
    streamer.close()
    text = "".join(m["chunk"] for m in sent)
    assert text == ("y\n" * 50)[:100] and len(text.encode()) == 100
    assert [m.get("cut") for m in sent].count(True) == 1 and sent[-1].get("cut") is True


def test_after_close_nothing_more_is_sent() -> None:
    sent: list[dict[str, Any]] = []
    streamer = executor_module().Streamer(sent.append, 100)
    streamer.feed("stdout", b"a\n")
    streamer.close()
    streamer.feed("stdout", b"late\n")
    assert "".join(m["chunk"] for m in sent) == "a\n"


# ---- the host: chunks to a callback before the response (real Docker) ----------------


@pytest.mark.docker
def test_a_commands_first_line_reaches_the_callback_while_it_still_runs(sandbox: Any, workspace: Path) -> None:
    heard: list[tuple[str, str, bool]] = []

    def hear(stream: str, text: str, cut: bool) -> None:
        heard.append((stream, text, cut))
        if "line-42" in text:
            (workspace / "go").write_text("")  # the command, still running, sees it and ends

    response = sandbox.call(exec_request(WAITING, RULES, 120.0, 100_000), on_chunk=hear)
    assert response["status"] == "ok", response
    assert response["value"]["stdout"] == "line-42\ngo\n"  # it went on only because its first line had reached us
    assert "".join(text for stream, text, _ in heard if stream == "stdout") == response["value"]["stdout"]


@pytest.mark.docker
def test_the_chunks_come_in_order_and_join_into_the_response_which_is_as_it_was_without_them(sandbox: Any) -> None:
    order: list[str] = []
    request = exec_request(SIMPLE, RULES, 30.0, 100_000)
    streamed = sandbox.call(request, on_chunk=lambda stream, text, cut: order.append(text))
    order.append("<response>")
    plain = sandbox.call(request)
    assert order[-1] == "<response>" and "".join(order[:-1]) == "one\ntwo\n"
    assert order.index(next(t for t in order if "one" in t)) <= order.index(next(t for t in order if "two" in t))
    same = ("status", "failure", "value", "truncated")
    assert {k: streamed.get(k) for k in same} == {k: plain.get(k) for k in same} and "chunk" not in streamed


@pytest.mark.docker
def test_a_flood_is_capped_as_before_and_its_chunks_are_bounded(sandbox: Any) -> None:
    budget = executor_module().STREAM_MAX
    chunks: list[tuple[str, bool]] = []
    request = exec_request("yes | head -c 3000000", {"read": ["."], "write": [], "exec": ["yes", "head"]}, 60.0, 1_000_000)
    streamed = sandbox.call(request, on_chunk=lambda stream, text, cut: chunks.append((text, cut)))
    plain = sandbox.call(request)
    for response in (streamed, plain):
        assert response["failure"] == "output_too_large" and response["truncated"] is True
        assert len(response["value"]["stdout"]) == 1_000_000
    assert streamed["value"] == plain["value"]
    text = "".join(t for t, _ in chunks)
    assert len(text.encode()) <= budget < 1_000_000 and streamed["value"]["stdout"].startswith(text)
    assert [cut for _, cut in chunks].count(True) == 1


@pytest.mark.docker
def test_ops_other_than_exec_answer_whole_with_a_callback_too(sandbox: Any, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "hello\n"})
    heard: list[str] = []
    answer = sandbox.call({"op": "read", "args": {"path": "a.txt"}, "timeout": 10, "max_output": 1000},
                          on_chunk=lambda stream, text, cut: heard.append(text))
    assert answer["status"] == "ok" and answer["value"] == "hello\n" and heard == []


def test_a_chunk_the_executor_did_not_send_is_not_taken() -> None:
    from babel.sandbox.docker import DockerSandbox

    parse = DockerSandbox._parse
    assert parse(b'{"id": "a1", "chunk": "x", "stream": "stdout"}', "a1") == {"id": "a1", "chunk": "x", "stream": "stdout"}
    for forged in (b'{"id": "b2", "chunk": "x", "stream": "stdout"}', b'{"id": "a1", "chunk": "x", "stream": "tty"}',
                   b'{"id": "a1", "chunk": 5, "stream": "stdout"}', b'["a1"]', b"not json"):
        assert parse(forged, "a1") is None, forged  # (the host stops the sandbox for it, as for a forged reply)


# ---- the machine: live-only events, never in the trace ---------------------------------


@pytest.mark.docker
def test_the_machine_turns_chunks_into_step_output_events_before_the_steps_result(sandbox: Any) -> None:
    plan = parse_plan(f's1: out = exec "{SIMPLE}"\ns2: n = exec "wc -l" stdin=$out\n').plan
    assert plan is not None
    events: list[Any] = []
    result = run_plan(plan, sandbox, Policy().allowing_exec(("sleep",)), on_event=events.append)
    assert result.ok
    s1 = [e for e in events if isinstance(e, StepOutput) and e.id == "s1"]
    first_result = next(i for i, e in enumerate(events) if isinstance(e, StepResult))
    assert s1 and all(events.index(e) < first_result for e in s1)
    assert "".join(e.text for e in s1 if e.stream == "stdout") == result.slots["out"] == "one\ntwo\n"


def test_without_an_event_sink_the_machine_asks_for_no_stream() -> None:
    class Recording:
        def __init__(self) -> None:
            self.streamed: list[bool] = []

        def call(self, request: dict[str, Any], on_chunk: Any = None) -> dict[str, Any]:
            self.streamed.append(on_chunk is not None)
            return {"status": "ok", "value": {"stdout": "x\n", "stderr": "", "exit_code": 0}, "truncated": False}

    plan = parse_plan('exec "echo x"').plan
    assert plan is not None
    box = Recording()
    run_plan(plan, box, Policy())
    run_plan(plan, box, Policy(), on_event=lambda event: None)
    assert box.streamed == [False, True]


def test_a_step_output_reads_back_from_its_json() -> None:
    piece = StepOutput("s1", "stderr", "warning\n", cut=True, pid=1)
    assert event_from_json(piece.to_json()) == piece


@pytest.mark.docker
def test_the_output_goes_to_on_output_and_never_to_the_trace_or_on_event(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    paths = Paths(state=tmp_path / "state", cache=tmp_path / "cache", config=tmp_path / "config", project=tmp_path)
    heard: list[StepOutput] = []
    kinds: list[str] = []
    outcome = run_plan_text(f'exec "{SIMPLE}"', workspace, Policy().allowing_exec(("sleep",)), paths=paths, skills={},
                            on_event=lambda e: kinds.append(e.kind), on_output=heard.append)
    assert outcome.ok and "".join(e.text for e in heard) == "one\ntwo\n"
    [trace] = (paths.state / "runs").glob("*.jsonl")
    assert [e["event"] for e in read_events(trace)] == kinds == ["run_start", "step", "run_end"]


# ---- the terminal ----------------------------------------------------------------------


def test_a_commands_escape_sequences_never_reach_the_terminal() -> None:
    assert shown_output("\x1b[2J\x1b]0;owned\x07red \x1b[31mtext\x1b[0m\x07") == "red text"
    assert shown_output("10%\r50%\r100%") == "100%" and shown_output("a\tb") == "a   b"


def test_the_tail_keeps_the_last_lines_and_the_one_being_written() -> None:
    tail = OutputTail(lines=3)
    for piece in ("1\n2\n", "3\n4", "5\n6\n", "partial"):
        tail.add("stdout", piece)
    assert [t.plain.strip() for t in tail.renderables()] == ["45", "6", "partial"][-3:]


def test_the_status_shows_the_running_steps_output_under_its_line_and_clears_it_with_the_next() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with LiveStatus(console, enabled=True) as status:
        status.say("s1 exec \"make\"")
        status.output(StepOutput("s1", "stdout", "compiling a.c\n"))
        status._progress.refresh()  # type: ignore[union-attr]
        shown = ANSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]
        status.say("finishing the run")
        assert status._tail.renderables() == []
    assert "s1 exec \"make\"" in shown and "compiling a.c" in shown


def terminal_run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
                 on_seen: tuple[str, Callable[[], None]] | None = None) -> tuple[int, str, str]:
    """The CLI with its stderr on a pseudo-terminal: (exit code, what the terminal got, stdout).
    `on_seen` = (text, action): the action runs once the terminal has shown the text."""
    master, slave = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "babel.cli", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=slave, cwd=cwd, env={**{k: v for k, v in os.environ.items() if k != "NO_COLOR"}, **(env or {}),
                                                         "PYTHONPATH": str(ROOT)})
    os.close(slave)
    seen, acted = b"", False
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if on_seen is not None and not acted and on_seen[0] in ANSI.sub("", seen.decode(errors="replace")):
            on_seen[1]()
            acted = True
    os.close(master)
    assert child.stdout is not None
    out = child.stdout.read().decode()
    return child.wait(timeout=120), ANSI.sub("", seen.decode(errors="replace")), out


def waiting_plan(tmp_path: Path, workspace: Path) -> Path:
    make_files(workspace, {"notes.txt": "a\n"})
    plan = tmp_path / "wait.plan"
    plan.write_text(f's1: out = exec "{WAITING}"\n')
    return plan


@pytest.mark.docker
def test_babel_run_on_a_terminal_shows_a_streamed_line_while_the_step_runs(docker_ready: None, tmp_path: Path, workspace: Path) -> None:
    plan = waiting_plan(tmp_path, workspace)
    code, terminal, out = terminal_run(["run", str(plan), "--root", str(workspace), "--allow-exec", "sleep", "--timeout", "120"],
                                       on_seen=("line-42", lambda: (workspace / "go").write_text("")))
    assert code == 0 and out == "line-42\ngo\n", terminal  # `go`: the line was on the terminal while the step ran
    assert "starting the sandbox" in terminal  # the status line while the container starts
    assert terminal.index("line-42") < terminal.index("✓ s1")


@pytest.mark.docker
def test_piped_nothing_streamed_appears_and_the_result_is_on_stdout_once(docker_ready: None, tmp_path: Path, workspace: Path) -> None:
    plan = tmp_path / "count.plan"
    plan.write_text("s1: out = exec \"printf 'line-%s\\n' $((20+22)); sleep 1; printf 'line-%s\\n' $((40+3))\"\n")
    done = subprocess.run([sys.executable, "-m", "babel.cli", "run", str(plan), "--root", str(workspace), "--allow-exec", "sleep"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "line-42\nline-43\n", done.stderr
    assert "line-4" not in done.stderr and "\x1b" not in done.stderr and "starting the sandbox" not in done.stderr
    as_json = subprocess.run([sys.executable, "-m", "babel.cli", "run", str(plan), "--root", str(workspace), "--allow-exec", "sleep",
                              "--json"], capture_output=True, text=True, timeout=120)
    assert [json.loads(line)["event"] for line in as_json.stdout.splitlines()] == ["run_start", "step", "run_end"]
    assert "line-4" not in as_json.stderr


@pytest.mark.docker
def test_json_on_a_terminal_shows_nothing_streamed(docker_ready: None, tmp_path: Path, workspace: Path) -> None:
    plan = tmp_path / "count.plan"
    plan.write_text("s1: out = exec \"printf 'line-%s\\n' $((20+22)); sleep 1\"\n")
    code, terminal, out = terminal_run(["run", str(plan), "--root", str(workspace), "--allow-exec", "sleep", "--json"])
    assert code == 0 and "line-42" not in terminal and "starting the sandbox" not in terminal, terminal
    assert [json.loads(line)["event"] for line in out.splitlines()] == ["run_start", "step", "run_end"]


SKILL = f"""name: wait-for-go
description: Print a line, then wait for a file named go.
inputs:
  properties: {{}}
permissions:
  read: ["."]
  exec: [sleep]
steps: |
  s1: out = exec "{WAITING}"
outputs:
  description: go
"""


@pytest.mark.docker
def test_babel_skill_run_shows_the_live_step_line_and_its_output_as_babel_run_does(docker_ready: None, tmp_path: Path,
                                                                                   workspace: Path) -> None:
    config = tmp_path / "config"
    (config / "babel" / "skills").mkdir(parents=True)
    (config / "babel" / "skills" / "wait-for-go.yaml").write_text(SKILL)
    make_files(workspace, {"notes.txt": "a\n"})
    code, terminal, out = terminal_run(["skill", "run", "wait-for-go", "--root", str(workspace)], cwd=tmp_path,
                                       env={"XDG_CONFIG_HOME": str(config)},
                                       on_seen=("line-42", lambda: (workspace / "go").write_text("")))
    assert code == 0 and out == "line-42\ngo\n", terminal
    assert 's1 result = call "wait-for-go" 0.' in terminal and "✓ s1" in terminal  # the live line of the running step, then its report
    assert "starting the sandbox" in terminal


@pytest.mark.docker
def test_babel_do_on_a_terminal_shows_a_streamed_line_while_the_step_runs(docker_ready: None, tmp_path: Path, workspace: Path) -> None:
    from tests.test_cli_gaps import OnePlanEndpoint

    make_files(workspace, {"notes.txt": "a\n"})
    plan = {"version": 1, "steps": [{"id": "s1", "op": "exec", "args": {"cmd": WAITING}, "out": "out"}]}
    with OnePlanEndpoint(plan) as endpoint:  # (-k 1: no dry run, which would wait for `go` unseen)
        code, terminal, out = terminal_run(["do", "print a line, then wait", "--root", str(workspace), "-k", "1", "--no-repair",
                                            "--allow-exec", "sleep"], env=endpoint.env,
                                           on_seen=("line-42", lambda: (workspace / "go").write_text("")))
    assert code == 0 and out == "line-42\ngo\n", terminal
    assert "starting the sandbox" in terminal and terminal.index("line-42") < terminal.index("✓ s1")
