"""The sandbox: one hardened Docker container per run, one executor inside it.

The imperative shell around `sandbox/executor.py`. A run gets a fresh container from
the image built locally from sandbox/ (a Debian rootfs made by debootstrap and
imported, plus the executor; no registry is ever contacted), started with the
security profile in sandbox/profile.json: no network, read-only root, all
capabilities dropped, no new privileges, pid / memory / CPU limits, a tmpfs /tmp that
cannot execute, an init process, a non-root user, no host environment, and the
workspace as its only mount (read-only unless the run may write). The executor runs as
one long-lived process in it, so a step costs a line of JSON each way instead of a
`docker exec` (measured in bench/RESULTS.md). A command's output can be streamed:
`call(request, on_chunk)` hands over the chunks the executor sends before its response.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel.lang import data_dir

if TYPE_CHECKING:
    from babel.sandbox.workspace import Change

Progress = Callable[[str], None]
#: Hears a streamed command's output as it comes: (stream "stdout" or "stderr", text, cut:
#: the last chunk of a stream the executor stopped streaming at its budget).
ChunkSink = Callable[[str, str, bool], None]
IMAGE = "babel-sandbox"
BASE_IMAGE = "babel-sandbox-base"
LABEL = "babel.sandbox"


class SandboxError(Exception):
    """The sandbox cannot be used; the message says why and what to do."""


SOURCE = "/babel/source"  # where a run that writes sees the real workspace, read-only; its steps cannot


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise SandboxError(f"{name}={raw!r} is not a positive whole number")
    return int(raw)


@dataclass(frozen=True)
class SandboxLimits:
    pids: int = 128
    memory_mb: int = 512
    cpus: float = 1.0
    tmp_size: str = "64m"
    lifetime_s: int = 3600  # the container's own deadline, in case its owner is killed
    stage_mb: int = 512  # a run that writes works on a tmpfs copy of at most this size...
    stage_files: int = 100_000  # ...and this many files and directories
    file_mb: int = 512  # no file a command writes may pass this size (RLIMIT_FSIZE)

    @classmethod
    def from_env(cls) -> SandboxLimits:
        """The defaults, with BABEL_STAGE_MB and BABEL_STAGE_FILES where they are set."""
        stage_mb = _env_int("BABEL_STAGE_MB", cls.stage_mb)
        return cls(stage_mb=stage_mb, stage_files=_env_int("BABEL_STAGE_FILES", cls.stage_files), file_mb=min(cls.file_mb, stage_mb))


@dataclass(frozen=True)
class BackendStatus:
    name: str
    ok: bool
    detail: str


def _client() -> Any:
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except DockerException as error:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise SandboxError(
            f"no Docker engine answers at {host} ({_first_line(error)}): start it (`sudo systemctl start docker`, or "
            "`sudo dockerd &`), or install it (`sudo apt-get install docker.io`); `babel doctor` checks again"
        ) from None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def _profile() -> dict[str, Any]:
    raw = json.loads((data_dir("sandbox") / "profile.json").read_text(encoding="utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def _hash(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


#: the files of sandbox/ that the final image holds (the executor and its kernel rules)
IMAGE_FILES = ("Dockerfile", "executor.py", "landlock.py")


def image_tags() -> tuple[str, str]:
    """(base tag, final tag): each a hash of what it is built from, so a change rebuilds only it."""
    box = data_dir("sandbox")
    base = f"{BASE_IMAGE}:{_hash((box / 'build-rootfs.sh').read_bytes())}"
    final = f"{IMAGE}:{_hash(base.encode(), *((box / name).read_bytes() for name in IMAGE_FILES))}"
    return base, final


def _has_image(client: Any, tag: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(tag)
        return True
    except ImageNotFound:
        return False


def build_image(force: bool = False, progress: Progress | None = None) -> str:
    """Build (or reuse) the sandbox image; returns its tag."""
    say = progress or (lambda message: None)
    client = _client()
    base, final = image_tags()
    if not force and _has_image(client, final):
        return final
    if force or not _has_image(client, base):
        _build_base(client, base, say)
    say(f"building {final} (the executor on top of {base})")
    box = data_dir("sandbox")
    with tempfile.TemporaryDirectory(prefix="babel-image-") as context:
        for name in IMAGE_FILES:
            shutil.copy(box / name, Path(context) / name)
        try:
            client.images.build(path=context, tag=final, buildargs={"BASE": base}, pull=False, rm=True, forcerm=True)
        except Exception as error:  # docker's BuildError / APIError: say what failed
            raise SandboxError(f"building the sandbox image failed: {_first_line(error)}") from None
    return final


def _build_base(client: Any, tag: str, say: Progress) -> None:
    if os.geteuid() != 0:
        raise SandboxError("building the sandbox's root filesystem needs root once (debootstrap): run `sudo babel sandbox build`")
    script = data_dir("sandbox") / "build-rootfs.sh"
    work = Path(tempfile.mkdtemp(prefix="babel-rootfs-", dir=os.environ.get("BABEL_BUILD_DIR", "/var/tmp")))
    rootfs, tarball = work / "rootfs", work / "rootfs.tar"
    try:
        say("building the sandbox root filesystem from Debian packages (debootstrap; a few minutes, once)")
        proc = subprocess.Popen(["sh", str(script), str(rootfs)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-20:]
            if line.startswith("I: Retrieving") or line.startswith("I: Installing") or line.startswith("I: Configuring"):
                continue
            if line.startswith("I: "):
                say(line[3:].strip())
        if proc.wait() != 0:
            raise SandboxError("debootstrap failed:\n" + "\n".join(tail))
        say("importing the root filesystem as a local image")
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."], check=True)
        repository, version = tag.split(":")
        client.api.import_image_from_file(str(tarball), repository=repository, tag=version)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_image(progress: Progress | None = None) -> str:
    return build_image(force=False, progress=progress)


def reap_orphans(client: Any) -> int:
    """Remove sandbox containers whose owning process is gone (a killed run leaves one)."""
    removed = 0
    # the low-level listing: `containers.list()` inspects each container in turn and raises
    # if another process removes one of them meanwhile (concurrent runs do, all the time)
    for container in client.api.containers(all=True, filters={"label": LABEL}):
        owner = (container.get("Labels") or {}).get("babel.owner")
        host, _, pid = (owner or "").partition(":")
        if host == socket.gethostname() and pid.isdigit() and _alive(int(pid)):
            continue
        try:
            client.api.remove_container(container["Id"], force=True)
            removed += 1
        except Exception:  # already gone, or being removed by its owner
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@dataclass
class DockerSandbox:
    """A started container over one workspace; `call` performs one executor request."""

    workspace: Path
    mount_at: str = "/workspace"
    writable: bool = False  # True: the steps work on a bounded tmpfs copy, read back by change_set()
    scratch: bool = False  # True: the directory itself is mounted writable (Babel's own temporary fixtures only, never a user's)
    limits: SandboxLimits = field(default_factory=SandboxLimits.from_env)
    progress: Progress | None = None
    _container: Any = None
    _sock: Any = None
    _buffer: bytes = b""
    _stderr: bytes = b""
    _dead: str | None = None
    user: str = ""
    landlock: int = 0  # the kernel's Landlock ABI, as the executor found it

    def __enter__(self) -> DockerSandbox:
        if self._container is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        from docker.types import Mount

        workspace = Path(self.workspace).resolve()
        if not workspace.is_dir():
            raise SandboxError(f"the workspace {workspace} is not a directory")
        client = _client()
        reap_orphans(client)
        image = ensure_image(self.progress)
        st = workspace.stat()
        uid, gid = (st.st_uid, st.st_gid) if st.st_uid != 0 else (65534, 65534)  # never root
        self.user = f"{uid}:{gid}"
        limits = self.limits
        memory = limits.memory_mb + (limits.stage_mb if self.writable and not self.scratch else 0)  # a tmpfs's pages count as the container's memory
        tmpfs = {"/tmp": f"rw,noexec,nosuid,nodev,size={limits.tmp_size}"}
        staged = self.writable and not self.scratch
        command = ["python3", "-u", "/opt/babel/executor.py", self.mount_at, *([SOURCE] if staged else [])]
        if staged:
            tmpfs[self.mount_at] = (f"rw,noexec,nosuid,nodev,size={limits.stage_mb}m,nr_inodes={limits.stage_files + 64},"
                                    f"uid={uid},gid={gid},mode=0755")
            mounts = [Mount(target=SOURCE, source=str(workspace), type="bind", read_only=True)]
        else:  # read-only, or (scratch: Babel's own fixtures) writable in place
            mounts = [Mount(target=self.mount_at, source=str(workspace), type="bind", read_only=not self.scratch)]
        profile = _profile()
        profile.update(pids_limit=limits.pids, mem_limit=f"{memory}m", memswap_limit=f"{memory}m", nano_cpus=int(limits.cpus * 1e9), tmpfs=tmpfs)
        try:
            self._container = client.containers.run(
                image, command=["sleep", str(limits.lifetime_s)], detach=True, user=self.user, working_dir="/",
                mounts=mounts, labels={LABEL: "1", "babel.owner": f"{socket.gethostname()}:{os.getpid()}"}, hostname="sandbox",
                **profile,
            )
            exec_id = client.api.exec_create(
                self._container.id, command, stdin=True, stdout=True,
                stderr=True, user=self.user, workdir="/", environment={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            )["Id"]
            sock = client.api.exec_start(exec_id, socket=True)
        except Exception as error:
            self.close()
            raise SandboxError(f"cannot start the sandbox: {_first_line(error)}") from None
        self._sock = getattr(sock, "_sock", sock)
        self._client = client
        response = self.call({"op": "ping", "args": {}, "timeout": 10})
        if response.get("status") != "ok":
            message = response.get("message")
            self.close()
            raise SandboxError(f"the sandbox's executor does not answer: {message}")
        self.landlock = int((response.get("value") or {}).get("landlock") or 0)
        if self.landlock < 1:
            self.close()
            raise SandboxError("this kernel has no Landlock (or it is disabled), which Babel's sandbox needs to enforce the exec "
                               "allow-list and the read and write roots; Babel refuses to run with weaker guarantees (docs/sandbox.md)")
        if staged:
            answer = self.call({"op": "stage", "args": {"max_bytes": limits.stage_mb << 20, "max_files": limits.stage_files}, "timeout": 600})
            if answer.get("status") != "ok":
                self.close()
                raise SandboxError(f"cannot stage a copy of {workspace} for a run that writes: {answer.get('message')}")

    # ---- the wire ---------------------------------------------------------------
    def _read_line(self, deadline: float) -> bytes | None:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            header = self._recv_exact(8)
            if header is None:
                return None
            kind, size = header[0], struct.unpack(">I", header[4:])[0]
            payload = self._recv_exact(size) if size else b""
            if payload is None:
                return None
            if kind == 2:
                self._stderr = (self._stderr + payload)[-4000:]
            else:
                self._buffer += payload
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _recv_exact(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def call(self, request: dict[str, Any], on_chunk: ChunkSink | None = None) -> dict[str, Any]:
        """Perform one executor request and return its response. With `on_chunk`, an `exec`
        asks to be streamed: each chunk of its output that arrives before the response is
        handed over as (stream, text, cut) while the response is awaited (the response
        still carries the whole bounded output; other ops answer whole). A callback that
        raises is not called again for this request; the step goes on."""
        if self._dead is not None:
            return {"status": "failed", "failure": "sandbox_error", "message": self._dead, "value": None}
        if self._sock is None:
            return {"status": "failed", "failure": "sandbox_error", "message": "the sandbox is not started", "value": None}
        timeout = float(request.get("timeout") or 30.0)
        streaming = on_chunk is not None and request.get("op") == "exec"
        if request.get("op") == "exec" and isinstance(request.get("args"), dict):  # the per-file size limit (RLIMIT_FSIZE)
            request = {**request, "args": {"max_file_bytes": self.limits.file_mb << 20, **request["args"]}}
        if streaming:
            request = {**request, "stream": True}
        ident = secrets.token_hex(8)
        deadline = time.monotonic() + timeout + 5.0  # chunks do not extend it: the watchdog is the step's timeout
        try:
            self._sock.sendall((json.dumps({**request, "id": ident}, ensure_ascii=True) + "\n").encode("ascii"))
            while True:
                line = self._read_line(deadline)
                if line is None:
                    break
                response = self._parse(line, ident)
                if response is None:
                    # only the executor holds the channel; anything else on it means it cannot be trusted
                    self._dead = "the sandbox's channel carried a reply that is not the executor's answer; the sandbox was stopped"
                    self._kill()
                    return {"status": "failed", "failure": "sandbox_error", "message": self._dead, "value": None}
                if "chunk" not in response:
                    return response
                if streaming and on_chunk is not None:
                    try:
                        on_chunk(str(response.get("stream")), str(response.get("chunk")), response.get("cut") is True)
                    except Exception:  # noqa: BLE001 (showing the output is a courtesy; the step does not fail for it)
                        streaming = False
        except TimeoutError:
            # the executor enforces timeouts itself; if it did not answer, it is wedged: end the container
            self._dead = "the sandbox stopped answering and was killed"
            self._kill()
            return {"status": "failed", "failure": "timeout", "message": f"no answer within {timeout + 5:g} s; the sandbox was killed", "value": None}
        except OSError as error:
            self._dead = f"the connection to the sandbox broke: {error}"
        detail = self._stderr.decode("utf-8", errors="replace").strip().splitlines()[-1:] or ["no message"]
        self._dead = self._dead or f"the sandbox's executor exited ({detail[0][:200]})"
        return {"status": "failed", "failure": "sandbox_error", "message": self._dead, "value": None}

    @staticmethod
    def _parse(line: bytes, ident: str) -> dict[str, Any] | None:
        """A line of the channel as the executor's message for request `ident` (a chunk
        of its output, or its response), or None if it is not one."""
        try:
            message = json.loads(line)
        except (json.JSONDecodeError, RecursionError, UnicodeDecodeError):
            return None
        if not isinstance(message, dict) or message.get("id") != ident:
            return None
        if "chunk" in message and (message.get("stream") not in ("stdout", "stderr") or not isinstance(message.get("chunk"), str)):
            return None
        return message

    def change_set(self) -> tuple[list[Change], tuple[tuple[str, str], ...]]:
        """What the run changed in its staged copy, read back as data (the host never opens
        the copy): changes with their bytes, and what staging left out. Raises SandboxError."""
        from babel.sandbox.workspace import Change

        answer = self.call({"op": "changes", "args": {}, "timeout": 600})
        if answer.get("status") != "ok":
            raise SandboxError(str(answer.get("message") or "the staged copy's changes cannot be read"))
        value = answer.get("value") or {}
        changes: list[Change] = []
        for raw in value.get("changes") or ():
            kind, path = str(raw.get("kind")), str(raw.get("path"))
            size, mode = int(raw.get("size") or 0), int(raw.get("mode") or 0o644)
            extents: list[tuple[int, bytes]] = []
            for offset, length in raw.get("extents") or ():
                position, end = int(offset), int(offset) + int(length)
                while position < end:
                    part = self.call({"op": "fetch", "args": {"path": path, "offset": position, "length": end - position}, "timeout": 120})
                    if part.get("status") != "ok":
                        raise SandboxError(f"cannot read {path} back from the staged copy: {part.get('message')}")
                    data = base64.b64decode(str(part.get("value") or ""))
                    if not data:
                        break
                    extents.append((position, data))
                    position += len(data)
            changes.append(Change(path=path, kind=kind, mode=mode, size=size, extents=tuple(extents), target=str(raw.get("target") or "")))
        skipped = tuple((str(p), str(why)) for p, why in value.get("skipped") or ())
        return changes, skipped

    def _kill(self) -> None:
        try:
            if self._container is not None:
                self._container.kill()
        except Exception:
            pass

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        if self._container is not None:
            try:
                self._container.remove(force=True)
            except Exception:
                pass
            self._container = None


def doctor() -> list[BackendStatus]:
    """Which backends work here, and what to do when one does not."""
    statuses = []
    try:
        client = _client()
        version = client.version().get("Version", "?")
        base, final = image_tags()
        built = _has_image(client, final)
        detail = f"engine {version} answers; image {final} {'is built' if built else 'is not built yet (babel sandbox build)'}"
        if built:
            with tempfile.TemporaryDirectory() as tmp:
                os.chmod(tmp, 0o755)
                try:
                    with DockerSandbox(Path(tmp)) as box:
                        probe = {"cmd": "echo ok; id -u", "rules": {"read": ["."], "write": [], "exec": []}}
                        answer = box.call({"op": "exec", "args": probe, "timeout": 10})
                        # `id` is not on the probe's list: the kernel must refuse to run it
                        raw = answer.get("value")
                        value: dict[str, Any] = raw if isinstance(raw, dict) else {}
                        ok = answer.get("status") != "ok" and str(value.get("stdout", "")).startswith("ok") and "Permission denied" in str(value.get("stderr"))
                        detail += f"; Landlock ABI {box.landlock} enforces the step rules"
                    detail += "; a test run works" if ok else "; a test run FAILED (the kernel did not refuse a program off the list)"
                    statuses.append(BackendStatus("docker", ok, detail))
                except SandboxError as error:
                    statuses.append(BackendStatus("docker", False, f"{detail}; a test run failed: {error}"))
        else:
            statuses.append(BackendStatus("docker", False, detail))
    except SandboxError as error:
        statuses.append(BackendStatus("docker", False, str(error)))
    bwrap = shutil.which("bwrap")
    statuses.append(BackendStatus("bubblewrap", False, ("bwrap is installed, but " if bwrap else "bwrap is not installed, and ")
                                  + "Babel does not use it as a fallback yet: it offers the Docker backend only (docs/sandbox.md)"))
    return statuses


def started(workspace: Path, mount_at: str = "/workspace", writable: bool = False, scratch: bool = False,
            progress: Progress | None = None) -> DockerSandbox:
    """A started sandbox over `workspace` (close it, or use it as a context manager): read-only,
    or `writable` over a staged copy, or (`scratch`, for Babel's own temporary fixtures) writable in place.
    `progress` hears of an image that has to be built first."""
    box = DockerSandbox(Path(workspace), mount_at=mount_at, writable=writable or scratch, scratch=scratch, progress=progress)
    box.start()
    return box
