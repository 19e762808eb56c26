"""`babel eval`: measure task success on a suite of requests with known answers.

A suite is a directory of YAML files (each one task or a list of tasks) or one JSONL
file. Each task builds its fixture with a `setup` script in a fresh sandbox workspace
(mounted at `workspace`, /workspace unless it says otherwise), then Babel compiles,
decodes and runs the request there, and the result is checked against `expect`:
`output` (equal after trimming), `output_of` (equal to what that command prints in an
identical fresh workspace), `contains` (substrings), `files` (path → content). The
result of a plan is its final step's output unless the plan names a result slot.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from babel.app.paths import Paths, load_skill_table
from babel.compiler import REFINE_ROUNDS, ModelRepairs, WorkspaceFacts, result_problem
from babel.lang import Plan
from babel.model import Metered, ModelClient
from babel.sandbox import started
from babel.skills import NO_SKILLS, Skill, SkillInputError, SkillMap, bind_inputs
from babel.verify import Policy
from babel.vm import HARNESS_RULES, Controller, RunResult, StepSandbox, exec_request, run_plan

EXPECT_KEYS = ("output", "output_of", "contains", "files")
TASK_KEYS = {"id", "request", "setup", "workspace", "expect", "tags", "reference", "notes"}


class SuiteError(ValueError):
    """A suite that cannot be read; the message names the file and the task."""


@dataclass(frozen=True)
class Task:
    id: str
    request: str
    setup: str
    workspace: str
    expect: dict[str, Any]
    tags: tuple[str, ...] = ()
    source: str = ""


@dataclass
class TaskResult:
    id: str
    passed: bool
    result: str | None
    expected: str | None
    reason: str
    latency_s: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    vote: dict[str, Any] = field(default_factory=dict)
    plan: str | None = None  # the plan the decoder chose
    repairs: int = 0
    repair_log: list[dict[str, Any]] = field(default_factory=list)  # each repair: step, reason, old, new, outcome
    context_tokens: int = 0  # every model call's prompt, in tokens, summed (babel.model.Metered): what the task sent
    prefilled_tokens: int = 0  # of those, what the engine computed (the rest were cached cells or a saved prefix)
    passed_without_repair: bool | None = None  # the same plan's outcome had the control loop not acted (None: no plan ran)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _task(raw: Any, where: str) -> Task:
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: a task is a mapping with id, request, setup and expect")
    unknown = sorted(set(raw) - TASK_KEYS)
    if unknown:
        raise SuiteError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(TASK_KEYS))})")
    for key in ("id", "request"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise SuiteError(f"{where}: {key!r} must be a non-empty string")
    where = f"{where} ({raw['id']})"
    expect = raw.get("expect")
    if not isinstance(expect, dict) or not expect:
        raise SuiteError(f"{where}: 'expect' needs one or more of {', '.join(EXPECT_KEYS)}")
    bad = sorted(set(expect) - set(EXPECT_KEYS))
    if bad:
        raise SuiteError(f"{where}: unknown expectation {bad[0]!r} (known: {', '.join(EXPECT_KEYS)})")
    if "contains" in expect:
        contains = expect["contains"]
        if isinstance(contains, str):
            expect = {**expect, "contains": [contains]}
        elif not isinstance(contains, list) or not all(isinstance(c, str) for c in contains):
            raise SuiteError(f"{where}: 'contains' is a list of strings")
    if "files" in expect and (not isinstance(expect["files"], dict) or not all(isinstance(v, str) for v in expect["files"].values())):
        raise SuiteError(f"{where}: 'files' maps paths to their expected content")
    if "output" in expect and not isinstance(expect["output"], (str, int, float)):
        raise SuiteError(f"{where}: 'output' is the expected text")
    workspace = raw.get("workspace") or "/workspace"
    if not isinstance(workspace, str) or not workspace.startswith("/") or workspace.rstrip("/") in ("", "/proc", "/sys", "/dev", "/tmp"):
        raise SuiteError(f"{where}: 'workspace' must be an absolute directory such as /workspace or /testbed")
    setup = raw.get("setup") or ""
    if not isinstance(setup, str):
        raise SuiteError(f"{where}: 'setup' is a shell script (a string)")
    tags = raw.get("tags") or []
    return Task(raw["id"], raw["request"], setup, workspace.rstrip("/"), expect, tuple(str(t) for t in tags), where)


def load_suite(path: Path) -> list[Task]:
    if not path.exists():
        raise SuiteError(f"{path}: no such suite (a directory of YAML files or a JSONL file)")
    tasks: list[Task] = []
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise SuiteError(f"{path}: no .yaml files in this directory")
        for file in files:
            try:
                doc = yaml.safe_load(file.read_text(encoding="utf-8"))
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
                raise SuiteError(f"{file}{at}: not valid YAML: {getattr(error, 'problem', error)}") from None
            except (OSError, UnicodeDecodeError) as error:
                raise SuiteError(f"{file}: cannot read it: {error}") from None
            items = doc if isinstance(doc, list) else [doc]
            tasks += [_task(item, f"{file}[{i}]" if isinstance(doc, list) else str(file)) for i, item in enumerate(items) if item is not None]
    else:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as error:
                raise SuiteError(f"{path}:{number}: not valid JSON: {error.msg}") from None
            tasks.append(_task(raw, f"{path}:{number}"))
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise SuiteError(f"{task.source}: task id {task.id!r} is used twice")
        seen.add(task.id)
    return tasks


# ---- fixtures ---------------------------------------------------------------------

SANDBOX_UID = 1000


@dataclass
class Fixture:
    """A fresh workspace directory on the host, owned by the sandbox's unprivileged user."""

    path: Path

    @classmethod
    def create(cls) -> Fixture:
        path = Path(tempfile.mkdtemp(prefix="babel-eval-"))
        if os.geteuid() == 0:  # the sandbox never runs as root: give the workspace to a plain uid
            os.chown(path, SANDBOX_UID, SANDBOX_UID)
        path.chmod(0o755)
        return cls(path)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def check(task: Task, result: str | None, files: dict[str, str | None], expected_output: str | None) -> tuple[bool, str]:
    """Whether a result meets the task's expectations, and if not, the first reason why."""
    expect = task.expect
    got = (result or "").strip()
    if "output" in expect and got != str(expect["output"]).strip():
        return False, f"output {_short(got)} != expected {_short(str(expect['output']).strip())}"
    if "output_of" in expect and got != (expected_output or "").strip():
        return False, f"output {_short(got)} != expected {_short((expected_output or '').strip())}"
    for needle in expect.get("contains", []):
        if needle not in (result or ""):
            return False, f"output lacks {needle!r}"
    for path, content in expect.get("files", {}).items():
        actual = files.get(path)
        if actual is None:
            return False, f"file {path} is missing"
        if actual.rstrip("\n") != content.rstrip("\n"):
            return False, f"file {path} is {_short(actual)}, expected {_short(content)}"
    return True, "ok"


