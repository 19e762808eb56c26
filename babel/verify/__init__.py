"""The pure gate: policies, the shell reader, one handler per opcode (`ops`), and the
static checks a plan must pass before it runs.

This module is the part's public face: other parts import from here, never from its modules.
"""

from babel.verify.check import step_facts, verify
from babel.verify.flow import relabel
from babel.verify.lpu import check_lpu, loop_bound
from babel.verify.ops import (
    NO_SKILLS,
    OPS,
    Answer,
    Chat,
    Choice,
    Handler,
    Machine,
    Outcome,
    SkillTable,
    StepFacts,
    StepFailure,
    asks_model,
    exec_programs,
    handler,
    kernel_rules,
)
from babel.verify.policy import Policy, PolicyError, load_policy, path_within, replace_budgets, resolve, validate_policy
from babel.verify.shell import quote_argv

__all__ = [
    'NO_SKILLS', 'OPS', 'Answer', 'Chat', 'Choice', 'Handler', 'Machine', 'Outcome', 'Policy', 'PolicyError', 'SkillTable', 'StepFacts', 'StepFailure',
    'asks_model',
    'exec_programs', 'handler', 'kernel_rules', 'load_policy', 'path_within', 'quote_argv', 'relabel', 'replace_budgets', 'resolve',
    'step_facts', 'validate_policy', 'verify',
    'check_lpu', 'loop_bound',
]
