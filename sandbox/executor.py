"""Babel's executor: performs plan steps inside the sandbox, one JSON line at a time.

It is the only code that touches the workspace. The host sends one request per line
on stdin and reads one response per line on stdout (protocol: docs/architecture.md).
It runs as the container's unprivileged user, in a container with no network, a
read-only root and only the workspace mounted; on top of that it refuses any path that
leaves the workspace by `..`, an absolute path, or a symlink, so a symlink planted in
the workspace can never be used to read or write outside it. It is standalone
(standard library only) and importable, so its logic is tested in-process too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any

EXEC_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp"}


class StepError(Exception):
    def __init__(self, failure: str, message: str, value: Any = None, truncated: bool = False) -> None:
        super().__init__(message)
        self.failure, self.message, self.value, self.truncated = failure, message, value, truncated


class Executor:
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    # ---- paths --------------------------------------------------------------------
    def _inside(self, real: str) -> bool:
        return real == self.root or real.startswith(self.root + os.sep)

    def resolve(self, path: str) -> tuple[str, str]:
        """(the path as spelled, made absolute; its real path), refusing any escape."""
        if not isinstance(path, str) or not path or "\x00" in path:
            raise StepError("invalid_output", f"not a usable path: {path!r}")
        spelled = os.path.normpath(path if os.path.isabs(path) else os.path.join(self.root, path))
        if not self._inside(spelled):
            raise StepError("permission_denied", f"{path} is outside the workspace")
        real = os.path.realpath(spelled)
        if not self._inside(real):
            raise StepError("permission_denied", f"{path} leads outside the workspace through a symlink")
        return spelled, real

    def relative(self, real: str) -> str:
        rel = os.path.relpath(real, self.root)
        return "." if rel == "." else rel

    # ---- ops ----------------------------------------------------------------------
    def read(self, args: dict[str, Any], max_output: int) -> tuple[Any, bool]:
        path = args.get("path", "")
        _, real = self.resolve(path)
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
            tmp = os.path.join(parent, f".babel-write-{os.getpid()}-{time.monotonic_ns()}")
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
        if os.path.isfile(real):
            return [real]
        files: list[str] = []
        for dirpath, dirnames, filenames in os.walk(real, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in (".git", "node_modules", "__pycache__"))
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if not os.path.islink(full) and os.path.isfile(full):
                    files.append(full)
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

    def exec(self, args: dict[str, Any], timeout: float, max_output: int) -> tuple[Any, bool]:
        cmd, argv = args.get("cmd"), args.get("argv")
        command = ["/bin/sh", "-c", cmd] if cmd else argv
        if not command:
            raise StepError("invalid_output", "exec needs cmd or argv")
        stdin = args.get("stdin")
        env = dict(EXEC_ENV)
        # a skill's inputs reach its commands as variables: data, never part of the command line
        for name, value in (args.get("env") or {}).items():
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)) and name not in EXEC_ENV and isinstance(value, str):
                env[name] = value
        try:
            proc = subprocess.Popen(
                command, cwd=self.root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_doom_self,
            )
        except FileNotFoundError:
            raise StepError("not_found", f"command not found: {command[0]}") from None
        except PermissionError:
            raise StepError("permission_denied", f"cannot run {command[0]}: permission denied") from None
        outputs: dict[str, tuple[bytes, int]] = {}

        def drain(name: str, stream: Any) -> None:
            kept, total = bytearray(), 0
            while True:
                chunk = stream.read(65536)
                if not chunk:
                    break
                total += len(chunk)
                if len(kept) <= max_output:
                    kept += chunk[: max_output + 1 - len(kept)]
            outputs[name] = (bytes(kept), total)

        readers = [threading.Thread(target=drain, args=(n, s), daemon=True) for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
        for reader in readers:
            reader.start()
        feeder = threading.Thread(target=_feed, args=(proc, (stdin or "").encode("utf-8", errors="replace")), daemon=True)
        feeder.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        _kill_group(proc.pid)
        if timed_out:
            proc.wait()
        for reader in readers:
            reader.join(timeout=2)
        out, out_total = outputs.get("stdout", (b"", 0))
        err, err_total = outputs.get("stderr", (b"", 0))
        value = {"stdout": out[:max_output].decode("utf-8", errors="replace"), "stderr": err[:max_output].decode("utf-8", errors="replace"),
                 "exit_code": proc.returncode}
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
            raise StepError("nonzero_exit", f"the command was killed by {name}{why}", value)
        if code == 1 and out_total > 0:
            # status 1 with an answer on stdout is how grep -c says "0", diff says "these
            # differ" and find says "one directory was unreadable": the output is the result
            return value, False
        if code != 0:
            raise StepError("nonzero_exit", f"exit status {code}" + (f": {first}" if first else ""), value)
        return value, False

    # ---- dispatch -----------------------------------------------------------------
    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        op = request.get("op")
        args = request.get("args") or {}
        timeout = float(request.get("timeout") or 30.0)
        max_output = int(request.get("max_output") or 1_000_000)
        try:
            if op == "ping":
                value, truncated = "pong", False
            elif op == "read":
                value, truncated = self.read(args, max_output)
            elif op == "write":
                value, truncated = self.write(args, max_output)
            elif op == "grep":
                value, truncated = self.grep(args, max_output)
            elif op == "exec":
                value, truncated = self.exec(args, timeout, max_output)
            else:
                raise StepError("invalid_output", f"the executor has no op {op!r}")
            response = {"status": "ok", "value": value, "truncated": truncated}
        except StepError as error:
            response = {"status": "failed", "failure": error.failure, "message": error.message, "value": error.value, "truncated": error.truncated}
        except Exception as error:  # the executor must answer whatever happens
            response = {"status": "failed", "failure": "sandbox_error", "message": f"{type(error).__name__}: {error}", "value": None, "truncated": False}
        response["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return response


def _doom_self() -> None:
    """In the child: be the OOM killer's first choice, so a memory bomb kills the step, not us."""
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass


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


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else "/workspace"
    executor = Executor(root)
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError as error:
            response = {"status": "failed", "failure": "sandbox_error", "message": f"bad request: {error}", "value": None}
        else:
            response = executor.handle(request)
        out.write(json.dumps(response, ensure_ascii=False) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