def _short(text: str, limit: int = 60) -> str:
    text = text.replace("\n", "\\n")
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


Runner = Callable[[Task], TaskResult]


def run_one(runner: Runner, task: Task) -> TaskResult:
    """One task's result; a task that raises is a failed result (one broken task must not end the suite)."""
    started = time.perf_counter()
    try:
        return runner(task)
    except Exception as error:
        return TaskResult(task.id, False, None, None, f"error: {type(error).__name__}: {error}", time.perf_counter() - started)


def run_suite(tasks: list[Task], runner: Runner, jobs: int = 1, on_result: Callable[[TaskResult], None] | None = None) -> list[TaskResult]:
    results: list[TaskResult] = []

    def one(task: Task) -> TaskResult:
        result = run_one(runner, task)
        if on_result:
            on_result(result)
        return result

    if jobs <= 1:
        results = [one(task) for task in tasks]
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(one, tasks))
    return results


def iter_summary(results: list[TaskResult]) -> Iterator[str]:
    """The summary lines; the last is always `N passed, N failed`."""
    passed = sum(r.passed for r in results)
    repaired = [r for r in results if r.repairs]
    if repaired:
        before = sum(r.passed if r.passed_without_repair is None else r.passed_without_repair for r in results)
        fixed = sum(r.passed and r.passed_without_repair is False for r in results)
        broke = sum(not r.passed and r.passed_without_repair is True for r in results)
        yield (f"repair acted in {len(repaired)} tasks: {fixed} fixed, {broke} broken; "
               f"without repair the same plans would have passed {before}")
    sent = sorted(r.context_tokens for r in results if r.context_tokens)
    if sent:
        prefilled = sorted(r.prefilled_tokens for r in results if r.context_tokens)
        yield (f"context tokens a task: median {sent[len(sent) // 2]} sent to the model, {prefilled[len(prefilled) // 2]} prefilled "
               f"(mean {sum(sent) // len(sent)} and {sum(prefilled) // len(prefilled)})")
    yield f"{passed} passed, {len(results) - passed} failed"


