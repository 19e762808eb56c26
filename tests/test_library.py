"""The commands as library calls: `run_plan_text`, `run_skill`, `do_request` and `run_eval`
record the traces the CLI records, in the state dir of the `Paths` they are given.

Each test does one thing twice, through the library and through `python -m babel.cli`
(with BABEL_STATE_DIR), in two identical workspaces, and compares the traces' event kinds.
`do` and `eval` replay the model's answers from tests/cassettes/library.json, recorded from
the embedded model (Qwen2.5-Coder-0.5B) with BABEL_RECORD=1 as tests/test_compile.py
records its own; the CLI replays the same file through the cassette backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from babel.app import Paths, confirmed, do_request, load_suite, run_eval, run_plan_text, run_skill
from babel.compiler import STABLE_MESSAGES
from babel.lang import Event, parse_plan, read_events
from babel.model import ModelClient
from babel.skills import load_skills, skill_dirs
from babel.verify import Policy
from tests.conftest import cassette_client, make_files

CASSETTE = Path(__file__).parent / "cassettes" / "library.json"
SKILLS = load_skills(skill_dirs()).skills  # the built-in skills: what the CLI loads with no project or user skills
#: (requests whose retrieved examples are not tied in score: examples.ranked sums floats in set order)
COUNT = "how many lines does notes.txt have?"
NOTES = {"notes.txt": "TODO one\nfine\nTODO two\nTODO three\n"}
EDIT = "change the port from 8080 to 9090 in config.ini"


def client() -> ModelClient:
    return cassette_client(CASSETTE, "qwen2.5-coder-0.5b", STABLE_MESSAGES)


def paths_in(base: Path) -> Paths:
    return Paths(state=base / "state", cache=base / "cache", config=base / "config", project=base)


def traces(state: Path) -> list[list[str]]:
    """The event kinds of each trace under a state dir, oldest first."""
    runs = sorted((state / "runs").glob("*.jsonl")) if (state / "runs").is_dir() else []
    return [[str(e.get("event")) for e in read_events(path)] for path in runs]


def babel(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The CLI, with a state dir of its own, no user config or skills, the model from the cassette."""
    state = tmp_path / "cli-state"
    env = {**os.environ, "BABEL_STATE_DIR": str(state), "XDG_CONFIG_HOME": str(tmp_path / "cli-config"),
           "BABEL_BACKEND": "cassette", "BABEL_CASSETTE": str(CASSETTE)}
    env.pop("OPENAI_BASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, env=env)
    return done, state


def twin(tmp_path: Path, files: dict[str, str | bytes]) -> tuple[Path, Path]:
    """Two identical workspaces: one for the library, one for the CLI."""
    roots = []
    for name in ("lib-ws", "cli-ws"):
        root = tmp_path / name
        root.mkdir()
        root.chmod(0o755)
        make_files(root, files)
        roots.append(root)
    tmp_path.chmod(0o755)
    return roots[0], roots[1]


# ---- the confirmation rule and the paths: pure ---------------------------------------


def test_only_a_plan_with_effects_needs_confirmation() -> None:
    reads, writes = parse_plan('exec "wc -l notes.txt"').plan, parse_plan('write "out.txt" "x"').plan
    assert reads is not None and writes is not None
    asked: list[object] = []

    def ask(plan: object) -> bool:
        asked.append(plan)
        return False

    assert confirmed(reads, SKILLS, confirm=ask) and not asked  # nothing to ask about
    assert not confirmed(writes, SKILLS) and not confirmed(writes, SKILLS, confirm=ask) and asked == [writes]
    assert confirmed(writes, SKILLS, yes=True) and confirmed(writes, SKILLS, confirm=lambda plan: True)


def test_the_paths_come_from_the_environment_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BABEL_STATE_DIR", "BABEL_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "g"))
    paths = Paths.from_env(project=tmp_path)
    assert (paths.state, paths.cache, paths.config) == (tmp_path / "s" / "babel", tmp_path / "c" / "babel", tmp_path / "g" / "babel")
    assert paths.repairs == tmp_path / "s" / "babel" / "repairs.json" and paths.commits == tmp_path / "s" / "babel" / "commits"
    monkeypatch.setenv("BABEL_STATE_DIR", str(tmp_path / "mine"))
    assert paths.state == tmp_path / "s" / "babel" and Paths.from_env().state == tmp_path / "mine"  # a value, not a lookup
    (tmp_path / "g" / "babel" / "skills").mkdir(parents=True)
    assert paths.skill_dirs()[1:] == [tmp_path / "g" / "babel" / "skills"]  # after the built-in ones; no .babel/skills here


