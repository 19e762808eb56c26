"""The LPU's programs as data, and its bytecode (`.lpu`).

The Language Processor Unit (github.com/HuyNguyenAu/llm_native_virtual_machine) is an
assembly language whose ALU is a language model. Babel reads its text form (babel.lang.asm),
checks it (babel.verify), and runs it (babel.vm). This module holds what every stage
shares: the opcode table, the instruction records, and the bytecode file the LPU's own
assembler writes, encoded and decoded here byte for byte (docs/lpu.md, "Bytecode").

Bytecode: big-endian u32 words. Word 0 is the header size (2), word 1 the word index
where the data segment starts. Each instruction is four words, its opcode then its
operands in the order written, zero-padded: a register is its number, a number itself,
a string the index of its first byte in the data segment, a label the absolute word
index of the instruction it names. The data segment holds the strings in the order the
instructions use them, one byte a word, each ended by a zero word.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from babel.lang.diagnostics import Diagnostic

HEADER_WORDS = 2
WORDS_PER_INSTRUCTION = 4
REGISTERS = 33  # X0-X32 and C0-C32; X0 and C0 are read-only (always empty)
MAX_NUMBER = 2**32 - 1
ROLES = ("user", "assistant")

# operand kinds: "x" a text register, "c" a context register, "num" a u32, "str" a
# string, "role" a string that must be a role, "label" a label name
#: mnemonic -> (opcode, operand kinds), in the LPU's numbering (src/assembler/opcode.rs)
OPCODES: Mapping[str, tuple[int, tuple[str, ...]]] = {
    "LS": (0x00, ("x", "str")),
    "LC": (0x01, ("x", "str")),
    "LI": (0x02, ("x", "num")),
    "MV": (0x03, ("x", "x")),
    "BEQ": (0x04, ("x", "x", "label")),
    "BLE": (0x05, ("x", "x", "label")),
    "BLT": (0x06, ("x", "x", "label")),
    "BGE": (0x07, ("x", "x", "label")),
    "BGT": (0x08, ("x", "x", "label")),
    "EXIT": (0x09, ()),
    "PUT": (0x0A, ("x",)),
    "PLN": (0x0B, ("x",)),
    "PCX": (0x0C, ("c",)),
    "INF": (0x0D, ("x", "x", "c")),
    "EVAL": (0x0E, ("x", "x", "c")),
    "SIM": (0x0F, ("x", "x", "x")),
    "PSH": (0x10, ("c", "x", "role")),
    "POP": (0x11, ("x", "c")),
    "DRP": (0x12, ("c",)),
    "MVC": (0x13, ("c", "c")),
    "SUBI": (0x14, ("x", "num")),
}
NOP = 0xFF  # in the LPU's table, but neither its assembler nor its VM accepts it
BY_CODE: Mapping[int, str] = {code: name for name, (code, _) in OPCODES.items()}
BRANCHES = ("BEQ", "BLE", "BLT", "BGE", "BGT")
#: opcodes whose first operand is written (the others only read it)
WRITES_FIRST = ("LS", "LC", "LI", "MV", "INF", "EVAL", "SIM", "PSH", "POP", "DRP", "MVC", "SUBI")


@dataclass(frozen=True)
class Operand:
    kind: str  # "x", "c", "num", "str", "role" or "label"
    value: int | str
    line: int = 0
    column: int = 0

    def text(self) -> str:
        if self.kind in ("x", "c"):
            return f"{self.kind.upper()}{self.value}"
        if self.kind in ("str", "role"):
            return quote(str(self.value))
        return str(self.value)


@dataclass(frozen=True)
class Instr:
    op: str  # the mnemonic, upper case
    operands: tuple[Operand, ...]
    line: int = 0
    column: int = 0

    @property
    def id(self) -> str:
        """How the trace names this instruction: its line in the source (or its index)."""
        return f"L{self.line}"

    def text(self) -> str:
        return " ".join([self.op.ljust(4), ", ".join(o.text() for o in self.operands)]).rstrip()


@dataclass(frozen=True)
class Label:
    name: str
    index: int  # the instruction it names (len(instrs): the end of the program)
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class LpuProgram:
    instrs: tuple[Instr, ...]
    labels: tuple[Label, ...] = ()
    source: str = "<lpu>"
    directory: str | None = field(default=None, compare=False)  # where the program file is (None: unknown)

    def target(self, name: str) -> int | None:
        """The index of the instruction a label names (the last definition, as the LPU's assembler keeps)."""
        found = [label.index for label in self.labels if label.name == name]
        return found[-1] if found else None

    def labels_at(self, index: int) -> list[str]:
        return [label.name for label in self.labels if label.index == index]


@dataclass(frozen=True)
class Decoded:
    """A bytecode file read back: the program, or why it could not be."""

    program: LpuProgram | None
    diagnostics: tuple[Diagnostic, ...] = ()


def quote(text: str) -> str:
    """A string as the LPU's text form writes it: only \\n and \\" are escapes."""
    return '"' + text.replace('"', '\\"').replace("\n", "\\n") + '"'


def encode(program: LpuProgram) -> bytes:
    """The bytecode the LPU's assembler writes for this program (labels resolved)."""
    text: list[int] = []
    data: list[int] = []
    for instr in program.instrs:
        code, _ = OPCODES[instr.op]
        words = [code]
        for operand in instr.operands:
            if operand.kind in ("str", "role"):
                words.append(len(data))
                data.extend([*str(operand.value).encode("utf-8"), 0])
            elif operand.kind == "label":
                index = program.target(str(operand.value))
                if index is None:
                    raise ValueError(f"undefined label {operand.value!r}")
                words.append(HEADER_WORDS + WORDS_PER_INSTRUCTION * index)
            else:
                words.append(int(operand.value))
        text.extend(words + [0] * (WORDS_PER_INSTRUCTION - len(words)))
    words = [HEADER_WORDS, HEADER_WORDS + len(text), *text, *data]
    return b"".join(w.to_bytes(4, "big") for w in words)


def decode(blob: bytes, source: str = "<lpu>") -> Decoded:
    """A bytecode file as a program; never raises: a file the LPU's assembler could not
    have written gets a diagnostic naming the word that is wrong."""

    def bad(message: str, word: int | None = None) -> Decoded:
        where = f" (word {word}, byte {word * 4})" if word is not None else ""
        return Decoded(None, (Diagnostic("E_LPU_BYTECODE", message + where),))

    if len(blob) % 4:
        return bad(f"{len(blob)} bytes is not a whole number of 4-byte words: the file is truncated or not LPU bytecode")
    words = [int.from_bytes(blob[i:i + 4], "big") for i in range(0, len(blob), 4)]
    if len(words) < HEADER_WORDS:
        return bad("the file has no header (two words): it is empty or truncated")
    if words[0] != HEADER_WORDS:
        return bad(f"the header size is {words[0]}, not {HEADER_WORDS}: not LPU bytecode", 0)
    data_at = words[1]
    if data_at > len(words) or (data_at - HEADER_WORDS) % WORDS_PER_INSTRUCTION or data_at < HEADER_WORDS:
        return bad(f"the data segment is said to start at word {data_at}, which is not the end of whole instructions in a file "
                   f"of {len(words)} words: truncated or not LPU bytecode", 1)
    data = words[data_at:]
    count = (data_at - HEADER_WORDS) // WORDS_PER_INSTRUCTION
    targets: set[int] = set()
    raw: list[tuple[str, list[tuple[str, int | str]]]] = []
    for i in range(count):
        at = HEADER_WORDS + WORDS_PER_INSTRUCTION * i
        code, *rest = words[at:at + WORDS_PER_INSTRUCTION]
        name = BY_CODE.get(code)
        if name is None:
            return bad(f"instruction {i}: unknown opcode 0x{code:02X}" + (" (NOP, which the LPU cannot run)" if code == NOP else ""), at)
        kinds = OPCODES[name][1]
        operands: list[tuple[str, int | str]] = []
        for j, value in enumerate(rest):
            if j >= len(kinds):
                if value:
                    return bad(f"instruction {i} ({name}): padding word {j + 1} is {value}, not 0", at + 1 + j)
                continue
            kind = kinds[j]
            if kind in ("x", "c") and value >= REGISTERS:
                return bad(f"instruction {i} ({name}): register {value} is out of range (0-32)", at + 1 + j)
            if kind in ("str", "role"):
                end = next((k for k in range(value, len(data)) if data[k] == 0), None) if value < len(data) else None
                if end is None:
                    return bad(f"instruction {i} ({name}): its string at data index {value} is outside the data segment or has no end", at + 1 + j)
                if any(b > 255 for b in data[value:end]):
                    return bad(f"instruction {i} ({name}): its string at data index {value} holds a word that is not a byte", at + 1 + j)
                try:
                    text = bytes(data[value:end]).decode("utf-8")
                except UnicodeDecodeError:
                    return bad(f"instruction {i} ({name}): its string at data index {value} is not UTF-8", at + 1 + j)
                if kind == "role" and text.lower() not in ROLES:
                    return bad(f"instruction {i} ({name}): role {text!r} is not user or assistant", at + 1 + j)
                operands.append((kind, text))
                continue
            if kind == "label":
                index, off = divmod(value - HEADER_WORDS, WORDS_PER_INSTRUCTION)
                if value < HEADER_WORDS or off or index > count:
                    return bad(f"instruction {i} ({name}): it jumps to word {value}, which is no instruction's start", at + 3)
                targets.add(index)
                operands.append((kind, index))
                continue
            operands.append((kind, value))
        raw.append((name, operands))
    names = {index: f"L{index}" for index in sorted(targets)}
    instrs = tuple(
        Instr(name, tuple(Operand(kind, names[int(value)] if kind == "label" else value, i + 1, 0) for kind, value in operands), i + 1, 0)
        for i, (name, operands) in enumerate(raw)
    )
    labels = tuple(Label(label, index) for index, label in names.items())
    return Decoded(LpuProgram(instrs, labels, source))


__all__ = ["BRANCHES", "BY_CODE", "Decoded", "HEADER_WORDS", "Instr", "Label", "LpuProgram", "MAX_NUMBER", "OPCODES", "Operand",
           "REGISTERS", "ROLES", "WRITES_FIRST", "decode", "encode", "quote"]