# ---- running one task -------------------------------------------------------------


def set_up(task: Task, sandbox_factory: SandboxFactory, fixture: Fixture, reference: Fixture | None) -> tuple[str | None, str | None]:
    """The task's setup run in `fixture`, and with `output_of`, the expected output made
    in `reference`: (the expected output or None, why setting up failed or None)."""
    with sandbox_factory(fixture.path, task.workspace, True, scratch=True) as box:  # the fixture keeps what setup made
        ok, _, err = run_script(box, task.setup or "true")
    if not ok:
        return None, f"setup failed: {err.strip()[:200]}"
    if reference is None:
        return None, None
    # made and answered as the fixture is (in place, on the same file system), so that
    # what the file system decides (the order `find` lists files in) is the same for both
    with sandbox_factory(reference.path, task.workspace, True, scratch=True) as box:
        run_script(box, task.setup or "true")
        ok, expected_output, err = run_script(box, str(task.expect["output_of"]), output_counts=True)
    if not ok:
        return None, f"output_of failed: {err.strip()[:200]}"
    return expected_output, None


def in_fixture(task: Task, sandbox_factory: SandboxFactory, body: Callable[[Fixture, str | None, float], TaskResult]) -> TaskResult:
    """The task set up in a fresh fixture (and, with `output_of`, its expected output made in
    a second one), then `body(fixture, expected output, start time)`; the fixtures are removed after."""
    started = time.perf_counter()
    fixture, reference = Fixture.create(), Fixture.create() if "output_of" in task.expect else None
    try:
        expected_output, failed = set_up(task, sandbox_factory, fixture, reference)
        if failed is not None:
            return TaskResult(task.id, False, None, None, failed, time.perf_counter() - started)
        return body(fixture, expected_output, started)
    finally:
        fixture.remove()
        if reference:
            reference.remove()


def task_policy(task: Task) -> Policy:
    """What a task's run may do: read and write its workspace, run the default tools."""
    return Policy(workspace=task.workspace, write=(".",))

SandboxFactory = Callable[..., Any]  # (workspace, mount point, writable, scratch=False) -> started sandbox (context manager)
PlanExecutor = Callable[..., Any]  # (plan, sandbox, policy, request, facts) -> RunResult, e.g. the control loop around run_plan


def run_script(box: Any, cmd: str, timeout: float = 60.0, output_counts: bool = False) -> tuple[bool, str, str]:
    """Run a script in the task's sandbox: (ok, stdout, stderr). With `output_counts`, a
    script that printed something is ok whatever its exit status (a reference command's
    output is the expected result: `diff` shows differences and exits 1)."""
    response = box.call(exec_request(cmd, HARNESS_RULES, timeout, 4_000_000))
    value = response.get("value") if isinstance(response.get("value"), dict) else {}
    stdout = str(value.get("stdout", ""))
    ok = response.get("status") == "ok" or (output_counts and response.get("failure") == "nonzero_exit" and bool(stdout.strip()))
    return ok, stdout, str(value.get("stderr", "") or response.get("message", ""))


def read_task_files(box: Any, task: Task) -> dict[str, str | None]:
    files: dict[str, str | None] = {}
    for path in task.expect.get("files", {}):
        response = box.call({"op": "read", "args": {"path": path, "encoding": "utf-8"}, "timeout": 10.0, "max_output": 4_000_000})
        files[path] = response.get("value") if response.get("status") == "ok" else None
    return files


