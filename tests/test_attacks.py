"""The attack suite: hand-written plans (no model) that try to break Babel's promises.

Each test is one class of attack from the hardening issue, or one of our own, run
against the real sandbox. The plans are run WITHOUT the verifier (run_plan and
execute_plan do not verify), because the point is that the kernel, not the static
reader, stops them: where the verifier also refuses one, that is a separate check.
What is asserted is the promise: no program off the allow-list runs, nothing outside
the read roots is read, nothing outside the write roots is written, nothing of the
host changes, and a refused or failed run leaves the workspace exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from babel.lang.plan import Plan, parse_plan
from babel.sandbox.docker import DockerSandbox, SandboxError, SandboxLimits, started
from babel.verify.check import verify
from babel.verify.policy import Policy
from babel.vm.machine import RunResult, exec_request, kernel_rules, run_plan
from tests.conftest import give_to_sandbox_user, make_files

pytestmark = pytest.mark.docker

#: a small allow-list without `id`: every attack below tries to run `id`, or to read or write past its roots
TOOLS = ("cat", "echo", "awk", "sed", "git", "env", "sort", "tar", "grep", "ls", "xargs", "find", "timeout", "tee", "cp", "rm",
         "mkdir", "ln", "sleep", "touch", "chmod", "truncate", "head", "wc", "python3", "gzip", "setsid")


def plan_of(text: str) -> Plan:
    parsed = parse_plan(text)
    assert parsed.plan is not None, parsed.diagnostics
    return parsed.plan


def tree(root: Path) -> dict[str, str]:
    """Every path under root with what it is and holds (links not followed): to compare before and after."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                found[str(path.relative_to(root))] = "link:" + os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                found[str(path.relative_to(root))] = f"{st.st_mode:o}:" + hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[str(path.relative_to(root))] = f"{stat.S_IFMT(st.st_mode):o}"
    return found


def execute(text: str, root: Path, policy: Policy, events: list[dict[str, Any]] | None = None) -> RunResult:
    """A plan through the real pipeline: staged copy, kernel rules, change set, commit."""
    from babel.app.paths import Paths
    from babel.app.pipeline import execute_plan
    from babel.lang import Event

    def sink(event: Event) -> None:
        if events is not None:
            events.append(event.to_json())

    return execute_plan(plan_of(text), root, policy, lambda path, writable: started(path, policy.workspace, writable),
                        journal=Paths.from_env().commits, on_event=sink)


def out_of(box: DockerSandbox, cmd: str, policy: Policy) -> dict[str, Any]:
    response = box.call(exec_request(cmd, kernel_rules(policy), 20.0, 100_000))
    value = response.get("value")
    return {**response, "stdout": value.get("stdout", "") if isinstance(value, dict) else "",
            "stderr": value.get("stderr", "") if isinstance(value, dict) else ""}


@pytest.fixture
def box(docker_ready: None, workspace: Path) -> Any:
    make_files(workspace, {"a.txt": "alpha\n", "src/app.py": "print('hi')\n", "secret.txt": "TOPSECRET\n"})
    with DockerSandbox(workspace) as sandbox:
        yield sandbox


# ---- 1. programs off the allow-list do not run ----------------------------------------

RUN_ID_ANYWAY = [
    "echo x#; id",
    "echo $(( $(id -u) ))",
    "awk 'BEGIN { system(\"id\") }'",
    "echo | sed '1e id'",
    "git -c alias.x='!id' x",
    "env -S 'id'",
    "printf 'b\\na\\n' | sort --compress-program=id -S 1 -T /tmp",
    "tar -cf /tmp/t.tar a.txt --checkpoint=1 --checkpoint-action=exec=id",
    "PATH=/workspace/bin:$PATH grep x a.txt",
    "find . -name a.txt -exec id \\;",
    "echo a.txt | xargs id",
    "timeout 5 id",
    "/usr/bin/id",
    "/lib64/ld-linux-x86-64.so.2 /usr/bin/id",
    "python3 -c 'import os; os.execv(\"/usr/bin/id\", [\"id\"])'",
    "python3 -c 'import subprocess; print(subprocess.run([\"perl\", \"-e\", \"print 42\"]).returncode)'",
    "cat /proc/self/root/usr/bin/id > /tmp/id; sh /tmp/id",
]


@pytest.mark.parametrize("cmd", RUN_ID_ANYWAY)
def test_a_program_off_the_allow_list_does_not_run(box: DockerSandbox, workspace: Path, cmd: str) -> None:
    (workspace / "bin").mkdir()
    os.symlink("/usr/bin/id", workspace / "bin" / "grep")  # a workspace "grep" that is id
    give_to_sandbox_user(workspace)
    out = out_of(box, cmd, Policy(exec=TOOLS))
    assert "uid=" not in out["stdout"] and "42" not in out["stdout"], out


