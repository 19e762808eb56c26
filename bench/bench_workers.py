"""Eval throughput with more workers: `babel eval -j N` here and `babel eval --ray local -j N`.

    python bench/bench_workers.py [--suite bench/suite] [--tasks 12] [--model qwen2.5-coder-0.5b] [-k 3]
                                  [--configs j1,j2,ray1,ray2]

Takes `--tasks` tasks spread over the suite (every n-th, so each theme is in), writes them to
one JSONL suite, and runs `babel eval` on it once per configuration, one after the other on
the same machine: tasks per minute of wall time (the model load and, for Ray, the cluster's
start included), tasks passed, and the ratio to the first configuration. `-j N` runs N tasks
on threads sharing one engine (model calls take turns; sandbox steps overlap them); `--ray
local -j N` starts a Ray cluster of N workers, each with its own engine on one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

CONFIGS = {
    "j1": ["-j", "1"],
    "j2": ["-j", "2"],
    "j4": ["-j", "4"],
    "ray1": ["--ray", "local", "-j", "1"],
    "ray2": ["--ray", "local", "-j", "2"],
    "ray4": ["--ray", "local", "-j", "4"],
}


def spread(suite: Path, count: int) -> list[dict[str, object]]:
    """`count` tasks of the suite, every n-th in file order."""
    tasks: list[dict[str, object]] = []
    for path in sorted(suite.glob("*.yaml")):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        tasks += loaded if isinstance(loaded, list) else [loaded]
    step = max(len(tasks) // count, 1)
    return tasks[::step][:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", default="bench/suite")
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("-k", default="3")
    parser.add_argument("--configs", default="j1,j2,ray1,ray2")
    args = parser.parse_args()
    tasks = spread(Path(args.suite), args.tasks)
    print(f"{len(tasks)} tasks of {args.suite}, {args.model}, k = {args.k}, {os.cpu_count()} CPUs", flush=True)
    print("| config | tasks/min | ratio | wall s | passed |")
    print("|---|---|---|---|---|", flush=True)
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "tasks.jsonl"
        suite.write_text("".join(json.dumps(task) + "\n" for task in tasks), encoding="utf-8")
        for name in args.configs.split(","):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "babel.cli", "eval", str(suite), "--json", "--model", args.model, "-k", args.k,
                                   *CONFIGS[name]], capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
            if len(records) != len(tasks):
                print(f"| {name} | failed (exit {done.returncode}, {len(records)} results) | | {wall:.0f} | |", flush=True)
                print(done.stderr[-2000:], file=sys.stderr)
                continue
            rate = len(tasks) / wall * 60
            first = first or rate
            print(f"| {name} | {rate:.2f} | {rate / first:.2f}× | {wall:.0f} | {sum(r['passed'] for r in records)}/{len(tasks)} |", flush=True)


if __name__ == "__main__":
    main()