# ---- babel run -------------------------------------------------------------------------


@pytest.mark.docker
def test_run_plan_text_records_the_trace_babel_run_records(docker_ready: None, tmp_path: Path) -> None:
    lib_ws, cli_ws = twin(tmp_path, {"notes.txt": "TODO one\nfine\nTODO two\n"})
    text = 's1: todos = grep "TODO" paths="notes.txt"\ns2: exec "wc -l" stdin=$todos\n'
    paths, seen = paths_in(tmp_path / "lib"), []

    def show(event: Event) -> None:
        seen.append(event.kind)

    outcome = run_plan_text(text, lib_ws, Policy(), source="todo.plan", on_event=show, paths=paths, skills=SKILLS)
    assert outcome.ok and outcome.run is not None and outcome.run.result is not None and outcome.run.result.strip() == "2"
    assert traces(paths.state) == [["run_start", "step", "step", "run_end"]] and seen == traces(paths.state)[0]
    plan = tmp_path / "todo.plan"
    plan.write_text(text)
    done, state = babel(tmp_path, "run", str(plan), "--root", str(cli_ws))
    assert done.returncode == 0 and done.stdout.strip() == "2", done.stderr
    assert traces(state) == traces(paths.state)


@pytest.mark.docker
def test_a_rejected_plan_is_traced_and_not_run(docker_ready: None, tmp_path: Path) -> None:
    lib_ws, cli_ws = twin(tmp_path, {"a.txt": "x\n"})
    paths = paths_in(tmp_path / "lib")
    outcome = run_plan_text('exec "nc -l 80"\n', lib_ws, Policy(), paths=paths, skills=SKILLS)
    assert outcome.rejected and outcome.run is None and not outcome.ok
    assert traces(paths.state) == [["run_start", "run_end"]]
    [trace] = (paths.state / "runs").glob("*.jsonl")
    assert trace.stem == outcome.run_id and list(read_events(trace))[-1]["status"] == "rejected"
    plan = tmp_path / "bad.plan"
    plan.write_text('exec "nc -l 80"\n')
    done, state = babel(tmp_path, "run", str(plan), "--root", str(cli_ws))
    assert done.returncode == 3 and traces(state) == traces(paths.state)


@pytest.mark.docker
def test_a_writing_plan_commits_as_babel_run_does(docker_ready: None, tmp_path: Path) -> None:
    lib_ws, cli_ws = twin(tmp_path, {"config.ini": "port=8080\n"})
    text = 'exec "sed -i s/8080/9090/ config.ini"\n'
    paths = paths_in(tmp_path / "lib")
    outcome = run_plan_text(text, lib_ws, Policy().granting_writes((".",)), paths=paths, skills=SKILLS)
    assert outcome.ok and (lib_ws / "config.ini").read_text() == "port=9090\n"
    assert traces(paths.state) == [["run_start", "step", "commit", "run_end"]]
    plan = tmp_path / "edit.plan"
    plan.write_text(text)
    done, state = babel(tmp_path, "run", str(plan), "--root", str(cli_ws), "--allow-write", ".")
    assert done.returncode == 0 and (cli_ws / "config.ini").read_text() == "port=9090\n", done.stderr
    assert traces(state) == traces(paths.state)


# ---- babel skill run -------------------------------------------------------------------


@pytest.mark.docker
def test_run_skill_records_the_trace_babel_skill_run_records(docker_ready: None, tmp_path: Path) -> None:
    lib_ws, cli_ws = twin(tmp_path, {"a.py": "x\ny\n", "b.py": "z\n"})
    paths = paths_in(tmp_path / "lib")
    outcome = run_skill("count-lines", {}, lib_ws, paths=paths, skills=SKILLS)
    assert outcome.ok and outcome.run is not None and outcome.run.result is not None and outcome.run.result.strip() == "3"
    assert traces(paths.state) == [["run_start", "step", "run_end"]]
    done, state = babel(tmp_path, "skill", "run", "count-lines", "--root", str(cli_ws))
    assert done.returncode == 0 and done.stdout.strip() == "3", done.stderr
    assert traces(state) == traces(paths.state)


