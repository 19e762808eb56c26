"""The cassette backend: another client's answers recorded to a file, and replayed.

For deterministic tests. In "record" mode the requests it has no recording of go to the
client it wraps, and their answers are saved under `request_key`; in "replay" mode an
unknown request is an error that names it: a recording never stands in for a request it
has not seen. A replaying cassette declares the capabilities of the backend that made the
recording (by default the embedded engine's, which recorded tests/cassettes/), so that its
callers ask what they asked then.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from babel.model.port import Capabilities, Chat, Completion, ModelClient, ModelError, ModelRequest, ModelResult, Sampling

#: What a replaying cassette declares unless told otherwise: the embedded engine's
#: capabilities (`EngineClient.capabilities`, not imported: the engine needs the embedded
#: extra), since the recordings in tests/cassettes/ are of it.
RECORDED_WITH = Capabilities(generate_many=True, schema=True, score=True)


def request_key(messages: Chat, schema: dict[str, Any] | None, temperatures: Sequence[float], seeds: Sequence[int | None],
                max_tokens: int, variants: Sequence[Chat] | None = None, variant_of: Sequence[int] | None = None) -> str:
    """The key of a generation request in a cassette; stable, so recordings keep matching."""
    fields: dict[str, Any] = {"messages": messages, "schema": schema, "temperatures": list(temperatures), "seeds": list(seeds),
                              "max_tokens": max_tokens}
    if variants:
        fields.update(variants=list(variants), variant_of=None if variant_of is None else list(variant_of))
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def score_key(chat: Chat, target: str) -> str:
    """The key of a score request (the form a batch of one pair had before requests)."""
    return hashlib.sha256(json.dumps({"score": [chat], "targets": [target]}, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def _key(request: ModelRequest) -> str:
    if request.target is not None:
        return score_key(request.chats[0], request.target)
    variants = request.chats[1:]
    return request_key(request.chats[0], request.schema, [s.temperature for s in request.samples], [s.seed for s in request.samples],
                       request.max_tokens, variants, [s.chat for s in request.samples] if variants else None)


def _what(request: ModelRequest) -> str:
    if request.target is not None:
        return f"score: {request.target[:100]}"
    messages = request.chats[0]
    return messages[-1]["content"][-120:] if messages else ""


class CassetteClient:
    """Replays recorded answers (mode "replay"), or records an inner client's (mode "record")."""

    def __init__(self, path: Path, inner: ModelClient | None = None, mode: str = "replay", *,
                 capabilities: Capabilities | None = None, sampling: Sampling | None = None) -> None:
        self.path = Path(path)
        self.inner = inner
        self.mode = mode
        self.name = f"cassette:{self.path.name}"
        if mode == "record" and inner is None:
            raise ModelError("recording a cassette needs a real model behind it")
        if mode == "replay" and not self.path.exists():
            raise ModelError(f"no cassette at {self.path}; record one with BABEL_RECORD=1")
        self.capabilities = capabilities or (inner.capabilities if inner is not None else RECORDED_WITH)
        self.sampling = sampling or (inner.sampling if inner is not None else Sampling())
        self._lock = threading.Lock()
        self._tape: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def submit(self, requests: Sequence[ModelRequest]) -> list[ModelResult]:
        keys = [_key(request) for request in requests]
        with self._lock:
            missing = [i for i, key in enumerate(keys) if key not in self._tape]
            if missing and self.mode != "record":
                request = requests[missing[0]]
                kind = "scoring" if request.is_score else "request"
                raise ModelError(f"the cassette {self.path.name} has no recording of this {kind} ({_what(request)}, key {keys[missing[0]]}); "
                                 "re-record it with BABEL_RECORD=1")
            if missing:
                assert self.inner is not None
                asked = [requests[i] for i in missing]
                if any(r.is_score for r in asked) and not self.inner.capabilities.score:
                    raise ModelError("the model behind this cassette cannot score texts")
                for i, result in zip(missing, self.inner.submit(asked), strict=True):
                    self._tape[keys[i]] = self._entry(requests[i], result)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text(json.dumps(self._tape, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
            return [self._replay(self._tape[key]) for key in keys]

    @staticmethod
    def _entry(request: ModelRequest, result: ModelResult) -> dict[str, Any]:
        if request.is_score:
            if result.score is None:
                raise ModelError("the model behind this cassette answered a score request without a score")
            return {"what": _what(request), "scores": [result.score], "tokens": [result.prompt_tokens, result.prefilled]}
        return {"what": _what(request), "completions": [asdict(c) for c in result.completions]}

    @staticmethod
    def _replay(entry: dict[str, Any]) -> ModelResult:
        if "scores" in entry:
            tokens, prefilled = entry.get("tokens") or (0, None)
            return ModelResult(score=float(entry["scores"][0]), prompt_tokens=int(tokens), prefilled=prefilled)
        return ModelResult(tuple(Completion(**c) for c in entry["completions"]))

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
