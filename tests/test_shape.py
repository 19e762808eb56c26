"""Answer shapes a request asks for, and the decoder preferring candidates that have them."""

from __future__ import annotations

import json

import pytest

from babel.compile import Candidate, Compilation
from babel.decode import DryRun, decode
from babel.plan import Plan, parse_plan
from babel.shape import checks_for


@pytest.mark.parametrize(("request_text", "shapes"), [
    ("how many lines are in poem.txt?", ["a number"]),
    ("what is the average score? print it with one decimal", ["a number"]),
    ("list the class names in models.py, sorted", ["sorted lines"]),
    ("which files are the largest? sorted, largest first", ["sorted lines"]),
    ("does any file contain FIXME? answer yes or no", ["yes or no"]),
    ("show the first 5 lines of poem.txt", []),
    ("list the files that mention how many users there are", []),
])
def test_requests_imply_shapes(request_text: str, shapes: list[str]) -> None:
    assert [c.name for c in checks_for(request_text)] == shapes


def test_sorted_means_ascending_unless_the_request_says_otherwise() -> None:
    ascending = checks_for("list them sorted")[0]
    assert ascending.holds("a\nb\nc") and not ascending.holds("c\nb\na") and ascending.holds("2 x\n10 y")
    descending = checks_for("sorted by size, largest first")[0]
    assert descending.holds("300 a\n20 b") and not descending.holds("20 b\n300 a")


def test_the_decoder_prefers_the_candidate_with_the_asked_for_shape() -> None:
    outputs = {"wc -l poem.txt": "5 poem.txt\n", "wc -l < poem.txt": "5\n"}

    def candidate(index: int, cmd: str) -> Candidate:
        plan = parse_plan("exec " + json.dumps(cmd)).plan  # unpolished, to test the vote alone
        assert plan is not None
        return Candidate(index, "greedy" if index == 0 else f"sample #{index}", "", plan, ())

    def dry(plan: Plan) -> DryRun:
        return DryRun(True, outputs[str(plan.steps[0].args["cmd"])])

    compilation = Compilation("how many lines are in poem.txt?", (candidate(0, "wc -l poem.txt"), candidate(1, "wc -l < poem.txt")))
    decision = decode(compilation, dry)
    assert decision.plan is not None and decision.plan.steps[0].args["cmd"] == "wc -l < poem.txt"
    assert "a number" in decision.reason
