"""Safe writes: the commit of a run's changes to the real workspace, all or nothing.

The guarantee (docs/safety.md): a run that fails, is rejected, or is abandoned (even
killed) leaves the user's workspace exactly as it was before the run; a run that
completes leaves it as its last step left it. A run with effects works on a staged
copy inside its sandbox (a bounded tmpfs, sandbox/executor.py); when every step has
completed, the sandbox reports the differences as data (`Change`: untrusted, every
field checked), and the host applies them here: `check_changes` refuses the whole set
if any change leaves the write roots, touches `.git`, or meets a link, FIFO, socket or
device; `apply_changes` works through directory file descriptors only, never following
a link, with unpredictable temporary names created exclusively, holes kept, modes
without setuid/setgid/sticky, and a journal that `recover_commits` rolls forward or
back after a kill. The host never opens a directory the sandbox could write.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class WorkspaceError(Exception):
    """The workspace cannot be staged or committed; the message says why and what to do."""


@dataclass(frozen=True)
class Changes:
    written: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.written or self.deleted)

    def describe(self) -> str:
        parts = [f"+{p}" for p in self.written] + [f"-{p}" for p in self.deleted]
        return ", ".join(parts) if parts else "no changes"


# ---- committing a change set ----------------------------------------------------------
#
# Why this exists: the old `Staging.commit` copied files into the workspace by path, with
# predictable temp names and no check of the write roots, so a planted symlink turned it
# into a root-owned write anywhere on the host, and a failure left the commit half done.
# Here the sandbox reports its changes as data (every field of which may be hostile), and
# the host applies them itself: every call goes through a directory file descriptor with
# a single path component and never follows a link; temp and backup names are random; a
# journal written before anything is created lets `recover_commits` finish or undo a
# commit whose process was killed, so the workspace ends up with all of the changes or
# none of them.

#: The largest apparent size of one file (a sparse file may be this large and hold little).
MAX_FILE_SIZE = 4 << 30
#: The most data bytes one change set may write (the sum of its extents).
MAX_DATA_SIZE = 1 << 30
#: The most changes one change set may hold.
MAX_CHANGES = 100_000
KINDS = ("file", "symlink", "delete")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TEMP_NAME = re.compile(r"\.babel-[0-9a-f]{32}\.tmp")
_BACKUP_NAME = re.compile(r"\.babel-[0-9a-f]{32}\.bak")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_STATES = ("preparing", "prepared", "rolling-back", "committed")
_MAX_JOURNAL_BYTES = 256 << 20
_VCS_MESSAGE = "is version-control data (.git): Babel never changes version-control files"


@dataclass(frozen=True)
class Change:
    """One change the sandbox reports: untrusted data, checked before anything is applied."""

    path: str  # workspace-relative, '/'-separated, as the sandbox reports it (untrusted)
    kind: str  # "file" | "symlink" | "delete"
    mode: int = 0o644  # permission bits as reported; only mode & 0o777 is ever applied
    size: int = 0  # a file's apparent size; may be larger than its data (sparse file)
    extents: tuple[tuple[int, bytes], ...] = ()  # a file's data regions as (offset, data); the gaps are holes
    target: str = ""  # a symlink's target


class CommitRefused(WorkspaceError):
    """Nothing was applied; `problems` says why, one line per refused change."""

    problems: tuple[str, ...]

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"the run's changes were not applied ({count} problem{'s' if count != 1 else ''}; nothing was changed):"
        return "\n".join([head, *(f"  {line}" for line in self.problems)])


class _Refusal(Exception):
    """A change that the workspace, as it is now, cannot take (the message says why)."""


def check_changes(root: Path, changes: Sequence[Change], write_roots: Sequence[str]) -> list[str]:
    """Every reason the change set cannot be applied; empty when it can. Pure of effects.

    Run before anything is touched so that a refused set changes nothing, and so that the
    user sees every problem at once rather than the first one.
    """
    try:
        items = list(changes)
    except TypeError:
        return ["the change set is not a list of changes"]
    if len(items) > MAX_CHANGES:
        return [f"the change set holds {len(items)} changes; at most {MAX_CHANGES} are committed at once"]
    roots = _write_roots(write_roots)
    problems: list[str] = []
    valid: list[tuple[int, Change, tuple[str, ...]]] = []
    data = 0
    for index, change in enumerate(items):
        if type(change) is not Change:  # not even a subclass: its fields could change between check and use
            problems.append(f"change #{index + 1}: not a change (a {type(change).__name__})")
            continue
        problem = _change_problem(change, roots)
        if problem:
            problems.append(f"{_name(change.path, index)}: {problem}")
            continue
        if change.kind == "file":
            data += sum(len(piece) for _, piece in change.extents)
        valid.append((index, change, tuple(change.path.split("/"))))
    if data > MAX_DATA_SIZE:
        problems.append(f"the change set writes {data} bytes of data; at most {MAX_DATA_SIZE} are committed at once")
    counts: dict[str, int] = {}
    for _, change, _ in valid:
        counts[change.path] = counts.get(change.path, 0) + 1
    paths = set(counts)
    unique: list[tuple[int, Change, tuple[str, ...]]] = []
    for index, change, parts in valid:
        if counts[change.path] > 1:
            problems.append(f"{_show(change.path)}: appears {counts[change.path]} times in the change set; a path is changed once")
            continue
        parent = next(("/".join(parts[:n]) for n in range(1, len(parts)) if "/".join(parts[:n]) in paths), None)
        if parent is not None:
            problems.append(f"{_show(change.path)}: its parent {_show(parent)} is itself changed in the same set")
            continue
        unique.append((index, change, parts))
    try:
        root_fd = _open_root(root)
    except _Refusal as error:
        return [*problems, str(error)]
    try:
        for _, change, parts in unique:
            try:
                _target_check(change, parts, _inspect(root_fd, parts))
            except _Refusal as error:
                problems.append(f"{_show(change.path)}: {error}")
            except OSError as error:
                problems.append(f"{_show(change.path)}: cannot inspect it in the workspace: {error.strerror or error}")
    finally:
        os.close(root_fd)
    return problems


def apply_changes(root: Path, changes: Sequence[Change], write_roots: Sequence[str], journal_dir: Path, run_id: str,
                  expected: Mapping[str, Original] | None = None) -> Changes:
    """Apply all of the changes or none of them; raises CommitRefused (nothing applied) or WorkspaceError.

    The set is checked first; then a journal names every temp and backup before they
    exist, the new files are written next to their targets, and each is renamed into
    place with the old version kept as a hard link until all renames have succeeded.
    With `expected` (`read_originals` of the same paths: what the user reviewed, what
    undo keeps), a path that no longer holds what was read refuses the whole set.
    """
    items = list(changes)
    problems = check_changes(root, items, write_roots)
    if problems:
        raise CommitRefused(problems)
    if not items:
        return Changes()
    if type(run_id) is not str or not _RUN_ID.fullmatch(run_id):
        raise WorkspaceError(f"cannot commit: the run id {_show(run_id)} is not a plain name (letters, digits, '.', '_', '-')")
    try:
        root_fd = _open_root(root)
    except _Refusal as error:
        raise CommitRefused([str(error)]) from None
    try:
        journal_fd = _open_journal_dir(journal_dir)
        try:
            try:
                lock_fd = _lock(journal_fd, run_id)
            except OSError as error:
                raise WorkspaceError(f"cannot lock the commit journal of run {run_id} in {journal_dir}: {error.strerror or error}") from None
            if lock_fd is None:
                raise WorkspaceError(f"cannot commit run {run_id}: another process is committing it now")
            try:
                commit = _Commit(_Workspace(root_fd, os.path.abspath(root)), journal_fd, run_id, [_Entry.plan(c) for c in items],
                                 dict(expected) if expected is not None else None)
                return commit.run()
            finally:
                if _lstat(f"{run_id}.json", journal_fd) is None:
                    with suppress(OSError):
                        os.unlink(f"{run_id}.lock", dir_fd=journal_fd)
                os.close(lock_fd)
        finally:
            os.close(journal_fd)
    finally:
        os.close(root_fd)


def recover_commits(journal_dir: Path) -> list[str]:
    """Finish or undo the commits that a killed process left in journal_dir; returns one line per action taken.

    Run before a new commit (or at start-up) so that an interrupted commit never stays
    half applied: "preparing" is rolled back, "prepared" rolled forward, "rolling-back"
    undone, "committed" tidied. A journal that cannot be used is reported and kept.
    """
    try:
        journal_fd = os.open(journal_dir, _DIR_FLAGS)
    except FileNotFoundError:
        return []
    except OSError as error:
        return [f"cannot open the commit journals in {journal_dir}: {error.strerror or error}"]
    lines: list[str] = []
    try:
        try:
            names = sorted(os.listdir(journal_fd))
        except OSError as error:
            return [f"cannot list the commit journals in {journal_dir}: {error.strerror or error}"]
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                lines.extend(_remove_unfinished_journal(journal_fd, name))
            elif name.endswith(".json"):
                lines.extend(_recover_one(journal_fd, name[: -len(".json")]))
            elif name.endswith(".lock") and name[: -len(".lock")] + ".json" not in names:
                _remove_stale_lock(journal_fd, name[: -len(".lock")])
    finally:
        os.close(journal_fd)
    return lines


@dataclass(frozen=True)
class Original:
    """What the workspace holds at a path, read through directory fds without following a
    link: the old side of a change's diff, and what undo keeps."""

    path: str
    kind: str  # "missing" | "file" | "symlink" | "other" (a directory, a FIFO, ...: a change there is refused)
    data: bytes | None = None  # a regular file's bytes; None when it is larger than the limit it was read with
    size: int = 0
    mode: int = 0  # permission bits (& 0o777)
    target: str = ""  # a symlink's target
    sha256: str = ""  # a regular file's digest (of all of it, whatever the limit)
    ident: tuple[int, ...] = ()  # (kind, dev, inode, size, mtime): the apply refuses a path whose identity changed


