"""Skills in YAML: the format, every error located, the CLI, the call opcode, built-ins that work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from babel.app.evaluate import run_examples
from babel.lang.plan import parse_plan
from babel.sandbox.docker import DockerSandbox, started
from babel.skills.table import SkillInputError, bind_inputs, load_skill, load_skills, new_skill, skill_dirs, skill_policy
from babel.verify.check import verify
from babel.verify.policy import Policy
from babel.vm.machine import run_plan
from tests.conftest import make_files

GOOD = """\
name: {name}
description: Find the lines that match a pattern, for tests of the skill loader.
inputs:
  properties:
    pattern: {{type: string, description: what to find}}
  required: [pattern]
permissions:
  read: ["."]
  exec: [sort]
steps: |
  s1: hits = grep $pattern paths=["."] allow_empty=true
  s2: exec "sort" stdin=$hits
examples:
  - setup: printf 'b\\na\\n' > f.txt
    inputs: {{pattern: "[ab]"}}
    expect: {{output: "f.txt:1:b\\nf.txt:2:a"}}
"""
BUILT_IN = load_skills(skill_dirs()).skills


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_the_built_in_skills_all_validate() -> None:
    registry = load_skills(skill_dirs())
    assert registry.errors == []
    assert {"find-auth-bug", "find-secrets", "search-code", "count-lines", "list-todos", "replace-text"} <= set(registry.skills)
    assert all(skill.examples for skill in registry.skills.values())


def test_a_good_skill_loads(tmp_path: Path) -> None:
    skill, errors = load_skill(write(tmp_path, "find-lines", GOOD.format(name="find-lines")))
    assert errors == [] and skill is not None
    assert skill.input_types() == {"pattern": "text"} and [s.op for s in skill.plan.steps] == ["grep", "exec"]
    assert skill.plan.steps[1].line == 12  # steps keep their line in the YAML file


@pytest.mark.parametrize(("text", "line", "column", "message"), [
    (GOOD.format(name="x").replace("permissions:", "colour: red\npermissions:"), 7, 1, "unknown key 'colour'"),
    (GOOD.format(name="x").replace("required: [pattern]", "required: pattern"), 6, 13, "required: 'pattern' is not of type 'array'"),
    (GOOD.format(name="x").replace("  exec: [sort]", "  exec: [sort"), None, None, "not valid YAML"),
    (GOOD.format(name="y"), 1, 7, "must match the file name"),
    (GOOD.format(name="x").replace("  exec: [sort]\n", ""), 11, 3, "'sort' is not on the exec allow-list"),
    (GOOD.format(name="x").replace("grep $pattern", "grep $patern"), 11, 3, "reads $patern before it is written"),
    (GOOD.format(name="x").replace('s2: exec "sort"', 's2: exec "sort'), 12, 12, "E_SYNTAX"),
])
def test_each_error_names_its_line_and_column(tmp_path: Path, text: str, line: int | None, column: int | None, message: str) -> None:
    _, errors = load_skill(write(tmp_path, "x", text))
    assert errors, "expected an error"
    error = next((e for e in errors if message in e.message), None)
    assert error is not None, [str(e) for e in errors]
    if line is not None:
        assert (error.line, error.column) == (line, column), str(error)
    else:
        assert error.line is not None and error.column is not None


def test_validate_reports_every_error_not_only_the_first(tmp_path: Path) -> None:
    text = GOOD.format(name="x").replace("description: Find", "colour: red\ndescription: Find").replace("exec: [sort]", "exec: sort")
    _, errors = load_skill(write(tmp_path, "x", text))
    assert len(errors) >= 2
    done = subprocess.run([sys.executable, "-m", "babel.cli", "skill", "validate", str(tmp_path / "x.yaml")], capture_output=True, text=True)
    assert done.returncode == 3 and done.stdout.count("x.yaml:") >= 2 and "Traceback" not in done.stderr


def test_new_scaffolds_a_skill_that_validates(tmp_path: Path) -> None:
    path = new_skill("my-skill", tmp_path)
    assert load_skill(path)[1] == []
    with pytest.raises(FileExistsError):
        new_skill("my-skill", tmp_path)
    with pytest.raises(ValueError, match="not a skill name"):
        new_skill("My_Skill", tmp_path)


def test_inputs_are_bound_with_defaults_types_and_required() -> None:
    skill = BUILT_IN["largest-files"]
    assert bind_inputs(skill, {}) == {"count": "5"}
    assert bind_inputs(skill, {"count": "2"}) == {"count": "2"}
    with pytest.raises(SkillInputError, match="must be an integer"):
        bind_inputs(skill, {"count": "many"})
    with pytest.raises(SkillInputError, match="unknown input"):
        bind_inputs(skill, {"size": "1"})
    with pytest.raises(SkillInputError, match="missing required input 'pattern'"):
        bind_inputs(BUILT_IN["search-code"], {})
    assert bind_inputs(BUILT_IN["search-code"], {"pattern": "x", "paths": "a,b"})["paths"] == ["a", "b"]


def test_a_skill_gets_the_intersection_of_its_permissions_and_the_runs() -> None:
    skill = BUILT_IN["replace-text"]
    narrow = skill_policy(skill, Policy(write=("docs",), exec=("python3", "sed")))
    assert narrow.write == ("docs",) and narrow.exec == ("python3",)
    assert skill_policy(skill, Policy()).write == ()


def test_calls_are_verified_against_the_skill_and_the_policy() -> None:
    def codes(text: str, policy: Policy | None = None) -> list[str]:
        plan = parse_plan(text).plan
        assert plan is not None
        return [d.code for d in verify(plan, policy or Policy(), skills=BUILT_IN) if d.is_error]

    assert codes('call "search-code" pattern="TODO"') == []
    assert codes('call "serch-code" pattern="x"') == ["E_SKILL_UNKNOWN"]
    assert codes('call "search-code"') == ["E_ARG_MISSING"]
    assert codes('call "search-code" pattern="x" colour="red"') == ["E_ARG_UNKNOWN"]
    assert "E_SKILL_PERMISSION" in codes('call "replace-text" old="a" new="b" paths=["f"]')  # no writes granted
    assert codes('call "replace-text" old="a" new="b" paths=["f"]', Policy().granting_writes()) == []
    # the verifier is pure: it knows the skills it is given, and no others
    plan = parse_plan('call "search-code" pattern="TODO"').plan
    assert plan is not None and [d.code for d in verify(plan, Policy()) if d.is_error] == ["E_SKILL_UNKNOWN"]


@pytest.mark.docker
def test_a_plan_calls_a_skill_in_the_sandbox(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"app/settings.py": 'ADMIN_PASSWORD = "changeme123"\n', "app/ok.py": "x = 1\n"})
    plan = parse_plan('s1: found = call "find-auth-bug"\ns2: exec "wc -l" stdin=$found').plan
    assert plan is not None
    with DockerSandbox(workspace) as box:
        result = run_plan(plan, box, Policy(), skills=BUILT_IN)
    assert result.ok and result.result is not None and result.result.strip() == "1"
    assert "hard-coded credential" in result.slots["found"]
    assert result.steps[0].detail["skill"] == "find-auth-bug"


@pytest.mark.docker
@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_every_built_in_skills_examples_pass(docker_ready: None, name: str) -> None:
    results = run_examples(BUILT_IN[name], started, skills=BUILT_IN)
    assert results and all(r.passed for r in results), [(r.name, r.reason) for r in results if not r.passed]


@pytest.mark.docker
def test_cli_skill_list_show_run(docker_ready: None, workspace: Path) -> None:
    def babel(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "babel.cli", "skill", *args], capture_output=True, text=True, timeout=300)

    assert "find-auth-bug" in babel("list").stdout
    assert "s1:" in babel("show", "count-lines").stdout
    make_files(workspace, {"a.py": "x\ny\n"})
    done = babel("run", "count-lines", "--root", str(workspace))
    assert done.returncode == 0 and done.stdout.strip() == "2", done.stderr
    assert babel("run", "search-code", "--root", str(workspace)).returncode == 2  # missing required input
    assert babel("show", "nope").returncode == 2
