"""What `babel undo` needs: the old contents a run replaced, kept with the run, bounded and content-addressed.

Before a run's changes are applied, `keep` stores what each changed path held (read
without following a link, babel.sandbox.read_originals) under the state dir: each old
file once, named by its sha256 (`undo/blobs/`), and one record per run (`undo/runs/RUN.json`)
that says, per path, what was there before and what the run left (its digest). A file
larger than MAX_KEPT_FILE, or past MAX_KEPT_RUN in one run, is not kept; the record says
so and the review warned before the apply. Only the newest MAX_RUNS records are kept,
and blobs no record names are removed.

`undo` turns a record back into a change set and applies it through the same checked,
journalled, all-or-nothing apply as a run (babel.sandbox.apply_changes), so it never
follows a link or writes outside the workspace. It refuses, naming the file, when a
path no longer holds what the run left there (someone changed it since), when a kept
copy is missing or damaged, or when a file was too large to keep. The directories the
run created (the record names them) are removed again when the undo leaves them empty,
through directory descriptors, never following a link. `undo_run` records each undo
as a run of its own in the trace store (run_start with `source: undo` and the run it
undoes, a `commit` of the files restored and removed, run_end), a refused one too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from babel.app.diffs import new_digest
from babel.app.paths import Paths
from babel.lang import Commit, RunEnd, RunStart, TraceStore
from babel.sandbox import Change, Original, apply_changes, read_originals, recover_commits
from babel.vm import new_run_id

#: The largest old file undo keeps.
MAX_KEPT_FILE = 8 << 20
#: The most old bytes undo keeps for one run.
MAX_KEPT_RUN = 64 << 20
#: How many runs' records are kept (the oldest go first).
MAX_RUNS = 50


class UndoError(Exception):
    """A run cannot be undone (or its undo data cannot be kept); the message names the file and what to do."""


@dataclass(frozen=True)
class Undone:
    """What an undo did (or, with dry_run, would do)."""

    run_id: str
    root: Path
    restored: tuple[str, ...]  # put back as they were before the run
    removed: tuple[str, ...]  # files the run created, deleted again
    removed_dirs: tuple[str, ...] = ()  # directories the run created, left empty by the undo and removed
    trace: str | None = None  # the undo's own run id in the trace store (None: a dry run, not recorded)


def _side(original: Original) -> dict[str, Any]:
    if original.kind == "file":
        return {"kind": "file", "sha256": original.sha256, "mode": original.mode, "size": original.size}
    if original.kind == "symlink":
        return {"kind": "symlink", "target": original.target}
    return {"kind": original.kind}


def _after(change: Change) -> dict[str, Any]:
    if change.kind == "file":
        return {"kind": "file", "sha256": new_digest(change), "size": change.size}
    if change.kind == "symlink":
        return {"kind": "symlink", "target": change.target}
    return {"kind": "missing"}


class UndoStore:
    """The undo records and blobs under one directory (`Paths.undo`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.blobs = directory / "blobs"
        self.runs = directory / "runs"

    # -- keeping ---------------------------------------------------------------------

    def keep(self, run_id: str, root: Path, changes: Iterable[Change], originals: dict[str, Original], request: str = "") -> list[str]:
        """Store what the changes replace before they are applied; returns the paths not kept
        (too large). Raises UndoError when nothing can be stored (the apply should not go on)."""
        changes = list(changes)
        files: list[dict[str, Any]] = []
        not_kept: list[str] = []
        total = 0
        try:
            self.blobs.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.runs.mkdir(parents=True, exist_ok=True, mode=0o700)
            for change in changes:
                original = originals.get(change.path) or Original(change.path, "missing")
                before = _side(original)
                if original.kind == "file":
                    if original.data is None or original.size > MAX_KEPT_FILE or total + original.size > MAX_KEPT_RUN:
                        before["kept"] = False
                        not_kept.append(change.path)
                    else:
                        self._put(original.sha256, original.data)
                        total += original.size
                files.append({"path": change.path, "before": before, "after": _after(change)})
            record = {"version": 1, "run_id": run_id, "root": str(root), "request": request,
                      "time": datetime.now(UTC).isoformat(), "files": files, "undone": None,
                      "created_dirs": created_dirs(root, [c.path for c in changes if c.kind != "delete"])}
            self._write(self.runs / f"{run_id}.json", json.dumps(record, indent=1).encode("utf-8"))
        except OSError as error:
            raise UndoError(f"cannot keep the old contents for undo in {self.directory}: {error.strerror or error}") from None
        self.prune()
        return not_kept

    def forget(self, run_id: str) -> None:
        """Drop a run's record (its changes were not applied after all)."""
        try:
            (self.runs / f"{run_id}.json").unlink()
        except OSError:
            pass

    def _put(self, digest: str, data: bytes) -> None:
        path = self.blobs / digest
        if path.exists():
            return
        self._write(path, data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def prune(self) -> None:
        """Keep the newest MAX_RUNS records and the blobs they name."""
        try:
            records = self.records()
            for old in records[MAX_RUNS:]:
                (self.runs / f"{old['run_id']}.json").unlink(missing_ok=True)
            named = set()
            for data in records[:MAX_RUNS]:
                for entry in data.get("files", []):
                    named.add(str(entry.get("before", {}).get("sha256")))
            settled = time.time() - 600  # a blob newer than that may belong to a record another run is writing now
            for blob in self.blobs.iterdir():
                if blob.name not in named and not blob.name.startswith(".") and blob.stat().st_mtime < settled:
                    blob.unlink(missing_ok=True)
        except (OSError, ValueError):
            pass  # pruning is tidying: a failure keeps more, never less

    # -- reading ---------------------------------------------------------------------

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("files"), list):
            raise ValueError(f"{path.name} is not an undo record")
        return data

    def find(self, which: str | None) -> dict[str, Any]:
        """A run's record: `which` is a run id, a unique prefix of one, or None/'last' (the
        newest run not undone yet). Raises UndoError."""
        records = self.records()
        if which in (None, "last"):
            for data in records:
                if not data.get("undone"):
                    return data
            raise UndoError("no run has changes left to undo (runs that changed the workspace are listed by `babel logs`)")
        matches = [d for d in records if d["run_id"] == which] or [d for d in records if str(d["run_id"]).startswith(str(which))]
        if not matches:
            raise UndoError(f"no run {which!r} with changes kept for undo (only runs that changed the workspace can be undone, "
                            f"and only the last {MAX_RUNS} are kept)")
        if len(matches) > 1:
            raise UndoError(f"{which!r} names {len(matches)} runs: {', '.join(str(d['run_id']) for d in matches[:5])}; give more of the id")
        return matches[0]

    def records(self) -> list[dict[str, Any]]:
        """Every readable record, newest run first."""
        found = []
        try:
            paths = list(self.runs.glob("*.json"))
        except OSError:
            paths = []
        for path in paths:
            try:
                data = self._read(path)
            except (OSError, ValueError):
                continue
            if data.get("run_id") == path.stem:
                found.append(data)
        return sorted(found, key=lambda d: str(d.get("time")), reverse=True)

    def _blob(self, digest: str, path: str) -> bytes:
        try:
            data = (self.blobs / digest).read_bytes() if all(c in "0123456789abcdef" for c in digest) and len(digest) == 64 else None
        except OSError:
            data = None
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            raise UndoError(f"cannot undo: the kept copy of {path} is missing or damaged; nothing was changed")
        return data

    # -- undoing ---------------------------------------------------------------------

    def undo(self, which: str | None, journal: Path, *, dry_run: bool = False) -> Undone:
        """Restore what a run changed, all or nothing. Raises UndoError (nothing changed)."""
        recover_commits(journal)  # an apply (or undo) a killed process left half-done is finished or undone first
        record = self.find(which)
        run_id, root = str(record["run_id"]), Path(str(record["root"]))
        if record.get("undone"):
            raise UndoError(f"run {run_id} was already undone ({record['undone']})")
        files: list[dict[str, Any]] = record["files"]
        paths = [str(entry["path"]) for entry in files]
        try:
            current = read_originals(root, paths, 0)
        except Exception as error:  # noqa: BLE001 (a WorkspaceError or an OSError: the root is gone or unusable)
            raise UndoError(f"cannot undo run {run_id}: {error}") from None
        problems: list[str] = []
        changes: list[Change] = []
        restored: list[str] = []
        removed: list[str] = []
        for entry in files:
            path, before, after = str(entry["path"]), entry["before"], entry["after"]
            now = current[path]
            if not _matches(now, after):
                problems.append(f"{path} changed after run {run_id} (it is not what the run left); undo would lose that change")
                continue
            if before.get("kept") is False:
                problems.append(f"{path} was {before.get('size')} bytes, larger than undo keeps ({MAX_KEPT_FILE} bytes a file, "
                                f"{MAX_KEPT_RUN} a run): its old contents were not kept")
                continue
            kind = before.get("kind")
            if kind == "file":
                data = self._blob(str(before.get("sha256")), path)
                changes.append(Change(path, "file", int(before.get("mode") or 0o644), len(data), ((0, data),) if data else ()))
                restored.append(path)
            elif kind == "symlink":
                changes.append(Change(path, "symlink", target=str(before.get("target"))))
                restored.append(path)
            elif kind == "missing":
                if now.kind != "missing":
                    changes.append(Change(path, "delete"))
                    removed.append(path)
            else:
                problems.append(f"{path}: what was there before the run cannot be restored ({kind})")
        if problems:
            raise UndoError("\n".join([f"cannot undo run {run_id}; nothing was changed:", *(f"  {p}" for p in problems)]))
        if not dry_run and changes:
            try:
                apply_changes(root, changes, ["."], journal, f"{run_id}.undo", expected=current)
            except Exception as error:  # noqa: BLE001 (CommitRefused or WorkspaceError: nothing was applied)
                raise UndoError(f"cannot undo run {run_id}: {error}") from None
        dirs = remove_empty_dirs(root, [str(d) for d in record.get("created_dirs") or ()], set(removed), dry_run=dry_run)
        if not dry_run:
            record["undone"] = datetime.now(UTC).isoformat()
            try:
                self._write(self.runs / f"{run_id}.json", json.dumps(record, indent=1).encode("utf-8"))
            except OSError:
                pass
        return Undone(run_id, root, tuple(restored), tuple(removed), tuple(dirs))


def _matches(now: Original, after: dict[str, Any]) -> bool:
    """Whether the workspace still holds what the run left at a path."""
    kind = after.get("kind")
    if kind == "file":
        return now.kind == "file" and now.sha256 == after.get("sha256")
    if kind == "symlink":
        return now.kind == "symlink" and now.target == after.get("target")
    return now.kind == "missing"


def created_dirs(root: Path, paths: Iterable[str]) -> list[str]:
    """The directories that writing `paths` under `root` creates: the parents not there yet."""
    made: set[str] = set()
    for path in paths:
        parents = PurePosixPath(path).parts[:-1]
        for depth in range(1, len(parents) + 1):
            directory = "/".join(parents[:depth])
            if directory not in made and not os.path.lexists(root / directory):
                made.add(directory)
    return sorted(made)


def remove_empty_dirs(root: Path, dirs: list[str], removed: set[str], *, dry_run: bool = False) -> list[str]:
    """Remove those of `dirs` (relative to `root`, created by a run) that are empty, the
    deepest first, so a parent emptied by its child's removal goes too; with `dry_run`,
    those that would be once the files in `removed` are gone. Reached through directory
    descriptors, never through a link: a directory swapped for a link is left alone, and
    so is one that holds anything. Returns the directories removed (or to be)."""
    gone: list[str] = []
    for directory in sorted(set(dirs), key=lambda d: (-d.count("/"), d)):
        parts = PurePosixPath(directory).parts
        if not parts or any(part in ("", ".", "..") for part in parts):
            continue
        parent = _open_dir(root, parts[:-1])
        if parent is None:
            continue
        try:
            if dry_run:
                child = _open_dir(root, parts)
                if child is None:
                    continue
                try:
                    entries = {f"{directory}/{name}" for name in os.listdir(child)}
                except OSError:
                    continue
                finally:
                    os.close(child)
                if entries <= removed | set(gone):
                    gone.append(directory)
                continue
            try:
                os.rmdir(parts[-1], dir_fd=parent)
                gone.append(directory)
            except OSError:  # not empty, not a directory (a link), gone: it stays; tidying never fails the undo
                pass
        finally:
            os.close(parent)
    return gone


def _open_dir(root: Path, parts: tuple[str, ...]) -> int | None:
    """A descriptor of root/parts, each component a real directory (no link followed), or None."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(root, flags)
    except OSError:
        return None
    for part in parts:
        try:
            child = os.open(part, flags, dir_fd=fd)
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = child
    return fd


def undo_run(run: str | None = None, *, paths: Paths | None = None, dry_run: bool = False) -> Undone:
    """`babel undo [RUN]`: restore what a run (by default the newest not undone) changed,
    from what was kept under `paths.undo`, all or nothing. Raises UndoError. An undo (not
    a dry run) of a run found is recorded as a run in the trace store under `paths.state`:
    run_start (`source: undo`, `undoes`, `root`), a `commit` of what it restored (`written`)
    and removed (`deleted`), run_end `ok` with the same as its result; a refused undo ends
    `failed` with the reason as its error."""
    paths = paths or Paths.from_env()
    store = UndoStore(paths.undo)
    if dry_run:
        return store.undo(run, paths.commits, dry_run=True)
    record = store.find(run)  # (no such run: nothing to record)
    undone_id, started = new_run_id(), time.perf_counter()
    writer = TraceStore(paths.state).writer(undone_id)
    try:
        writer(RunStart(undone_id, datetime.now(UTC).isoformat(), None, None,
                        {"source": "undo", "undoes": record["run_id"], "root": str(record["root"])}).to_json())
        try:
            done = store.undo(str(record["run_id"]), paths.commits)
        except UndoError as error:
            writer(RunEnd(undone_id, "failed", None, 0, 0, None, _since(started), str(error)).to_json())
            raise
        result = "".join([*(f"restored {p}\n" for p in done.restored), *(f"removed {p}\n" for p in done.removed),
                          *(f"removed {d}/\n" for d in done.removed_dirs)]) or "nothing to restore\n"
        writer(Commit(undone_id, list(done.restored), [*done.removed, *(f"{d}/" for d in done.removed_dirs)]).to_json())
        writer(RunEnd(undone_id, "ok", result, 0, 0, None, _since(started)).to_json())
    finally:
        writer.close()
    return dataclasses.replace(done, trace=undone_id)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
