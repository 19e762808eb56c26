"""The embedded engine with the real model: k candidates together, and its on-disk prefix cache.

Only the compiler's immutable prefix (system prompt and fixed examples) is kept on disk,
once, however many requests pass; a second engine reuses it; the directory keeps only the
newest few prefixes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from babel.compiler.compile import STABLE_MESSAGES, WorkspaceFacts, build_messages, hinted
from babel.lang.isa import model_schema
from babel.model.embedded import model_file
from babel.model.engine import BatchedEngine
from babel.skills import load_skills, skill_dirs
from babel.verify.policy import Policy

pytestmark = pytest.mark.model
SKILL_NAMES = tuple(sorted(load_skills(skill_dirs()).skills))  # the built-in skills a plan may call


def _messages(request: str) -> list[dict[str, str]]:
    return build_messages(request, WorkspaceFacts(files=("notes.txt", "src/app.py")), Policy())


def test_only_the_immutable_prefix_is_kept_on_disk_and_reused(tmp_path: Path) -> None:
    kv = tmp_path / "kv"
    kv.mkdir()
    for n in range(6):  # prefixes of earlier policies: only the newest few survive a save
        old = kv / f"prefix-old{n}.kv"
        old.write_bytes(b"x")
        os.utime(old, (1_000_000 + n, 1_000_000 + n))
    engine = BatchedEngine(model_file("qwen2.5-coder-0.5b"), threads=2, cache_dir=kv, stable_messages=STABLE_MESSAGES)
    schema = model_schema(SKILL_NAMES)
    try:
        first = engine.generate(_messages("how many lines does notes.txt have?"), n=3, temperatures=[0.0, 0.7, 0.7],
                                seeds=[0, 1, 2], schema=schema, max_tokens=96)
        engine.generate(_messages("list the python files"), n=1, schema=schema, max_tokens=96)
    finally:
        engine.close()
    assert len(first) == 3 and all(g.text.startswith("{") for g in first)
    saved = sorted(kv.glob("prefix-*.kv"))
    assert len(saved) == BatchedEngine.KEEP_PREFIXES
    new = [p for p in saved if "old" not in p.name]
    assert len(new) == 1 and new[0].stat().st_size > 1_000_000  # one prefix for two requests
    # a new engine (a new process, in real use) starts from the saved prefix and decodes the same greedy plan
    again = BatchedEngine(model_file("qwen2.5-coder-0.5b"), threads=2, cache_dir=kv, stable_messages=STABLE_MESSAGES)
    try:
        assert again._load_prefix(again.tokenize(again.format_chat(_messages("x")[:STABLE_MESSAGES], add_generation_prompt=False)))
        repeat = again.generate(_messages("how many lines does notes.txt have?"), n=1, schema=schema, max_tokens=96)
    finally:
        again.close()
    assert repeat[0].text == first[0].text


def test_prompt_variants_share_the_prompt_and_decode_their_own_tails(tmp_path: Path) -> None:
    request = "how many lines does notes.txt have?"
    messages = _messages(request)
    variant = hinted(messages, request)
    engine = BatchedEngine(model_file("qwen2.5-coder-0.5b"), threads=2, cache_dir=tmp_path, stable_messages=STABLE_MESSAGES)
    schema = model_schema(SKILL_NAMES)
    try:
        both = engine.generate(messages, n=3, temperatures=[0.0, 0.7, 0.0], seeds=[0, 1, 2], schema=schema, max_tokens=96,
                               variants=[variant], variant_of=[0, 0, 1])
        alone = engine.generate(variant, n=1, schema=schema, max_tokens=96)
        after = engine.generate(messages, n=1, schema=schema, max_tokens=96)  # the cache is sound after variants
    finally:
        engine.close()
    assert both[2].prompt_tokens > both[0].prompt_tokens == both[1].prompt_tokens == after[0].prompt_tokens
    assert all(json.loads(g.text)["steps"] for g in [*both, *alone, *after])
    assert alone[0].prompt_tokens == both[2].prompt_tokens


def test_the_reviewer_finds_a_request_likelier_under_the_plan_that_does_it(tmp_path: Path) -> None:
    from babel.compiler.review import review_chat
    from babel.lang.plan import parse_plan

    engine = BatchedEngine(model_file("qwen2.5-coder-0.5b"), threads=2, cache_dir=tmp_path, stable_messages=STABLE_MESSAGES)
    plans = [parse_plan(f"exec {json.dumps(cmd)}").plan for cmd in ("find . -type f -mtime -7", "find . -type f")]
    assert all(plans)
    request = "find the files modified in the last 7 days"
    try:
        right, loose = engine.score([review_chat(p, "/workspace") for p in plans if p], [request, request])
        warm = engine.score([review_chat(plans[0], "/workspace")], [request])  # type: ignore[arg-type]
        engine.forget_prompt()
        again = engine.score([review_chat(plans[0], "/workspace")], [request])  # type: ignore[arg-type]
        after = engine.generate(_messages("how many lines does notes.txt have?"), n=1, max_tokens=16)  # generation still works
    finally:
        engine.close()
    assert right > loose and right < 0
    assert again == [right]  # teacher-forced: nothing is sampled, so the same cells give the same score
    # from the cells an earlier score left (decoded in another batch split) it differs by rounding only: the AVX-512
    # kernels (skylakex, icelake) round differently by batch split, 0.29 of -14.7 here, haswell's by less than 0.25
    assert abs(warm[0] - right) < 0.05 * abs(right)
    assert warm[0] > loose
    assert after[0].completion_tokens > 0


def test_a_score_call_keeps_the_cells_of_the_cached_prompt(tmp_path: Path) -> None:
    from babel.compiler.review import review_chat
    from babel.lang.plan import parse_plan

    engine = BatchedEngine(model_file("qwen2.5-coder-0.5b"), threads=2, cache_dir=tmp_path, stable_messages=STABLE_MESSAGES)
    plan = parse_plan('exec "wc -l < notes.txt"').plan
    assert plan is not None
    messages = _messages("how many lines does notes.txt have?")
    try:
        first = engine.generate(messages, n=1, max_tokens=16)
        cached = engine.L.llama_memory_seq_pos_max(engine.mem, 0)  # the prompt's cells, which sequence 0 holds
        engine.score([review_chat(plan, "/workspace")], ["count the lines of notes.txt"])
        kept = engine.L.llama_memory_seq_pos_max(engine.mem, 0)
        again = engine.generate(messages, n=1, max_tokens=16)  # from the kept cells
    finally:
        engine.close()
    assert cached > 1000 and kept == cached
    assert again[0].text == first[0].text
