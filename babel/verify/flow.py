"""The control-flow graph of a plan, and what it proves before anything runs.

The verifier (check.py) asks this module about a plan whose steps move control (`jump`,
`branch`, `halt`: each handler's `flow` says where control may go). It builds the graph
over the steps — fall-through, the targets of jumps and branches, halts and the plan's
end as exits — and finds what the LPU only finds at run time: a jump to a step that does
not exist, steps no path reaches, a slot read where some path to it never wrote it, a
loop with no bound on any of its edges, a plan whose result is not written on every path
to its end, and, through the handlers' `check_reads`, a value of the wrong type at a
branch on some path. Pure: the plan and the table in, located diagnostics and per-step
facts (the slots' types, the writes that reach each step) out. A plan without control
flow is left to check.py's straight-line pass, so its diagnostics stay as they were.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from babel.lang import ISA, Diagnostic, Plan, Step
from babel.verify.ops import Flow, Source, handler
from babel.verify.ops.base import diag

INPUT = -1  # the writer index of a plan's input (defined before the first step)


def flow_of(step: Step) -> Flow:
    semantics = handler(step.op)
    return semantics.flow(step) if semantics is not None else Flow()


def relabel(plan: Plan, old: str, new: str) -> Plan:
    """The plan with every jump or branch to step `old` sent to step `new` instead."""
    steps = []
    for step in plan.steps:
        semantics = handler(step.op)
        steps.append(semantics.relabel(step, old, new) if semantics is not None else step)
    return Plan(tuple(steps), plan.result)


def has_control_flow(plan: Plan) -> bool:
    """Whether any step moves control other than to the next one."""
    return any(flow_of(step) != Flow() for step in plan.steps)


@dataclass(frozen=True)
class Graph:
    """Edges between step indices; `ends` are the steps after which the plan may end
    (a halt, or the last step falling through)."""

    succ: tuple[tuple[int, ...], ...]
    bounded: frozenset[tuple[int, int]]
    ends: frozenset[int]
    halts: frozenset[int]
    undefined: tuple[tuple[int, str], ...]  # (step index, the id it names)

    def preds(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.succ]
        for node, targets in enumerate(self.succ):
            for target in targets:
                out[target].append(node)
        return out


def build_graph(plan: Plan) -> Graph:
    index: dict[str, int] = {}
    for i, step in enumerate(plan.steps):
        index.setdefault(step.id, i)
    succ: list[tuple[int, ...]] = []
    bounded: set[tuple[int, int]] = set()
    ends: set[int] = set()
    halts: set[int] = set()
    undefined: list[tuple[int, str]] = []
    last = len(plan.steps) - 1
    for i, step in enumerate(plan.steps):
        flow = flow_of(step)
        targets: list[int] = []
        for name in flow.targets:
            if name not in index:
                undefined.append((i, name))
                continue
            targets.append(index[name])
            if flow.bounded:
                bounded.add((i, index[name]))
        if flow.falls_through:
            if i < last:
                targets.append(i + 1)
            else:
                ends.add(i)
        if flow.ends:
            ends.add(i)
            halts.add(i)
        succ.append(tuple(dict.fromkeys(targets)))
    return Graph(tuple(succ), frozenset(bounded), frozenset(ends), frozenset(halts), tuple(undefined))


def _reachable(graph: Graph) -> set[int]:
    seen: set[int] = set()
    todo = [0] if graph.succ else []
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.succ[node])
    return seen


def _cycles(nodes: set[int], succ: Mapping[int, tuple[int, ...]]) -> list[list[int]]:
    """The strongly connected components of the graph that hold a cycle."""
    edges = {(a, b) for a in nodes for b in succ.get(a, ()) if b in nodes}
    return [part for part in components(sorted(nodes), edges) if len(part) > 1 or (part[0], part[0]) in edges]


def components(nodes: Iterable[int], edges: set[tuple[int, int]]) -> list[list[int]]:
    """The strongly connected parts of a graph (Tarjan's algorithm, iterative), each sorted; the
    verifier's loop checks of plans and of LPU programs both read them."""
    succ: dict[int, list[int]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on: set[int] = set()
    out: list[list[int]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, pos = work.pop()
            if pos == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            nxt = succ.get(v, [])
            if pos < len(nxt):
                work.append((v, pos + 1))
                w = nxt[pos]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                part = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    part.append(w)
                    if w == v:
                        break
                out.append(sorted(part))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


@dataclass
class FlowFacts:
    """What the graph proves: diagnostics by step index (and for the whole plan), and per
    reachable step the slots definitely written before it, their types and their writers."""

    at: dict[int, list[Diagnostic]] = field(default_factory=dict)
    plan: list[Diagnostic] = field(default_factory=list)
    reachable: frozenset[int] = frozenset()
    types: dict[int, dict[str, str]] = field(default_factory=dict)

    def add(self, index: int, diagnostic: Diagnostic) -> None:
        self.at.setdefault(index, []).append(diagnostic)


def analyse(plan: Plan, isa: ISA, inputs: Mapping[str, str]) -> FlowFacts:
    """The control-flow checks of a plan (see the module's doc)."""
    facts = FlowFacts()
    steps = plan.steps
    if not steps:
        return facts
    graph = build_graph(plan)
    ids = [s.id for s in steps]
    for i, name in graph.undefined:
        near = difflib.get_close_matches(name, ids, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else f"; its steps are {', '.join(ids)}"
        facts.add(i, diag(steps[i], "E_LABEL_UNDEFINED", f"to= names step {name!r}, which the plan does not have{hint}"))
    reachable = _reachable(graph)
    facts.reachable = frozenset(reachable)
    for i, step in enumerate(steps):
        if i not in reachable:
            facts.add(i, diag(step, "W_STEP_UNREACHABLE", "no path from the start reaches this step: it never runs", "warning"))
    preds = graph.preds()
    live_preds = [[p for p in ps if p in reachable] for ps in preds]

    def written_type(i: int) -> str:
        opcode = isa.opcodes.get(steps[i].op)
        return opcode.result_type(set(steps[i].args)) if opcode else "text"

    # definite assignment (must: every path) and reaching writes (may: some path), to a fixpoint
    everything = frozenset(inputs) | {s.out for s in steps if s.out}
    assigned_in: dict[int, frozenset[str]] = {i: (frozenset(inputs) if i == 0 else everything) for i in reachable}
    writes_in: dict[int, dict[str, frozenset[int]]] = {i: {} for i in reachable}
    entry_writes = {name: frozenset({INPUT}) for name in inputs}

    def assigned_out(i: int) -> frozenset[str]:
        out = steps[i].out
        return assigned_in[i] | {out} if out else assigned_in[i]

    def writes_out(i: int) -> dict[str, frozenset[int]]:
        out = steps[i].out
        return {**writes_in[i], out: frozenset({i})} if out else writes_in[i]

    changed = True
    while changed:
        changed = False
        for i in sorted(reachable):
            sets = [assigned_out(p) for p in live_preds[i]]
            must = frozenset(inputs) if i == 0 else (frozenset.intersection(*sets) if sets else everything)
            merged: dict[str, frozenset[int]] = dict(entry_writes) if i == 0 else {}
            for p in live_preds[i]:
                for name, writers in writes_out(p).items():
                    merged[name] = merged.get(name, frozenset()) | writers
            if must != assigned_in[i] or merged != writes_in[i]:
                assigned_in[i], writes_in[i] = must, merged
                changed = True

    def unwritten_from(i: int, name: str) -> str:
        """A predecessor on whose path `name` is not written, for the message."""
        if i == 0:
            return "the start"
        for p in live_preds[i]:
            if name not in assigned_out(p):
                return steps[p].id
        return "the start"

    def source(name: str, writer: int) -> Source:
        if writer == INPUT:
            return Source(None, inputs[name], None)
        return Source(steps[writer], written_type(writer), handler(steps[writer].op))

    writers_of: dict[str, list[str]] = {}
    for s in steps:
        if s.out:
            writers_of.setdefault(s.out, []).append(s.id)
    for i in sorted(reachable):
        step = steps[i]
        reaching = writes_in[i]
        types: dict[str, str] = {}
        for name, writers in reaching.items():
            kinds = {inputs[name] if w == INPUT else written_type(w) for w in writers}
            if len(kinds) == 1:
                types[name] = kinds.pop()
        facts.types[i] = types
        for operand, ref in step.reads():
            if ref.name in assigned_in[i]:
                continue
            if ref.name in reaching:
                facts.add(i, diag(step, "E_SLOT_MAYBE_UNDEFINED",
                                  f"{operand}= reads ${ref.name}, which is not written on every path to this step "
                                  f"(not on the path from {unwritten_from(i, ref.name)}): write it before the branch, or on that path too"))
            else:
                others = [w for w in writers_of.get(ref.name, []) if w != step.id]
                why = f"step {others[0]} writes it, but on no path to this one" if others else "no step writes it"
                facts.add(i, diag(step, "E_SLOT_UNDEFINED", f"{operand}= reads ${ref.name} before it is written ({why})"))
        semantics = handler(step.op)
        if semantics is not None:
            sources = {name: tuple(source(name, w) for w in sorted(writers)) for name, writers in reaching.items()}
            facts.at.setdefault(i, []).extend(semantics.check_reads(step, sources))
        if step.out:
            earlier = sorted(w for w in reaching.get(step.out, frozenset()) if w not in (i, INPUT))
            if earlier:
                facts.add(i, diag(step, "W_SLOT_REDEFINED", f"${step.out} was already written by step {steps[earlier[0]].id}; this replaces it", "warning"))

    # loops: with the bounded edges taken out, no cycle may remain
    unbounded = {i: tuple(t for t in graph.succ[i] if t in reachable and (i, t) not in graph.bounded) for i in reachable}
    for component in _cycles(reachable, unbounded):
        members = set(component)
        closing = max((i for i in component if any(t in members and t <= i for t in unbounded[i])), default=component[-1])
        path = " → ".join(steps[i].id for i in component)
        facts.add(closing, diag(steps[closing], "E_LOOP_UNBOUNDED",
                                f"the loop {path} → {steps[component[0]].id} has no bound: give its backward jump or branch "
                                f"times=N, the most times it may be taken"))

    # the result, on every path to an end
    ends = sorted(e for e in graph.ends if e in reachable)
    if not ends:
        facts.plan.append(Diagnostic("E_PLAN_NO_END", "no path reaches the plan's end or a halt: it can only stop by failing"))
    if plan.result:
        if plan.result not in everything:
            facts.plan.append(Diagnostic("E_RESULT_UNDEFINED", f"the plan's result ${plan.result} is never written"))
        else:
            for e in ends:
                halting = e in graph.halts
                if halting and "value" in steps[e].args:
                    continue  # a halt with a value: that value is the result
                have = assigned_in[e] if halting else assigned_out(e)
                if plan.result not in have:
                    where = unwritten_from(e, plan.result)
                    facts.add(e, diag(steps[e], "E_RESULT_MAYBE_UNDEFINED",
                                      f"the plan can end here without its result ${plan.result} written (on the path from {where})"))
    else:
        for e in ends:
            halting = e in graph.halts
            if halting and "value" not in steps[e].args:
                facts.add(e, diag(steps[e], "E_RESULT_UNDEFINED",
                                  "this halt ends the plan without a result: give it one (halt $slot) or name the plan's (result $slot)"))
            elif not halting and written_type(e) == "none":
                facts.add(e, diag(steps[e], "E_RESULT_UNDEFINED",
                                  f"the plan can end at this {steps[e].op}, which gives no value: end it with halt $slot, or name the result (result $slot)"))
    return facts


__all__ = ["FlowFacts", "Graph", "analyse", "build_graph", "has_control_flow", "relabel"]
