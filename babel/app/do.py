"""`babel do`, `babel run` and `babel skill run` as library calls, recording the traces
the CLI records.

The application makes the values a use of Babel works with once and passes them down:
the `Paths` (traces, the repair memory, the commit journal), the skill table
(`load_skill_table`), the model client (`open_model`) and the sandbox factory
(`sandbox_factory`). Each call here takes those (or makes them from the environment
when it is given none), runs its stages, and returns what happened as a value. A caller
follows a run through plain callbacks and answers what only a person can: `on_event`
gets every event the trace store gets, as it happens; `confirm` is asked before a plan
with effects runs (unless `yes`); `approve` is shown a writing run's diff and says which
files to apply; `ask_user` is the control loop's question (may it go on?). The CLI is
one such caller: it parses arguments, calls these, and renders.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from babel.app.paths import Paths, load_skill_table
from babel.app.pipeline import Approve, Progress, SandboxFactory, compile_and_decode, execute_plan
from babel.app.render import step_line
from babel.compiler import REFINE_ROUNDS, STABLE_MESSAGES, Compilation, Decision, ModelRepairs, has_effects, intent, result_problem
from babel.lang import (
    Diagnostic,
    Event,
    Plan,
    RunEnd,
    RunStart,
    Step,
    StepOutput,
    StepStart,
    TraceStore,
    TraceWriter,
    errors,
    parse_plan,
    to_json,
    to_text,
)
from babel.model import Config, ModelClient, ModelPool, load_config, make_client
from babel.sandbox import started
from babel.skills import SkillInputError, SkillMap, bind_inputs
from babel.verify import Policy, asks_model, verify
from babel.vm import (
    ALU,
    Controller,
    EventSink,
    Memo,
    PageStore,
    RepairMemory,
    RepairReport,
    RunResult,
    StepSandbox,
    exec_request,
    new_run_id,
    rejected,
    repair_report,
)

#: Asked before a plan with effects runs: may it? (`babel do` asks on the terminal.)
Confirm = Callable[[Plan], bool]
#: The control loop's question to a person: may it go on?
AskUser = Callable[[str], bool]
#: Hears a running step's output as it comes (live only: the trace keeps the step's result).
OnOutput = Callable[[StepOutput], None]
#: The status of a `babel do` whose plan had effects no one allowed (its trace's run_end).
NOT_CONFIRMED = "not_confirmed"


class RunInterrupted(KeyboardInterrupt):
    """^C during a traced run: its trace ends `interrupted`, and the workspace is unchanged."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id


@dataclass(frozen=True)
class RunOutcome:
    """What `run_plan_text` or `run_skill` did: the run, or why there was none."""

    run_id: str | None  # its trace (None: nothing ran, so nothing was traced)
    diagnostics: tuple[Diagnostic, ...] = ()  # the verifier's: its errors if it rejected the plan, else its warnings
    run: RunResult | None = None  # None: rejected by the verifier, or its effects were not confirmed
    confirmed: bool = True  # False: the plan has effects and no one allowed them

    @property
    def report(self) -> RepairReport:
        """What the run's repairs changed (babel.vm.repair_report); empty without a run."""
        return repair_report(self.run) if self.run is not None else RepairReport()

    @property
    def rejected(self) -> bool:
        return bool(errors(list(self.diagnostics)))

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.ok


@dataclass(frozen=True)
class DoOutcome:
    """What `do_request` did: the compilation and the vote, then the run, if there was one."""

    compilation: Compilation
    decision: Decision  # decision.plan is None: no candidate passed the verifier
    run: RunResult | None = None  # None: no plan, a dry run, or effects not confirmed
    confirmed: bool | None = None  # None: not asked (no plan, or a dry run); False: refused
    missing: str | None = None  # a path the request names that the workspace lacks: nothing was compiled, or the run stopped there
    trace: str | None = None  # the trace of a request that ran nothing: every candidate rejected, or its effects not confirmed

    @property
    def ok(self) -> bool:
        return self.run is not None and self.run.ok

    @property
    def report(self) -> RepairReport:
        """What the run's repairs changed, and how its answer differs from the first plan's."""
        report = repair_report(self.run) if self.run is not None else RepairReport()
        return report if report.missing is not None or self.missing is None else dataclasses.replace(report, missing=self.missing)


def sandbox_factory(mount: str = "/workspace", progress: Progress | None = None) -> SandboxFactory:
    """Starts the Docker sandbox over a directory, mounted at `mount`: (path, writable) ->
    a started sandbox (a context manager). Raises SandboxError when none can start.
    `progress` hears of the image being built, when it must be first."""
    return lambda path, writable: started(path, mount, writable, progress=progress)


