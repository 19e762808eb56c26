"""The model client's backends, the configuration layers, and the embedded model's assembly."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

import pytest

from babel.config import ConfigError, load_config
from babel.embedded import ModelMissing, assemble
from babel.model import CassetteClient, Completion, EndpointClient, ModelError, make_client

MESSAGES = [{"role": "user", "content": "count the lines"}]


class Inner:
    def __init__(self) -> None:
        self.calls = 0

    def complete(self, messages: list[dict[str, str]], **kwargs: Any) -> list[Completion]:
        self.calls += 1
        return [Completion(f"answer {self.calls} t={kwargs['temperature']}", 5, 3, -0.5, "inner", 0.1)]

    def close(self) -> None:
        pass


def test_a_cassette_records_then_replays_without_the_model(tmp_path: Path) -> None:
    tape = tmp_path / "tape.json"
    inner = Inner()
    recorder = CassetteClient(tape, inner, mode="record")
    first = recorder.complete(MESSAGES, temperature=0.0, seed=1)
    assert recorder.complete(MESSAGES, temperature=0.0, seed=1) == first and inner.calls == 1
    replay = CassetteClient(tape)
    assert replay.complete(MESSAGES, temperature=0.0, seed=1)[0].text == "answer 1 t=0.0"


def test_a_cassette_never_answers_a_request_it_has_not_seen(tmp_path: Path) -> None:
    tape = tmp_path / "tape.json"
    CassetteClient(tape, Inner(), mode="record").complete(MESSAGES, temperature=0.0, seed=1)
    with pytest.raises(ModelError, match="no recording of this request"):
        CassetteClient(tape).complete(MESSAGES, temperature=0.7, seed=1)
    with pytest.raises(ModelError, match="no cassette"):
        CassetteClient(tmp_path / "missing.json")


def test_an_endpoint_that_does_not_answer_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-canary")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = EndpointClient("any", f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelError) as error:
        client.complete(MESSAGES)
    assert "does not answer" in str(error.value) and "canary" not in str(error.value)


def test_configuration_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BABEL_K", "BABEL_MODEL", "BABEL_BACKEND", "OPENAI_BASE_URL", "BABEL_MODEL_PATH"):
        monkeypatch.delenv(name, raising=False)
    user = tmp_path / "xdg" / "babel" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('k = 2\nmodel = "qwen2.5-coder-1.5b"\ntemperature = 0.5\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    project = tmp_path / "proj"
    project.mkdir()
    assert load_config({}, project).k == 2
    (project / ".babel.toml").write_text("k = 4\n")
    config = load_config({}, project)
    assert (config.k, config.model, config.temperature) == (4, "qwen2.5-coder-1.5b", 0.5)
    assert config.sources["k"].endswith(".babel.toml") and config.sources["model"].endswith("config.toml")
    monkeypatch.setenv("BABEL_K", "5")
    assert load_config({}, project).k == 5
    assert load_config({"k": 1}, project).k == 1
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert load_config({}, project).backend == "endpoint"


@pytest.mark.parametrize(("content", "message"), [
    ('api_key = "sk-123"\n', "keys belong in OPENAI_API_KEY"),
    ("colour = 1\n", "unknown key 'colour'"),
    ("k = 99\n", "between 1 and 8"),
    ("k = [\n", "not valid TOML"),
])
def test_bad_config_files_are_refused_by_name(tmp_path: Path, content: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    (tmp_path / ".babel.toml").write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config({}, tmp_path)


def test_assembly_checks_size_and_hash(tmp_path: Path) -> None:
    parts = []
    for i, data in enumerate((b"abc", b"def", b"g")):
        part = tmp_path / f"part{i}"
        part.write_bytes(data)
        parts.append(part)
    good = hashlib.sha256(b"abcdefg").hexdigest()
    target = tmp_path / "models" / "m.gguf"
    assert assemble(parts, target, 7, good).read_bytes() == b"abcdefg"
    assert assemble(parts, target, 7, good) == target  # cached: not assembled again
    bad = tmp_path / "models" / "bad.gguf"
    with pytest.raises(ModelMissing, match="wrong"):
        assemble(parts, bad, 7, "0" * 64)
    assert not bad.exists() and not list(bad.parent.glob(".bad.gguf*"))


def test_an_unknown_embedded_model_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BABEL_MODEL_PATH", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelError, match="unknown embedded model"):
        make_client(load_config({"model": "gpt-17"}))
