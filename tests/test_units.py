"""Source files split into units (babel.lang.units), and the `units` opcode in the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from babel.lang import language, parse_plan, split_units
from babel.verify import Policy, verify
from babel.vm import run_plan

PYTHON = '''"""Accounts."""
import os

SECRET = os.environ["S"]


@app.route("/login", methods=["POST"])
@limit(5)
def login():
    user = find(request.form["name"])
    return user


class Small:
    def a(self):
        return 1


async def later():
    await thing()
'''


def test_python_functions_start_at_their_decorators_and_top_level_code_is_grouped() -> None:
    units = split_units("app/accounts.py", PYTHON)
    assert [(u.line, u.end, u.name) for u in units] == [
        (1, 4, "top level"), (7, 11, "def login"), (14, 16, "class Small"), (19, 20, "def later")]
    assert units[1].text.splitlines()[0] == '@app.route("/login", methods=["POST"])'
    assert units[1].record()["text"] == '@app.route("/login", methods=["POST"])'
    assert units[1].record()["code"] == units[1].text


def test_a_large_python_class_is_split_into_its_methods() -> None:
    methods = "\n".join(f"    def m{i}(self):\n" + "".join(f"        x{j} = {j}\n" for j in range(8)) for i in range(8))
    units = split_units("big.py", "class Big:\n    kind = 1\n\n" + methods)
    names = [u.name for u in units]
    assert names[0] == "class Big" and names[1:] == [f"Big.m{i}" for i in range(8)]
    assert all(u.end - u.line < 60 for u in units)


def test_a_long_function_is_cut_into_parts_not_truncated() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(130))
    units = split_units("long.py", "def long():\n" + body, max_lines=60)
    assert [(u.line, u.end, u.name) for u in units] == [(1, 60, "def long (part 1)"), (61, 120, "def long (part 2)"),
                                                       (121, 131, "def long (part 3)")]
    assert "\n".join(u.text for u in units) == ("def long():\n" + body).rstrip("\n")


JS = '''const express = require("express");
const router = express.Router();

// a comment with a brace {
router.get("/notes/:id", requireLogin, async (req, res) => {
  const note = await db.get(req.params.id);
  const label = `id ${note.id} }`;
  res.json(note);
});

function isOwner(user, note) {
  return note.owner === user.id; /* } */
}

module.exports = router;
'''


def test_javascript_handlers_and_functions_by_bracket_depth_skipping_strings_and_comments() -> None:
    units = split_units("src/notes.js", JS)
    assert [(u.line, u.end) for u in units] == [(1, 2), (5, 9), (11, 13), (15, 15)]
    assert units[1].name.startswith('router.get("/notes/:id"')


def test_a_large_javascript_class_is_split_into_its_methods() -> None:
    methods = "".join(f"  m{i}(a) {{\n" + "".join(f"    const x{j} = a + {j};\n" for j in range(8)) + "  }\n" for i in range(8))
    units = split_units("svc.ts", "class Service {\n" + methods + "}\n")
    assert [u.name for u in units] == [f"m{i}(a) {{" for i in range(8)]


def test_unbalanced_or_unknown_text_falls_back_to_windows() -> None:
    text = "".join(f"line {i} {{\n" for i in range(50))
    units = split_units("broken.js", text)
    assert [(u.line, u.end, u.name) for u in units] == [(1, 40, "lines"), (41, 50, "lines")]
    assert [(u.line, u.end) for u in split_units("bad.py", "def (:\n  pass\n")] == [(1, 2)]


def test_what_counts_as_source() -> None:
    assert language("app/x.py") == "python" and language("web/a.tsx") == "brace"
    assert language("README.md") is None and language("node_modules/x/index.js") is None
    assert language("static/app.min.js") is None and language(".git/hooks/x.py") is None


def test_the_units_op_reads_through_the_sandbox_and_keeps_matching_units(docker_ready: None, workspace: Path) -> None:
    from babel.sandbox import started

    (workspace / "app").mkdir()
    (workspace / "app" / "accounts.py").write_text(PYTHON)
    (workspace / "app" / "math.py").write_text("def add(a, b):\n    return a + b\n")
    (workspace / "node_modules").mkdir()
    (workspace / "node_modules" / "lib.js").write_text("function login() {}\n")
    (workspace / "notes.md").write_text("login here\n")
    plan = parse_plan('s1: found = units "." match="login|secret"').plan
    assert plan is not None and not verify(plan, Policy())
    with started(workspace) as box:
        result = run_plan(plan, box, Policy())
    assert result.ok, result.steps
    units = result.slots["found"]
    assert [(u["path"], u["line"], u["end"]) for u in units] == [("app/accounts.py", 1, 4), ("app/accounts.py", 7, 11)]
    assert result.steps[0].detail == {"files": 1, "units": 2}


def test_the_units_op_is_checked_before_it_runs() -> None:
    plan = parse_plan('s1: found = units "." max_lines=5 limit=0').plan
    assert plan is not None
    codes = [d.code for d in verify(plan, Policy())]
    assert codes.count("E_ARG_INVALID") == 2
    plan = parse_plan('s1: found = units "." max_lines="lots"').plan
    assert plan is not None
    assert [(d.code, d.message) for d in verify(plan, Policy())] == [("E_TYPE_MISMATCH", "max_lines= takes int, not str 'lots'")]


@pytest.mark.parametrize("text", ['s1: found = units "." match="("', 's1: found = units "." exclude="[a-"',
                                  's1: found = grep "(" paths=["."]'])
def test_a_pattern_that_is_not_a_regular_expression_is_found_before_anything_runs(text: str) -> None:
    plan = parse_plan(text).plan
    assert plan is not None
    found = [d for d in verify(plan, Policy()) if d.code == "E_ARG_INVALID"]
    assert len(found) == 1 and "is not a regular expression" in found[0].message and found[0].line == 1


def test_a_fixed_pattern_and_a_slots_pattern_are_not_read_as_regular_expressions() -> None:
    plan = parse_plan('s1: p = write value="("\ns2: a = grep "(" paths=["."] fixed=true\ns3: b = units "." match=$p').plan
    assert plan is not None
    assert not [d for d in verify(plan, Policy()) if d.code == "E_ARG_INVALID"]


@pytest.mark.parametrize("path", ["../etc", "/etc"])
def test_the_units_op_cannot_look_outside_the_workspace(path: str) -> None:
    plan = parse_plan(f's1: found = units "{path}"').plan
    assert plan is not None
    assert any(d.code.startswith("E_PATH") or d.code.startswith("E_PERMISSION") for d in verify(plan, Policy()))
