"""Configuration: which model, how many candidates, where state and caches live.

Precedence, highest first: command-line flags > BABEL_* environment variables >
the project config file (.babel.toml in the workspace root, else the current
directory) > the user config file ($XDG_CONFIG_HOME/babel/config.toml) > defaults.
API keys are never configuration: the OpenAI SDK reads OPENAI_API_KEY itself, and a
config file that holds anything key-like is refused.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

EMBEDDED_MODELS = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file or variable."""


@dataclass(frozen=True)
class Config:
    backend: str = "embedded"  # embedded | endpoint | cassette
    model: str = "qwen2.5-coder-1.5b"  # an embedded name, or the endpoint's model name (default: bench/RESULTS.md)
    model_path: str | None = None  # any GGUF file, for the embedded backend
    base_url: str | None = None  # an OpenAI-compatible endpoint (OPENAI_BASE_URL)
    k: int = 3
    temperature: float = 0.7
    max_tokens: int = 384
    threads: int = 0  # 0: as many as the machine has, at most 4
    cache_dir: str | None = None
    cassette: str | None = None  # a recorded-responses file, for the cassette backend
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # key -> where its value came from


_ENV = {
    "BABEL_BACKEND": "backend", "BABEL_MODEL": "model", "BABEL_MODEL_PATH": "model_path", "BABEL_K": "k",
    "BABEL_TEMPERATURE": "temperature", "BABEL_MAX_TOKENS": "max_tokens", "BABEL_THREADS": "threads",
    "BABEL_CACHE_DIR": "cache_dir", "BABEL_CASSETTE": "cassette",
}
_KEYS = {f.name for f in fields(Config)} - {"sources"}
_SECRETS = ("key", "token", "secret", "password")


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = {"k": int, "max_tokens": int, "threads": int, "temperature": float}.get(name, str)
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} must be {'a number' if kind is not str else 'text'}, not {value!r}") from None
    if name == "k" and not 1 <= value <= 8:
        raise ConfigError(f"{where}: k must be between 1 and 8, not {value}")
    if name == "backend" and value not in ("embedded", "endpoint", "cassette"):
        raise ConfigError(f"{where}: backend must be embedded, endpoint or cassette, not {value!r}")
    return value


def _file_layer(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it: {error}") from None
    section = raw.get("babel", raw) if isinstance(raw.get("babel"), dict) else raw
    layer = {}
    for key, value in section.items():
        if any(word in key.lower() for word in _SECRETS):
            raise ConfigError(f"{path}: {key!r} looks like a secret; keys belong in OPENAI_API_KEY, not in config files")
        if key not in _KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
        layer[key] = _coerce(key, value, str(path))
    return layer


def load_config(flags: dict[str, Any] | None = None, root: Path | None = None, *, user_file: Path | None = None,
                project: Path | None = None) -> Config:
    """The configuration: `flags` over the BABEL_* environment over the first `.babel.toml`
    of `root` and `project` (the application gives the current directory) over `user_file`
    (the application gives $XDG_CONFIG_HOME/babel/config.toml) over the defaults."""
    layers: list[tuple[str, dict[str, Any]]] = []
    if user_file is not None and user_file.is_file():
        layers.append((str(user_file), _file_layer(user_file)))
    for directory in [d for d in (root, project) if d is not None]:
        project = directory / ".babel.toml"
        if project.is_file():
            layers.append((str(project), _file_layer(project)))
            break
    env: dict[str, Any] = {}
    if os.environ.get("OPENAI_BASE_URL"):
        env["base_url"] = os.environ["OPENAI_BASE_URL"]
        env["backend"] = "endpoint"
    for variable, key in _ENV.items():
        if os.environ.get(variable):
            env[key] = _coerce(key, os.environ[variable], variable)
    if "model_path" in env and "backend" not in env:
        env["backend"] = "embedded"
    layers.append(("environment", env))
    layers.append(("flags", {k: _coerce(k, v, f"--{k}") for k, v in (flags or {}).items() if v is not None}))
    config = Config()
    sources = {key: "default" for key in _KEYS}
    for where, layer in layers:
        config = replace(config, **layer)
        sources.update({key: where for key in layer})
    if config.model and (config.model.endswith(".gguf") or os.sep in config.model) and config.backend == "embedded":
        config = replace(config, model_path=config.model)
    return replace(config, sources=sources)
