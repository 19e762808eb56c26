"""`filter`: each item of a list judged alone by the model, phrasings voting or a
calibrated checklist; plans and skills built on `units` and `filter`.

The runs use the real sandbox and the real embedded model's answers (Qwen2.5-Coder-1.5B),
recorded once in tests/cassettes/filter.json (re-record: BABEL_RECORD=1 python -m pytest
tests/test_filter.py). How well a review built on them finds auth bugs is measured by
bench/bench_authbugs.py on services written for it (bench/authbugs/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from babel.lang import Plan, parse_plan
from babel.model import CassetteClient, ModelClient
from babel.verify import Policy, asks_model, verify
from babel.vm import ALU, Memo, run_plan
from tests.conftest import cassette_client, make_files

CASSETTE = Path(__file__).parent / "cassettes" / "filter.json"

FILES = {
    "app/keys.py": (
        "import hmac\n\n\n"
        "def valid_key(given, stored):\n"
        "    return hmac.compare_digest(given.encode(), stored.encode())\n\n\n"
        "def is_admin(request):\n"
        "    return request.headers.get('X-Admin') == 'yes'\n"
    ),
    "app/math.py": "def add(a, b):\n    return a + b\n",
}
PLAN = """\
s1: found = units "app" match="key|admin"
s2: bad = filter $found prompt=["Does this code trust the client to say who is an administrator?", \
"Can a user make themselves an administrator by sending a header?"] min_confidence=60 reasons=["trusts a client header", "compares keys unsafely"]
"""


def client() -> ModelClient:
    return cassette_client(CASSETTE)


def plan_of(text: str) -> Plan:
    parsed = parse_plan(text)
    assert parsed.plan is not None, parsed.diagnostics
    return parsed.plan


def _run(workspace: Path, text: str, memo: Memo, model: ModelClient, on_event: Any = None) -> Any:
    from babel.sandbox.docker import DockerSandbox

    with DockerSandbox(workspace) as box:
        return run_plan(plan_of(text), box, Policy(), alu=ALU(model, memo), on_event=on_event)


def test_filter_judges_each_unit_alone_and_keeps_what_the_votes_say(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, FILES)
    memo = Memo(tmp_path / "memo.sqlite")
    result = _run(workspace, PLAN, memo, client())
    assert result.ok, result.steps
    judged = result.steps[1].detail
    assert [(i["path"], i["line"]) for i in judged["items"]] == [("app/keys.py", 4), ("app/keys.py", 8)]  # math.py never matched
    for item in judged["items"]:
        assert len(item["votes"]) == 2 and item["score"] == pytest.approx(sum(item["votes"]) / 2, abs=1e-3)
    kept = result.slots["bad"]
    assert [(k["path"], k["line"]) for k in kept] == [(i["path"], i["line"]) for i in judged["items"] if i["score"] >= 0.6]
    assert [k["line"] for k in kept] == [8]  # the header check, not the constant-time compare
    assert kept[0]["text"] == "[trusts a client header] def is_admin(request):" and kept[0]["why"] == "trusts a client header"
    assert judged["model_calls"] == 2 * 2 + 1  # two votes for each unit, one reason for the kept one

    class NoModel(CassetteClient):
        def submit(self, requests: Any) -> Any:
            raise AssertionError("a rerun must replay from the memo")

    again = _run(workspace, PLAN, Memo(tmp_path / "memo.sqlite"), NoModel(CASSETTE) if CASSETTE.exists() else client())
    assert again.ok and again.slots["bad"] == kept and again.steps[1].detail["memo_hits"] == 5


def test_votes_uses_the_first_phrasings_only_and_progress_is_live(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    from babel.lang import StepOutput

    make_files(workspace, FILES)
    events: list[Any] = []
    result = _run(workspace, PLAN.replace("min_confidence=60", "votes=1 min_confidence=60"), Memo(), client(), events.append)
    assert result.ok, result.steps
    said = [e.text for e in events if isinstance(e, StepOutput) and e.id == "s2"]
    assert said == ["judging 1 of 2: app/keys.py:4\n", "judging 2 of 2: app/keys.py:8\n"]
    assert all(len(item["votes"]) == 1 for item in result.steps[1].detail["items"])


CHECKLIST = """\
s1: found = units "app" match="key|admin|add"
s2: bad = filter $found mode="any" calibrate=true min_confidence=5 prompt=["Does this code trust the client to say who is an administrator?", \
"Does this code compare secret keys with == instead of a constant-time compare?"] reasons=["trusts a client header", "compares keys unsafely"]
"""


def test_a_calibrated_checklist_keeps_what_stands_out_from_the_other_items(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, FILES)
    result = _run(workspace, CHECKLIST, Memo(), client())
    assert result.ok, result.steps
    detail = result.steps[1].detail
    assert detail["mode"] == "any" and detail["calibrated"] and len(detail["medians"]) == 2
    for item in detail["items"]:  # the score is the best question's lift over that question's median
        assert item["score"] == pytest.approx(max(v - m for v, m in zip(item["votes"], detail["medians"], strict=True)), abs=1e-3)
    assert sum(1 for i in detail["items"] if i["score"] > 0) <= 1  # a lift over the median: at most one of three stands out
    kept = result.slots["bad"]
    assert [k["line"] for k in kept] == [i["line"] for i in detail["items"] if i["score"] >= 0.05]
    assert all(k["why"] in ("trusts a client header", "compares keys unsafely") for k in kept)
    assert detail["model_calls"] == 3 * 2  # a checklist's reasons are its questions' labels: no further call


def test_filter_is_checked_before_it_runs() -> None:
    def codes(text: str) -> list[str]:
        return [d.code for d in verify(plan_of(text), Policy()) if d.is_error]

    assert codes(PLAN) == []
    assert "E_ARG_INVALID" in codes(PLAN.replace("min_confidence=60", "votes=0"))
    assert "E_ARG_INVALID" in codes(PLAN.replace("min_confidence=60", "min_confidence=100"))
    assert "E_ARG_INVALID" in codes(PLAN.replace('reasons=["trusts a client header", "compares keys unsafely"]', 'reasons=["only one"]'))
    assert "E_ARG_INVALID" in codes(PLAN.replace('prompt=["Does', 'prompt=[" ", "Does'))
    assert "E_SLOT_UNDEFINED" in codes('s1: x = filter $nothing prompt="is it?"')
    assert codes(CHECKLIST) == []
    assert "E_ARG_INVALID" in codes(CHECKLIST.replace('mode="any"', 'mode="all"'))
    assert "E_ARG_INVALID" in codes(CHECKLIST.replace('reasons=["trusts a client header", ', 'reasons=['))
    assert asks_model(plan_of(PLAN))


def test_the_review_example_plan_passes_the_verifier() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "examples" / "review-auth.plan").read_text()
    assert codes_of(text) == [] and asks_model(plan_of(text))


def codes_of(text: str) -> list[str]:
    return [d.code for d in verify(plan_of(text), Policy()) if d.is_error]


SKILL = """\
name: admin-header
description: Find code that lets the client say who is an administrator, judged by the model function by function.
inputs: {properties: {}}
permissions:
  read: ["."]
