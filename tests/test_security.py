"""The escape battery: every way out of the sandbox that we know of must be blocked.

Each attack gets a clear failed status (or a verifier rejection) and changes nothing
outside what the run was allowed to change. These run against the real Docker engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from babel.lang.plan import parse_plan
from babel.sandbox.docker import DockerSandbox
from babel.verify.check import verify
from babel.verify.policy import Policy
from babel.vm.machine import exec_request, kernel_rules, run_plan
from tests.conftest import give_to_sandbox_user, make_files

pytestmark = pytest.mark.docker


def run(text: str, box: object, policy: Policy | None = None):  # type: ignore[no-untyped-def]
    parsed = parse_plan(text)
    assert parsed.plan is not None
    return run_plan(parsed.plan, box, policy or Policy())  # type: ignore[arg-type]


def exec_out(box: DockerSandbox, cmd: str, timeout: float = 20, policy: Policy | None = None) -> dict:  # type: ignore[type-arg]
    """One command under the kernel rules of `policy` (by default: read everything, write nothing, the default tools)."""
    return box.call(exec_request(cmd, kernel_rules(policy or Policy()), timeout, 100_000))


def test_a_symlink_to_the_hosts_shadow_file_is_refused(sandbox: DockerSandbox, workspace: Path) -> None:
    os.symlink("/etc/shadow", workspace / "shadow")
    os.symlink("/etc", workspace / "etc")
    for text in ('read "shadow"', 'read "etc/shadow"', 'grep "root" paths=["shadow"]', 'write "shadow" "x"'):
        result = run(text, sandbox, Policy().granting_writes())
        assert result.steps[0].failure == "permission_denied", text
        assert "root:" not in result.steps[0].output
    listed = run('grep "root" paths=["."] allow_empty=true', sandbox)
    assert listed.ok and listed.slots["#s1"] == []  # symlinks are not followed when walking


def test_dot_dot_and_absolute_paths_are_refused_by_the_verifier_and_the_executor(sandbox: DockerSandbox) -> None:
    for text in ('read "../../etc/passwd"', 'read "/etc/passwd"', 'grep "x" paths=["/"]'):
        plan = parse_plan(text).plan
        assert plan is not None
        assert any(d.code == "E_PATH_OUTSIDE_ROOT" for d in verify(plan)), text
    # and if a path only known at run time tries the same, the runtime refuses it
    dynamic = run('p = write value="../../etc/passwd"\nread $p', sandbox)
    assert dynamic.steps[-1].failure == "permission_denied"
    raw = sandbox.call({"op": "read", "args": {"path": "/etc/passwd"}, "timeout": 5})
    assert raw["status"] == "failed" and raw["failure"] == "permission_denied"


def test_writes_outside_the_workspace_or_to_a_read_only_one_fail(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"keep.txt": "original\n"})
    with DockerSandbox(workspace, writable=False) as box:
        assert run('write "keep.txt" "changed"', box, Policy().granting_writes()).steps[0].failure == "permission_denied"
        assert exec_out(box, "echo changed > keep.txt")["status"] == "failed"
        assert exec_out(box, "touch /etc/evil || touch /usr/evil || touch /evil; ls /etc/evil /usr/evil /evil")["status"] == "failed"
    assert (workspace / "keep.txt").read_text() == "original\n"
    with DockerSandbox(workspace, writable=True) as box:
        response = box.call({"op": "write", "args": {"path": "/tmp/../etc/x", "content": "x"}, "timeout": 5})
        assert response["failure"] == "permission_denied"
        assert exec_out(box, "echo x > /etc/evil")["status"] == "failed"
    assert not Path("/etc/evil").exists()


def test_there_is_no_network(sandbox: DockerSandbox) -> None:
    script = (
        "python3 - <<'EOF'\n"
        "import socket\n"
        "for host in ('1.1.1.1', '172.17.0.1', '10.0.0.1'):\n"
        "    s = socket.socket(); s.settimeout(2)\n"
        "    try:\n"
        "        s.connect((host, 80)); print('CONNECTED', host)\n"
        "    except OSError as e:\n"
        "        print('blocked', host, e.errno)\n"
        "EOF\n"
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"
    )
    out = exec_out(sandbox, script)
    stdout = out["value"]["stdout"]
    assert "CONNECTED" not in stdout and stdout.count("blocked") == 3
    assert stdout.split()[-1] == "lo"  # only the loopback interface exists


def test_a_fork_bomb_is_contained(sandbox: DockerSandbox) -> None:
    bomb = exec_out(sandbox, "python3 -c 'import os\nwhile True:\n    os.fork()' ", timeout=5)
    assert bomb["status"] == "failed"
    shell_bomb = exec_out(sandbox, "b() { b | b & }; b", timeout=5)
    assert shell_bomb["status"] in ("failed", "ok")  # whatever it reports, the sandbox survives:
    after = exec_out(sandbox, "echo alive")
    assert after["status"] == "ok" and after["value"]["stdout"] == "alive\n"


def test_a_memory_bomb_is_killed_and_the_executor_survives(sandbox: DockerSandbox) -> None:
    out = exec_out(sandbox, "python3 -c 'x = bytearray(2 * 1024**3); print(len(x))'", timeout=30)
    assert out["status"] == "failed" and out["failure"] == "nonzero_exit"
    assert exec_out(sandbox, "echo alive")["value"]["stdout"] == "alive\n"


def test_a_runaway_loop_is_killed_at_its_timeout(sandbox: DockerSandbox) -> None:
    result = run('exec "while :; do :; done" timeout=2', sandbox)
    assert result.steps[0].failure == "timeout" and result.steps[0].duration_ms < 10_000
    assert exec_out(sandbox, "ps -eo comm | grep -c sh || true")["value"]["stdout"].strip() in ("0", "1")


@pytest.mark.skipif(os.geteuid() != 0, reason="planting a setuid-root binary needs root")
def test_a_planted_setuid_binary_grants_nothing(docker_ready: None, workspace: Path) -> None:
    give_to_sandbox_user(workspace)
    target = workspace / "rootid"
    shutil.copy("/usr/bin/id", target)
    os.chown(target, 0, 0)
    os.chmod(target, 0o4755)
    with DockerSandbox(workspace) as box:
        out = exec_out(box, "./rootid -u; ./rootid -ru")
        # and were it on the list by name, it still could not gain root
        allowed = exec_out(box, "./rootid -u", policy=Policy().allowing_exec(("rootid",)))
    assert out["status"] == "failed" and "Permission denied" in out["value"]["stderr"], out  # the kernel runs no workspace program
    assert allowed["status"] == "failed" and "0" not in allowed["value"]["stdout"].split()


def test_the_hosts_environment_does_not_reach_the_sandbox(sandbox: DockerSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BABEL_CANARY_SECRET", "s3cr3t-canary")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary")
    out = exec_out(sandbox, "env; cat /proc/1/environ | tr '\\0' '\\n'")
    assert "canary" not in out["value"]["stdout"]
    assert "OPENAI" not in out["value"]["stdout"]


def test_the_sandbox_is_unprivileged(sandbox: DockerSandbox) -> None:
    out = exec_out(sandbox, "id -u; grep -E 'CapEff|NoNewPrivs' /proc/self/status; touch /x 2>&1 || echo read-only-root")
    lines = out["value"]["stdout"].split("\n")
    assert lines[0] != "0"
    assert "0000000000000000" in out["value"]["stdout"] and "NoNewPrivs:\t1" in out["value"]["stdout"]
    assert "read-only-root" in out["value"]["stdout"]


def test_bad_requests_never_kill_the_executor(sandbox: DockerSandbox) -> None:
    for request in ({"op": "nope"}, {"op": "read", "args": {"path": 42}}, {"op": "grep", "args": {"pattern": "("}},
                    {"op": "exec", "args": {}}, {"op": "write", "args": {"path": "x", "content": 3}}):
        assert sandbox.call({**request, "timeout": 5})["status"] == "failed"
    assert exec_out(sandbox, "echo still")["value"]["stdout"] == "still\n"


def test_a_killed_run_leaves_the_workspace_unchanged(docker_ready: None, workspace: Path, tmp_path: Path, state_dir: Path) -> None:
    import time

    make_files(workspace, {"data.txt": "before\n"})
    plan = tmp_path / "slow.plan"
    plan.write_text('write "data.txt" "after"\nexec "sleep 30"\n')
    proc = subprocess.Popen([sys.executable, "-m", "babel.cli", "run", str(plan), "--root", str(workspace), "--allow-write", "."],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # kill it once the write step has completed (its event is in the trace), mid-run
    deadline = time.time() + 60
    wrote = False
    while time.time() < deadline and not wrote:
        time.sleep(0.2)
        wrote = any('"id": "s1"' in p.read_text() for p in (state_dir / "runs").glob("*.jsonl")) if (state_dir / "runs").exists() else False
    assert wrote, "the run never reached its first step"
    proc.kill()
    proc.wait()
    assert (workspace / "data.txt").read_text() == "before\n"
    assert sorted(p.name for p in workspace.iterdir()) == ["data.txt"]
    # the staged copy lived in the killed run's container, which the next run removes
    import docker

    from babel.sandbox.docker import LABEL, reap_orphans

    reap_orphans(docker.from_env())
    owners = [c["Labels"].get("babel.owner", "") for c in docker.from_env().api.containers(all=True, filters={"label": LABEL})]
    assert not any(owner.endswith(f":{proc.pid}") for owner in owners)


def test_a_killed_runs_container_is_reaped_and_a_live_ones_kept(docker_ready: None) -> None:
    import docker

    from babel.sandbox.docker import LABEL, ensure_image, reap_orphans

    client = docker.from_env()
    image = ensure_image()
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs, like a killed babel's
    host = __import__("socket").gethostname()
    made = {owner: client.containers.run(image, ["sleep", "60"], detach=True, labels={LABEL: "1", "babel.owner": f"{host}:{pid}"})
            for owner, pid in (("dead", dead.pid), ("live", os.getpid()))}
    try:
        assert reap_orphans(client) >= 1
        left = {c["Id"] for c in client.api.containers(all=True, filters={"label": LABEL})}
        assert made["dead"].id not in left and made["live"].id in left
    finally:
        made["live"].remove(force=True)
