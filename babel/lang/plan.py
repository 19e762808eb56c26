"""Plans: the program Babel compiles a request into, in its two equivalent forms.

A plan is a list of steps; a step has an id, an opcode, operands, and the slot it
writes. The JSON form is what the model emits (checked against isa/plan.schema.json);
the text form is what people read and write (parsed with isa/plan.lark). Both parse
into the same immutable `Plan`, and `to_json` / `to_text` print it back, so the forms
round-trip. `canonical` renames what does not matter (step ids, slot names, default
operands, path spelling) so that equivalent plans compare equal, which the decoder's
vote depends on. Parsing never raises on bad input: it returns diagnostics.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Union

import jsonschema
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from babel.lang.diagnostics import Diagnostic
from babel.lang.isa import envelope_schema, load_isa
from babel.lang.resources import data_dir


@dataclass(frozen=True)
class SlotRef:
    """A reference to the value a previous step wrote (`$name` in text, {"slot": name} in JSON)."""

    name: str

    def __str__(self) -> str:
        return f"${self.name}"


Value = Union[str, int, bool, SlotRef, list["Value"]]  # noqa: UP007 - a recursive alias needs Union


@dataclass(frozen=True)
class Step:
    id: str
    op: str
    args: Mapping[str, Value]
    out: str | None = None
    line: int | None = field(default=None, compare=False)
    column: int | None = field(default=None, compare=False)

    def reads(self) -> Iterator[tuple[str, SlotRef]]:
        """The slots this step reads, with the operand each one appears in."""
        for name, value in self.args.items():
            yield from ((name, ref) for ref in _refs(value))


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    result: str | None = None

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def result_slot(self) -> str | None:
        """The slot whose value is the plan's result: the named one, else the last step's."""
        if self.result:
            return self.result
        return self.steps[-1].out if self.steps else None


@dataclass(frozen=True)
class RepairRequest:
    """A failed step as the repair proposer sees it: plain values handed from the runtime's
    control loop to the compiler (neither imports the other)."""

    plan: Plan
    index: int  # of the failed step
    failure: str
    message: str
    output: str  # a preview of what it printed
    stderr: str
    problem: str | None  # what the result check found wrong, for a step that ran
    reads: tuple[str, ...]  # previews of the slots the failed step reads
    read_only: bool  # the plan changes no file, so its repair must not either
    seed: int


@dataclass(frozen=True)
class ParseResult:
    plan: Plan | None
    diagnostics: list[Diagnostic]
    form: str  # "json" or "text"


def _refs(value: Value) -> Iterator[SlotRef]:
    if isinstance(value, SlotRef):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


# ---- JSON form -------------------------------------------------------------------


def _value_from_json(raw: Any) -> Value:
    if isinstance(raw, dict):
        return SlotRef(raw["slot"])
    if isinstance(raw, list):
        return [_value_from_json(item) for item in raw]
    value: Value = raw
    return value


def value_to_json(value: Value) -> Any:
    if isinstance(value, SlotRef):
        return {"slot": value.name}
    if isinstance(value, list):
        return [value_to_json(item) for item in value]
    return value


@lru_cache(maxsize=1)
def _envelope_validator() -> jsonschema.protocols.Validator:
    schema = envelope_schema()
    cls = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def _json_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the plan)"


def plan_from_json(data: Any) -> ParseResult:
    """A plan from its JSON form (already decoded), checked against the envelope schema."""
    if isinstance(data, list):  # a bare list of steps is accepted: models often emit one
        data = {"steps": data}
    problems = sorted(_envelope_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if problems:
        diagnostics = []
        for error in problems:
            step = None
            path = list(error.absolute_path)
            if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
                step_data = data["steps"][path[1]]
                step = str(step_data.get("id", f"#{path[1] + 1}")) if isinstance(step_data, dict) else f"#{path[1] + 1}"
            diagnostics.append(Diagnostic("E_SCHEMA", f"{_json_path(path)}: {error.message}", step=step))
        return ParseResult(None, diagnostics, "json")
    steps = []
    for index, raw in enumerate(data["steps"]):
        steps.append(
            Step(
                id=raw.get("id") or f"s{index + 1}",
                op=raw["op"],
                args={key: _value_from_json(value) for key, value in raw.get("args", {}).items()},
                out=raw.get("out"),
            )
        )
    problems = _unencodable(steps)
    if problems:
        return ParseResult(None, problems, "json")
    return ParseResult(Plan(tuple(steps), data.get("result")), [], "json")


def _strings(value: Value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _unencodable(steps: list[Step]) -> list[Diagnostic]:
    """Operands holding lone surrogates (a \\udc80 escape): no file name or command can be
    made of them, so they are reported here, where the step is known."""
    out = []
    for step in steps:
        for name, value in step.args.items():
            if any(_surrogate(text) is not None for text in _strings(value)):
                out.append(Diagnostic("E_ENCODING", f"{name}= holds a character that is not valid Unicode text (a lone surrogate escape)",
                                      step=step.id, line=step.line, column=step.column))
    return out


def to_json(plan: Plan) -> dict[str, Any]:
    steps = []
    for step in plan.steps:
        entry: dict[str, Any] = {"id": step.id, "op": step.op, "args": {k: value_to_json(v) for k, v in step.args.items()}}
        if step.out:
            entry["out"] = step.out
        steps.append(entry)
    doc: dict[str, Any] = {"version": 1, "steps": steps}
    if plan.result:
        doc["result"] = plan.result
    return doc


# ---- text form -------------------------------------------------------------------

_JSON_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(body: str) -> str:
    """JSON escapes; any other backslash pair stays as written (so regexes like \\s survive)."""
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _JSON_ESCAPES:
                out.append(_JSON_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(char + nxt)
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


class _ToPlan(Transformer[Token, Any]):
    def string(self, items: list[Token]) -> str:
        return _unescape(str(items[0])[1:-1])

    def raw_string(self, items: list[Token]) -> str:
        return str(items[0])[1:-1]

    def integer(self, items: list[Token]) -> int:
        return int(items[0])

    def true(self, _: list[Token]) -> bool:
        return True

    def false(self, _: list[Token]) -> bool:
        return False

    def slot(self, items: list[Token]) -> SlotRef:
        return SlotRef(str(items[0])[1:])

    def array(self, items: list[Any]) -> list[Value]:
        return [item for item in items if item is not None]

    def positional(self, items: list[Any]) -> tuple[None, Value]:
        return (None, items[0])

    def keyword(self, items: list[Any]) -> tuple[str, Value]:
        return (str(items[0]), items[1])

    @v_args(meta=True)
    def step(self, meta: Any, items: list[Any]) -> dict[str, Any]:
        names = [item for item in items if isinstance(item, Token)]
        operands = [item for item in items if isinstance(item, tuple)]
        step_id = out = None
        if len(names) == 3:
            step_id, out, op = (str(n) for n in names)
        elif len(names) == 2:
            # `a: op` or `x = op`: the token between them tells which
            first, op = str(names[0]), str(names[1])
            if names[0].end_pos is not None and self._text[names[0].end_pos :].lstrip().startswith(":"):
                step_id = first
            else:
                out = first
        else:
            op = str(names[0])
        return {"id": step_id, "out": out, "op": op, "operands": operands, "line": meta.line, "column": meta.column}

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (data_dir("isa") / "plan.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _syntax_diagnostic(error: UnexpectedInput, text: str) -> Diagnostic:
    line, column = error.line, error.column
    if isinstance(error, UnexpectedCharacters):
        found = text.splitlines()[line - 1][column - 1 : column + 9] if 0 < line <= len(text.splitlines()) else ""
        message = f"unexpected text {found!r}"
    elif isinstance(error, UnexpectedToken):
        found = "end of line" if error.token.type == "_NL" else ("end of input" if error.token.type == "$END" else repr(str(error.token)))
        expected = sorted(_describe(t) for t in error.accepts or error.expected)
        message = f"unexpected {found}; expected {', '.join(expected[:6])}"
    elif isinstance(error, UnexpectedEOF):
        message = "unexpected end of input"
        line, column = len(text.splitlines()) or 1, 1
    else:  # pragma: no cover - lark has no other kinds today
        message = str(error)
    hint = " (a step is `[id:] [slot =] opcode operand...` with strings in quotes, e.g. `s1: src = read \"a.txt\"`)"
    return Diagnostic("E_SYNTAX", message + hint, line=line if line > 0 else None, column=column if column > 0 else None)


_TOKEN_NAMES = {"NAME": "a name", "STRING": "a string", "RAW_STRING": "a string", "SLOT": "a $slot", "SIGNED_INT": "a number",
                "_NL": "end of line", "LSQB": "'['", "RSQB": "']'", "COMMA": "','", "EQUAL": "'='", "COLON": "':'",
                "TRUE": "true", "FALSE": "false", "$END": "end of input"}


def _describe(token_type: str) -> str:
    return _TOKEN_NAMES.get(token_type, token_type)


def plan_from_text(text: str) -> ParseResult:
    try:
        tree = _parser().parse(text + "\n")
        raw_steps = _ToPlan(text + "\n").transform(tree).children
    except UnexpectedInput as error:
        return ParseResult(None, [_syntax_diagnostic(error, text)], "text")
    except VisitError as error:  # e.g. an integer of more digits than Python converts; reported, not raised
        line = getattr(getattr(error.obj, "meta", None), "line", None)
        return ParseResult(None, [Diagnostic("E_SYNTAX", f"cannot read a value: {error.orig_exc}", line=line)], "text")
    isa = load_isa()
    steps: list[Step] = []
    result: str | None = None
    diagnostics: list[Diagnostic] = []
    for raw in raw_steps:
        where = {"line": raw["line"], "column": raw["column"]}
        if raw["op"] == "result" and raw["id"] is None and raw["out"] is None:
            operands = raw["operands"]
            if len(operands) == 1 and operands[0][0] is None and isinstance(operands[0][1], SlotRef):
                result = operands[0][1].name
            else:
                diagnostics.append(Diagnostic("E_SYNTAX", "`result` takes one $slot, e.g. `result $count`", **where))
            continue
        opcode = isa.opcodes.get(raw["op"])
        positional_names = list(opcode.positional) if opcode else []
        args: dict[str, Value] = {}
        step_id = raw["id"] or f"s{len(steps) + 1}"
        for position, (name, value) in enumerate(raw["operands"]):
            if name is None and opcode is None:
                name = f"arg{position + 1}"  # the verifier reports the unknown opcode itself
            elif name is None:
                if not positional_names:
                    message = f"operand {position + 1}: {raw['op']} takes no more positional operands; write name=value"
                    diagnostics.append(Diagnostic("E_ARG_POSITIONAL", message, step=step_id, **where))
                    continue
                name = positional_names.pop(0)
            elif name in positional_names:
                positional_names.remove(name)
            if name in args:
                diagnostics.append(Diagnostic("E_ARG_DUPLICATE", f"operand {name!r} is given twice", step=step_id, **where))
            args[name] = value
        steps.append(Step(step_id, raw["op"], args, raw["out"], **where))
    diagnostics += _unencodable(steps)
    if diagnostics:
        return ParseResult(None, diagnostics, "text")
    return ParseResult(Plan(tuple(steps), result), [], "text")


def _value_to_text(value: Value) -> str:
    if isinstance(value, SlotRef):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value_to_text(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def to_text(plan: Plan) -> str:
    isa = load_isa()
    lines = []
    for step in plan.steps:
        opcode = isa.opcodes.get(step.op)
        positional = list(opcode.positional) if opcode else []
        parts = [f"{step.id}:"]
        if step.out:
            parts.append(f"{step.out} =")
        parts.append(step.op)
        # positional operands only while they come in table order with none skipped
        for name in positional:
            if name not in step.args:
                break
            parts.append(_value_to_text(step.args[name]))
            positional = positional[1:]
        printed = {name for name in (opcode.positional if opcode else ()) if name not in positional}
        for name, value in step.args.items():
            if name not in printed:
                parts.append(f"{name}={_value_to_text(value)}")
        lines.append(" ".join(parts))
    if plan.result:
        lines.append(f"result ${plan.result}")
    return "\n".join(lines) + "\n"


# ---- either form -----------------------------------------------------------------


#: How deeply brackets may nest in a plan: values are at most lists of strings and slots,
#: so anything deeper is a mistake, and parsing it would recurse without bound.
MAX_NESTING = 32


def _where(text: str, index: int) -> tuple[int, int]:
    """Line and column (1-based) of a character index."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_BRACKETS_JSON = re.compile(r'"(?:[^"\\\n]|\\.)*"?|[\[\]{}]')
_BRACKETS_TEXT = re.compile(r'"(?:[^"\\\n]|\\.)*"?|\'[^\'\n]*\'?|#[^\n]*|[\[\]{}]')


def _too_deep(text: str, json_form: bool, limit: int = MAX_NESTING) -> int | None:
    """The index of the first bracket nested deeper than `limit` (strings and comments skipped), if any."""
    depth = 0
    for match in (_BRACKETS_JSON if json_form else _BRACKETS_TEXT).finditer(text):
        char = match.group(0)
        if char in "[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif char in "]}":
            depth = max(depth - 1, 0)
    return None


