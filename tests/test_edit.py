"""The plan a person is shown is theirs to edit and run: `babel do --edit` opens it in
$EDITOR and runs (and traces) what they leave there, verified again; `babel do` and
`babel compile` keep the plan they show, and `babel run last` runs it without compiling.
Through the real CLI, the model replayed from tests/cassettes/library.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from babel.lang import read_events
from tests.conftest import make_files
from tests.test_library import CASSETTE, COUNT, NOTES

#: what the test's editor leaves in the plan file: the TODO lines counted, not all lines
EDITED = 's1: todos = grep "TODO" paths="notes.txt"\ns2: n = exec "wc -l" stdin=$todos\n'


def babel(tmp_path: Path, *args: str, editor: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BABEL_STATE_DIR": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "BABEL_BACKEND": "cassette", "BABEL_CASSETTE": str(CASSETTE)}
    for name in ("OPENAI_BASE_URL", "EDITOR", "VISUAL"):
        env.pop(name, None)
    if editor is not None:
        env["EDITOR"] = editor
    return subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, env=env)


def editor_writing(tmp_path: Path, text: str) -> str:
    """An EDITOR that replaces the plan file with `text` (and notes what it was given)."""
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\n"
                      f"pathlib.Path({str(tmp_path / 'given.plan')!r}).write_text(pathlib.Path(sys.argv[1]).read_text())\n"
                      f"pathlib.Path(sys.argv[1]).write_text({text!r})\n")
    return f"{sys.executable} {script}"


def notes(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    root.chmod(0o755)
    tmp_path.chmod(0o755)
    make_files(root, NOTES)
    return root


def runs(tmp_path: Path) -> list[list[dict[str, Any]]]:
    folder = tmp_path / "state" / "runs"
    return [list(read_events(path)) for path in sorted(folder.glob("*.jsonl"))] if folder.is_dir() else []


@pytest.mark.docker
def test_do_edit_runs_and_traces_the_plan_as_edited(docker_ready: None, tmp_path: Path) -> None:
    root = notes(tmp_path)
    done = babel(tmp_path, "do", COUNT, "--root", str(root), "-k", "3", "--edit", editor=editor_writing(tmp_path, EDITED))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"  # the TODO lines, as edited; the chosen plan counted all 4 lines
    assert "notes.txt" in (tmp_path / "given.plan").read_text()  # the editor was given the chosen plan, in its text form
    [trace] = runs(tmp_path)
    start = trace[0]
    assert start["edited"] is True and [s["op"] for s in start["plan"]["steps"]] == ["grep", "exec"]
    assert (tmp_path / "state" / "plans" / "last.plan").read_text() == EDITED  # `babel run last` runs what ran


@pytest.mark.docker
def test_an_edit_the_verifier_rejects_is_refused_and_not_run(docker_ready: None, tmp_path: Path) -> None:
    root = notes(tmp_path)
    done = babel(tmp_path, "do", COUNT, "--root", str(root), "-k", "3", "--edit", editor=editor_writing(tmp_path, 's1: exec "nmap x"\n'))
    assert done.returncode == 3, done.stderr
    assert "the edited plan was not run" in done.stderr and "error" in done.stderr and done.stdout == ""
    assert runs(tmp_path) == []  # nothing ran, so nothing was traced


@pytest.mark.docker
def test_an_editor_that_fails_runs_nothing(docker_ready: None, tmp_path: Path) -> None:
    root = notes(tmp_path)
    done = babel(tmp_path, "do", COUNT, "--root", str(root), "-k", "3", "--edit", editor="false")
    assert done.returncode == 5 and "the editor exited with 1: nothing was run" in done.stderr, done.stderr
    assert runs(tmp_path) == []


def test_edit_without_an_editor_is_refused_before_anything_is_compiled(tmp_path: Path) -> None:
    done = babel(tmp_path, "do", COUNT, "--root", str(tmp_path), "--edit")
    assert done.returncode == 2 and "--edit needs an editor: set EDITOR" in done.stderr, done.stderr


@pytest.mark.docker
def test_babel_run_last_runs_the_plan_compile_showed(docker_ready: None, tmp_path: Path) -> None:
    root = notes(tmp_path)
    shown = babel(tmp_path, "compile", COUNT, "--root", str(root), "-k", "3")
    assert shown.returncode == 0 and "babel run last" in shown.stderr, shown.stderr
    kept = tmp_path / "state" / "plans" / "last.plan"
    assert kept.read_text() == shown.stdout  # the plan on stdout is the plan kept
    again = babel(tmp_path, "run", "last", "--root", str(root))
    assert again.returncode == 0 and again.stdout.strip() == "4", again.stderr
    [trace] = runs(tmp_path)
    assert trace[0]["source"] == str(kept) and json.dumps(trace[0]["plan"])  # no model call: the cassette was not asked again


def test_babel_run_last_with_no_plan_shown_says_how_to_get_one(tmp_path: Path) -> None:
    done = babel(tmp_path, "run", "last", "--root", str(tmp_path))
    assert done.returncode == 2 and "no plan shown yet" in done.stderr, done.stderr
