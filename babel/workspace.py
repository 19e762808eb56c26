"""Safe writes: a run with effects works on a staged copy, committed only on success.

The guarantee (docs/safety.md): a run that fails, is rejected, or is abandoned (even
killed) leaves the user's workspace exactly as it was before the run; a run that
completes leaves it as its last step left it. The sandbox mounts a copy of the
workspace (symlinks copied as links, never followed); when the run completes, the
differences are applied to the real workspace file by file, each by an atomic
rename, without following a symlink on the host side. A kill during the commit
itself can leave part of the changes applied (each file whole); the commit journal in
the state dir names the files, and `babel logs` shows it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from babel.trace import state_dir

SKIP = {".git"}  # never staged, never changed by a commit: version control is the user's


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


def _digest(path: Path) -> str:
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        return "link:" + os.readlink(path)
    if not stat.S_ISREG(st.st_mode):
        return f"other:{stat.S_IFMT(st.st_mode)}"
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return f"file:{st.st_mode & 0o777:o}:{h.hexdigest()}"


def snapshot(root: Path) -> dict[str, str]:
    """Relative path → digest of every file and symlink under root (not following links)."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d not in SKIP or Path(dirpath) != root]
        base = Path(dirpath)
        for name in filenames + [d for d in dirnames if (base / d).is_symlink()]:
            path = base / name
            found[str(path.relative_to(root))] = _digest(path)
    return found


@dataclass
class Staging:
    """A copy of the workspace for one run, owned by the sandbox's user."""

    root: Path
    path: Path
    uid: int
    gid: int
    before: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path, uid: int, gid: int) -> Staging:
        remove_stale_stagings()
        parent = Path(tempfile.mkdtemp(prefix=f"babel-stage-{os.getpid()}-"))
        path = parent / "workspace"
        try:
            shutil.copytree(root, path, symlinks=True, ignore=lambda d, names: [n for n in names if n in SKIP and Path(d) == root])
        except (OSError, shutil.Error) as error:
            shutil.rmtree(parent, ignore_errors=True)
            raise WorkspaceError(f"cannot stage a copy of {root} for a run with writes: {error}") from None
        if os.geteuid() == 0:
            for dirpath, dirnames, filenames in os.walk(path):
                for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                    os.chown(name, uid, gid, follow_symlinks=False)
        parent.chmod(0o755)
        return cls(root, path, uid, gid, snapshot(path))

    def changes(self) -> Changes:
        after = snapshot(self.path)
        written = tuple(sorted(p for p, d in after.items() if self.before.get(p) != d))
        deleted = tuple(sorted(p for p in self.before if p not in after))
        return Changes(written, deleted)

    def commit(self, run_id: str = "") -> Changes:
        """Apply the run's changes to the real workspace, each file atomically."""
        changes = self.changes()
        if not changes:
            return changes
        journal = state_dir() / "commits" / f"{run_id or 'run'}.json"
        journal.parent.mkdir(parents=True, exist_ok=True)
        journal.write_text(json.dumps({"root": str(self.root), "written": changes.written, "deleted": changes.deleted}), encoding="utf-8")
        owner = self.root.stat()
        for relative in changes.written:
            target = _safe_target(self.root, relative)
            source = self.path / relative
            tmp = target.parent / f".babel-{os.getpid()}-{target.name}.tmp"
            if source.is_symlink():
                os.symlink(os.readlink(source), tmp)
            else:
                shutil.copy2(source, tmp, follow_symlinks=False)
                if os.geteuid() == 0:
                    os.chown(tmp, owner.st_uid, owner.st_gid, follow_symlinks=False)
            if target.is_dir() and not target.is_symlink():
                os.unlink(tmp)
                raise WorkspaceError(f"the run replaced the directory {relative} with a file; not committed")
            os.replace(tmp, target)
        for relative in changes.deleted:
            target = _safe_target(self.root, relative)
            if target.is_symlink() or target.is_file():
                target.unlink()
        journal.unlink(missing_ok=True)
        return changes

    def discard(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


def remove_stale_stagings() -> int:
    """Delete the staged copies that runs killed mid-way left behind (their pid is gone)."""
    removed = 0
    for path in Path(tempfile.gettempdir()).glob("babel-stage-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _safe_target(root: Path, relative: str) -> Path:
    """root/relative, refusing any path whose parents are symlinks or leave root."""
    parts = Path(relative).parts
    if Path(relative).is_absolute() or ".." in parts:
        raise WorkspaceError(f"refusing to commit {relative}: it leaves the workspace")
    current = root
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise WorkspaceError(f"refusing to commit {relative}: {current} is a symlink")
        if not current.exists():
            current.mkdir()
            if os.geteuid() == 0:
                owner = root.stat()
                os.chown(current, owner.st_uid, owner.st_gid)
    return current / parts[-1]


def sandbox_user(root: Path) -> tuple[int, int]:
    """The uid/gid the sandbox runs as for this workspace: its owner, never root."""
    st = root.stat()
    if st.st_uid == 0:
        return 65534, 65534
    return st.st_uid, st.st_gid