def _saying_start(start: SandboxFactory, progress: Progress | None) -> SandboxFactory:
    """The factory, saying on the live line that a sandbox is starting (0.4 s here, more
    on a busy machine, minutes when its image must be built first)."""
    if progress is None:
        return start

    def starting(path: Path, writable: bool) -> Any:
        progress("starting the sandbox" + (" over a staged copy of the workspace" if writable else ""))
        return start(path, writable)

    return starting


def open_model(model: str | None = None, *, root: Path | None = None, k: int | None = None, paths: Paths | None = None,
               progress: Progress | None = None, pool: ModelPool | None = None,
               on_tokens: Callable[[int], None] | None = None) -> tuple[Config, ModelClient]:
    """The configuration (`model` and `k` as flags over the environment and the config
    files, babel.model.load_config) and the client it asks for, its embedded model cached
    under `paths.cache` unless the configuration names a cache; `progress` hears of its
    assembly and load, `on_tokens` of the tokens decoded so far. Raises ConfigError or ModelError."""
    flags: dict[str, Any] = {}
    if model:
        flags["model"] = model
    if k is not None:
        flags["k"] = k
    paths = paths or Paths.from_env()
    config = load_config(flags, root, user_file=paths.user_config, project=paths.project)
    if config.cache_dir is None:
        config = dataclasses.replace(config, cache_dir=str(paths.cache))
    return config, make_client(config, progress=progress, stable_messages=STABLE_MESSAGES, pool=pool, on_tokens=on_tokens)


def confirmed(plan: Plan, skills: SkillMap, yes: bool = False, confirm: Confirm | None = None) -> bool:
    """The confirmation rule: a plan with effects (it writes, or runs a command that may)
    runs only with `yes` or when `confirm(plan)` allows it; any other plan just runs."""
    return not has_effects(plan, skills) or yes or (confirm is not None and confirm(plan))


def trace_recorder(paths: Paths, run_id: str, on_event: EventSink | None, progress: Progress | None = None,
                   plan: Plan | None = None, on_output: OnOutput | None = None) -> tuple[TraceWriter, EventSink]:
    """The trace writer of a run (to close when it ends) and the sink that writes every
    event to it before handing it to `on_event`. A step's start and its output as it comes
    are live only: the start goes to `progress` as the step's line (`s2 exec "grep -c
    TODO"`), the output to `on_output`; neither to the trace or `on_event`."""
    writer = TraceStore(paths.state).writer(run_id)

    def record(event: Event) -> None:
        if isinstance(event, StepOutput):
            if on_output is not None:
                on_output(event)
            return
        if isinstance(event, StepStart):
            if progress is not None:
                step = plan.step(event.id) if plan is not None else None
                line = step_line(step) if step is not None else event.op
                progress(f"{event.id} {line if len(line) <= 60 else line[:59] + '…'}")
            return
        writer(event.to_json())
        if on_event is not None:
            on_event(event)

    return writer, record


def run_traced(
    plan: Plan,
    root: Path,
    policy: Policy,
    *,
    paths: Paths,
    skills: SkillMap,
    meta: Mapping[str, Any] | None = None,
    controller: Controller | None = None,
    readonly_box: StepSandbox | None = None,
    sandbox: SandboxFactory | None = None,
    on_event: EventSink | None = None,
    approve: Approve | None = None,
    git_message: str | None = None,
    say: Progress | None = None,
    alu: ALU | None = None,
    progress: Progress | None = None,
    on_output: OnOutput | None = None,
) -> RunResult:
    """Run a verified plan (over a staged copy if it writes, babel.app.execute_plan) with
    an optional repair `controller`, recording every event in the trace store under
    `paths.state` (its `meta` and the root in the run_start) and handing each to `on_event`;
    model ops page their contexts through the page table `paths.pages`.
    A writing run's diff goes to `approve` before it is applied, its old contents are kept
    under `paths.undo`, and with `git_message` it is committed to git. `say` gets its notes
    (what undo restores, the git commit), `progress` each step as it starts (and a sandbox
    as it starts), `on_output` each step's output as it comes. ^C ends the trace
    `interrupted` and raises RunInterrupted."""
    run_id = new_run_id()
    writer, record = trace_recorder(paths, run_id, on_event, progress, plan, on_output)
    start = _saying_start(sandbox or sandbox_factory(policy.workspace, progress), progress)
    pages = PageStore(paths.pages)
    try:
        result = execute_plan(plan, root, policy, start, journal=paths.commits, on_event=record,
                              run_id=run_id, meta={"root": str(root), **(meta or {})}, on_failure=controller,
                              check_result=controller.check_result if controller is not None else None, readonly_box=readonly_box,
                              skills=skills, approve=approve, undo=paths.undo, git_message=git_message, say=say, alu=alu, pages=pages)
        if controller is not None:
            controller.settle_all(result.ok)
            result = dataclasses.replace(result, repairs=tuple(controller.repairs), model_calls=controller.model_calls)
        return result
    except KeyboardInterrupt:
        record(RunEnd(run_id, "interrupted"))  # the trace and `on_event` (--json) both end `interrupted`
        raise RunInterrupted(run_id) from None
    finally:
        pages.close()
        writer.close()