def make_runner(
    model: Any,
    sandbox_factory: SandboxFactory,
    *,
    k: int = 3,
    execute_candidates: bool = True,
    repair: bool = False,
    variants: bool = False,
    review: bool = False,
    skills: SkillMap = NO_SKILLS,
    check_outputs: bool = True,
    refine: int = REFINE_ROUNDS,
) -> Runner:
    """A function that runs one task end to end: fixture, compile, decode, run (with the
    control loop's repairs when `repair`), check; `skills` are those the compiler offers
    and the plans may call. The task's model calls are metered (babel.model.Metered): its
    record says the context tokens sent and prefilled, whichever stage sent them."""
    from babel.app.pipeline import compile_and_decode
    from babel.compiler import has_effects
    from babel.lang import to_text
    from babel.vm import run_plan

    def run_task(task: Task) -> TaskResult:
        meter = Metered(model)

        def plain(plan: Any, box: Any, policy: Any, request: str, facts: Any) -> Any:
            return run_plan(plan, box, policy, skills=skills, alu=task_alu(meter, plan, skills))

        execute = repairing_executor(meter, skills) if repair else plain
        result = in_fixture(task, sandbox_factory, partial(_task_run, task, meter, execute))
        return dataclasses.replace(result, context_tokens=meter.tokens.sent, prefilled_tokens=meter.tokens.prefilled)

    def _task_run(task: Task, model: Metered, execute: PlanExecutor, fixture: Fixture, expected_output: str | None, started: float) -> TaskResult:
        policy = task_policy(task)
        with sandbox_factory(fixture.path, task.workspace, False) as readonly:
            compilation, decision = compile_and_decode(task.request, model, readonly, policy, k=k, execute_candidates=execute_candidates,
                                                       variants=variants, review=review, skills=skills,
                                                       check_outputs=check_outputs, refine=refine)
            common: dict[str, Any] = {"prompt_tokens": compilation.prompt_tokens, "completion_tokens": compilation.completion_tokens,
                                      "model_calls": compilation.model_calls, "vote": decision.summary()}
            if decision.plan is None:
                why = "; ".join(f"{d.code}: {d.message}" for d in decision.diagnostics[:2])
                return TaskResult(task.id, False, None, expected_output, f"no valid plan ({why})", time.perf_counter() - started, **common)
            plan = decision.plan
            if has_effects(plan, skills):
                with sandbox_factory(fixture.path, task.workspace, True) as writable:
                    run = execute(plan, writable, policy, task.request, compilation.facts)
                    files = read_task_files(writable, task)
            else:
                run = execute(plan, readonly, policy, task.request, compilation.facts)
                files = read_task_files(readonly, task)
        result = getattr(run, "result", None)
        passed, reason = check(task, result, files, expected_output)
        if not getattr(run, "ok", False) and not passed:
            failed = run.failed_step()
            reason = f"step {failed.id} failed: {failed.failure}: {(failed.message or '')[:120]}" if failed else reason
        extra: dict[str, Any] = {**common, "model_calls": common["model_calls"] + getattr(run, "model_calls", 0)}
        unrepaired = getattr(run, "unrepaired", None)
        if unrepaired is None:
            extra["passed_without_repair"] = passed
        elif not unrepaired[0]:
            extra["passed_without_repair"] = False  # a step failed: without repair the run stops there
        else:
            extra["passed_without_repair"] = check(task, unrepaired[1], files, expected_output)[0]
        return TaskResult(task.id, passed, result, expected_output if expected_output is not None else task.expect.get("output"),
                          reason, round(time.perf_counter() - started, 3), plan=to_text(plan),
                          repairs=len(getattr(run, "repairs", ())),
                          repair_log=[{k: r.get(k) for k in ("step", "reason", "old", "new", "outcome", "source")}
                                      for r in getattr(run, "repairs", ())], **extra)

    return run_task


def task_alu(model: ModelClient, plan: Plan, skills: SkillMap) -> Any:
    """The ALU for a task's plan when it (or a skill it calls) has model ops: the task's
    model, memoised for the task only (a suite neither reads nor writes the user's memo)."""
    from babel.verify import asks_model
    from babel.vm import ALU

    return ALU(model) if asks_model(plan, skills) else None


