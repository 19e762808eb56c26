"""Prompt and generation speed of the embedded engine with each CPU variant of the build.

The runtime-dispatch build (scripts/setup) ships one CPU backend per instruction set and
loads the best one the CPU can run; `BABEL_CPU_KERNELS=NAME` forces one. Each variant is
measured in a fresh process, one after the other, on the same prompt: prompt tokens per
second (the prefill of a ~1,000-token chat, nothing cached, up to its first token) and
generation tokens per second (the greedy tokens after the first, up to 64, timed between the
engine's per-step progress calls). `--python` adds another interpreter (e.g. a venv with an older
build) to the same run, for a side-by-side comparison on one noisy machine.

    python bench/bench_kernels.py [--model qwen2.5-coder-1.5b] [--threads 2] [--repeat 3]
                                  [--variants auto,haswell,icelake] [--python NAME=PATH ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r'''
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from babel.model.config import Config
from babel.model.embedded import model_file
from babel.model.engine import BatchedEngine
engine = BatchedEngine(Path(model_file(Config(model=sys.argv[2]).model)), threads=int(sys.argv[3]), n_ctx=4096)
words = " ".join(f"line {i}: the service wrote record {i * 7919 % 1000} to the store" for i in range(90))
chat = [{"role": "system", "content": "You summarise logs."}, {"role": "user", "content": words + "\nSummarise this log."}]
engine.generate(chat[:1] + [{"role": "user", "content": "hi"}], n=1, max_tokens=4)  # warm up
prompt, gen = [], []
for r in range(int(sys.argv[4])):
    engine.forget_prompt()
    asked = [chat[0], {"role": "user", "content": f"run {r}. " + chat[1]["content"]}]
    n = len(engine.tokenize(engine.format_chat(asked)))
    marks = []  # (time, tokens decoded) after each decode step: the first comes after the prefill
    t0 = time.perf_counter()
    engine.generate(asked, n=1, max_tokens=65, on_tokens=lambda done: marks.append((time.perf_counter(), done)))
    (t1, first), (t2, last) = marks[0], marks[-1]
    prompt.append(n / (t1 - t0))
    gen.append((last - first) / (t2 - t1) if last > first else float("nan"))
print(json.dumps({"kernels": engine.kernels, "prompt_tokens": n, "prompt_tps": prompt, "gen_tps": gen}))
'''


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variants", default="auto,x64,haswell,skylakex,icelake,alderlake")
    parser.add_argument("--python", action="append", default=[], help="NAME=PATH: another interpreter (another build) to measure")
    args = parser.parse_args()
    runs = [(f"dispatch: {v}", sys.executable, v) for v in args.variants.split(",")]
    runs += [(name, path, "auto") for name, path in (p.split("=", 1) for p in args.python)]
    print(f"| build: kernels | prompt tokens/s (median of {args.repeat}) | generation tokens/s | loaded |")
    print("|---|---|---|---|", flush=True)
    for name, python, variant in runs:
        env = {**os.environ}
        env.pop("BABEL_CPU_KERNELS", None)
        if variant != "auto":
            env["BABEL_CPU_KERNELS"] = variant
        done = subprocess.run([python, "-c", CHILD, str(ROOT), args.model, str(args.threads), str(args.repeat)],
                              capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"| {name} | failed (exit {done.returncode}) | {done.stderr.strip().splitlines()[-1][:80] if done.stderr.strip() else ''} | |", flush=True)
            continue
        record = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {name} | {statistics.median(record['prompt_tps']):.1f} | {statistics.median(record['gen_tps']):.1f} | {record['kernels']} |",
              flush=True)


if __name__ == "__main__":
    main()