def run_plan_text(
    text: str | bytes,
    root: Path,
    policy: Policy,
    *,
    source: str = "<plan>",
    repair_model: Callable[[], ModelClient] | None = None,
    model: Callable[[], ModelClient] | None = None,
    on_checked: Callable[[Plan, tuple[Diagnostic, ...]], None] | None = None,
    on_event: EventSink | None = None,
    paths: Paths | None = None,
    skills: SkillMap | None = None,
    sandbox: SandboxFactory | None = None,
    approve: Approve | None = None,
    git_commit: bool = False,
    say: Progress | None = None,
    progress: Progress | None = None,
    on_output: OnOutput | None = None,
) -> RunOutcome:
    """`babel run`: parse a plan (text or JSON form; `source` names it in diagnostics and
    the trace), verify it, and run it over `root`. A rejected plan is not run, but traced
    (run_start, run_end "rejected"). `on_checked` gets the plan that passed and the
    verifier's warnings before the run starts; `progress` and `on_output` are run_traced's.
    With `repair_model` (called only for a plan that passed the verifier) a failing step is
    repaired with the model, and the repair memory is kept under `paths`."""
    paths = paths or Paths.from_env()
    table = load_skill_table(paths).skills if skills is None else skills
    parsed = parse_plan(text)
    diagnostics = tuple(parsed.diagnostics if parsed.plan is None else verify(parsed.plan, policy, skills=table))
    if errors(list(diagnostics)) or parsed.plan is None:
        run_id = new_run_id()
        writer, record = trace_recorder(paths, run_id, on_event)
        try:
            rejected(parsed.plan, errors(list(diagnostics)), on_event=record, run_id=run_id, meta={"root": str(root), "source": source})
        finally:
            writer.close()
        return RunOutcome(run_id, diagnostics)
    if on_checked is not None:
        on_checked(parsed.plan, diagnostics)
    controller = None
    if repair_model is not None:
        controller = Controller(ModelRepairs(repair_model(), policy, skills=table), policy, memory=RepairMemory(paths.repairs), skills=table)
    alu = None
    if model is not None and asks_model(parsed.plan, table):  # model ops: the model, loaded only for a plan that asks it
        alu = ALU(model(), Memo(paths.model_memo))
    result = run_traced(parsed.plan, root, policy, paths=paths, skills=table, meta={"source": source}, controller=controller, alu=alu,
                        sandbox=sandbox, on_event=on_event, approve=approve, git_message=f"babel run {source}" if git_commit else None,
                        say=say, progress=progress, on_output=on_output)
    return RunOutcome(result.run_id, diagnostics, result)


def run_skill(
    name: str,
    inputs: Mapping[str, str],
    root: Path,
    *,
    yes: bool = False,
    confirm: Confirm | None = None,
    on_event: EventSink | None = None,
    paths: Paths | None = None,
    skills: SkillMap | None = None,
    sandbox: SandboxFactory | None = None,
    approve: Approve | None = None,
    say: Progress | None = None,
    model: Callable[[], ModelClient] | None = None,
    progress: Progress | None = None,
    on_output: OnOutput | None = None,
) -> RunOutcome:
    """`babel skill run`: call the skill `name` with `inputs` (strings, arrays as a,b,c)
    over `root`, under the skill's own permissions; a skill that writes runs only if
    confirmed (`yes`, or `confirm`). A skill with model ops gets `model()`, called only
    then; `progress` and `on_output` are run_traced's (the call step's line, its commands'
    output). Raises SkillInputError for an unknown skill or bad inputs."""
    paths = paths or Paths.from_env()
    table = load_skill_table(paths).skills if skills is None else skills
    skill = table.get(name)
    if skill is None:
        raise SkillInputError(f"no skill named {name!r} (see `babel skill list`)")
    bind_inputs(skill, dict(inputs))
    plan = Plan((Step("s1", "call", {"skill": name, **inputs}, "result"),))
    policy = Policy().granting_writes(tuple(skill.permissions.get("write", []))).allowing_exec(tuple(skill.permissions.get("exec", [])))
    if not confirmed(plan, table, yes, confirm):
        return RunOutcome(None, confirmed=False)
    alu = ALU(model(), Memo(paths.model_memo)) if model is not None and asks_model(plan, table) else None
    result = run_traced(plan, root, policy, paths=paths, skills=table, meta={"skill": name}, sandbox=sandbox, on_event=on_event,
                        approve=approve, say=say, alu=alu, progress=progress, on_output=on_output)
    return RunOutcome(result.run_id, (), result)


