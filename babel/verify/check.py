"""The static verifier: is this plan well-formed, well-typed and within its policy?

Pure: `verify(plan, policy)` looks only at the plan and the policy and returns
diagnostics (empty means valid). It checks opcodes and operands against the ISA table,
data flow (a slot is written before it is read; in a plan that jumps, branches or
halts, on every path to the read: babel.verify.flow's control-flow graph), types (an operand accepts the type of
the slot that feeds it), permissions (paths within the readable / writable roots,
programs on the exec allow-list, no network) and budgets. The decoder uses these
diagnostics as the syndrome of a candidate; the runtime re-checks at run time what
only then becomes known. It never raises on bad input.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import partial

from babel.lang import ISA, Diagnostic, Opcode, Operand, Plan, SlotRef, Step, Value, load_isa
from babel.verify.flow import analyse, has_control_flow
from babel.verify.ops import NO_SKILLS, SkillTable, StepFacts, handler
from babel.verify.ops.base import diag
from babel.verify.policy import Policy, resolve

#: Which slot types each operand type accepts (text is the universal rendering).
ACCEPTS: dict[str, set[str]] = {
    "str": {"text", "lines", "matches"},
    "regex": {"text"},
    "path": {"text"},
    "paths": {"text", "lines", "matches"},
    "lines": {"text", "lines", "matches"},
    "value": {"text", "lines", "matches"},
    "context": {"text", "lines", "matches", "page"},
    "page": {"page"},
    "argv": {"lines"},
    "int": set(),
    "bool": set(),
}


def verify(plan: Plan, policy: Policy | None = None, inputs: dict[str, str] | None = None, skills: SkillTable = NO_SKILLS) -> list[Diagnostic]:
    """Diagnostics for `plan` under `policy`; `inputs` are slots defined before the first
    step (a skill's inputs), by name and type; `skills` are those its `call`s may name."""
    policy = policy or Policy()
    try:
        return _verify(plan, policy, load_isa(), dict(inputs or {}), skills)
    except Exception as error:  # a verifier bug must still not become a traceback
        return [Diagnostic("E_INTERNAL_CHECK", f"the verifier failed on this plan ({_failure(error)}); please report it")]


def _failure(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 200 else text[:197] + "..."


def _guarded(step: Step, check: Callable[[], list[Diagnostic]]) -> list[Diagnostic]:
    """One step's checks; a failure in them is that step's diagnostic, and the other steps are still checked."""
    try:
        return check()
    except Exception as error:  # a verifier bug: refuse the step, say so, never raise
        return [diag(step, "E_INTERNAL_CHECK", f"the verifier could not check this step ({_failure(error)}); please report it")]


def _verify(plan: Plan, policy: Policy, isa: ISA, inputs: dict[str, str], skills: SkillTable) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if not plan.steps:
        return [Diagnostic("E_PLAN_EMPTY", "the plan has no steps")]
    if len(plan.steps) > policy.budgets.steps:
        out.append(Diagnostic("E_BUDGET_STEPS", f"the plan has {len(plan.steps)} steps; the budget is {policy.budgets.steps}"))
    seen_ids: set[str] = set()
    slot_types: dict[str, str] = dict(inputs)
    written_by: dict[str, str] = {name: "(input)" for name in inputs}
    later_writers = {s.out: s.id for s in plan.steps if s.out}
    read_slots: set[str] = set()
    graph = analyse(plan, isa, inputs) if has_control_flow(plan) else None
    for index, step in enumerate(plan.steps):
        if step.id in seen_ids:
            out.append(diag(step, "E_STEP_DUPLICATE_ID", f"step id {step.id!r} is used twice; ids must be unique"))
        seen_ids.add(step.id)
        opcode = isa.opcodes.get(step.op)
        if opcode is None:
            near = difflib.get_close_matches(step.op, [o.name for o in isa.implemented()], n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; opcodes: {', '.join(o.name for o in isa.implemented())}"
            out.append(diag(step, "E_OPCODE_UNKNOWN", f"unknown opcode {step.op!r}{hint}"))
        elif not opcode.implemented:
            out.append(diag(step, "E_OPCODE_RESERVED", f"{step.op!r} belongs to the {opcode.family} family, reserved but not implemented yet"))
        if graph is not None:  # the graph's data flow, by path, instead of the straight line's
            for _, ref in step.reads():
                read_slots.add(ref.name)
            out += graph.at.get(index, [])
            if opcode is not None and opcode.implemented:
                out += _guarded(step, partial(_check_operands, step, opcode, graph.types.get(index, {}), policy, skills))
            continue
        # data flow first: it applies whatever the opcode
        for operand, ref in step.reads():
            read_slots.add(ref.name)
            if ref.name not in slot_types:
                if ref.name in later_writers and later_writers[ref.name] != step.id:
                    why = f"it is written later, by step {later_writers[ref.name]}"
                else:
                    why = "no step writes it"
                out.append(diag(step, "E_SLOT_UNDEFINED", f"{operand}= reads ${ref.name} before it is written ({why})"))
        if opcode is not None and opcode.implemented:
            out += _guarded(step, partial(_check_operands, step, opcode, slot_types, policy, skills))
        if step.out:
            if step.out in written_by and step.out not in inputs:
                out.append(diag(step, "W_SLOT_REDEFINED", f"${step.out} was already written by step {written_by[step.out]}; this replaces it", "warning"))
            given = set(step.args)
            slot_types[step.out] = opcode.result_type(given) if opcode else "text"
            written_by[step.out] = step.id
    if graph is not None:
        out += graph.plan
    elif plan.result and plan.result not in slot_types:
        out.append(Diagnostic("E_RESULT_UNDEFINED", f"the plan's result ${plan.result} is never written"))
    result_slot = plan.result_slot()
    for step in plan.steps[:-1]:
        if step.out and step.out not in read_slots and step.out != result_slot:
            out.append(diag(step, "W_SLOT_UNUSED", f"${step.out} is written but never read", "warning"))
    return out


def _literal_type(value: Value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "slot"


def _check_value(step: Step, operand: Operand, value: Value, slot_types: dict[str, str]) -> list[Diagnostic]:
    kind = operand.type
    if isinstance(value, SlotRef):
        found = slot_types.get(value.name)
        if found is None:  # already reported as undefined
            return []
        if found not in ACCEPTS[kind]:
            wants = ", ".join(sorted(ACCEPTS[kind])) or "a literal"
            return [diag(step, "E_TYPE_MISMATCH", f"{operand.name}= takes {kind} ({wants}); ${value.name} holds {found}")]
        return []
    literal = _literal_type(value)
    ok = {
        "bool": literal == "bool",
        "int": literal == "int",
        "argv": literal == "list",
        "paths": literal in ("str", "list"),
        "lines": literal in ("str", "list"),
        "value": literal in ("str", "int", "list"),
        "context": literal in ("str", "int", "list"),
        "page": False,
    }.get(kind, literal == "str")
    if not ok:
        return [diag(step, "E_TYPE_MISMATCH", f"{operand.name}= takes {kind}, not {literal} {_show(value)}")]
    problems: list[Diagnostic] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, SlotRef):
                found = slot_types.get(item.name)
                takes = ("text", "page") if kind == "context" else ("text",)
                if found is not None and found not in takes:
                    problems.append(diag(step, "E_TYPE_MISMATCH", f"{operand.name}= lists take {' or '.join(takes)} slots; ${item.name} holds {found}"))
            elif not isinstance(item, str) or isinstance(item, bool):
                problems.append(diag(step, "E_TYPE_MISMATCH", f"{operand.name}= takes a list of strings, found {_show(item)}"))
        if kind == "argv" and not value:
            problems.append(diag(step, "E_ARG_INVALID", "argv= needs at least the program name"))
    if operand.enum and isinstance(value, str) and value not in operand.enum:
        problems.append(diag(step, "E_ARG_INVALID", f"{operand.name}= must be one of {', '.join(operand.enum)}, not {value!r}"))
    return problems


def _show(value: Value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_operands(step: Step, opcode: Opcode, slot_types: dict[str, str], policy: Policy, skills: SkillTable) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    semantics = handler(opcode.name)
    if opcode.variadic and semantics is not None:
        out += semantics.check(step, policy, skills)
    for name, value in step.args.items():
        operand = opcode.operands.get(name)
        if operand is None and opcode.variadic:
            continue
        if operand is None:
            near = difflib.get_close_matches(name, list(opcode.operands), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; {opcode.name} takes {', '.join(opcode.operands)}"
            out.append(diag(step, "E_ARG_UNKNOWN", f"{opcode.name} has no operand {name!r}{hint}"))
            continue
        out += _check_value(step, operand, value, slot_types)
    for name, operand in opcode.operands.items():
        if operand.required and name not in step.args:
            out.append(diag(step, "E_ARG_MISSING", f"{opcode.name} needs {name}= ({operand.doc})"))
    for group in opcode.one_of:
        present = [n for n in group if n in step.args]
        if len(present) != 1:
            what = "needs one of" if not present else "takes only one of"
            out.append(diag(step, "E_ARG_MISSING" if not present else "E_ARG_CONFLICT", f"{opcode.name} {what} {' or '.join(n + '=' for n in group)}"))
    for group in opcode.exclusive:
        present = [n for n in group if n in step.args]
        if len(present) > 1:
            out.append(diag(step, "E_ARG_CONFLICT", f"{opcode.name} takes only one of {' or '.join(n + '=' for n in group)}"))
    out += _check_permissions(step, opcode, policy)
    if not opcode.variadic and semantics is not None:
        out += semantics.check(step, policy, skills)
    out += _check_timeout(step, policy)
    return out


def _literal_paths(value: Value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and not isinstance(item, bool)]
    return []


def _check_permissions(step: Step, opcode: Opcode, policy: Policy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    permission = opcode.needs_permission(set(step.args))
    for name, operand in opcode.operands.items():
        if operand.type not in ("path", "paths") or name not in step.args:
            continue
        access = "write" if permission == "write" else "read"
        for path in _literal_paths(step.args[name]):
            verdict = resolve(policy, path, access)
            if verdict.code:
                out.append(diag(step, verdict.code, f"{name}=: {verdict.message}"))
    return out


def _check_timeout(step: Step, policy: Policy) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    timeout = step.args.get("timeout")
    if isinstance(timeout, int) and not isinstance(timeout, bool):
        if timeout <= 0:
            out.append(diag(step, "E_ARG_INVALID", "timeout= must be a positive number of seconds"))
        elif timeout > policy.budgets.step_timeout:
            out.append(diag(step, "E_BUDGET_TIME", f"timeout={timeout} is over the step budget of {policy.budgets.step_timeout:g} s"))
    return out


def step_facts(step: Step, skills: SkillTable = NO_SKILLS) -> StepFacts:
    """Whether a step has effects (writes or runs something that writes), for confirmation and
    dry runs; a call of a skill not in `skills` is taken to have effects."""
    try:
        return _step_facts(step, skills)
    except Exception:  # a step the verifier cannot judge is treated as having effects
        return StepFacts(effects=True, permission=None)


def _step_facts(step: Step, skills: SkillTable) -> StepFacts:
    opcode = load_isa().opcodes.get(step.op)
    semantics = handler(step.op)
    if opcode is None or semantics is None:
        return StepFacts(effects=True, permission=None)
    return semantics.facts(step, opcode, skills, partial(_step_facts, skills=skills))


def is_valid(diagnostics: list[Diagnostic]) -> bool:
    return not any(d.is_error for d in diagnostics)
