"""The output checker: verdicts in the vote, `output_rejected`, refine rounds, and the
real model's judgement (recorded from the embedded 1.5B model with BABEL_RECORD=1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from babel.compiler.checker import QUESTIONS, Verdict, check_chat, output_checker, shown_output, verdicts
from babel.compiler.compile import Compilation, parse_candidate, refine_with_outputs
from babel.compiler.decode import DryRun, check_factor, decode
from babel.lang.plan import Plan
from babel.model import Capabilities, Completion, ModelRequest, ModelResult, Sampling
from babel.verify.policy import Policy
from tests.conftest import cassette_client, make_files

CASSETTE = Path(__file__).parent / "cassettes" / "checker.json"


def cand(index: int, cmd: str, origin: str = "sample") -> object:
    text = json.dumps({"steps": [{"op": "exec", "args": {"cmd": cmd}}]})
    return parse_candidate(index, origin if origin == "greedy" else f"{origin} #{index}", text, Policy(), None, 10)


def cmd_of(plan: Plan | None) -> str:
    assert plan is not None
    return str(plan.steps[0].args["cmd"])


OUTPUTS = {"cat a": "x\ny\nz", "wc -l < a": "3", "false": None}


def dry(plan: Plan) -> DryRun:
    out = OUTPUTS[cmd_of(plan)]
    return DryRun(False, None, "nonzero_exit") if out is None else DryRun(True, out)


def judge(good: dict[str, float]) -> object:
    """A checker that gives each output the probability `good` names (0.5 for others), and
    records what it was asked."""
    asked: list[list[tuple[str, str]]] = []

    def check(judged: list[tuple[str, str]]) -> list[Verdict | None]:
        asked.append(judged)
        return [Verdict(good.get(output, 0.5), ()) for _, output in judged]

    check.asked = asked  # type: ignore[attr-defined]
    return check


def test_the_verdict_moves_the_vote_away_from_an_output_it_rejects() -> None:
    both = Compilation("tell me about a", (cand(0, "cat a", "greedy"), cand(1, "wc -l < a")))  # type: ignore[arg-type]
    assert cmd_of(decode(both, dry).plan) == "cat a"  # the greedy bonus alone (no shape asked for)
    checker = judge({"x\ny\nz": 0.1, "3": 0.9})
    decision = decode(both, dry, checker=checker)  # type: ignore[arg-type]
    assert cmd_of(decision.plan) == "wc -l < a" and not decision.rejected
    assert sorted(checker.asked[0]) == [("cat a", "x\ny\nz"), ("wc -l < a", "3")]  # type: ignore[attr-defined]
    verdict = decision.summary()["groups"][0]["verdict"]  # type: ignore[index]
    assert verdict == {"p": 0.9, "votes": []}
    assert "the output checker judged its output an answer to the request (P = 0.90)" in decision.reason


def test_a_winner_the_checker_rejects_is_output_rejected_and_failed_runs_are_not_judged() -> None:
    both = Compilation("how many lines does a have?", (cand(0, "cat a", "greedy"), cand(1, "false")))  # type: ignore[arg-type]
    checker = judge({"x\ny\nz": 0.2})
    decision = decode(both, dry, checker=checker)  # type: ignore[arg-type]
    assert cmd_of(decision.plan) == "cat a" and decision.rejected and decision.summary()["rejected"] is True
    assert checker.asked == [[("cat a", "x\ny\nz")]]  # type: ignore[attr-defined]  # the failed dry run printed nothing to judge


def test_a_checker_with_no_verdict_leaves_the_vote_as_it_was() -> None:
    both = Compilation("req", (cand(0, "cat a", "greedy"), cand(1, "wc -l < a")))  # type: ignore[arg-type]
    decision = decode(both, dry, checker=lambda judged: [None] * len(judged))
    assert cmd_of(decision.plan) == "cat a" and not decision.rejected and decision.groups[0].verdict is None
    assert check_factor(None) == 1.0 and check_factor(Verdict(0.0, ())) == pytest.approx(0.05)


def test_the_checker_sees_a_page_of_a_long_output_not_all_of_it() -> None:
    long = "\n".join(f"line {n}" for n in range(100))
    shown = shown_output(long)
    assert shown.startswith("line 0\n") and "line 19" in shown and "line 20" not in shown
    assert shown.endswith("[... 100 lines in all, the first 20 shown]")
    assert shown_output("") == "(no output)" and shown_output("3\n") == "3"
    chats = [check_chat("count", "/w", "wc -l < a", "3", q) for q, _ in QUESTIONS]
    assert chats[0][:1] == chats[1][:1] and chats[0][1]["content"].split("\n\n")[0] == chats[1][1]["content"].split("\n\n")[0]


class Scripted:
    """A model that compiles `first` until it is shown what the plans printed, then
    `second`, and judges an output good when it is `right` (a stand-in for the model in
    a test of the refine loop's plumbing: the real model's judgement is tested below)."""

    name = "scripted"
    capabilities = Capabilities(generate_many=False, schema=False, score=True)
    sampling = Sampling()

    def __init__(self, first: str, second: str, right: str) -> None:
        self.first, self.second, self.right = first, second, right
        self.prompts: list[str] = []

    def submit(self, requests: list[ModelRequest]) -> list[ModelResult]:
        answers = []
        for r in requests:
            last = r.chats[0][-1]["content"]
            if r.target is not None:  # the checker's yes/no: "yes" where the output shown is the right one
                yes = f"Output:\n{self.right}\n\n" in last
                answers.append(ModelResult(score=-0.1 if (r.target.lower() == "yes") == yes else -4.0))
                continue
            self.prompts.append(last)
            cmd = self.second if "Earlier plans for this request ran" in last else self.first
            plan = json.dumps({"steps": [{"op": "exec", "args": {"cmd": cmd}}]})
            answers.append(ModelResult(tuple(Completion(plan, 10, 5, -1.0, "m", 0.0) for _ in r.samples)))
        return answers

    def close(self) -> None:
        pass


def test_refine_shows_the_model_what_the_plans_printed_and_their_verdict() -> None:
    model = Scripted("cat a", "wc -l < a", "3")
    first = Compilation("how many lines does a have?", (cand(0, "cat a", "greedy"),))  # type: ignore[arg-type]
    more = refine_with_outputs(first, [("cat a", "x\ny\nz", 0.12)], model, k=1)  # type: ignore[arg-type]
    assert len(more.candidates) == 2 and more.candidates[1].origin == "refine1 greedy" and more.candidates[1].greedy
    asked = model.prompts[0]
    assert "Command:\ncat a\nIt printed:\nx\ny\nz\n" in asked and "P(right) = 0.12" in asked
    assert cmd_of(more.candidates[1].plan) == "wc -l < a"


def test_compile_and_decode_refines_a_rejected_answer_in_the_real_sandbox(sandbox: object, workspace: Path) -> None:
    from babel.app.pipeline import compile_and_decode

    make_files(workspace, {"a": "x\ny\nz\n"})
    policy = Policy()
    model = Scripted("cat a", "wc -l < a", "3")
    _, decision = compile_and_decode("how many lines does a have?", model, sandbox, policy, k=3, refine=1)  # type: ignore[arg-type]
    assert decision.rounds == 1 and cmd_of(decision.plan) == "wc -l < a" and not decision.rejected
    assert decision.groups[0].outcome is not None and (decision.groups[0].outcome.result or "").strip() == "3"
    assert sum("Earlier plans" in p for p in model.prompts) == 1
    first = decision.summary()["refines"][0]  # type: ignore[index]
    assert first["rejected"]["result"].strip() == "x\ny\nz" and first["rejected"]["p"] < 0.5
    assert first["candidates"] == [3, 4, 5] and first["completion_tokens"] == 15 and first["unchecked"]["members"] == [0, 1, 2]
    # switched off: the first answer stands, unjudged
    model = Scripted("cat a", "wc -l < a", "3")
    _, decision = compile_and_decode("how many lines does a have?", model, sandbox, policy, k=3, check_outputs=False)  # type: ignore[arg-type]
    assert decision.rounds == 0 and cmd_of(decision.plan) == "cat a" and decision.groups[0].verdict is None
    # refine off (the default): judged and rejected, not compiled again
    model = Scripted("cat a", "wc -l < a", "3")
    _, decision = compile_and_decode("how many lines does a have?", model, sandbox, policy, k=3)  # type: ignore[arg-type]
    assert decision.rounds == 0 and decision.rejected and len(model.prompts) == 1


CASES = [  # (request, command, output, is it the answer?)
    ("how many lines does notes.txt have?", "wc -l < notes.txt", "3", True),
    ("how many lines does notes.txt have?", "cat notes.txt", "alpha\nbeta\ngamma", False),
    ("list the .py files under src, sorted", "find src -name '*.py' | sort", "src/app.py\nsrc/auth.py\nsrc/db.py", True),
    ("list the .py files under src, sorted", "ls src", "README.md\napp.py\nauth.py\ndb.py\nstatic", False),
]


def test_the_embedded_model_judges_a_right_output_above_a_wrong_one() -> None:
    model = cassette_client(CASSETTE)
    found = [verdicts(model, request, "/workspace", [(command, output)])[0] for request, command, output, _ in CASES]
    assert all(v is not None and len(v.votes) == len(QUESTIONS) for v in found)
    for n in (0, 2):  # per request: its right output above its wrong one
        right, wrong = found[n], found[n + 1]
        assert right is not None and wrong is not None and right.probability > wrong.probability, (CASES[n][0], right, wrong)
    # and the closure the pipeline uses gives the same, judging a pair once
    check = output_checker(model, CASES[0][0], "/workspace")
    assert check is not None
    again = check([(CASES[0][1], CASES[0][2]), (CASES[0][1], CASES[0][2])])
    assert again[0] == again[1] == found[0]
