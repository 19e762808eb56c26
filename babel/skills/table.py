"""Skills: reusable plans in YAML, with typed inputs, least privilege and examples.

A skill file (skills/NAME.yaml; docs/skills.md) names a plan whose free slots are its
inputs. `load_skill` reports every problem of a file at once, each with file:line:column:
the YAML itself, the published schema (skills/skill.schema.json), the name, the steps
(parsed and verified under the skill's own permissions, with its inputs as predefined
slots) and the examples' inputs. A plan calls a skill with the `call` opcode; the
verifier checks the call's inputs and that the skill's permissions fit the run's policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from babel.lang import Diagnostic, Plan, data_dir, parse_plan, plan_from_json
from babel.verify import Policy, path_within, verify

NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
SLOT_TYPES = {"string": "text", "integer": "text", "boolean": "text", "array": "lines"}


@dataclass(frozen=True)
class SkillError:
    file: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    inputs: dict[str, Any]
    permissions: dict[str, Any]
    plan: Plan
    outputs: dict[str, Any]
    examples: tuple[dict[str, Any], ...]
    path: Path

    def needs(self, run: Policy) -> list[str]:
        """What the skill needs that the run's policy does not grant (for the verifier)."""
        return fits(self, run)

    def input_types(self) -> dict[str, str]:
        return {name: SLOT_TYPES.get(spec.get("type", "string"), "text") for name, spec in self.inputs.get("properties", {}).items()}

    def policy(self, workspace: str = "/workspace") -> Policy:
        """The skill's own permissions as a policy (least privilege: nothing not listed)."""
        perms = self.permissions
        return Policy(read=tuple(perms.get("read", ["."])), write=tuple(perms.get("write", [])),
                      exec=tuple(perms.get("exec", [])), network=bool(perms.get("network", False)), workspace=workspace)


class SkillInputError(ValueError):
    pass


@lru_cache(maxsize=1)
def skill_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((data_dir("skills") / "skill.schema.json").read_text(encoding="utf-8"))
    return data


