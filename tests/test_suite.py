"""The public suite is well-formed, varied, and every task is solvable as written."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from babel.app.evaluate import SuiteError, TaskResult, iter_summary, load_suite

SUITE = Path(__file__).resolve().parents[1] / "bench" / "suite"


def test_the_suite_has_enough_varied_tasks() -> None:
    tasks = load_suite(SUITE)
    assert len(tasks) >= 40
    tags = Counter(tag for task in tasks for tag in task.tags)
    assert {"search", "count", "extract", "edit", "code"} <= set(tags)
    assert sum(task.workspace != "/workspace" for task in tasks) >= 4
    assert any("files" in task.expect for task in tasks) and any("output_of" in task.expect for task in tasks)


HOLDOUT = SUITE.parent / "holdout"
BLIND = SUITE.parent / "blind"


@pytest.mark.parametrize("suite", [SUITE, HOLDOUT, BLIND], ids=["public", "holdout", "blind"])
def test_every_reference_solution_meets_its_expectations(suite: Path) -> None:
    spec = importlib.util.spec_from_file_location("check_suite", SUITE / "check_suite.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import yaml

    references = {raw["id"]: raw["reference"] for file in suite.glob("*.yaml") for raw in yaml.safe_load(file.read_text())}
    failures = [task.id for task in load_suite(suite) if not module.check_task(task, references[task.id])[0]]
    assert failures == []


@pytest.mark.parametrize(("content", "message"), [
    ("- id: a\n  request: r\n", "'expect' needs"),
    ("- id: a\n  request: r\n  expect: {output: '1'}\n  colour: red\n", "unknown key 'colour'"),
    ("- id: a\n  request: r\n  expect: {smell: '1'}\n", "unknown expectation 'smell'"),
    ("- id: a\n  request: r\n  expect: {output: '1'}\n- id: a\n  request: r\n  expect: {output: '1'}\n", "used twice"),
    ("- id: a\n  request: r\n  workspace: relative\n  expect: {output: '1'}\n", "absolute directory"),
    ("- id: a\n  request: [unclosed\n", "not valid YAML"),
])
def test_bad_suites_are_reported_by_file_and_task(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "t.yaml").write_text(content)
    with pytest.raises(SuiteError, match=message) as error:
        load_suite(tmp_path)
    assert "t.yaml" in str(error.value)


def test_a_jsonl_suite_is_read_too(tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "x", "request": "r", "setup": "true", "expect": {"output": "1"}}\n\n{"id": "y", "request": "r", "expect": {"contains": "z"}}\n')
    tasks = load_suite(suite)
    assert [t.id for t in tasks] == ["x", "y"] and tasks[1].expect["contains"] == ["z"]
    (tmp_path / "bad.jsonl").write_text("{nope\n")
    with pytest.raises(SuiteError, match="bad.jsonl:1"):
        load_suite(tmp_path / "bad.jsonl")


def test_the_summary_says_what_repair_changed_and_ends_with_the_counts() -> None:
    def task(name: str, passed: bool, repairs: int = 0, before: bool | None = None) -> TaskResult:
        return TaskResult(name, passed, None, None, "", 1.0, repairs=repairs, passed_without_repair=passed if before is None else before)

    results = [task("a", True), task("b", True, 1, False), task("c", False, 2, True), task("d", False, 1, False), task("e", False)]
    lines = list(iter_summary(results))
    assert lines == ["repair acted in 3 tasks: 1 fixed, 1 broken; without repair the same plans would have passed 2",
                     "2 passed, 3 failed"]
    assert list(iter_summary([task("a", True)])) == ["1 passed, 0 failed"]
