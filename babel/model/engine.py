"""The embedded engine: k constrained candidates decoded together, on the CPU.

Compilation asks for k candidates of the same prompt. Decoding them one after the
other costs k times the tokens; here they are decoded as k sequences of one llama.cpp
batch that share the prompt's KV cells, so a step of k tokens costs little more than
a step of one on a memory-bound CPU. Each sequence has its own sampler (greedy for
the first, seeded sampling for the rest) and its own JSON-schema grammar; the grammar
is checked on the chosen token only, and applied to the whole vocabulary only when
the chosen token is invalid (as llama.cpp's own common sampler does), because masking
150k tokens per step is what makes constrained decoding slow.

The prompt's immutable prefix (system prompt and few-shot examples) is evaluated once
and its KV state kept on disk, keyed by the model and the prefix tokens, so a new
process starts from it instead of paying for it again; within a process, the longest
common prefix with the previous prompt is kept in the cache (scoring a text, which
decodes into a sequence of its own, leaves it there). `EngineClient` is the engine's
backend of the model port (babel.model.port).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from babel.model.port import Capabilities, Completion, ModelError, ModelRequest, ModelResult, Sampling, TokenProgress


@dataclass(frozen=True)
class Generated:
    text: str
    prompt_tokens: int
    completion_tokens: int
    logprob: float  # sum of the chosen tokens' log-probabilities under the unconstrained model
    finished: bool  # the grammar completed (or EOS without a grammar)
    model: str = ""
    latency_s: float = 0.0
    prefilled: int = 0  # the prompt's tokens this call computed (the rest were kept cells or a saved prefix)


class EngineError(RuntimeError):
    pass


def _lib() -> Any:
    try:
        import llama_cpp
    except ImportError as error:  # pragma: no cover - depends on the install
        raise EngineError("the embedded engine needs llama-cpp-python: pip install 'llama-cpp-python[server]'") from error
    return llama_cpp


class BatchedEngine:
    """One model, one context, up to `max_seqs` sequences decoded together."""

    #: How many prefix KV files the cache directory keeps (newest first); each is ~20 MB.
    KEEP_PREFIXES = 4

    def __init__(self, model_path: Path, *, n_ctx: int = 8192, threads: int | None = None, max_seqs: int = 8,
                 cache_dir: Path | None = None, stable_messages: int | None = None) -> None:
        """`stable_messages`: how many leading chat messages are the caller's immutable
        prefix (the same on every call). Only their KV state is kept on disk; without it,
        all messages but the last are taken as the prefix and nothing is kept on disk."""
        L = _lib()
        self.L = L
        self.model_path = Path(model_path)
        self.max_seqs = max_seqs
        self.cache_dir = cache_dir
        self.stable_messages = stable_messages
        self._lock = threading.Lock()
        L.llama_backend_init()
        self.kernels = cpu_kernels(L)  # (it silences llama.cpp's logging first)
        mparams = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(str(self.model_path).encode(), mparams)
        if not self.model:
            raise EngineError(f"cannot load the model {self.model_path}: is it a GGUF file?")
        cparams = L.llama_context_default_params()
        threads = threads or max(1, min(os.cpu_count() or 1, 4))
        cparams.n_ctx = n_ctx
        cparams.n_batch = 512
        cparams.n_ubatch = 512
        cparams.n_seq_max = max_seqs
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.kv_unified = True  # the sequences share the prompt's cells
        self.ctx = L.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            raise EngineError("cannot create a llama.cpp context (out of memory?)")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.mem = L.llama_get_memory(self.ctx)
        self.batch = L.llama_batch_init(512, 0, max_seqs)
        self._cached: list[int] = []  # prompt tokens whose KV cells all sequences share
        self._cached_seqs = 0
        self._scored: list[int] = []  # the tokens whose cells the scoring sequence (the last) holds
        self._one = (L.llama_token_data * 1)()
        self._one_array = L.llama_token_data_array(self._one, 1, -1, False)
        self.chat_template = self._metadata("tokenizer.chat_template")
        self.eos = L.llama_vocab_eos(self.vocab)
        self.model_id = f"{self.model_path.name}:{self.model_path.stat().st_size}"
        self._kv_key = f"{self.model_id}:{self.kernels}"  # KV state computed by other kernels differs in its last bits
        self._all_tokens = np.zeros(self.n_vocab, dtype=np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)]))
        self.slow_path = 0  # how often the grammar had to mask the whole vocabulary

    def forget_prompt(self) -> None:
        """Drop the in-memory prompt cells, as if the next prompt were a new request in a
        new process (the stable prefix then comes from disk). For benchmarks."""
        self._cached = []
        self._scored = []

    # ---- text and tokens ---------------------------------------------------------
    def _metadata(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(1 << 16)
        n = self.L.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", errors="replace") if n >= 0 else None

    def tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        buf = (self.L.llama_token * (len(data) + 16))()
        n = self.L.llama_tokenize(self.vocab, data, len(data), buf, len(buf), False, True)
        if n < 0:
            raise EngineError("tokenization failed")
        return list(buf[:n])

    def piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self.L.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.L.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        return buf.raw[:n]

    def format_chat(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The prompt text for a chat; ChatML for Qwen-style templates, else the model's template."""
        template = self.chat_template or ""
        if "<|im_start|>" in template or not template:
            text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        formatter = Jinja2ChatFormatter(template=template, eos_token="", bos_token="", add_generation_prompt=add_generation_prompt)
        return str(formatter(messages=messages).prompt)  # type: ignore[arg-type]

    # ---- the KV cache -----------------------------------------------------------
    def _decode(self, tokens: list[int], start: int, seqs: int | list[int], want_last: bool, logits_from: int | None = None) -> None:
        """Decode tokens at positions start.. into sequences `seqs`, in batches of 512. The
        logits kept are the last token's (`want_last`) and, within a call of at most 512
        tokens, those of every position from `logits_from` on (batch index = offset)."""
        L = self.L
        ids = list(range(seqs)) if isinstance(seqs, int) else seqs
        for offset in range(0, len(tokens), 512):
            chunk = tokens[offset:offset + 512]
            self.batch.n_tokens = 0
            for i, token in enumerate(chunk):
                j = self.batch.n_tokens
                self.batch.token[j] = token
                self.batch.pos[j] = start + offset + i
                self.batch.n_seq_id[j] = len(ids)
                for m, s in enumerate(ids):
                    self.batch.seq_id[j][m] = s
                last = want_last and offset + i == len(tokens) - 1
                self.batch.logits[j] = 1 if last or (logits_from is not None and start + offset + i >= logits_from) else 0
                self.batch.n_tokens += 1
            if L.llama_decode(self.ctx, self.batch) != 0:
                raise EngineError("llama_decode failed (the context is full?)")

    def _prefix_file(self, prefix: list[int]) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256((self._kv_key + json.dumps(prefix)).encode()).hexdigest()[:24]
        return self.cache_dir / f"prefix-{digest}.kv"

    def _prepare(self, prefix: list[int], suffix: list[int], seqs: int, persist: bool = False, want_last: bool = True) -> int:
        """Make the KV cache hold prefix+suffix for sequences 0..seqs-1, reusing what it can
        (the cells of the previous prompt it shares, else the prefix's saved state when
        `persist`, which also saves a prefix it had to compute). Returns how many tokens it computed."""
        L = self.L
        self._scored = []  # every sequence but the shared prompt's is cleared below
        prompt = prefix + suffix
        common = 0
        for a, b in zip(self._cached, prompt, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(prompt) - 1)  # the last token is always decoded, for its logits
        if persist and common < len(prefix) and self._load_prefix(prefix):
            common = len(prefix)
        computed = len(prompt) - common
        L.llama_memory_seq_rm(self.mem, -1, common, -1)  # everything after the shared part, all sequences
        for s in range(seqs, self.max_seqs):
            L.llama_memory_seq_rm(self.mem, s, -1, -1)
        for s in range(1, seqs):
            L.llama_memory_seq_rm(self.mem, s, -1, -1)
            if common:
                L.llama_memory_seq_cp(self.mem, 0, s, 0, common)
        if common < len(prefix):
            self._decode(prefix[common:], common, seqs, want_last=False)
            if persist:
                self._save_prefix(prefix)
            common = len(prefix)
        self._decode(prompt[common:], common, seqs, want_last=want_last)
        self._cached = prompt
        self._cached_seqs = seqs
        return computed

    def _load_prefix(self, prefix: list[int]) -> bool:
        path = self._prefix_file(prefix)
        if path is None or not path.exists():
            return False
        L = self.L
        L.llama_memory_clear(self.mem, True)
        tokens = (L.llama_token * (len(prefix) + 1))()
        count = ctypes.c_size_t(0)
        read = L.llama_state_seq_load_file(self.ctx, str(path).encode(), 0, tokens, len(tokens), ctypes.byref(count))
        if read == 0 or list(tokens[: count.value]) != prefix:
            L.llama_memory_clear(self.mem, True)
            self._cached = []
            return False
        self._cached = list(prefix)
        return True

    def _save_prefix(self, prefix: list[int]) -> None:
        path = self._prefix_file(prefix)
        if path is None or path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tokens = (self.L.llama_token * len(prefix))(*prefix)
        if self.L.llama_state_seq_save_file(self.ctx, str(tmp).encode(), 0, tokens, len(prefix)):
            tmp.replace(path)
        else:
            tmp.unlink(missing_ok=True)
        # a new policy or skill index makes a new prefix: keep the newest few, not every one ever seen
        saved = sorted(path.parent.glob("prefix-*.kv"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in saved[self.KEEP_PREFIXES:]:
            old.unlink(missing_ok=True)

    # ---- sampling ------------------------------------------------------------
    def _grammar(self, gbnf: str | None) -> Any:
        if gbnf is None:
            return None
        sampler = self.L.llama_sampler_init_grammar(self.vocab, gbnf.encode(), b"root")
        if not sampler:
            raise EngineError("the JSON schema could not be turned into a grammar")
        return sampler

    def _allowed(self, grammar: Any, token: int) -> bool:
        self._one[0].id = token
        self._one[0].logit = 0.0
        self._one[0].p = 0.0
        self._one_array.size = 1
        self._one_array.selected = -1
        self._one_array.sorted = False
        self.L.llama_sampler_apply(grammar, ctypes.byref(self._one_array))
        return bool(math.isfinite(self._one[0].logit))

    def _full_mask(self, grammar: Any, logits: np.ndarray) -> np.ndarray:
        """The slow path: the grammar applied to every token (vectorised, one C call)."""
        L = self.L
        self.slow_path += 1
        data = self._all_tokens
        data["id"] = np.arange(self.n_vocab, dtype=np.int32)
        data["logit"] = logits
        data["p"] = 0.0
        array = L.llama_token_data_array(data.ctypes.data_as(ctypes.POINTER(L.llama_token_data)), self.n_vocab, -1, False)
        L.llama_sampler_apply(grammar, ctypes.byref(array))
        masked = np.full(self.n_vocab, -np.inf, dtype=np.float32)
        kept = data[: array.size]
        masked[kept["id"]] = kept["logit"]
        return masked

    def _choose(self, logits: np.ndarray, grammar: Any, temperature: float, rng: np.random.Generator, top_k: int = 40) -> int:
        top = np.argpartition(-logits, top_k)[:top_k]
        top = top[np.argsort(-logits[top])]
        if temperature <= 0:
            order = list(top)
        else:
            scaled = (logits[top] - logits[top[0]]) / temperature
            probs = np.exp(scaled)
            probs /= probs.sum()
            # nucleus: keep the smallest set of tokens with 95% of the mass
            keep = int(np.searchsorted(np.cumsum(probs), 0.95) + 1)
            candidates, weights = top[:keep], probs[:keep] / probs[:keep].sum()
            order = list(rng.choice(candidates, size=len(candidates), replace=False, p=weights))
        for token in order:
            if grammar is None or self._allowed(grammar, int(token)):
                return int(token)
        masked = self._full_mask(grammar, logits) if grammar is not None else logits
        if not np.isfinite(masked).any():
            return int(self.eos)
        if temperature <= 0:
            return int(np.argmax(masked))
        finite = np.isfinite(masked)
        scaled = np.where(finite, (masked - masked[finite].max()) / temperature, -np.inf)
        probs = np.exp(scaled)
        probs /= probs.sum()
        return int(rng.choice(self.n_vocab, p=probs))

    # ---- generation ----------------------------------------------------------
    def generate(self, messages: list[dict[str, str]], *, n: int = 1, temperatures: list[float] | None = None,
                 seeds: list[int] | None = None, schema: dict[str, Any] | None = None, max_tokens: int = 384,
                 variants: list[list[dict[str, str]]] | None = None, variant_of: list[int] | None = None,
                 on_tokens: Callable[[int], None] | None = None) -> list[Generated]:
        """n completions of one chat, decoded together; the prompt's KV cells are shared.

        `variants` are other versions of the chat (prompt variants, typically differing
        in the last message); sequence s decodes chat `variant_of[s]` (0 is `messages`,
        i is `variants[i - 1]`). The variants share the cells of their common tokens, so
        a variant costs only the tokens where it differs. `on_tokens`, if given, is told the
        tokens decoded so far (all sequences together) after each step: progress only, the
        output does not depend on it.
        """
        if n < 1 or n > self.max_seqs:
            raise EngineError(f"n must be between 1 and {self.max_seqs}")
        chats = [messages, *(variants or [])]
        variant_of = variant_of or [0] * n
        if len(variant_of) != n or any(not 0 <= v < len(chats) for v in variant_of):
            raise EngineError("variant_of must name a chat for each of the n sequences")
        temperatures = temperatures or [0.0] * n
        seeds = seeds or list(range(n))
        with self._lock:
            return self._generate(chats, variant_of, n, temperatures, seeds, schema, max_tokens, on_tokens)

    def _generate(self, chats: list[list[dict[str, str]]], variant_of: list[int], n: int, temperatures: list[float],
                  seeds: list[int], schema: dict[str, Any] | None, max_tokens: int,
                  on_tokens: Callable[[int], None] | None = None) -> list[Generated]:
        L = self.L
        started = time.perf_counter()
        messages = chats[0]
        fulls = [self.format_chat(chat) for chat in chats]
        stable = self.stable_messages is not None and 0 < self.stable_messages < len(messages)
        cut = self.stable_messages if stable and self.stable_messages is not None else len(messages) - 1
        head = self.format_chat(messages[:cut], add_generation_prompt=False) if cut > 0 else ""
        prefix = self.tokenize(head) if head and all(full.startswith(head) for full in fulls) else []
        suffixes = [self.tokenize(full[len(head):] if prefix else full) for full in fulls]
        used = sorted(set(variant_of))
        # the suffix tokens all used variants share (all of it when there is one)
        shared = len(suffixes[used[0]])
        for v in used[1:]:
            first, other = suffixes[used[0]], suffixes[v]
            same = next((i for i, (a, b) in enumerate(zip(first, other, strict=False)) if a != b), min(len(first), len(other)))
            shared = min(shared, same, len(other) - 1, len(first) - 1)  # each variant decodes at least its last token
        if len(used) > 1 and not prefix and shared <= 0:
            raise EngineError("prompt variants must share their first tokens")
        prompt_lens = [len(prefix) + len(suffixes[variant_of[s]]) for s in range(n)]
        gbnf = _schema_to_gbnf(schema) if schema is not None else None
        grammars = [self._grammar(gbnf) for _ in range(n)]
        rngs = [np.random.default_rng(seed) for seed in seeds]
        try:
            # Sequences whose tokens are the same so far form one branch: its token is
            # decoded once, in a cell tagged with all their sequence ids, so k candidates
            # that agree cost what one does; a branch splits where its members' choices
            # differ. A branch is (members, its logits: an index in the last batch or an
            # array, the position of its next token).
            branches: list[tuple[list[int], int | np.ndarray, int]] = []
            if len(used) == 1:
                prefilled = self._prepare(prefix, suffixes[used[0]], n, persist=stable)
                branches.append((list(range(n)), self.batch.n_tokens - 1, prompt_lens[0]))
            else:
                prefilled = self._prepare(prefix, suffixes[used[0]][:shared], n, persist=stable, want_last=False)
                for v in used:
                    members = [s for s in range(n) if variant_of[s] == v]
                    prefilled += len(suffixes[v]) - shared
                    self._decode(suffixes[v][shared:], len(prefix) + shared, members, want_last=True)
                    raw = L.llama_get_logits_ith(self.ctx, self.batch.n_tokens - 1)
                    logits = np.ctypeslib.as_array(raw, shape=(self.n_vocab,)).astype(np.float32, copy=True)
                    branches.append((members, logits, len(prefix) + len(suffixes[v])))
            outputs: list[list[int]] = [[] for _ in range(n)]
            logprobs = [0.0] * n
            finished = [False] * n
            for _ in range(max_tokens):
                next_branches: dict[tuple[int, int], tuple[list[int], int]] = {}
                for number, (members, source, pos) in enumerate(branches):
                    if isinstance(source, np.ndarray):
                        logits = source
                    else:
                        raw = L.llama_get_logits_ith(self.ctx, source)
                        logits = np.ctypeslib.as_array(raw, shape=(self.n_vocab,)).astype(np.float32, copy=True)
                    peak = float(logits.max())
                    log_norm = peak + math.log(float(np.exp(logits - peak).sum()))
                    for s in members:
                        token = self._choose(logits, grammars[s], temperatures[s], rngs[s])
                        logprobs[s] += float(logits[token]) - log_norm
                        if L.llama_vocab_is_eog(self.vocab, token):
                            finished[s] = True
                            continue
                        if grammars[s] is not None:
                            L.llama_sampler_accept(grammars[s], token)
                        outputs[s].append(token)
                        next_branches.setdefault((number, token), ([], pos))[0].append(s)
                if on_tokens is not None:
                    on_tokens(sum(len(output) for output in outputs))
                if not next_branches:
                    break
                self.batch.n_tokens = 0
                branches = []
                for (_, token), (members, pos) in next_branches.items():
                    j = self.batch.n_tokens
                    self.batch.token[j] = token
                    self.batch.pos[j] = pos
                    self.batch.n_seq_id[j] = len(members)
                    for m, s in enumerate(members):
                        self.batch.seq_id[j][m] = s
                    self.batch.logits[j] = 1
                    self.batch.n_tokens += 1
                    branches.append((members, j, pos + 1))
                if L.llama_decode(self.ctx, self.batch) != 0:
                    raise EngineError("llama_decode failed (the context is full?)")
            # the generated cells, and each variant's own prompt tail, are not part of any later prompt
            L.llama_memory_seq_rm(self.mem, -1, len(prefix) + shared, -1)
            self._cached = (prefix + suffixes[used[0]])[: len(prefix) + shared]
        finally:
            for grammar in grammars:
                if grammar is not None:
                    L.llama_sampler_free(grammar)
        elapsed = round(time.perf_counter() - started, 3)
        return [
            Generated(b"".join(self.piece(t) for t in outputs[s]).decode("utf-8", errors="replace"),
                      prompt_lens[s], len(outputs[s]), logprobs[s], finished[s], self.model_path.name, elapsed, prefilled)
            for s in range(n)
        ]

    def score(self, chats: list[list[dict[str, str]]], targets: list[str]) -> list[float]:
        """The log-probability of each target text as the assistant's reply to its chat (see `score_counted`)."""
        return [score for score, _, _ in self.score_counted(chats, targets)]

    def score_counted(self, chats: list[list[dict[str, str]]], targets: list[str]) -> list[tuple[float, int, int]]:
        """The log-probability of each target text as the assistant's reply to its chat,
        with the tokens of chat and reply and how many of them this call computed;
        teacher-forced (nothing is sampled). It decodes into one sequence of its own (the
        last), so the cells of the previous prompt, which sequence 0 holds, stay for the next
        `generate`; and it keeps that sequence's cells between calls, so a chat scored against
        several targets, or chats that share a beginning (one code excerpt asked several
        questions), prefill their common part once."""
        if len(chats) != len(targets):
            raise EngineError("score needs one target per chat")
        with self._lock:
            L = self.L
            seq = self.max_seqs - 1
            scores: list[tuple[float, int, int]] = []
            for chat, target in zip(chats, targets, strict=True):
                prompt = self.tokenize(self.format_chat(chat))
                tokens = prompt + self.tokenize(target)
                common = 0
                for a, b in zip(self._scored, tokens, strict=False):
                    if a != b:
                        break
                    common += 1
                common = min(common, len(prompt) - 1)  # the logits from the prompt's last token on are needed
                L.llama_memory_seq_rm(self.mem, seq, common, -1)
                self._scored = tokens[:common]
                total = 0.0
                for offset in range(common, len(tokens), 512):
                    chunk = tokens[offset:offset + 512]
                    # the logits at position p predict the token at p + 1: from the prompt's last token on
                    self._decode(chunk, offset, [seq], want_last=False, logits_from=len(prompt) - 1)
                    for j in range(len(chunk)):
                        pos = offset + j
                        if not len(prompt) - 1 <= pos < len(tokens) - 1:
                            continue
                        logits = np.ctypeslib.as_array(L.llama_get_logits_ith(self.ctx, j), shape=(self.n_vocab,))
                        peak = float(logits.max())
                        total += float(logits[tokens[pos + 1]]) - peak - math.log(float(np.exp(logits - peak).sum()))
                self._scored = tokens
                scores.append((round(total, 4), len(tokens), len(tokens) - common))
            return scores

    def close(self) -> None:
        L = self.L
        if getattr(self, "batch", None) is not None:
            L.llama_batch_free(self.batch)
            self.batch = None
        if getattr(self, "ctx", None):
            L.llama_free(self.ctx)
            self.ctx = None
        if getattr(self, "model", None):
            L.llama_model_free(self.model)
            self.model = None


_LOG_CALLBACK: Any = None


def cpu_kernels(L: Any) -> str:
    """The CPU kernels llama.cpp runs with. A runtime-dispatch build (GGML_BACKEND_DL with
    GGML_CPU_ALL_VARIANTS, what scripts/setup builds) ships one CPU backend per instruction
    set (libggml-cpu-haswell.so, -icelake, -sapphirerapids, ...) beside libggml.so and links
    none: ggml loads the one whose features this CPU has and that scores best, so one wheel
    runs the best kernels of any x86-64 CPU and never an instruction it lacks. Loaded once per
    process (ggml's registry is the process's own); "built-in" for a build that links one."""
    lib = Path(L.__file__).parent / "lib"
    _quiet(L)  # ggml says which backend it loaded on stderr
    if not any(lib.glob("libggml-cpu-*.so")):
        return "built-in"
    # the libggml libllama was linked with, by its soname (a wheel has no symlinks: libggml.so
    # is a copy of it, whose registry libllama would never see)
    ggml = ctypes.CDLL("libggml.so.0")
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    if ggml.ggml_backend_reg_count() == 0:
        chosen = os.environ.get("BABEL_CPU_KERNELS", "").strip()
        if chosen:  # one variant by name: for a CPU whose best variant misbehaves, and for benchmarks
            variant = lib / f"libggml-cpu-{chosen}.so"
            if not variant.is_file():
                have = sorted(p.name.removeprefix("libggml-cpu-").removesuffix(".so") for p in lib.glob("libggml-cpu-*.so"))
                raise EngineError(f"BABEL_CPU_KERNELS={chosen}: no such CPU variant (this build has {', '.join(have)})")
            ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
            ggml.ggml_backend_load.restype = ctypes.c_void_p
            if not ggml.ggml_backend_load(str(variant).encode()):
                raise EngineError(f"BABEL_CPU_KERNELS={chosen}: this CPU cannot run that variant (it lacks an instruction set it needs)")
        else:
            ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
            ggml.ggml_backend_load_all_from_path(str(lib).encode())
    if ggml.ggml_backend_reg_count() == 0:
        raise EngineError(f"llama.cpp found no CPU backend its CPU can run in {lib}: reinstall with ./scripts/setup")
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        loaded = {line.rsplit("/", 1)[-1].strip() for line in maps if "libggml-cpu-" in line}
    names = sorted(name.removeprefix("libggml-cpu-").split(".so")[0] for name in loaded)
    return ",".join(names) or "unknown"


def _quiet(L: Any) -> None:
    """Silence llama.cpp's own logging (it writes to stderr, under our progress output)."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is None:
        _LOG_CALLBACK = L.llama_log_callback(lambda level, text, data: None)
        L.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


def _schema_to_gbnf(schema: dict[str, Any]) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return str(json_schema_to_gbnf(json.dumps(schema)))


class EngineClient:
    """The model port over a BatchedEngine (the embedded backend). A request's samples are
    decoded together; the requests of one `submit` are answered one after the other. The
    engine belongs to whoever made it (a `ModelPool`), and is closed here only when
    `owns_engine`."""

    capabilities = Capabilities(generate_many=True, schema=True, score=True)

    def __init__(self, engine: BatchedEngine, name: str = "embedded", sampling: Sampling | None = None,
                 owns_engine: bool = False, on_tokens: TokenProgress | None = None) -> None:
        self.engine = engine
        self.on_tokens = on_tokens  # told the tokens decoded so far, for a live status; never changes an answer
        self.name = name
        self.sampling = sampling or Sampling()
        self.owns_engine = owns_engine

    def submit(self, requests: Sequence[ModelRequest]) -> list[ModelResult]:
        try:
            return [self._answer(request) for request in requests]
        except EngineError as error:
            raise ModelError(str(error)) from None

    def _answer(self, request: ModelRequest) -> ModelResult:
        if request.target is not None:
            score, tokens, computed = self.engine.score_counted([request.chats[0]], [request.target])[0]
            return ModelResult(score=score, prompt_tokens=tokens, prefilled=computed)
        samples = request.samples
        variants = list(request.chats[1:]) or None
        generated = self.engine.generate(request.chats[0], n=len(samples), temperatures=[s.temperature for s in samples],
                                         seeds=[s.seed for s in samples], schema=request.schema, max_tokens=request.max_tokens,
                                         variants=variants, variant_of=[s.chat for s in samples] if variants else None,
                                         on_tokens=self.on_tokens)
        return ModelResult(tuple(Completion(g.text, g.prompt_tokens, g.completion_tokens, g.logprob, g.model, g.latency_s, g.prefilled)
                                 for g in generated))

    def close(self) -> None:
        if self.owns_engine:
            self.engine.close()
