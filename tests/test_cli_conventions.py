"""The conventions of its peers: results on stdout and progress on stderr, NO_COLOR, -h and
-V, a request read from stdin with `-`, an empty request refused."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from babel.app.render import stderr_console, stdout_console


def babel(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, input=stdin)


def test_the_isa_is_a_view_on_stdout() -> None:
    done = babel("isa", "grep")
    assert done.returncode == 0 and done.stdout.startswith("grep") and "pattern" in done.stdout


def test_a_runs_trace_is_shown_on_stdout(tmp_path: Path, state_dir: Path) -> None:
    plan = tmp_path / "bad.plan"
    plan.write_text('exec "nmap x"\n')
    assert babel("run", str(plan), "--root", str(tmp_path)).returncode == 3  # rejected, and traced
    for args in (("logs", "last"), ("trace", "show", "last")):
        done = babel(*args)
        assert done.returncode == 0 and "rejected" in done.stdout, (args, done.stdout, done.stderr)


def test_no_color_means_no_escape_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # as on a terminal, where rich styles what it prints

    def printed(make: Callable[[], Console]) -> str:
        console = make()
        console.file = io.StringIO()
        console.print("[bold]plan[/bold] [dim]s1[/dim] [red]x[/red]")
        return console.file.getvalue()

    assert "\x1b" in printed(stdout_console)  # styled without NO_COLOR...
    monkeypatch.setenv("NO_COLOR", "1")
    for make in (stdout_console, stderr_console):
        assert "\x1b" not in printed(make)  # ...and not one escape code with it (rich alone keeps bold and dim)


def test_short_help_and_version() -> None:
    assert babel("-V").stdout.startswith("babel ")
    assert "Usage" in babel("do", "-h").stdout


@pytest.mark.parametrize("args, stdin", [(("do", ""), ""), (("do", "   "), ""), (("do", "-"), "\n"), (("compile", "-"), "")])
def test_an_empty_request_is_refused_before_any_model_is_loaded(args: tuple[str, ...], stdin: str, tmp_path: Path) -> None:
    done = babel(*args, "--root", str(tmp_path), stdin=stdin)
    assert done.returncode == 2 and "the request is empty" in done.stderr, done.stderr


@pytest.mark.docker
def test_a_dead_model_endpoint_is_a_model_error_not_an_internal_one(docker_ready: None, workspace: Path) -> None:
    done = babel("do", "count the files", "--root", str(workspace), "-k", "1", env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert done.returncode == 6 and "the model failed" in done.stderr and "internal error" not in done.stderr, done.stderr


def test_doctor_contacts_the_endpoint() -> None:
    import http.server
    import json
    import threading

    from babel.cli.main import probe_endpoint

    class Models(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            body = json.dumps({"data": [{"id": "qwen-local"}]}).encode() if self.path == "/v1/models" else b"{}"
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        name, ok, detail = probe_endpoint(f"http://127.0.0.1:{server.server_port}/v1", None)
        assert ok and "qwen-local" in detail
    finally:
        server.shutdown()
    _, dead, why = probe_endpoint("http://127.0.0.1:9/v1", None, timeout=2)
    assert not dead and "does not answer" in why


# ---- configuration, policy and flag errors: exit 2, naming the key and what it takes ---------


@pytest.mark.parametrize(("args", "env", "says"), [
    (("do", "count the files"), {"BABEL_K": "x"}, "BABEL_K: k must be a whole number from 1 to 8, not 'x'"),
    (("do", "count the files", "-k", "0"), {}, "-k: k must be a whole number from 1 to 8, not 0"),
    (("do", "count the files", "--model", "gpt-17"), {}, "--model: model must be an embedded model (qwen2.5-coder-0.5b"),
    (("compile", "count the files"), {"OPENAI_BASE_URL": "localhost:8080"}, "OPENAI_BASE_URL: base_url must be an http(s) URL"),
    (("run", "-", "--timeout", "-5"), {}, "--timeout: 'budgets.step_timeout' must be a number > 0 and <= 86400, not -5.0"),
    (("run", "-", "--allow-write", "/etc"), {}, "--allow-write: 'write' root '/etc': roots are relative to the workspace"),
    (("run", "-", "--allow-exec", "grpe"), {}, "--allow-exec: 'exec' entry 'grpe': no such program in the sandbox's tool set; did you mean 'grep'?"),
])
def test_a_bad_setting_exits_2_naming_it_and_what_it_takes(tmp_path: Path, args: tuple[str, ...], env: dict[str, str], says: str) -> None:
    for name in ("BABEL_MODEL", "BABEL_BACKEND", "BABEL_MODEL_PATH", "OPENAI_BASE_URL", "BABEL_K"):
        env.setdefault(name, "")
    done = babel(*args, "--root", str(tmp_path), env={**env, "XDG_CONFIG_HOME": str(tmp_path / "config")}, stdin='read "a"\n')
    assert done.returncode == 2 and says in done.stderr, done.stderr


def test_a_config_file_with_max_tokens_is_used_and_one_with_a_token_refused(tmp_path: Path) -> None:
    (tmp_path / ".babel.toml").write_text("max_tokens = 512\nk = 9\n")  # a documented key, then a bad value: the bad one is named
    done = babel("do", "count the files", "--root", str(tmp_path), env={"BABEL_K": "", "XDG_CONFIG_HOME": str(tmp_path)})
    assert done.returncode == 2 and ".babel.toml: k must be a whole number from 1 to 8, not 9" in done.stderr, done.stderr
    (tmp_path / ".babel.toml").write_text('token = "abc"\n')
    done = babel("do", "count the files", "--root", str(tmp_path), env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert done.returncode == 2 and "'token' looks like a secret" in done.stderr, done.stderr


def test_a_state_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    done = babel("logs", env={"BABEL_STATE_DIR": str(tmp_path / "state")})
    assert done.returncode == 2 and "BABEL_STATE_DIR=" in done.stderr and "not a directory" in done.stderr, done.stderr


# ---- help, completion ----------------------------------------------------------------------


def console_script() -> str:
    return str(Path(sys.executable).parent / "babel")


def test_help_is_plain_text_when_piped_with_the_commands_in_the_order_a_user_needs_them() -> None:
    done = subprocess.run([console_script(), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "\x1b" not in done.stdout and "╭" not in done.stdout and "<bool>" not in done.stdout, done.stdout
    commands = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.startswith("  ") and line.split()]
    assert commands[:4] == ["do", "compile", "run", "undo"] if "undo" in commands else commands[:3] == ["do", "compile", "run"], commands
    assert commands.index("logs") < commands.index("eval") < commands.index("doctor"), commands
    run_help = subprocess.run([console_script(), "run", "-h"], capture_output=True, text=True, timeout=60).stdout
    assert "╭" not in run_help and "<list[str]>" not in run_help and "--allow-write" in run_help, run_help


def test_help_on_a_terminal_shows_no_type_after_a_flag() -> None:
    import re

    out = re.sub(rb"\x1b\[[0-9;]*m", b"", in_terminal([console_script(), "run", "-h"], until=b"Show this message and exit"))
    assert b"--json" in out and b"<bool>" not in out and b"--allow-write  -w" in out, out


def test_shell_completion_is_installed_by_typer_and_completes_commands() -> None:
    shown = subprocess.run([console_script(), "--show-completion", "bash"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "SHELL": "/bin/bash"})
    assert shown.returncode == 0 and "_BABEL_COMPLETE=complete_bash" in shown.stdout, shown.stdout + shown.stderr
    words = subprocess.run([console_script()], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "_BABEL_COMPLETE": "complete_bash", "COMP_WORDS": "babel d", "COMP_CWORD": "1"})
    assert words.stdout.split() == ["do", "doctor"], words


# ---- Ctrl-C: exit 130 and one line saying what was (not) done ---------------------------------


def default_sigint() -> None:
    """In a child: ^C does what it does in a shell's foreground job. A test run started in
    the background (`cmd &` in a script) inherits SIGINT ignored, and Python then installs
    no handler of its own; the tests of ^C must not depend on how pytest was started."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def in_terminal(argv: list[str], *, until: bytes, then: bytes | None = None, env: dict[str, str] | None = None,
                timeout: float = 240) -> bytes:
    """Run `argv` on a pseudo-terminal (its controlling terminal) until it prints `until`,
    then type `then` (\\x03 is ^C: the terminal sends SIGINT); all it printed, and its exit
    status as the last line (`exit=N`)."""
    import pty
    import select
    import time

    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is its terminal
        default_sigint()
        os.execve(argv[0], argv, {**os.environ, **(env or {}), "TERM": "xterm", "COLUMNS": "100"})
    out, deadline, typed = b"", time.monotonic() + timeout, False
    while time.monotonic() < deadline:
        if then is not None and not typed and until in out:
            time.sleep(0.3)
            os.write(master, then)
            typed = True
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif then is None and until in out:
            break
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:  # still running at the deadline: never hang the suite
        os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    os.close(master)
    return out + f"\nexit={os.waitstatus_to_exitcode(status)}".encode()