def test_the_verifier_refuses_them_before_anything_runs() -> None:
    policy = Policy(exec=TOOLS)
    for cmd in ("echo x#; id", "echo $(( $(id -u) ))", "/usr/bin/id", "PATH=/workspace/bin:$PATH grep x a.txt"):
        codes = {d.code for d in verify(plan_of("exec " + _quoted(cmd)), policy)}
        assert codes & {"E_EXEC_NOT_ALLOWED", "E_EXEC_UNCHECKABLE"}, (cmd, codes)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_allowed_programs_still_work_under_the_rules(box: DockerSandbox) -> None:
    out = out_of(box, "cat a.txt | sort | head -n 1; git --version | cut -c1-3; echo a.txt | xargs wc -l; find . -name '*.py'",
                 Policy())
    assert out["status"] == "ok", out
    assert out["stdout"].splitlines() == ["alpha", "git", "1 a.txt", "./src/app.py"]


# ---- 2. nothing outside the read roots is read ------------------------------------------

def test_a_command_cannot_read_outside_the_read_roots(box: DockerSandbox) -> None:
    policy = Policy(read=("src",), exec=TOOLS)
    for cmd in ("cat secret.txt", "grep -r TOPSECRET .", "cat /proc/self/root/workspace/secret.txt", "cat /opt/babel/executor.py",
                "cat /babel/source/secret.txt", "ls /"):
        out = out_of(box, cmd, policy)
        assert "TOPSECRET" not in out["stdout"] and "Babel" not in out["stdout"] and "workspace" not in out["stdout"], (cmd, out)
    assert out_of(box, "cat src/app.py", policy)["stdout"] == "print('hi')\n"
    # the executor's own ops check the roots too
    read = run_plan(plan_of('read "secret.txt"'), box, policy)
    assert read.steps[0].failure == "permission_denied"


# ---- 3. nothing outside the write roots is written --------------------------------------

WRITE_OUTSIDE = [
    'exec "echo pwned | tee a.txt"',
    'exec "cp src/app.py a.txt"',
    'exec "sed -i s/alpha/pwned/ a.txt"',
    'exec "rm a.txt"',
    'exec "echo pwned 1<> a.txt"',
    'exec "ln a.txt out/x; echo pwned > out/x"',
    'exec "ln -s ../a.txt out/l; echo pwned > out/l"',
    'exec "python3 -c \\"open(\'a.txt\', \'w\').write(\'pwned\')\\""',
    'write "a.txt" "pwned"',
    'write "out/../a.txt" "pwned"',
]


@pytest.mark.parametrize("text", WRITE_OUTSIDE)
def test_a_run_cannot_change_files_outside_its_write_roots(docker_ready: None, workspace: Path, text: str) -> None:
    make_files(workspace, {"a.txt": "alpha\n", "src/app.py": "print('hi')\n", "out/keep": "k\n"})
    outside = lambda: {k: v for k, v in tree(workspace).items() if not k.startswith("out/")}  # noqa: E731
    before = outside()
    result = execute(text + '\nexec "echo done"', workspace, Policy(write=("out",), exec=TOOLS))
    assert outside() == before, result
    assert (workspace / "a.txt").read_text() == "alpha\n"


def test_a_write_through_a_link_that_points_back_at_the_workspace_is_refused(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "alpha\n"})
    os.symlink(".", workspace / "out")
    give_to_sandbox_user(workspace)
    before = tree(workspace)
    for text in ('write "out/a.txt" "pwned"', 'exec "echo pwned > out/a.txt"', 'exec "echo new > out/new.txt"'):
        execute(text, workspace, Policy(write=("out",), exec=TOOLS))
        assert tree(workspace) == before, text


def test_writes_inside_the_roots_are_committed(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "alpha\n", "out/old.txt": "old\n"})
    events: list[dict[str, Any]] = []
    result = execute('exec "echo one > out/new.txt; rm out/old.txt; mkdir -p out/deep/er; echo two > out/deep/er/f"',
                     workspace, Policy(write=("out",), exec=TOOLS), events)
    assert result.ok, result
    assert (workspace / "out/new.txt").read_text() == "one\n" and (workspace / "out/deep/er/f").read_text() == "two\n"
    assert not (workspace / "out/old.txt").exists() and (workspace / "a.txt").read_text() == "alpha\n"
    commit = next(e for e in events if e["event"] == "commit")
    assert commit["written"] == ["out/deep/er/f", "out/new.txt"] and commit["deleted"] == ["out/old.txt"]


