"""The LPU's programs checked before they run: what the LPU itself finds only at run time.

`check_lpu` is an abstract interpretation over the program's control-flow graph (an
instruction goes on to the next one; a branch also to its label; EXIT nowhere). Each
text register is abstracted by what it may hold on some path — nothing, text, a number
in an interval — and each context register by how many messages it holds (an interval)
and which roles its first one may have. Branches refine the intervals on each edge (on
the fall-through of `BEQ X1, X2` with X2 = 0, X1 is not 0), so a counter tested against
zero is known not to go below it; intervals at a loop head are widened to the program's
own constants, so the analysis ends. From the fixed point it reports, each at the line
and column of the operand concerned:

- a write to X0 or C0 (`E_LPU_WRITE_ZERO`), a POP or DRP of C0;
- a read of a register that may be empty on some path, a POP or DRP of a context that
  may be empty (`E_LPU_EMPTY`);
- text where a branch or SUBI needs a number, a number where INF, EVAL or SIM needs
  text (`E_LPU_TYPE`);
- a SUBI that may take a register below zero (`E_LPU_SUBI_NEGATIVE`);
- a context whose first message may be an assistant's when a model op reads it (the
  LPU's model call refuses it; `E_LPU_ROLE_ORDER`);
- a label at the end of the program (`E_LPU_LABEL_AT_END`);
- an LC path that leaves the run's root (`E_PATH_OUTSIDE_ROOT`, as for a plan's read);
- a loop without a visible bound (`E_LPU_LOOP_UNBOUNDED`): every cycle of a loop (a
  strongly connected part of the graph) must pass a `SUBI Xk, n` (n ≥ 1) of one
  counter Xk that nothing else in the loop writes and that a branch in the loop tests.
  With the SUBI check above, such a loop runs at most (Xk at entry) / n times.

Instructions no path reaches are not checked (a warning says they are there).
"""

from __future__ import annotations

from dataclasses import dataclass

from babel.lang import Diagnostic, lpu
from babel.verify.flow import components
from babel.verify.policy import Policy, resolve

INF = lpu.MAX_NUMBER
NONE, TEXT, NUM = "none", "text", "num"


@dataclass(frozen=True)
class Reg:
    kinds: frozenset[str]
    lo: int = 0
    hi: int = 0  # the interval of its number, when "num" is in kinds

    def join(self, other: Reg) -> Reg:
        if NUM in self.kinds and NUM in other.kinds:
            return Reg(self.kinds | other.kinds, min(self.lo, other.lo), max(self.hi, other.hi))
        num = self if NUM in self.kinds else other
        return Reg(self.kinds | other.kinds, num.lo, num.hi)


@dataclass(frozen=True)
class Ctx:
    lo: int
    hi: int
    first: frozenset[str]  # the roles its first message may have

    def join(self, other: Ctx) -> Ctx:
        return Ctx(min(self.lo, other.lo), max(self.hi, other.hi), self.first | other.first)


EMPTY = Reg(frozenset({NONE}))
NO_CTX = Ctx(0, 0, frozenset())
State = tuple[tuple[Reg, ...], tuple[Ctx, ...]]


def _num(lo: int, hi: int) -> Reg:
    return Reg(frozenset({NUM}), lo, hi)


def _join(a: State, b: State) -> State:
    return tuple(x.join(y) for x, y in zip(a[0], b[0], strict=True)), tuple(x.join(y) for x, y in zip(a[1], b[1], strict=True))


def _widen(old: State, new: State, thresholds: list[int]) -> State:
    """`new` (which contains `old`) with each bound that grew moved out to the next threshold."""

    def down(v: int) -> int:
        return max((t for t in thresholds if t <= v), default=0)

    def up(v: int) -> int:
        return min((t for t in thresholds if t >= v), default=INF)

    regs = []
    for o, n in zip(old[0], new[0], strict=True):
        if NUM in n.kinds and NUM in o.kinds:
            n = Reg(n.kinds, n.lo if n.lo >= o.lo else down(n.lo), n.hi if n.hi <= o.hi else up(n.hi))
        regs.append(n)
    ctxs = [Ctx(n.lo, n.hi if n.hi <= o.hi else INF, n.first) for o, n in zip(old[1], new[1], strict=True)]
    return tuple(regs), tuple(ctxs)


def _set(state: State, reg: int, value: Reg) -> State:
    if reg == 0:
        return state
    regs = list(state[0])
    regs[reg] = value
    return tuple(regs), state[1]


def _set_ctx(state: State, ctx: int, value: Ctx) -> State:
    if ctx == 0:
        return state
    ctxs = list(state[1])
    ctxs[ctx] = value
    return state[0], tuple(ctxs)


