"""The instruction set as data.

The opcode table lives in `isa/opcodes.json`; the parser, the verifier, the runtime,
the compiler's prompt and `docs/isa.md` all read it from here, so adding an opcode is
adding one entry to the table and its implementation in the executor. The encoding of
a step (id, op, args, out) is the same for every opcode, implemented or reserved, so
new families never change it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel.lang.resources import data_dir

SLOT_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
STEP_ID = r"^[A-Za-z_][A-Za-z0-9_-]*$"


@dataclass(frozen=True)
class Operand:
    name: str
    type: str
    required: bool
    doc: str
    default: Any = None
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Opcode:
    name: str
    family: str
    status: str  # "implemented" or "reserved"
    summary: str
    operands: Mapping[str, Operand]
    positional: tuple[str, ...]
    result: str
    result_when: Mapping[str, str]
    permission: str | None
    permission_when: str | None
    effects: bool
    effects_when: str | None
    failures: tuple[str, ...]
    exclusive: tuple[tuple[str, ...], ...]
    one_of: tuple[tuple[str, ...], ...]
    variadic: bool = False  # operands beyond the table's are allowed (a call's skill inputs)
    compiled: bool = True  # the compiler writes it (its prompt and decoding schema offer it)

    @property
    def implemented(self) -> bool:
        return self.status == "implemented"

    def result_type(self, given: set[str]) -> str:
        """The type of the slot this step writes, given the operand names present."""
        for operand, type_ in self.result_when.items():
            if operand in given:
                return type_
        return self.result

    def _when(self, condition: str | None, given: set[str]) -> bool:
        if condition is None:
            return True
        if condition.startswith("!"):
            return condition[1:] not in given
        return condition in given

    def needs_permission(self, given: set[str]) -> str | None:
        if self.permission is None or not self._when(self.permission_when, given):
            return None
        return self.permission

    def has_effects(self, given: set[str]) -> bool:
        return self.effects and self._when(self.effects_when, given)


@dataclass(frozen=True)
class ISA:
    version: int
    types: Mapping[str, str]
    operand_types: Mapping[str, str]
    failure_kinds: Mapping[str, str]
    opcodes: Mapping[str, Opcode]

    def implemented(self) -> list[Opcode]:
        return [op for op in self.opcodes.values() if op.implemented]

    def compiled(self) -> list[Opcode]:
        """The implemented opcodes the compiler writes (the model family is written by
        hand, or by an LPU program, until the compiler learns it)."""
        return [op for op in self.implemented() if op.compiled]


def _opcode(name: str, entry: Mapping[str, Any]) -> Opcode:
    operands = {
        key: Operand(
            name=key,
            type=spec["type"],
            required=bool(spec.get("required", False)),
            doc=spec.get("doc", ""),
            default=spec.get("default"),
            enum=tuple(spec["enum"]) if "enum" in spec else None,
        )
        for key, spec in entry.get("operands", {}).items()
    }
    return Opcode(
        name=name,
        family=entry["family"],
        status=entry["status"],
        summary=entry["summary"],
        operands=operands,
        positional=tuple(entry.get("positional", ())),
        result=entry.get("result", "none"),
        result_when=dict(entry.get("result_when", {})),
        permission=entry.get("permission"),
        permission_when=entry.get("permission_when"),
        effects=bool(entry.get("effects", False)),
        effects_when=entry.get("effects_when"),
        failures=tuple(entry.get("failures", ())),
        exclusive=tuple(tuple(group) for group in entry.get("exclusive", ())),
        one_of=tuple(tuple(group) for group in entry.get("one_of", ())),
        variadic=bool(entry.get("variadic", False)),
        compiled=bool(entry.get("compiler", True)),
    )


@lru_cache(maxsize=1)
def load_isa() -> ISA:
    raw = json.loads((data_dir("isa") / "opcodes.json").read_text(encoding="utf-8"))
    return ISA(
        version=raw["version"],
        types=raw["types"],
        operand_types=raw["operand_types"],
        failure_kinds=raw["failure_kinds"],
        opcodes={name: _opcode(name, entry) for name, entry in raw["opcodes"].items()},
    )


# ---- JSON Schemas -----------------------------------------------------------------

_SLOT_REF = {
    "type": "object",
    "properties": {"slot": {"type": "string", "pattern": SLOT_NAME}},
    "required": ["slot"],
    "additionalProperties": False,
}


def envelope_schema() -> dict[str, Any]:
    """The schema every plan satisfies, whatever its opcodes (isa/plan.schema.json).

    Operand checks are left to the verifier, which names the step and operand that is
    wrong far more clearly than a failed `oneOf` can.
    """
    value: dict[str, Any] = {
        "anyOf": [
            {"type": "string"},
            {"type": "integer"},
            {"type": "boolean"},
            {"$ref": "#/$defs/slot_ref"},
            {"type": "array", "items": {"$ref": "#/$defs/value"}},
        ]
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://babel.dev/isa/plan.schema.json",
        "title": "Babel plan",
        "type": "object",
        "properties": {
            "version": {"const": 1},
            "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
            "result": {"type": "string", "pattern": SLOT_NAME},
        },
        "required": ["steps"],
        "additionalProperties": False,
        "$defs": {
            "slot_ref": _SLOT_REF,
            "value": value,
            "step": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "pattern": STEP_ID},
                    "op": {"type": "string", "pattern": "^[a-z_]+$"},
                    "args": {"type": "object", "additionalProperties": {"$ref": "#/$defs/value"}},
                    "out": {"type": "string", "pattern": SLOT_NAME},
                },
                "required": ["op"],
                "additionalProperties": False,
            },
        },
    }


def _operand_schema(operand: Operand) -> dict[str, Any]:
    slot = {"$ref": "#/$defs/slot_ref"}
    literal: dict[str, Any]
    if operand.type == "bool":
        return {"type": "boolean"}
    if operand.type == "int":
        return {"type": "integer"}
    if operand.type == "argv":
        return {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 32}
    if operand.enum:
        return {"enum": list(operand.enum)}
    if operand.type in ("paths", "lines"):
        literal = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
        return {"anyOf": [*literal["anyOf"], slot]}
    return {"anyOf": [{"type": "string"}, slot]}


def model_schema(skill_names: tuple[str, ...] = (), *, every: bool = False) -> dict[str, Any]:
    """A strict schema of the opcodes the compiler writes (`every`: all implemented ones),
    for constrained decoding.

    It is generated from the table (isa/plan.strict.schema.json is a copy, checked by a
    test) so that the model can only emit steps whose operands exist; given the names of
    the installed skills, a call can only name one of them.
    """
    variants = []
    isa = load_isa()
    for op in isa.implemented() if every else isa.compiled():
        # an operand group of which exactly one must be given becomes one variant per
        # choice, so the model cannot write both (exec with cmd and argv) or neither
        choices: list[tuple[str, ...]] = [()]
        for group in op.one_of:
            choices = [(*chosen, name) for chosen in choices for name in group]
        excluded_by = {name for group in op.one_of for name in group}
        for chosen in choices:
            names = [n for n in op.operands if n not in excluded_by or n in chosen]
            args: dict[str, Any] = {
                "type": "object",
                "properties": {name: _operand_schema(op.operands[name]) for name in names},
                "required": [name for name in names if op.operands[name].required or name in chosen],
                "additionalProperties": False,
            }
            if op.variadic:  # a call's other operands are the skill's inputs
                args["additionalProperties"] = {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/slot_ref"},
                                                          {"type": "array", "items": {"type": "string"}}]}
                if skill_names and "skill" in args["properties"]:
                    args["properties"]["skill"] = {"enum": list(skill_names)}
            variants.append(_variant(op.name, args))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://babel.dev/isa/plan.strict.schema.json",
        "title": "Babel plan (implemented opcodes only)",
        "type": "object",
        "properties": {
            "steps": {"type": "array", "items": {"anyOf": variants}, "minItems": 1, "maxItems": 12},
            "result": {"type": "string", "pattern": SLOT_NAME},
        },
        "required": ["steps"],
        "additionalProperties": False,
        "$defs": {"slot_ref": _SLOT_REF},
    }


def _variant(op: str, args: dict[str, Any]) -> dict[str, Any]:
    # no step id: the parser numbers steps, and every token the model need not write
    # is time saved and a mistake it cannot make
    return {
        "type": "object",
        "properties": {"op": {"const": op}, "args": args, "out": {"type": "string", "pattern": SLOT_NAME}},
        "required": ["op", "args"],
        "additionalProperties": False,
    }


def schema_files() -> dict[str, dict[str, Any]]:
    """The schema files isa/ publishes, by file name."""
    return {"plan.schema.json": envelope_schema(), "plan.strict.schema.json": model_schema()}


def reference_markdown() -> str:
    """docs/isa.md, generated from the table (a test keeps the file in step with it)."""
    isa = load_isa()
    out = [
        "# The instruction set",
        "",
        "<!-- Generated from isa/opcodes.json by `python -m babel.lang.isa`; edit the table, not this file. -->",
        "",
        "A plan is a list of steps. Each step has an id, an opcode, operands and, optionally, the",
        "slot it writes. The same plan has two forms that round-trip (`babel fmt`):",
        "",
        "```",
        "s1: hits = grep \"password\\\\s*=\" paths=[\"src\"] ignore_case=true",
        "s2: count = exec \"wc -l\" stdin=$hits",
        "result $count",
        "```",
        "",
        "```json",
        '{"version": 1, "steps": [',
        '  {"id": "s1", "op": "grep", "args": {"pattern": "password\\\\s*=", "paths": ["src"], "ignore_case": true}, "out": "hits"},',
        '  {"id": "s2", "op": "exec", "args": {"cmd": "wc -l", "stdin": {"slot": "hits"}}, "out": "count"}],',
        ' "result": "count"}',
        "```",
        "",
        "Text form: `[id:] [slot =] opcode operand...`; operands are positional (in the order",
        "listed below as *positional*) or `name=value`; values are \"strings\" (JSON escapes; an",
        "unknown escape such as `\\s` stays as written), 'raw strings', integers, `true`/`false`,",
        "`$slot` references and `[lists]`; `#` starts a comment; `result $slot` names the result",
        "(otherwise it is the last step's value). The grammar is `isa/plan.lark`; the JSON Schema",
        "of the envelope is `isa/plan.schema.json`, and `isa/plan.strict.schema.json` (implemented",
        "opcodes and their operands only) is what the model's output is constrained to.",
        "",
        "## Value types",
        "",
        *[f"- `{name}`: {doc}" for name, doc in isa.types.items()],
        "",
        "## Operand types",
        "",
        *[f"- `{name}`: {doc}" for name, doc in isa.operand_types.items()],
        "",
        "## Failure kinds",
        "",
        "A failed step reports exactly one of these; the control loop steers by them.",
        "",
        *[f"- `{name}`: {doc}" for name, doc in isa.failure_kinds.items()],
        "",
        "## Opcodes",
        "",
    ]
    for op in isa.implemented():
        out += [f"### `{op.name}`", "", op.summary, "", "| operand | type | required | default | meaning |", "|---|---|---|---|---|"]
        for operand in op.operands.values():
            default = "" if operand.default is None else f"`{json.dumps(operand.default)}`"
            kind = operand.type + (f" ({' / '.join(operand.enum)})" if operand.enum else "")
            out.append(f"| `{operand.name}` | {kind} | {'yes' if operand.required else 'no'} | {default} | {operand.doc} |")
        result = op.result + "".join(f"; `{t}` when `{o}=` is given" for o, t in op.result_when.items())
        permission = op.permission or "none"
        if op.permission_when:
            cond = op.permission_when
            permission += f" (only {'without' if cond.startswith('!') else 'with'} `{cond.lstrip('!')}=`)"
        out += [
            "",
            f"- positional: {', '.join(op.positional) or 'none'}",
            f"- result: `{result}`",
            f"- permission: {permission}",
            f"- effects: {'yes' + (f' (with `{op.effects_when}=`)' if op.effects_when else '') if op.effects else 'none'}",
            f"- failures: {', '.join(f'`{f}`' for f in op.failures)}",
        ]
        for group in op.one_of:
            out.append(f"- exactly one of: {', '.join(f'`{n}=`' for n in group)}")
        for group in op.exclusive:
            out.append(f"- at most one of: {', '.join(f'`{n}=`' for n in group)}")
        if not op.compiled:
            out.append("- written by the compiler: not yet (plans written by hand use it; `babel do` does not offer it to the model)")
        out.append(f"- handler: `babel/verify/ops/{op.family}.py`")
        out.append("")
    out += ["## Reserved families", "", "These opcodes are in the table so that the encoding already has room for them; the",
            "verifier rejects them (`E_OPCODE_RESERVED`) until they are implemented.", "",
            "| opcode | family | meaning |", "|---|---|---|"]
    out += [f"| `{op.name}` | {op.family} | {op.summary} |" for op in isa.opcodes.values() if not op.implemented]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # regenerate the files generated from the table
    isa_dir = data_dir("isa")
    for name, schema in schema_files().items():
        (isa_dir / name).write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    (isa_dir.parent / "docs" / "isa.md").write_text(reference_markdown(), encoding="utf-8")