def test_a_new_write_root_is_created_and_only_it(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "alpha\n"})
    result = execute('exec "echo r > reports/today.txt"', workspace, Policy(write=("reports/today.txt",), exec=TOOLS))
    assert result.ok, result
    assert (workspace / "reports/today.txt").read_text() == "r\n"


# ---- 4. the host's files: the commit cannot be redirected -------------------------------

def test_links_planted_in_the_staged_copy_do_not_redirect_the_commit(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("host file\n")
    make_files(workspace, {"out/report.txt": "r\n"})
    # links at every name the old commit used, and a link as the new file itself
    cmd = (f"for n in .babel-1-report.txt.tmp .babel-report.txt.tmp; do ln -s {victim} out/$n; done; "
           f"ln -s {victim} out/evil; echo new > out/report.txt")
    events: list[dict[str, Any]] = []
    result = execute(f"exec {_quoted(cmd)}", workspace, Policy(write=("out",), exec=TOOLS), events)
    assert victim.read_text() == "host file\n"
    assert not result.ok and any(e["event"] == "commit_refused" for e in events)  # the absolute link is refused, so nothing lands
    assert (workspace / "out/report.txt").read_text() == "r\n"
    assert sorted(p.name for p in (workspace / "out").iterdir()) == ["report.txt"]


def test_an_unreadable_directory_in_the_staged_copy_is_an_error_not_a_deletion(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"sub/a": "a\n", "sub/b": "b\n"})
    events: list[dict[str, Any]] = []
    result = execute('exec "chmod 000 sub"', workspace, Policy(write=(".",), exec=TOOLS), events)
    assert not result.ok and result.error and "nothing" in result.error
    assert (workspace / "sub/a").read_text() == "a\n" and (workspace / "sub/b").read_text() == "b\n"


def test_setuid_and_sticky_bits_never_reach_the_workspace(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"tool": "#!/bin/sh\n"})
    result = execute('exec "chmod 6755 tool; cp tool tool2; chmod 4777 tool2; mkdir d; chmod 1777 d; echo x > d/f"', workspace,
                     Policy(write=(".",), exec=TOOLS))
    assert result.ok, result
    for name in ("tool", "tool2", "d/f"):
        assert not (workspace / name).stat().st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), name


# ---- 5. .git anywhere --------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["chmod 700 vendor/lib/.git && echo '[core] fsmonitor = id' > vendor/lib/.git/config",
                                 "rm -rf vendor/lib/.git",
                                 "echo 'gitdir: /etc' > sub/.git", "mkdir -p .git/hooks && echo id > .git/hooks/pre-commit"])
def test_a_run_cannot_write_version_control_files_and_is_told(docker_ready: None, workspace: Path, cmd: str) -> None:
    make_files(workspace, {"sub/x": "x\n", "vendor/lib/readme": "r\n", "a.txt": "a\n"})
    subprocess.run(["git", "init", "-q", str(workspace / "vendor/lib")], check=True)
    give_to_sandbox_user(workspace)
    before = tree(workspace)
    events: list[dict[str, Any]] = []
    result = execute(f"exec {_quoted(cmd + '; echo ok > a.txt')}", workspace, Policy(write=(".",), exec=TOOLS), events)
    assert not result.ok and result.error and ".git" in result.error, result
    assert tree(workspace) == before  # all or nothing: a.txt is not changed either


def test_a_nested_repository_is_closed_to_the_run(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"vendor/lib/readme": "r\n"})
    subprocess.run(["git", "init", "-q", str(workspace / "vendor/lib")], check=True)
    give_to_sandbox_user(workspace)
    before = tree(workspace)
    result = execute('exec "echo x > vendor/lib/.git/config; ls vendor/lib/.git; echo done > new.txt"', workspace,
                     Policy(write=(".",), exec=TOOLS))
    assert result.ok and "Permission denied" in result.steps[0].detail.get("stderr", ""), result
    assert {k: v for k, v in tree(workspace).items() if k != "new.txt"} == before


def test_the_write_op_refuses_git_paths(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "a\n"})
    result = execute('write "sub/.git/config" "[core]"', workspace, Policy(write=(".",)))
    assert not result.ok and not (workspace / "sub").exists()


# ---- 6. resource bounds ----------------------------------------------------------------------

