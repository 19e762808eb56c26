"""Plan to result: the machine (a process, one step at a time, over the sandbox) and the
supervisor that repairs it (the control loop).

This module is the part's public face: other parts import from here, never from its modules.
"""

from babel.vm.control import Controller, RepairMemory
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

__all__ = [
    'Controller', 'EventSink', 'Finish', 'HARNESS_RULES', 'Process', 'RepairMemory', 'RunResult', 'StepSandbox', 'Supervisor',
    'exec_request', 'new_run_id', 'rejected', 'run_plan', 'step', 'supervise',
]
