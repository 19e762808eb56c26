"""`babel skill list | show | new | validate | test | run`: skills from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

skill_app = typer.Typer(help="Skills: reusable plans in YAML (docs/skills.md).", no_args_is_help=True)


def _console() -> Any:
    from babel.render import stderr_console

    return stderr_console()


def _find(name: str) -> Any:
    from babel.cli import Exit, fail
    from babel.skills import load_skills

    registry = load_skills()
    skill = registry.skills.get(name)
    if skill is None:
        fail(f"no skill named {name!r} (see `babel skill list`)", Exit.USAGE)
    return skill


@skill_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The skills Babel knows: built-in, ./.babel/skills and ~/.config/babel/skills."""
    from babel.skills import load_skills

    registry = load_skills()
    if as_json:
        print(json.dumps([{"name": s.name, "description": s.description, "path": str(s.path)} for s in registry.skills.values()], indent=2))
        return
    for skill in sorted(registry.skills.values(), key=lambda s: s.name):
        print(f"{skill.name:<16} {skill.description.splitlines()[0]}")
    for error in registry.errors:
        _console().print(f"[yellow]skipped[/yellow] {error}")


@skill_app.command("show")
def show_cmd(name: str) -> None:
    """A skill: description, inputs, permissions, and its steps in the text form."""
    from babel.plan import to_text

    skill = _find(name)
    print(f"{skill.name}: {skill.description}\nfile: {skill.path}")
    for key, spec in skill.inputs.get("properties", {}).items():
        need = "required" if key in skill.inputs.get("required", []) else f"default {json.dumps(spec.get('default'))}"
        print(f"input {key}: {spec.get('type')} ({need}) {spec.get('description', '')}")
    print(f"permissions: {json.dumps(skill.permissions)}")
    print(to_text(skill.plan), end="")


@skill_app.command("new")
def new_cmd(name: str, directory: Path = typer.Option(Path(".babel/skills"), "--dir", help="Where to write it.")) -> None:
    """Scaffold a new, valid skill file to edit."""
    from babel.cli import Exit, fail
    from babel.skills import new_skill

    try:
        path = new_skill(name, directory)
    except (ValueError, FileExistsError) as error:
        fail(str(error), Exit.USAGE)
    print(path)


@skill_app.command("validate")
def validate_cmd(paths: list[Path] = typer.Argument(None, help="Skill files (default: every known skill).")) -> None:
    """Report every error of the skill files, each with file:line:column. Exit 3 if any."""
    from babel.cli import Exit
    from babel.skills import default_skill_dirs, load_skill

    files = list(paths) if paths else [p for d in default_skill_dirs() for p in sorted(d.glob("*.yaml"))]
    count = 0
    for path in files:
        _, errors = load_skill(path)
        for error in errors:
            print(error)
        count += len(errors)
        if not errors:
            _console().print(f"[green]valid[/green] {path}")
    raise typer.Exit(int(Exit.REJECTED if count else Exit.OK))


@skill_app.command("test")
def test_cmd(name: str) -> None:
    """Run a skill's examples in the sandbox; one line per example and `N passed, N failed`."""
    from babel.cli import Exit
    from babel.sandbox import started
    from babel.skills import run_examples

    results = run_examples(_find(name), started)
    for result in results:
        print(f"{'PASS' if result.passed else 'FAIL'} {name}: {result.name}" + ("" if result.passed else f"  {result.reason}"))
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    raise typer.Exit(int(Exit.OK if passed == len(results) else Exit.STEP_FAILED))


@skill_app.command("run")
def run_cmd(
    name: str,
    inputs: list[str] = typer.Option([], "--input", "-i", help="An input as key=value (repeatable; arrays as a,b,c)."),
    root: Path = typer.Option(Path("."), "--root", "-r", help="The workspace."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Allow the skill's writes without asking."),
    as_json: bool = typer.Option(False, "--json", help="Events as JSON Lines on stdout."),
) -> None:
    """Run a skill over a workspace with the given inputs; print its result."""
    from babel.cli import Exit, check_root, confirm_effects, fail, run_traced
    from babel.plan import Plan, Step
    from babel.policy import Policy
    from babel.skills import SkillInputError, bind_inputs

    skill = _find(name)
    values: dict[str, Any] = {}
    for item in inputs:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--input {item!r}: write key=value", Exit.USAGE)
        values[key.strip()] = value
    try:
        bind_inputs(skill, values)
    except SkillInputError as error:
        fail(f"skill {name}: {error}", Exit.USAGE)
    root = check_root(root)
    plan = Plan((Step("s1", "call", {"skill": name, **values}, "result"),))
    policy = Policy().granting_writes(tuple(skill.permissions.get("write", []))).allowing_exec(tuple(skill.permissions.get("exec", [])))
    confirm_effects(plan, yes)
    result = run_traced(plan, root, policy, as_json, {"skill": name})
    if result.ok and result.result is not None and not as_json:
        sys.stdout.write(result.result if result.result.endswith("\n") or not result.result else result.result + "\n")
    raise typer.Exit(int(Exit.OK if result.ok else Exit.STEP_FAILED))
