"""Source files split into units a model can judge one at a time.

A unit is a function, a method, a route handler, or a run of the top-level code between
them, with its first and last line. Python is split by its own parser (`ast`); the brace
languages (JavaScript, TypeScript, Go, Java, C#, PHP, ...) by bracket depth, with strings
and comments skipped; any other text, or a file either cannot read, in windows of lines.
A unit longer than `max_lines` is cut into parts of at most that many lines, each a unit
of its own, so nothing a caller pages into a model's context is ever silently cut short.
Pure: text in, units out, no file access (the runtime reads files through the sandbox).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

#: file suffix -> how its units are found
LANGUAGES: dict[str, str] = {
    ".py": "python",
    **{suffix: "brace" for suffix in (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".java", ".kt", ".cs", ".php",
                                       ".c", ".h", ".cc", ".cpp", ".rs", ".swift", ".scala")},
    **{suffix: "lines" for suffix in (".rb", ".pl", ".sh", ".lua")},
}
#: directories whose files are not the project's own code
SKIPPED_DIRS = frozenset({".git", "node_modules", "vendor", "dist", "build", "__pycache__", ".venv", "venv", "site-packages", ".tox"})
MAX_LINES = 60
WINDOW = 40


@dataclass(frozen=True)
class Unit:
    path: str
    line: int  # first line, 1-based (a Python function's decorators included)
    end: int  # last line, inclusive
    name: str  # `def login`, `Users.delete`, the handler's first line, or `top level`
    text: str  # the unit's lines

    def record(self) -> dict[str, object]:
        """As a slot value: a match record (path, line, text = the first line) with the unit's code."""
        first = next((line.strip() for line in self.text.splitlines() if line.strip()), "")
        return {"path": self.path, "line": self.line, "end": self.end, "name": self.name, "text": first[:160], "code": self.text}


def language(path: str) -> str | None:
    """How units of the file are found, or None for a file that is not source code."""
    parts = path.replace("\\", "/").split("/")
    if any(part in SKIPPED_DIRS for part in parts[:-1]) or parts[-1].endswith((".min.js", ".map")):
        return None
    dot = parts[-1].rfind(".")
    return LANGUAGES.get(parts[-1][dot:].lower()) if dot > 0 else None


def split_units(path: str, text: str, max_lines: int = MAX_LINES) -> list[Unit]:
    """The file's units, in order of their first line."""
    lines = text.splitlines()
    kind = language(path) or "lines"
    spans: list[tuple[int, int, str]] | None = None
    if kind == "python":
        spans = _python_spans(text, lines)
    elif kind == "brace":
        spans = _brace_spans(lines)
    if spans is None:  # not parsable as its language: windows of lines
        spans = [(start, min(start + WINDOW - 1, len(lines)), "lines") for start in range(1, len(lines) + 1, WINDOW)]
    units: list[Unit] = []
    for start, end, name in spans:
        if not any(lines[i].strip() for i in range(start - 1, end)):
            continue
        for part, (a, b) in enumerate(_parts(start, end, max_lines)):
            label = name if a == start and b == end else f"{name} (part {part + 1})"
            units.append(Unit(path, a, b, label, "\n".join(lines[a - 1:b])))
    return units


def _parts(start: int, end: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size - 1, end)) for a in range(start, end + 1, size)]


# ---- Python ------------------------------------------------------------------------

def _python_spans(text: str, lines: list[str]) -> list[tuple[int, int, str]] | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    spans: list[tuple[int, int, str]] = []
    loose: list[tuple[int, int]] = []  # top-level statements that are not functions or classes

    def flush() -> None:
        if loose:
            spans.append((loose[0][0], loose[-1][1], "top level"))
            loose.clear()

    for node in tree.body:
        start = _first_line(node)
        end = node.end_lineno or start
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            flush()
            spans.append((start, end, f"def {node.name}"))
        elif isinstance(node, ast.ClassDef):
            flush()
            _class_spans(node, start, end, spans)
        elif loose and start - loose[-1][1] > 2:  # a blank gap ends a run of top-level code
            flush()
            loose.append((start, end))
        else:
            loose.append((start, end))
    flush()
    return spans


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(d.lineno for d in decorators)])


