"""The decoder: weighted vote over canonical plans and, given dry runs, over their outputs."""

from __future__ import annotations

import json

import pytest

from babel.compiler.compile import Compilation, parse_candidate
from babel.compiler.decode import DryRun, decode
from babel.lang.plan import Plan, to_text
from babel.verify.policy import Policy


def cand(index: int, cmd: str, origin: str = "sample", logprob: float | None = None) -> object:
    text = json.dumps({"steps": [{"op": "exec", "args": {"cmd": cmd}}]})
    return parse_candidate(index, "greedy" if origin == "greedy" else f"sample #{index}", text, Policy(), logprob, 10)


def compilation(*cands: object) -> Compilation:
    return Compilation("req", tuple(cands))  # type: ignore[arg-type]


def cmd_of(plan: Plan | None) -> str:
    assert plan is not None
    return str(plan.steps[0].args["cmd"])


def test_invalid_candidates_are_dropped_and_reported() -> None:
    bad = parse_candidate(0, "greedy", '{"steps": [{"op": "exec", "args": {"cmd": "nmap x"}}]}', Policy())
    garbage = parse_candidate(1, "sample", "this is not json", Policy())
    decision = decode(compilation(bad, garbage))
    assert decision.plan is None and decision.valid == 0
    assert decision.diagnostics and decision.diagnostics[0].code in ("E_EXEC_NOT_ALLOWED", "E_MODEL_OUTPUT", "E_SYNTAX")


def test_the_greedy_candidate_wins_a_tie_of_distinct_plans() -> None:
    decision = decode(compilation(cand(0, "wc -l < a", "greedy"), cand(1, "cat a | wc -l"), cand(2, "grep -c . a")))
    assert decision.chosen == 0 and cmd_of(decision.plan) == "wc -l < a"


def test_equivalent_plans_vote_together() -> None:
    decision = decode(compilation(cand(0, "wc -l a", "greedy"), cand(1, "grep -c x a"), cand(2, "grep -c x a"), cand(3, "grep -c x a")))
    assert cmd_of(decision.plan) == "grep -c x a" and len(decision.groups[0].members) == 3


def test_agreement_by_execution_groups_different_plans_with_the_same_output() -> None:
    outputs = {"wc -l < a": "3", "tail -n +1 a | wc -l": "3", "cat a": "x\ny\nz", "grep -c . a": "3"}

    def dry(plan: Plan) -> DryRun:
        return DryRun(True, outputs[cmd_of(plan)])

    decision = decode(compilation(cand(0, "cat a", "greedy"), cand(1, "wc -l < a"), cand(2, "tail -n +1 a | wc -l"), cand(3, "grep -c . a")), dry)
    assert decision.groups[0].plans == 3 and decision.plan is not None and cmd_of(decision.plan) != "cat a"
    assert "3 of 4 candidates produced the same output" in decision.reason


def test_a_greedy_plan_whose_dry_run_fails_loses_to_a_working_sample() -> None:
    def dry(plan: Plan) -> DryRun:
        return DryRun(False, None, "nonzero_exit") if cmd_of(plan) == "false" else DryRun(True, "42")

    decision = decode(compilation(cand(0, "false", "greedy"), cand(1, "echo 42")), dry)
    assert cmd_of(decision.plan) == "echo 42"


def test_an_empty_output_counts_for_less_than_a_real_one() -> None:
    def dry(plan: Plan) -> DryRun:
        return DryRun(True, "" if cmd_of(plan) == "true" else "answer")

    decision = decode(compilation(cand(0, "true", "greedy"), cand(1, "echo answer")), dry)
    assert cmd_of(decision.plan) == "echo answer"


def test_the_summary_reports_the_vote() -> None:
    decision = decode(compilation(cand(0, "wc -l < a", "greedy"), cand(1, "wc -l < a")))
    summary = decision.summary()
    assert summary["valid"] == 2 and summary["total"] == 2 and "2 of 2" in str(summary["reason"])
    assert to_text(decision.plan).strip().endswith('exec "wc -l < a"')  # type: ignore[arg-type]


def test_when_no_candidate_is_valid_the_model_is_asked_again_with_the_diagnostics() -> None:
    from babel.compiler.compile import retry_with_diagnostics
    from babel.model import Capabilities, Completion, ModelRequest, ModelResult, Sampling

    class Recorded:
        name = "recorded"
        capabilities = Capabilities(generate_many=False, schema=False, score=False)
        sampling = Sampling()

        def __init__(self) -> None:
            self.seen: list[str] = []

        def submit(self, requests: list[ModelRequest]) -> list[ModelResult]:
            self.seen += [r.chats[0][-1]["content"] for r in requests]
            plan = json.dumps({"steps": [{"op": "exec", "args": {"cmd": "wc -l < a"}}]})
            return [ModelResult(tuple(Completion(plan, 1, 1, -1.0, "m", 0.0) for _ in r.samples)) for r in requests]

        def close(self) -> None:
            pass

    first = compilation(cand(0, "nmap a", "greedy"))
    assert decode(first).plan is None
    model = Recorded()
    second = retry_with_diagnostics(first, model, k=1)
    assert "E_EXEC_NOT_ALLOWED" in model.seen[0] and "nmap" in model.seen[0]
    decision = decode(second)
    assert decision.plan is not None and cmd_of(decision.plan) == "wc -l < a" and second.model_calls == 1


