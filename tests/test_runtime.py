"""`babel run`: plans run step by step in the real sandbox, each step with its status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from babel.lang.plan import parse_plan
from babel.sandbox.docker import DockerSandbox
from babel.verify.policy import Budgets, Policy
from babel.vm.machine import run_plan
from tests.conftest import give_to_sandbox_user, make_files

pytestmark = pytest.mark.docker


def plan_of(text: str):  # type: ignore[no-untyped-def]
    parsed = parse_plan(text)
    assert parsed.plan is not None, parsed.diagnostics
    return parsed.plan


def run(text: str, box: object, policy: Policy | None = None):  # type: ignore[no-untyped-def]
    return run_plan(plan_of(text), box, policy or Policy())  # type: ignore[arg-type]


def babel(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, input=input, timeout=300)


def test_every_op_runs_and_slots_flow(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"src/auth.py": 'user = "admin"\npassword = "hunter2"\n', "data.csv": "a,b\n1,2\n3,4\n"})
    with DockerSandbox(workspace) as box:
        result = run('s1: hits = grep "password" paths=["src"]\ns2: n = exec "wc -l" stdin=$hits\n'
                     's3: csv = read "data.csv"\ns4: rows = grep "^[0-9]" in=$csv\nresult $n', box)
    assert result.ok and result.result is not None and result.result.strip() == "1"
    assert [s.status for s in result.steps] == ["ok"] * 4
    assert result.slots["hits"] == [{"path": "src/auth.py", "line": 2, "text": 'password = "hunter2"'}]
    assert result.slots["rows"] == ["1,2", "3,4"]
    assert all(s.duration_ms >= 0 for s in result.steps)


def test_a_failed_step_stops_the_run_with_its_failure_kind(sandbox: object, workspace: Path) -> None:
    cases = {
        'read "missing.txt"': "not_found",
        'grep "zzz" paths=["."]': "empty_match",
        'exec "false"': "nonzero_exit",
        'exec "sleep 5" timeout=1': "timeout",
        'grep "(" paths=["."]': "invalid_output",
    }
    make_files(workspace, {"a.txt": "hello\n"})
    for text, failure in cases.items():
        result = run(text + '\nread "a.txt"', sandbox)
        assert result.status == "failed" and len(result.steps) == 1, text
        assert result.steps[0].failure == failure, (text, result.steps[0])


def test_a_command_that_exits_1_with_an_answer_succeeds(sandbox: object, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "x\n", "b.txt": "y\n"})
    counted = run('exec "grep -c zzz a.txt"', sandbox)
    assert counted.ok and counted.result is not None and counted.result.strip() == "0"
    differ = run('exec "diff a.txt b.txt"', sandbox)
    assert differ.ok and differ.result is not None and "< x" in differ.result
    # status 1 with nothing printed is still a failure
    assert run('exec "grep zzz a.txt"', sandbox).steps[0].failure == "nonzero_exit"


def test_grep_extract_and_allow_empty(sandbox: object, workspace: Path) -> None:
    make_files(workspace, {"log.txt": "ip 10.0.0.1 ok\nip 10.0.0.2 ok\nnothing\n"})
    result = run(r'grep "ip (\S+)" paths="log.txt" extract=true', sandbox)
    assert result.ok and result.result == "10.0.0.1\n10.0.0.2\n"
    assert run('grep "zzz" paths="log.txt" allow_empty=true', sandbox).ok


def test_huge_output_is_bounded_and_marked(sandbox: object, workspace: Path) -> None:
    policy = Policy(budgets=Budgets(output_bytes=10_000, trace_output_bytes=100))
    result = run('exec "yes | head -c 50000"', sandbox, policy)
    assert result.steps[0].failure == "output_too_large" and result.steps[0].truncated
    ok = run('exec "seq 1 1000"', sandbox, policy)
    assert ok.ok and ok.steps[0].truncated and len(ok.steps[0].output) <= 100 and ok.steps[0].bytes > 100


def test_binary_and_non_utf8_files_fail_clearly(sandbox: object, workspace: Path) -> None:
    make_files(workspace, {"bin.dat": b"\x7fELF\x00\x01\x02", "latin.txt": "caf\xe9\n".encode("latin-1")})
    binary = run('read "bin.dat"', sandbox)
    assert binary.steps[0].failure == "invalid_output" and "binary" in (binary.steps[0].message or "")
    latin = run('read "latin.txt"', sandbox)
    assert latin.steps[0].failure == "invalid_output" and "latin-1" in (latin.steps[0].message or "")
    assert run('read "latin.txt" encoding="latin-1"', sandbox).result == "café\n"


def test_cli_run_verify_logs_and_exit_codes(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"notes.txt": "TODO one\nfine\nTODO two\n"})
    plan = tmp_path / "todo.plan"
    plan.write_text('s1: todos = grep "TODO" paths="notes.txt"\ns2: exec "wc -l" stdin=$todos\n')
    done = babel("run", str(plan), "--root", str(workspace))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2" and "✓ s1" in done.stderr
    events = [json.loads(line) for line in babel("run", str(plan), "--root", str(workspace), "--json").stdout.splitlines()]
    assert [e["event"] for e in events] == ["run_start", "step", "step", "run_end"]
    assert babel("logs").stdout.count("ok") >= 2
    assert babel("logs", events[0]["run_id"], "--json").returncode == 0
    bad = tmp_path / "bad.plan"
    bad.write_text('s1: x = read "/etc/passwd"\ns2: exec "nc -l 80"\n')
    rejected = babel("run", str(bad), "--root", str(workspace))
    assert rejected.returncode == 3 and "E_PATH_OUTSIDE_ROOT" in rejected.stderr and "Traceback" not in rejected.stderr
    assert babel("verify", str(bad)).returncode == 3
    failing = tmp_path / "fail.plan"
    failing.write_text('read "nope.txt"\n')
    assert babel("run", str(failing), "--root", str(workspace)).returncode == 1
    assert babel("run", str(plan), "--root", str(tmp_path / "missing")).returncode == 2
    assert babel("run", str(tmp_path / "none.plan"), "--root", str(workspace)).returncode == 2


def test_writes_need_a_grant_and_a_failed_run_changes_nothing(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"config.ini": "port=8080\n"})
    plan = tmp_path / "edit.plan"
    plan.write_text('exec "sed -i s/8080/9090/ config.ini"\nwrite "report.txt" "done"\nexec "false"\n')
    assert babel("run", str(plan), "--root", str(workspace)).returncode == 3  # no writes granted
    failed = babel("run", str(plan), "--root", str(workspace), "--allow-write", ".")
    assert failed.returncode == 1
    assert (workspace / "config.ini").read_text() == "port=8080\n" and not (workspace / "report.txt").exists()
    plan.write_text('exec "sed -i s/8080/9090/ config.ini"\nwrite "report.txt" "done"\n')
    done = babel("run", str(plan), "--root", str(workspace), "--allow-write", ".")
    assert done.returncode == 0, done.stderr
    assert (workspace / "config.ini").read_text() == "port=9090\n" and (workspace / "report.txt").read_text() == "done"


def test_a_root_owned_workspace_is_staged_for_writes(docker_ready: None, tmp_path: Path) -> None:
    root = tmp_path / "rootws"
    root.mkdir()
    (root / "a.txt").write_text("x\n")
    if __import__("os").geteuid() != 0:
        pytest.skip("needs root to make a root-owned workspace")
    plan = tmp_path / "w.plan"
    plan.write_text('write "b.txt" "made"\n')
    done = babel("run", str(plan), "--root", str(root), "--allow-write", ".")
    assert done.returncode == 0, done.stderr
    assert (root / "b.txt").read_text() == "made" and (root / "b.txt").stat().st_uid == 0


def test_many_steps_reuse_one_container(docker_ready: None, workspace: Path) -> None:
    give_to_sandbox_user(workspace)
    text = "\n".join(f's{i}: exec "echo {i}"' for i in range(1, 21))
    with DockerSandbox(workspace) as box:
        result = run(text, box)
    assert result.ok and result.result == "20\n" and len(result.steps) == 20
