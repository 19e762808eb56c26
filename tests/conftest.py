"""Shared fixtures: a workspace the sandbox can use, the real Docker engine, and recorded model answers.

Tests that need Docker use the real engine; if none answers they fail, unless
BABEL_ALLOW_NO_DOCKER=1 says this machine has none on purpose (then they are skipped
with that reason). The state dir (traces, repair memory) is a temporary one per test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from babel.model import CassetteClient, ModelPool

SANDBOX_UID = 1000
RECORDING = ModelPool()  # the engines a recording (BABEL_RECORD=1) loads, once for all the tests of a run


def cassette_client(cassette: Path, model: str = "qwen2.5-coder-1.5b", stable_messages: int | None = None) -> CassetteClient:
    """The recorded answers of `cassette`; with BABEL_RECORD=1 the real embedded `model`
    answers what the cassette lacks, and its answers are recorded."""
    if os.environ.get("BABEL_RECORD") == "1":
        from babel.model import load_config, make_client

        return CassetteClient(cassette, make_client(load_config({"model": model}), stable_messages=stable_messages, pool=RECORDING), mode="record")
    return CassetteClient(cassette)


def give_to_sandbox_user(path: Path) -> None:
    """The sandbox never runs as root; tests run as root in CI, so hand the files over."""
    if os.geteuid() == 0:
        for dirpath, dirnames, filenames in os.walk(path):
            os.chown(dirpath, SANDBOX_UID, SANDBOX_UID)
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("BABEL_STATE_DIR", str(path))
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "ws"
    root.mkdir()
    root.chmod(0o755)
    tmp_path.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def make_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    give_to_sandbox_user(root)


@pytest.fixture(scope="session")
def docker_ready() -> None:
    from babel.sandbox.docker import SandboxError, ensure_image

    try:
        ensure_image()
    except SandboxError as error:
        if os.environ.get("BABEL_ALLOW_NO_DOCKER") == "1":
            pytest.skip(f"no Docker engine here (BABEL_ALLOW_NO_DOCKER=1): {error}")
        raise


@pytest.fixture
def sandbox(docker_ready: None, workspace: Path) -> Iterator[object]:
    from babel.sandbox.docker import DockerSandbox

    give_to_sandbox_user(workspace)
    with DockerSandbox(workspace) as box:
        yield box