def _refine(op: str, a: Reg, b: Reg, taken: bool) -> tuple[Reg, Reg] | None:
    """The intervals of a and b on one edge of `op a, b` (None: no value takes it)."""
    alo, ahi, blo, bhi = a.lo, a.hi, b.lo, b.hi
    rel = op if taken else {"BEQ": "BNE", "BLT": "BGE", "BGE": "BLT", "BLE": "BGT", "BGT": "BLE"}[op]
    if rel == "BEQ":
        alo = blo = max(alo, blo)
        ahi = bhi = min(ahi, bhi)
    elif rel == "BNE":
        if blo == bhi:
            alo, ahi = alo + (alo == blo), ahi - (ahi == blo)
        if alo == ahi:
            blo, bhi = blo + (blo == alo), bhi - (bhi == alo)
    elif rel == "BLT":
        ahi, blo = min(ahi, bhi - 1), max(blo, alo + 1)
    elif rel == "BLE":
        ahi, blo = min(ahi, bhi), max(blo, alo)
    elif rel == "BGT":
        alo, bhi = max(alo, blo + 1), min(bhi, ahi - 1)
    elif rel == "BGE":
        alo, bhi = max(alo, blo), min(bhi, ahi)
    if alo > ahi or blo > bhi:
        return None
    return _num(alo, ahi), _num(blo, bhi)


def _regs(instr: lpu.Instr) -> list[int]:
    return [int(o.value) for o in instr.operands]


def _transfer(instr: lpu.Instr, state: State) -> list[tuple[str, State]]:
    """The states after `instr` on its edges: ("next", state), ("jump", state)."""
    op, ops = instr.op, instr.operands
    v = [o.value for o in ops]
    regs, ctxs = state
    if op == "EXIT":
        return []
    if op in lpu.BRANCHES:
        a, b = regs[int(v[0])], regs[int(v[1])]
        a, b = (_num(a.lo, a.hi) if NUM in a.kinds else _num(0, INF)), (_num(b.lo, b.hi) if NUM in b.kinds else _num(0, INF))
        out = []
        for edge, taken in (("next", False), ("jump", True)):
            if v[0] == v[1]:  # one register on both sides: BEQ, BLE, BGE always jump, BLT and BGT never
                if taken == (op in ("BEQ", "BLE", "BGE")):
                    out.append((edge, _set(state, int(v[0]), a)))
                continue
            refined = _refine(op, a, b, taken)
            if refined is None:
                continue
            out.append((edge, _set(_set(state, int(v[0]), refined[0]), int(v[1]), refined[1])))
        return out
    d = int(v[0]) if ops and ops[0].kind in ("x", "c") else 0
    if op in ("LS", "LC"):
        state = _set(state, d, Reg(frozenset({TEXT})))
    elif op == "LI":
        state = _set(state, d, _num(int(v[1]), int(v[1])))
    elif op == "MV":
        state = _set(state, d, regs[int(v[1])])
    elif op == "INF":
        state = _set(state, d, Reg(frozenset({TEXT})))
    elif op in ("EVAL", "SIM"):
        state = _set(state, d, _num(0, 100))
    elif op == "SUBI":
        r, n = regs[d], int(v[1])
        if NUM in r.kinds:
            if r.hi < n:
                return []  # it fails on every path
            state = _set(state, d, _num(max(r.lo, n) - n, r.hi - n))
        else:
            return []
    elif op == "PSH":
        c, role = ctxs[d], str(v[2]).lower()
        first = frozenset({role}) if c.hi == 0 else (c.first | {role} if c.lo == 0 else c.first)
        state = _set_ctx(state, d, Ctx(min(c.lo + 1, INF), min(c.hi + 1, INF), first))
    elif op in ("POP", "DRP"):
        src = d if op == "DRP" else int(v[1])
        c = ctxs[src]
        if c.hi == 0:
            return []  # it fails on every path
        state = _set_ctx(state, src, Ctx(max(c.lo - 1, 0), c.hi - 1, c.first if c.hi > 1 else frozenset()))
        if op == "POP":
            state = _set(state, d, Reg(frozenset({TEXT})))
    elif op == "MVC":
        state = _set_ctx(state, d, ctxs[int(v[1])])
    return [("next", state)]


def _successors(program: lpu.LpuProgram, index: int, edge: str) -> int:
    if edge == "jump":
        target = program.target(str(program.instrs[index].operands[2].value))
        return target if target is not None else len(program.instrs)
    return index + 1


def _thresholds(program: lpu.LpuProgram) -> list[int]:
    values = {0, 1, 100, 101, INF}
    for instr in program.instrs:
        for operand in instr.operands:
            if operand.kind == "num":
                n = int(operand.value)
                values |= {max(n - 1, 0), n, min(n + 1, INF)}
    return sorted(values)


