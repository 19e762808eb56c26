"""The client the configuration asks for, and the pool that owns the loaded engines.

`make_client(config, pool=...)` returns one of the three backends of the model port
(`babel.model.port.ModelClient`): the embedded engine (the default), an endpoint, or a
replaying cassette, each with the configuration's `temperature` and `max_tokens` as its
`sampling`. An embedded model is loaded into the `ModelPool` the application made for
its run and passed in; the pool keeps one engine per model file and thread count, and
closing it frees them. There is no process-wide engine: without a pool, the client
loads an engine of its own, which its `close` frees.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from babel.model.cassette import CassetteClient
from babel.model.config import Config
from babel.model.endpoint import EndpointClient
from babel.model.port import ModelClient, ModelError, Progress, Sampling, TokenProgress

if TYPE_CHECKING:
    from babel.model.engine import BatchedEngine


class ModelPool:
    """The embedded engines of one run of the application, by (model file, threads).
    The application makes one, passes it to every `make_client`, and closes it at the end
    (or uses it as a context manager); the clients it made do not close its engines."""

    def __init__(self) -> None:
        self._engines: dict[tuple[str, int], BatchedEngine] = {}
        self._lock = threading.Lock()

    def engine(self, path: Path, config: Config, stable_messages: int | None, progress: Progress | None = None) -> BatchedEngine:
        """The engine of this model file and thread count, loaded on first use."""
        key = (str(path), config.threads)
        with self._lock:
            if key not in self._engines:
                self._engines[key] = load_engine(path, config, stable_messages, progress)
            return self._engines[key]

    def close(self) -> None:
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.close()

    def __enter__(self) -> ModelPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The most threads the engine is given when it adapts: past four, llama.cpp's decode of a
#: small model gains little and takes cores from everything else.
MAX_THREADS = 4


def engine_threads(configured: int = 0, *, cores: int | None = None, load: float | None = None) -> int:
    """The embedded engine's thread count: `configured` (`threads`, BABEL_THREADS) when it is
    set, else the cores no one else is using (the cores this process may run on less the
    one-minute load average, rounded), at least 1 and at most MAX_THREADS. On 2 busy cores
    a second thread made decoding five times slower (issue 14: 41 s against 9 s)."""
    if configured > 0:
        return configured
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # no load average here: assume the cores are free
            load = 0.0
    return max(1, min(MAX_THREADS, cores, round(cores - load)))


def load_engine(path: Path, config: Config, stable_messages: int | None, progress: Progress | None = None) -> BatchedEngine:
    """A new engine over a GGUF file. `stable_messages`: how many of the prompt's first
    messages never change (the compiler's prefix), whose KV cells the engine keeps on
    disk; the caller knows."""
    from babel.model.embedded import cache_dir
    from babel.model.engine import BatchedEngine, EngineError

    threads = engine_threads(config.threads)
    if progress:
        progress(f"loading the embedded model {path.name} ({threads} thread{'s' if threads != 1 else ''})")
    try:
        return BatchedEngine(path, threads=threads, cache_dir=cache_dir(config.cache_dir) / "kv", stable_messages=stable_messages)
    except EngineError as error:
        raise ModelError(str(error)) from None


def make_client(config: Config, progress: Progress | None = None, stable_messages: int | None = None, *,
                pool: ModelPool | None = None, on_tokens: TokenProgress | None = None) -> ModelClient:
    """The client the configuration asks for; an embedded model is loaded into `pool`.
    `on_tokens` is told the tokens the embedded engine has decoded so far (the other
    backends answer whole: an endpoint is not streamed, a cassette replays)."""
    sampling = Sampling(temperature=config.temperature, max_tokens=config.max_tokens)
    if config.backend == "endpoint":
        # a model the user named is sent as named; none named: the server's own (its /models)
        named = config.sources.get("model", "default") != "default"
        return EndpointClient(config.model if named else None, config.base_url, sampling)
    if config.backend == "cassette":
        if not config.cassette:
            raise ModelError("the cassette backend needs BABEL_CASSETTE=FILE")
        return CassetteClient(Path(config.cassette), sampling=sampling)
    # the embedded engine needs the embedded extra (llama.cpp, numpy): imported only when used
    from babel.model.embedded import ModelMissing, model_file
    from babel.model.engine import EngineClient

    try:
        path = Path(config.model_path) if config.model_path else model_file(config.model, config.cache_dir, progress)
    except ModelMissing as error:
        raise ModelError(str(error)) from None
    if pool is None:
        return EngineClient(load_engine(path, config, stable_messages, progress), name=path.name, sampling=sampling, owns_engine=True,
                            on_tokens=on_tokens)
    return EngineClient(pool.engine(path, config, stable_messages, progress), name=path.name, sampling=sampling, on_tokens=on_tokens)