def _surrogate(text: str) -> int | None:
    """The index of the first lone surrogate (text decoded with errors="surrogateescape", or a \\ud800 escape)."""
    match = re.search("[\ud800-\udfff]", text)
    return match.start() if match else None


def parse_plan(source: str | bytes) -> ParseResult:
    """A plan from either form; JSON when the first non-blank character is `{` or `[`."""
    if isinstance(source, bytes):
        raw = source
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            line = raw.count(b"\n", 0, error.start) + 1
            column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
            return ParseResult(None, [Diagnostic("E_ENCODING", f"the plan is not UTF-8 text (byte {error.start})", line=line, column=column)], "text")
    form = "json" if source.lstrip()[:1] in ("{", "[") else "text"
    if "\x00" in source:
        line, column = _where(source, source.index("\x00"))
        return ParseResult(None, [Diagnostic("E_ENCODING", "the plan contains a NUL byte: is it a binary file?", line=line, column=column)], form)
    if (bad := _surrogate(source)) is not None:
        line, column = _where(source, bad)
        return ParseResult(None, [Diagnostic("E_ENCODING", "the plan holds bytes that are not UTF-8 text", line=line, column=column)], form)
    if (deep := _too_deep(source, form == "json")) is not None:
        line, column = _where(source, deep)
        return ParseResult(None, [Diagnostic("E_SYNTAX" if form == "text" else "E_JSON", f"brackets nest more than {MAX_NESTING} deep here",
                                             line=line, column=column)], form)
    try:
        if form == "json":
            return _parse_json(source)
        return plan_from_text(source)
    except RecursionError:  # a nesting the check above missed: still a diagnostic
        return ParseResult(None, [Diagnostic("E_SYNTAX" if form == "text" else "E_JSON", "the plan nests too deeply to be read")], form)