def analyse(program: lpu.LpuProgram) -> tuple[list[State | None], set[tuple[int, int]]]:
    """The state before each instruction (None: no path reaches it), and the edges some path takes."""
    n = len(program.instrs)
    start: State = (tuple(EMPTY for _ in range(lpu.REGISTERS)), tuple(NO_CTX for _ in range(lpu.REGISTERS)))
    states: list[State | None] = [None] * (n + 1)
    visits = [0] * (n + 1)
    states[0] = start
    edges: set[tuple[int, int]] = set()
    thresholds = _thresholds(program)
    work = [0]
    while work:
        i = work.pop()
        current = states[i]
        if i >= n or current is None:
            continue
        for edge, after in _transfer(program.instrs[i], current):
            j = _successors(program, i, edge)
            edges.add((i, j))
            old = states[j]
            new = after if old is None else _join(old, after)
            if old is not None and visits[j] > 2:
                new = _widen(old, new, thresholds)
            if new != old:
                states[j] = new
                visits[j] += 1
                work.append(j)
    return states, edges


def _has_cycle(nodes: set[int], edges: set[tuple[int, int]]) -> bool:
    inner = {(a, b) for a, b in edges if a in nodes and b in nodes}
    return any(len(part) > 1 or (part[0], part[0]) in inner for part in components(sorted(nodes), inner))


def _loop_diagnostics(program: lpu.LpuProgram, edges: set[tuple[int, int]]) -> list[Diagnostic]:
    out = []
    reached = sorted({a for a, _ in edges} | {b for _, b in edges})
    for part in components(reached, edges):
        body = set(part)
        if len(part) == 1 and (part[0], part[0]) not in edges:
            continue
        instrs = {i: program.instrs[i] for i in body if i < len(program.instrs)}
        counters = {int(ins.operands[0].value) for ins in instrs.values() if ins.op == "SUBI" and int(ins.operands[1].value) >= 1}
        bounded = False
        for k in sorted(counters):
            others = [ins for ins in instrs.values() if ins.op in lpu.WRITES_FIRST and ins.op not in ("PSH", "DRP", "MVC", "SUBI")
                      and int(ins.operands[0].value) == k]
            tested = any(ins.op in lpu.BRANCHES and k in (int(ins.operands[0].value), int(ins.operands[1].value)) for ins in instrs.values())
            decrements = {i for i, ins in instrs.items() if ins.op == "SUBI" and int(ins.operands[0].value) == k}
            if not others and tested and not _has_cycle(body - decrements, edges):
                bounded = True
                break
        if bounded:
            continue
        back = [i for i in sorted(instrs) if program.instrs[i].op in lpu.BRANCHES
                and (j := _successors(program, i, "jump")) in body and j <= i and (i, j) in edges]
        at = program.instrs[back[0]] if back else program.instrs[max(instrs)]
        head = program.instrs[min(instrs)]
        out.append(Diagnostic("E_LPU_LOOP_UNBOUNDED",
                              f"this loop (lines {head.line}-{max(ins.line for ins in instrs.values())}) has no visible bound: "
                              "decrement a counter with SUBI on every pass, test it with a branch, and write it nowhere else in the loop",
                              step=at.id, line=at.line, column=at.column))
    return out


def _where(instr: lpu.Instr, k: int) -> dict[str, object]:
    o = instr.operands[k]
    # a program read from bytecode has no columns: its "line" is the instruction's number
    return {"step": instr.id, "line": o.line or instr.line, "column": (o.column or instr.column) or None}


