"""Honest repair: a repair changes how a step works, never what it is about.

A request's scope is the workspace paths it names (the compiler's intent); a repair that
reaches outside it, or swaps a targeted search for a skill, is refused with a `repair`
event saying why; a step that fails because a path the request names is not there ends
the run, before any model is asked; a question about such a path is answered so before
anything is compiled, and `babel do` exits 2 naming it. The final report says what was
repaired (old → new) and how the answer differs from the first plan's. The judgements
are pure functions tested first; then the controller in the real sandbox with scripted
model answers; then the README's first example through the real CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from babel.compiler import ModelRepairs, intent
from babel.lang import Step, StepResult, parse_plan, read_events
from babel.sandbox.docker import DockerSandbox
from babel.skills import load_skills, skill_dirs
from babel.verify import Policy
from babel.vm import RunResult, repair_report, run_plan
from babel.vm.control import Controller, RepairBudget, missing_path, scope_problem
from tests.conftest import make_files
from tests.test_control import RecordedModel, exec_step

SKILLS = load_skills(skill_dirs()).skills
README_REQUEST = "find hard-coded passwords in src"


def one(text: str) -> Step:
    plan = parse_plan(text).plan
    assert plan is not None, text
    return plan.steps[0]


# ---- what a request names (pure) ----------------------------------------------------------


def test_the_readme_request_names_src_as_a_path_it_surely_means() -> None:
    wanted = intent(README_REQUEST)
    assert wanted.named == ("src",) and wanted.sure == ("src",) and wanted.scope("/workspace") == ("src",)


@pytest.mark.parametrize(("request_text", "named", "sure"), [
    ("count the lines in notes.txt", ("notes.txt",), ("notes.txt",)),
    ("how many lines does notes.txt have?", ("notes.txt",), ()),  # a file name, but not after a place word
    ("grep the errors in logs/ and count them", ("logs",), ("logs",)),
    ("show the files of the reports directory", ("reports",), ("reports",)),
    ("find functions in code", ("code",), ()),  # a bare word that is not a usual directory name: named, not sure
    ("list files in python", (), ()),  # a language, not a place
    ("sort words.txt in place", ("words.txt",), ()),
    ("replace http:// with https:// in links.md", ("links.md",), ("links.md",)),
    ("what is 1.5 plus 2", (), ()),
    ("find TODO comments in the code", (), ()),
])
def test_the_paths_a_request_names(request_text: str, named: tuple[str, ...], sure: tuple[str, ...]) -> None:
    wanted = intent(request_text)
    assert (wanted.named, wanted.sure) == (named, sure)


def test_an_absolute_path_under_the_mount_is_in_the_scope_relative() -> None:
    assert intent("find the largest file in /workspace/media").scope("/workspace") == ("media",)
    assert intent("count the lines of every file").scope("/workspace") == ()


# ---- the judgement of a proposal (pure) ---------------------------------------------------


SEARCH = one('exec "grep -rn PASSWORD src"')


@pytest.mark.parametrize("proposal", [
    'exec "grep -rni password src"',  # a flag and a pattern fixed, in the same place
    'grep "password" paths=["src"] ignore_case=true',
    'exec "grep -rni password ./src/app"',  # beneath it
    'exec "grep -rni password /workspace/src"',
])
def test_a_repair_within_the_named_scope_is_allowed(proposal: str) -> None:
    assert scope_problem(SEARCH, [one(proposal)], ("src",), skills=SKILLS) is None


@pytest.mark.parametrize(("proposal", "why"), [
    ('call "find-auth-bug"', "swaps the step's own search for the skill find-auth-bug"),
    ('call "find-secrets" paths=["src"]', "swaps the step's own search for the skill find-secrets"),
    ('exec "grep -rni password ."', "looks in the whole workspace"),
    ('exec "grep -rni password app/"', "does not look there"),
    ('grep "password" ignore_case=true', "does not look there"),  # no paths: the whole workspace
    ('read "app/settings.py"', "looks in app/settings.py"),
])
def test_a_repair_that_widens_the_scope_or_changes_the_subject_is_refused(proposal: str, why: str) -> None:
    problem = scope_problem(SEARCH, [one(proposal)], ("src",), skills=SKILLS)
    assert problem is not None and why in problem


def test_a_step_that_reads_a_slot_stays_in_scope_and_an_unscoped_step_may_move() -> None:
    # the replacement of a later step reads what the earlier one found in src
    assert scope_problem(one('exec "sort" stdin=$found'), [one('exec "sort -u" stdin=$found')], ("src",), skills=SKILLS) is None
    # a step that was not about the named path is not bound to it (a request naming no path has no scope)
    assert scope_problem(one('read "logs/app.log"'), [one('read "app.log"')], ("src",), skills=SKILLS) is None
    assert scope_problem(one('read "logs/app.log"'), [one('read "app.log"')], (), skills=SKILLS) is None


def failed(step: Step, failure: str, message: str, stderr: str = "") -> StepResult:
    return StepResult(step.id, step.op, "failed", failure, message, "", False, 0, 1.0, {"stderr": stderr} if stderr else {})


def test_a_missing_path_is_one_the_request_names_and_the_step_looks_in() -> None:
    grep = one('exec "grep -rn password src"')
    assert missing_path(grep, failed(grep, "nonzero_exit", "exit status 2", "grep: src: No such file or directory"), ("src",)) == "src"
    read = one('read "notes.txt"')
    assert missing_path(read, failed(read, "not_found", "no such file: notes.txt"), ("notes.txt",)) == "notes.txt"
    # a guess beneath the named path is the plan's mistake, which a repair may fix
    guess = one('read "src/config.py"')
    assert missing_path(guess, failed(guess, "not_found", "no such file: src/config.py"), ("src",)) is None
    assert missing_path(grep, failed(grep, "nonzero_exit", "exit status 2", "grep: src: No such file or directory"), ()) is None


# ---- the report (pure) ---------------------------------------------------------------------


def run_result(status: str, result: str | None, repairs: list[dict[str, Any]], unrepaired: tuple[bool, str | None] | None,
               steps: tuple[StepResult, ...] = ()) -> RunResult:
    return RunResult("r1", status, steps, result, (), 1.0, repairs=tuple(repairs), unrepaired=unrepaired)


def test_the_report_says_what_was_repaired_and_that_the_first_plan_gave_no_answer() -> None:
    first = failed(SEARCH, "nonzero_exit", "exit status 1")
    report = repair_report(run_result("ok", "src/a.py:1:x\n", [
        {"step": "s1", "outcome": "refused: it swaps the step's own search for the skill find-auth-bug: ...", "old": "", "new": ""},
        {"step": "s1", "outcome": "fixed", "old": 's1: exec "grep -rn PASSWORD src"', "new": 's1-r2: exec "grep -rni password src"',
         "source": "model"},
    ], (False, None), (first,)))
    lines = report.lines()
    assert lines[0] == 'repaired s1: s1: exec "grep -rn PASSWORD src" → s1-r2: exec "grep -rni password src" (from model)'
    assert any(line.startswith("refused a repair: it swaps") for line in lines)
    assert lines[-1] == "the first plan gave no answer (s1 failed: nonzero_exit); the answer is the repaired plan's"


def test_the_report_says_how_the_first_answer_differed() -> None:
    report = repair_report(run_result("ok", "a\nb\n", [{"step": "s2", "outcome": "fixed", "old": "o", "new": "n"}], (True, "")))
    assert report.differs and report.lines()[-1] == "the first plan's answer differed: 0 lines, ''"
    same = repair_report(run_result("ok", "a\n", [], (True, "a\n")))
    assert not same.differs and same.lines() == []


# ---- the controller in the real sandbox, the model's answers scripted ---------------------


def run_scoped(model: RecordedModel, text: str, box: DockerSandbox, request: str) -> tuple[RunResult, Controller, list[dict[str, Any]]]:
    plan = parse_plan(text).plan
    assert plan is not None
    events: list[dict[str, Any]] = []
    policy = Policy()
    controller = Controller(ModelRepairs(model, policy, request, skills=SKILLS), policy, request=request, skills=SKILLS,
                            scope=intent(request).scope(policy.workspace), budget=RepairBudget())
    result = run_plan(plan, box, policy, on_failure=controller, on_event=lambda e: events.append(e.to_json()), skills=SKILLS)
    controller.settle_all(result.ok)
    return RunResult(result.run_id, result.status, result.steps, result.result, (), 0.0, plan=result.plan,
                     repairs=tuple(controller.repairs), unrepaired=result.unrepaired), controller, events


@pytest.mark.docker
def test_a_named_path_that_is_missing_ends_the_run_before_the_model_is_asked(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"app/settings.py": 'ADMIN_PASSWORD = "changeme123"\n'})
    model = RecordedModel({"steps": [{"op": "call", "args": {"skill": "find-auth-bug"}}]})
    with DockerSandbox(workspace) as box:
        result, controller, events = run_scoped(model, 's1: exec "grep -rn password src"', box, README_REQUEST)
    assert not result.ok and controller.missing == "src" and controller.stopped == "missing"
    assert model.requests == []  # nothing was asked: there is nothing to repair
    repair = next(e for e in events if e["event"] == "repair")
    assert repair["outcome"] == "missing: the request names src, and there is no src in the workspace"
    assert repair_report(result).missing == "src"


@pytest.mark.docker
def test_a_broad_skill_is_refused_and_a_fix_within_the_scope_is_kept(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"src/config.py": 'db_password = "hunter22"\n', "other/keys.py": 'PASSWORD = "elsewhere1"\n'})
    model = RecordedModel({"steps": [{"op": "call", "args": {"skill": "find-auth-bug"}}]},
                          exec_step("grep -rni password src"))
    with DockerSandbox(workspace) as box:
        result, _, events = run_scoped(model, 's1: exec "grep -rn PASSWORD src"', box, README_REQUEST)
    assert result.ok and result.result is not None
    assert "src/config.py" in result.result and "other/" not in result.result  # the answer kept to src
    outcomes = [e["outcome"] for e in events if e["event"] == "repair"]
    assert outcomes[0].startswith("refused: it swaps the step's own search for the skill find-auth-bug")
    assert outcomes[-1] == "patched" and result.repairs[-1]["outcome"] == "fixed"  # (settled when the run completed)
    lines = repair_report(result).lines()
    assert 'repaired s1: s1: exec "grep -rn PASSWORD src" → s1-r2: exec "grep -rni password src" (from model)' in lines
    assert lines[-1].startswith("the first plan gave no answer (s1 failed: nonzero_exit)")


@pytest.mark.docker
def test_a_repair_that_searches_the_whole_workspace_is_refused(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"src/config.py": "nothing here\n", "other/keys.py": 'PASSWORD = "elsewhere1"\n'})
    model = RecordedModel(exec_step("grep -rni password ."), exec_step("grep -rni password other"))
    with DockerSandbox(workspace) as box:
        result, controller, events = run_scoped(model, 's1: exec "grep -rn PASSWORD src"', box, README_REQUEST)
    assert not result.ok and controller.stopped == "budget"  # src has no password: that is the answer, not other/'s
    refused = [e["outcome"] for e in events if e["event"] == "repair" and e["outcome"].startswith("refused")]
    assert refused == ["refused: it reaches outside src, the path the request names: it looks in the whole workspace",
                       "refused: it reaches outside src, the path the request names: it does not look there"]


# ---- through the real CLI -------------------------------------------------------------------


def babel(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The CLI with a state dir of its own, and a cassette with no recordings: nothing may be asked of a model."""
    state, tape = tmp_path / "state", tmp_path / "empty.json"
    tape.write_text("{}\n", encoding="utf-8")
    env = {**os.environ, "BABEL_STATE_DIR": str(state), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "BABEL_BACKEND": "cassette", "BABEL_CASSETTE": str(tape)}
    env.pop("OPENAI_BASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "babel.cli", *args], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env=env)
    return done, state


@pytest.mark.docker
def test_the_readme_example_where_src_does_not_exist_says_so_and_exits_2(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"app/settings.py": 'ADMIN_PASSWORD = "changeme123"\n'})
    done, state = babel(tmp_path, "do", README_REQUEST, "--root", str(workspace))
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # no findings from anywhere else
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the request names src, and there is no src in the workspace (babel logs ")
    runs = sorted((state / "runs").glob("*.jsonl"))
    events = list(read_events(runs[-1]))
    assert [e["event"] for e in events] == ["run_start", "run_end"]
    assert events[-1]["status"] == "failed" and events[-1]["error"] == "the request names src, and there is no src in the workspace"
    shown = subprocess.run([sys.executable, "-m", "babel.cli", "logs", "last"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "BABEL_STATE_DIR": str(state)})
    assert "there is no src in the workspace" in shown.stdout + shown.stderr


@pytest.mark.docker
def test_a_request_to_create_a_named_path_is_not_refused_for_its_absence(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"notes.txt": "a\n"})
    done, _ = babel(tmp_path, "do", "copy notes.txt into backup/notes.txt", "--root", str(workspace))
    # compiled as usual: the empty cassette has no answer for it, which is a model failure, not a missing path
    assert done.returncode == 6 and "there is no" not in done.stderr, done.stderr
