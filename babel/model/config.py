"""Configuration: which model, how many candidates, where state and caches live, and
whether a run's applied changes are committed to git.

Precedence, highest first: command-line flags > BABEL_* environment variables >
the project config file (.babel.toml in the workspace root, else the current
directory) > the user config file ($XDG_CONFIG_HOME/babel/config.toml) > defaults.
API keys are never configuration: the OpenAI SDK reads OPENAI_API_KEY itself, and a
config file that holds anything key-like is refused.
"""

from __future__ import annotations

import os
import re
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
    git_commit: bool = False  # commit a run's applied files in its git work tree (as --git-commit)
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # key -> where its value came from


_ENV = {
    "BABEL_BACKEND": "backend", "BABEL_MODEL": "model", "BABEL_MODEL_PATH": "model_path", "BABEL_K": "k",
    "BABEL_TEMPERATURE": "temperature", "BABEL_MAX_TOKENS": "max_tokens", "BABEL_THREADS": "threads",
    "BABEL_CACHE_DIR": "cache_dir", "BABEL_CASSETTE": "cassette", "BABEL_GIT_COMMIT": "git_commit",
}
_FLAGS = {"k": "-k", "model": "--model", "git_commit": "--git-commit"}
_KEYS = {f.name for f in fields(Config)} - {"sources"}
#: What each key takes, as it is said in errors (docs/configuration.md has the same).
ALLOWED = {
    "backend": "embedded, endpoint or cassette",
    "model": f"an embedded model ({', '.join(EMBEDDED_MODELS)}), a GGUF path, or the endpoint's model name",
    "model_path": "the path of a GGUF file",
    "base_url": "an http(s) URL of an OpenAI-compatible endpoint",
    "k": "a whole number from 1 to 8",
    "temperature": "a number from 0 to 2",
    "max_tokens": "a whole number from 16 to 32768",
    "threads": "a whole number from 0 (adapt to the free cores) to 256",
    "cache_dir": "a directory",
    "cassette": "the path of a cassette file",
    "git_commit": "true or false (in the environment: 1 or 0)",
}
#: The yes-or-no keys, and how the environment spells their values.
_SWITCHES = {"git_commit"}
_TRUTH = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
_RANGES: dict[str, tuple[type, float, float]] = {
    "k": (int, 1, 8), "temperature": (float, 0, 2), "max_tokens": (int, 16, 32768), "threads": (int, 0, 256),
}
#: Key names that hold credentials: whole names (or their last words), so `max_tokens` is no `token`.
_SECRET_NAMES = {"key", "api_key", "apikey", "token", "access_token", "auth_token", "secret", "client_secret", "password",
                 "passwd", "credentials", "authorization", "bearer"}
#: Value shapes of credentials: OpenAI-style `sk-...`, GitHub, Slack, AWS, Hugging Face, a bearer header.
_SECRET_VALUE = re.compile(r"^(sk-[A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_\w{16,}|xox[abpr]-[\w-]{8,}|AKIA[0-9A-Z]{16}"
                           r"|hf_[A-Za-z0-9]{16,}|Bearer\s+\S{8,})$")


def is_secret(key: str, value: object) -> bool:
    """A key named like a credential (`api_key`, `token`, `openai_api_key`; not `max_tokens`),
    or a value shaped like one (`sk-...`)."""
    name = key.lower().replace("-", "_")
    named = any(name == word or name.endswith("_" + word) for word in _SECRET_NAMES)
    return named or (isinstance(value, str) and _SECRET_VALUE.match(value.strip()) is not None)


def _coerce(name: str, value: Any, where: str, *, typed: bool = False) -> Any:
    """`value` for key `name` (from `where`: a file, a variable, a flag), checked against
    what the key takes (`ALLOWED`). Text (the environment's) is converted; from a file
    (`typed`) the TOML type itself must be right: `k = "3"` or `k = 3.5` is refused."""
    kind, least, most = _RANGES.get(name, (str, 0, 0))
    wrong = ConfigError(f"{where}: {name} must be {ALLOWED[name]}, not {value!r}")
    if name in _SWITCHES:  # a file's is a TOML boolean (`git_commit = true`); the environment's 1 or 0
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and not typed and value.strip().lower() in _TRUTH:
            return _TRUTH[value.strip().lower()]
        raise wrong
    if isinstance(value, str) and not (typed and kind is not str):
        try:
            value = kind(value.strip())
        except ValueError:
            raise wrong from None
    elif isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
        raise wrong
    value = kind(value)
    if kind is str:
        if (not value.strip() or (name == "backend" and value not in ("embedded", "endpoint", "cassette"))
                or (name == "base_url" and not value.startswith(("http://", "https://")))):
            raise wrong
    elif not least <= value <= most:  # (NaN fails this too)
        raise wrong
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
        if is_secret(str(key), value):
            raise ConfigError(f"{path}: {key!r} looks like a secret; keys belong in OPENAI_API_KEY, not in config files")
        if key not in _KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
        layer[key] = _coerce(key, value, str(path), typed=True)
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
        env["base_url"] = _coerce("base_url", os.environ["OPENAI_BASE_URL"], "OPENAI_BASE_URL")
        env["backend"] = "endpoint"
    for variable, key in _ENV.items():
        if os.environ.get(variable):
            env[key] = _coerce(key, os.environ[variable], variable)
    if "model_path" in env and "backend" not in env:
        env["backend"] = "embedded"
    layers.append(("environment", env))
    layers.append(("flags", {k: _coerce(k, v, _FLAGS.get(k, f"--{k}")) for k, v in (flags or {}).items() if v is not None}))
    config = Config()
    sources = {key: "default" for key in _KEYS}
    for where, layer in layers:
        config = replace(config, **layer)
        sources.update({key: where for key in layer})
    if config.model and (config.model.endswith(".gguf") or os.sep in config.model) and config.backend == "embedded":
        config = replace(config, model_path=config.model)
    if config.backend == "embedded" and config.model_path is None and config.model not in EMBEDDED_MODELS:
        where = _FLAGS["model"] if sources["model"] == "flags" else "BABEL_MODEL" if sources["model"] == "environment" else sources["model"]
        raise ConfigError(f"{where}: model must be {ALLOWED['model']}, not {config.model!r} "
                          "(an endpoint's model names need OPENAI_BASE_URL)")
    return replace(config, sources=sources)