def test_ctrl_c_at_the_confirmation_prompt_exits_130_saying_nothing_ran(workspace: Path) -> None:
    (workspace / "f.txt").write_text("a\n")
    out = in_terminal([console_script(), "skill", "run", "replace-text", "-i", "old=a", "-i", "new=b", "-i", "paths=f.txt",
                       "--root", str(workspace)], until=b"Run this plan?", then=b"\x03")
    assert out.endswith(b"exit=130") and b"interrupted at the prompt: nothing was run" in out, out
    assert (workspace / "f.txt").read_text() == "a\n"


class HangingEndpoint:
    """An OpenAI-compatible server that lists a model and never finishes a completion."""

    def __init__(self) -> None:
        import http.server
        import json
        import threading

        self.asked = threading.Event()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                data = json.dumps({"object": "list", "data": [{"id": "slow", "object": "model", "owned_by": "me"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                fake.asked.set()
                threading.Event().wait(60)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.mark.docker
def test_ctrl_c_during_compile_exits_130_saying_nothing_ran(docker_ready: None, workspace: Path) -> None:
    import signal

    server = HangingEndpoint()
    child = subprocess.Popen([sys.executable, "-m", "babel.cli", "compile", "count the files", "--root", str(workspace), "-k", "2"],
                             preexec_fn=default_sigint,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "OPENAI_BASE_URL": server.url, "BABEL_MODEL": "", "BABEL_BACKEND": ""})
    try:
        assert server.asked.wait(90), "the compile never asked the model"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        server.server.shutdown()
    assert child.returncode == 130 and "interrupted: nothing was run; the workspace is unchanged" in err, err
    assert err.count("interrupted") == 1 and "Traceback" not in err, err


@pytest.mark.docker
def test_ctrl_c_during_a_run_exits_130_and_its_json_ends_interrupted(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    import json
    import signal

    plan = tmp_path / "slow.plan"
    plan.write_text('exec "sleep 20"\n')
    child = subprocess.Popen([sys.executable, "-m", "babel.cli", "run", str(plan), "--root", str(workspace), "--json"], preexec_fn=default_sigint,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        first = json.loads(child.stdout.readline())  # the run has started
        assert first["event"] == "run_start"
        import time

        time.sleep(2)  # the step is running in the sandbox
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    events = [json.loads(line) for line in out.splitlines()]
    assert child.returncode == 130 and "interrupted: the run stopped and the workspace is unchanged" in err, err
    assert events[-1]["event"] == "run_end" and events[-1]["status"] == "interrupted", events


# ---- --json is the trace's own form, readable by `babel trace check` ---------------------------


def test_the_json_of_a_rejected_plan_is_a_trace_that_trace_check_reads(tmp_path: Path) -> None:
    plan = tmp_path / "bad.plan"
    plan.write_text('exec "nmap x"\n')
    done = babel("run", str(plan), "--root", str(tmp_path), "--json")
    assert done.returncode == 3, done.stderr
    (tmp_path / "t.jsonl").write_text(done.stdout)
    (tmp_path / "expect.yaml").write_text("status: rejected\nsteps: {max: 0}\n")
    checked = babel("trace", "check", str(tmp_path / "t.jsonl"), str(tmp_path / "expect.yaml"))
    assert checked.returncode == 0 and "2 passed, 0 failed" in checked.stderr, checked.stdout + checked.stderr
    assert [json.loads(line)["event"] for line in done.stdout.splitlines()] == ["run_start", "run_end"]