def read_originals(root: Path, paths: Sequence[str], max_bytes: int) -> dict[str, Original]:
    """What each path holds now, keeping at most `max_bytes` of a file's data (its digest
    is of all of it). Paths are checked as a change's are; raises WorkspaceError when the
    root cannot be opened. Never opens a link, never blocks on a FIFO."""
    try:
        root_fd = _open_root(root)
    except _Refusal as error:
        raise WorkspaceError(str(error)) from None
    found: dict[str, Original] = {}
    try:
        for path in paths:
            if _path_problem(path):
                found[path] = Original(path, "other")
                continue
            try:
                found[path] = _read_original(root_fd, path, max_bytes)
            except (_Refusal, OSError):
                found[path] = Original(path, "other")
    finally:
        os.close(root_fd)
    return found


def _identity(found: _Found) -> tuple[int, ...]:
    st = found.st
    if found.missing is not None or st is None:
        return (0,)
    return (stat.S_IFMT(st.st_mode), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _read_original(root_fd: int, path: str, max_bytes: int) -> Original:
    parts = tuple(path.split("/"))
    found = _inspect(root_fd, parts)
    ident = _identity(found)
    st = found.st
    if st is None or found.missing is not None:
        return Original(path, "missing", ident=ident)
    if stat.S_ISLNK(st.st_mode):
        return Original(path, "symlink", size=st.st_size, target=found.link or "", ident=ident)
    if not stat.S_ISREG(st.st_mode):
        return Original(path, "other", ident=ident)
    fd = os.dup(root_fd)
    try:
        for name in parts[:-1]:
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)
    try:
        opened = os.fstat(file_fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            return Original(path, "other", ident=ident)
        digest = hashlib.sha256()
        kept: list[bytes] = []
        size = 0
        while chunk := os.read(file_fd, 1 << 20):
            digest.update(chunk)
            if size + len(chunk) <= max_bytes:
                kept.append(chunk)
            size += len(chunk)
        data = b"".join(kept) if size <= max_bytes else None
        return Original(path, "file", data, size, stat.S_IMODE(opened.st_mode) & 0o777, "", digest.hexdigest(), ident)
    finally:
        os.close(file_fd)


# -- checking --------------------------------------------------------------------------


def _show(value: object) -> str:
    """A value for a one-line message: plain when it is printable text, escaped otherwise."""
    if type(value) is not str:
        return f"<a {type(value).__name__}>"
    text = value if value.isprintable() and _encodable(value) else repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _name(path: object, index: int) -> str:
    return _show(path) if type(path) is str and path else f"change #{index + 1}"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _write_roots(write_roots: Sequence[str]) -> list[tuple[str, ...]]:
    """The granted roots as component tuples (() is everything); roots with '..' grant nothing."""
    if isinstance(write_roots, str):
        write_roots = (write_roots,)
    roots: list[tuple[str, ...]] = []
    for root in write_roots:
        if type(root) is not str or "\x00" in root:
            continue
        parts = tuple(p for p in root.split("/") if p not in ("", "."))
        if ".." not in parts:
            roots.append(parts)
    return roots


def _path_problem(path: object) -> str | None:
    """Why a reported path cannot name a file in the workspace, or None."""
    if type(path) is not str:
        return f"the path is not text (a {type(path).__name__})"
    if not path:
        return "the path is empty"
    if "\x00" in path:
        return "the path contains a NUL byte"
    if not _encodable(path):
        return "the path is not valid UTF-8 (it holds bytes that cannot be named exactly); not committed"
    if path.startswith("/"):
        return "the path is absolute; a change names a path relative to the workspace"
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return "the path has an empty, '.' or '..' component; it must be plain and stay in the workspace"
        if part.casefold() == ".git":
            return _VCS_MESSAGE
        if len(part.encode("utf-8")) > 255:
            return "a component of the path is longer than 255 bytes"
    return None


def _change_problem(change: Change, roots: list[tuple[str, ...]]) -> str | None:
    """Why one change is malformed or not allowed, judged from its fields alone, or None."""
    problem = _path_problem(change.path)
    if problem:
        return problem
    parts = tuple(change.path.split("/"))
    if not any(parts[: len(root)] == root for root in roots):
        granted = ", ".join("/".join(root) or "." for root in roots) or "none"
        return f"outside the writable roots ({granted})"
    kind = change.kind
    if type(kind) is not str or kind not in KINDS:
        return f"unknown kind {_show(kind)} (a change is a file, a symlink or a delete)"
    if type(change.mode) is not int:
        return "the mode is not a number"
    if kind == "file":
        return _file_problem(change)
    if kind == "symlink":
        return _link_problem(parts, change.target)
    return None


def _file_problem(change: Change) -> str | None:
    mode, size, extents = change.mode, change.size, change.extents
    if type(mode) is not int:
        return "the mode is not a number"
    if not 0 <= mode <= 0o177777:
        return f"the mode {mode:o} (octal) is not a file's mode bits"
    if type(size) is not int:
        return "the size is not a number"
    if not 0 <= size <= MAX_FILE_SIZE:
        return f"the size {size} is outside 0..{MAX_FILE_SIZE}"
    if not isinstance(extents, (tuple, list)):
        return "the extents are not a list of (offset, data)"
    spans: list[tuple[int, int]] = []
    for extent in extents:
        if not isinstance(extent, (tuple, list)) or len(extent) != 2 or type(extent[0]) is not int or type(extent[1]) is not bytes:
            return "an extent is not an (offset, bytes) pair"
        offset, data = extent
        if offset < 0 or offset + len(data) > size:
            return f"the extent at {offset} of {len(data)} bytes lies outside the file's size {size}"
        spans.append((offset, offset + len(data)))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            return f"the extents overlap at offset {start}"
    return None


def _link_problem(parts: tuple[str, ...], target: object) -> str | None:
    if type(target) is not str or not target:
        return "a symlink needs a target (text)"
    if "\x00" in target or not _encodable(target) or len(target.encode("utf-8")) > 4095:
        return f"the symlink target {_show(target)} is not a usable path"
    if target.startswith("/"):
        return f"the symlink target {_show(target)} is absolute; links in the workspace stay inside it"
    if _escapes(parts[:-1], target):
        return f"the symlink target {_show(target)} leads outside the workspace"
    return None


def _escapes(directory: Sequence[str], target: str) -> bool:
    """Whether a link in `directory` to `target` leaves the workspace, read lexically."""
    if target.startswith("/"):
        return True
    depth = len(directory)
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _what(mode: int) -> str:
    kinds = {
        stat.S_IFLNK: "a symlink",
        stat.S_IFDIR: "a directory",
        stat.S_IFREG: "a regular file",
        stat.S_IFIFO: "a FIFO",
        stat.S_IFSOCK: "a socket",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
    }
    return kinds.get(stat.S_IFMT(mode), "a special file")


@dataclass(frozen=True)
class _Found:
    """What the workspace holds at a path: the first missing parent (index), the target's lstat, a link's text."""

    missing: int | None
    st: os.stat_result | None
    link: str | None


def _open_root(root: Path) -> int:
    """The workspace root as a directory fd, refusing a root that is a symlink or not a directory."""
    try:
        st = os.lstat(root)
    except OSError as error:
        raise _Refusal(f"the workspace {root} cannot be opened: {error.strerror or error}") from None
    if stat.S_ISLNK(st.st_mode):
        raise _Refusal(f"the workspace {root} is a symlink; Babel commits only into a real directory")
    if not stat.S_ISDIR(st.st_mode):
        raise _Refusal(f"the workspace {root} is {_what(st.st_mode)}, not a directory")
    try:
        fd = os.open(root, _DIR_FLAGS)
    except OSError as error:
        raise _Refusal(f"the workspace {root} cannot be opened as a directory: {error.strerror or error}") from None
    return fd


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _inspect(root_fd: int, parts: tuple[str, ...]) -> _Found:
    """Walk to a path's directory one component at a time, never following a link."""
    fd = os.dup(root_fd)
    try:
        for index, name in enumerate(parts[:-1]):
            st = _lstat(name, fd)
            if st is None:
                return _Found(index, None, None)
            if not stat.S_ISDIR(st.st_mode):
                raise _Refusal(f"its parent {_show('/'.join(parts[: index + 1]))} is {_what(st.st_mode)}, not a directory")
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as error:
                raise _Refusal(f"its parent {_show('/'.join(parts[: index + 1]))} cannot be opened as a directory: {error.strerror or error}") from None
            os.close(fd)
            fd = child
        st = _lstat(parts[-1], fd)
        link = os.readlink(parts[-1], dir_fd=fd) if st is not None and stat.S_ISLNK(st.st_mode) else None
        return _Found(None, st, link)
    finally:
        os.close(fd)


def _target_check(change: Change, parts: tuple[str, ...], found: _Found) -> None:
    """Refuse a change whose target, as the workspace holds it now, must not be replaced."""
    st = found.st
    if st is None:
        if change.kind == "delete":
            raise _Refusal("it does not exist in the workspace, so it cannot be deleted")
        return
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISLNK(st.st_mode):
        if change.kind != "delete" and found.link is not None and _escapes(parts[:-1], found.link):
            raise _Refusal(f"it is a symlink out of the workspace ({_show(found.link)}); Babel does not replace it")
        return
    raise _Refusal(f"it is {_what(st.st_mode)} in the workspace; a commit changes only regular files and symlinks")


# -- applying --------------------------------------------------------------------------


def _token(suffix: str) -> str:
    return f".babel-{secrets.token_hex(16)}{suffix}"


@dataclass
class _Entry:
    """One change as the journal records it: where it goes and the names of its temp and backup."""

    path: str
    kind: str
    temp: str  # "" for a delete
    backup: str
    ident: tuple[int, int] | None = None  # (st_dev, st_ino) of the temp once it exists
    change: Change | None = None  # None when read back from a journal

    @classmethod
    def plan(cls, change: Change) -> _Entry:
        return cls(change.path, change.kind, "" if change.kind == "delete" else _token(".tmp"), _token(".bak"), None, change)

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.path.split("/"))

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "temp": self.temp, "backup": self.backup, "ident": list(self.ident) if self.ident else None}

    @classmethod
    def from_json(cls, raw: object) -> _Entry:
        if not isinstance(raw, dict):
            raise ValueError("an entry is not a mapping")
        path, kind, temp, backup, ident = (raw.get(k) for k in ("path", "kind", "temp", "backup", "ident"))
        problem = _path_problem(path)
        if problem or type(path) is not str:
            raise ValueError(f"an entry's path {_show(path)}: {problem}")
        if type(kind) is not str or kind not in KINDS:
            raise ValueError(f"an entry's kind {_show(kind)} is unknown")
        if type(temp) is not str or not (_TEMP_NAME.fullmatch(temp) or (kind == "delete" and temp == "")):
            raise ValueError(f"an entry's temp name {_show(temp)} is not one Babel makes")
        if type(backup) is not str or not _BACKUP_NAME.fullmatch(backup):
            raise ValueError(f"an entry's backup name {_show(backup)} is not one Babel makes")
        pair: tuple[int, int] | None = None
        if ident is not None:
            if not isinstance(ident, list) or len(ident) != 2 or not all(type(n) is int for n in ident):
                raise ValueError("an entry's file identity is not two numbers")
            pair = (ident[0], ident[1])
        return cls(path, kind, temp, backup, pair)


