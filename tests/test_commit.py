"""The host-side commit of a change set: it cannot be redirected and cannot half-apply.

The sandbox reports its changes as data, every field possibly hostile; `apply_changes`
applies all of them or none, through directory fds and never following a link, and
`recover_commits` finishes or undoes a commit whose process was killed. No Docker here.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from babel.sandbox.workspace import MAX_FILE_SIZE, Change, Changes, CommitRefused, WorkspaceError, apply_changes, check_changes, recover_commits

REPO = Path(__file__).resolve().parent.parent
USER = 1000


def file(path: str, data: bytes, mode: int = 0o644) -> Change:
    return Change(path, "file", mode, len(data), ((0, data),) if data else ())


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything under root, not following links: kind, mode, and content or link target."""
    found: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            relative = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                found[relative] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[relative] = ("dir", stat.S_IMODE(st.st_mode))
            elif stat.S_ISREG(st.st_mode):
                found[relative] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
            else:
                found[relative] = ("other", stat.S_IFMT(st.st_mode))
    return found


def leftovers(root: Path) -> list[str]:
    """Temp and backup files a commit may leave behind (it must leave none)."""
    return sorted(name for name in tree(root) if ".babel-" in name)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "keep.txt").write_text("keep\n")
    (root / "old.txt").write_text("old\n")
    (root / "gone.txt").write_text("gone\n")
    (root / "src").mkdir()
    (root / "src" / "main.py").write_text("print('hi')\n")
    return root


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host file outside the workspace that no commit may touch."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("host secret\n")
    return path


# ---- a normal commit ----------------------------------------------------------------


def test_new_replaced_deleted_and_symlink_changes_apply_with_their_modes(ws: Path, journal: Path) -> None:
    changes = [
        file("bin/tools/run.sh", b"#!/bin/sh\necho run\n", 0o104755),  # a new file in new directories, setuid asked for
        file("old.txt", b"new\n", 0o600),  # a replaced file
        Change("gone.txt", "delete"),
        Change("latest", "symlink", target="bin/tools/run.sh"),
    ]
    assert check_changes(ws, changes, ["."]) == []
    result = apply_changes(ws, changes, ["."], journal, "run-normal")

    assert result == Changes(written=("bin/tools/run.sh", "latest", "old.txt"), deleted=("gone.txt",))
    run = ws / "bin" / "tools" / "run.sh"
    assert run.read_bytes() == b"#!/bin/sh\necho run\n"
    assert stat.S_IMODE(run.stat().st_mode) == 0o755  # the setuid bit is dropped
    assert stat.S_IMODE((ws / "bin").stat().st_mode) == 0o755
    assert (ws / "old.txt").read_text() == "new\n"
    assert stat.S_IMODE((ws / "old.txt").stat().st_mode) == 0o600
    assert not (ws / "gone.txt").exists()
    assert os.readlink(ws / "latest") == "bin/tools/run.sh"
    assert (ws / "keep.txt").read_text() == "keep\n"
    assert leftovers(ws) == []
    assert list(journal.iterdir()) == []  # no journal or lock is left after a commit


# ---- links the host must never follow -----------------------------------------------


def test_a_symlink_planted_at_the_target_is_refused(ws: Path, journal: Path, outside: Path) -> None:
    os.symlink(outside / "secret.txt", ws / "report.txt")
    before = tree(ws)
    with pytest.raises(CommitRefused, match="symlink out of the workspace"):
        apply_changes(ws, [file("report.txt", b"pwned\n")], ["."], journal, "run-target")
    assert (outside / "secret.txt").read_text() == "host secret\n"
    assert tree(ws) == before


def test_a_symlink_planted_at_a_parent_directory_is_refused(ws: Path, journal: Path, outside: Path) -> None:
    os.symlink(outside, ws / "out")
    before = tree(ws)
    with pytest.raises(CommitRefused, match="parent 'out' is a symlink|parent out is a symlink"):
        apply_changes(ws, [file("out/secret.txt", b"pwned\n"), file("out/new.txt", b"x")], ["."], journal, "run-parent")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "host secret\n"
    assert tree(ws) == before