def check_lpu(program: lpu.LpuProgram) -> list[Diagnostic]:
    """Every problem the LPU would meet at run time that can be seen before it runs."""
    out: list[Diagnostic] = []

    def diag(code: str, message: str, instr: lpu.Instr, k: int, severity: str = "error") -> None:
        out.append(Diagnostic(code, message, severity=severity, **_where(instr, k)))  # type: ignore[arg-type]

    n = len(program.instrs)
    for label in program.labels:
        if label.index == n:
            out.append(Diagnostic("E_LPU_LABEL_AT_END", f"label {label.name} ends the program: a branch to it stops the LPU "
                                  "(and its assembler panics when nothing follows the colon); put EXIT after it",
                                  line=label.line or None, column=label.column or None))
    for instr in program.instrs:  # writes to the read-only registers, on any path or none
        if instr.op in lpu.WRITES_FIRST and instr.op not in ("POP", "DRP") and int(instr.operands[0].value) == 0:
            name = instr.operands[0].text()
            diag("E_LPU_WRITE_ZERO", f"{instr.op} writes {name}, which is read-only (always empty)", instr, 0)
        if instr.op == "POP" and int(instr.operands[0].value) == 0:
            diag("E_LPU_WRITE_ZERO", "POP writes X0, which is read-only (always empty)", instr, 0)
        if instr.op == "LC":  # the sandbox reads only under the run's root: a path that leaves it is refused before the run
            verdict = resolve(Policy(), str(instr.operands[1].value), "read")
            if verdict.relative is None:
                diag(verdict.code or "E_PATH_OUTSIDE_ROOT", f"LC cannot read this file: {verdict.message} (LC reads relative to the run's root)",
                     instr, 1)
        if instr.op in ("POP", "DRP"):
            k = 1 if instr.op == "POP" else 0
            if int(instr.operands[k].value) == 0:
                diag("E_LPU_WRITE_ZERO", f"{instr.op} takes a message off C0, which is read-only (always empty)", instr, k)
    states, edges = analyse(program)

    def need(instr: lpu.Instr, state: State, k: int, wanted: str, what: str) -> None:
        reg = int(instr.operands[k].value)
        r = state[0][reg]
        name = instr.operands[k].text()
        if NONE in r.kinds:
            always = r.kinds == {NONE}
            diag("E_LPU_EMPTY", f"{instr.op} reads {name}, which is {'empty' if always else 'empty on some path'} here"
                 + ("" if reg else " (X0 is always empty)"), instr, k)
        if wanted == NUM and TEXT in r.kinds:
            diag("E_LPU_TYPE", f"{instr.op} needs a number in {name} ({what}), but it {'holds' if r.kinds == {TEXT} else 'may hold'} text",
                 instr, k)
        if wanted == TEXT and NUM in r.kinds:
            diag("E_LPU_TYPE", f"{instr.op} needs text in {name} ({what}), but it {'holds' if r.kinds == {NUM} else 'may hold'} a number",
                 instr, k)

    unreached = []
    for i, instr in enumerate(program.instrs):
        state = states[i]
        if state is None:
            unreached.append(instr)
            continue
        op = instr.op
        if op in lpu.BRANCHES:
            need(instr, state, 0, NUM, "a branch compares numbers")
            need(instr, state, 1, NUM, "a branch compares numbers")
        elif op == "SUBI":
            need(instr, state, 0, NUM, "SUBI subtracts from a number")
            r, k = state[0][int(instr.operands[0].value)], int(instr.operands[1].value)
            if NUM in r.kinds and r.lo < k:
                diag("E_LPU_SUBI_NEGATIVE", f"SUBI {instr.operands[0].text()}, {k} may go below zero: {instr.operands[0].text()} may be "
                     f"{r.lo} here ({r.lo}..{r.hi}); test it before subtracting", instr, 0)
        elif op == "MV":
            if int(instr.operands[1].value) != 0:  # MV Xd, X0 empties Xd on purpose
                need(instr, state, 1, "any", "")
        elif op in ("PUT", "PLN"):
            need(instr, state, 0, "any", "")
        elif op == "PSH":
            need(instr, state, 1, "any", "")
        elif op in ("INF", "EVAL"):
            need(instr, state, 1, TEXT, "the prompt")
            c = state[1][int(instr.operands[2].value)]
            if "assistant" in c.first:
                diag("E_LPU_ROLE_ORDER", f"{instr.operands[2].text()} {'starts' if c.first == {'assistant'} else 'may start'} with an "
                     "assistant message: the model call needs a user message first (push one before it)", instr, 2)
        elif op == "SIM":
            need(instr, state, 1, TEXT, "SIM compares texts")
            need(instr, state, 2, TEXT, "SIM compares texts")
        elif op in ("POP", "DRP"):
            k = 1 if op == "POP" else 0
            src = int(instr.operands[k].value)
            c = state[1][src]
            if src and c.lo == 0:
                diag("E_LPU_EMPTY", f"{op} takes a message off {instr.operands[k].text()}, which is "
                     f"{'empty' if c.hi == 0 else 'empty on some path'} here", instr, k)
    out += _loop_diagnostics(program, edges)
    if unreached:
        first = unreached[0]
        out.append(Diagnostic("W_LPU_UNREACHABLE", f"{len(unreached)} instruction(s) from line {first.line} on are reached by no path "
                              "and were not checked", step=first.id, line=first.line, column=first.column, severity="warning"))
    seen: set[tuple[str, int | None, int | None, str]] = set()
    unique = []
    for d in sorted(out, key=lambda d: (d.line or 0, d.column or 0, d.code)):
        key = (d.code, d.line, d.column, d.message)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return unique


def loop_bound(program: lpu.LpuProgram) -> int:
    """How many instructions a run may take, from the program's own bounds: a generous
    multiple of its length times its largest counter (the machine's fuel)."""
    largest = max([int(o.value) for ins in program.instrs for o in ins.operands if o.kind == "num" and ins.op == "LI"] + [1])
    return max(10_000, (len(program.instrs) + 1) * min(largest + 1, 10_000) * 4)


__all__ = ["analyse", "check_lpu", "loop_bound"]
