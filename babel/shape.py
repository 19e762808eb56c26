"""What shape of answer a request asks for, checked against a dry run's output.

A request often says what its answer must look like: "how many" wants a number, "sorted"
wants sorted lines, "yes or no" wants one of those words. These are cheap, deterministic
checks of a candidate's dry-run output, so the decoder can prefer the candidates whose
output has the asked-for shape (a syndrome derived from the request itself). They only
rerank candidates; they never change a plan or a result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ShapeCheck:
    name: str
    holds: Callable[[str], bool]


_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(text))


def _key(line: str) -> tuple[int, float | str]:
    try:
        return (0, float(line.split()[0]))
    except (ValueError, IndexError):
        return (1, line)


def _sorted(text: str, descending: bool) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return True
    keys: list[Callable[[str], object]] = [lambda s: s, str.lower, _key]
    for key in keys:
        values = [key(line) for line in lines]
        try:
            if values == sorted(values, reverse=descending):  # type: ignore[type-var]
                return True
        except TypeError:
            continue
    return False


def _is_yes_no(text: str) -> bool:
    return text.strip().lower() in ("yes", "no", "true", "false")


def checks_for(request: str) -> list[ShapeCheck]:
    """The shape checks a request implies (none when it implies nothing)."""
    text = request.lower()
    found: list[ShapeCheck] = []
    wants_list = re.search(r"\b(list|which|one per line|each|names|paths)\b", text) is not None
    if re.search(r"\b(how many|how much|count (the|of|all)|number of|just the number|only the number|total|sum of|average|"
                 r"what is the (sum|total|average|mean|highest|lowest|largest|smallest|maximum|minimum))\b", text) and not wants_list:
        found.append(ShapeCheck("a number", _is_number))
    if re.search(r"\b(sorted|alphabetical(ly)?|ascending|descending)\b", text):
        descending = re.search(r"\b(descending|reverse|(largest|biggest|highest|most [a-z]+) first)\b", text) is not None
        found.append(ShapeCheck("sorted lines", lambda output: _sorted(output, descending)))
    if re.search(r"\byes or no\b", text):
        found.append(ShapeCheck("yes or no", _is_yes_no))
    return found
