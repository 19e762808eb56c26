"""Wall time of k candidates against one, with the embedded engine (issue: k=5 ≤ 1.5× k=1).

For each request of a fixed set, a fresh prompt (different facts, so the suffix is
never cached from a previous call) is compiled with k = 1, 3 and 5 candidates laid out as
the compiler does (`babel.compiler.compile.layout`), and k = 5 with prompt variants (some
candidates decode the variant that spells out the answer's shape) for comparison;
every call starts from the immutable prefix's saved KV state, as a new request in a new
process does, and pays for the rest of its prompt. Prints a markdown
table of median wall time per configuration and the ratio to k = 1.

    python bench/bench_engine.py [--model PATH] [--threads 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel.compiler.compile import STABLE_MESSAGES, WorkspaceFacts, build_messages, hinted, layout  # noqa: E402
from babel.lang.isa import model_schema  # noqa: E402
from babel.model.engine import BatchedEngine  # noqa: E402
from babel.skills import load_skills, skill_dirs, skill_index  # noqa: E402
from babel.verify.policy import Policy  # noqa: E402

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
        from babel.model.config import Config
        from babel.model.embedded import model_file

        model = model_file(Config().model)  # the default embedded model, assembled on first use
    engine = BatchedEngine(Path(model), threads=args.threads, cache_dir=Path("/tmp/babel-bench-kv"), stable_messages=STABLE_MESSAGES)
    schema = model_schema()
    configs = {"1": (1, False), "3": (3, False), "5": (5, False), "5, prompt variants": (5, True)}
    times: dict[str, list[float]] = {name: [] for name in configs}
    tokens: dict[str, list[int]] = {name: [] for name in configs}
    index = skill_index(load_skills(skill_dirs()).skills)  # the prompt shows the built-in skills, as `babel do` does
    warm = build_messages("warm up", WorkspaceFacts(files=("x",)), Policy(), index)
    engine.generate(warm, n=1, schema=schema, max_tokens=8)
    for round_ in range(args.repeat):
        for i, (request, files) in enumerate(REQUESTS):
            for name, (k, variant) in configs.items():
                # every call is a new request: only the stable prefix is warm (from disk)
                engine.forget_prompt()
                facts = WorkspaceFacts(files=tuple(files) + (f"tmp/run-{round_}-{i}-{name}.txt",))
                messages = build_messages(request, facts, Policy(), index)
                plan = layout(k, 0.7, variant)
                extra = {"variants": [hinted(messages, request)], "variant_of": [v for v, _ in plan]} if variant and k >= 3 else {}
                started = time.perf_counter()
                out = engine.generate(messages, n=k, temperatures=[t for _, t in plan], seeds=list(range(k)), schema=schema,
                                      max_tokens=256, **extra)  # type: ignore[arg-type]
                times[name].append(time.perf_counter() - started)
                tokens[name].append(sum(o.completion_tokens for o in out))
    base = statistics.median(times["1"])
    print("| k | median wall time (s) | ratio to k=1 | completion tokens (median, all candidates) |")
    print("|---|---|---|---|")
    for name in configs:
        med = statistics.median(times[name])
        print(f"| {name} | {med:.2f} | {med / base:.2f}× | {statistics.median(tokens[name]):.0f} |")


if __name__ == "__main__":
    main()
