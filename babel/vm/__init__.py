"""Plan to result: the machine (a process, one step at a time, over the sandbox) and the
supervisor that repairs it (the control loop).

This module is the part's public face: other parts import from here, never from its modules.
"""

from babel.vm.alu import ALU, Memo
from babel.vm.control import Controller, Repaired, RepairMemory, RepairReport, repair_report
from babel.vm.lpu import LpuRun, run_lpu
from babel.vm.lpu import asks_model as lpu_asks_model
from babel.vm.lpu import reads_files as lpu_reads_files
from babel.vm.machine import (
    HARNESS_RULES,
    EventSink,
    Finish,
    Process,
    RunResult,
    StepSandbox,
    Supervisor,
    exec_request,
    new_run_id,
    rejected,
    run_plan,
    step,
    supervise,
)
from babel.vm.pages import Memory, MemoryStats, Page, PageStore, count_tokens

__all__ = [
    'ALU', 'Memo', 'Controller', 'EventSink', 'Finish', 'HARNESS_RULES', 'Process', 'Repaired', 'RepairMemory', 'RepairReport', 'RunResult',
    'StepSandbox', 'Supervisor',
    'exec_request', 'new_run_id', 'rejected', 'repair_report', 'run_plan', 'step', 'supervise',
    'LpuRun', 'lpu_asks_model', 'lpu_reads_files', 'run_lpu',
    'Memory', 'MemoryStats', 'Page', 'PageStore', 'count_tokens',
]
