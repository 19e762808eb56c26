"""The package imports one way: every import of every module (function-level and
TYPE_CHECKING ones too) points to a lower part, or to a module listed before it in its
own part. Parts that share a rank (the devices and the verifier; the compiler and the
vm) never import each other. Another part is reached only through its face (its
`__init__`), never through one of its modules. See docs/architecture.md for the order
and why.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "babel"

#: Lowest first. Each rank is a set of parts (subpackages of babel/); each part lists its
#: modules in the order in which they may import each other (a module may import those
#: before it). `__init__` is the part's face and imports its own modules only.
RANKS: list[dict[str, list[str]]] = [
    {"lang": ["resources", "diagnostics", "values", "events", "trace", "isa", "plan", "units", "lpu", "asm"]},
    {"model": ["config", "port", "meter", "engine", "embedded", "endpoint", "cassette", "client"],
     "sandbox": ["workspace", "docker"], "verify": ["policy", "shell", "ops", "flow", "check", "lpu"]},
    {"skills": ["table"]},
    {"compiler": ["intent", "examples", "shape", "review", "checker", "compile", "decode"], "vm": ["pages", "alu", "machine", "control", "lpu"]},
    {"app": ["render", "tracecheck", "vmstats", "paths", "diffs", "vcs", "undo", "pipeline", "evaluate", "naive", "cluster", "do", "lpu", "pytest_plugin"]},
    {"cli": ["lpu", "main", "__main__"]},
]


def _place(module: str) -> tuple[int, str, int]:
    """(rank, part, position in the part) of `part.module`, or of the face `part`."""
    part, _, name = module.partition(".")
    for rank, parts in enumerate(RANKS):
        if part in parts:
            if not name:
                return rank, part, len(parts[part])  # the face comes after all of its modules
            if name in parts[part]:
                return rank, part, parts[part].index(name)
    raise AssertionError(f"babel/{module.replace('.', '/')}.py is in no layer: add it to RANKS in tests/test_layers.py")


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def _name(path: Path) -> str:
    """`part.module` for babel/part/module.py; a subpackage (babel/part/sub/*.py) is one module, `part.sub`."""
    rel = path.relative_to(PACKAGE).parts
    if len(rel) > 2:
        return f"{rel[0]}.{rel[1]}"
    return rel[0] if path.stem == "__init__" else f"{rel[0]}.{path.stem}"


def _edges() -> set[tuple[str, str]]:
    """(importer, imported) for every import inside a part: `lang.plan`, or the face `lang`."""
    edges = set()
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                parts = name.split(".")
                if parts[0] == "babel" and len(parts) > 1 and _name(path) != ".".join(parts[1:3]):
                    edges.add((_name(path), ".".join(parts[1:3])))
    return edges


def _allowed(source: str, target: str) -> bool:
    (rank_s, part_s, at_s), (rank_t, part_t, at_t) = _place(source), _place(target)
    if part_s != part_t:
        return rank_t < rank_s and "." not in target  # another part only through its face
    if "." not in source:
        return "." in target  # a face imports its own modules
    return "." in target and at_t < at_s


def test_every_module_has_a_layer() -> None:
    for path in _modules():
        _place(_name(path))
    stray = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert not stray, f"modules outside any part: {stray}"


def test_imports_point_down() -> None:
    wrong = sorted(f"babel.{s} imports babel.{t} ({_place(s)[1]} -> {_place(t)[1]})" for s, t in _edges() if not _allowed(s, t))
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_there_is_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for source, target in _edges():
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
    assert not _allowed("verify.check", "skills")  # the verifier is pure: skills are given to it
    assert not _allowed("compiler.compile", "vm") and not _allowed("vm.machine", "compiler")  # siblings
    assert not _allowed("sandbox.docker", "verify") and _allowed("lang.plan", "lang.isa")
    assert not _allowed("lang.isa", "lang.plan")  # within a part, only earlier modules
    assert not _allowed("compiler.compile", "lang.plan")  # another part only through its face
    assert _allowed("compiler.compile", "lang") and not _allowed("lang.plan", "lang")  # never one's own face


def test_the_library_api_is_importable() -> None:
    import babel

    missing = [name for name in babel.__all__ if getattr(babel, name, None) is None]
    assert not missing, f"babel.__all__ names what it does not provide: {missing}"
