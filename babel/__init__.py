"""Babel: plain-language requests compiled into small, checked plans and run in a sandbox.

The package is a library first and a CLI second. Its parts import one way (see
docs/architecture.md): `lang` (plans, the ISA table) < `model`, `sandbox`, `verify` <
`skills` < `compiler`, `vm` < `app` < `cli`. This module is the library API: the names
below are loaded on first use, so `import babel.lang` stays cheap. The CLI's commands are
calls here too, each recording the trace the CLI records: `do_request` (`babel do`),
`run_plan_text` (`babel run`), `run_skill` (`babel skill run`), `run_eval` (`babel eval`),
given the values the application makes once: `Paths`, `load_skill_table`, `open_model`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: name -> the part that provides it
_API = {
    "Plan": "lang", "Step": "lang", "parse_plan": "lang", "to_text": "lang", "to_json": "lang", "Diagnostic": "lang",
    "load_isa": "lang", "TraceStore": "lang",
    "Policy": "verify", "load_policy": "verify", "verify": "verify",
    "Config": "model", "load_config": "model", "make_client": "model", "ModelError": "model",
    "started": "sandbox", "SandboxError": "sandbox",
    "load_skills": "skills", "SkillTable": "verify",
    "compile_request": "compiler", "decode": "compiler",
    "run_plan": "vm", "Controller": "vm", "RunResult": "vm",
    "compile_and_decode": "app", "execute_plan": "app", "run_suite": "app", "load_suite": "app",
    # the commands as library calls, and the values they are given (babel/app/do.py, paths.py)
    "do_request": "app", "run_plan_text": "app", "run_skill": "app", "run_eval": "app", "run_traced": "app", "undo_run": "app",
    "DoOutcome": "app", "RunOutcome": "app", "RunInterrupted": "app",
    "Paths": "app", "load_skill_table": "app", "open_model": "app", "sandbox_factory": "app",
}

__all__ = [
    '__version__', 'Config', 'Controller', 'Diagnostic', 'DoOutcome', 'ModelError', 'Paths', 'Plan', 'Policy',
    'RunInterrupted', 'RunOutcome', 'RunResult', 'SandboxError', 'SkillTable', 'Step', 'TraceStore', 'compile_and_decode',
    'compile_request', 'decode', 'do_request', 'execute_plan', 'load_config', 'load_isa', 'load_policy',
    'load_skill_table', 'load_skills', 'load_suite', 'make_client', 'open_model', 'parse_plan', 'run_eval', 'run_plan',
    'run_plan_text', 'run_skill', 'run_suite', 'run_traced', 'sandbox_factory', 'started',
    'to_json', 'to_text', 'undo_run', 'verify',
]

if TYPE_CHECKING:
    from babel.app import (
        DoOutcome,
        Paths,
        RunInterrupted,
        RunOutcome,
        compile_and_decode,
        do_request,
        execute_plan,
        load_skill_table,
        load_suite,
        open_model,
        run_eval,
        run_plan_text,
        run_skill,
        run_suite,
        run_traced,
        sandbox_factory,
        undo_run,
    )
    from babel.compiler import compile_request, decode
    from babel.lang import Diagnostic, Plan, Step, TraceStore, load_isa, parse_plan, to_json, to_text
    from babel.model import Config, ModelError, load_config, make_client
    from babel.sandbox import SandboxError, started
    from babel.skills import load_skills
    from babel.verify import Policy, SkillTable, load_policy, verify
    from babel.vm import Controller, RunResult, run_plan


def __getattr__(name: str) -> Any:
    part = _API.get(name)
    if part is None:
        raise AttributeError(f"module 'babel' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"babel.{part}"), name)
    globals()[name] = value
    return value
