"""The stages sequenced: the paths and the skill table, do, run, skill run, diffs and undo, eval, skill tests, trace checks, rendering, the pytest plugin.

This module is the part's public face: other parts import from here, never from its modules.
"""

from babel.app.cluster import ClusterError, EvalJob, run_eval_on_ray
from babel.app.diffs import ChangeReview, FileDiff
from babel.app.do import (
    AskUser,
    Confirm,
    DoOutcome,
    RunInterrupted,
    RunOutcome,
    confirmed,
    do_request,
    keep_plan,
    last_plan,
    open_model,
    run_plan_text,
    run_skill,
    run_traced,
    sandbox_factory,
)
from babel.app.evaluate import SuiteError, iter_summary, load_suite, make_runner, repairing_executor, run_eval, run_examples, run_suite
from babel.app.lpu import LpuOutcome, LpuSource, check_program, load_program, run_program
from babel.app.naive import naive_runner
from babel.app.paths import Paths, load_skill_table
from babel.app.pipeline import Approve, compile_and_decode, execute_plan
from babel.app.render import LiveStatus, show_diagnostics, show_plan, show_policy, show_step_event, show_trace, stderr_console, stdout_console
from babel.app.tracecheck import ExpectationError, diff, load_expectations, read_trace
from babel.app.tracecheck import check as check_trace
from babel.app.undo import UndoError, Undone, UndoStore, undo_run
from babel.app.vcs import WorkTree, work_tree
from babel.app.vmstats import page_table, run_stats

__all__ = [
    'Approve', 'AskUser', 'ChangeReview', 'Confirm', 'DoOutcome', 'ExpectationError', 'FileDiff', 'LiveStatus', 'Paths', 'RunInterrupted',
    'RunOutcome', 'SuiteError', 'UndoError', 'UndoStore', 'Undone', 'WorkTree', 'work_tree',
    'check_trace', 'compile_and_decode', 'confirmed', 'diff', 'do_request', 'execute_plan',
    'iter_summary', 'keep_plan', 'last_plan', 'load_expectations', 'load_skill_table', 'load_suite', 'make_runner', 'open_model', 'read_trace',
    'repairing_executor', 'run_eval', 'run_examples', 'run_plan_text', 'run_skill', 'run_suite', 'run_traced', 'sandbox_factory',
    'show_diagnostics', 'show_plan', 'show_policy', 'show_step_event', 'show_trace',
    'stderr_console', 'stdout_console', 'undo_run',
    'ClusterError', 'EvalJob', 'run_eval_on_ray',
    'LpuOutcome', 'LpuSource', 'check_program', 'load_program', 'run_program',
    'naive_runner', 'page_table', 'run_stats',
]
