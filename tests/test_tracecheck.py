"""Trace checks for CI: `babel trace check|diff|show` and the pytest fixture."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from babel.app.tracecheck import check, diff
from tests.conftest import make_files

EVENTS: list[dict[str, Any]] = [
    {"event": "run_start", "run_id": "r1", "tokens": {"prompt": 1000, "completion": 50}},
    {"event": "step", "id": "s1", "op": "grep", "status": "ok", "output": "a.py:3:password = 1"},
    {"event": "repair", "step": "s2"},
    {"event": "step", "id": "s2", "op": "exec", "status": "failed", "failure": "nonzero_exit", "output": ""},
    {"event": "step", "id": "s2", "op": "exec", "status": "ok", "output": "1\n"},
    {"event": "run_end", "status": "ok", "result": "1\n", "duration_ms": 120.0},
]


def failed(expect: dict[str, Any]) -> list[str]:
    return [f.what for f in check(EVENTS, expect) if not f.ok]


def test_expectations_that_hold_pass() -> None:
    assert failed({"status": "ok", "steps": {"min": 2, "max": 3, "run": ["grep", "s2"], "not_run": ["write"], "status": {"s2": "ok"}},
                   "tokens": {"max": 2000}, "duration_ms": {"max": 1000}, "repairs": {"max": 1},
                   "result": {"equals": "1", "matches": [r"^\d$"], "contains": ["1"]}, "output": {"s1": ["password"]}}) == []


@pytest.mark.parametrize(("expect", "what"), [
    ({"status": "failed"}, "status is failed"),
    ({"steps": {"max": 2}}, "steps ≤ 2"),
    ({"steps": {"not_run": ["exec"]}}, "exec did not run"),
    ({"steps": {"run": ["write"]}}, "write ran"),
    ({"tokens": {"max": 100}}, "tokens ≤ 100"),
    ({"repairs": {"max": 0}}, "repairs ≤ 0"),
    ({"result": {"matches": ["^x"]}}, "result matches /^x/"),
    ({"output": {"s1": ["secret"]}}, "s1's output matches /secret/"),
])
def test_each_unmet_expectation_is_reported(expect: dict[str, Any], what: str) -> None:
    assert failed(expect) == [what]


def test_diff_names_what_changed() -> None:
    other = [dict(e) for e in EVENTS]
    other[-1] = {"event": "run_end", "status": "failed", "result": None}
    other[1] = {**other[1], "output": "a.py:4:password = 2"}
    lines = diff(EVENTS, other)
    assert any(line.startswith("s1: output differs") for line in lines)
    assert "status: ok → failed" in lines
    assert diff(EVENTS, EVENTS) == []


def babel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.docker
def test_cli_trace_check_exit_codes(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"notes.md": "- TODO: one\n- done\n- TODO: two\n"})
    root = Path(__file__).resolve().parents[1]
    assert babel("run", str(root / "docs/examples/todos.plan"), "--root", str(workspace)).returncode == 0
    good = babel("trace", "check", "last", "--expect", str(root / "docs/examples/todos.expect.yaml"))
    assert good.returncode == 0, good.stderr
    strict = tmp_path / "strict.yaml"
    strict.write_text("result: {equals: '3'}\nsteps: {max: 1}\n")
    bad = babel("trace", "check", "last", "--expect", str(strict))
    assert bad.returncode == 1 and "✗ result equals '3'" in bad.stderr and "0 passed, 2 failed" in bad.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("colour: red\n")
    assert babel("trace", "check", "last", "--expect", str(broken)).returncode == 2
    assert babel("trace", "check", "nope", "--expect", str(strict)).returncode == 2
    assert babel("trace", "show", "last").returncode == 0
    assert babel("trace", "diff", "last", "last").returncode == 0


@pytest.mark.docker
def test_the_pytest_fixture_runs_a_plan_and_checks_its_trace(docker_ready: None, tmp_path: Path) -> None:
    test_file = tmp_path / "test_project.py"
    test_file.write_text(
        "from tests_support import make\n"
        "def test_password(babel_run, tmp_path):\n"
        "    make(tmp_path)\n"
        "    trace = babel_run('grep \"password\" paths=[\".\"]', root=tmp_path)\n"
        "    trace.check({'status': 'ok', 'result': {'contains': ['app.py:1']}})\n"
        "def test_failing_expectation(babel_run, tmp_path):\n"
        "    make(tmp_path)\n"
        "    trace = babel_run('grep \"password\" paths=[\".\"]', root=tmp_path)\n"
        "    trace.check({'result': {'contains': ['nowhere.py']}})\n"
    )
    (tmp_path / "tests_support.py").write_text(
        "import os\n"
        "def make(path):\n"
        "    (path / 'app.py').write_text('password = 1\\n')\n"
        "    path.chmod(0o755)\n"
        "    if os.geteuid() == 0:\n"
        "        os.chown(path, 1000, 1000); os.chown(path / 'app.py', 1000, 1000)\n"
    )
    installed = any(ep.value == "babel.app.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    plugin = [] if installed else ["-p", "babel.app.pytest_plugin"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *plugin, str(test_file)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env={**__import__("os").environ, "PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[1]}"})
    assert "1 failed, 1 passed" in done.stdout or "1 passed, 1 failed" in done.stdout, done.stdout[-2000:]
    assert "trace check failed" in done.stdout and "result contains 'nowhere.py'" in done.stdout
