"""What a run would change, as a person reviews it: one unified diff per file, before anything is applied.

A writing run ends with its change set read back from the staged copy (babel.sandbox:
`Change`s, the new bytes) and, for each path, what the workspace holds there now
(`Original`s, read without following a link). This module is pure: it turns the two
into a `ChangeReview`, one `FileDiff` per path (the unified diff of text, a one-line
summary of binary, large, link and mode changes), with the warnings the user should read
before approving (a dirty git tree, a file too large for undo to keep). The application
asks its `approve` callback with it; the CLI prints it.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field

from babel.sandbox import Change, Original

#: A file larger than this (either side) is summarised, not diffed.
MAX_DIFF_BYTES = 1 << 20
#: The most lines of one file's diff that are shown.
MAX_DIFF_LINES = 400


@dataclass(frozen=True)
class FileDiff:
    """One path's change: what happens to it, and its diff (empty for binary or large files)."""

    path: str
    action: str  # "create" | "modify" | "delete" | "link"
    diff: str = ""  # unified diff text, "--- a/p" / "+++ b/p" headers included
    added: int = 0
    removed: int = 0
    notes: tuple[str, ...] = ()  # "binary", "mode 644 -> 755", "too large for undo to keep", ...

    def summary(self) -> str:
        counts = f" (+{self.added} -{self.removed})" if self.added or self.removed else ""
        notes = f" [{'; '.join(self.notes)}]" if self.notes else ""
        return f"{self.action} {self.path}{counts}{notes}"


@dataclass(frozen=True)
class ChangeReview:
    """Everything a run would change, in the change set's order, with what to know before approving."""

    run_id: str
    files: tuple[FileDiff, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)


def new_bytes(change: Change, limit: int | None = None) -> bytes | None:
    """A file change's content (holes as zeros), or None when it is larger than `limit`."""
    if limit is not None and change.size > limit:
        return None
    data = bytearray(change.size)
    for offset, piece in change.extents:
        data[offset : offset + len(piece)] = piece
    return bytes(data)


def new_digest(change: Change) -> str:
    """The sha256 of a file change's content, streamed (a sparse file is never built whole)."""
    digest = hashlib.sha256()
    position = 0
    for offset, piece in sorted(change.extents, key=lambda extent: extent[0]):
        _zeros(digest, offset - position)
        digest.update(piece)
        position = offset + len(piece)
    _zeros(digest, change.size - position)
    return digest.hexdigest()


def _zeros(digest: hashlib._Hash, count: int) -> None:
    block = bytes(min(count, 1 << 20))
    while count > 0:
        digest.update(block[: min(count, len(block))])
        count -= len(block)


def _text(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _unified(path: str, old: str, new: str, old_name: str, new_name: str) -> tuple[str, int, int]:
    lines = list(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name))
    added = sum(1 for line in lines[2:] if line.startswith("+"))
    removed = sum(1 for line in lines[2:] if line.startswith("-"))
    shown: list[str] = []
    for line in lines[:MAX_DIFF_LINES]:
        shown.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    if len(lines) > MAX_DIFF_LINES:
        shown.append(f"... {len(lines) - MAX_DIFF_LINES} more lines of the diff of {path} not shown\n")
    return "".join(shown), added, removed


def diff_file(change: Change, original: Original, *, undo_limit: int | None = None) -> FileDiff:
    """The review of one change against what the workspace holds at its path."""
    path = change.path
    notes: list[str] = []
    if undo_limit is not None and original.kind == "file" and original.size > undo_limit:
        notes.append(f"{original.size} bytes, larger than the {undo_limit} bytes undo keeps: `babel undo` cannot restore it")
    old_name = "/dev/null" if original.kind == "missing" else f"a/{path}"
    if change.kind == "delete":
        action, new_name = "delete", "/dev/null"
    elif change.kind == "symlink":
        was = f"a link to {original.target}" if original.kind == "symlink" else "nothing" if original.kind == "missing" else "a file"
        return FileDiff(path, "link", notes=(*notes, f"{was} -> a link to {change.target}"))
    else:
        action, new_name = ("create" if original.kind == "missing" else "modify"), f"b/{path}"
        if original.kind == "file" and original.mode != (change.mode & 0o777):
            notes.append(f"mode {original.mode:o} -> {change.mode & 0o777:o}")
        if original.kind == "symlink":
            notes.append(f"replaces a link to {original.target}")
    old_data = b"" if original.kind != "file" else original.data
    new_data = b"" if change.kind == "delete" else new_bytes(change, MAX_DIFF_BYTES)
    if old_data is None or new_data is None or len(old_data) > MAX_DIFF_BYTES:
        sizes = f"{original.size if original.kind == 'file' else 0} -> {0 if change.kind == 'delete' else change.size} bytes"
        return FileDiff(path, action, notes=(*notes, f"too large to show ({sizes})"))
    old_text, new_text = _text(old_data), _text(new_data)
    if old_text is None or new_text is None:
        return FileDiff(path, action, notes=(*notes, f"binary ({len(old_data)} -> {len(new_data)} bytes)"))
    text, added, removed = _unified(path, old_text, new_text, old_name, new_name)
    return FileDiff(path, action, text, added, removed, tuple(notes))


def review_changes(run_id: str, changes: list[Change], originals: dict[str, Original], *, undo_limit: int | None = None,
                   warnings: tuple[str, ...] = ()) -> ChangeReview:
    """The review of a whole change set (`originals` from babel.sandbox.read_originals of its paths)."""
    files = tuple(diff_file(c, originals.get(c.path) or Original(c.path, "missing"), undo_limit=undo_limit) for c in changes)
    return ChangeReview(run_id, files, warnings)
