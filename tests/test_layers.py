"""The package imports one way: every import of every module (function-level and
TYPE_CHECKING ones too) points to a lower layer, or to a module listed before it in its
own part. Parts that share a rank (the devices and the verifier; the compiler and the
vm) never import each other. See docs/architecture.md for the order and why.

The modules are still flat (babel/*.py); the ranks name the subpackages they will move
into. The few edges that the next steps of the migration remove are listed, each with
why, and the test fails when one of them goes away without leaving the list, so the
list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "babel"

#: Lowest first. Each rank is a set of parts; each part lists its modules in the order
#: in which they may import each other (a module may import those before it).
RANKS: list[dict[str, list[str]]] = [
    {"lang": ["resources", "diagnostics", "values", "trace", "isa", "plan"]},
    {"model": ["config", "engine", "embedded", "model"], "sandbox": ["workspace", "sandbox"], "verify": ["policy", "shell", "verify"]},
    {"skills": ["skills"]},
    {"compiler": ["examples", "shape", "review", "compile", "decode"], "vm": ["run", "control"]},
    {"app": ["render", "tracecheck", "pipeline", "evaluate", "pytest_plugin"]},
    {"cli": ["cli"]},
]

#: Edges against the order that are still there, and what removes them.
KNOWN: dict[tuple[str, str], str] = {}


def _place(module: str) -> tuple[int, str, int]:
    for rank, parts in enumerate(RANKS):
        for part, modules in parts.items():
            if module in modules:
                return rank, part, modules.index(module)
    raise AssertionError(f"babel/{module}.py is in no layer: add it to RANKS in tests/test_layers.py")


def _edges() -> set[tuple[str, str]]:
    edges = set()
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                parts = name.split(".")
                if parts[0] == "babel" and len(parts) > 1 and path.stem != "__init__":
                    edges.add((path.stem, parts[1]))
    return edges


def _allowed(source: str, target: str) -> bool:
    (rank_s, part_s, at_s), (rank_t, part_t, at_t) = _place(source), _place(target)
    if rank_t < rank_s:
        return True
    return rank_t == rank_s and part_t == part_s and at_t < at_s


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.stem != "__init__":
            _place(path.stem)


def test_imports_point_down() -> None:
    wrong = sorted(f"babel/{s}.py imports babel.{t} ({_place(s)[1]} -> {_place(t)[1]})"
                   for s, t in _edges() if not _allowed(s, t) and (s, t) not in KNOWN)
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_the_known_exceptions_are_still_needed() -> None:
    gone = [f"{s} -> {t}" for s, t in KNOWN if (s, t) not in _edges() or _allowed(s, t)]
    assert not gone, f"remove these from KNOWN in tests/test_layers.py, they are fixed: {gone}"


def test_there_is_no_cycle() -> None:
    edges = _edges()
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_the_rule_refuses_upward_and_sideways_edges() -> None:
    assert not _allowed("verify", "skills")  # the verifier is pure: skills are given to it
    assert not _allowed("compile", "run") and not _allowed("run", "compile")  # compiler and vm are siblings
    assert not _allowed("sandbox", "verify") and _allowed("plan", "isa")
    assert not _allowed("isa", "plan")  # within a part, only earlier modules
