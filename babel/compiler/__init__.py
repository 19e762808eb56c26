"""Request to plan: facts, examples, prompt, sampling, review, the vote, repair proposals.

This module is the part's public face: other parts import from here, never from its modules.
"""

from babel.compiler.checker import OutputChecker, Verdict, output_checker
from babel.compiler.compile import (
    REFINE_ROUNDS,
    STABLE_MESSAGES,
    Compilation,
    ModelRepairs,
    WorkspaceFacts,
    compile_request,
    refine_with_outputs,
    retry_with_diagnostics,
)
from babel.compiler.decode import Decision, DryRun, decode, has_effects
from babel.compiler.intent import Intent, intent
from babel.compiler.review import reviewer
from babel.compiler.shape import result_problem

__all__ = [
    'REFINE_ROUNDS', 'Compilation', 'Decision', 'DryRun', 'Intent', 'ModelRepairs', 'OutputChecker', 'STABLE_MESSAGES',
    'Verdict', 'WorkspaceFacts', 'compile_request', 'decode', 'has_effects', 'intent', 'output_checker', 'refine_with_outputs',
    'result_problem', 'retry_with_diagnostics', 'reviewer',
]
