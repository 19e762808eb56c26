"""Task success and cost on the public suite, for several decoder settings.

    python bench/bench_eval.py [--suite bench/suite] [--model NAME] [--configs k1,k3,k5,k5-noexec,k5-norepair]
                               [--snapshot]

Runs `babel eval --json` once per configuration and prints a markdown table: tasks
passed, median and total latency per task, completion tokens and model calls per task.
Each configuration's per-task records are kept in bench/out/<model>-<config>.jsonl.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = {
    "k1": ["-k", "1", "--no-repair"],
    "k1-repair": ["-k", "1"],
    "k3": ["-k", "3"],
    "k5": ["-k", "5"],
    "k3-noexec": ["-k", "3", "--no-execute"],
    "k5-noexec": ["-k", "5", "--no-execute"],
    "k5-norepair": ["-k", "5", "--no-repair"],
    "k3-norepair": ["-k", "3", "--no-repair"],
    "k5-variants": ["-k", "5", "--variants"],
    "k5-review": ["-k", "5", "--review"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", default="bench/suite")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--configs", default="k1,k3,k5,k5-noexec,k5-norepair")
    args = parser.parse_args()
    out_dir = Path(__file__).parent / "out"
    out_dir.mkdir(exist_ok=True)
    print("| model | config | passed | same plans without repair | median s/task | total s | completion tokens/task | model calls/task |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.configs.split(","):
        suite = Path(args.suite).name
        out = out_dir / (f"{args.model}-{name}.jsonl" if suite == "suite" else f"{args.model}-{suite}-{name}.jsonl")
        started = time.perf_counter()
        with out.open("w") as handle:
            subprocess.run([sys.executable, "-m", "babel.cli", "eval", args.suite, "--json", "--model", args.model, *CONFIGS[name]],
                           stdout=handle, stderr=subprocess.DEVNULL, check=False)
        total = time.perf_counter() - started
        records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        passed = sum(r["passed"] for r in records)
        unrepaired = sum(r["passed"] if r.get("passed_without_repair") is None else r["passed_without_repair"] for r in records)
        median = statistics.median(r["latency_s"] for r in records) if records else 0.0
        tokens = statistics.mean(r["completion_tokens"] for r in records) if records else 0.0
        calls = statistics.mean(r["model_calls"] for r in records) if records else 0.0
        n = len(records)
        print(f"| {args.model} | {name} | {passed}/{n} | {unrepaired}/{n} | {median:.1f} | {total:.0f} | {tokens:.0f} | {calls:.2f} |", flush=True)


if __name__ == "__main__":
    main()
