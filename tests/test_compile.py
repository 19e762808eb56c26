"""The compiler with recorded model responses: prompt layout, candidates, parsing.

The responses in tests/cassettes/compile.json were recorded from the embedded model
(Qwen2.5-Coder-0.5B) with BABEL_RECORD=1; replaying them makes these tests
deterministic and fast. A change to the prompt changes the requests, and then the
replay fails loudly (no recording for that request) until the cassette is re-recorded:
a recording never answers a request it has not seen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from babel.compiler.compile import STABLE_MESSAGES, WorkspaceFacts, build_messages, compile_request, hinted, layout
from babel.compiler.decode import decode
from babel.model import CassetteClient
from babel.skills import load_skills, skill_dirs
from babel.verify.policy import Policy
from tests.conftest import cassette_client

CASSETTE = Path(__file__).parent / "cassettes" / "compile.json"
SKILLS = load_skills(skill_dirs()).skills  # the built-in skills, whose index the recorded prompts show
FACTS = WorkspaceFacts(files=("reports/q3.csv", "logs/app.log", "src/auth.py"),
                       heads=(("reports/q3.csv", "region,total\nnorth,10"),))
REQUESTS = [
    "how many data rows does reports/q3.csv have, not counting the header?",
    "count the ERROR lines in logs/app.log",
    "find hard-coded passwords in src",
]




def client() -> CassetteClient:
    return cassette_client(CASSETTE, "qwen2.5-coder-0.5b", STABLE_MESSAGES)


def test_the_prompt_prefix_is_byte_identical_across_requests() -> None:
    a = build_messages(REQUESTS[0], FACTS, Policy())
    b = build_messages(REQUESTS[1], WorkspaceFacts(files=("x",)), Policy())
    fixed = 1 + 2 * 5  # the system prompt and the fixed examples
    assert a[:fixed] == b[:fixed]
    assert a[-1]["content"].endswith(f"Request: {REQUESTS[0]}") and "reports/q3.csv" in a[-1]["content"]
    assert "Qwen" not in a[0]["content"] and "exec(" in a[0]["content"]  # the opcode reference comes from the table


@pytest.mark.parametrize("request_text", REQUESTS)
def test_recorded_candidates_parse_verify_and_decode(request_text: str) -> None:
    compilation = compile_request(request_text, client(), k=3, facts=FACTS, skills=SKILLS)
    assert len(compilation.candidates) == 3 and compilation.candidates[0].origin == "greedy"
    assert compilation.model_calls == 1 and compilation.completion_tokens > 0
    assert compilation.candidates[0].plan is not None
    for candidate in compilation.candidates:
        # a sample may still run out of tokens mid-JSON: that is a diagnostic, not a crash
        assert candidate.plan is not None or candidate.diagnostics[0].code == "E_MODEL_OUTPUT"
    decision = decode(compilation, skills=SKILLS)
    assert decision.plan is not None and decision.valid >= 1


def test_the_recorded_greedy_plans_are_the_expected_ones() -> None:
    rows = compile_request(REQUESTS[0], client(), k=3, facts=FACTS, skills=SKILLS).candidates[0].plan
    errors = compile_request(REQUESTS[1], client(), k=3, facts=FACTS, skills=SKILLS).candidates[0].plan
    assert rows is not None and "tail -n +2 reports/q3.csv" in str(rows.steps[0].args.get("cmd"))
    assert errors is not None and "ERROR" in str(errors.steps[0].args)


def test_candidates_are_laid_out_greedy_first_and_variants_only_when_asked() -> None:
    assert layout(1, 0.7, True) == [(0, 0.0)]
    assert layout(3, 0.7, False) == [(0, 0.0), (0, 0.7), (0, 0.7)]
    assert layout(5, 0.7, True) == [(0, 0.0), (0, 0.7), (1, 0.0), (0, 0.7), (1, 0.7)]
    messages = build_messages("how many lines are in a.txt?", WorkspaceFacts(files=("a.txt",)), Policy())
    variant = hinted(messages, "how many lines are in a.txt?")
    assert variant[:-1] == messages[:-1] and variant[-1]["content"].startswith(messages[-1]["content"])
    assert variant[-1]["content"].endswith("The output must be: a number.")


def test_every_worked_example_is_a_plan_the_verifier_accepts() -> None:
    from babel.compiler.examples import LIBRARY
    from babel.lang.plan import plan_from_json
    from babel.verify.check import verify

    policy = Policy(write=(".",))
    for _files, request, plan in LIBRARY:
        parsed = plan_from_json(plan)
        assert parsed.plan is not None, request
        errors = [d for d in verify(parsed.plan, policy, skills=SKILLS) if d.is_error]
        assert not errors, f"{request}: {errors[0].code}: {errors[0].message}"


def test_retrieved_examples_are_shown_at_the_requests_mount_point() -> None:
    messages = build_messages("find all .txt files under /testbed/notes", WorkspaceFacts(mount="/testbed", files=("notes/a.txt",)),
                              Policy(workspace="/testbed"))
    retrieved = "\n".join(m["content"] for m in messages[1 + 2 * 5: -1])
    assert "find /testbed/docs -type f -name '*.txt'" in retrieved and "/workspace/docs" not in retrieved
    # the fixed examples, part of the cached prefix, are not rewritten
    assert messages[1]["content"].startswith("Workspace: /workspace")


def test_rare_words_weigh_more_in_choosing_examples() -> None:
    from babel.compiler.examples import nearest

    closest = nearest("find all executable files under the src directory", count=1)[0]
    assert "executable" in closest[1]
