"""The control loop: a failing step is repaired alone, in the real sandbox, within bounds.

The model's answers are scripted (recorded replacements, in order), so each test pins
one behaviour of the controller: which failure gets which treatment, that only the
failing step is replaced and resumed, that oscillation and budgets stop the loop, and
that the repair memory learns a fix. The sandbox and the runtime are the real ones.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from babel.compiler.compile import ModelRepairs
from babel.compiler.shape import result_problem
from babel.lang.plan import parse_plan
from babel.model import Capabilities, Completion, ModelRequest, ModelResult, Sampling
from babel.sandbox.docker import DockerSandbox
from babel.verify.policy import Policy
from babel.vm.control import Controller, RepairBudget, RepairMemory
from babel.vm.machine import run_plan
from tests.conftest import make_files

pytestmark = pytest.mark.docker


class RecordedModel:
    """Answers each request with the next recorded plan, and keeps the requests it saw."""

    name = "recorded"
    capabilities = Capabilities(generate_many=False, schema=False, score=False)
    sampling = Sampling()

    def __init__(self, *plans: dict[str, Any]) -> None:
        self.plans = list(plans)
        self.requests: list[list[dict[str, str]]] = []

    def submit(self, requests: list[ModelRequest]) -> list[ModelResult]:
        self.requests += [r.chats[0] for r in requests]
        return [ModelResult(tuple(self._answer(len(r.samples)))) for r in requests]

    def _answer(self, n: int) -> list[Completion]:
        plan = self.plans.pop(0) if self.plans else {"steps": [{"op": "exec", "args": {"cmd": "false"}}]}
        return [Completion(json.dumps(plan), 10, 10, -1.0, "recorded", 0.0)]

    def close(self) -> None:
        pass


def exec_step(cmd: str, out: str | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {"op": "exec", "args": {"cmd": cmd}}
    if out:
        step["out"] = out
    return {"steps": [step]}


def run_with(model: RecordedModel, text: str, box: DockerSandbox, memory: RepairMemory | None = None,
             budget: RepairBudget | None = None) -> tuple[Any, Controller, list[dict[str, Any]]]:
    plan = parse_plan(text).plan
    assert plan is not None
    events: list[dict[str, Any]] = []
    controller = Controller(ModelRepairs(model, Policy(), "test"), Policy(), request="test", memory=memory, budget=budget or RepairBudget())
    result = run_plan(plan, box, Policy(), on_failure=controller, on_event=lambda e: events.append(e.to_json()))
    controller.settle_all(result.ok)
    return result, controller, events


@pytest.fixture
def box(docker_ready: None, workspace: Path) -> Any:
    make_files(workspace, {"app.log": "INFO start\nError: disk full\nINFO stop\n", "data.txt": "b\na\nc\n"})
    with DockerSandbox(workspace) as sandbox:
        yield sandbox


def test_empty_match_rewrites_only_that_grep_and_keeps_earlier_steps(box: DockerSandbox) -> None:
    model = RecordedModel({"steps": [{"op": "grep", "args": {"pattern": "error", "in": {"slot": "log"}, "ignore_case": True}}]})
    result, controller, events = run_with(model, 's1: log = read "app.log"\ns2: errs = grep "ERROR" in=$log\ns3: exec "wc -l" stdin=$errs', box)
    assert result.ok and result.result is not None and result.result.strip() == "1"
    ran = [e["id"] for e in events if e["event"] == "step"]
    assert ran == ["s1", "s2", "s2-r1", "s3"]  # s1 ran once: its output was kept
    repair = next(e for e in events if e["event"] == "repair")
    assert repair["step"] == "s2" and repair["reason"].startswith("empty_match") and "ERROR" in repair["old"] and "error" in repair["new"]
    assert controller.repairs[0]["outcome"] == "fixed"
    # the model was shown the failing step, its error and the slot it reads, not the whole history
    prompt = model.requests[0][-1]["content"]
    assert 'grep "ERROR" in=$log' in prompt and "empty_match" in prompt and "Error: disk full" in prompt


def test_nonzero_exit_rewrites_that_exec(box: DockerSandbox) -> None:
    model = RecordedModel(exec_step("sort data.txt"))
    result, _, events = run_with(model, 's1: exec "sort --bogus-flag data.txt"', box)
    assert result.ok and result.result == "a\nb\nc\n"
    assert any(e["event"] == "repair" and e["reason"].startswith("nonzero_exit") for e in events)


def test_not_found_fixes_the_source_of_the_read(box: DockerSandbox) -> None:
    model = RecordedModel({"steps": [{"op": "read", "args": {"path": "app.log"}}]})
    result, _, _ = run_with(model, 's1: text = read "logs/app.log"\ns2: grep "INFO" in=$text', box)
    assert result.ok and result.result == "INFO start\nINFO stop\n"


def test_invalid_output_repairs_the_value_shape(box: DockerSandbox) -> None:
    model = RecordedModel({"steps": [{"op": "grep", "args": {"pattern": "\\(", "paths": ["app.log"], "allow_empty": True}}]})
    result, _, events = run_with(model, 's1: grep "(" paths=["app.log"]', box)
    assert result.ok
    assert next(e for e in events if e["event"] == "repair")["reason"].startswith("invalid_output")


def test_the_same_repair_twice_is_oscillation(box: DockerSandbox) -> None:
    model = RecordedModel(exec_step("cat missing-a"), exec_step("cat missing-b"), exec_step("cat missing-a"))
    result, controller, events = run_with(model, 's1: exec "cat missing"', box, budget=RepairBudget(per_step=5, per_run=5))
    assert not result.ok and controller.stopped == "oscillation"
    assert [e["outcome"] for e in events if e["event"] == "repair"][-1].startswith("oscillation")


def test_a_repair_back_to_the_original_step_is_oscillation(box: DockerSandbox) -> None:
    model = RecordedModel(exec_step("cat missing"))
    result, controller, _ = run_with(model, 's1: exec "cat missing"', box)
    assert not result.ok and controller.stopped == "oscillation"


def test_the_budget_bounds_the_loop(box: DockerSandbox) -> None:
    model = RecordedModel(exec_step("cat a1"), exec_step("cat a2"), exec_step("cat a3"), exec_step("cat a4"))
    result, controller, events = run_with(model, 's1: exec "cat a0"', box, budget=RepairBudget(per_step=2, per_run=4))
    assert not result.ok and controller.stopped == "budget"
    assert len(model.requests) == 2  # per step: two model repairs, then it stops
    assert events[-1]["event"] == "run_end" and events[-1]["status"] == "failed"


def test_a_proposal_the_verifier_rejects_is_not_run(box: DockerSandbox) -> None:
    model = RecordedModel(exec_step("curl http://example.com"), exec_step("sort data.txt"))
    result, controller, events = run_with(model, 's1: exec "sort --nope data.txt"', box)
    outcomes = [e["outcome"] for e in controller.repairs]
    assert result.ok and outcomes[0].startswith("rejected by the verifier: E_NETWORK_DENIED")
    assert not any(e.get("id") == "s1-r1" and "curl" in json.dumps(e) for e in events if e["event"] == "step")


def test_without_a_model_a_failure_stops_the_run(box: DockerSandbox) -> None:
    plan = parse_plan('read "nope"').plan
    assert plan is not None
    result = run_plan(plan, box, Policy(), on_failure=Controller(None, Policy()))
    assert not result.ok and result.steps[-1].failure == "not_found"


def test_the_repair_memory_learns_a_flag_and_tries_it_first(box: DockerSandbox, tmp_path: Path) -> None:
    memory = RepairMemory(tmp_path / "repairs.json", threshold=2)
    for _ in range(2):
        model = RecordedModel({"steps": [{"op": "grep", "args": {"pattern": "error", "paths": ["app.log"], "ignore_case": True}}]})
        assert run_with(model, 's1: grep "error" paths=["app.log"]', box, memory=memory)[0].ok
    data = json.loads((tmp_path / "repairs.json").read_text())
    assert data["grep"]["fixes"]["empty_match"]["set:ignore_case"] == 2
    silent = RecordedModel()  # no recorded answers: the fix must come from memory
    result, controller, events = run_with(silent, 's1: grep "error" paths=["app.log"]', box, memory=memory)
    assert result.ok and silent.requests == []
    assert next(e for e in events if e["event"] == "repair")["source"] == "memory"
    memory.reset()
    assert not (tmp_path / "repairs.json").exists()


def test_transient_failures_are_retried(docker_ready: None, workspace: Path) -> None:
    make_files(workspace, {"a.txt": "x\n"})
    plan = parse_plan('read "a.txt"').plan
    assert plan is not None

    class Flaky:
        def __init__(self, inner: DockerSandbox) -> None:
            self.inner, self.calls = inner, 0

        def call(self, request: dict[str, Any]) -> dict[str, Any]:
            self.calls += 1
            if self.calls == 1:
                return {"status": "failed", "failure": "sandbox_error", "message": "engine hiccup", "value": None}
            return self.inner.call(request)

    with DockerSandbox(workspace) as box:
        flaky = Flaky(box)
        events: list[dict[str, Any]] = []
        result = run_plan(plan, flaky, Policy(), on_failure=Controller(None, Policy()), on_event=lambda e: events.append(e.to_json()))  # type: ignore[arg-type]
    assert result.ok and flaky.calls == 2
    assert [e["outcome"] for e in events if e["event"] == "repair"] == ["retry"]


def run_checked(model: RecordedModel, text: str, request: str, box: DockerSandbox,
                policy: Policy | None = None, as_supervisor: bool = False) -> tuple[Any, Controller, list[dict[str, Any]]]:
    plan = parse_plan(text).plan
    assert plan is not None
    policy = policy or Policy()
    events: list[dict[str, Any]] = []
    controller = Controller(ModelRepairs(model, policy, request), policy, request=request, check=partial(result_problem, request),
                            budget=RepairBudget())
    if as_supervisor:  # the controller as the machine's supervisor, not a bare hook
        result = run_plan(plan, box, policy, supervisor=controller, on_event=lambda e: events.append(e.to_json()))
    else:
        result = run_plan(plan, box, policy, on_failure=controller, check_result=controller.check_result,
                          on_event=lambda e: events.append(e.to_json()))
    controller.settle_all(result.ok)
    return result, controller, events


def test_the_controller_supervises_the_machine_as_it_does_through_the_hook(box: DockerSandbox) -> None:
    runs = []
    for as_supervisor in (False, True):
        model = RecordedModel(exec_step("grep -c Error app.log"))
        result, controller, events = run_checked(model, 's1: log = read "app.log"\ns2: exec "grep Error app.log"',
                                                 "how many lines of app.log contain Error?", box, as_supervisor=as_supervisor)
        runs.append((result.ok, result.result, [e["event"] for e in events], [r["outcome"] for r in controller.repairs]))
    assert runs[0] == runs[1] and runs[0][0] and "result_check" in runs[0][2]


def test_a_result_without_the_asked_for_shape_repairs_the_final_step_alone(box: DockerSandbox) -> None:
    model = RecordedModel(exec_step("grep -c Error app.log"))
    result, controller, events = run_checked(model, 's1: log = read "app.log"\ns2: exec "grep Error app.log"',
                                             "how many lines of app.log contain Error?", box)
    assert result.ok and result.result is not None and result.result.strip() == "1"
    assert [e["id"] for e in events if e["event"] == "step"] == ["s1", "s2", "s2-r1"]
    check = next(e for e in events if e["event"] == "result_check")
    assert check["step"] == "s2" and "a number" in check["problem"]
    assert controller.repairs[0]["reason"].startswith("invalid_output") and controller.repairs[0]["outcome"] == "fixed"
    prompt = model.requests[0][-1]["content"]
    assert "does not answer it" in prompt and "Error: disk full" in prompt
    # the earlier attempt comes before the request, which stays last as in every worked example
    assert prompt.index("A first attempt") < prompt.index("Request: how many lines of app.log contain Error?")


def test_when_no_repair_gives_the_asked_for_shape_the_first_result_stands(box: DockerSandbox) -> None:
    # the first proposal fails outright, the second still prints lines: the original result is kept, the run is ok
    model = RecordedModel(exec_step("cat missing.txt"), exec_step("grep INFO app.log"))
    result, controller, _ = run_checked(model, 's1: exec "grep Error app.log"', "how many lines of app.log contain Error?", box)
    assert result.ok and result.result == "Error: disk full\n"
    assert result.plan is not None and [s.id for s in result.plan.steps] == ["s1"]
    assert all(r.get("outcome") != "fixed" for r in controller.repairs) and len(model.requests) == 2


def test_a_result_with_the_asked_for_shape_is_not_touched(box: DockerSandbox) -> None:
    model = RecordedModel()
    result, controller, events = run_checked(model, 's1: exec "grep -c Error app.log"', "how many lines of app.log contain Error?", box)
    assert result.ok and not controller.repairs and not model.requests
    assert not any(e["event"] == "result_check" for e in events)


def test_plans_with_effects_are_not_checked(docker_ready: None, workspace: Path) -> None:
    model = RecordedModel()
    make_files(workspace, {"a.txt": "x\n"})
    with DockerSandbox(workspace, writable=True) as box:
        result, controller, _ = run_checked(model, 's1: write "out.txt" "x"', "how many lines does out.txt have?", box,
                                            Policy(write=(".",)))
    assert result.ok and not controller.repairs and not model.requests


class RecordedEngine(RecordedModel):
    """Like an engine that decodes several candidates at once: each call answers with all its plans."""

    capabilities = Capabilities(generate_many=True, schema=True, score=True)

    def _answer(self, n: int) -> list[Completion]:
        plans, self.plans = self.plans[:n], self.plans[n:]
        return [Completion(json.dumps(plan), 10, 10, -1.0, "recorded", 0.0) for plan in plans]


def test_one_model_call_gives_alternatives_tried_in_turn(box: DockerSandbox) -> None:
    # greedy proposal still fails, the first alternative is refused by the verifier, the second works
    model = RecordedEngine(exec_step("cat missing-too.txt"), exec_step("curl http://example.com"), exec_step("sort data.txt"))
    result, controller, events = run_with(model, 's1: exec "sort --nope data.txt"', box)
    assert result.ok and result.result == "a\nb\nc\n"
    assert len(model.requests) == 1 and controller.model_calls == 1
    outcomes = [e["outcome"] for e in controller.repairs]
    assert outcomes[0] == "did not fix" and outcomes[1].startswith("rejected by the verifier") and outcomes[2] == "fixed"
    assert [e["id"] for e in events if e["event"] == "step"] == ["s1", "s1-r1", "s1-r3"]


def test_a_repair_may_not_bring_effects_into_a_read_only_plan(box: DockerSandbox) -> None:
    model = RecordedModel(exec_step("sort -o data.txt data.txt"), exec_step("sort data.txt"))
    result, controller, events = run_with(model, 's1: exec "sort --nope data.txt"', box)
    outcomes = [e["outcome"] for e in controller.repairs]
    assert result.ok and outcomes[0].startswith("refused: it would change files") and outcomes[1] == "fixed"
