"""The two plan forms parse to the same Plan, print back, and never raise on bad input."""

from __future__ import annotations

import json

import pytest

from babel.lang.isa import load_isa, reference_markdown, schema_files
from babel.lang.plan import SlotRef, canonical, canonical_key, parse_plan, to_json, to_text
from babel.lang.resources import data_dir

TEXT = '''# find passwords, count them
s1: hits = grep "password\\s*=" paths=["src"] ignore_case=true
s2: n = exec "wc -l" stdin=$hits   # trailing comment
s3: write "report.txt" $n append=true
result $n
'''


def test_text_form_parses_into_steps_with_slots_and_positions() -> None:
    parsed = parse_plan(TEXT)
    assert parsed.diagnostics == []
    plan = parsed.plan
    assert plan is not None and [s.op for s in plan.steps] == ["grep", "exec", "write"]
    assert plan.steps[0].args["pattern"] == "password\\s*="  # unknown escapes stay as written
    assert plan.steps[1].args["stdin"] == SlotRef("hits")
    assert plan.steps[2].args == {"path": "report.txt", "value": SlotRef("n"), "append": True}
    assert (plan.steps[1].line, plan.steps[1].column) == (3, 1)
    assert plan.result == "n"


def test_text_and_json_round_trip() -> None:
    plan = parse_plan(TEXT).plan
    assert plan is not None
    assert parse_plan(to_text(plan)).plan == plan
    assert parse_plan(json.dumps(to_json(plan))).plan == plan
    assert to_text(parse_plan(to_text(plan)).plan) == to_text(plan)  # type: ignore[arg-type]


def test_raw_strings_and_a_slot_named_result() -> None:
    plan = parse_plan("result = grep '\\d+' in=$x\nresult $result\n").plan
    assert plan is not None
    assert plan.steps[0].out == "result" and plan.steps[0].args["pattern"] == "\\d+"
    assert plan.result == "result"


def test_missing_ids_are_numbered() -> None:
    plan = parse_plan('read "a"\nread "b"\n').plan
    assert plan is not None and [s.id for s in plan.steps] == ["s1", "s2"]


@pytest.mark.parametrize(
    ("source", "code", "line"),
    [
        ('s1: read "a.txt" "b" "c"', "E_ARG_POSITIONAL", 1),
        ("\n\nx = = read", "E_SYNTAX", 3),
        ('read "unterminated', "E_SYNTAX", 1),
        ("read a.txt", "E_SYNTAX", 1),
        ('{"steps": [{"op": 3}]}', "E_SCHEMA", None),
        ('{"steps": [{"op": "read", "args": {}, "bogus": 1}]}', "E_SCHEMA", None),
        ("{not json", "E_JSON", 1),
        (b"\xff\xfe read", "E_ENCODING", 1),
        ("read \"a\"\x00", "E_ENCODING", 1),
        (b'read "a"\nread "\xff"', "E_ENCODING", 2),
        ("read \"a\udc80\"", "E_ENCODING", 1),
        ('read "\\udc80"', "E_ENCODING", 1),
        ("[" * 100_000, "E_JSON", 1),
        ('{"steps": [' + "[" * 100_000, "E_JSON", 1),
        ("read " + "[" * 100_000, "E_SYNTAX", 1),
        ('read "a"\nread ' + "[" * 40 + '"a"' + "]" * 40, "E_SYNTAX", 2),
        ('{"steps": [{"op": "exec", "args": {"cmd": "ls", "timeout": ' + "9" * 5000 + "}}]}", "E_JSON", None),
        ('result "x"', "E_SYNTAX", 1),
    ],
)
def test_bad_input_is_a_diagnostic_with_a_location(source: str | bytes, code: str, line: int | None) -> None:
    parsed = parse_plan(source)
    assert parsed.plan is None
    assert parsed.diagnostics[0].code == code
    assert parsed.diagnostics[0].line == line


def test_a_bare_list_of_steps_is_accepted_as_json() -> None:
    plan = parse_plan('[{"op": "read", "args": {"path": "a"}, "out": "x"}]').plan
    assert plan is not None and plan.steps[0].id == "s1"


def test_canonical_form_ignores_ids_slot_names_defaults_and_path_spelling() -> None:
    a = parse_plan('one: src = read "./src//a.py" encoding="utf-8"\ntwo: hits = grep "x" in=$src ignore_case=false\n').plan
    b = parse_plan('s1: text = read "src/a.py"\ns2: found = grep pattern="x" in=$text\nresult $found\n').plan
    assert a is not None and b is not None
    assert canonical_key(a) == canonical_key(b)
    c = parse_plan('s1: text = read "src/b.py"\ns2: found = grep "x" in=$text\n').plan
    assert c is not None and canonical_key(c) != canonical_key(a)


def test_canonical_drops_slots_nothing_reads() -> None:
    plan = parse_plan('a = read "x"\nb = read "y"\n').plan
    assert plan is not None
    assert [s.out for s in canonical(plan).steps] == [None, "v1"]


def test_published_schemas_and_reference_match_the_table() -> None:
    isa_dir = data_dir("isa")
    for name, schema in schema_files().items():
        assert json.loads((isa_dir / name).read_text()) == schema, f"isa/{name} is stale: run python -m babel.lang.isa"
    assert (isa_dir.parent / "docs" / "isa.md").read_text() == reference_markdown(), "docs/isa.md is stale: run python -m babel.lang.isa"


def test_every_implemented_opcode_documents_what_the_issue_asks() -> None:
    isa = load_isa()
    kinds = set(isa.failure_kinds)
    assert {"not_found", "permission_denied", "timeout", "nonzero_exit", "empty_match", "invalid_output", "output_too_large"} <= kinds
    for op in isa.implemented():
        assert op.operands and op.result and op.failures and set(op.failures) <= kinds
    assert {"read", "write", "grep", "exec"} <= {op.name for op in isa.implemented()}
    assert {"model", "memory", "control", "process"} <= {op.family for op in isa.opcodes.values()}
