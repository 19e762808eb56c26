"""Model ops: the model as an ALU over an explicit context (infer, eval, select).

The runs use the real sandbox and the real embedded model's answers (Qwen2.5-Coder-1.5B:
the 0.5B answers yes/no questions about a text near chance), recorded once in
tests/cassettes/model_ops.json (re-record: BABEL_RECORD=1 python -m pytest tests/test_model_ops.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from babel.lang import Plan, parse_plan
from babel.model import CassetteClient, ModelClient
from babel.verify import Policy, verify
from babel.vm import ALU, Memo, run_plan
from tests.conftest import cassette_client, make_files

CASSETTE = Path(__file__).parent / "cassettes" / "model_ops.json"

CLAIM = "Order 1142 arrived broken. The box was crushed and the glass is in pieces. I want my money back.\n"
PLAN = """\
s1: claim = read "claim.txt"
s2: damaged = eval "Does the customer say the item arrived damaged?" context=$claim
s3: kind = select "What does the customer ask for?" options=["a refund", "a replacement", "nothing"] context=[$claim]
s4: order = infer "Write only the order number the customer gives." context=$claim max_tokens=8
"""


def client() -> ModelClient:
    return cassette_client(CASSETTE)


def plan_of(text: str) -> Plan:
    parsed = parse_plan(text)
    assert parsed.plan is not None, parsed.diagnostics
    return parsed.plan


def codes(text: str) -> list[str]:
    return [d.code for d in verify(plan_of(text), Policy()) if d.is_error]


def test_the_verifier_checks_model_ops_like_any_other() -> None:
    assert codes(PLAN) == []
    assert "E_BUDGET_TOKENS" in codes('s1: x = infer "say hi" max_tokens=5000')
    assert "E_ARG_INVALID" in codes('s1: x = select "pick" options=["only one"]')
    assert "E_ARG_INVALID" in codes('s1: x = select "pick" options=["a", "a"]')
    assert "E_SLOT_UNDEFINED" in codes('s1: x = eval "is it?" context=$nothing')
    assert "E_ARG_MISSING" in codes("s1: x = eval context=\"text\"")


def _run(workspace: Path, memo: Memo, model: ModelClient | None) -> Any:
    from babel.sandbox.docker import DockerSandbox

    with DockerSandbox(workspace) as box:
        return run_plan(plan_of(PLAN), box, Policy(), alu=ALU(model, memo) if model is not None else None)


def test_model_ops_answer_over_their_context_and_a_rerun_replays_them(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"claim.txt": CLAIM})
    memo = Memo(tmp_path / "memo.sqlite")
    first = _run(workspace, memo, client())
    assert first.ok, first.steps
    damaged, kind, order = (first.steps[i] for i in (1, 2, 3))
    assert first.slots["damaged"] == "yes" and first.slots["kind"] == "a refund" and "1142" in first.slots["order"]
    assert 0.5 <= damaged.detail["confidence"] <= 1 and kind.detail["confidence"] == max(kind.detail["probabilities"].values())
    assert abs(sum(kind.detail["probabilities"].values()) - 1) < 1e-3
    assert order.detail["context_tokens"] > 20 and 0 < order.detail["tokens_out"] <= 8
    assert {s.detail["memo"] for s in (damaged, kind, order)} == {"miss"}

    class NoModel(CassetteClient):
        def submit(self, requests: Any) -> Any:
            raise AssertionError("a rerun must replay from the memo")

    again = _run(workspace, Memo(tmp_path / "memo.sqlite"), NoModel(CASSETTE) if CASSETTE.exists() else None)
    assert again.ok and again.result == first.result
    assert {again.steps[i].detail["memo"] for i in (1, 2, 3)} == {"hit"}


def test_a_model_op_without_a_model_fails_with_model_error_and_says_why(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"claim.txt": CLAIM})
    result = _run(workspace, Memo(), None)
    failed = result.failed_step()
    assert not result.ok and failed is not None and failed.id == "s2" and failed.failure == "model_error"
    assert failed.message and "no model" in failed.message


def test_babel_run_loads_the_model_for_a_plan_that_asks_it(docker_ready: None, workspace: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    make_files(workspace, {"claim.txt": CLAIM})
    plan = tmp_path / "claim.plan"
    plan.write_text(PLAN)
    env = {**os.environ, "BABEL_BACKEND": "cassette", "BABEL_CASSETTE": str(CASSETTE), "BABEL_STATE_DIR": str(tmp_path / "state"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("BABEL_RECORD", None)
    done = subprocess.run([sys.executable, "-m", "babel.cli", "run", str(plan), "--root", str(workspace)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1142" in done.stdout
    assert (tmp_path / "state" / "model-ops.sqlite").is_file()  # the answers are memoised for a rerun
