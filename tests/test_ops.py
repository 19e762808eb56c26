"""One definition per opcode: every implemented opcode has exactly one handler (in its
family's module), one schema variant and one docs entry; nothing outside the handler
table dispatches on an opcode's name; and implementing a reserved opcode takes its
handler in its family's module and its status in the table, nothing more."""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import babel.lang.isa as isa_module
from babel.lang import Plan, Step, load_isa, model_schema, parse_plan
from babel.verify import Policy, verify
from babel.verify import ops as ops_module
from babel.verify.ops import FAMILIES, OPS, Handler, Machine, Outcome, TableError, build_table
from babel.verify.ops import control as control_family
from babel.vm import run_plan

ROOT = Path(__file__).resolve().parents[1]


def _executor() -> Any:
    spec = importlib.util.spec_from_file_location("babel_executor_for_ops", ROOT / "sandbox" / "executor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_implemented_opcode_has_one_handler_in_its_family_module() -> None:
    isa = load_isa()
    registered = Counter(name for handlers in FAMILIES.values() for name in handlers)
    for opcode in isa.opcodes.values():
        if opcode.implemented:
            assert registered[opcode.name] == 1, f"{opcode.name} has {registered[opcode.name]} handlers"
            assert opcode.name in FAMILIES[opcode.family], f"{opcode.name}'s handler is not in the {opcode.family} module"
            assert OPS[opcode.name].op == opcode.name
        else:
            assert registered[opcode.name] == 0, f"reserved {opcode.name} has a handler"
    assert set(FAMILIES) == {o.family for o in isa.opcodes.values()}


def test_every_implemented_opcode_has_one_schema_variant_per_choice_and_one_docs_entry() -> None:
    variants = model_schema(every=True)["properties"]["steps"]["items"]["anyOf"]
    per_op = Counter(v["properties"]["op"]["const"] for v in variants)
    docs = (ROOT / "docs" / "isa.md").read_text(encoding="utf-8")
    for opcode in load_isa().implemented():
        choices = 1
        for group in opcode.one_of:
            choices *= len(group)
        assert per_op[opcode.name] == choices, f"{opcode.name}: {per_op[opcode.name]} schema variants"
        assert len(re.findall(rf"^### `{opcode.name}`$", docs, re.M)) == 1, f"{opcode.name} has no single docs entry"
    assert set(per_op) == {o.name for o in load_isa().implemented()}


def test_the_executor_serves_every_wire_op_the_handlers_send() -> None:
    wire = _executor().WIRE_OPS
    for name, handler in OPS.items():
        if handler.wire is not None:
            assert handler.wire in wire, f"{name} sends {handler.wire!r}, which the executor does not serve"


def test_the_table_refuses_a_handler_that_disagrees_with_opcodes_json() -> None:
    class Stray(Handler):
        op = "ret"

    with pytest.raises(TableError, match="does not implement"):
        build_table(load_isa(), {**FAMILIES, "control": {**FAMILIES["control"], "ret": Stray()}})
    with pytest.raises(TableError, match="without a handler"):
        build_table(load_isa(), {**FAMILIES, "core": {k: v for k, v in FAMILIES["core"].items() if k != "grep"}})
    with pytest.raises(TableError, match="registered in the core module"):
        build_table(load_isa(), {**FAMILIES, "core": {**FAMILIES["core"], "call": FAMILIES["control"]["call"]}})


def _compared_names(tree: ast.AST) -> list[tuple[int, str]]:
    """`x.op == "name"`, `op in ("a", "b")` and the like: dispatch on an opcode's name."""
    names = set(load_isa().opcodes)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        about_op = any((isinstance(s, ast.Attribute) and s.attr == "op") or (isinstance(s, ast.Name) and s.id == "op") for s in sides)
        literals = [c.value for s in sides for c in ast.walk(s) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        if about_op and any(value in names for value in literals):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_nothing_outside_the_handler_table_dispatches_on_an_opcode_name() -> None:
    table = ROOT / "babel" / "verify" / "ops"
    wrong = [f"{path.relative_to(ROOT)}:{line}: {text}"
             for path in sorted((ROOT / "babel").rglob("*.py")) if table not in path.parents
             for line, text in _compared_names(ast.parse(path.read_text(encoding="utf-8")))]
    assert not wrong, "dispatch by opcode name outside babel/verify/ops:\n" + "\n".join(wrong)
    assert _compared_names(ast.parse('if step.op == "exec": pass')), "the scan must see a dispatch"


class Ret(Handler):
    """A stand-in for implementing the reserved `ret`: its value is the plan's result."""

    op = "ret"

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        return Outcome(str(args["value"]))


class NoSandbox:
    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError(f"ret needs no sandbox, yet sent {request}")


def test_implementing_a_reserved_opcode_needs_only_its_family_module_and_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.loads((ROOT / "isa" / "opcodes.json").read_text(encoding="utf-8"))
    table = copy.deepcopy(raw)
    table["opcodes"]["ret"].update({
        "status": "implemented", "operands": {"value": {"type": "value", "required": True, "doc": "the result"}},
        "positional": ["value"], "result": "text", "effects": False, "failures": [],
    })
    (tmp_path / "isa").mkdir()
    (tmp_path / "isa" / "opcodes.json").write_text(json.dumps(table), encoding="utf-8")
    monkeypatch.setattr(isa_module, "data_dir", lambda name: tmp_path / name)  # the table, edited
    load_isa.cache_clear()
    try:
        monkeypatch.setitem(control_family.HANDLERS, "ret", Ret())  # the family module, edited
        monkeypatch.setattr(ops_module, "OPS", build_table(load_isa()))  # the table as built at import
        parsed = parse_plan('s1: x = read "a.txt"\ns2: ret "done"')
        assert parsed.plan is not None, parsed.diagnostics
        assert [d.code for d in verify(parsed.plan, Policy()) if d.is_error] == []
        assert "ret" in {v["properties"]["op"]["const"] for v in model_schema()["properties"]["steps"]["items"]["anyOf"]}  # compiled
        plan = Plan((Step("s1", "ret", {"value": "done"}),))
        result = run_plan(plan, NoSandbox(), Policy())
        assert result.ok and result.result == "done"
    finally:
        monkeypatch.undo()
        load_isa.cache_clear()
    assert "ret" not in OPS