@pytest.mark.docker
def test_a_skill_that_writes_runs_only_when_confirmed(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"app.cfg": "host=localhost\n"})
    paths = paths_in(tmp_path / "lib")
    inputs = {"old": "localhost", "new": "db.internal", "paths": "app.cfg"}
    refused = run_skill("replace-text", inputs, workspace, paths=paths, skills=SKILLS)
    assert not refused.confirmed and refused.run is None and refused.run_id is None
    assert traces(paths.state) == [] and (workspace / "app.cfg").read_text() == "host=localhost\n"
    allowed = run_skill("replace-text", inputs, workspace, confirm=lambda plan: True, paths=paths, skills=SKILLS)
    assert allowed.ok and (workspace / "app.cfg").read_text() == "host=db.internal\n"
    assert traces(paths.state) == [["run_start", "step", "commit", "run_end"]]


# ---- babel do (the model replayed) -----------------------------------------------------


@pytest.mark.docker
def test_do_request_records_the_trace_babel_do_records(docker_ready: None, tmp_path: Path) -> None:
    lib_ws, cli_ws = twin(tmp_path, NOTES)
    paths, shown = paths_in(tmp_path / "lib"), []
    outcome = do_request(COUNT, lib_ws, Policy().granting_writes((".",)), client(), k=3,
                         on_plan=lambda compilation, decision: shown.append(decision.plan), paths=paths, skills=SKILLS)
    assert outcome.ok and outcome.confirmed and outcome.run is not None and outcome.run.result is not None
    assert outcome.run.result.strip() == "4" and shown == [outcome.decision.plan]
    [kinds] = traces(paths.state)
    assert kinds[0] == "run_start" and kinds[-1] == "run_end" and "step" in kinds
    [trace] = (paths.state / "runs").glob("*.jsonl")
    start = next(read_events(trace))
    assert start["request"] == COUNT and "vote" in start and start["root"] == str(lib_ws)
    done, state = babel(tmp_path, "do", COUNT, "--root", str(cli_ws), "-k", "3")
    assert done.returncode == 0 and done.stdout.strip() == "4", done.stderr
    assert traces(state) == traces(paths.state)


@pytest.mark.docker
def test_do_request_runs_effects_only_when_confirmed(docker_ready: None, tmp_path: Path) -> None:
    lib_ws, cli_ws = twin(tmp_path, {"config.ini": "port=8080\n"})
    paths = paths_in(tmp_path / "lib")
    refused = do_request(EDIT, lib_ws, Policy().granting_writes((".",)), client(), k=3, paths=paths, skills=SKILLS)
    assert refused.decision.plan is not None and refused.confirmed is False and refused.run is None and refused.trace is not None
    assert traces(paths.state) == [["run_start", "run_end"]] and (lib_ws / "config.ini").read_text() == "port=8080\n"  # ran nothing: traced so
    done, state = babel(tmp_path, "do", EDIT, "--root", str(cli_ws), "-k", "3")
    assert done.returncode == 5 and traces(state) == [["run_start", "run_end"]] and (cli_ws / "config.ini").read_text() == "port=8080\n"
    allowed = do_request(EDIT, lib_ws, Policy().granting_writes((".",)), client(), k=3, yes=True, paths=paths, skills=SKILLS)
    assert allowed.confirmed and allowed.run is not None
    done, state = babel(tmp_path, "do", EDIT, "--root", str(cli_ws), "-k", "3", "-y")
    assert done.returncode == (0 if allowed.ok else 1), done.stderr
    assert sorted(traces(state)) == sorted(traces(paths.state)) and any("commit" in kinds for kinds in traces(paths.state))
    assert (lib_ws / "config.ini").read_text() == (cli_ws / "config.ini").read_text()


# ---- babel eval (the model replayed) ---------------------------------------------------


@pytest.mark.docker
def test_run_eval_gives_the_results_babel_eval_prints(docker_ready: None, tmp_path: Path, state_dir: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    setup = "printf '" + NOTES["notes.txt"].replace("\n", "\\n") + "' > notes.txt"
    (suite / "count.yaml").write_text(json.dumps({"id": "count-lines", "request": COUNT, "setup": setup, "expect": {"output": "4"}}))
    [result] = run_eval(load_suite(suite), client(), k=3, skills=SKILLS)
    assert result.passed and result.result is not None and result.result.strip() == "4", result.reason
    assert traces(state_dir) == []  # as the CLI's, eval's runs leave no trace
    done, state = babel(tmp_path, "eval", str(suite), "-k", "3", "--json")
    [record] = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and (record["id"], record["passed"], record["result"]) == (result.id, result.passed, result.result)
    assert record["plan"] == result.plan and traces(state) == []
