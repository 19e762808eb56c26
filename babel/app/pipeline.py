"""The stages of `babel do` joined: compile → verify → decode, and a chosen plan run safely.

This is the imperative shell that joins the stages: it gathers the workspace facts
the compiler needs (through the sandbox, so no host-side file access is involved),
asks for k candidates, dry-runs the read-only ones in a sandbox whose workspace is
mounted read-only (agreement by execution), lets the decoder choose, and runs a chosen
plan, applying a writing run's changes through the journal it is given: checked, shown
as a diff to the caller's `approve` (all, some files, or none), their old contents kept
for `babel undo`, a git work tree warned about when dirty and, if asked, committed to.
Each stage is a function of its own module; this one only sequences them and reports
progress. The skill table and the journal are the caller's (babel.app.do makes them once).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

from babel.app.diffs import ChangeReview, review_changes
from babel.app.undo import MAX_KEPT_FILE, UndoError, UndoStore
from babel.app.vcs import GitError, commit_run, dirty_warning, work_tree
from babel.compiler import (
    REFINE_ROUNDS,
    Compilation,
    Decision,
    DryRun,
    OutputChecker,
    Verdict,
    WorkspaceFacts,
    compile_request,
    decode,
    has_effects,
    output_checker,
    refine_with_outputs,
    retry_with_diagnostics,
    reviewer,
)
from babel.lang import Commit, Discard, Plan, Recovered, as_text, canonical_key
from babel.lang import CommitRefused as CommitRefusedEvent
from babel.model import ModelClient
from babel.sandbox import Change, CommitRefused, SandboxError, WorkspaceError, apply_changes, check_changes, read_originals, recover_commits
from babel.skills import NO_SKILLS, SkillMap
from babel.verify import Policy, asks_model, replace_budgets
from babel.vm import ALU, EventSink, PageStore, RunResult, StepSandbox, exec_request, run_plan

Progress = Callable[[str], None]
#: Asked with a writing run's diff before anything is applied: the paths to apply (all of
#: `review.paths`, some, or none). None in their place applies all (the caller consented).
Approve = Callable[[ChangeReview], Collection[str]]

#: Lists the workspace for the compiler: files only, skipping VCS and dependency
#: directories, sorted, bounded. Run inside the sandbox.
FACTS_CMD = (
    "find . \\( -name .git -o -name node_modules -o -name __pycache__ -o -name .venv \\) -prune "
    "-o -type f -print 2>/dev/null | sed 's|^\\./||' | LC_ALL=C sort | head -n {limit}; "
    "echo '#count'; find . \\( -name .git -o -name node_modules -o -name __pycache__ -o -name .venv \\) -prune "
    "-o -type f -print 2>/dev/null | wc -l"
)
HEAD_SUFFIXES = (".csv", ".tsv", ".psv")
#: what those listings may do, by the kernel's rules: read the workspace, run these
FACTS_RULES = {"read": ["."], "write": [], "exec": ["find", "sed", "sort", "head", "wc"]}


def gather_facts(sandbox: StepSandbox, policy: Policy, limit: int = 60, heads: int = 3) -> WorkspaceFacts:
    """The bounded listing (and the first lines of a few small tables) the compiler is shown."""
    response = sandbox.call(exec_request(FACTS_CMD.format(limit=limit), FACTS_RULES, 20.0, 200_000))
    value = response.get("value") or {}
    text = as_text(value.get("stdout") if isinstance(value, dict) else value)
    listing, _, count = text.partition("#count")
    files = tuple(line for line in listing.splitlines() if line.strip())
    try:
        total = int(count.strip() or 0)
    except ValueError:
        total = len(files)
    head_pairs: list[tuple[str, str]] = []
    for path in [f for f in files if f.lower().endswith(HEAD_SUFFIXES)][:heads]:
        head = sandbox.call(exec_request(f"head -c 400 {shlex.quote(path)} | head -n 3", FACTS_RULES, 10.0, 2000))
        head_value = head.get("value")
        head_text = as_text(head_value.get("stdout") if isinstance(head_value, dict) else head_value).strip()
        if head.get("status") == "ok" and head_text:
            head_pairs.append((path, head_text))
    return WorkspaceFacts(mount=policy.workspace, files=files, more_files=max(0, total - len(files)), heads=tuple(head_pairs))


def dry_runner(sandbox: StepSandbox, policy: Policy, step_timeout: float = 10.0, skills: SkillMap = NO_SKILLS) -> Callable[[Plan], DryRun | None]:
    """Runs read-only plans in a read-only sandbox; plans with effects are not dry-run, and
    neither are plans that ask the model (a model op over every function of a service is
    minutes, not the decoder's quick look; the vote counts them without an outcome)."""
    quick = replace_budgets(policy, step_timeout=min(step_timeout, policy.budgets.step_timeout))

    def dry_run(plan: Plan) -> DryRun | None:
        if has_effects(plan, skills) or asks_model(plan, skills):
            return None
        result = run_plan(plan, sandbox, quick, skills=skills)
        failed = result.failed_step()
        if failed is not None:
            return DryRun(False, None, failed.failure, failed.message)
        return DryRun(True, result.result)

    return dry_run


def compile_and_decode(
    request: str,
    model: ModelClient,
    sandbox: StepSandbox,
    policy: Policy,
    *,
    k: int,
    execute_candidates: bool = True,
    progress: Progress | None = None,
    variants: bool = False,
    review: bool = False,
    skills: SkillMap = NO_SKILLS,
    check_outputs: bool = True,
    refine: int = REFINE_ROUNDS,
) -> tuple[Compilation, Decision]:
    """Compile `request` into k candidates and decode them: dry runs of the read-only ones
    (`execute_candidates`, k > 1), the vote, the output checker's verdicts (`check_outputs`, with
    dry runs and a model that scores), and, while the checker rejects the winner's output,
    up to `refine` refine rounds that compile again showing the model what the plans printed."""
    say = progress or (lambda message: None)
    say("reading the workspace")
    facts = gather_facts(sandbox, policy)
    compilation = compile_request(request, model, k=k, policy=policy, facts=facts, progress=say, variants=variants, skills=skills)
    runner = dry_runner(sandbox, policy, skills=skills) if execute_candidates and k > 1 else None
    if runner is not None:
        runner = _once_each(_saying_dry_runs(runner, compilation, skills, say))
    # the reviewer is opt-in: measured, it did not pay for its ~2 s a task (docs/compiler.md)
    scorer = reviewer(model, request, policy.workspace) if review and k > 1 else None
    checker = output_checker(model, request, policy.workspace) if check_outputs and runner is not None else None
    if checker is not None:
        checker = _saying_checks(checker, say)
    decision = decode(compilation, runner, scorer, skills, checker)
    if decision.plan is None and compilation.candidates:
        compilation = retry_with_diagnostics(compilation, model, k=k, policy=policy, facts=facts, progress=say, skills=skills)
        decision = decode(compilation, runner, scorer, skills, checker)
    refines: list[dict[str, object]] = []
    while decision.rejected and len(refines) < refine:
        tried = [(decision.commands.get(g.members[0], ""), (g.outcome.result or "") if g.outcome else "", g.verdict.probability)
                 for g in decision.groups if g.verdict is not None]
        before = compilation
        compilation = refine_with_outputs(compilation, tried, model, k=k, policy=policy, facts=facts, progress=say, skills=skills,
                                          round_no=len(refines) + 1)
        refines.append({"round": len(refines) + 1, "rejected": decision.groups[0].brief(),
                        "unchecked": None if decision.unchecked is None else decision.unchecked.brief(),
                        "candidates": [c.index for c in compilation.candidates[len(before.candidates):]],
                        "prompt_tokens": compilation.prompt_tokens - before.prompt_tokens,
                        "completion_tokens": compilation.completion_tokens - before.completion_tokens})
        decision = replace(decode(compilation, runner, scorer, skills, checker), rounds=len(refines), refines=tuple(refines))
    return compilation, decision


def _once_each(runner: Callable[[Plan], DryRun | None]) -> Callable[[Plan], DryRun | None]:
    """The dry runner, running each distinct plan once however often the decoder asks (a
    refine round decodes the earlier candidates again)."""
    done: dict[str, DryRun | None] = {}

    def dry_run(plan: Plan) -> DryRun | None:
        key = canonical_key(plan)
        if key not in done:
            done[key] = runner(plan)
        return done[key]

    return dry_run


def _saying_checks(checker: OutputChecker, say: Progress) -> OutputChecker:
    def check(judged: list[tuple[str, str]]) -> list[Verdict | None]:
        say(f"checking {len(judged)} output{'s' if len(judged) != 1 else ''} against the request")
        return checker(judged)

    return check


def _saying_dry_runs(runner: Callable[[Plan], DryRun | None], compilation: Compilation, skills: SkillMap,
                     say: Progress) -> Callable[[Plan], DryRun | None]:
    """The dry runner, saying which of the distinct read-only plans it is running (the
    decoder dry-runs each distinct plan once; the ones with effects are not dry-run)."""
    total = len({canonical_key(c.plan) for c in compilation.candidates
                 if c.valid and c.plan is not None and not has_effects(c.plan, skills) and not asks_model(c.plan, skills)})
    done = 0

    def dry_run(plan: Plan) -> DryRun | None:
        nonlocal done
        if not has_effects(plan, skills) and not asks_model(plan, skills):
            done += 1
            say(f"dry-running {total} plan{'s' if total != 1 else ''}: plan {min(done, total) or done} of {max(total, done)}")
        return runner(plan)

    return dry_run


SandboxFactory = Callable[[Path, bool], Any]  # (directory to mount, writable) -> a started sandbox (context manager)


def execute_plan(
    plan: Plan,
    root: Path,
    policy: Policy,
    sandbox_factory: SandboxFactory,
    *,
    journal: Path,
    on_event: EventSink | None = None,
    run_id: str | None = None,
    meta: dict[str, Any] | None = None,
    on_failure: Any = None,
    check_result: Any = None,
    readonly_box: StepSandbox | None = None,
    skills: SkillMap = NO_SKILLS,
    approve: Approve | None = None,
    undo: Path | None = None,
    git_message: str | None = None,
    say: Progress | None = None,
    alu: ALU | None = None,
    pages: PageStore | None = None,
) -> RunResult:
    """Run a chosen plan safely (`alu` answers its model ops, if any, over contexts paged
    through the page table `pages`): read-only plans over a read-only mount; plans with
    effects over a staged copy in the sandbox, whose changes are read back as data,
    checked against the write roots and applied to `root` all or nothing, only if
    every step completed, through the commit `journal` (a directory; `Paths.commits`).

    Before the apply, `approve` is shown the diff (babel.app.diffs) and says which files
    to apply; the old contents of those are kept under `undo` (`Paths.undo`) for `babel
    undo`; in a git work tree a dirty tree is warned about in the review, and with
    `git_message` the applied files are committed with it. `say` gets one-line notes
    (what undo can restore, the git commit)."""
    emit = on_event or (lambda event: None)
    if not has_effects(plan, skills):
        if readonly_box is not None:
            return run_plan(plan, readonly_box, policy, on_event=emit, run_id=run_id, meta=meta, on_failure=on_failure,
                            check_result=check_result, skills=skills, alu=alu, pages=pages)
        with sandbox_factory(root, False) as box:
            return run_plan(plan, box, policy, on_event=emit, run_id=run_id, meta=meta, on_failure=on_failure, check_result=check_result,
                            skills=skills, alu=alu, pages=pages)
    for line in recover_commits(journal):  # a commit that a killed run left half-done is finished or undone first
        emit(Recovered(line))
    with sandbox_factory(root, True) as box:

        def commit(run: str, sink: EventSink) -> str | None:
            store = UndoStore(undo) if undo is not None else None
            kept = False
            try:
                changes, skipped = box.change_set()
                refused = unstaged_changes(changes, skipped) or check_changes(root, changes, policy.write)
                if refused:
                    raise CommitRefused(refused)
                if not changes:
                    sink(Commit(run, [], []))
                    return None
                originals = read_originals(root, [c.path for c in changes], MAX_KEPT_FILE)
                tree = work_tree(root) if approve is not None or git_message is not None else None
                warning = dirty_warning(tree, [c.path for c in changes]) if tree is not None else None
                review = review_changes(run, changes, originals, undo_limit=MAX_KEPT_FILE if store else None,
                                        warnings=(warning,) if warning else ())
                chosen = set(review.paths if approve is None else approve(review))
                changes = [c for c in changes if c.path in chosen]
                if not changes:
                    sink(Discard(run, "the changes were not applied: none was approved"))
                    return "the changes were not applied: none was approved (the workspace is unchanged)"
                if store is not None:
                    store.keep(run, root, changes, originals, (meta or {}).get("request") or "")
                    kept = True
                applied = apply_changes(root, changes, policy.write, journal, run, expected=originals)
            except CommitRefused as error:
                if kept and store is not None:
                    store.forget(run)
                sink(CommitRefusedEvent(run, list(error.problems)))
                return f"the run's changes were refused, and nothing was applied: {'; '.join(error.problems[:5])}"
            except (SandboxError, WorkspaceError, UndoError) as error:
                if kept and store is not None:
                    store.forget(run)
                sink(CommitRefusedEvent(run, [str(error)]))
                return f"nothing was applied: {error}"
            sink(Commit(run, list(applied.written), list(applied.deleted)))
            notify = say or (lambda message: None)
            if store is not None:
                notify(f"`babel undo {run}` restores what this run changed")
            if git_message is not None:
                if tree is None:
                    notify("--git-commit: the workspace is not in a git work tree (or git is missing); nothing was committed to git")
                else:
                    try:
                        head = commit_run(root, [*applied.written, *applied.deleted], f"{git_message}\n\nBabel-Run: {run}\n")
                    except GitError as error:
                        notify(f"the changes are applied, but not committed to git: {error}")
                    else:
                        notify(f"git commit {head}" if head else "git: the changed files are ignored by git; nothing to commit")
            return None

        result = run_plan(plan, box, policy, on_event=emit, run_id=run_id, meta=meta, on_failure=on_failure, check_result=check_result,
                          finish=commit, skills=skills, alu=alu, pages=pages)
    if not result.ok and result.error is None:  # (a refused commit has said so itself)
        emit(Discard(result.run_id, "the run did not complete; the workspace is unchanged"))
    return result


def unstaged_changes(changes: list[Change], skipped: tuple[tuple[str, str], ...]) -> list[str]:
    """Changes at (or beneath) a path that staging left out: FIFOs, sockets, unreadable
    files, .git. The run never saw what is there, so it may not replace it."""
    problems = []
    for change in changes:
        for path, why in skipped:
            if change.path == path or change.path.startswith(path.rstrip("/") + "/"):
                problems.append(f"{change.path}: Babel never changes version-control files" if why == "version control" else
                                f"{change.path}: the run may not change it ({path} was not staged: {why})")
                break
    return problems