def test_a_sparse_file_stays_sparse_and_the_staged_copy_is_bounded(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "a\n"})
    with open(workspace / "big.img", "wb") as handle:  # 2 GB, almost all holes
        handle.truncate(2 << 30)
        handle.seek(1 << 30)
        handle.write(b"x" * 4096)
    give_to_sandbox_user(workspace)
    result = execute('exec "truncate -s 100M out.img; printf y | dd of=out.img bs=1 seek=50000000 conv=notrunc 2>/dev/null || true"',
                     workspace, Policy(write=("out.img",), exec=(*TOOLS, "dd")))
    assert result.ok, result
    made = (workspace / "out.img").stat()
    assert made.st_size == 100 << 20 and made.st_blocks * 512 < 1 << 20
    assert (workspace / "big.img").stat().st_blocks * 512 < 1 << 20  # untouched, and never made dense
    # a run that tries to fill the host's disk fills only its bounded tmpfs
    with DockerSandbox(workspace, writable=True, limits=SandboxLimits(stage_mb=16)) as box:
        out = out_of(box, "head -c 64000000 /dev/zero > fill; echo $?", Policy(write=(".",), exec=TOOLS))
    assert "No space left" in out["stderr"] or "File too large" in out["stderr"], out


def test_a_workspace_over_the_staged_limit_is_refused_clearly(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"data.bin": os.urandom(3 << 20)})
    with pytest.raises(SandboxError, match="staged copy's limit"):
        DockerSandbox(workspace, writable=True, limits=SandboxLimits(stage_mb=2)).start()


def test_fifos_and_sockets_are_left_alone(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "a\n"})
    os.mkfifo(workspace / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(workspace / "sock"))
    try:
        give_to_sandbox_user(workspace)
        result = execute('exec "echo b > b.txt"', workspace, Policy(write=(".",), exec=TOOLS))
        assert result.ok, result
        assert (workspace / "b.txt").read_text() == "b\n"
        assert stat.S_ISFIFO((workspace / "pipe").lstat().st_mode) and stat.S_ISSOCK((workspace / "sock").lstat().st_mode)
        # and a run that tries to put a file where one stands is refused
        replaced = execute('exec "echo x > pipe"', workspace, Policy(write=(".",), exec=TOOLS))
        assert not replaced.ok and stat.S_ISFIFO((workspace / "pipe").lstat().st_mode)
    finally:
        server.close()


def test_a_background_process_ends_with_its_step_and_is_reported(box: DockerSandbox) -> None:
    result = run_plan(plan_of('exec "setsid sleep 300 > /dev/null 2>&1 & (sleep 300 &) ; echo started"\nexec "ps -e -o comm="'), box,
                      Policy(exec=(*TOOLS, "ps")))
    assert result.ok, result
    assert "background" in result.steps[0].detail
    assert result.result is not None and result.result.split().count("sleep") == 1  # the container's own, not the step's two


# ---- 7. the executor's channel cannot be forged ------------------------------------------

def test_a_step_cannot_forge_the_executors_replies(box: DockerSandbox) -> None:
    forged = '{"status": "ok", "value": [], "truncated": false, "id": null}'
    attack = (f"for f in /proc/[0-9]*/fd/1 /proc/[0-9]*/fd/0; do echo {_quoted(forged)} > $f; done 2>/dev/null; "
              "kill -9 -1 2>/dev/null; echo tried")
    first = run_plan(plan_of(f"exec {_quoted(attack)}"), box, Policy(exec=TOOLS))
    assert first.ok and "tried" in (first.result or "")
    found = run_plan(plan_of('grep "TOPSECRET" paths=["."]'), box, Policy())
    assert found.ok and "TOPSECRET" in (found.result or ""), found  # the real answer, not a forged empty one


# ---- 8. bad input --------------------------------------------------------------------------

def test_non_utf8_names_and_deep_trees_give_answers_not_internal_errors(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "needle\n"})
    (Path(os.fsdecode(bytes(workspace) + b"/caf\xe9.txt"))).write_text("needle\n")
    deep = workspace
    for _ in range(300):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("needle\n")
    give_to_sandbox_user(workspace)
    with DockerSandbox(workspace) as sandbox:
        found = run_plan(plan_of('grep "needle" paths=["."]'), sandbox, Policy())
    assert found.ok and "caf\\xe9.txt" in (found.result or "") and "bottom.txt" in (found.result or ""), found
    result = execute('exec "echo more >> a.txt"', workspace, Policy(write=("a.txt",), exec=TOOLS))
    assert result.ok and (workspace / "a.txt").read_text() == "needle\nmore\n"
    overwrite = _quoted("echo x > $(printf 'caf\\351.txt')")
    refused = execute(f"exec {overwrite}", workspace, Policy(write=(".",), exec=(*TOOLS, "printf")))
    assert not refused.ok and (Path(os.fsdecode(bytes(workspace) + b"/caf\xe9.txt"))).read_text() == "needle\n"


