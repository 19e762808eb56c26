"""Babel's executor: performs plan steps inside the sandbox, one JSON line at a time.

It is the only code that touches the workspace. The host sends one request per line
on stdin and reads one response per line on stdout (protocol: docs/architecture.md);
every request carries an id that its response repeats. An `exec` request that asks to
be streamed (`"stream": true`) also gets its command's output as it comes, in chunk
messages with the same id before the response (`Streamer`), bounded in total; the
response still carries the whole bounded output. It runs as the container's
unprivileged user, in a container with no network, a read-only root and only the
workspace mounted, and it is not dumpable, so a step's processes cannot reach its
channel through /proc. Every command runs under a Landlock ruleset made from the
step's policy (sandbox/landlock.py): the kernel, not a reading of the command line,
decides which programs it may execute and which files it may read and write. Processes
a command leaves behind are killed when it ends (the executor is their subreaper).
For runs that write, the workspace is a size-bounded tmpfs that the executor fills
from a read-only mount of the real one (`stage`), and at the end it reports the
differences as data (`changes`, `fetch`) for the host to check and apply; the host
never reads a directory the sandbox could write. On top of that, the executor refuses
any path that leaves the workspace by `..`, an absolute path, or a symlink.
Standalone (standard library only) and importable, so its logic is tested in-process too.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import ctypes
import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import landlock  # noqa: E402  (beside this file, in the image and in the repository)

EXEC_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp"}
#: variables a skill input may never be given as: they change how programs are found, loaded or configured
RISKY_VARIABLES = re.compile(r"(PATH|IFS|ENV|BASH_ENV|SHELLOPTS|BASHOPTS|PS4|CDPATH|SHELL|TAR_OPTIONS|GZIP|XZ_OPT|BZIP2?|AWKPATH"
                             r"|AWKLIBPATH|GCONV_PATH|GLIBC_TUNABLES|LOCPATH|NLSPATH|PERL5OPT|PERL5LIB|PERLLIB|(LD_|GIT_|BASH_FUNC_|MALLOC_|PYTHON).*)")
#: names never staged and never reported as unchanged: version control is the user's
VCS = ".git"
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
FETCH_MAX = 4 << 20
#: how long, at most, the executor waits for a command's leftover processes to be gone
STRAYS_WAIT = 5.0
#: a streamed command's chunks carry at most this many bytes of each stream (and no more
#: than the request's max_output); the rest reaches the host only in the response
STREAM_MAX = 256 << 10
#: a partial line is sent once it has waited this long; complete lines go at once
STREAM_WAIT = 0.1
#: the least time between two sends of chunks, so that a flood of short lines is coalesced
STREAM_GAP = 0.02

#: Sends one message (a dict) to the host on the channel, the request's id added.
Send = Callable[[dict[str, Any]], None]


class StepError(Exception):
    def __init__(self, failure: str, message: str, value: Any = None, truncated: bool = False) -> None:
        super().__init__(message)
        self.failure, self.message, self.value, self.truncated = failure, message, value, truncated


def shown(path: str) -> str:
    """A path as text that can always be printed (a non-UTF-8 byte shows as \\xNN)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def walk(top: str, prune: Callable[[str, os.DirEntry[str]], bool] | None = None,
         newest_first: bool = False) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(path relative to top, entry) for everything beneath top, depth first, never
    following a link; iterative, so deep trees cannot exhaust the stack. A directory for
    which `prune` says True is listed but not entered; an unreadable one raises OSError
    with its relative path in `filename`. Each directory's entries come in the order the
    file system lists them (reversed with `newest_first`): `stage` creates them so that
    the staged copy lists them in the same order, and `find` and `ls -U` there print what
    they would print in the workspace itself."""
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(top, rel) if rel else top) as it:
                entries = list(it)
            if newest_first:
                entries.reverse()
        except OSError as error:
            raise OSError(error.errno, error.strerror, rel or ".") from None
        for entry in entries:
            path = os.path.join(rel, entry.name) if rel else entry.name
            yield path, entry
            if entry.is_dir(follow_symlinks=False) and not (prune and prune(path, entry)):
                stack.append(path)


def data_extents(fd: int, size: int) -> list[tuple[int, int]]:
    """The (offset, length) regions of a file that hold data; the rest are holes."""
    extents: list[tuple[int, int]] = []
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole is left
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        extents.append((start, end - start))
        offset = end
    return extents


def copy_sparse(src: int, dst: int, size: int) -> int:
    """Copy a file's data regions (holes stay holes); returns the bytes of data copied."""
    copied = 0
    for start, length in data_extents(src, size):
        position = start
        while position < start + length:
            chunk = os.pread(src, min(1 << 20, start + length - position), position)
            if not chunk:
                break
            os.pwrite(dst, chunk, position)
            position += len(chunk)
            copied += len(chunk)
    os.ftruncate(dst, size)
    return copied