def do_request(
    request: str,
    root: Path,
    policy: Policy,
    model: ModelClient,
    *,
    k: int = 3,
    repair: bool = True,
    dry_run: bool = False,
    yes: bool = False,
    confirm: Confirm | None = None,
    ask_user: AskUser | None = None,
    on_plan: Callable[[Compilation, Decision], None] | None = None,
    on_event: EventSink | None = None,
    progress: Progress | None = None,
    paths: Paths | None = None,
    skills: SkillMap | None = None,
    sandbox: SandboxFactory | None = None,
    approve: Approve | None = None,
    git_commit: bool = False,
    revise: Callable[[Plan], Plan] | None = None,
    say: Progress | None = None,
    on_output: OnOutput | None = None,
    check_outputs: bool = True,
    refine: int = REFINE_ROUNDS,
) -> DoOutcome:
    """`babel do`: compile the request into k candidates over a read-only sandbox of
    `root`, verify them, dry-run the read-only ones and vote (`on_plan` is shown the
    compilation and the decision), then, unless `dry_run`, run the chosen plan under the
    confirmation rule (`confirmed`) with the control loop on when `repair` (its result
    check judging the answer against the request, its memory under `paths`), traced as
    `run_traced` traces; its diff goes to `approve` before it is applied, and with
    `git_commit` the applied files are committed with the request as the message.
    `progress` hears what is happening (the sandbox starting, compiling, dry runs, each step
    as it starts), `on_output` each step's output as it comes, `say` the run's notes (what
    undo restores; `progress` when None). A request that runs nothing still leaves a trace
    (`trace`): every candidate rejected (run_end `rejected`, with the diagnostics), or a plan
    with effects not confirmed (run_end `not_confirmed`); a dry run leaves none. `revise` (`babel do
    --edit`) is handed the chosen plan and returns the plan to run instead, which must
    pass the verifier (ValueError if not: the caller checks it first); that plan is
    what is confirmed, run and traced (`edited: true` in its run_start)."""
    paths = paths or Paths.from_env()
    table = load_skill_table(paths).skills if skills is None else skills
    start = sandbox or sandbox_factory(policy.workspace, progress)
    with _saying_start(start, progress)(root, False) as readonly_box:
        missing = missing_named_path(request, readonly_box, policy)
        if missing is not None:  # a question about something that is not there: that is its answer
            return _missing_outcome(request, missing, root, policy, paths, on_event)
        compilation, decision = compile_and_decode(request, model, readonly_box, policy, k=k, progress=progress, skills=table,
                                                   check_outputs=check_outputs, refine=refine)
        if on_plan is not None:
            on_plan(compilation, decision)
        if decision.plan is None:  # every candidate rejected: its trace says why
            return DoOutcome(compilation, decision, trace=_not_run(request, root, policy, paths, on_event, compilation, decision))
        if dry_run:
            return DoOutcome(compilation, decision)
        plan = decision.plan
        edited = False
        if revise is not None:
            plan = revise(plan)
            problems = errors(verify(plan, policy, skills=table))
            if problems:
                raise ValueError(f"the revised plan does not pass the verifier: {problems[0].code}: {problems[0].message}")
            edited = to_text(plan) != to_text(decision.plan)
            decision = dataclasses.replace(decision, plan=plan)
        if not confirmed(plan, table, yes, confirm):
            return DoOutcome(compilation, decision, confirmed=False,
                             trace=_not_run(request, root, policy, paths, on_event, compilation, decision, edited=edited))
        controller = None
        if repair:
            controller = Controller(ModelRepairs(model, policy, request, compilation.facts, skills=table), policy, request=request,
                                    skills=table, check=partial(result_problem, request), memory=RepairMemory(paths.repairs),
                                    ask_user=ask_user, scope=intent(request).scope(policy.workspace))
        meta = {"request": request, "vote": decision.summary(),
                "tokens": {"prompt": compilation.prompt_tokens, "completion": compilation.completion_tokens}, **({"edited": True} if edited else {})}
        alu = ALU(model, Memo(paths.model_memo)) if asks_model(plan, table) else None  # a plan (or a skill it calls) with model ops
        run = run_traced(plan, root, policy, paths=paths, skills=table, meta=meta, controller=controller, readonly_box=readonly_box, alu=alu,
                         sandbox=start, on_event=on_event, approve=approve, git_message=request if git_commit else None,
                         say=say or progress, progress=progress, on_output=on_output)
    return DoOutcome(compilation, decision, run, confirmed=True, missing=controller.missing if controller is not None else None)