def _class_spans(node: ast.ClassDef, start: int, end: int, spans: list[tuple[int, int, str]]) -> None:
    """A small class is one unit; a larger one is its methods, each named Class.method,
    and the class body's other statements."""
    if end - start + 1 <= MAX_LINES:
        spans.append((start, end, f"class {node.name}"))
        return
    header_end = node.body[0].lineno - 1 if node.body else end
    pending: tuple[int, int] | None = (start, max(start, header_end))
    for child in node.body:
        a, b = _first_line(child), child.end_lineno or child.lineno
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if pending:
                spans.append((pending[0], pending[1], f"class {node.name}"))
                pending = None
            spans.append((a, b, f"{node.name}.{child.name}"))
        else:
            pending = (pending[0], b) if pending else (a, b)
    if pending:
        spans.append((pending[0], pending[1], f"class {node.name}"))


# ---- brace languages ------------------------------------------------------------------

def _depths(lines: list[str]) -> list[int] | None:
    """The bracket depth at the start of each line, skipping strings and comments (a
    regular expression literal is not recognised; its brackets are rare enough). None
    when the brackets do not balance: the caller falls back to windows."""
    depth = 0
    out: list[int] = []
    state = ""  # "", "//", "/*", or the quote that opened a string
    for line in lines:
        out.append(depth)
        i = 0
        if state == "//":
            state = ""
        while i < len(line):
            c = line[i]
            nxt = line[i + 1] if i + 1 < len(line) else ""
            if state == "/*":
                if c == "*" and nxt == "/":
                    state, i = "", i + 2
                    continue
            elif state in ("'", '"', "`"):
                if c == "\\":
                    i += 2
                    continue
                if c == state:
                    state = ""
            elif c == "/" and nxt == "/":
                state = "//"
                break
            elif c == "/" and nxt == "*":
                state, i = "/*", i + 2
                continue
            elif c == "#" and not line[:i].strip():  # a shell-style comment line (PHP), or a preprocessor line
                break
            elif c in "'\"`":
                state = c
            elif c in "({[":
                depth += 1
            elif c in ")}]":
                depth -= 1
                if depth < 0:
                    return None
            i += 1
        if state in ("'", '"'):  # a quote left open at the end of a line is a stray apostrophe
            state = ""
    return out if depth == 0 else None


def _brace_spans(lines: list[str], base: int = 0) -> list[tuple[int, int, str]] | None:
    depths = _depths(lines)
    if depths is None:
        return None
    depths.append(0)
    spans: list[tuple[int, int, str]] = []
    loose: list[tuple[int, int]] = []

    def flush() -> None:
        if loose:
            spans.append((loose[0][0], loose[-1][1], "top level"))
            loose.clear()

    i = 0
    while i < len(lines):
        text = lines[i].strip()
        if depths[i] != base or not text or text.startswith(("//", "/*", "*")):
            i += 1
            continue
        j = i
        while j + 1 < len(lines) and depths[j + 1] > base:  # the statement goes on while it is inside brackets
            j += 1
        if j + 1 < len(lines) and lines[j + 1].strip()[:1] in (")", "}", "]") and depths[j + 1] == base:
            j += 1  # its closing line
        start, end = i + 1, j + 1
        if end > start:
            flush()
            spans.append((start, end, text[:80]))
        elif loose and start - loose[-1][1] > 2:
            flush()
            loose.append((start, end))
        else:
            loose.append((start, end))
        i = j + 1
    flush()
    return _split_large(lines, spans, base)


def _split_large(lines: list[str], spans: list[tuple[int, int, str]], base: int) -> list[tuple[int, int, str]]:
    """A statement longer than MAX_LINES (a class, a router's setup function, an object of
    handlers) is split into the statements one level inside it, when they are units."""
    out: list[tuple[int, int, str]] = []
    for start, end, name in spans:
        if end - start + 1 <= MAX_LINES or base >= 3 or name == "top level":
            out.append((start, end, name))
            continue
        inner = _brace_spans(lines[start - 1:end], base + 1) if start < end else None
        if not inner or len(inner) < 2:
            out.append((start, end, name))
            continue
        for a, b, child in inner:
            out.append((start + a - 1, start + b - 1, child if child != "top level" else name))
    return out