class _Workspace:
    """The workspace root as an open directory fd, and the walks from it (no links followed)."""

    def __init__(self, root_fd: int, root: str) -> None:
        self.fd = root_fd
        self.root = root
        st = os.fstat(root_fd)
        self.ident = (st.st_dev, st.st_ino)
        self.owner = (st.st_uid, st.st_gid) if os.geteuid() == 0 else None

    @contextmanager
    def directory(self, parts: Sequence[str], created: list[tuple[str, ...]] | None = None) -> Iterator[int]:
        """An fd for the directory `parts`, opened component by component; with `created`, missing ones are made."""
        fd = os.dup(self.fd)
        try:
            for index, name in enumerate(parts):
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if created is None:
                        raise
                    made = True
                    try:
                        os.mkdir(name, 0o755, dir_fd=fd)
                    except FileExistsError:
                        made = False
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                    if made:
                        created.append(tuple(parts[: index + 1]))
                        if self.owner is not None:
                            os.fchown(child, *self.owner)
                        os.fchmod(child, 0o755)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def remove_dirs(self, dirs: Sequence[tuple[str, ...]]) -> None:
        """Remove the directories a commit made, deepest first, where they are empty again."""
        for parts in sorted(dirs, key=len, reverse=True):
            with suppress(OSError), self.directory(parts[:-1]) as fd:
                os.rmdir(parts[-1], dir_fd=fd)

    def undo(self, entries: Sequence[_Entry], backups: set[int] | None, lines: list[str]) -> list[str]:
        """Put back what a commit replaced or deleted, remove what it added and every temp; returns the failures.

        With `backups` (the indices whose backup this process made) only those backups are
        trusted; without (recovery), a backup is trusted when it exists.
        """
        failures: list[str] = []
        for index in reversed(range(len(entries))):
            entry = entries[index]
            name = entry.parts[-1]
            try:
                with self.directory(entry.parts[:-1]) as fd:
                    backup = _lstat(entry.backup, fd) if backups is None or index in backups else None
                    target = _lstat(name, fd)
                    if backup is not None:
                        if target is not None and (target.st_dev, target.st_ino) == (backup.st_dev, backup.st_ino):
                            os.unlink(entry.backup, dir_fd=fd)  # the target was never replaced
                        else:
                            os.rename(entry.backup, name, src_dir_fd=fd, dst_dir_fd=fd)
                            lines.append(f"restored {_show(entry.path)}")
                    elif entry.kind != "delete" and target is not None and entry.ident == (target.st_dev, target.st_ino):
                        os.unlink(name, dir_fd=fd)  # a new file in a place that was free
                        lines.append(f"removed the new {_show(entry.path)}")
                    if entry.temp and _lstat(entry.temp, fd) is not None:
                        os.unlink(entry.temp, dir_fd=fd)
                        lines.append(f"removed the temporary file for {_show(entry.path)}")
            except FileNotFoundError:
                continue  # its directory is gone: nothing of this commit is left in it
            except OSError as error:
                failures.append(f"{_show(entry.path)}: {error.strerror or error}")
        return failures

    def forward(self, entries: Sequence[_Entry], lines: list[str]) -> list[str]:
        """Finish a prepared commit: rename every temp still there into place, delete what is still to delete."""
        failures: list[str] = []
        for entry in entries:
            name = entry.parts[-1]
            try:
                with self.directory(entry.parts[:-1]) as fd:
                    if entry.kind == "delete":
                        if _lstat(entry.backup, fd) is None:
                            target = _lstat(name, fd)
                            if target is not None and (stat.S_ISREG(target.st_mode) or stat.S_ISLNK(target.st_mode)):
                                os.unlink(name, dir_fd=fd)
                                lines.append(f"deleted {_show(entry.path)}")
                    elif _lstat(entry.temp, fd) is not None:
                        target = _lstat(name, fd)
                        if target is not None and not (stat.S_ISREG(target.st_mode) or stat.S_ISLNK(target.st_mode)):
                            raise _Refusal(f"{_show(entry.path)} is now {_what(target.st_mode)}; its new version is kept as {entry.temp}")
                        os.rename(entry.temp, name, src_dir_fd=fd, dst_dir_fd=fd)
                        lines.append(f"wrote {_show(entry.path)}")
                    if _lstat(entry.backup, fd) is not None:
                        os.unlink(entry.backup, dir_fd=fd)
            except FileNotFoundError:
                if entry.kind != "delete":
                    lines.append(f"could not write {_show(entry.path)}: it or its directory is gone")
            except _Refusal as error:
                failures.append(str(error))
            except OSError as error:
                failures.append(f"{_show(entry.path)}: {error.strerror or error}")
        return failures

    def remove_backups(self, entries: Sequence[_Entry], only: set[int] | None) -> list[str]:
        failures: list[str] = []
        for index, entry in enumerate(entries):
            if only is not None and index not in only:
                continue
            try:
                with self.directory(entry.parts[:-1]) as fd:
                    os.unlink(entry.backup, dir_fd=fd)
            except FileNotFoundError:
                pass
            except OSError as error:
                failures.append(f"{_show(entry.path)}: cannot remove its backup {entry.backup}: {error.strerror or error}")
        return failures