def _not_run(request: str, root: Path, policy: Policy, paths: Paths, on_event: EventSink | None, compilation: Compilation,
             decision: Decision, edited: bool = False) -> str:
    """The trace of a `babel do` that ran nothing, as a rejected plan's is written
    (run_start, run_end), so `babel trace check` reads it: with no plan, every candidate was
    rejected (run_end `rejected`, the diagnostics); with one, its effects were not
    confirmed (run_end `not_confirmed`, its steps skipped). Returns its run id."""
    run_id = new_run_id()
    meta = {"root": str(root), "request": request, "vote": decision.summary(),
            "tokens": {"prompt": compilation.prompt_tokens, "completion": compilation.completion_tokens}, **({"edited": True} if edited else {})}
    writer, record = trace_recorder(paths, run_id, on_event)
    try:
        if decision.plan is None:
            rejected(None, list(decision.diagnostics), on_event=record, run_id=run_id, meta=meta)
        else:
            record(RunStart(run_id, datetime.now(UTC).isoformat(), to_json(decision.plan), policy.to_json(), meta))
            record(RunEnd(run_id, NOT_CONFIRMED, None, 0, 0, [s.id for s in decision.plan.steps], 0.0,
                          "the plan has effects and no one allowed them (no terminal to ask on, no -y, or the answer was no); nothing was run"))
    finally:
        writer.close()
    return run_id


#: what the probe for a path a request names may do, by the kernel's rules
_PROBE_RULES = {"read": ["."], "write": [], "exec": ["find"]}


def missing_named_path(request: str, box: StepSandbox, policy: Policy) -> str | None:
    """The first path a question surely names (babel.compiler's `Intent.sure`, and the
    absolute paths under the mount) that the workspace does not have, probed in the
    sandbox; None for a request for a change (it may name what it is to create)."""
    wanted = intent(request)
    if wanted.wants_edit:
        return None
    absolute = [p for p in wanted.scope(policy.workspace) if p not in wanted.named]
    for path in dict.fromkeys((*wanted.sure, *absolute)):
        response = box.call(exec_request(f"find {shlex.quote('./' + path)} -maxdepth 0", _PROBE_RULES, 10.0, 4000))
        if response.get("status") != "ok" and "No such file or directory" in json.dumps(response.get("value")):
            return path
    return None


def _missing_outcome(request: str, missing: str, root: Path, policy: Policy, paths: Paths, on_event: EventSink | None) -> DoOutcome:
    """`do_request`'s answer to a question about a path that is not there: nothing compiled
    or run, and a trace that says so (run_start, run_end failed with the reason)."""
    message = f"the request names {missing}, and there is no {missing} in the workspace"
    run_id = new_run_id()
    writer, record = trace_recorder(paths, run_id, on_event)
    try:
        record(RunStart(run_id, datetime.now(UTC).isoformat(), None, policy.to_json(), {"request": request, "root": str(root)}))
        record(RunEnd(run_id, "failed", None, 0, 0, [], 0.0, message))
    finally:
        writer.close()
    run = RunResult(run_id, "failed", (), None, (), 0.0, error=message)
    return DoOutcome(Compilation(request, ()), Decision(None, None, (), 0, 0, f"not compiled: {message}"), run, missing=missing)


def keep_plan(plan: Plan, paths: Paths) -> Path:
    """Keep a plan shown to a person (`babel compile`'s, `babel do`'s) so that `babel run
    last` runs it without compiling again: its text form in `paths.state/plans/`, named by
    the time, and as `last.plan` there. Returns the timestamped file."""
    folder = paths.state / "plans"
    folder.mkdir(parents=True, exist_ok=True)
    text = to_text(plan)
    kept = folder / f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S-%f')}.plan"
    kept.write_text(text)
    latest = folder / ".last.plan.tmp"
    latest.write_text(text)
    latest.replace(last_plan(paths))
    return kept


def last_plan(paths: Paths) -> Path:
    """The plan `babel run last` runs: the one `babel do` or `babel compile` kept last."""
    return paths.state / "plans" / "last.plan"
