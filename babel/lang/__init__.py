"""The language, pure: the ISA table, plans and their text and JSON forms, values, diagnostics, traces.

This module is the part's public face: other parts import from here, never from its modules.
"""

from babel.lang import lpu  # the LPU's programs and bytecode (lpu.LpuProgram, lpu.encode, lpu.decode, ...)
from babel.lang.asm import AsmResult, parse_asm, to_asm
from babel.lang.diagnostics import Diagnostic, errors
from babel.lang.events import (
    MAIN_PID,
    Commit,
    CommitRefused,
    Discard,
    Event,
    Recovered,
    Repair,
    ResultChecked,
    RunEnd,
    RunStart,
    StepOutput,
    StepResult,
    StepStart,
)
from babel.lang.events import from_json as event_from_json
from babel.lang.isa import ISA, Opcode, Operand, load_isa, model_schema
from babel.lang.plan import ParseResult, Plan, RepairRequest, SlotRef, Step, Value, canonical, canonical_key, parse_plan, plan_from_json, to_json, to_text
from babel.lang.resources import data_dir
from babel.lang.trace import TraceStore, TraceWriter, read_events
from babel.lang.units import Unit, language, split_units
from babel.lang.values import as_lines, as_paths, as_text, is_page, preview

__all__ = [
    'MAIN_PID', 'Commit', 'CommitRefused', 'Discard', 'Event', 'Recovered', 'Repair', 'ResultChecked', 'RunEnd', 'RunStart',
    'StepOutput', 'StepResult', 'StepStart', 'event_from_json',
    'Diagnostic', 'ISA', 'Opcode', 'Operand', 'ParseResult', 'Plan', 'RepairRequest', 'SlotRef',
    'Step', 'TraceStore', 'TraceWriter', 'Value', 'as_lines', 'as_paths', 'as_text', 'is_page', 'canonical', 'canonical_key',
    'data_dir', 'errors', 'load_isa', 'model_schema', 'parse_plan', 'plan_from_json', 'preview',
    'read_events', 'to_json', 'to_text', 'Unit', 'language', 'split_units',
    'AsmResult', 'lpu', 'parse_asm', 'to_asm',
]
