"""End to end with the real embedded model: `babel do` and `babel eval`, offline.

These load Qwen2.5-Coder-0.5B (assembled from its PyPI packages) and run in the real
sandbox. Decoding is greedy plus seeded samples, so the results are repeatable on one
machine; the assertions are on behaviour (exit codes, confirmation, the closing line,
an unchanged workspace), and on answers a correct plan must give.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_files

pytestmark = [pytest.mark.docker, pytest.mark.model]
SUITE = Path(__file__).parent / "e2e-suite"


def babel(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_do_answers_a_question_with_the_embedded_model(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"notes.txt": "alpha\nbeta\ngamma\n"})
    done = babel("do", "how many lines are in notes.txt?", "--root", str(workspace))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    assert "vote:" in done.stderr and "candidate 1 (greedy)" in done.stderr


def test_do_asks_before_effects_and_fails_closed_without_a_terminal(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"config.ini": "port=8080\n"})
    request = "change the port from 8080 to 9090 in config.ini"
    refused = babel("do", request, "--root", str(workspace))
    assert refused.returncode == 5, refused.stderr
    assert (workspace / "config.ini").read_text() == "port=8080\n"
    dry = babel("do", request, "--root", str(workspace), "--dry-run", "--json")
    assert dry.returncode == 0 and json.loads(dry.stdout.splitlines()[-1])["plan"]["steps"]
    assert (workspace / "config.ini").read_text() == "port=8080\n"
    done = babel("do", request, "--root", str(workspace), "-y")
    assert done.returncode == 0, done.stderr
    assert (workspace / "config.ini").read_text() == "port=9090\n"


def test_eval_prints_one_line_per_task_and_the_closing_line() -> None:
    done = babel("eval", str(SUITE), "-k", "3", timeout=900)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 5, done.stdout + done.stderr
    assert all(line.split()[0] in ("PASS", "FAIL") for line in lines[:3])
    assert lines[3].startswith("context tokens a task: median ")  # every model call of a task, metered
    passed, failed = int(lines[-1].split()[0]), int(lines[-1].split()[2])
    assert lines[-1] == f"{passed} passed, {failed} failed" and passed + failed == 3
    assert passed >= 2, done.stdout  # these three are within the default model's reach
    records = [json.loads(line) for line in babel("eval", str(SUITE), "--only", "count-lines", "--json").stdout.splitlines()]
    assert records[0]["id"] == "e2e-count-lines" and records[0]["model_calls"] >= 1 and "reason" in records[0]["vote"]
    assert records[0]["context_tokens"] >= records[0]["prompt_tokens"] > 0 and 0 < records[0]["prefilled_tokens"] <= records[0]["context_tokens"]


def test_do_chooses_the_matching_skill_and_its_trace_checks(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "auth-service", workspace, dirs_exist_ok=True)
    make_files(workspace, {})
    done = babel("do", "find auth bug", "--root", str(workspace))
    assert done.returncode == 0, done.stderr
    assert 'call "find-auth-bug"' in done.stderr
    for planted in ("app/settings.py:6:", "app/auth.py:13:", "app/db.py:5:", "app/payments.py:8:", "app/routes.py:17:"):
        assert planted in done.stdout
    expect = tmp_path / "expect.yaml"
    expect.write_text("status: ok\nsteps: {run: [call], not_run: [write], max: 1}\nresult: {contains: ['[hard-coded credential]']}\n")
    checked = babel("trace", "check", "last", "--expect", str(expect))
    assert checked.returncode == 0, checked.stderr
