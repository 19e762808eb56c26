"""One definition per opcode: the handler table.

isa/opcodes.json is the single table of opcodes as data (operands, types, permissions,
effects, failure kinds); each opcode's `family` names the module here that holds its
handler (core, control, model, memory, process). `OPS` maps every implemented opcode to
its one handler. The verifier's checks and effect rules, the vm's dispatch, the
renderer and the compiler's repair prompts all read it; nothing else names an opcode.
Implementing a reserved opcode takes its handler in its family's module and its status
in opcodes.json, nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from babel.lang import ISA, Plan, load_isa
from babel.verify.ops import control, core, memory, model, process
from babel.verify.ops.base import (
    NO_SKILLS,
    Answer,
    Chat,
    Choice,
    FactsOf,
    Flow,
    Handler,
    Machine,
    Outcome,
    SkillSignature,
    SkillTable,
    Source,
    StepFacts,
    StepFailure,
)
from babel.verify.ops.core import exec_programs, kernel_rules

#: family name (as in isa/opcodes.json) -> the handlers its module registers
FAMILIES: Mapping[str, Mapping[str, Handler]] = MappingProxyType({
    "core": core.HANDLERS, "control": control.HANDLERS, "model": model.HANDLERS,
    "memory": memory.HANDLERS, "process": process.HANDLERS,
})


class TableError(Exception):
    """The handlers and isa/opcodes.json disagree (a Babel bug, found at import)."""


def build_table(isa: ISA, families: Mapping[str, Mapping[str, Handler]] = FAMILIES) -> Mapping[str, Handler]:
    """Each implemented opcode's one handler, from its family's module."""
    table: dict[str, Handler] = {}
    for family, handlers in families.items():
        for name, handler in handlers.items():
            opcode = isa.opcodes.get(name)
            if opcode is None or not opcode.implemented:
                raise TableError(f"the {family} family registers a handler for {name!r}, which isa/opcodes.json does not implement")
            if opcode.family != family:
                raise TableError(f"{name!r} is in the {opcode.family} family, but its handler is registered in the {family} module")
            if handler.op != name:
                raise TableError(f"the handler registered for {name!r} is for {handler.op!r}")
            table[name] = handler
    missing = [o.name for o in isa.implemented() if o.name not in table]
    if missing:
        raise TableError(f"implemented opcodes without a handler: {', '.join(missing)}")
    return MappingProxyType(table)


OPS: Mapping[str, Handler] = build_table(load_isa())


def handler(op: str) -> Handler | None:
    """The handler of an implemented opcode, or None."""
    return OPS.get(op)


def asks_model(plan: Plan, skills: SkillTable = NO_SKILLS, _seen: frozenset[str] = frozenset()) -> bool:
    """Whether a step of the plan, or of a skill it calls, asks the model (a run of it needs one)."""
    for step in plan.steps:
        found = handler(step.op)
        if found is not None and found.asks_model:
            return True
        name = step.args.get("skill") if step.op == "call" else None
        if isinstance(name, str) and name in skills and name not in _seen and asks_model(skills[name].plan, skills, _seen | {name}):
            return True
    return False


__all__ = [
    "FAMILIES", "NO_SKILLS", "Answer", "Chat", "Choice", "OPS", "FactsOf", "Flow", "Handler", "Machine", "Outcome", "SkillSignature", "SkillTable",
    "Source", "StepFacts", "StepFailure", "TableError", "asks_model", "build_table", "exec_programs", "handler", "kernel_rules",
]