def test_babel_run_never_exits_70_on_hostile_plans(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"a.txt": "a\n"})
    cases = {"deep.json": "[" * 50_000, "nul.plan": 'read "a\x00b"\n', "bytes.plan": b'read "\xff\xfe"\n'}
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        done = subprocess.run([sys.executable, "-m", "babel.cli", "run", str(path), "--root", str(workspace)], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode in (2, 3), (name, done.returncode, done.stderr[-500:])
        assert "Traceback" not in done.stderr


# ---- 9. with Babel run by an ordinary user in the docker group ---------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="becoming an ordinary user needs root")
def test_the_attacks_fail_with_babel_run_by_an_ordinary_user(docker_ready: None, tmp_path: Path) -> None:
    import grp
    import json
    import shutil
    import tempfile

    import babel.app.pipeline  # noqa: F401  (everything the child needs is loaded before it drops root)

    try:
        docker_gid = grp.getgrnam("docker").gr_gid
    except KeyError:
        pytest.skip("no docker group on this machine")
    base = Path(tempfile.mkdtemp(prefix="babel-user-", dir="/var/tmp"))
    try:
        base.chmod(0o755)
        victim = base / "victim.txt"
        victim.write_text("host file\n")
        workspace, state = base / "ws", base / "state"
        make_files(workspace, {"a.txt": "alpha\n", "sub/f": "f\n", "out/keep": "k\n", "tool": "#!/bin/sh\n"})
        state.mkdir()
        for path in (base, victim, state):
            os.chown(path, 1000, 1000)
        attacks = {
            "links": f"exec {_quoted(f'ln -s {victim} out/evil; echo new > out/keep')}",
            "outside": 'exec "echo pwned > a.txt; echo x > out/x"',
            "unreadable": 'exec "chmod 000 sub"',
            "setuid": 'exec "chmod 4755 out/keep"',
        }
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: an ordinary user with the docker group, as such a user runs Babel
            try:
                os.close(read)
                os.setgroups([docker_gid])
                os.setgid(1000)
                os.setuid(1000)
                os.environ["BABEL_STATE_DIR"] = str(state)
                outcome = {}
                for name, text in attacks.items():
                    writes = ("." if name in ("unreadable",) else "out",)
                    result = execute(text, workspace, Policy(write=writes, exec=TOOLS))
                    outcome[name] = [result.status, result.error or ""]
                os.write(write, json.dumps(outcome).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as handle:
            raw = handle.read()
        os.waitpid(pid, 0)
        outcome = json.loads(raw)
        assert victim.read_text() == "host file\n"
        assert outcome["links"][0] == "failed" and (workspace / "out/keep").read_text() == "k\n"
        assert (workspace / "a.txt").read_text() == "alpha\n"
        assert (workspace / "sub/f").read_text() == "f\n" and outcome["unreadable"][0] == "failed"
        assert outcome["setuid"][0] == "ok" and not (workspace / "out/keep").stat().st_mode & stat.S_ISUID
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_staged_copy_lists_files_in_the_workspaces_own_order(docker_ready: None, workspace: Path) -> None:
    # what a writing run prints (find, ls -U) must not differ from what a reading run prints
    make_files(workspace, {f"d/{name}": name for name in ("zeta", "alpha", "mid", "beta", "omega", "sub/x", "sub/a", "k9", "b2")})
    cmd = "find . | tail -n +2"
    with DockerSandbox(workspace) as reading:
        listed = out_of(reading, cmd, Policy())["stdout"]
    with DockerSandbox(workspace, writable=True) as writing:
        staged = out_of(writing, cmd, Policy(write=(".",)))["stdout"]
    assert staged == listed and len(listed.splitlines()) == 11


def test_a_read_root_that_does_not_exist_grants_nothing(box: DockerSandbox) -> None:
    out = out_of(box, "cat secret.txt", Policy(read=("missing/dir",), exec=TOOLS))
    assert "TOPSECRET" not in out["stdout"], out  # not the nearest existing directory: nothing


def test_no_file_a_command_writes_passes_the_file_size_limit(docker_ready: None, workspace: Path) -> None:
    with DockerSandbox(workspace, writable=True) as box:  # default limits: 512 MiB a file
        big = out_of(box, "truncate -s 600M f", Policy(write=(".",), exec=TOOLS))
        fits = out_of(box, "truncate -s 100M g", Policy(write=(".",), exec=TOOLS))
    assert big["status"] == "failed" and ("File size limit exceeded" in big["stderr"] or "File too large" in big["stderr"]), big
    assert fits["status"] == "ok", fits
