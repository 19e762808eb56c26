"""Wall time of k candidates against one, with the embedded engine (issue: k=5 ≤ 1.5× k=1).

For each request of a fixed set, a fresh prompt (different facts, so the suffix is
never cached from a previous call) is compiled with k = 1, 3 and 5 candidates; the
immutable prefix is warm, as it is in every call after the first. Prints a markdown
table of median wall time per k and the ratio to k = 1.

    python bench/bench_engine.py [--model PATH] [--threads 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel.compile import WorkspaceFacts, build_messages  # noqa: E402
from babel.engine import BatchedEngine  # noqa: E402
from babel.isa import model_schema  # noqa: E402
from babel.policy import Policy  # noqa: E402

REQUESTS = [
    ("how many data rows does reports/q3.csv have, not counting the header?", ("reports/q3.csv", "README.md")),
    ("list the names of the .log files, one per line, sorted", ("a/x.log", "b/y.log", "b/z.txt")),
    ("which python files import os? print the paths sorted", ("app/main.py", "app/util.py", "README.md")),
    ("count the lines containing ERROR in logs/app.log", ("logs/app.log", "logs/old.log")),
    ("replace every occurrence of localhost with db.internal in config.yaml", ("config.yaml", "main.py")),
    ("what is the sum of the amount column in sales.csv?", ("sales.csv", "notes.md")),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    model = args.model
    if model is None:
        from babel.embedded import ensure_model  # the assembled default model

        model = ensure_model()
    engine = BatchedEngine(Path(model), threads=args.threads, cache_dir=Path("/tmp/babel-bench-kv"))
    schema = model_schema()
    times: dict[int, list[float]] = {1: [], 3: [], 5: []}
    tokens: dict[int, list[int]] = {1: [], 3: [], 5: []}
    warm = build_messages("warm up", WorkspaceFacts(files=("x",)), Policy())
    engine.generate(warm, n=1, schema=schema, max_tokens=8)
    for round_ in range(args.repeat):
        for i, (request, files) in enumerate(REQUESTS):
            for k in (1, 3, 5):
                # a distinct listing per call, so no call reuses another's suffix
                facts = WorkspaceFacts(files=tuple(files) + (f"tmp/run-{round_}-{i}-{k}.txt",))
                messages = build_messages(request, facts, Policy())
                started = time.perf_counter()
                out = engine.generate(messages, n=k, temperatures=[0.0] + [0.7] * (k - 1), seeds=list(range(k)), schema=schema, max_tokens=256)
                times[k].append(time.perf_counter() - started)
                tokens[k].append(sum(o.completion_tokens for o in out))
    base = statistics.median(times[1])
    print("| k | median wall time (s) | ratio to k=1 | completion tokens (median, all candidates) |")
    print("|---|---|---|---|")
    for k in (1, 3, 5):
        med = statistics.median(times[k])
        print(f"| {k} | {med:.2f} | {med / base:.2f}× | {statistics.median(tokens[k]):.0f} |")


if __name__ == "__main__":
    main()
