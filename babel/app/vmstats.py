"""What context memory did: the page table (`babel vm pages`) and a run's counts by stage
(`babel vm stats RUN`), read from the state directory and the run's trace.

A run's trace holds all of it: the compile stage's tokens are in its run_start (`tokens`,
as `babel do` records them), and each step that paged carries its own counts in its
detail (`memory`: faults, hits, evictions, write-backs, the tokens its model calls'
contexts held; babel.vm.pages). Nothing here asks the vm: a finished run's numbers
come from what it wrote down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.vm import PageStore

COUNTS = ("faults", "hits", "reused", "invalidated", "evictions", "writebacks", "model_calls", "tokens_sent")


def page_table(path: Path) -> list[dict[str, Any]]:
    """The rows of the page table at `path` (Paths.pages), newest use first: source, id,
    hash, tokens, pinned, dirty, reserved, last use, uses, and whether its text is stored
    (a file page's is not: its file is its text). No file yet: no rows."""
    if not path.is_file():
        return []
    store = PageStore(path)
    try:
        return store.rows()
    finally:
        store.close()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def run_stats(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A run's context memory, by stage: compile (the compiler's prompt and completion
    tokens), execute (the steps' paging counts and model calls), and each step that paged."""
    start = next((e for e in events if e.get("event") == "run_start"), {})
    tokens = _dict(start.get("tokens"))
    execute: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    execute["peak_resident"] = 0
    execute["model_op_context_tokens"] = 0
    steps = []
    for event in events:
        if event.get("event") != "step":
            continue
        detail = _dict(event.get("detail"))
        paging = _dict(detail.get("memory"))
        for key in COUNTS:
            execute[key] += int(paging.get(key, 0))
        execute["peak_resident"] = max(execute["peak_resident"], int(paging.get("peak_resident", 0)))
        if isinstance(detail.get("context_tokens"), int):
            execute["model_op_context_tokens"] += detail["context_tokens"]
        if paging or "page" in detail:
            steps.append({"id": event.get("id"), "op": event.get("op"), "status": event.get("status"),
                          **({"page": detail["page"], "source": detail.get("source"), "tokens": detail.get("tokens")} if "page" in detail else {}),
                          **{k: v for k, v in paging.items() if v}})
    budgets = _dict(_dict(start.get("policy")).get("budgets"))
    return {
        "run_id": start.get("run_id"),
        "request": start.get("request"),
        "budget": budgets.get("context_tokens"),
        "stages": {"compile": {"prompt_tokens": tokens.get("prompt"), "completion_tokens": tokens.get("completion")}, "execute": execute},
        "steps": steps,
    }
