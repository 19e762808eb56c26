"""Diagnostics: what the parser and the verifier say about a plan.

A diagnostic is a value, not an exception: a stable code that scripts and the
decoder can steer by, a message that says what to do, and where it applies (the step
id, and for the text form the line and column).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    step: str | None = None
    line: int | None = None
    column: int | None = None
    severity: str = "error"  # "error" rejects the plan; "warning" does not

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def location(self, source: str | None = None) -> str:
        parts = []
        if source:
            parts.append(source)
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        where = ":".join(parts)
        if self.step:
            where = f"{where} step {self.step}" if where else f"step {self.step}"
        return where

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.severity} {self.code}: {self.message}" if where else f"{self.severity} {self.code}: {self.message}"


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error]
