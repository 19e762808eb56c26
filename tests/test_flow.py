"""Control flow: labels are step ids; `jump`, `branch` (a bool, a comparison, a model op's
confidence) and `halt` move control; a loop needs a bound the verifier can see. The
verifier's control-flow graph finds, before anything runs, what the LPU only finds at
run time; the machine moves its program counter by each handler's answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from babel.lang import Diagnostic, Plan, StepResult, parse_plan
from babel.model import CassetteClient
from babel.verify import Choice, Policy, verify
from babel.vm import ALU, Memo, run_plan
from tests.conftest import make_files

CASSETTE = Path(__file__).parent / "cassettes" / "model_ops.json"


def plan_of(text: str) -> Plan:
    parsed = parse_plan(text)
    assert parsed.plan is not None, parsed.diagnostics
    return parsed.plan


def diagnostics(text: str) -> list[Diagnostic]:
    return verify(plan_of(text), Policy())


def codes(text: str) -> list[str]:
    return [d.code for d in diagnostics(text)]


def found(text: str, code: str) -> Diagnostic:
    hits = [d for d in diagnostics(text) if d.code == code]
    assert hits, f"{code} not in {codes(text)}"
    return hits[0]


COUNT = """\
s1: n = exec "ls | wc -l"
s2: branch $n lt=3 to="s5"
s3: verdict = write value="many"
s4: halt $verdict
s5: halt "few"
"""

LOOP = """\
s1: n = write value="0"
s2: n = exec "awk '{print $1 + 1}'" stdin=$n
s3: branch $n lt=3 to="s2" times=TIMES
s4: halt $n
"""


def loop(times: int | None) -> str:
    return LOOP.replace("TIMES", str(times)) if times is not None else LOOP.replace(" times=TIMES", "")


# ---- the verifier ------------------------------------------------------------------

def test_a_well_formed_plan_with_branches_jumps_halts_and_a_bounded_loop_passes() -> None:
    assert [d.code for d in diagnostics(COUNT) if d.is_error] == []
    assert [d.code for d in diagnostics(loop(5)) if d.is_error] == []


def test_a_jump_to_a_step_the_plan_does_not_have_is_located() -> None:
    d = found('s1: x = read "a.txt"\ns2: jump to="s9"\ns3: halt $x', "E_LABEL_UNDEFINED")
    assert (d.step, d.line, d.column) == ("s2", 2, 1) and "'s9'" in d.message
    assert "did you mean 's3'" in found('s1: x = read "a"\ns2: branch $x to="s33"\ns3: halt $x', "E_LABEL_UNDEFINED").message
    assert "E_LABEL_UNDEFINED" not in codes('s1: x = read "a.txt"\ns2: jump to="s3"\ns3: halt $x')


def test_a_label_used_twice_is_refused() -> None:
    assert "E_STEP_DUPLICATE_ID" in codes('s1: x = read "a"\ns1: jump to="s2"\ns2: halt $x')
    assert "E_STEP_DUPLICATE_ID" not in codes('s1: x = read "a"\ns2: jump to="s3"\ns3: halt $x')


def test_a_step_no_path_reaches_is_a_warning() -> None:
    d = found('s1: x = read "a"\ns2: jump to="s4"\ns3: y = read "b"\ns4: halt $x', "W_STEP_UNREACHABLE")
    assert d.severity == "warning" and (d.step, d.line) == ("s3", 3)
    assert "W_STEP_UNREACHABLE" not in codes(COUNT)


def test_a_slot_written_on_one_path_only_is_maybe_undefined_and_says_which_path() -> None:
    text = 's1: n = exec "ls | wc -l"\ns2: branch $n lt=3 to="s4"\ns3: msg = write value="many"\ns4: out = write value=$msg'
    d = found(text, "E_SLOT_MAYBE_UNDEFINED")
    assert (d.step, d.line, d.column) == ("s4", 4, 1) and "$msg" in d.message and "from s2" in d.message
    fixed = 's0: msg = write value="few"\n' + text
    assert "E_SLOT_MAYBE_UNDEFINED" not in codes(fixed)


def test_a_slot_no_path_writes_first_is_undefined() -> None:
    # s3 writes $x, but control reaches s2 only from the start
    d = found('s1: jump to="s2"\ns2: y = write value=$x\ns3: x = write value="a"\ns4: halt $y', "E_SLOT_UNDEFINED")
    assert d.step == "s2" and "s3 writes it" in d.message
    # a loop that writes before it reads, on every path round it
    assert "E_SLOT_UNDEFINED" not in codes(loop(5)) and "E_SLOT_MAYBE_UNDEFINED" not in codes(loop(5))


def test_a_comparison_of_numbers_with_matches_or_a_yes_no_is_a_type_error() -> None:
    d = found('s1: hits = grep "TODO" paths=["."]\ns2: branch $hits lt=3 to="s4"\ns3: halt "x"\ns4: halt "y"', "E_TYPE_MISMATCH")
    assert d.step == "s2" and "matches" in d.message
    d = found('s1: ok = eval "is it?" context="x"\ns2: branch $ok gt=3 to="s4"\ns3: halt "x"\ns4: halt $ok', "E_TYPE_MISMATCH")
    assert "yes or no" in d.message
    assert "E_TYPE_MISMATCH" in codes('s1: ok = eval "is it?" context="x"\ns2: branch $ok eq="maybe" to="s4"\ns3: halt "x"\ns4: halt $ok')
    assert "E_TYPE_MISMATCH" in codes('s1: branch "many" lt=3 to="s3"\ns2: halt "x"\ns3: halt "y"')
    assert "E_TYPE_MISMATCH" not in codes('s1: ok = eval "is it?" context="x"\ns2: branch $ok eq="yes" to="s4"\ns3: halt "x"\ns4: halt $ok')
    assert "E_TYPE_MISMATCH" not in codes(COUNT)


def test_min_confidence_needs_a_value_written_by_a_model_op_with_a_confidence() -> None:
    text = 's1: ok = {op}\ns2: branch $ok min_confidence=80 to="s4"\ns3: halt "low"\ns4: halt "high"'
    d = found(text.format(op='read "a.txt"'), "E_TYPE_MISMATCH")
    assert d.step == "s2" and "read" in d.message
    assert "E_TYPE_MISMATCH" not in codes(text.format(op='eval "is it?" context="x"'))
    assert "E_ARG_INVALID" in codes(text.format(op='eval "is it?" context="x"').replace("=80", "=150"))


def test_a_loop_with_no_bound_is_refused_where_it_closes() -> None:
    d = found(loop(None), "E_LOOP_UNBOUNDED")
    assert (d.step, d.line) == ("s3", 3) and "s2 → s3 → s2" in d.message and "times=" in d.message
    assert "E_LOOP_UNBOUNDED" not in codes(loop(5))
    assert "E_ARG_INVALID" in codes(loop(0))


def test_a_result_not_written_on_every_path_to_an_end_is_refused() -> None:
    text = 's1: x = read "a"\ns2: branch $x to="s4"\ns3: y = write value="b"\ns4: halt\nresult $y'
    d = found(text, "E_RESULT_MAYBE_UNDEFINED")
    assert d.step == "s4" and "$y" in d.message and "from s2" in d.message
    assert "E_RESULT_MAYBE_UNDEFINED" not in codes(text.replace("s4: halt", "s4: halt $x"))  # a halt's value is the result
    assert "E_RESULT_UNDEFINED" in codes('s1: x = read "a"\ns2: branch $x to="s4"\ns3: halt $x\ns4: halt')  # no result at all
    assert "E_RESULT_UNDEFINED" in codes('s1: x = read "a"\ns2: branch $x to="s1" times=2')  # ends at a branch: no value
    assert "E_RESULT_UNDEFINED" not in codes(COUNT)


def test_a_plan_that_can_only_loop_until_it_fails_is_refused() -> None:
    assert "E_PLAN_NO_END" in codes('s1: x = write value="a"\ns2: jump to="s1" times=3')
    assert "E_PLAN_NO_END" not in codes(loop(3))


def test_straight_line_plans_give_the_diagnostics_they_always_gave() -> None:
    d = found('s1: y = grep "a" in=$x\ns2: x = read "a.txt"', "E_SLOT_UNDEFINED")
    assert "it is written later, by step s2" in d.message
    assert "E_RESULT_UNDEFINED" in codes('s1: x = read "a"\nresult $nothing')


# ---- the machine, over the real sandbox --------------------------------------------

def run(text: str, box: object, **kwargs: Any) -> Any:
    plan = plan_of(text)
    assert [d for d in verify(plan, Policy()) if d.is_error] == []
    return run_plan(plan, box, Policy(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.docker
def test_a_branch_taken_and_not_taken_and_a_halt_gives_the_result(sandbox: object, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "a\n", "b.txt": "b\n"})
    taken = run(COUNT, sandbox)
    assert taken.ok and taken.result == "few"
    assert [s.id for s in taken.steps] == ["s1", "s2", "s5"] and taken.steps[1].detail == {"taken": True}
    make_files(workspace, {"c.txt": "c\n", "d.txt": "d\n"})
    not_taken = run(COUNT, sandbox)
    assert not_taken.ok and not_taken.result == "many"
    assert [s.id for s in not_taken.steps] == ["s1", "s2", "s3", "s4"] and not_taken.steps[1].detail == {"taken": False}


@pytest.mark.docker
def test_a_bounded_loop_runs_until_its_condition_ends_it(sandbox: object) -> None:
    result = run(loop(5), sandbox)
    assert result.ok and result.result is not None and result.result.strip() == "3"
    assert [s.id for s in result.steps] == ["s1", "s2", "s3", "s2", "s3", "s2", "s3", "s4"]


@pytest.mark.docker
def test_a_loop_past_its_bound_fails_with_loop_bound_and_a_repair_resumes_it(sandbox: object) -> None:
    failed = run(loop(1), sandbox)
    step = failed.failed_step()
    assert not failed.ok and step is not None and (step.id, step.failure) == ("s3", "loop_bound")
    assert step.message and "times=1" in step.message

    seen: list[StepResult] = []

    def widen(plan: Plan, index: int, result: StepResult, slots: dict[str, Any], emit: Any) -> Plan | None:
        seen.append(result)
        return plan_of(loop(5)) if len(seen) == 1 else None

    repaired = run(loop(1), sandbox, on_failure=widen)
    assert repaired.ok and repaired.result is not None and repaired.result.strip() == "3"
    assert [s.id for s in repaired.steps].count("s1") == 1  # resumed at the failed step, not rerun
    assert [r.failure for r in seen] == ["loop_bound"]


class SureOfNo(ALU):
    """An ALU whose every choice is its first option with the given probability."""

    def __init__(self, p: float) -> None:
        self.p = p

    def choose(self, chat: Any, options: list[str]) -> Choice:
        return Choice((self.p, *[(1 - self.p) / (len(options) - 1)] * (len(options) - 1)), 10, 0.1, False)


CLAIM = "Order 1142 arrived broken. The box was crushed and the glass is in pieces. I want my money back.\n"
CONFIDENT = """\
s1: claim = read "claim.txt"
s2: damaged = eval "Does the customer say the item arrived damaged?" context=$claim
s3: branch $damaged min_confidence={least} to="s5"
s4: halt "ask a person"
s5: halt $damaged
"""


@pytest.mark.docker
def test_a_branch_on_an_evals_confidence(sandbox: object, workspace: Path, tmp_path: Path) -> None:
    make_files(workspace, {"claim.txt": CLAIM})
    recorded = ALU(CassetteClient(CASSETTE), Memo(tmp_path / "memo.sqlite"))  # the real model's recorded answer
    sure = run(CONFIDENT.format(least=50), sandbox, alu=recorded)
    assert sure.ok and sure.result == "yes" and sure.steps[2].detail == {"taken": True}
    assert sure.steps[1].detail["confidence"] >= 0.5
    unsure = run(CONFIDENT.format(least=80), sandbox, alu=SureOfNo(0.7))  # "yes", at 70 %
    assert unsure.ok and unsure.result == "ask a person" and unsure.steps[2].detail == {"taken": False}
    assert run(CONFIDENT.format(least=60), sandbox, alu=SureOfNo(0.7)).result == "yes"


def test_the_example_in_docs_plans_md_verifies() -> None:
    text = (Path(__file__).parents[1] / "docs" / "plans.md").read_text(encoding="utf-8")
    example = text.split("## Control flow")[1].split("```")[1]
    assert [d.code for d in verify(plan_of(example), Policy()) if d.is_error] == []


class NoSandbox:
    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError(f"control flow needs no sandbox, yet sent {request}")


def test_a_halts_value_is_the_result_even_over_a_named_one_and_the_steps_after_it_never_run() -> None:
    text = 's1: x = write value="first"\ns2: jump to="s4"\ns3: x = write value="skipped"\ns4: halt "halted"\ns5: y = write value=$x\nresult $x'
    result = run_plan(plan_of(text), NoSandbox(), Policy())  # type: ignore[arg-type]
    assert result.ok and result.result == "halted" and [s.id for s in result.steps] == ["s1", "s2", "s4"]
    bare = run_plan(plan_of(text.replace('s4: halt "halted"', "s4: halt")), NoSandbox(), Policy())  # type: ignore[arg-type]
    assert bare.ok and bare.result == "first"


@pytest.mark.docker
def test_a_repair_of_a_step_a_loop_jumps_to_keeps_the_loop_pointing_at_it(sandbox: object) -> None:
    from babel.lang import RepairRequest, SlotRef, Step
    from babel.vm import Controller

    broken = loop(5).replace("""exec "awk '{print $1 + 1}'" stdin=$n""", 'exec "cat missing.txt"')

    def propose(request: RepairRequest) -> list[list[Step]]:
        return [[Step("x", "exec", {"cmd": "awk '{print $1 + 1}'", "stdin": SlotRef("n")}, out="n")]]

    result = run(broken, sandbox, on_failure=Controller(propose, Policy()))
    assert result.ok and result.result is not None and result.result.strip() == "3", result.steps
    assert result.plan is not None and result.plan.steps[2].args["to"] == result.plan.steps[1].id == "s2-r1"
