"""Kernel rules for one step: Landlock rulesets that the executor applies to each command.

The executor (sandbox/executor.py) runs every `exec` step under a Landlock ruleset made
from the step's policy, so that what a command may do is decided by the kernel, not by
reading its shell text: it may execute only the programs on the step's allow-list (and
/bin/sh, which runs `cmd`, and the dynamic loader they need), read only the step's read
roots in the workspace and the image's own libraries and data, and write only the step's
write roots (and /tmp). Rulesets are inherited by every process a command starts, so an
`xargs`, `find -exec`, `awk system()`, `git` alias or `env -S` can only start programs
that are on the list. Signals out of the step's domain (to the executor) and TCP are
denied too. Standard library only: this file is copied into the image beside the
executor. The numbers are the kernel's ABI (include/uapi/linux/landlock.h).
"""

from __future__ import annotations

import ctypes
import os
import stat
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
MAKE_SYM, REFER, TRUNCATE, IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

#: the file system rights each ABI version knows (a ruleset may only name known rights)
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
#: rights that make sense on a file (not a directory) in a path-beneath rule
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

READ = READ_FILE | READ_DIR
WRITE = WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM | REFER | TRUNCATE
RUN = EXECUTE | READ_FILE

#: What every command may read: the image's libraries, data and configuration. /usr/bin
#: is not among them, so the dynamic loader cannot be used to load a program that is
#: not on the list (`ld.so /usr/bin/perl` fails: it cannot open perl).
SYSTEM_READ = ("/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/share", "/usr/include", "/etc", "/proc")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
SCRATCH = "/tmp"
SHELL = "/bin/sh"
LOADERS = ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/ld-linux-armhf.so.3", "/lib/ld-linux.so.2")
SEARCH_PATH = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")
#: in a rule's program list: every program of the image (only the host's harness asks for it)
ANY = "*"
#: programs that run helpers of their own, which may run when the program may
HELPERS = {"git": ("/usr/lib/git-core",)}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int


class LandlockError(Exception):
    """Landlock is missing or refused a rule; the message says which and why."""


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is missing or disabled."""
    version = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return int(version) if version > 0 else 0


@dataclass(frozen=True)
class Rules:
    """What one step may do, as paths in the sandbox: the kernel's view of a policy."""

    read: tuple[str, ...]  # directories or files the step may read
    write: tuple[str, ...]  # directories or files the step may write (created beneath them)
    run: tuple[str, ...]  # program files the step may execute
    run_beneath: tuple[str, ...] = ()  # directories whose programs the step may execute


def program_files(names: Iterable[str], search: Sequence[str] = SEARCH_PATH) -> tuple[list[str], list[str]]:
    """(the real files the allowed program names resolve to, the names found nowhere)."""
    found: list[str] = []
    missing: list[str] = []
    for name in names:
        if not name or "/" in name or name in (".", ".."):
            missing.append(name)
            continue
        for directory in search:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                found.append(os.path.realpath(candidate))
                break
        else:
            missing.append(name)
    return sorted(set(found)), missing


def rules_for(workspace: str, read_roots: Sequence[str], write_roots: Sequence[str], programs: Sequence[str]) -> Rules:
    """The kernel rules for a step of a policy (roots relative to `workspace`, program names)."""
    files, _ = program_files(p for p in programs if p != ANY)
    shell = os.path.realpath(SHELL)
    loaders = [os.path.realpath(p) for p in LOADERS if os.path.exists(p)]
    beneath = tuple(d for name in programs for d in HELPERS.get(name, ()) if os.path.isdir(d))
    if ANY in programs:  # the host's own harness commands (fixtures, reference answers), never a plan's
        beneath += tuple(sorted({os.path.realpath(d) for d in (*SEARCH_PATH, "/usr/lib") if os.path.isdir(d)}))
    reads = [*SYSTEM_READ, *_unlinked(workspace, read_roots, nearest=False)]
    writes = [SCRATCH, *_unlinked(workspace, write_roots, nearest=True)]
    return Rules(tuple(reads), tuple(writes), tuple(sorted({shell, *loaders, *files})), beneath)


def _unlinked(workspace: str, roots: Sequence[str], nearest: bool) -> list[str]:
    """The workspace roots as sandbox paths. A write root that does not exist yet becomes
    its nearest existing directory (where it will be created; the commit checks the root
    itself); a read root that does not exist grants nothing. A root reached through a
    symlink grants nothing (the link could point anywhere in the workspace, and the rule
    would land there)."""
    found = []
    for root in roots:
        path = os.path.normpath(os.path.join(workspace, root.strip("/") or "."))
        if path != workspace and not path.startswith(workspace.rstrip("/") + "/"):
            continue
        if not nearest and not os.path.lexists(path):
            continue
        while not os.path.lexists(path) and path != workspace:
            path = os.path.dirname(path)
        if os.path.realpath(path) == path:
            found.append(path)
    return found


def build_ruleset(rules: Rules, abi: int) -> int:
    """A Landlock ruleset fd for `rules` (the caller keeps it and applies it to children)."""
    if abi < 1:
        raise LandlockError("this kernel has no Landlock (or it is disabled): Babel's sandbox needs it to enforce its rules")
    handled_fs = _FS_BY_ABI.get(abi, _FS_BY_ABI[5])
    handled_net = (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0
    scoped = (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0
    attr = struct.pack("QQQ", handled_fs, handled_net, scoped)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    buffer = ctypes.create_string_buffer(attr[:size], size)
    fd = int(_libc.syscall(SYS_CREATE_RULESET, buffer, ctypes.c_size_t(size), ctypes.c_uint32(0)))
    if fd < 0:
        raise LandlockError(f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}")
    try:
        grants: list[tuple[str, int]] = [(p, READ) for p in rules.read]
        grants += [(d, READ_FILE | WRITE_FILE | TRUNCATE) for d in DEVICES]
        # a write root that does not exist yet is created beneath its nearest existing directory
        grants += [(p, READ | WRITE) for p in rules.write]
        grants += [(p, RUN) for p in rules.run] + [(d, RUN | READ_DIR) for d in rules.run_beneath]
        for path, access in grants:
            _add_rule(fd, path, access & handled_fs)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _add_rule(ruleset: int, path: str, access: int) -> None:
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a root that does not exist grants nothing
    try:
        if not stat.S_ISDIR(os.fstat(target).st_mode):
            access &= _FILE_RIGHTS
        if not access:
            return
        attr = ctypes.create_string_buffer(struct.pack("=Qi", access, target), 12)
        if _libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), attr, ctypes.c_uint32(0)) != 0:
            raise LandlockError(f"landlock_add_rule({path}) failed: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(target)


def restrict_self(ruleset: int) -> None:
    """Put the calling process (a freshly forked child) under the ruleset, for good."""
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise LandlockError("cannot set no_new_privs")
    if _libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
        raise LandlockError(f"landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}")
