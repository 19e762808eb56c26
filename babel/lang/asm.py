"""The LPU's text form (`.aasm`): parsed into a program (babel.lang.lpu), and written back.

The scanner follows the LPU's own (src/assembler/scanner/): `;` starts a comment to the
end of the line; an identifier is ASCII letters, digits, `_` and `:` and starts with a
letter, `_` or `:`; one that ends with `:` defines a label; mnemonics and register
prefixes are case-insensitive, label names are not; a number is decimal digits (a
fraction is scanned, then refused); a string is double-quoted, may span lines, and only
`\\n` and `\\"` are escapes. So every program the LPU's assembler accepts gives the same
program here, and `encode` gives the same bytes.

Like the plan parser, `parse_asm` never raises: every problem is a diagnostic with the
line and column (1-based) where it is, and parsing goes on at the next instruction so
that one run reports them all. Where the LPU's assembler misbehaves (it swallows the
character after a label's colon, panics on a label that ends the file, and counts lines
wrong after a label), Babel reports the problem instead (docs/lpu.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from babel.lang.diagnostics import Diagnostic
from babel.lang.lpu import MAX_NUMBER, OPCODES, REGISTERS, ROLES, Instr, Label, LpuProgram, Operand


@dataclass(frozen=True)
class Token:
    kind: str  # "ident", "label", "mnemonic", "number", "string", "comma", "error"
    text: str  # the lexeme as written
    line: int
    column: int
    error: str | None = None


@dataclass(frozen=True)
class AsmResult:
    program: LpuProgram | None  # None when there is an error
    diagnostics: tuple[Diagnostic, ...]


def _alpha(ch: str) -> bool:
    return ch.isascii() and (ch.isalpha() or ch in "_:")


def _digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def scan(source: str) -> list[Token]:
    """The tokens of a source, as the LPU's scanner finds them (an "error" token for a
    character it does not accept, or a string with no end)."""
    out: list[Token] = []
    i, line, col, n = 0, 1, 1, len(source)
    while True:
        while i < n:
            ch = source[i]
            if ch in " \r\t":
                i, col = i + 1, col + 1
            elif ch == "\n":
                i, line, col = i + 1, line + 1, 1
            elif ch == ";":
                while i < n and source[i] != "\n":
                    i += 1
            else:
                break
        if i >= n:
            return out
        start, sline, scol = i, line, col
        ch = source[i]
        if _alpha(ch):
            while i < n and (_alpha(source[i]) or _digit(source[i])):
                i, col = i + 1, col + 1
            text = source[start:i]
            if text.endswith(":"):
                out.append(Token("label", text, sline, scol))
                # the LPU's scanner consumes one more character after a label, whatever it is
                if i >= n:
                    out.append(Token("error", "", line, col, "a label ends the file: the LPU's assembler panics here; "
                                                              "put an instruction (EXIT) after it"))
                    return out
                if source[i] not in " \t\r\n":
                    out.append(Token("error", source[i], line, col, "the LPU's assembler swallows the character after a label's "
                                                                    "colon: put a space or a new line after the label"))
                continue
            kind = "mnemonic" if text.upper() in OPCODES else "ident"
            out.append(Token(kind, text, sline, scol))
        elif _digit(ch):
            while i < n and _digit(source[i]):
                i, col = i + 1, col + 1
            if i + 1 < n and source[i] == "." and _digit(source[i + 1]):
                i, col = i + 1, col + 1
                while i < n and _digit(source[i]):
                    i, col = i + 1, col + 1
            out.append(Token("number", source[start:i], sline, scol))
        elif ch == ",":
            i, col = i + 1, col + 1
            out.append(Token("comma", ",", sline, scol))
        elif ch == '"':
            i, col = i + 1, col + 1
            while i < n and source[i] != '"':
                if source[i] == "\\" and i + 1 < n and source[i + 1] == '"':
                    i, col = i + 2, col + 2
                    continue
                if source[i] == "\n":
                    line, col = line + 1, 0
                i, col = i + 1, col + 1
            if i >= n:
                out.append(Token("error", source[start:i], sline, scol, "this string has no closing quote"))
                return out
            i, col = i + 1, col + 1
            out.append(Token("string", source[start:i], sline, scol))
        else:
            out.append(Token("error", ch, sline, scol, f"unexpected character {ch!r}"))
            i, col = i + 1, col + 1


def unescape(lexeme: str) -> str:
    """A string token's value, as the LPU's assembler reads it (in its order: \\n, then \\")."""
    return lexeme[1:-1].replace("\\n", "\n").replace('\\"', '"')


_WHAT = {"x": "a text register (X0-X32)", "c": "a context register (C0-C32)", "num": "a number", "str": "a string",
         "role": 'a role ("user" or "assistant")', "label": "a label name"}


def _shown(token: Token | None) -> str:
    if token is None:
        return "the end of the file"
    if token.kind == "string":
        return "a string"
    return repr(token.text)


def _register(token: Token, kind: str) -> tuple[int | None, str | None]:
    if token.kind != "ident" or token.text[:1].lower() != kind:
        return None, f"expected {_WHAT[kind]}, found {_shown(token)}"
    digits = token.text[1:]
    if not digits or not all(_digit(c) for c in digits):
        return None, f"{token.text!r} is not a register: write {kind.upper()} and a number from 0 to 32"
    value = int(digits)
    if value >= REGISTERS:
        return None, f"register {token.text} is out of range: there are {kind.upper()}0 to {kind.upper()}{REGISTERS - 1}"
    return value, None


def _operand(token: Token | None, kind: str) -> tuple[Operand | None, str | None]:
    if token is None:
        return None, f"expected {_WHAT[kind]}, found the end of the file"
    at = (token.line, token.column)
    if kind in ("x", "c"):
        value, problem = _register(token, kind)
        return (Operand(kind, value, *at), None) if value is not None else (None, problem)
    if kind == "num":
        if token.kind != "number":
            return None, f"expected {_WHAT[kind]}, found {_shown(token)}"
        if not token.text.isdigit():
            return None, f"{token.text} is not a whole number: the LPU's numbers are whole, 0 to {MAX_NUMBER}"
        if int(token.text) > MAX_NUMBER:
            return None, f"{token.text} is larger than {MAX_NUMBER}, the largest number a register holds"
        return Operand(kind, int(token.text), *at), None
    if kind in ("str", "role"):
        if token.kind != "string":
            return None, f"expected {_WHAT[kind]}, found {_shown(token)}"
        text = unescape(token.text)
        if kind == "role" and text.lower() not in ROLES:
            return None, f"role {text!r} is not one a context takes: \"user\" or \"assistant\""
        return Operand(kind, text, *at), None
    if token.kind != "ident":  # a mnemonic cannot name a label a branch jumps to (the LPU's scanner makes it a keyword)
        found = f"the mnemonic {token.text!r}, which cannot be a label's name" if token.kind == "mnemonic" else _shown(token)
        return None, f"expected {_WHAT[kind]}, found {found}"
    return Operand(kind, token.text, *at), None


def parse_asm(source: str | bytes, name: str = "<aasm>", directory: str | None = None) -> AsmResult:
    """A program from its text form, or the diagnostics that say why not."""
    diagnostics: list[Diagnostic] = []
    if isinstance(source, bytes):
        raw = source
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            line = raw[:bad.start].count(b"\n") + 1
            return AsmResult(None, (Diagnostic("E_LPU_SYNTAX", f"the file is not UTF-8 text (byte {bad.start})", line=line, column=1),))
    text: str = source
    if "\0" in text:
        line = text[:text.index("\0")].count("\n") + 1
        return AsmResult(None, (Diagnostic("E_LPU_SYNTAX", "the file holds a NUL byte: it is not LPU source text", line=line, column=1),))
    tokens = scan(text)
    instrs: list[Instr] = []
    labels: list[Label] = []
    i = 0

    def error(code: str, message: str, token: Token | None) -> None:
        line, column = (token.line, token.column) if token is not None else (text.count("\n") + 1, 1)
        diagnostics.append(Diagnostic(code, message, line=line, column=column))

    def resync(at: int) -> int:
        while at < len(tokens) and tokens[at].kind not in ("mnemonic", "label"):
            at += 1
        return at

    while i < len(tokens):
        token = tokens[i]
        if token.kind == "error":
            code = "E_LPU_LABEL_AT_END" if token.error and token.error.startswith("a label ends") else "E_LPU_SYNTAX"
            error(code, token.error or "cannot read this", token)
            i = resync(i + 1)
            continue
        if token.kind == "label":
            label = token.text.rstrip(":")
            first = next((lb for lb in labels if lb.name == label), None)
            if first is not None:
                error("E_LPU_LABEL_DUPLICATE", f"label {label} is defined twice (first at line {first.line}): a branch to it would be ambiguous",
                      token)
            labels.append(Label(label, len(instrs), token.line, token.column))
            i += 1
            continue
        if token.kind != "mnemonic":
            if token.kind == "ident":
                error("E_LPU_MNEMONIC", f"unknown mnemonic {token.text!r}; the LPU's are {', '.join(OPCODES)}", token)
            else:
                error("E_LPU_SYNTAX", f"expected a mnemonic or a label, found {_shown(token)}", token)
            i = resync(i + 1)
            continue
        op = token.text.upper()
        kinds = OPCODES[op][1]
        operands: list[Operand] = []
        j, problem = i + 1, None
        for k, kind in enumerate(kinds):
            if k:
                comma = tokens[j] if j < len(tokens) else None
                if comma is None or comma.kind != "comma":
                    problem = (f"{op} takes {len(kinds)} operands ({', '.join(_WHAT[x] for x in kinds)}): expected ',' "
                               f"after operand {k}, found {_shown(comma)}", comma)
                    break
                j += 1
            found = tokens[j] if j < len(tokens) else None
            if found is not None and found.kind == "error":
                problem = (found.error or "cannot read this", found)
                break
            operand, why = _operand(found, kind)
            if operand is None:
                problem = (f"{op} operand {k + 1}: {why}", found)
                break
            operands.append(operand)
            j += 1
        if problem is not None:
            broken = problem[1] is not None and problem[1].kind == "error"
            error("E_LPU_SYNTAX" if broken else "E_LPU_OPERAND", problem[0], problem[1])
            i = resync(j if j > i + 1 else i + 1)
            continue
        instrs.append(Instr(op, tuple(operands), token.line, token.column))
        i = j
    defined = {label.name for label in labels}
    for instr in instrs:
        for operand in instr.operands:
            if operand.kind == "label" and operand.value not in defined:
                diagnostics.append(Diagnostic("E_LPU_LABEL_UNDEFINED", f"{instr.op} jumps to label {operand.value}, which is not defined",
                                              line=operand.line, column=operand.column))
    if diagnostics:
        return AsmResult(None, tuple(sorted(diagnostics, key=lambda d: (d.line or 0, d.column or 0))))
    return AsmResult(LpuProgram(tuple(instrs), tuple(labels), name, directory), ())


def to_asm(program: LpuProgram) -> str:
    """The text form of a program: its labels on their own lines, one instruction a line."""
    lines: list[str] = []
    for index, instr in enumerate(program.instrs):
        lines += [f"{name}:" for name in program.labels_at(index)]
        lines.append("    " + instr.text())
    lines += [f"{name}:" for name in program.labels_at(len(program.instrs))]
    return "\n".join(lines) + "\n"


__all__ = ["AsmResult", "Token", "parse_asm", "scan", "to_asm", "unescape"]