def repairing_executor(model: ModelClient, skills: SkillMap) -> PlanExecutor:
    """How `babel eval` runs a chosen plan with repair: the control loop around `run_plan`,
    proposing with the model and checking the result against the task's request, with no
    repair memory (a suite neither reads nor writes the user's). The run carries the
    repairs made and the model calls they took."""

    def execute(plan: Plan, box: StepSandbox, policy: Policy, request: str, facts: WorkspaceFacts) -> RunResult:
        controller = Controller(ModelRepairs(model, policy, request, facts, skills=skills), policy, request=request, skills=skills,
                                check=partial(result_problem, request), memory=None)
        result = run_plan(plan, box, policy, on_failure=controller, check_result=controller.check_result, skills=skills,
                          alu=task_alu(model, plan, skills))
        controller.settle_all(result.ok)
        return dataclasses.replace(result, repairs=tuple(controller.repairs), model_calls=controller.model_calls)

    return execute


def run_eval(
    tasks: list[Task],
    model: ModelClient,
    *,
    k: int = 3,
    repair: bool = True,
    execute_candidates: bool = True,
    variants: bool = False,
    review: bool = False,
    check_outputs: bool = True,
    refine: int = REFINE_ROUNDS,
    jobs: int = 1,
    on_result: Callable[[TaskResult], None] | None = None,
    skills: SkillMap | None = None,
    sandbox_factory: SandboxFactory | None = None,
) -> list[TaskResult]:
    """`babel eval` as a library call: every task end to end (`make_runner`), `jobs` at a
    time, with the control loop repairing failing steps when `repair`; one result per
    task, in order, each also handed to `on_result` as it is known. Like the CLI's, these
    runs leave no trace. `skills` default to those of `Paths.from_env()`."""
    table = load_skill_table(Paths.from_env()).skills if skills is None else skills
    runner = eval_runner(model, sandbox_factory or started, table, k=k, repair=repair, execute_candidates=execute_candidates,
                         variants=variants, review=review, check_outputs=check_outputs, refine=refine)
    return run_suite(tasks, runner, jobs=jobs, on_result=on_result)


def eval_runner(model: ModelClient, sandbox_factory: SandboxFactory, skills: SkillMap, *, k: int, repair: bool,
                execute_candidates: bool, variants: bool, review: bool, check_outputs: bool = True, refine: int = REFINE_ROUNDS) -> Runner:
    """The runner of `babel eval`'s settings, here (`run_eval`) or in a Ray worker."""
    return make_runner(model, sandbox_factory, k=k, execute_candidates=execute_candidates,
                       repair=repair, variants=variants, review=review, skills=skills,
                       check_outputs=check_outputs, refine=refine)


# ---- a skill's examples: small eval tasks of its own ------------------------------


@dataclass(frozen=True)
class ExampleResult:
    name: str
    passed: bool
    reason: str
    result: str | None


def run_examples(skill: Skill, sandbox_factory: Any, skills: SkillMap = NO_SKILLS, alu: Any = None) -> list[ExampleResult]:
    """Run each example in a fresh sandbox workspace and check its expectations (`skills`:
    those the skill's plan may call; `alu`: the model for a skill with model ops).

    `sandbox_factory(path, mount_at, writable)` returns a started sandbox (a context manager).
    """
    results = []
    for index, example in enumerate(skill.examples, 1):
        name = str(example.get("name") or f"example {index}")
        fixture = Fixture.create()
        try:
            with sandbox_factory(fixture.path, "/workspace", True) as box:
                setup = box.call(exec_request(example.get("setup") or "true", HARNESS_RULES, 60, 100_000))
                if setup.get("status") != "ok":
                    results.append(ExampleResult(name, False, f"setup failed: {setup.get('message')}", None))
                    continue
                inputs = bind_inputs(skill, dict(example.get("inputs") or {}))
                run = run_plan(skill.plan, box, skill.policy(), inputs=inputs, skills=skills, alu=alu)
                task = Task(f"{skill.name}#{index}", "", "", "/workspace", dict(example.get("expect") or {}))
                files = read_task_files(box, task)
            if not run.ok:
                failed = run.failed_step()
                results.append(ExampleResult(name, False, f"step {failed.id if failed else '?'} failed: "
                                             f"{failed.failure if failed else ''}: {failed.message if failed else ''}", None))
                continue
            if isinstance(task.expect.get("contains"), str):
                task.expect["contains"] = [task.expect["contains"]]
            ok, reason = check(task, run.result, files, None)
            results.append(ExampleResult(name, ok, reason, run.result))
        except SkillInputError as error:
            results.append(ExampleResult(name, False, str(error), None))
        finally:
            fixture.remove()
    return results