@pytest.mark.parametrize(("cmd", "polished"), [
    ("wc -l poem.txt", "wc -l < poem.txt"),
    ("grep x f | wc -w notes.txt", "grep x f | wc -w < notes.txt"),
    ("wc -l a b", "wc -l a b"),
    ("find . -type f -name '*.md' | sort", "find . -type f -name '*.md' | sed 's|^\\./||' | sort"),
    ("grep -rl TODO . | sort", "grep -rl TODO . | sed 's|^\\./||' | sort"),
    ("grep -rl TODO . | sed 's|^\\./||' | sort", "grep -rl TODO . | sed 's|^\\./||' | sort"),
    ("grep -rn 'a|b' .", "grep -rn 'a|b' . | sed 's|^\\./||'"),
    ("find . -printf '%P\\n'", "find . -printf '%P\\n'"),
    ("find src -name x", "find src -name x"),
    # Perl's \\d is a plain d to grep -E, sed and awk: POSIX [0-9]
    ("grep -nE 'port\\s*=\\s*\\d+' app.yaml", "grep -nE 'port\\s*=\\s*[0-9]+' app.yaml"),
    ("sed -E 's/[\\d.]+/N/' f", "sed -E 's/[0-9.]+/N/' f"),
    ("grep -E '\\[\\d\\]' f", "grep -E '\\[[0-9]\\]' f"),
    ("grep -oP '\\d+' f", "grep -oP '\\d+' f"),
    # -name sees base names only: a pattern with a directory meant -path
    ("find . -type f -name 'src/*' | sort", "find . -type f -path './src/*' | sed 's|^\\./||' | sort"),
    ("find src -name 'core/*.py'", "find src -path 'src/core/*.py'"),
    # -exec without its terminator is "missing argument to -exec": it meant \;
    ("find /testbed/home -type d -exec basename {}", "find /testbed/home -type d -exec basename {} \\;"),
    ("find src -type f -exec basename {} | sort", "find src -type f -exec basename {} \\; | sort"),
    ("find src -exec wc -l {} +", "find src -exec wc -l {} +"),
    ("find src -name x -exec rm {} \\;", "find src -name x -exec rm {} \\;"),
])
def test_output_format_peepholes(cmd: str, polished: str) -> None:
    from babel.compiler.compile import polish
    from babel.lang.plan import parse_plan

    plan = parse_plan("exec " + json.dumps(cmd)).plan
    assert plan is not None and polish(plan, "how many? list them, as paths relative to the workspace").steps[0].args["cmd"] == polished


def test_find_keeps_its_dot_slash_unless_relative_paths_are_asked_for() -> None:
    from babel.compiler.compile import polish
    from babel.lang.plan import parse_plan

    plan = parse_plan('exec "find . -type f -empty"').plan
    assert plan is not None
    assert polish(plan, "find all empty files in the current directory").steps[0].args["cmd"] == "find . -type f -empty"
    assert polish(plan, "list the empty files relative to the workspace").steps[0].args["cmd"] == "find . -type f -empty | sed 's|^\\./||'"


def test_the_reviewer_moves_the_vote_toward_the_plan_that_explains_the_request() -> None:
    seen: list[list[str]] = []

    def review(plans: list[Plan]) -> list[float]:
        seen.append([cmd_of(p) for p in plans])
        return [-30.0 if cmd_of(p) == "find . -type f" else -10.0 for p in plans]

    both = compilation(cand(0, "find . -type f", "greedy"), cand(1, "find . -type f -mtime -7"))
    assert cmd_of(decode(both).plan) == "find . -type f"  # without the reviewer the greedy plan wins the tie
    decision = decode(both, review=review)
    assert cmd_of(decision.plan) == "find . -type f -mtime -7" and len(seen[0]) == 2
    assert sorted(r for g in decision.groups for r in g.reviews if r is not None) == [-30.0, -10.0]
    # a reviewer that cannot answer leaves the vote as it was
    assert cmd_of(decode(both, review=lambda plans: None).plan) == "find . -type f"


def test_wc_keeps_its_file_names_unless_only_the_number_is_asked_for() -> None:
    from babel.compiler.compile import polish
    from babel.lang.plan import parse_plan

    plan = parse_plan('exec "wc -l notes.txt"').plan
    assert plan is not None
    assert polish(plan, "count the lines in notes.txt").steps[0].args["cmd"] == "wc -l notes.txt"
    assert polish(plan, "how many lines does notes.txt have?").steps[0].args["cmd"] == "wc -l < notes.txt"
    assert polish(plan, "lines in notes.txt, print only the number").steps[0].args["cmd"] == "wc -l < notes.txt"


def test_a_question_is_answered_by_a_read_only_plan_even_one_whose_dry_run_failed() -> None:
    def dry(plan: Plan) -> DryRun | None:
        return None if "-i" in cmd_of(plan) else DryRun(False, None, "nonzero_exit")

    both = compilation(cand(0, "sed 's/http://https://g' urls.txt", "greedy"), cand(1, "sed 's/http://https://g' urls.txt"),
                       cand(2, "sed -i 's/http/https/g' urls.txt"))
    decision = decode(both, dry)  # the request ("req") asks for no change: the failing read-only plan is repaired later
    assert "-i" not in cmd_of(decision.plan)
