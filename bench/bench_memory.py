"""Babel against the naive full-history baseline: success, context tokens and wall time per task.

    babel eval SUITE --json > babel.jsonl
    babel eval SUITE --naive --json > naive.jsonl
    python bench/bench_memory.py babel.jsonl naive.jsonl [--by-tag files-]

Reads the two runs' records (`babel eval --json`: each task's `passed`, `latency_s`,
`context_tokens` and `prefilled_tokens`, metered over every model call) and prints, for
each run and for the tasks both ran: tasks passed, context tokens sent and prefilled per
task (median and mean), wall time per task, and the ratio of the baseline's tokens to
Babel's. With `--by-tag PREFIX`, one row per tag starting with PREFIX (the memory
suite's `files-10`, `files-100`, `files-1000`): the growth curve.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any


def records(path: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("{"):
            record = json.loads(line)
            out[record["id"]] = record
    return out


def row(name: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return f"| {name} | 0 | | | | |"
    sent = [r.get("context_tokens", 0) for r in rows]
    filled = [r.get("prefilled_tokens", 0) for r in rows]
    wall = [r.get("latency_s", 0.0) for r in rows]
    return (f"| {name} | {sum(r['passed'] for r in rows)}/{len(rows)} | {statistics.median(sent):.0f} / {statistics.mean(sent):.0f} | "
            f"{statistics.median(filled):.0f} / {statistics.mean(filled):.0f} | {statistics.median(wall):.1f} | {max(sent)} |")


def ratio(babel: list[dict[str, Any]], naive: list[dict[str, Any]]) -> str:
    b = sum(r.get("context_tokens", 0) for r in babel)
    n = sum(r.get("context_tokens", 0) for r in naive)
    bp = sum(r.get("prefilled_tokens", 0) for r in babel)
    np_ = sum(r.get("prefilled_tokens", 0) for r in naive)
    return f"naive/Babel: sent {n / b:.2f}x, prefilled {np_ / bp:.2f}x" if b and bp else "naive/Babel: (no tokens metered)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("babel", type=Path)
    parser.add_argument("naive", type=Path)
    parser.add_argument("--by-tag", default=None, help="one row per tag with this prefix (needs the suite: --suite)")
    parser.add_argument("--suite", type=Path, default=None, help="the suite the runs were of (for --by-tag)")
    args = parser.parse_args()
    babel, naive = records(args.babel), records(args.naive)
    both = sorted(set(babel) & set(naive))
    print("| run | passed | context tokens sent a task (median / mean) | prefilled (median / mean) | wall s a task (median) | most sent |")
    print("|---|---|---|---|---|---|")
    groups: list[tuple[str, list[str]]] = [("all tasks both ran", both)]
    if args.by_tag and args.suite:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from babel.app import load_suite

        tags: dict[str, list[str]] = {}
        for task in load_suite(args.suite):
            for tag in task.tags:
                if tag.startswith(args.by_tag) and task.id in both:
                    tags.setdefault(tag, []).append(task.id)
        groups += sorted(tags.items(), key=lambda item: int("".join(c for c in item[0] if c.isdigit()) or 0))
    for name, ids in groups:
        print(row(f"Babel, {name}", [babel[i] for i in ids]))
        print(row(f"naive, {name}", [naive[i] for i in ids]))
    for name, ids in groups:
        print(f"{name}: {ratio([babel[i] for i in ids], [naive[i] for i in ids])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
