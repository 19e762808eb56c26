"""The user's git work tree, seen from the apply step: a warning on a dirty tree, and an opt-in commit per run.

Babel never writes version-control files itself (the apply refuses any `.git` path), but
a workspace is often a git work tree, and a person reviewing a run wants to know that
it lands on uncommitted work, and may want one commit per run with the request as its
message (aider's habit), so that `git log` reads as the history of what was asked.
git is a host program: it may be missing, the directory may not be a work tree, or git
may refuse it (another owner); each of those is "no work tree", never an error. Every
call is bounded in time, takes pathspecs literally (GIT_LITERAL_PATHSPECS) and turns
off the fsmonitor hook for the status it reads.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT = 20.0


class GitError(Exception):
    """A git command failed; the message says which and what git said."""


@dataclass(frozen=True)
class WorkTree:
    top: Path  # the work tree's top directory
    dirty: tuple[str, ...]  # paths (relative to the workspace root) with uncommitted changes, at most a few hundred

    def dirty_among(self, paths: Sequence[str]) -> list[str]:
        wanted = set(self.dirty)
        return [p for p in paths if p in wanted]


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_LITERAL_PATHSPECS": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    return subprocess.run(["git", "-C", str(root), "-c", "core.fsmonitor=false", *args], capture_output=True, timeout=GIT_TIMEOUT,
                          env=env, stdin=subprocess.DEVNULL, check=False)


def work_tree(root: Path, limit: int = 500) -> WorkTree | None:
    """The git work tree `root` is in, with its uncommitted paths; None when git is missing,
    fails, or `root` is not in a work tree."""
    try:
        inside = _git(root, "rev-parse", "--is-inside-work-tree", "--show-toplevel")
        if inside.returncode != 0:
            return None
        lines = inside.stdout.decode("utf-8", "replace").splitlines()
        if not lines or lines[0].strip() != "true":
            return None
        top = Path(lines[1].strip()) if len(lines) > 1 else root
        status = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=normal", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return None
    if status.returncode != 0:
        return WorkTree(top, ())
    dirty: list[str] = []
    records = status.stdout.split(b"\x00")
    index = 0
    while index < len(records) and len(dirty) < limit:
        record = records[index]
        index += 1
        if len(record) < 4:
            continue
        if record[:1] in (b"R", b"C"):
            index += 1  # a rename's source path follows
        dirty.append(_relative(top, root, os.fsdecode(record[3:])))
    return WorkTree(top, tuple(dirty))


def _relative(top: Path, root: Path, path: str) -> str:
    """`git status` names paths from the top of the work tree; the workspace may be below it."""
    try:
        prefix = root.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        return path
    if prefix in ("", "."):
        return path
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else path


def dirty_warning(tree: WorkTree, changed: Sequence[str]) -> str | None:
    """The warning to read before applying on a dirty tree, or None for a clean one."""
    if not tree.dirty:
        return None
    overlap = tree.dirty_among(changed)
    shown = ", ".join(tree.dirty[:5]) + (f" and {len(tree.dirty) - 5} more" if len(tree.dirty) > 5 else "")
    text = f"the git work tree {tree.top} has uncommitted changes ({shown})"
    if overlap:
        text += f"; this run replaces uncommitted work in {', '.join(overlap[:5])} (`babel undo` restores it)"
    return text


def commit_run(root: Path, paths: Sequence[str], message: str) -> str | None:
    """Commit exactly `paths` (relative to `root`; written or deleted) with `message`, leaving
    anything else the user staged alone. Returns the short commit id, or None when git has
    nothing of them to commit (every path ignored). Raises GitError."""
    try:
        listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *paths)
        if listed.returncode != 0:
            raise GitError(f"git ls-files failed: {_said(listed)}")
        known = [os.fsdecode(p) for p in listed.stdout.split(b"\x00") if p]
        wanted = [p for p in paths if p in set(known)]
        if not wanted:
            return None
        added = _git(root, "add", "--all", "--", *wanted)
        if added.returncode != 0:
            raise GitError(f"git add failed: {_said(added)}")
        done = _git(root, "commit", "--quiet", "--message", message, "--", *wanted)
        if done.returncode != 0:
            raise GitError(f"git commit failed: {_said(done)}")
        head = _git(root, "rev-parse", "--short", "HEAD")
    except (OSError, subprocess.SubprocessError) as error:
        raise GitError(f"git could not be run: {error}") from None
    return head.stdout.decode("ascii", "replace").strip() or "HEAD"


def _said(done: subprocess.CompletedProcess[bytes]) -> str:
    text = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
    return text.splitlines()[-1] if text else f"exit status {done.returncode}"
