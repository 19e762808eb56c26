"""The conventions of its peers: results on stdout and progress on stderr, NO_COLOR, -h and
-V, a request read from stdin with `-`, an empty request refused."""

from __future__ import annotations

import io
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
