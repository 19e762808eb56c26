"""A model client that counts what passes through it: the tokens sent, the tokens prefilled.

`Metered(inner)` answers as `inner` does and adds up, over every request it forwards,
the prompt tokens sent (a generation request's prompt once, however many samples it
draws; a score request's chat and reply), how many of them the backend computed (the
rest were cells it kept, or a saved prefix's state; a backend that does not say counts
as having computed all it was sent), the tokens generated, and the requests. `babel
eval` wraps each task's model in one, so a task's record says what its context cost
whatever the path took (compile, vote, checker, repairs, model ops, a baseline loop).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from babel.model.port import Capabilities, ModelClient, ModelRequest, ModelResult, Sampling


@dataclass
class Tokens:
    sent: int = 0
    prefilled: int = 0
    generated: int = 0
    requests: int = 0


class Metered:
    """`inner`, counted (see the module's docstring)."""

    def __init__(self, inner: ModelClient) -> None:
        self.inner = inner
        self.tokens = Tokens()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    @property
    def sampling(self) -> Sampling:
        return self.inner.sampling

    def submit(self, requests: Sequence[ModelRequest]) -> list[ModelResult]:
        results = self.inner.submit(requests)
        with self._lock:
            for result in results:
                self.tokens.requests += 1
                if result.completions:
                    first = result.completions[0]
                    self.tokens.sent += first.prompt_tokens
                    self.tokens.prefilled += first.prompt_tokens if first.prefilled is None else first.prefilled
                    self.tokens.generated += sum(c.completion_tokens for c in result.completions)
                else:
                    self.tokens.sent += result.prompt_tokens
                    self.tokens.prefilled += result.prompt_tokens if result.prefilled is None else result.prefilled
        return results

    def close(self) -> None:
        """The inner client belongs to whoever made it: nothing to close here."""
