"""What every outcome leaves behind, and how the small settings read: `babel undo` is a
run of its own in the trace store and takes away the empty directories its run made; a
`babel do` that runs nothing (every candidate rejected, or its effects not confirmed)
still leaves a trace `babel trace check` reads; `git_commit` is a configuration key like
the others; plain help names a positional argument without its Python type.

The `babel do` tests ask a fake OpenAI-compatible endpoint that answers every request
with one plan, so that the outcome does not depend on a model.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from babel.app import Paths, UndoError, UndoStore, undo_run
from babel.app import undo as undo_module
from babel.lang import read_events
from babel.model import ConfigError, load_config
from babel.sandbox import Change, apply_changes, read_originals
from tests.conftest import make_files

ROOT = Path(__file__).resolve().parents[1]


def babel(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=cwd)


def paths_in(base: Path) -> Paths:
    return Paths(state=base / "state", cache=base / "cache", config=base / "config", project=base)


def file(path: str, data: bytes) -> Change:
    return Change(path, "file", 0o644, len(data), ((0, data),))


def run_and_keep(root: Path, paths: Paths, run_id: str, changes: list[Change]) -> None:
    """What the pipeline does for a run that writes: keep what is there, then apply."""
    originals = read_originals(root, [c.path for c in changes], undo_module.MAX_KEPT_FILE)
    UndoStore(paths.undo).keep(run_id, root, changes, originals, "a request")
    apply_changes(root, changes, ["."], paths.commits, run_id, expected=originals)


def check(trace: Path, expect: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "expect.yaml").write_text(expect)
    return babel("trace", "check", str(trace), str(tmp_path / "expect.yaml"))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.txt").write_text("one\n")
    (root / "keep").mkdir()
    return root


# ---- babel undo: a run of its own, and no empty directory of its run left ---------------


def test_an_undo_is_recorded_as_a_run_with_the_files_it_restored(ws: Path, tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    run_and_keep(ws, paths, "r1", [file("notes.txt", b"changed\n"), file("out/deep/new.txt", b"new\n"), file("keep/made.txt", b"x\n")])
    done = undo_run(None, paths=paths)
    assert done.restored == ("notes.txt",) and sorted(done.removed) == ["keep/made.txt", "out/deep/new.txt"]
    assert done.removed_dirs == ("out/deep", "out") and not (ws / "out").exists()
    assert (ws / "keep").is_dir()  # it was there before the run
    [trace] = (paths.state / "runs").glob("*.jsonl")
    assert trace.stem == done.trace
    events = list(read_events(trace))
    assert [e["event"] for e in events] == ["run_start", "commit", "run_end"]
    assert events[0]["source"] == "undo" and events[0]["undoes"] == "r1" and events[0]["root"] == str(ws)
    assert events[1]["written"] == ["notes.txt"] and events[1]["deleted"] == ["out/deep/new.txt", "keep/made.txt", "out/deep/", "out/"]
    assert events[2]["status"] == "ok" and "restored notes.txt" in events[2]["result"]
    checked = check(trace, "status: ok\nsteps: {max: 0}\nresult: {contains: ['restored notes.txt']}\n", tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_a_directory_the_run_made_stays_when_something_else_is_in_it(ws: Path, tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    run_and_keep(ws, paths, "r1", [file("out/sub/new.txt", b"new\n")])
    (ws / "out" / "mine.txt").write_text("the user's\n")
    would = undo_run(None, paths=paths, dry_run=True)
    assert would.removed == ("out/sub/new.txt",) and would.removed_dirs == ("out/sub",) and would.trace is None
    assert (ws / "out" / "sub" / "new.txt").exists() and not (paths.state / "runs").exists()  # a dry run changes and records nothing
    done = undo_run(None, paths=paths)
    assert done.removed_dirs == ("out/sub",) and (ws / "out" / "mine.txt").read_text() == "the user's\n"


def test_a_directory_swapped_for_a_link_is_never_followed(ws: Path, tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    run_and_keep(ws, paths, "r1", [file("out/new.txt", b"new\n")])
    (ws / "out" / "new.txt").unlink()
    (ws / "out").rmdir()
    outside = tmp_path / "outside"
    (outside / "empty").mkdir(parents=True)
    (ws / "out").symlink_to(outside)
    assert undo_module.remove_empty_dirs(ws, ["out/empty", "out"], set()) == []
    assert (outside / "empty").is_dir() and (ws / "out").is_symlink()


def test_a_refused_undo_is_recorded_as_failed(ws: Path, tmp_path: Path) -> None:
    paths = paths_in(tmp_path)
    run_and_keep(ws, paths, "r1", [file("notes.txt", b"changed\n")])
    (ws / "notes.txt").write_text("edited since\n")
    with pytest.raises(UndoError, match="notes.txt changed after run r1"):
        undo_run("r1", paths=paths)
    [trace] = (paths.state / "runs").glob("*.jsonl")
    end = list(read_events(trace))[-1]
    assert end["event"] == "run_end" and end["status"] == "failed" and "notes.txt changed after run r1" in end["error"]


# ---- babel do that runs nothing: a trace all the same ------------------------------------


class OnePlanEndpoint:
    """An OpenAI-compatible server whose model answers every request with one plan."""

    def __init__(self, plan: dict[str, object]) -> None:
        content = json.dumps(plan)

        class Handler(http.server.BaseHTTPRequestHandler):
            def _send(self, data: dict[str, object]) -> None:
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                self._send({"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "me"}]})

            def do_POST(self) -> None:  # noqa: N802
                asked = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                choices = [{"index": i, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                           for i in range(int(asked.get("n") or 1))]
                self._send({"id": "c", "object": "chat.completion", "created": 0, "model": "fake", "choices": choices,
                            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{self.server.server_port}/v1", "BABEL_MODEL": "", "BABEL_BACKEND": ""}
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> OnePlanEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


def only_trace(state: Path) -> Path:
    [trace] = (state / "runs").glob("*.jsonl")
    return trace


@pytest.mark.docker
def test_a_do_whose_candidates_are_all_rejected_leaves_a_trace_trace_check_reads(docker_ready: None, workspace: Path, tmp_path: Path,
                                                                                 state_dir: Path) -> None:
    make_files(workspace, {"notes.txt": "a\n"})
    with OnePlanEndpoint({"version": 1, "steps": [{"id": "s1", "op": "exec", "args": {"cmd": "nmap localhost"}}]}) as endpoint:
        done = babel("do", "scan the ports of this machine", "--root", str(workspace), "-k", "2", "--json", env=endpoint.env)
    assert done.returncode == 3, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in lines] == ["run_start", "run_end"] and lines[-1]["status"] == "rejected"
    assert lines[-1]["diagnostics"] and lines[0]["request"] == "scan the ports of this machine"
    trace = only_trace(state_dir)
    assert list(read_events(trace)) == lines  # --json is the trace
    assert f"babel logs {trace.stem}" in done.stderr
    assert check(trace, "status: rejected\nsteps: {max: 0}\n", tmp_path).returncode == 0


@pytest.mark.docker
def test_a_do_whose_effects_are_not_confirmed_leaves_a_trace_trace_check_reads(docker_ready: None, workspace: Path, tmp_path: Path,
                                                                               state_dir: Path) -> None:
    make_files(workspace, {"notes.txt": "a\n"})
    plan = {"version": 1, "steps": [{"id": "s1", "op": "write", "args": {"path": "out.txt", "value": "hi"}}]}
    with OnePlanEndpoint(plan) as endpoint:
        done = babel("do", "write hi to out.txt", "--root", str(workspace), "-k", "2", "--json", env=endpoint.env)
    assert done.returncode == 5, done.stderr
    assert not (workspace / "out.txt").exists()
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in lines] == ["run_start", "run_end"]
    assert lines[0]["plan"]["steps"][0]["op"] == "write" and lines[-1]["status"] == "not_confirmed" and lines[-1]["skipped"] == ["s1"]
    trace = only_trace(state_dir)
    assert list(read_events(trace)) == lines
    assert check(trace, "status: not_confirmed\nsteps: {max: 0, not_run: [s1]}\n", tmp_path).returncode == 0


# ---- git_commit: a configuration key ------------------------------------------------------


def test_git_commit_is_read_from_the_environment_and_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BABEL_GIT_COMMIT", raising=False)
    assert load_config({}, tmp_path).git_commit is False
    (tmp_path / ".babel.toml").write_text("git_commit = true\n")
    config = load_config({}, tmp_path)
    assert config.git_commit is True and config.sources["git_commit"].endswith(".babel.toml")
    monkeypatch.setenv("BABEL_GIT_COMMIT", "0")
    assert load_config({}, tmp_path).git_commit is False  # the environment over the file
    monkeypatch.setenv("BABEL_GIT_COMMIT", "1")
    (tmp_path / ".babel.toml").write_text("git_commit = false\n")
    assert load_config({}, tmp_path).git_commit is True


@pytest.mark.parametrize(("where", "value"), [("file", '"yes"'), ("file", "1"), ("BABEL_GIT_COMMIT", "maybe")])
def test_a_bad_git_commit_names_where_it_came_from_and_what_it_takes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     where: str, value: str) -> None:
    monkeypatch.delenv("BABEL_GIT_COMMIT", raising=False)
    if where == "file":
        (tmp_path / ".babel.toml").write_text(f"git_commit = {value}\n")
    else:
        monkeypatch.setenv(where, value)
    with pytest.raises(ConfigError, match=r"git_commit must be true or false \(in the environment: 1 or 0\)"):
        load_config({}, tmp_path)


GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}


@pytest.mark.docker
def test_babel_run_commits_to_git_when_the_project_file_says_git_commit(docker_ready: None, workspace: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BABEL_GIT_COMMIT", raising=False)
    make_files(workspace, {"notes.txt": "a\n", ".babel.toml": "git_commit = true\n"})

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(workspace), *args], check=True, capture_output=True, text=True,
                              env={**os.environ, **GIT_ENV}).stdout

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    plan = tmp_path / "w.plan"
    plan.write_text('write "report.txt" "done"\n')
    done = babel("run", str(plan), "--root", str(workspace), "--allow-write", ".", env=GIT_ENV)
    assert done.returncode == 0, done.stderr
    assert "Babel-Run:" in git("log", "-1", "--format=%B") and git("show", "--name-only", "--format=").split() == ["report.txt"]
    (workspace / ".babel.toml").write_text("git_commit = 3\n")
    refused = babel("run", str(plan), "--root", str(workspace), "--allow-write", ".", env=GIT_ENV)
    assert refused.returncode == 2 and "git_commit must be true or false" in refused.stderr


# ---- help ---------------------------------------------------------------------------------


def test_plain_help_names_a_positional_argument_without_its_type() -> None:
    for command in (["run"], ["verify"], ["fmt"], ["do"], ["undo"]):
        shown = babel(*command, "--help").stdout
        assert "Arguments:" in shown and "<str>" not in shown, shown
    assert "\n  PLAN  A plan file" in babel("run", "--help").stdout