class Streamer:
    """A running command's output sent to the host as it comes: chunk messages
    `{"chunk": text, "stream": "stdout" | "stderr"}`, complete lines at once (at most one
    send every STREAM_GAP, so a flood of short lines travels as a few chunks) and a
    partial line after STREAM_WAIT. Each stream's chunks stop at `budget` bytes; the last
    chunk of a stream cut short says `"cut": true`, and nothing of it follows. Text is
    decoded as the response decodes it (UTF-8, a bad byte replaced), a character split
    between two reads kept whole, so the chunks of a stream that was not cut join into
    exactly the response's text. `close()` sends what is left; after it nothing is sent."""

    NAMES = ("stdout", "stderr")

    def __init__(self, send: Send, budget: int) -> None:
        self._send = send
        self._room = dict.fromkeys(self.NAMES, max(0, budget))
        self._pending = {name: bytearray() for name in self.NAMES}
        self._since: dict[str, float | None] = dict.fromkeys(self.NAMES, None)  # when the oldest unsent byte came
        self._cut: dict[str, bool] = dict.fromkeys(self.NAMES, False)  # the budget ran out
        self._told: dict[str, bool] = dict.fromkeys(self.NAMES, False)  # ... and the host was told so
        self._decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in self.NAMES}
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def feed(self, name: str, data: bytes) -> None:
        """Bytes the command wrote on `name` (called by its pipe's reader)."""
        with self._wake:
            if self._closed or self._cut[name]:
                return
            taken = data[: self._room[name]]
            self._room[name] -= len(taken)
            if taken and self._since[name] is None:
                self._since[name] = time.monotonic()
            self._pending[name] += taken
            if len(taken) < len(data):
                self._cut[name] = True
            if b"\n" in taken or self._cut[name]:
                self._wake.notify()

    def _take(self, final: bool) -> list[dict[str, Any]]:
        """The chunks due now (all that is pending when `final`), under the lock."""
        messages = []
        now = time.monotonic()
        for name in self.NAMES:
            pending, since = self._pending[name], self._since[name]
            whole = final or self._cut[name] or (since is not None and now - since >= STREAM_WAIT)
            end = len(pending) if whole else pending.rfind(b"\n") + 1
            ending = final and not self._cut[name]  # (a character split at the end of a stream shows as the response shows it)
            text = self._decoders[name].decode(bytes(pending[:end]), final=ending) if end or ending else ""
            del pending[:end]
            self._since[name] = (now if pending else None) if end else since
            message: dict[str, Any] = {"chunk": text, "stream": name}
            if self._cut[name] and not self._told[name] and not pending:
                message["cut"] = self._told[name] = True
            if text or "cut" in message:
                messages.append(message)
        return messages

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._closed:
                    return
                if not any(b"\n" in self._pending[n] or (self._cut[n] and not self._told[n]) for n in self.NAMES):
                    self._wake.wait(STREAM_WAIT)  # (a line that came while the last chunks were sent is sent without waiting)
                if self._closed:
                    return
                messages = self._take(final=False)
            for message in messages:  # outside the lock: a slow channel does not stop the command's readers
                self._send(message)
            if messages:
                time.sleep(STREAM_GAP)

    def close(self) -> None:
        """The command has ended and its pipes are read: send what is left, then nothing more."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        with self._wake:
            messages = self._take(final=True)
        for message in messages:
            self._send(message)


_libc = ctypes.CDLL(None, use_errno=True)


class Executor:
    def __init__(self, root: str, source: str | None = None) -> None:
        self.root = os.path.realpath(root)
        self.source = source
        self.manifest: dict[str, tuple[Any, ...]] = {}  # what `stage` copied: path -> identity
        self.skipped: list[tuple[str, str]] = []  # what `stage` left alone, and why
        self.placeholders: dict[str, tuple[Any, ...]] = {}  # closed directories standing where .git and unreadable ones are
        self.abi = landlock.abi_version()
        self._rulesets: dict[tuple[Any, ...], int] = {}

    # ---- paths --------------------------------------------------------------------
    def _inside(self, real: str) -> bool:
        return real == self.root or real.startswith(self.root + os.sep)

    def resolve(self, path: str) -> tuple[str, str]:
        """(the path as spelled, made absolute; its real path), refusing any escape."""
        if not isinstance(path, str) or not path or "\x00" in path:
            raise StepError("invalid_output", f"not a usable path: {path!r}")
        spelled = os.path.normpath(path if os.path.isabs(path) else os.path.join(self.root, path))
        if not self._inside(spelled):
            raise StepError("permission_denied", f"{shown(path)} is outside the workspace")
        real = os.path.realpath(spelled)
        if not self._inside(real):
            raise StepError("permission_denied", f"{shown(path)} leads outside the workspace through a symlink")
        return spelled, real

    def relative(self, real: str) -> str:
        rel = os.path.relpath(real, self.root)
        return "." if rel == "." else shown(rel)

    def _granted(self, real: str, roots: Any, access: str) -> None:
        """Refuse a path outside the request's roots (the host checked too; this is the second look)."""
        if roots is None:
            return
        rel = os.path.relpath(real, self.root)
        for root in roots:
            root = os.path.normpath(str(root).strip("/") or ".")
            if root == "." or rel == root or rel.startswith(root + os.sep):
                return
        raise StepError("permission_denied", f"{shown(rel)} is not {'readable' if access == 'read' else 'writable'} by this step")

    # ---- ops ----------------------------------------------------------------------
    def read(self, args: dict[str, Any], max_output: int) -> tuple[Any, bool]:
        path = args.get("path", "")
        _, real = self.resolve(path)
        self._granted(real, args.get("roots"), "read")
        if os.path.isdir(real):
            raise StepError("invalid_output", f"{path} is a directory, not a file")
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise StepError("not_found", f"no such file: {path}") from None
        except PermissionError:
            raise StepError("permission_denied", f"cannot read {path}: permission denied") from None
        except OSError as error:
            raise StepError("permission_denied" if error.errno in (40,) else "not_found", f"cannot read {path}: {error.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(max_output + 1)
        truncated = len(data) > max_output
        data = data[:max_output]
        if b"\x00" in data[:8192]:
            raise StepError("invalid_output", f"{path} is a binary file")
        encoding = args.get("encoding") or "utf-8"
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as error:
            if truncated and error.start >= len(data) - 4:
                text = data[: error.start].decode(encoding)
            else:
                raise StepError("invalid_output", f"{path} is not valid UTF-8 at byte {error.start}; pass encoding=\"latin-1\" to read it anyway") from None
        except LookupError:
            raise StepError("invalid_output", f"unknown encoding {encoding!r}") from None
        if truncated:
            raise StepError("output_too_large", f"{path} is larger than the output budget of {max_output} bytes", text, True)
        return text, False

    def write(self, args: dict[str, Any], max_output: int) -> tuple[Any, bool]:
        path = args.get("path", "")
        content = args.get("content", "")
        if not isinstance(content, str):
            raise StepError("invalid_output", "the value to write is not text")
        data = content.encode("utf-8")
        if len(data) > max_output:
            raise StepError("output_too_large", f"the value is larger than the output budget of {max_output} bytes")
        spelled, real = self.resolve(path)
        self._granted(real, args.get("roots"), "write")
        if VCS in os.path.relpath(real, self.root).split(os.sep):
            raise StepError("permission_denied", f"{path} is inside a .git: Babel never changes version-control files")
        if os.path.islink(spelled):
            raise StepError("permission_denied", f"{path} is a symlink; Babel does not write through symlinks")
        if os.path.isdir(real):
            raise StepError("invalid_output", f"{path} is a directory")
        parent = os.path.dirname(real)
        try:
            os.makedirs(parent, exist_ok=True)
            if not self._inside(os.path.realpath(parent)):
                raise StepError("permission_denied", f"{path} leads outside the workspace")
            if args.get("append") and os.path.exists(real):
                with open(real, "rb") as handle:
                    data = handle.read() + data
            tmp = os.path.join(parent, f".babel-write-{os.urandom(8).hex()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, real)  # atomic: a reader sees the old file or the new one, never half
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        except StepError:
            raise
        except OSError as error:
            if error.errno == 30:
                raise StepError("permission_denied", f"cannot write {path}: the workspace is read-only (grant writes with --allow-write)") from None
            if error.errno == 13:
                raise StepError("permission_denied", f"cannot write {path}: permission denied") from None
            raise StepError("not_found" if error.errno == 2 else "permission_denied", f"cannot write {path}: {error.strerror}") from None
        return self.relative(real), False

    def grep(self, args: dict[str, Any], max_output: int) -> tuple[Any, bool]:
        pattern = args.get("pattern", "")
        flags = re.IGNORECASE if args.get("ignore_case") else 0
        try:
            regex = re.compile(re.escape(pattern) if args.get("fixed") else pattern, flags)
        except re.error as error:
            raise StepError("invalid_output", f"bad regular expression {pattern!r}: {error}") from None
        invert = bool(args.get("invert"))
        budget = [max_output]
        truncated = False

        def keep(text: str) -> bool:
            return bool(regex.search(text)) != invert

        found: list[Any] = []
        if args.get("input") is not None:
            for line in args["input"]:
                if keep(str(line)):
                    budget[0] -= len(str(line)) + 1
                    if budget[0] < 0:
                        truncated = True
                        break
                    found.append(str(line))
        else:
            for path in args.get("paths") or ["."]:
                spelled, real = self.resolve(path)
                if not os.path.exists(spelled):
                    raise StepError("not_found", f"no such file or directory: {path}")
                self._granted(real, args.get("roots"), "read")
                for file in self._files(real):
                    for number, line in self._lines(file):
                        if keep(line):
                            record = {"path": self.relative(file), "line": number, "text": line}
                            budget[0] -= len(line) + len(record["path"]) + 12
                            if budget[0] < 0:
                                truncated = True
                                break
                            found.append(record)
                    if truncated:
                        break
        if truncated:
            raise StepError("output_too_large", f"the matches pass the output budget of {max_output} bytes", found, True)
        if not found and not args.get("allow_empty"):
            raise StepError("empty_match", f"nothing matches {pattern!r}", [])
        return found, False

    def _files(self, real: str) -> list[str]:
        """The files beneath real in os.walk's order (a directory's files, then its
        subdirectories), iteratively, never following a link; unreadable directories are
        skipped, as grep -r does."""
        if os.path.isfile(real):
            return [real]
        files: list[str] = []
        stack = [real]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                continue
            files += [e.path for e in entries if e.is_file(follow_symlinks=False)]
            stack += [e.path for e in reversed(entries) if e.is_dir(follow_symlinks=False) and e.name not in (VCS, "node_modules", "__pycache__")]
        return files

    def _lines(self, file: str) -> list[tuple[int, str]]:
        try:
            with open(file, "rb") as handle:
                data = handle.read(8 * 1024 * 1024)
        except OSError:
            return []
        if b"\x00" in data[:8192]:
            return []
        return list(enumerate(data.decode("utf-8", errors="replace").splitlines(), 1))

    # ---- exec, under the kernel's rules ---------------------------------------------
    def _ruleset(self, rules: Any) -> int:
        """The Landlock ruleset for a step's rules, built once per distinct rules."""
        if not isinstance(rules, dict):
            raise StepError("permission_denied", "the request names no rules for the kernel; the executor runs nothing without them")
        read = tuple(str(r) for r in rules.get("read") or ())
        write = tuple(str(r) for r in rules.get("write") or ())
        programs = tuple(str(p) for p in rules.get("exec") or ())
        key = (read, write, programs)
        if key not in self._rulesets:
            for root in write:  # so that a new root's rule sits on its own parent, not on the whole workspace
                parent = os.path.dirname(os.path.normpath(os.path.join(self.root, root.strip("/") or ".")))
                if self._inside(parent):
                    try:
                        os.makedirs(parent, exist_ok=True)
                    except OSError:
                        pass
            try:
                kernel = landlock.rules_for(self.root, read, write, programs)
                self._rulesets[key] = landlock.build_ruleset(kernel, self.abi)
            except landlock.LandlockError as error:
                raise StepError("sandbox_error", str(error)) from None
        return self._rulesets[key]

    def exec(self, args: dict[str, Any], timeout: float, max_output: int, send: Send | None = None) -> tuple[Any, bool]:
        """Run a command under the step's kernel rules; with `send`, its output is also
        streamed to the host as it comes (Streamer), the value the same either way."""
        cmd, argv = args.get("cmd"), args.get("argv")
        command = ["/bin/sh", "-c", cmd] if cmd else argv
        if not command:
            raise StepError("invalid_output", "exec needs cmd or argv")
        ruleset = self._ruleset(args.get("rules"))
        stdin = args.get("stdin")
        env = dict(EXEC_ENV)
        # a skill's inputs reach its commands as variables: data, never part of the command line
        for name, value in (args.get("env") or {}).items():
            if (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)) and name not in EXEC_ENV and not RISKY_VARIABLES.fullmatch(str(name))
                    and isinstance(value, str)):
                env[name] = value
        file_limit = int(args.get("max_file_bytes") or 1 << 30)
        # (made before the command starts, so its thread is not one the command's processes can take from the pid budget)
        streamer = Streamer(send, min(max_output, STREAM_MAX)) if send is not None else None
        try:
            try:
                proc = subprocess.Popen(
                    command, cwd=self.root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_confine(ruleset, file_limit),
                )
            except FileNotFoundError:
                raise StepError("not_found", f"command not found: {command[0]}") from None
            except PermissionError:
                raise StepError("permission_denied", f"cannot run {command[0]}: permission denied (not on the step's allow-list?)") from None
            except subprocess.SubprocessError as error:  # the kernel rules could not be applied: run nothing
                raise StepError("sandbox_error", f"cannot confine the command: {error}") from None
        except BaseException:
            if streamer is not None:
                streamer.close()
            raise
        outputs: dict[str, tuple[bytes, int]] = {}

        def drain(name: str, stream: Any) -> None:
            kept, total = bytearray(), 0
            while True:
                chunk = stream.read1(65536)  # what the pipe holds now, so it can be streamed
                if not chunk:
                    break
                if streamer is not None:
                    streamer.feed(name, chunk)
                total += len(chunk)
                if len(kept) <= max_output:
                    kept += chunk[: max_output + 1 - len(kept)]
            outputs[name] = (bytes(kept), total)

        readers = [threading.Thread(target=drain, args=(n, s), daemon=True) for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
        feeder = threading.Thread(target=_feed, args=(proc, (stdin or "").encode("utf-8", errors="replace")), daemon=True)
        try:
            for thread in (*readers, feeder):
                thread.start()
        except RuntimeError as error:  # no thread to be had: the command's processes took the pid budget first
            self._abandon(proc, readers, streamer)
            raise StepError("sandbox_error", f"the command's processes took the sandbox's process limit before its output could be read "
                                             f"({error}); they were stopped") from None
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        if timed_out:
            _kill_group(proc.pid)
            proc.wait()
        # whatever the command left running (in the background, in a new session) ends
        # with it, counted; then its pipes close and all it printed until then is read
        left = self.kill_strays(proc.pid)
        for reader in readers:
            reader.join(timeout=5)
        if streamer is not None:
            streamer.close()  # every chunk goes before the response
        out, out_total = outputs.get("stdout", (b"", 0))
        err, err_total = outputs.get("stderr", (b"", 0))
        value = {"stdout": out[:max_output].decode("utf-8", errors="replace"), "stderr": err[:max_output].decode("utf-8", errors="replace"),
                 "exit_code": proc.returncode}
        if left:
            value["background_killed"] = left
        if timed_out:
            raise StepError("timeout", f"the command ran past {timeout:g} s and was killed", value)
        if out_total > max_output or err_total > max_output:
            raise StepError("output_too_large", f"the command printed {max(out_total, err_total)} bytes; the budget is {max_output}", value, True)
        code = proc.returncode
        first = (value["stderr"].strip().splitlines() or [""])[0][:300]
        if code == 127:
            raise StepError("not_found", f"command not found: {first or command[0]}", value)
        if code == 126:
            raise StepError("permission_denied", f"cannot run the command: {first}", value)
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            why = " (out of memory?)" if code == -9 else ""
            why = " (a file passed the size limit)" if code == -signal.SIGXFSZ else why
            raise StepError("nonzero_exit", f"the command was killed by {name}{why}", value)
        if code == 1 and out_total > 0:
            # status 1 with an answer on stdout is how grep -c says "0", diff says "these
            # differ" and find says "one directory was unreadable": the output is the result
            return value, False
        if code != 0:
            raise StepError("nonzero_exit", f"exit status {code}" + (f": {first}" if first else ""), value)
        return value, False

    def _abandon(self, proc: subprocess.Popen[bytes], readers: list[threading.Thread], streamer: Streamer | None) -> None:
        """A command whose output cannot be read (its readers could not all start): it and
        all it left are killed, the readers that did start finish, its pipes are closed."""
        self.kill_strays(proc.pid)
        with contextlib.suppress(ChildProcessError, OSError, subprocess.TimeoutExpired):
            proc.wait(timeout=STRAYS_WAIT)
        for reader in readers:
            if reader.ident is not None:
                reader.join(timeout=5)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        if streamer is not None:
            streamer.close()

    def kill_strays(self, group: int | None = None) -> int:
        """Kill every process descended from the executor (a command's leftovers: orphans
        come back to it, their subreaper) and reap them; how many there were. `group` is
        the command's process group, killed at once first: the kernel adds no process to a
        group while it signals it, so a fork bomb in it cannot outrun the kill. The sweep
        goes on until none is left (for at most STRAYS_WAIT seconds), so the next command
        finds the process budget free."""
        killed: set[int] = set(_descendants(os.getpid()))
        if group is not None:
            _kill_group(group)
        deadline, pause = time.monotonic() + STRAYS_WAIT, 0.002
        while True:
            strays = _descendants(os.getpid())
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                except (ProcessLookupError, PermissionError):
                    pass
            _reap()
            if not strays or time.monotonic() > deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        _reap()
        return len(killed)

    # ---- the staged copy of a run that writes ---------------------------------------
    def stage(self, args: dict[str, Any]) -> tuple[Any, bool]:
        """Fill the (tmpfs) workspace from the read-only source: regular files (holes kept),
        directories and symlinks (as links); FIFOs, sockets, devices, unreadable files and
        .git are left out and listed. Bounded by max_bytes and max_files."""
        if not self.source:
            raise StepError("invalid_output", "this sandbox has no source to stage from")
        max_bytes, max_files = int(args.get("max_bytes") or 1 << 30), int(args.get("max_files") or 100_000)
        total = count = 0
        modes: list[tuple[str, int]] = []

        def prune(rel: str, entry: os.DirEntry[str]) -> bool:
            return entry.name == VCS or not os.access(entry.path, os.R_OK | os.X_OK)

        try:
            entries = list(walk(self.source, prune, newest_first=_lists_newest_first(self.root)))
        except OSError as error:
            raise StepError("permission_denied", f"cannot read {shown(str(error.filename))} in the workspace: {error.strerror}") from None
        for rel, entry in entries:
            target = os.path.join(self.root, rel)
            st = entry.stat(follow_symlinks=False)
            mode = stat.S_IMODE(st.st_mode) & 0o777  # never setuid, setgid or sticky
            if entry.name == VCS:
                self._close(rel, target, "version control")
                continue
            count += 1
            if count > max_files:
                raise StepError("output_too_large", f"the workspace has more than {max_files} files, the staged copy's limit (BABEL_STAGE_FILES)")
            if stat.S_ISDIR(st.st_mode):
                if not os.access(entry.path, os.R_OK | os.X_OK):
                    self._close(rel, target, "unreadable directory")
                    continue
                os.mkdir(target, 0o700)
                modes.append((target, mode))
                continue
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(entry.path), target)
            elif stat.S_ISREG(st.st_mode):
                try:
                    src = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
                except OSError:
                    self.skipped.append((rel, "unreadable file"))
                    continue
                try:
                    total += min(st.st_size, st.st_blocks * 512)
                    if total > max_bytes:
                        raise StepError("output_too_large", f"the workspace holds more than {max_bytes >> 20} MiB, the staged copy's limit (BABEL_STAGE_MB)")
                    dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
                    try:
                        copy_sparse(src, dst, st.st_size)
                        os.fchmod(dst, mode)
                    except OSError as error:
                        raise StepError("output_too_large", f"the staged copy is full at {shown(rel)} ({error.strerror})") from None
                    finally:
                        os.close(dst)
                finally:
                    os.close(src)
            else:
                self.skipped.append((rel, "not a regular file, directory or link"))
                continue
            self.manifest[rel] = _identity(target)
        for path, mode in reversed(modes):
            os.chmod(path, mode)
        return {"files": len(self.manifest), "bytes": total, "skipped": [[shown(p), why] for p, why in self.skipped]}, False

    def _close(self, rel: str, target: str, why: str) -> None:
        """Leave rel out of the copy, with an empty closed directory in its place: a command
        that writes there is refused on the spot, one that opens it up at the commit."""
        self.skipped.append((rel, why))
        os.mkdir(target, 0)
        self.placeholders[rel] = _identity(target)

    def changes(self) -> tuple[Any, bool]:
        """What the run changed in the staged copy, as data: written files and links (with
        their data regions) and deleted paths. An unreadable directory is an error, never
        a deletion."""
        if not self.source:
            raise StepError("invalid_output", "this sandbox has no staged copy")
        found: dict[str, os.DirEntry[str]] = {}
        changed: list[dict[str, Any]] = []

        def closed(rel: str, entry: os.DirEntry[str]) -> bool:
            return entry.name == VCS or rel in self.placeholders

        try:
            for rel, entry in walk(self.root, closed):
                if closed(rel, entry):
                    if self.placeholders.get(rel) != _identity(entry.path):  # made, opened up or replaced by the run
                        changed.append({"path": rel, "kind": "file", "mode": 0, "size": 0})
                    continue
                found[rel] = entry
        except OSError as error:
            raise StepError("permission_denied", f"{shown(str(error.filename))} cannot be read in the staged copy ({error.strerror}); nothing is committed") from None
        for rel, entry in sorted(found.items()):
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                continue
            if self.manifest.get(rel) == _identity(entry.path) or self._same_as_source(rel, entry.path, st):
                continue
            record: dict[str, Any] = {"path": rel, "mode": stat.S_IMODE(st.st_mode), "size": st.st_size}
            if stat.S_ISLNK(st.st_mode):
                record.update(kind="symlink", target=os.readlink(entry.path))
            elif stat.S_ISREG(st.st_mode):
                fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
                try:
                    record.update(kind="file", extents=data_extents(fd, st.st_size))
                finally:
                    os.close(fd)
            else:
                record.update(kind="special")
            changed.append(record)
        for rel in sorted(self.manifest):
            if rel not in found:
                changed.append({"path": rel, "kind": "delete"})
        for rel in sorted(self.placeholders):
            if not os.path.lexists(os.path.join(self.root, rel)):
                changed.append({"path": rel, "kind": "delete"})
        return {"changes": changed, "skipped": [[p, why] for p, why in self.skipped]}, False

    def _same_as_source(self, rel: str, path: str, st: os.stat_result) -> bool:
        """A file rewritten with the very bytes and mode it had (sed -i that changed nothing)."""
        if rel not in self.manifest or not stat.S_ISREG(st.st_mode) or not self.source:
            return False
        try:
            before = os.stat(os.path.join(self.source, rel), follow_symlinks=False)
            if not stat.S_ISREG(before.st_mode) or before.st_size != st.st_size or stat.S_IMODE(before.st_mode) & 0o777 != stat.S_IMODE(st.st_mode):
                return False
            with open(os.path.join(self.source, rel), "rb") as a, open(path, "rb") as b:
                while True:
                    x, y = a.read(1 << 20), b.read(1 << 20)
                    if x != y:
                        return False
                    if not x:
                        return True
        except OSError:
            return False

    def fetch(self, args: dict[str, Any]) -> tuple[Any, bool]:
        """Bytes of a staged file, for the host's commit."""
        path, offset, length = args.get("path"), int(args.get("offset") or 0), min(int(args.get("length") or 0), FETCH_MAX)
        spelled, real = self.resolve(str(path))
        try:
            fd = os.open(spelled, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            raise StepError("not_found", f"cannot read {shown(str(path))} in the staged copy: {error.strerror}") from None
        try:
            data = os.pread(fd, length, offset)
        finally:
            os.close(fd)
        return base64.b64encode(data).decode("ascii"), False

    # ---- dispatch -----------------------------------------------------------------
    def handle(self, request: dict[str, Any], send: Send | None = None) -> dict[str, Any]:
        """One request's response. `send` writes a message to the host: given, and asked
        for by the request (`"stream": true`), an exec's output is streamed through it
        before the response, each chunk with the request's id."""
        started = time.perf_counter()
        op = request.get("op")
        args = request.get("args") or {}
        try:
            timeout = float(request.get("timeout") or 30.0)
            max_output = int(request.get("max_output") or 1_000_000)
            if not isinstance(args, dict):
                raise StepError("invalid_output", "the request's args are not a mapping")
            perform = WIRE_OPS.get(op) if isinstance(op, str) else None
            if perform is None:
                raise StepError("invalid_output", f"the executor has no op {op!r}")
            ident = request.get("id")
            stream = (lambda message: send({"id": ident, **message})) if send is not None and request.get("stream") is True else None
            value, truncated = perform(self, args, timeout, max_output, stream)
            response = {"status": "ok", "value": value, "truncated": truncated}
        except StepError as error:
            response = {"status": "failed", "failure": error.failure, "message": error.message, "value": error.value, "truncated": error.truncated}
        except Exception as error:  # the executor must answer whatever happens
            response = {"status": "failed", "failure": "sandbox_error", "message": f"{type(error).__name__}: {error}", "value": None, "truncated": False}
        response["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        response["id"] = request.get("id")
        return response



#: The executor's dispatch: one entry per wire op, (executor, args, timeout, max_output,
#: send) -> (value, truncated); `send` is the request's chunk channel when it asked to be
#: streamed (only exec streams), else None. The ISA's core opcodes map onto read, write, grep and exec (the
#: host's handler table in babel/verify/ops names the wire op each sends; a test keeps
#: the two in step); the others serve the host: ping, and stage, changes and fetch for
#: the staged copy of a run that writes.
WIRE_OPS: dict[str, Callable[[Executor, dict[str, Any], float, int, Send | None], tuple[Any, bool]]] = {
    "ping": lambda ex, args, timeout, max_output, send: ({"pong": True, "landlock": ex.abi}, False),
    "read": lambda ex, args, timeout, max_output, send: ex.read(args, max_output),
    "write": lambda ex, args, timeout, max_output, send: ex.write(args, max_output),
    "grep": lambda ex, args, timeout, max_output, send: ex.grep(args, max_output),
    "exec": lambda ex, args, timeout, max_output, send: ex.exec(args, timeout, max_output, send),
    "stage": lambda ex, args, timeout, max_output, send: ex.stage(args),
    "changes": lambda ex, args, timeout, max_output, send: ex.changes(),
    "fetch": lambda ex, args, timeout, max_output, send: ex.fetch(args),
}

def _lists_newest_first(directory: str) -> bool:
    """Whether this file system lists a directory's entries newest first (tmpfs does, here)."""
    probe = os.path.join(directory, f".babel-order-{os.urandom(4).hex()}")
    os.mkdir(probe, 0o700)
    try:
        for name in ("first", "second"):
            os.close(os.open(os.path.join(probe, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return os.listdir(probe) == ["second", "first"]
    finally:
        for name in ("first", "second"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(probe, name))
        os.rmdir(probe)


def _identity(path: str) -> tuple[Any, ...]:
    """What changes whenever a file's content, mode or kind does (ctime cannot be set back)."""
    st = os.stat(path, follow_symlinks=False)
    return (st.st_ino, st.st_ctime_ns, st.st_mtime_ns, st.st_size, st.st_mode)


def _descendants(ancestor: int) -> set[int]:
    """The living (not zombie) processes beneath `ancestor`, from /proc's parent links."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != b"Z":
            parents[int(name)] = int(fields[1])
    found: set[int] = set()
    for pid in parents:
        chain, current = [], pid
        while current in parents and current not in found and current != ancestor and len(chain) < 1000:
            chain.append(current)
            current = parents[current]
        if current == ancestor or current in found:
            found.update(chain)
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _confine(ruleset: int, file_limit: int) -> Any:
    """The child's last steps before exec: the OOM killer's first choice, a file size
    limit, and the step's Landlock ruleset (for good, inherited by all it starts)."""

    def setup() -> None:
        try:
            with open("/proc/self/oom_score_adj", "w") as handle:
                handle.write("1000")
        except OSError:
            pass
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))
        landlock.restrict_self(ruleset)

    return setup


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    try:
        if data and proc.stdin:
            proc.stdin.write(data)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            if proc.stdin:
                proc.stdin.close()
        except OSError:
            pass


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _seal() -> None:
    """Not dumpable (so a step's processes, same uid, cannot open our /proc entries: our
    channel, our memory), and the subreaper of whatever our children leave behind."""
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else "/workspace"
    source = sys.argv[2] if len(sys.argv) > 2 else None
    _seal()
    executor = Executor(root, source)
    out = sys.stdout
    lock = threading.Lock()  # a streamed command's chunks are written by another thread

    def send(message: dict[str, Any]) -> None:
        # ASCII on the wire: a file name that is not UTF-8 travels as an escape, never breaks the line
        line = json.dumps(message, ensure_ascii=True) + "\n"
        with lock:
            out.write(line)
            out.flush()

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
        except (ValueError, RecursionError) as error:
            response = {"status": "failed", "failure": "sandbox_error", "message": f"bad request: {error}", "value": None, "id": None}
        else:
            response = executor.handle(request, send)
        send(response)


if __name__ == "__main__":
    main()
