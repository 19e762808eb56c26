"""Slot values and how one type is seen as another.

Slots hold text (str), lines (list of str), matches (list of {path, line, text}) or a
page (a reference to a context page, {page, source, tokens}: babel.vm.pages holds its text).
An operand that takes text sees lines joined by newlines and matches rendered as
`path:line:text`, as grep -n would print them; an operand that takes paths sees the
distinct files of a list of matches. These are the only conversions; the verifier's
type rules (babel.verify.ACCEPTS) say which are allowed where.
"""

from __future__ import annotations

from typing import Any


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):  # one exec result, one match or a page
        if is_page(value):
            return f"[page {value['page']}: {value['source']}, {value['tokens']} tokens]"
        if "stdout" in value:
            return str(value["stdout"])
        return f"{value.get('path')}:{value.get('line')}:{value.get('text')}"
    if isinstance(value, list):
        # lines are newline-terminated, as POSIX tools expect on their stdin
        return "".join(as_text(item) + "\n" for item in value)
    return str(value)


def as_lines(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.splitlines()
    if isinstance(value, list):
        return [as_text(item) for item in value]
    return as_text(value).splitlines()


def as_paths(value: Any) -> list[str]:
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        paths: list[str] = []
        for item in value:
            path = item.get("path") if isinstance(item, dict) else as_text(item).strip()
            if path and path not in paths:
                paths.append(str(path))
        return paths
    return as_paths(as_text(value))


def is_page(value: Any) -> bool:
    """Whether a value is a page reference (what load, store and alloc give)."""
    return isinstance(value, dict) and set(value) == {"page", "source", "tokens"}


def type_of(value: Any) -> str:
    if is_page(value):
        return "page"
    if isinstance(value, list):
        return "matches" if value and isinstance(value[0], dict) else "lines"
    return "text"


def preview(value: Any, limit: int) -> tuple[str, bool, int]:
    """The first `limit` bytes of the value as text, whether it was cut, and its full size."""
    text = as_text(value)
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return text, False, len(data)
    return data[:limit].decode("utf-8", errors="ignore"), True, len(data)
