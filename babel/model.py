"""The model client: one narrow interface, three backends.

`complete(messages, schema=..., temperature=..., n=...)` returns completions with
their text, token counts and log-probability. Backends: `EndpointClient` (any
OpenAI-compatible server through the `openai` package: OpenAI, llama.cpp's server,
vLLM, Ollama), the embedded engine (`babel.engine.EngineClient`, in-process, offline),
and `CassetteClient`, which records responses to a file and replays them, for
deterministic tests. A recording never stands in for a request it has not seen: an
unknown request is an error that names it. API keys are read by the SDK from
OPENAI_API_KEY and never appear in errors, logs or traces.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from babel.config import Config

Progress = Callable[[str], None]


class ModelError(RuntimeError):
    """The model could not be used; the message says what to do."""


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    logprob: float | None
    model: str
    latency_s: float


class ModelClient(Protocol):
    name: str

    def complete(self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int | None = None, n: int = 1) -> Sequence[Any]: ...

    def close(self) -> None: ...


class EndpointClient:
    def __init__(self, model: str, base_url: str | None = None) -> None:
        try:
            from openai import OpenAI
        except ImportError as error:  # pragma: no cover - a declared dependency
            raise ModelError("the openai package is missing: pip install openai") from error
        import os

        self.name = model
        # the SDK insists on a key; local servers ignore it, so a placeholder is fine there
        self._client = OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY") or "not-needed", max_retries=1, timeout=300)
        self._json_schema_ok = True

    def complete(self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int | None = None, n: int = 1) -> list[Completion]:
        from openai import APIConnectionError, APIError, APITimeoutError

        out: list[Completion] = []
        for i in range(n):  # n>1 as separate calls with distinct seeds: not every server honours n
            started = time.perf_counter()
            kwargs: dict[str, Any] = {"model": self.name, "messages": messages, "temperature": temperature,
                                      "max_tokens": max_tokens, "logprobs": True}
            if seed is not None:
                kwargs["seed"] = seed + i
            if schema is not None and self._json_schema_ok:
                kwargs["response_format"] = {"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}}
            try:
                response = self._client.chat.completions.create(**kwargs)
            except APIError as error:
                if schema is not None and self._json_schema_ok and getattr(error, "status_code", None) in (400, 422):
                    self._json_schema_ok = False  # this server has no structured output: ask for JSON in words
                    return self.complete(messages, schema=schema, temperature=temperature, max_tokens=max_tokens, seed=seed, n=n)
                if isinstance(error, (APIConnectionError, APITimeoutError)):
                    raise ModelError(f"the model endpoint does not answer ({type(error).__name__}); check OPENAI_BASE_URL and that the server runs") from None
                raise ModelError(f"the model endpoint refused the request: {getattr(error, 'status_code', '')} {getattr(error, 'message', '')}"[:300]) from None
            choice = response.choices[0]
            logprob = None
            content = getattr(choice, "logprobs", None)
            if content is not None and getattr(content, "content", None):
                logprob = sum(t.logprob for t in content.content)
            usage = response.usage
            out.append(Completion(choice.message.content or "", usage.prompt_tokens if usage else 0,
                                  usage.completion_tokens if usage else 0, logprob, self.name, time.perf_counter() - started))
        return out

    def close(self) -> None:
        self._client.close()


def request_key(messages: list[dict[str, str]], schema: dict[str, Any] | None, temperatures: Sequence[float],
                seeds: Sequence[int | None], max_tokens: int, variants: Any = None, variant_of: Any = None) -> str:
    fields: dict[str, Any] = {"messages": messages, "schema": schema, "temperatures": list(temperatures), "seeds": list(seeds),
                              "max_tokens": max_tokens}
    if variants:
        fields.update(variants=variants, variant_of=variant_of)
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class CassetteClient:
    """Replays recorded responses (mode "replay"), or records an inner client's (mode "record")."""

    def __init__(self, path: Path, inner: Any = None, mode: str = "replay") -> None:
        self.path = Path(path)
        self.inner = inner
        self.mode = mode
        self.name = f"cassette:{self.path.name}"
        self._lock = threading.Lock()
        self._tape: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        if mode == "record" and inner is None:
            raise ModelError("recording a cassette needs a real model behind it")
        if mode == "replay" and not self.path.exists():
            raise ModelError(f"no cassette at {self.path}; record one with BABEL_RECORD=1")

    def _play(self, key: str, call: Callable[[], Sequence[Any]], what: str) -> list[Completion]:
        with self._lock:
            if key in self._tape:
                return [Completion(**entry) for entry in self._tape[key]["completions"]]
            if self.mode != "record":
                raise ModelError(f"the cassette {self.path.name} has no recording of this request ({what}, key {key}); "
                                 "re-record it with BABEL_RECORD=1")
            completions = [Completion(c.text, c.prompt_tokens, c.completion_tokens, c.logprob, c.model, c.latency_s) for c in call()]
            self._tape[key] = {"what": what, "completions": [c.__dict__ for c in completions]}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._tape, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
            return completions

    def complete(self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None, temperature: float = 0.0,
                 max_tokens: int = 512, seed: int | None = None, n: int = 1) -> list[Completion]:
        seeds = [None if seed is None else seed + i for i in range(n)]
        key = request_key(messages, schema, [temperature] * n, seeds, max_tokens)
        what = messages[-1]["content"][-120:] if messages else ""
        return self._play(key, lambda: self.inner.complete(messages, schema=schema, temperature=temperature,
                                                           max_tokens=max_tokens, seed=seed, n=n), what)

    def complete_many(self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None,
                      temperatures: list[float], seeds: list[int], max_tokens: int = 512,
                      variants: list[list[dict[str, str]]] | None = None, variant_of: list[int] | None = None) -> list[Completion]:
        key = request_key(messages, schema, temperatures, seeds, max_tokens, variants, variant_of)
        what = messages[-1]["content"][-120:] if messages else ""

        def call() -> Sequence[Any]:
            many = getattr(self.inner, "complete_many", None)
            if many is not None:
                return many(messages, schema=schema, temperatures=temperatures, seeds=seeds, max_tokens=max_tokens,  # type: ignore[no-any-return]
                            variants=variants, variant_of=variant_of)
            chats = [messages, *(variants or [])]
            which = variant_of or [0] * len(temperatures)
            return [c for t, s, v in zip(temperatures, seeds, which, strict=True)
                    for c in self.inner.complete(chats[v], schema=schema, temperature=t, max_tokens=max_tokens, seed=s, n=1)]

        return self._play(key, call, what)

    def score(self, chats: list[list[dict[str, str]]], targets: list[str]) -> list[float]:
        """Recorded log-probabilities of targets given chats (the reviewer's question)."""
        key = hashlib.sha256(json.dumps({"score": chats, "targets": targets}, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]
        with self._lock:
            if key in self._tape:
                return [float(s) for s in self._tape[key]["scores"]]
            if self.mode != "record":
                raise ModelError(f"the cassette {self.path.name} has no recording of this scoring (key {key}); re-record it with BABEL_RECORD=1")
            if getattr(self.inner, "score", None) is None:
                raise ModelError("the model behind this cassette cannot score texts")
            scores = [float(s) for s in self.inner.score(chats, targets)]
            self._tape[key] = {"what": f"score: {targets[0][:100] if targets else ''}", "scores": scores}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._tape, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
            return scores

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()


_EMBEDDED: dict[tuple[str, int], Any] = {}


def make_client(config: Config, progress: Progress | None = None, stable_messages: int | None = None) -> Any:
    """The client the configuration asks for. The embedded engine is loaded once per process."""
    if config.backend == "endpoint":
        return EndpointClient(config.model if config.model not in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b") else "default", config.base_url)
    if config.backend == "cassette":
        if not config.cassette:
            raise ModelError("the cassette backend needs BABEL_CASSETTE=FILE")
        return CassetteClient(Path(config.cassette))
    from babel.embedded import ModelMissing, model_file
    from babel.engine import BatchedEngine, EngineClient, EngineError

    try:
        path = Path(config.model_path) if config.model_path else model_file(config.model, config.cache_dir, progress)
    except ModelMissing as error:
        raise ModelError(str(error)) from None
    key = (str(path), config.threads)
    if key not in _EMBEDDED:
        if progress:
            progress(f"loading the embedded model {path.name}")
        from babel.embedded import cache_dir

        try:
            # `stable_messages`: how many of the prompt's first messages never change (the
            # compiler's prefix), whose KV cells the engine keeps on disk; the caller knows
            engine = BatchedEngine(path, threads=config.threads or None, cache_dir=cache_dir(config.cache_dir) / "kv",
                                   stable_messages=stable_messages)
        except EngineError as error:
            raise ModelError(str(error)) from None
        _EMBEDDED[key] = EngineClient(engine, name=path.name)
    return _EMBEDDED[key]