def _parse_json(source: str) -> ParseResult:
    try:
        data = json.loads(source)
    except json.JSONDecodeError as error:
        return ParseResult(None, [Diagnostic("E_JSON", f"malformed JSON: {error.msg}", line=error.lineno, column=error.colno)], "json")
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        return ParseResult(None, [Diagnostic("E_JSON", f"malformed JSON: {error}")], "json")
    return plan_from_json(data)


# ---- canonical form --------------------------------------------------------------


def _normal_path(value: Value) -> Value:
    if isinstance(value, str) and value:
        normal = posixpath.normpath(value)
        return "." if normal == "" else normal
    if isinstance(value, list):
        return [_normal_path(item) for item in value]
    return value


def canonical(plan: Plan) -> Plan:
    """An equivalent plan in which what does not change behaviour is spelled one way.

    Step ids become s1..sN; slots are renamed v1..vN in order of first write, and a
    slot that nothing reads is dropped (the last step keeps one, as it carries the
    result); operands equal to their defaults are dropped; operands are ordered as the
    table lists them; paths are normalised (`./a//b` → `a/b`).
    """
    isa = load_isa()
    read = {ref.name for step in plan.steps for _, ref in step.reads()}
    result = plan.result_slot()
    if result:
        read.add(result)
    renames: dict[str, str] = {}

    def rename(value: Value) -> Value:
        if isinstance(value, SlotRef):
            return SlotRef(renames.get(value.name, value.name))
        if isinstance(value, list):
            return [rename(item) for item in value]
        return value

    steps = []
    for index, step in enumerate(plan.steps):
        opcode = isa.opcodes.get(step.op)
        order = list(opcode.operands) if opcode else sorted(step.args)
        args: dict[str, Value] = {}
        for name in sorted(step.args, key=lambda n: (order.index(n) if n in order else len(order), n)):
            value = rename(step.args[name])
            spec = opcode.operands.get(name) if opcode else None
            if spec is not None and spec.default is not None and value == spec.default:
                continue
            if spec is not None and spec.type in ("path", "paths"):
                value = _normal_path(value)
            args[name] = value
        out = None
        if step.out and (step.out in read or index == len(plan.steps) - 1):
            out = renames[step.out] = f"v{len(set(renames.values())) + 1}"
        steps.append(Step(f"s{index + 1}", step.op, args, out))
    canonical_result = renames.get(result) if result else None
    # naming the last step's slot as the result is the default, so it is not spelled out
    if canonical_result and steps and steps[-1].out == canonical_result:
        canonical_result = None
    return Plan(tuple(steps), canonical_result)


def canonical_key(plan: Plan) -> str:
    """A string equal for two plans exactly when their canonical forms are equal."""
    return json.dumps(to_json(canonical(plan)), sort_keys=True, separators=(",", ":"))


def with_step(plan: Plan, step_id: str, new: Step) -> Plan:
    """The plan with one step replaced (the control loop's patch)."""
    return replace(plan, steps=tuple(new if s.id == step_id else s for s in plan.steps))