def _marks(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Every node's (line, column), 1-based, by its path of keys and indices."""
    out = {path: (node.start_mark.line + 1, node.start_mark.column + 1)}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value, "#key")] = (key.start_mark.line + 1, key.start_mark.column + 1)
            out.update(_marks(value, (*path, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out.update(_marks(item, (*path, index)))
    return out


def _at(marks: dict[tuple[Any, ...], tuple[int, int]], path: Iterable[Any]) -> tuple[int | None, int | None]:
    parts = tuple(path)
    while parts:
        if parts in marks:
            return marks[parts]
        parts = parts[:-1]
    return marks.get((), (None, None))


def load_skill(path: Path) -> tuple[Skill | None, list[SkillError]]:
    """The skill in `path`, and every error found in it (a skill is returned only with none)."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [SkillError(file, None, None, f"cannot read it: {error}")]
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        return None, [SkillError(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                                 f"not valid YAML: {getattr(error, 'problem', error)}")]
    if node is None or not isinstance(data, dict):
        return None, [SkillError(file, 1, 1, "a skill is a mapping with name, description, inputs, permissions, steps, outputs, examples")]
    marks = _marks(node)
    errors: list[SkillError] = []
    validator = jsonschema.Draft202012Validator(skill_schema())
    for problem in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        where = list(problem.absolute_path)
        if problem.validator == "additionalProperties":
            extra = sorted(set(problem.instance) - set(problem.schema.get("properties", {}))) if isinstance(problem.instance, dict) else []
            for key in extra:
                line, column = _at(marks, (*where, key, "#key"))
                known = ", ".join(sorted(problem.schema.get("properties", {})))
                errors.append(SkillError(file, line, column, f"unknown key {key!r}" + (f" (known: {known})" if known else "")))
            continue
        line, column = _at(marks, where)
        label = ".".join(str(p) for p in where) or "(the skill)"
        errors.append(SkillError(file, line, column, f"{label}: {problem.message}"))
    name = data.get("name")
    if isinstance(name, str) and name != path.stem:
        line, column = _at(marks, ("name",))
        errors.append(SkillError(file, line, column, f"the name {name!r} must match the file name {path.stem!r}"))
    plan, plan_errors = _steps(data.get("steps"), marks, text, file)
    errors += plan_errors
    inputs: dict[str, Any] = data["inputs"] if isinstance(data.get("inputs"), dict) else {}
    permissions: dict[str, Any] = data["permissions"] if isinstance(data.get("permissions"), dict) else {}
    if plan is not None and not errors:
        draft = Skill(str(name), str(data.get("description", "")), inputs, permissions, plan, {}, (), path)
        for diagnostic in verify(plan, draft.policy(), inputs=draft.input_types()):
            if diagnostic.is_error:
                line, column = _step_mark(diagnostic, marks, plan)
                errors.append(SkillError(file, line, column, f"step {diagnostic.step}: {diagnostic.code}: {diagnostic.message}"))
        result = (data.get("outputs") or {}).get("result")
        if result and result not in {s.out for s in plan.steps}:
            line, column = _at(marks, ("outputs", "result"))
            errors.append(SkillError(file, line, column, f"outputs.result names ${result}, which no step writes"))
    for index, example in enumerate(data.get("examples") or []):
        if not isinstance(example, dict) or plan is None:
            continue
        try:
            bind_inputs_raw(inputs, example.get("inputs") or {})
        except SkillInputError as error:
            line, column = _at(marks, ("examples", index, "inputs"))
            errors.append(SkillError(file, line, column, f"example {index + 1}: {error}"))
    if errors or plan is None:
        return None, errors
    result = (data.get("outputs") or {}).get("result")
    if result:
        plan = replace(plan, result=result)
    return Skill(str(name), str(data["description"]).strip(), inputs, permissions, plan, dict(data.get("outputs") or {}),
                 tuple(data.get("examples") or ()), path), []


def _steps(raw: Any, marks: dict[tuple[Any, ...], tuple[int, int]], text: str, file: str) -> tuple[Plan | None, list[SkillError]]:
    if isinstance(raw, str):
        parsed = parse_plan(raw)
        start_line, _ = _at(marks, ("steps",))
        # a block scalar's content starts on the line after `steps: |`, indented
        first = (start_line or 1) + (1 if text.splitlines()[(start_line or 1) - 1].rstrip().endswith(("|", ">", "|-", ">-")) else 0)
        lines = text.splitlines()
        indent = len(lines[first - 1]) - len(lines[first - 1].lstrip()) if first - 1 < len(lines) else 0
        errors = [SkillError(file, first + (d.line or 1) - 1, (d.column or 1) + indent, f"{d.code}: {d.message}") for d in parsed.diagnostics]
        if parsed.plan is not None:
            plan = Plan(tuple(replace(s, line=first + (s.line or 1) - 1, column=(s.column or 1) + indent) for s in parsed.plan.steps),
                        parsed.plan.result)
            return plan, errors
        return None, errors
    if isinstance(raw, list):
        parsed = plan_from_json({"steps": raw})
        if parsed.plan is None:
            line, column = _at(marks, ("steps",))
            return None, [SkillError(file, line, column, f"{d.code}: {d.message}") for d in parsed.diagnostics]
        steps = []
        for index, step in enumerate(parsed.plan.steps):
            line, column = _at(marks, ("steps", index))
            steps.append(replace(step, line=line, column=column))
        return Plan(tuple(steps)), []
    return None, []  # a missing or malformed `steps` is reported by the schema


def _step_mark(diagnostic: Diagnostic, marks: dict[tuple[Any, ...], tuple[int, int]], plan: Plan) -> tuple[int | None, int | None]:
    step = plan.step(diagnostic.step) if diagnostic.step else None
    if step is not None and step.line is not None:
        return step.line, step.column
    return _at(marks, ("steps",))


# ---- inputs -------------------------------------------------------------------------


def bind_inputs_raw(schema: dict[str, Any], values: dict[str, Any], coerce: bool = True) -> dict[str, Any]:
    """Defaults applied, strings coerced to the declared types, validated; errors name the input."""
    properties: dict[str, Any] = schema.get("properties", {})
    bound: dict[str, Any] = {}
    for key, value in values.items():
        spec = properties.get(key)
        if spec is None:
            raise SkillInputError(f"unknown input {key!r} (inputs: {', '.join(properties) or 'none'})")
        kind = spec.get("type", "string")
        if coerce and isinstance(value, str):
            if kind == "integer":
                try:
                    value = int(value)
                except ValueError:
                    raise SkillInputError(f"input {key!r} must be an integer, not {value!r}") from None
            elif kind == "boolean":
                if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise SkillInputError(f"input {key!r} must be true or false, not {value!r}")
                value = value.lower() in ("true", "yes", "1")
            elif kind == "array":
                value = [part.strip() for part in value.split(",") if part.strip()]
        bound[key] = value
    for key, spec in properties.items():
        if key not in bound and "default" in spec:
            bound[key] = spec["default"]
    missing = [key for key in schema.get("required", []) if key not in bound]
    if missing:
        raise SkillInputError(f"missing required input {missing[0]!r}")
    try:
        jsonschema.validate(bound, {"type": "object", "properties": properties})
    except jsonschema.ValidationError as error:
        where = ".".join(str(p) for p in error.absolute_path)
        raise SkillInputError(f"input {where}: {error.message}") from None
    return bound


def bind_inputs(skill: Skill, values: dict[str, Any]) -> dict[str, Any]:
    """Slot values for the skill's inputs: text for scalars, lines for arrays."""
    bound = bind_inputs_raw(skill.inputs, values)
    return {key: ([str(v) for v in value] if isinstance(value, list) else
                  ("true" if value is True else "false" if value is False else str(value))) for key, value in bound.items()}


def skill_policy(skill: Skill, run: Policy) -> Policy:
    """The skill's permissions intersected with the run's: what the skill may do here."""
    own = skill.policy(run.workspace)

    def roots(mine: tuple[str, ...], theirs: tuple[str, ...]) -> tuple[str, ...]:
        kept = [r for r in mine if any(path_within(r.strip("/") or ".", t) for t in theirs)]
        kept += [t for t in theirs if any(path_within(t.strip("/") or ".", r) for r in mine) and t not in kept]
        return tuple(kept)

    return replace(run, read=roots(own.read, run.read), write=roots(own.write, run.write),
                   exec=tuple(p for p in own.exec if p in run.exec), network=own.network and run.network)


def fits(skill: Skill, run: Policy) -> list[str]:
    """What the skill needs that the run's policy does not grant."""
    own, both = skill.policy(run.workspace), skill_policy(skill, run)
    problems = [f"exec {p}" for p in own.exec if p not in both.exec]
    problems += [f"write {r}" for r in own.write if not any(path_within(r.strip("/") or ".", w) for w in both.write)]
    if own.network and not both.network:
        problems.append("network")
    return problems


# ---- the registry -----------------------------------------------------------------


def skill_dirs(project: Path | None = None, config: Path | None = None) -> list[Path]:
    """The directories skills are loaded from, in precedence order, those that exist: the
    built-in skills, the project's (`project`/.babel/skills) and the user's (`config`/skills,
    where `config` is Babel's config directory). The application says where these are."""
    dirs = [data_dir("skills")]
    if project is not None:
        dirs.append(project / ".babel" / "skills")
    if config is not None:
        dirs.append(config / "skills")
    return [d for d in dirs if d.is_dir()]


#: The skills a plan may call, by name: `load_skills(dirs).skills`, made by the application
#: and passed down (to the compiler for its index, to the verifier and the vm as a
#: `babel.verify.SkillTable`).
SkillMap = Mapping[str, Skill]
#: No skills: what a caller that is given none works with (as `babel.verify.NO_SKILLS`).
NO_SKILLS: SkillMap = MappingProxyType({})


def skill_index(skills: SkillMap) -> str:
    """One line per skill: its name, its inputs (? when optional) and what it is for (the compiler's index)."""
    lines = []
    for skill in sorted(skills.values(), key=lambda s: s.name):
        required = skill.inputs.get("required", [])
        names = ", ".join(n if n in required else f"{n}?" for n in skill.inputs.get("properties", {}))
        lines.append(f"- {skill.name}({names}): {skill.description.splitlines()[0][:160]}")
    return "\n".join(lines)


@dataclass
class Registry:
    """The skills loaded from some directories, and the errors of the files that were skipped."""

    skills: dict[str, Skill] = field(default_factory=dict)
    errors: list[SkillError] = field(default_factory=list)


def load_skills(dirs: Iterable[Path]) -> Registry:
    """The skills in `dirs` (see `skill_dirs`); of two with one name, the first directory's wins."""
    registry = Registry()
    for directory in dirs:
        for path in sorted(directory.glob("*.yaml")):
            skill, errors = load_skill(path)
            registry.errors += errors
            if skill is not None and skill.name not in registry.skills:
                registry.skills[skill.name] = skill
    return registry


SCAFFOLD = """\
name: {name}
description: Describe what {name} does and when to use it, in one or two sentences.
inputs:
  properties:
    pattern: {{type: string, description: the regular expression to look for}}
    paths: {{type: array, description: where to look, default: ["."]}}
  required: [pattern]
permissions:
  read: ["."]
  exec: []
steps: |
  s1: hits = grep $pattern paths=$paths allow_empty=true
outputs:
  description: the matching lines, as path:line:text
examples:
  - setup: |
      printf 'hello\\nworld\\n' > a.txt
    inputs: {{pattern: world}}
    expect: {{contains: ["a.txt:2:world"]}}
"""


# ---- running and testing --------------------------------------------------------

def new_skill(name: str, directory: Path) -> Path:
    """Scaffold a valid skill file; refuses a bad name or an existing file."""
    if not NAME.match(name) or len(name) > 64:
        raise ValueError(f"{name!r} is not a skill name: lowercase letters, digits and single dashes, at most 64 characters")
    path = directory / f"{name}.yaml"
    if path.exists():
        raise FileExistsError(f"{path} already exists")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(SCAFFOLD.format(name=name), encoding="utf-8")
    return path
