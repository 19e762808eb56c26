"""Answer shapes a request asks for, and the decoder preferring candidates that have them."""

from __future__ import annotations

import json

import pytest

from babel.compiler.compile import Candidate, Compilation
from babel.compiler.decode import DryRun, decode, has_effects
from babel.compiler.intent import wants_edit
from babel.compiler.shape import checks_for, result_problem
from babel.lang.plan import Plan, parse_plan
from babel.skills.table import load_skills, skill_dirs


@pytest.mark.parametrize(("request_text", "shapes"), [
    ("how many lines are in poem.txt?", ["a number"]),
    ("what is the average score? print it with one decimal", ["a number", "one decimal"]),
    ("list the class names in models.py, sorted", ["sorted lines"]),
    ("which files are the largest? sorted, largest first", ["sorted lines", "file paths"]),
    ("does any file contain FIXME? answer yes or no", ["yes or no"]),
    ("show the first 5 lines of poem.txt", []),
    ("list the files that mention how many users there are", []),
    ("print the lines of notes.txt that mention 'deadline'", ["lines, not a count", "lines with the quoted text"]),
    ("which file is the largest? print only its file name", ["names without directories", "one line", "file paths"]),
    ("list the markdown files relative to the workspace", ["relative paths"]),
    ("on which line numbers does malloc appear?", ["numbers, one per line"]),
    ("extract the email addresses from contacts.txt", ["email addresses"]),
    ("which IP address appears most often? print only the address", ["one line", "IP addresses"]),
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


@pytest.mark.parametrize(("request_text", "output", "holds"), [
    ("print the lines of notes.txt that mention 'deadline'", "DEADLINE friday\nthe deadline moved\n", True),
    ("print the lines of notes.txt that mention 'deadline'", "notes.txt\n", False),
    ("which file is the largest? print only its file name", "big.bin\n", True),
    ("which file is the largest? print only its file name", "data/big.bin\n", False),
    ("which file is the largest? print only its file name", "big.bin\nsmall.txt\n", False),
    ("list the markdown files relative to the workspace", "./README.md\n", False),
    ("on which line numbers does malloc appear?", "3\n5\n", True),
    ("on which line numbers does malloc appear?", "3:  p = malloc(1);\n", False),
    ("print the email column of users.csv", "ann@x.org\nbo@y.org\n", True),
    ("print the email column of users.csv", "Ann\nBo\n", False),
    ("what is the average score? print it with one decimal", "81.7\n", True),
    ("what is the average score? print it with one decimal", "81.67\n", False),
])
def test_shape_checks_tell_right_outputs_from_wrong_ones(request_text: str, output: str, holds: bool) -> None:
    assert all(check.holds(output) for check in checks_for(request_text)) is holds


def test_result_problems_name_what_is_wrong_and_let_right_answers_pass() -> None:
    assert result_problem("how many lines are in poem.txt?", "5\n") is None
    assert "a number" in (result_problem("how many lines are in poem.txt?", "5 poem.txt\n") or "")
    assert "zero" in (result_problem("how many TODO comments are there?", "0\n") or "")
    assert "nothing" in (result_problem("show me the config", "  \n") or "")
    assert result_problem("show me the config", "port: 8080\n") is None


def test_a_question_is_not_an_edit() -> None:
    assert not wants_edit("which files are empty? list their names")
    assert not wants_edit("print the lines of names.txt sorted alphabetically")
    assert wants_edit("sort the lines of words.txt alphabetically, in place")
    assert wants_edit("replace every occurrence of localhost with db.internal in database.yaml")


def test_the_decoder_prefers_answering_a_question_over_changing_files() -> None:
    def candidate(index: int, text: str) -> Candidate:
        plan = parse_plan(text).plan
        assert plan is not None
        return Candidate(index, "greedy" if index == 0 else f"sample #{index}", "", plan, ())

    compilation = Compilation("print the lines of names.txt sorted with duplicates removed",
                              (candidate(0, 'exec "sort -u names.txt -o names.txt"'), candidate(1, 'exec "sort -u names.txt -o names.txt"'),
                               candidate(2, 'exec "sort -u names.txt"')))
    skills = load_skills(skill_dirs()).skills
    decision = decode(compilation, lambda plan: None if has_effects(plan, skills) else DryRun(True, "alice\nbob\n"))  # as the real dry runner
    assert decision.plan is not None and decision.plan.steps[0].args["cmd"] == "sort -u names.txt"


@pytest.mark.parametrize(("request_text", "cmd", "mount", "missed"), [
    ("Find files bigger than 10 kilobytes in /testbed/data", "find /testbed/data -type f -size +100k", "/testbed", ["the number 10"]),
    ("Find files bigger than 10 kilobytes in /testbed/data", "find /testbed/data -type f -size +10k", "/testbed", []),
    ("Find files bigger than 10 kilobytes in /testbed/data", "find data -type f -size +10k", "/testbed", []),
    ("print the name of the largest file in /testbed/media", "find . -type f | sort | head -n 1", "/testbed", ["the directory /testbed/media"]),
    ("find all .txt files in /testbed", "find . -name '*.txt'", "/testbed", ["the directory /testbed"]),
    ("list all empty directories in the current directory tree", "find /testbed -type d -empty", "/testbed", ["the current directory"]),
    ("list all empty directories in the current directory tree", "find . -type d -empty", "/testbed", []),
    ("how many data rows does reports/q3.csv have?", "tail -n +2 reports/q3.csv | wc -l", "/workspace", []),
    ("print lines 3 through 6 of notes.txt", "sed -n '3,6p' notes.txt", "/workspace", []),
])
def test_a_plan_that_leaves_out_what_the_request_names(request_text: str, cmd: str, mount: str, missed: list[str]) -> None:
    from babel.compiler.shape import plan_misses

    found = plan_misses(request_text, cmd, mount)
    assert len(found) == len(missed) and all(f.startswith(m) for f, m in zip(found, missed, strict=True))


def test_the_vote_prefers_the_plan_that_keeps_the_requests_number() -> None:
    def candidate(index: int, cmd: str, origin: str) -> Candidate:
        plan = parse_plan("exec " + json.dumps(cmd)).plan
        return Candidate(index, origin, cmd, plan, ())

    request = "find files bigger than 10 kilobytes in data"
    decision = decode(Compilation(request, (candidate(0, "find data -size +100k", "greedy"), candidate(1, "find data -size +10k", "sample #1"))))
    assert decision.chosen == 1 and decision.misses[0] and not decision.misses[1]