def test_a_workspace_root_that_is_a_symlink_is_refused(tmp_path: Path, journal: Path, outside: Path) -> None:
    link = tmp_path / "link-ws"
    os.symlink(outside, link)
    with pytest.raises(CommitRefused, match="is a symlink"):
        apply_changes(link, [file("secret.txt", b"pwned\n")], ["."], journal, "run-root")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "host secret\n"


# ---- change sets refused as a whole ---------------------------------------------------

REFUSED = {
    "outside the write roots": ([file("src/main.py", b"evil\n")], "outside the writable roots"),
    ".git at depth": ([file("out/sub/.git/config", b"[core]\n")], "Babel never changes version-control files"),
    "a file named .git": ([file("out/.git", b"gitdir: /tmp/x\n")], "Babel never changes version-control files"),
    "a .. component": ([file("out/../../escape.txt", b"x")], "'..'"),
    "an absolute path": ([file("/etc/passwd", b"x")], "absolute"),
    "a NUL byte": ([file("out/a\x00b", b"x")], "NUL"),
    "a duplicate path": ([file("out/dup.txt", b"one"), file("out/dup.txt", b"two")], "appears 2 times"),
    "a path under another changed path": ([file("out/d", b"x"), file("out/d/e", b"y")], "is itself changed in the same set"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_change_means_nothing_of_the_set_is_applied(case: str, ws: Path, journal: Path) -> None:
    bad, expected = REFUSED[case]
    (ws / "out").mkdir()
    valid = [file("out/ok.txt", b"fine\n"), Change("out/ok-link", "symlink", target="ok.txt")]
    before = tree(ws)
    with pytest.raises(CommitRefused) as refused:
        apply_changes(ws, [*valid, *bad], ["out"], journal, "run-refused")
    assert any(expected in line for line in refused.value.problems), refused.value.problems
    assert expected in str(refused.value)
    assert tree(ws) == before  # the valid changes of the same set were not applied either
    assert not journal.exists() or list(journal.glob("*.json")) == []


@pytest.mark.parametrize(
    "bad, expected",
    [
        (Change("x", "chmod"), "unknown kind"),
        (Change("x", "file", mode="0644"), "mode is not a number"),  # type: ignore[arg-type]
        (Change("x", "file", size=-1), "outside 0.."),
        (Change("x", "file", size=MAX_FILE_SIZE + 1), "outside 0.."),
        (Change("x", "file", size=4, extents=((2, b"abc"),)), "outside the file's size"),
        (Change("x", "file", size=8, extents=((0, b"abcd"), (2, b"cd"))), "overlap"),
        (Change("x", "file", size=4, extents=((0, "text"),)), "not an (offset, bytes) pair"),  # type: ignore[arg-type]
        (Change("x", "symlink", target="/etc/shadow"), "absolute"),
        (Change("src/x", "symlink", target="../../outside/secret.txt"), "leads outside the workspace"),
        (Change(b"x", "file"), "not text"),  # type: ignore[arg-type]
    ],
)
def test_hostile_fields_are_reported_not_crashed_on(bad: Change, expected: str, ws: Path) -> None:
    problems = check_changes(ws, [bad], ["."])
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_non_utf8_path_gives_a_problem_line_not_a_crash(ws: Path, journal: Path) -> None:
    path = os.fsdecode(b"caf\xe9")
    problems = check_changes(ws, [file(path, b"x")], ["."])
    assert len(problems) == 1 and "UTF-8" in problems[0]
    problems[0].encode("utf-8")  # the line itself can be printed
    before = tree(ws)
    with pytest.raises(CommitRefused):
        apply_changes(ws, [file(path, b"x")], ["."], journal, "run-bytes")
    assert tree(ws) == before


# ---- targets that are not files -------------------------------------------------------


@pytest.mark.parametrize("kind, change_kind", [("fifo", "file"), ("socket", "file"), ("directory", "file"), ("directory", "delete")])
def test_a_target_that_is_not_a_file_or_link_is_refused(kind: str, change_kind: str, ws: Path, journal: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = None
    if kind == "fifo":
        os.mkfifo(ws / "thing")
        expected = "a FIFO"
    elif kind == "socket":
        monkeypatch.chdir(ws)  # a relative name keeps the socket's address short
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind("thing")
        expected = "a socket"
    else:
        (ws / "thing").mkdir()
        (ws / "thing" / "inside.txt").write_text("inside\n")
        expected = "a directory"
    try:
        change = file("thing", b"x") if change_kind == "file" else Change("thing", "delete")
        before = tree(ws)
        with pytest.raises(CommitRefused, match=expected):
            apply_changes(ws, [change], ["."], journal, "run-special")
        assert tree(ws) == before
    finally:
        if sock is not None:
            sock.close()


# ---- all or nothing ------------------------------------------------------------------


def test_a_failure_half_way_leaves_the_workspace_exactly_as_before(ws: Path, journal: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    changes = [
        file("old.txt", b"replaced\n"),
        file("new/deep/a.txt", b"a\n"),
        Change("gone.txt", "delete"),
        Change("new-link", "symlink", target="keep.txt"),
    ]
    before = tree(ws)
    real_rename = os.rename
    calls = []

    def failing_rename(*args: object, **kwargs: object) -> None:
        calls.append(args)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_rename(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(WorkspaceError, match="cannot commit new/deep/a.txt: No space left on device") as failed:
        apply_changes(ws, changes, ["."], journal, "run-half")
    assert not isinstance(failed.value, CommitRefused)
    assert len(calls) == 3  # old.txt was replaced, a.txt failed, and old.txt's backup was renamed back
    assert tree(ws) == before
    assert leftovers(ws) == []
    assert list(journal.glob("*.json")) == []


KILLER = r"""
import json, os, pickle, sys
from pathlib import Path
import babel.sandbox.workspace as workspace

root, journal_dir, when = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
changes = pickle.loads(bytes.fromhex(sys.argv[4]))

def state():
    return json.loads((journal_dir / "run-kill.json").read_text())["state"]

if when == "prepared":
    real = os.rename
    def rename(*args, **kwargs):
        real(*args, **kwargs)
        if state() == "prepared":
            os.kill(os.getpid(), 9)  # one rename is done
    os.rename = rename
else:
    real = os.ftruncate
    def ftruncate(*args):
        real(*args)
        if state() == "preparing":
            os.kill(os.getpid(), 9)  # one temp file exists
    os.ftruncate = ftruncate

workspace.apply_changes(root, changes, ["."], journal_dir, "run-kill")
sys.exit(3)
"""

KILL_CHANGES = [
    file("old.txt", b"replaced\n"),
    file("new/deep/a.txt", b"a\n", 0o640),
    Change("gone.txt", "delete"),
    Change("new-link", "symlink", target="keep.txt"),
]


def kill_during_commit(root: Path, journal_dir: Path, when: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(root), str(journal_dir), when, pickle.dumps(KILL_CHANGES).hex()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -9, done.stderr


def test_a_kill_after_prepared_is_rolled_forward_by_recovery(ws: Path, journal: Path, tmp_path: Path) -> None:
    expected_ws = tmp_path / "expected"
    shutil.copytree(ws, expected_ws, symlinks=True)
    apply_changes(expected_ws, KILL_CHANGES, ["."], tmp_path / "other-journal", "run-expected")

    kill_during_commit(ws, journal, "prepared")
    assert json.loads((journal / "run-kill.json").read_text())["state"] == "prepared"
    assert leftovers(ws) != []  # the kill really came mid-commit

    lines = recover_commits(journal)
    assert any("rolled forward" in line for line in lines), lines
    assert tree(ws) == tree(expected_ws)
    assert leftovers(ws) == []
    assert list(journal.glob("*.json")) == []
    assert recover_commits(journal) == []


def test_a_kill_while_preparing_is_rolled_back_by_recovery(ws: Path, journal: Path) -> None:
    before = tree(ws)
    kill_during_commit(ws, journal, "preparing")
    assert json.loads((journal / "run-kill.json").read_text())["state"] == "preparing"
    assert leftovers(ws) != []

    lines = recover_commits(journal)
    assert any("rolled back" in line for line in lines), lines
    assert tree(ws) == before  # the temp and the directories it made are gone
    assert list(journal.glob("*.json")) == []


def test_a_journal_that_cannot_be_read_is_reported_not_crashed_on(journal: Path) -> None:
    journal.mkdir()
    (journal / "run-broken.json").write_text("{not json")
    lines = recover_commits(journal)
    assert len(lines) == 1 and "run-broken.json" in lines[0] and "cannot read" in lines[0]
    assert (journal / "run-broken.json").exists()


# ---- sparse files --------------------------------------------------------------------


def test_a_sparse_file_keeps_its_holes(ws: Path, journal: Path) -> None:
    size, offset, data = 2 << 30, 1 << 30, b"\xab" * 4096
    apply_changes(ws, [Change("big.img", "file", 0o644, size, ((offset, data),))], ["."], journal, "run-sparse")
    path = ws / "big.img"
    st = path.stat()
    assert st.st_size == size
    assert st.st_blocks * 512 < 1 << 20
    with path.open("rb") as handle:
        handle.seek(offset - 1)
        assert handle.read(4098) == b"\0" + data + b"\0"


# ---- as an ordinary user -------------------------------------------------------------


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory an ordinary user can reach (pytest's tmp_path sits under a root-only 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="babel-commit-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to an ordinary user needs root")
def test_a_commit_as_an_ordinary_user_works_and_still_refuses_a_planted_symlink(shared_tmp: Path) -> None:
    root, journal_dir, outside = shared_tmp / "ws", shared_tmp / "journal", shared_tmp / "outside"
    for path in (root, journal_dir, outside):
        path.mkdir()
    (root / "a.txt").write_text("old\n")
    (outside / "secret.txt").write_text("user's other file\n")
    os.symlink(outside, root / "escape")
    for path in (root, root / "a.txt", journal_dir, outside, outside / "secret.txt"):
        os.chown(path, USER, USER)
    os.chown(root / "escape", USER, USER, follow_symlinks=False)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become the user, commit, report, and leave without pytest's teardown
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(USER)
            os.setuid(USER)
            report: dict[str, object] = {"uid": os.geteuid()}
            done = apply_changes(root, [file("a.txt", b"new\n"), file("made/b.txt", b"b\n")], ["."], journal_dir, "run-user")
            report["written"] = list(done.written)
            try:
                apply_changes(root, [file("escape/secret.txt", b"pwned\n")], ["."], journal_dir, "run-user-2")
                report["refused"] = []
            except CommitRefused as refused:
                report["refused"] = list(refused.problems)
            os.write(write_end, json.dumps(report).encode())
            code = 0
        except BaseException as error:  # the child reports everything and exits
            os.write(write_end, json.dumps({"error": repr(error)}).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, report
    assert report["uid"] == USER
    assert report["written"] == ["a.txt", "made/b.txt"]
    assert report["refused"] and "symlink" in report["refused"][0]  # type: ignore[index]
    assert (root / "a.txt").read_text() == "new\n"
    assert (root / "made").stat().st_uid == USER and (root / "made" / "b.txt").stat().st_uid == USER
    assert (outside / "secret.txt").read_text() == "user's other file\n"
    assert leftovers(root) == []