steps: |
  %s
examples:
  - setup: |
      mkdir -p app
      printf 'import hmac\\n\\n\\ndef valid_key(given, stored):\\n    return hmac.compare_digest(given.encode(), stored.encode())\\n\\n\\n' > app/keys.py
      printf "def is_admin(request):\\n    return request.headers.get('X-Admin') == 'yes'\\n" >> app/keys.py
      printf 'def add(a, b):\\n    return a + b\\n' > app/math.py
    expect: {output: "app/keys.py:8:[trusts a client header] def is_admin(request):"}
"""


def test_a_skill_with_model_ops_runs_its_examples_with_the_model(docker_ready: None, tmp_path: Path) -> None:
    from babel.app.evaluate import run_examples
    from babel.sandbox.docker import started
    from babel.skills import load_skill

    path = tmp_path / "admin-header.yaml"
    path.write_text(SKILL % PLAN.replace("\n", "\n  ").rstrip())
    skill, problems = load_skill(path)
    assert skill is not None, problems
    without = run_examples(skill, started)
    assert not without[0].passed and "model_error" in without[0].reason
    results = run_examples(skill, started, alu=ALU(client()))
    assert results[0].passed, results[0].reason
    # a plan that calls it asks the model too (so `babel do`, `run` and `eval` give it one), one that calls another skill does not
    from babel.app import Paths, load_skill_table

    table = {**load_skill_table(Paths.from_env()).skills, "admin-header": skill}
    assert asks_model(plan_of('s1: found = call "admin-header"'), table)
    assert not asks_model(plan_of('s1: found = call "find-auth-bug"'), table)
