"""The machine's ALU: the model ops' questions put to the model port, memoised.

A model op asks one of two things: a greedy text for a chat (`ask`), or the probability
of each of some options as the reply (`choose`, by scoring each option teacher-forced:
log P(option | chat), normalised over the options). Answers are memoised by (model,
sampler, chat, options or budget): a rerun of a plan replays them instead of asking
again. The memo is a SQLite file the application keeps in its state directory; without
one, answers are kept for the run only.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from babel.model import ModelClient, ModelError, ModelRequest, Sample
from babel.verify import Answer, Chat, Choice, StepFailure

SAMPLER = "greedy"  # every model op decodes greedily (temperature 0, seed 0): its answer is a function of its input


class Memo:
    """Answers by key: in memory, and in a SQLite file when given one."""

    def __init__(self, path: Path | None = None) -> None:
        self._mem: dict[str, str] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.commit()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            raw = self._mem.get(key)
            if raw is None and self._db is not None:
                row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
                raw = row[0] if row else None
        return json.loads(raw) if raw is not None else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        raw = json.dumps(value, sort_keys=True)
        with self._lock:
            self._mem[key] = raw
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)", (key, raw))
                self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def memo_key(model: str, kind: str, chat: Chat, extra: Any) -> str:
    blob = json.dumps({"model": model, "sampler": SAMPLER, "kind": kind, "chat": chat, "extra": extra}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ALU:
    """Model ops' questions, answered by `client` and kept in `memo`."""

    def __init__(self, client: ModelClient, memo: Memo | None = None) -> None:
        self.client = client
        self.memo = memo or Memo()

    def ask(self, chat: Chat, max_tokens: int) -> Answer:
        key = memo_key(self.client.name, "ask", chat, max_tokens)
        kept = self.memo.get(key)
        if kept is not None:
            return Answer(**{**kept, "memo": True})
        started = time.perf_counter()
        result = self._submit([ModelRequest((chat,), (Sample(0.0, 0),), max_tokens=max_tokens)])[0]
        completion = result.completions[0]
        answer = Answer(completion.text, completion.prompt_tokens, completion.completion_tokens,
                        round((time.perf_counter() - started) * 1000, 3), False)
        self.memo.put(key, {k: v for k, v in asdict(answer).items() if k != "memo"})
        return answer

    def choose(self, chat: Chat, options: list[str]) -> Choice:
        if not self.client.capabilities.score:
            raise StepFailure("model_error", f"the model {self.client.name} cannot score options (choices need the embedded engine)")
        key = memo_key(self.client.name, "choose", chat, options)
        kept = self.memo.get(key)
        if kept is not None:
            return Choice(tuple(kept["probabilities"]), kept["context_tokens"], kept["latency_ms"], True)
        started = time.perf_counter()
        results = self._submit([ModelRequest((chat,), target=option) for option in options])
        logs = [r.score if r.score is not None else -math.inf for r in results]
        top = max(logs)
        if top == -math.inf:
            raise StepFailure("model_error", "the model gave no score for any option")
        weights = [math.exp(v - top) for v in logs]
        total = sum(weights)
        choice = Choice(tuple(w / total for w in weights), _tokens(chat), round((time.perf_counter() - started) * 1000, 3), False)
        self.memo.put(key, {"probabilities": list(choice.probabilities), "context_tokens": choice.context_tokens,
                            "latency_ms": choice.latency_ms})
        return choice

    def _submit(self, requests: list[ModelRequest]) -> list[Any]:
        try:
            return self.client.submit(requests)
        except ModelError as error:
            raise StepFailure("model_error", str(error)) from None


def _tokens(chat: Chat) -> int:
    """About how many tokens the chat is (a score request reports none): four characters a token."""
    return sum(len(m["content"]) for m in chat) // 4 + 4 * len(chat)
