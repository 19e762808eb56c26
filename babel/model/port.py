"""The model port: what a caller may ask of a model, and what every backend answers.

A caller builds `ModelRequest`s (one prompt and its variants, the samples to draw from
it, the schema their output must follow; or a reply to score) and hands a batch of them
to `ModelClient.submit`, the one entry point, so that a scheduler can later gather the
model calls of many processes into one batch. What a backend can do is declared in its
`capabilities`, never found out by probing it; the sampling defaults a caller should use
(from the configuration) are its `sampling`. Backends: the embedded engine
(`babel.model.engine`), an OpenAI-compatible endpoint (`babel.model.endpoint`), and the
cassette that records and replays another client (`babel.model.cassette`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Progress = Callable[[str], None]
#: Told how many tokens a backend has decoded so far for the request it is answering (all its
#: samples together), as it decodes: for a live status only; nothing sent to the model changes.
TokenProgress = Callable[[int], None]
Chat = list[dict[str, str]]  # chat messages: {"role": ..., "content": ...}


class ModelError(RuntimeError):
    """The model could not be used; the message says what to do."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend does, declared by it (callers read these, never probe for methods)."""

    #: the samples of one request are decoded together, sharing the prompt's cells, so
    #: several cost about what one does (callers then ask for alternatives freely)
    generate_many: bool
    #: output is constrained to the request's JSON Schema (else asked for, best effort)
    schema: bool
    #: takes score requests (`ModelRequest.target`): log P(reply | chat), teacher-forced
    score: bool


@dataclass(frozen=True)
class Sampling:
    """The sampling a caller uses when it has no reason of its own (the configuration's
    `temperature` and `max_tokens`); a request always states its own values."""

    temperature: float = 0.7  # of sampled candidates; the first candidate is greedy
    max_tokens: int = 384  # per sample


@dataclass(frozen=True)
class Sample:
    """One sequence to decode: at `temperature` (0: greedy), from `seed`, on chat `chat`
    of its request (0 is the prompt, i is its i-th variant)."""

    temperature: float
    seed: int
    chat: int = 0


@dataclass(frozen=True)
class ModelRequest:
    """A generation request (`samples`, one completion each) or a score request
    (`target`: the reply whose log-probability given `chats[0]` is asked; nothing is
    sampled). `chats[1:]` are variants of the prompt (typically differing in the last
    message), which an engine decodes for only the tokens where they differ."""

    chats: tuple[Chat, ...]
    samples: tuple[Sample, ...] = ()
    schema: dict[str, Any] | None = None
    max_tokens: int = 384
    target: str | None = None

    def __post_init__(self) -> None:
        if not self.chats:
            raise ValueError("a model request needs a chat")
        if (self.target is None) == (not self.samples):
            raise ValueError("a model request has samples to draw or a target to score, one of the two")
        if self.target is not None and len(self.chats) != 1:
            raise ValueError("a score request has one chat")
        if any(not 0 <= s.chat < len(self.chats) for s in self.samples):
            raise ValueError("each sample must name one of the request's chats")

    @property
    def is_score(self) -> bool:
        return self.target is not None


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    logprob: float | None  # sum of the chosen tokens' log-probabilities, when the backend gives them
    model: str
    latency_s: float
    #: of the prompt's tokens, how many the backend computed for this request (the rest were
    #: cells it kept from an earlier prompt, or a saved prefix's state); None: it does not say.
    #: The samples of one request share one prompt: each carries the same count.
    prefilled: int | None = None


@dataclass(frozen=True)
class ModelResult:
    """The answer to one request: a completion per sample, in order; or a score."""

    completions: tuple[Completion, ...] = ()
    score: float | None = None
    prompt_tokens: int = 0  # a score request's chat and reply, in tokens (0: the backend does not say)
    prefilled: int | None = None  # of those, how many it computed (as Completion.prefilled)


class ModelClient(Protocol):
    """The one model port. `submit` answers each request, in order, or raises ModelError;
    a score request to a backend without `capabilities.score` is a ModelError."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def sampling(self) -> Sampling: ...

    def submit(self, requests: Sequence[ModelRequest]) -> list[ModelResult]: ...

    def close(self) -> None: ...

