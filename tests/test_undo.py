"""Reviewable, undoable changes: a diff of every file before it is applied, approval for
all or some files, `babel undo`, and the git work tree around the workspace.

The first half needs no Docker: the review and the undo store over change sets made by
hand, applied by the same `apply_changes` a run uses. The second half goes through the
real CLI: `babel run` in a git repository, and `babel do` on a pseudo-terminal (the
model replayed from tests/cassettes/library.json), answering its prompts as a person.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from babel.app import ChangeReview, Paths, UndoError, UndoStore, run_plan_text, undo_run, work_tree
from babel.app import undo as undo_module
from babel.app.diffs import review_changes
from babel.app.vcs import commit_run, dirty_warning
from babel.sandbox import Change, CommitRefused, apply_changes, read_originals
from babel.verify import Policy
from tests.conftest import make_files

CASSETTE = Path(__file__).parent / "cassettes" / "library.json"
EDIT = "change the port from 8080 to 9090 in config.ini"  # recorded in the cassette over {"config.ini": "port=8080\n"}


def file(path: str, data: bytes, mode: int = 0o644) -> Change:
    return Change(path, "file", mode, len(data), ((0, data),) if data else ())


def run_and_keep(root: Path, state: Path, run_id: str, changes: list[Change]) -> UndoStore:
    """What the pipeline does for a run: read what is there, keep it, apply against it."""
    store = UndoStore(state / "undo")
    originals = read_originals(root, [c.path for c in changes], undo_module.MAX_KEPT_FILE)
    store.keep(run_id, root, changes, originals, "a request")
    apply_changes(root, changes, ["."], state / "commits", run_id, expected=originals)
    return store


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.txt").write_text("one\ntwo\n")
    (root / "gone.txt").write_text("gone\n")
    (root / "run.sh").write_text("echo hi\n")
    (root / "run.sh").chmod(0o755)
    return root


# ---- the review: pure, over what the workspace holds --------------------------------


def test_the_review_is_a_unified_diff_of_every_changed_file(ws: Path) -> None:
    changes = [file("notes.txt", b"one\nTWO\n"), file("new.txt", b"fresh\n"), Change("gone.txt", "delete"),
               file("blob.bin", b"\x00\x01\x02")]
    review = review_changes("r1", changes, read_originals(ws, [c.path for c in changes], 1 << 20))
    notes, new, gone, blob = review.files
    assert notes.action == "modify" and "-two\n+TWO\n" in notes.diff and notes.diff.startswith("--- a/notes.txt\n+++ b/notes.txt")
    assert new.action == "create" and "--- /dev/null" in new.diff and "+fresh" in new.diff
    assert gone.action == "delete" and "-gone" in gone.diff and "+++ /dev/null" in gone.diff
    assert blob.diff == "" and any("binary" in note for note in blob.notes)
    assert review.paths == ("notes.txt", "new.txt", "gone.txt", "blob.bin")


def test_the_review_says_a_mode_change_and_a_file_too_large_to_keep(ws: Path) -> None:
    changes = [file("run.sh", b"echo hi\n", 0o644), file("notes.txt", b"x\n")]
    review = review_changes("r1", changes, read_originals(ws, ["run.sh", "notes.txt"], 1 << 20), undo_limit=4)
    assert "mode 755 -> 644" in review.files[0].notes
    assert any("`babel undo` cannot restore it" in note for note in review.files[1].notes)


def test_reading_what_is_there_never_follows_a_link(ws: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("host secret\n")
    (ws / "link").symlink_to(tmp_path / "secret")
    (ws / "sub").symlink_to(tmp_path)
    found = read_originals(ws, ["link", "sub/secret"], 1 << 20)
    assert found["link"].kind == "symlink" and found["link"].data is None and found["link"].target == str(tmp_path / "secret")
    assert found["sub/secret"].kind == "other" and found["sub/secret"].data is None  # a link as a parent is not walked through


def test_a_file_changed_after_its_diff_was_read_refuses_the_whole_apply(ws: Path, tmp_path: Path) -> None:
    changes = [file("notes.txt", b"new\n"), file("other.txt", b"x\n")]
    originals = read_originals(ws, [c.path for c in changes], 1 << 20)
    time.sleep(0.01)
    (ws / "notes.txt").write_text("edited by the user meanwhile\n")
    with pytest.raises(CommitRefused, match="changed in the workspace after its diff was read"):
        apply_changes(ws, changes, ["."], tmp_path / "journal", "r1", expected=originals)
    assert (ws / "notes.txt").read_text() == "edited by the user meanwhile\n" and not (ws / "other.txt").exists()


# ---- undo: the store and the restore --------------------------------------------------


def test_undo_restores_what_a_run_changed_created_and_deleted(ws: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = run_and_keep(ws, state, "r1", [file("notes.txt", b"changed\n"), file("run.sh", b"echo bye\n", 0o600),
                                            file("sub/new.txt", b"new\n"), Change("gone.txt", "delete")])
    assert (ws / "notes.txt").read_text() == "changed\n" and not (ws / "gone.txt").exists()
    done = store.undo(None, state / "commits")
    assert sorted(done.restored) == ["gone.txt", "notes.txt", "run.sh"] and done.removed == ("sub/new.txt",)
    assert (ws / "notes.txt").read_text() == "one\ntwo\n" and (ws / "gone.txt").read_text() == "gone\n"
    assert (ws / "run.sh").read_text() == "echo hi\n" and (ws / "run.sh").stat().st_mode & 0o777 == 0o755
    assert not (ws / "sub" / "new.txt").exists()
    with pytest.raises(UndoError, match="no run has changes left to undo"):
        store.undo(None, state / "commits")
    with pytest.raises(UndoError, match="already undone"):
        store.undo("r1", state / "commits")


def test_old_contents_are_kept_once_by_their_digest(ws: Path, tmp_path: Path) -> None:
    (ws / "copy.txt").write_text("one\ntwo\n")  # the same bytes as notes.txt
    store = run_and_keep(ws, tmp_path / "state", "r1", [file("notes.txt", b"a\n"), file("copy.txt", b"b\n")])
    assert len([b for b in store.blobs.iterdir()]) == 1


def test_undo_refuses_when_a_file_changed_since_the_run_and_names_it(ws: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = run_and_keep(ws, state, "r1", [file("notes.txt", b"changed\n"), Change("gone.txt", "delete")])
    (ws / "notes.txt").write_text("edited after the run\n")
    with pytest.raises(UndoError, match=r"notes.txt changed after run r1") as refused:
        store.undo("r1", state / "commits")
    assert "nothing was changed" in str(refused.value)
    assert (ws / "notes.txt").read_text() == "edited after the run\n" and not (ws / "gone.txt").exists()  # all or nothing


def test_a_file_too_large_to_keep_is_said_and_undo_refuses_naming_it(ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(undo_module, "MAX_KEPT_FILE", 4)
    state = tmp_path / "state"
    store = run_and_keep(ws, state, "r1", [file("notes.txt", b"changed\n")])
    with pytest.raises(UndoError, match=r"notes.txt was 8 bytes, larger than undo keeps"):
        store.undo("r1", state / "commits")
    assert (ws / "notes.txt").read_text() == "changed\n"


def test_a_damaged_kept_copy_refuses_the_undo(ws: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = run_and_keep(ws, state, "r1", [file("notes.txt", b"changed\n")])
    [blob] = store.blobs.iterdir()
    blob.write_bytes(b"forged\n")
    with pytest.raises(UndoError, match="kept copy of notes.txt is missing or damaged"):
        store.undo("r1", state / "commits")
    assert (ws / "notes.txt").read_text() == "changed\n"


def test_undo_never_writes_through_a_link_planted_after_the_run(ws: Path, tmp_path: Path) -> None:
    state, outside = tmp_path / "state", tmp_path / "outside"
    outside.mkdir()
    (ws / "sub").mkdir()
    (ws / "sub" / "a.txt").write_text("before\n")
    store = run_and_keep(ws, state, "r1", [file("sub/a.txt", b"after\n")])
    shutil.move(ws / "sub", outside / "sub")
    (ws / "sub").symlink_to(outside / "sub")  # the same file, reached through a link out of the workspace
    with pytest.raises(UndoError, match="sub/a.txt changed after run r1"):
        store.undo("r1", state / "commits")
    assert (outside / "sub" / "a.txt").read_text() == "after\n"


def test_a_run_is_named_by_a_unique_prefix(ws: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_and_keep(ws, state, "run-aa1", [file("notes.txt", b"1\n")])
    store = run_and_keep(ws, state, "run-ab2", [file("gone.txt", b"2\n")])
    with pytest.raises(UndoError, match="names 2 runs"):
        store.undo("run-a", state / "commits")
    assert store.undo("run-aa", state / "commits").restored == ("notes.txt",)  # not stacked: the other run's file is its own


# ---- git: the work tree around the workspace ----------------------------------------


#: who commits, and (the tests run as root over workspaces handed to the sandbox's user) git's
#: ownership check turned off, as command-line configuration in the environment
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}


def git(root: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def repo(ws: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    git(ws, "init", "-q")
    git(ws, "add", ".")
    git(ws, "commit", "-qm", "init")
    return ws


def test_no_work_tree_without_a_repository_or_without_git(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(ws.parent))
    assert work_tree(ws) is None
    git(ws, "init", "-q")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert work_tree(ws) is None  # git is a host program: its absence is no work tree, not an error


def test_a_dirty_tree_is_warned_about_naming_the_work_it_would_replace(repo: Path) -> None:
    tree = work_tree(repo)
    assert tree is not None and tree.dirty == () and dirty_warning(tree, ["notes.txt"]) is None
    (repo / "notes.txt").write_text("uncommitted\n")
    tree = work_tree(repo)
    assert tree is not None and tree.dirty == ("notes.txt",)
    warning = dirty_warning(tree, ["notes.txt"])
    assert warning is not None and "uncommitted changes" in warning and "replaces uncommitted work in notes.txt" in warning


def test_a_run_commit_holds_only_the_runs_files_with_the_request_as_message(repo: Path) -> None:
    (repo / "gone.txt").write_text("user's staged edit\n")
    git(repo, "add", "gone.txt")
    (repo / "notes.txt").write_text("by the run\n")
    (repo / "new*.txt").write_text("a new file whose name is a glob\n")
    head = commit_run(repo, ["notes.txt", "new*.txt"], "change the notes\n\nBabel-Run: r1\n")
    assert head and git(repo, "log", "-1", "--format=%s%n%b").startswith("change the notes\n")
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == ["new*.txt", "notes.txt"]
    assert git(repo, "diff", "--cached", "--name-only").split() == ["gone.txt"]  # the user's staged work is left staged


# ---- through the real CLI -------------------------------------------------------------


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "BABEL_STATE_DIR": str(tmp_path / "cli-state"), "XDG_CONFIG_HOME": str(tmp_path / "cli-config"),
           "BABEL_BACKEND": "cassette", "BABEL_CASSETTE": str(CASSETTE), "NO_COLOR": "1", "COLUMNS": "200", **GIT_ENV}
    env.pop("OPENAI_BASE_URL", None)
    return env


def babel(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, env=cli_env(tmp_path))


def on_terminal(tmp_path: Path, args: list[str], answers: list[tuple[str, str]], timeout: float = 600) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, typing each answer once its prompt has appeared."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: babel, with the terminal as stdin, stdout and stderr
        try:
            os.execve(sys.executable, [sys.executable, "-m", "babel.cli", *args], cli_env(tmp_path))
        finally:
            os._exit(127)
    output, seen, pending, deadline = b"", 0, list(answers), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if pending and pending[0][0].encode() in output[seen:]:
                os.write(fd, pending.pop(0)[1].encode())
                seen = len(output)
        else:
            os.kill(pid, 9)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.docker
def test_babel_run_shows_the_diff_applies_commits_to_git_and_babel_undo_restores(docker_ready: None, workspace: Path,
                                                                                  tmp_path: Path) -> None:
    make_files(workspace, {"config.ini": "port=8080\nhost=a\n", "other.txt": "keep\n"})
    git(workspace, "init", "-q")
    git(workspace, "add", ".")
    git(workspace, "commit", "-qm", "init")
    (workspace / "other.txt").write_text("uncommitted\n")
    plan = tmp_path / "edit.plan"
    plan.write_text('exec "sed -i s/8080/9090/ config.ini"\nwrite "new.txt" "hello\\n"\n')
    done = babel(tmp_path, "run", str(plan), "--root", str(workspace), "--allow-write", ".", "--git-commit")
    assert done.returncode == 0, done.stderr
    assert "-port=8080\n+port=9090" in done.stderr and "create new.txt" in done.stderr
    assert "warning: the git work tree" in done.stderr and "other.txt" in done.stderr
    assert "applied: config.ini, new.txt" in done.stderr and "committed:" not in done.stderr
    assert git(workspace, "log", "-1", "--format=%s").strip() == f"babel run {plan}"
    assert sorted(git(workspace, "show", "--name-only", "--format=", "HEAD").split()) == ["config.ini", "new.txt"]
    undone = babel(tmp_path, "undo")
    assert undone.returncode == 0 and "restored config.ini" in undone.stderr and "removed new.txt" in undone.stderr, undone.stderr
    assert (workspace / "config.ini").read_text() == "port=8080\nhost=a\n" and not (workspace / "new.txt").exists()
    assert (workspace / "other.txt").read_text() == "uncommitted\n"
    again = babel(tmp_path, "undo")
    assert again.returncode == 1 and "no run has changes left to undo" in again.stderr


@pytest.mark.docker
def test_babel_undo_refuses_a_file_changed_since_the_run(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"config.ini": "port=8080\n"})
    plan = tmp_path / "edit.plan"
    plan.write_text('exec "sed -i s/8080/9090/ config.ini"\n')
    assert babel(tmp_path, "run", str(plan), "--root", str(workspace), "--allow-write", ".").returncode == 0
    (workspace / "config.ini").write_text("port=7070\n")
    done = babel(tmp_path, "undo", "last")
    assert done.returncode == 1 and "config.ini changed after run" in done.stderr, done.stderr
    assert (workspace / "config.ini").read_text() == "port=7070\n"


@pytest.mark.docker
@pytest.mark.parametrize("answer, applied", [("n", False), ("p", True)])
def test_babel_do_on_a_terminal_asks_before_applying_the_diff(docker_ready: None, workspace: Path, tmp_path: Path, answer: str,
                                                              applied: bool) -> None:
    make_files(workspace, {"config.ini": "port=8080\n"})
    answers = [("Run this plan?", "y\n"), ("Apply these changes to the workspace?", answer + "\n")]
    if answer == "p":
        answers.append(("apply modify config.ini", "y\n"))
    code, shown = on_terminal(tmp_path, ["do", EDIT, "--root", str(workspace), "-k", "3"], answers)
    assert "--- a/config.ini" in shown and "-port=8080" in shown and "+port=9090" in shown, shown
    if applied:
        assert code == 0 and "applied: config.ini" in shown and "babel undo" in shown, shown
        assert (workspace / "config.ini").read_text() == "port=9090\n"
    else:
        assert code == 5 and "none was approved" in shown, shown
        assert (workspace / "config.ini").read_text() == "port=8080\n"


# ---- the apply step of a run, through the library ---------------------------------------


def paths_in(base: Path) -> Paths:
    return Paths(state=base / "state", cache=base / "cache", config=base / "config", project=base)


TWO_FILES = 'write "a.txt" "new a\\n"\nwrite "b.txt" "new b\\n"\n'


@pytest.mark.docker
def test_only_the_approved_files_are_applied_and_kept_for_undo(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"a.txt": "old a\n", "b.txt": "old b\n"})
    reviews: list[ChangeReview] = []

    def approve(review: ChangeReview) -> list[str]:
        reviews.append(review)
        return ["a.txt"]

    paths = paths_in(tmp_path)
    outcome = run_plan_text(TWO_FILES, workspace, Policy().granting_writes((".",)), paths=paths, approve=approve)
    assert outcome.ok and [r.paths for r in reviews] == [("a.txt", "b.txt")]
    assert (workspace / "a.txt").read_text() == "new a\n" and (workspace / "b.txt").read_text() == "old b\n"
    assert undo_run(paths=paths).restored == ("a.txt",) and (workspace / "a.txt").read_text() == "old a\n"


@pytest.mark.docker
def test_declining_every_change_applies_nothing_and_says_so(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"a.txt": "old a\n"})
    events: list[dict[str, object]] = []
    outcome = run_plan_text(TWO_FILES, workspace, Policy().granting_writes((".",)), paths=paths_in(tmp_path),
                            approve=lambda review: [], on_event=lambda e: events.append(e.to_json()))
    assert not outcome.ok and outcome.run is not None and "none was approved" in str(outcome.run.error)
    assert [e["event"] for e in events][-2:] == ["discard", "run_end"]
    assert (workspace / "a.txt").read_text() == "old a\n" and not (workspace / "b.txt").exists()


@pytest.mark.docker
def test_nothing_is_applied_when_the_old_contents_cannot_be_kept(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"a.txt": "old a\n"})
    paths = paths_in(tmp_path)
    paths.state.mkdir()
    (paths.state / "undo").write_text("not a directory\n")
    outcome = run_plan_text(TWO_FILES, workspace, Policy().granting_writes((".",)), paths=paths)
    assert not outcome.ok and outcome.run is not None and "cannot keep the old contents for undo" in str(outcome.run.error)
    assert (workspace / "a.txt").read_text() == "old a\n" and not (workspace / "b.txt").exists()