class _Commit:
    """One all-or-nothing commit: the journal, the temps, the renames, and the undo."""

    def __init__(self, workspace: _Workspace, journal_fd: int, run_id: str, entries: list[_Entry],
                 expected: dict[str, Original] | None = None) -> None:
        self.ws = workspace
        self.expected = expected
        self.journal_fd = journal_fd
        self.run_id = run_id
        self.entries = entries
        self.planned_dirs: list[tuple[str, ...]] = []
        self.created: list[tuple[str, ...]] = []
        self.started: list[_Entry] = []  # the entries whose temp may exist

    def journal(self, state: str) -> None:
        data = {
            "version": 1,
            "state": state,
            "run_id": self.run_id,
            "root": self.ws.root,
            "root_ident": list(self.ws.ident),
            "dirs": ["/".join(parts) for parts in self.planned_dirs],
            "entries": [entry.to_json() for entry in self.entries],
        }
        _write_journal(self.journal_fd, self.run_id, data)

    def run(self) -> Changes:
        if _lstat(f"{self.run_id}.json", self.journal_fd) is not None:
            raise WorkspaceError(f"cannot commit run {self.run_id}: a journal of an earlier commit of it is waiting for recovery")
        self.plan()
        try:
            self.journal("preparing")  # (1) every temp and backup name, before any exists
            self.prepare()  # (2) the missing directories and the temps
            self.journal("prepared")  # (3) from here, recovery rolls forward
        except BaseException as error:
            self.abandon()
            if isinstance(error, OSError):
                changed = error.errno in (errno.ELOOP, errno.ENOTDIR)
                hint = " (a directory in the workspace changed meanwhile: it is now a symlink or not a directory)" if changed else ""
                raise WorkspaceError(f"cannot prepare the commit in {self.ws.root}: {error}{hint}; nothing was applied") from None
            raise
        backups: set[int] = set()
        touched: dict[tuple[str, ...], None] = {}
        current = ""
        try:
            for index, entry in enumerate(self.entries):  # (4)
                current = entry.path
                self.place(index, entry, backups)
                touched[entry.parts[:-1]] = None
        except BaseException as error:
            self.roll_back(current, error, backups)  # (5) raises
        with suppress(OSError):
            self.journal("committed")  # (6) the renames are done; only backups are left
        self.sync(touched)
        failures = self.ws.remove_backups(self.entries, backups)
        if not failures:
            with suppress(OSError):
                os.unlink(f"{self.run_id}.json", dir_fd=self.journal_fd)
        written = tuple(sorted(e.path for e in self.entries if e.kind != "delete"))
        deleted = tuple(sorted(e.path for e in self.entries if e.kind == "delete"))
        return Changes(written, deleted)

    def plan(self) -> None:
        """Re-check every change against the workspace as it is now and list the directories to make."""
        problems: list[str] = []
        for entry in self.entries:
            assert entry.change is not None
            try:
                found = _inspect(self.ws.fd, entry.parts)
                _target_check(entry.change, entry.parts, found)
                self.still_expected(entry.path, found)
            except _Refusal as error:
                problems.append(f"{_show(entry.path)}: {error}")
                continue
            except OSError as error:
                problems.append(f"{_show(entry.path)}: cannot inspect it in the workspace: {error.strerror or error}")
                continue
            if found.missing is not None:
                for end in range(found.missing + 1, len(entry.parts)):
                    if entry.parts[:end] not in self.planned_dirs:
                        self.planned_dirs.append(entry.parts[:end])
        if problems:
            raise CommitRefused(problems)

    def still_expected(self, path: str, found: _Found) -> None:
        """Refuse a path that no longer holds what `read_originals` read (and the user reviewed)."""
        if self.expected is None:
            return
        original = self.expected.get(path)
        if original is None:
            raise _Refusal("it was not reviewed before the apply")
        if _identity(found) != original.ident:
            raise _Refusal("it changed in the workspace after its diff was read; nothing was applied, run the request again")

    def prepare(self) -> None:
        for entry in self.entries:
            change = entry.change
            assert change is not None
            if entry.kind == "delete":
                continue
            with self.ws.directory(entry.parts[:-1], self.created) as fd:
                self.started.append(entry)
                if entry.kind == "symlink":
                    os.symlink(change.target, entry.temp, dir_fd=fd)
                    if self.ws.owner is not None:
                        os.chown(entry.temp, *self.ws.owner, dir_fd=fd, follow_symlinks=False)
                    st = os.stat(entry.temp, dir_fd=fd, follow_symlinks=False)
                else:
                    st = _write_temp(fd, entry.temp, change, self.ws.owner)
                entry.ident = (st.st_dev, st.st_ino)

    def abandon(self) -> None:
        """After a failure in (1)-(3): remove every temp and made directory, then the journal if all went."""
        failures = self.ws.undo(self.started, set(), [])
        self.ws.remove_dirs(self.created)
        if not failures:
            with suppress(OSError):
                os.unlink(f"{self.run_id}.json", dir_fd=self.journal_fd)

    def place(self, index: int, entry: _Entry, backups: set[int]) -> None:
        """Rename one change into place, keeping the old version under its backup name."""
        assert entry.change is not None
        name = entry.parts[-1]
        with self.ws.directory(entry.parts[:-1]) as fd:
            target = _lstat(name, fd)
            link = os.readlink(name, dir_fd=fd) if target is not None and stat.S_ISLNK(target.st_mode) else None
            _target_check(entry.change, entry.parts, _Found(None, target, link))
            self.still_expected(entry.path, _Found(None, target, link))
            if entry.kind == "delete":
                os.rename(name, entry.backup, src_dir_fd=fd, dst_dir_fd=fd)
                backups.add(index)
                return
            if target is not None:
                try:
                    os.link(name, entry.backup, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
                except OSError as error:
                    if error.errno not in (errno.EPERM, errno.EACCES, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                        raise
                    os.rename(name, entry.backup, src_dir_fd=fd, dst_dir_fd=fd)  # no hard links here: move it aside
                backups.add(index)
            os.rename(entry.temp, name, src_dir_fd=fd, dst_dir_fd=fd)

    def roll_back(self, path: str, error: BaseException, backups: set[int]) -> None:
        """After a failure in (4): put everything back as it was, remove every temp, and raise."""
        with suppress(OSError):
            self.journal("rolling-back")
        failures = self.ws.undo(self.entries, backups, [])
        self.ws.remove_dirs(self.created)
        reason = str(error) if isinstance(error, _Refusal) else (getattr(error, "strerror", None) or str(error) or type(error).__name__)
        if failures:
            raise WorkspaceError(
                f"cannot commit {_show(path)}: {reason}; undoing the commit failed too ({'; '.join(failures)}): "
                f"the journal {self.run_id}.json records what is left, and recovery finishes the undo"
            ) from None
        with suppress(OSError):
            os.unlink(f"{self.run_id}.json", dir_fd=self.journal_fd)
        if not isinstance(error, (OSError, _Refusal, WorkspaceError)):
            raise error
        raise WorkspaceError(f"cannot commit {_show(path)}: {reason}; nothing was changed (the commit was undone)") from None

    def sync(self, directories: dict[tuple[str, ...], None]) -> None:
        """Make the renames durable before the backups and the journal go (best effort)."""
        for parts in directories:
            with suppress(OSError), self.ws.directory(parts) as fd:
                os.fsync(fd)


def _write_temp(dir_fd: int, name: str, change: Change, owner: tuple[int, int] | None) -> os.stat_result:
    """A new file with the change's data at its offsets and holes elsewhere, its mode and owner set, synced."""
    fd = os.open(name, _NEW_FILE_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        for offset, data in change.extents:
            view = memoryview(data)
            while view:
                done = os.pwrite(fd, view, offset)
                view, offset = view[done:], offset + done
        os.ftruncate(fd, change.size)
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, change.mode & 0o777)
        os.fsync(fd)
        return os.fstat(fd)
    finally:
        os.close(fd)


# -- the journal -----------------------------------------------------------------------


def _open_journal_dir(journal_dir: Path) -> int:
    try:
        journal_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(journal_dir, _DIR_FLAGS)
    except OSError as error:
        raise WorkspaceError(f"cannot use the commit journal directory {journal_dir}: {error.strerror or error}") from None


def _lock(journal_fd: int, run_id: str) -> int | None:
    """An exclusive lock on the run's lock file (None when another process holds it); dropped when the fd closes."""
    fd = os.open(f"{run_id}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=journal_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_journal(journal_fd: int, run_id: str, data: dict[str, Any]) -> None:
    """Replace the run's journal atomically: a synced temp renamed over it, then the directory synced."""
    temp = f".{run_id}.{secrets.token_hex(8)}.tmp"
    text = json.dumps(data, indent=1).encode("utf-8")
    fd = os.open(temp, _NEW_FILE_FLAGS, 0o600, dir_fd=journal_fd)
    try:
        try:
            view = memoryview(text)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, f"{run_id}.json", src_dir_fd=journal_fd, dst_dir_fd=journal_fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp, dir_fd=journal_fd)
        raise
    with suppress(OSError):
        os.fsync(journal_fd)


def _read_journal(raw: bytes) -> dict[str, Any]:
    """A journal's content, checked so that a damaged or forged one cannot name files outside its commit."""
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ValueError("not a version-1 change-set journal")
    if data.get("state") not in _STATES:
        raise ValueError(f"unknown state {_show(data.get('state'))}")
    if type(data.get("root")) is not str or not data["root"].startswith("/"):
        raise ValueError("no absolute workspace root")
    ident = data.get("root_ident")
    if not isinstance(ident, list) or len(ident) != 2 or not all(type(n) is int for n in ident):
        raise ValueError("no identity of the workspace root")
    dirs = data.get("dirs")
    if not isinstance(dirs, list) or any(_path_problem(d) for d in dirs):
        raise ValueError("the directories it made are not plain workspace paths")
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise ValueError("no entries")
    data["entries"] = [_Entry.from_json(raw_entry) for raw_entry in entries]
    data["dirs"] = [tuple(d.split("/")) for d in dirs]
    return data


def _read_file(journal_fd: int, name: str) -> bytes:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=journal_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > _MAX_JOURNAL_BYTES:
                raise OSError(errno.EFBIG, "the journal is too large")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _remove_unfinished_journal(journal_fd: int, name: str) -> list[str]:
    """A journal write that a kill interrupted (".<run>.<hex>.tmp"): nothing was created after it, so it goes."""
    run_id = name[1:].rsplit(".", 2)[0]
    if not _RUN_ID.fullmatch(run_id):
        return []
    try:
        lock_fd = _lock(journal_fd, run_id)
    except OSError:
        return []
    if lock_fd is None:
        return []
    try:
        os.unlink(name, dir_fd=journal_fd)
        return [f"removed an unfinished journal write of run {run_id} ({name})"]
    except OSError:
        return []
    finally:
        os.close(lock_fd)


def _remove_stale_lock(journal_fd: int, run_id: str) -> None:
    """A lock file whose commit is over (no journal) and whose process is gone (the lock is free)."""
    if not _RUN_ID.fullmatch(run_id):
        return
    try:
        lock_fd = _lock(journal_fd, run_id)
    except OSError:
        return
    if lock_fd is None:
        return
    try:
        if _lstat(f"{run_id}.json", journal_fd) is None:
            os.unlink(f"{run_id}.lock", dir_fd=journal_fd)
    except OSError:
        pass
    finally:
        os.close(lock_fd)


def _recover_one(journal_fd: int, run_id: str) -> list[str]:
    """Finish or undo the commit of one journal, holding its run's lock; keep the journal if that fails."""
    name = f"{run_id}.json"
    if not _RUN_ID.fullmatch(run_id):
        return [f"{_show(name)}: not a commit journal's name; left in place"]
    try:
        lock_fd = _lock(journal_fd, run_id)
    except OSError as error:
        return [f"{name}: cannot lock the commit journal: {error.strerror or error}; left in place"]
    if lock_fd is None:
        return [f"{name}: its commit is in progress in another process; left alone"]
    try:
        try:
            data = _read_journal(_read_file(journal_fd, name))
        except FileNotFoundError:
            return []  # the commit finished meanwhile
        except (OSError, ValueError, UnicodeDecodeError) as error:
            return [f"{name}: cannot read the commit journal ({error}); left in place"]
        root: str = data["root"]
        try:
            root_fd = _open_root(Path(root))
        except _Refusal as error:
            return [f"{name}: {error}; left in place"]
        try:
            workspace = _Workspace(root_fd, root)
            if list(workspace.ident) != data["root_ident"]:
                return [f"{name}: {root} is no longer the directory the commit was made in; left in place"]
            lines: list[str] = []
            state: str = data["state"]
            entries: list[_Entry] = data["entries"]
            if state == "preparing":
                failures = workspace.undo(entries, set(), lines)
                workspace.remove_dirs(data["dirs"])
                outcome = "rolled back (it had not started renaming)"
            elif state == "rolling-back":
                failures = workspace.undo(entries, None, lines)
                workspace.remove_dirs(data["dirs"])
                outcome = "rolled back (it had failed)"
            elif state == "prepared":
                failures = workspace.forward(entries, lines)
                outcome = "rolled forward (every change is applied)"
            else:
                failures = workspace.remove_backups(entries, None)
                outcome = "tidied (it was complete; its backups are removed)"
        finally:
            os.close(root_fd)
        lines = [f"run {run_id} in {root}: {line}" for line in lines]
        if failures:
            return [*lines, *(f"run {run_id} in {root}: could not recover {failure}" for failure in failures), f"{name}: kept for another attempt"]
        os.unlink(name, dir_fd=journal_fd)
        with suppress(OSError):
            os.unlink(f"{run_id}.lock", dir_fd=journal_fd)
        return [*lines, f"run {run_id} in {root}: {outcome}"]
    finally:
        os.close(lock_fd)
