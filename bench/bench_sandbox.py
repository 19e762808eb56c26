"""Per-step overhead of the sandbox against a plain subprocess, and a 20-step `babel run`.

    python bench/bench_sandbox.py [--n 200]

Measures, after a warm-up, the median and 90th percentile wall time of the same small
work done (a) by a plain `subprocess.run` on the host, (b) as a step through the
sandbox's long-lived executor (one JSON line each way over the exec socket), and
(c) as a `docker exec` per step (exec_run), for reference; then the cost of starting
and removing a sandbox, and a 20-step plan run end to end by the runtime. Prints a
markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel.lang.plan import parse_plan  # noqa: E402
from babel.sandbox.docker import DockerSandbox, ensure_image  # noqa: E402
from babel.verify.policy import Policy  # noqa: E402
from babel.vm.machine import kernel_rules, run_plan  # noqa: E402


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(5):
        fn()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def row(name: str, samples: list[float]) -> str:
    samples = sorted(samples)
    p90 = samples[int(len(samples) * 0.9) - 1]
    return f"| {name} | {statistics.median(samples):.2f} | {p90:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    ensure_image()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        (root / "small.txt").write_text("".join(f"line {i}\n" for i in range(100)))
        if os.geteuid() == 0:
            os.chown(root, 1000, 1000)
            os.chown(root / "small.txt", 1000, 1000)
        rows = []
        plain_cat = timed(lambda: subprocess.run(["cat", "small.txt"], cwd=root, capture_output=True), args.n)
        plain_wc = timed(lambda: subprocess.run(["sh", "-c", "wc -l < small.txt"], cwd=root, capture_output=True), args.n)
        plain_read = timed(lambda: (root / "small.txt").read_text(), args.n)
        with DockerSandbox(root) as box:
            # each command under the kernel's rules for the default policy (Landlock), as plans run
            rules = kernel_rules(Policy())
            box_cat = timed(lambda: box.call({"op": "exec", "args": {"argv": ["cat", "small.txt"], "rules": rules}, "timeout": 10}), args.n)
            box_wc = timed(lambda: box.call({"op": "exec", "args": {"cmd": "wc -l < small.txt", "rules": rules}, "timeout": 10}), args.n)
            box_read = timed(lambda: box.call({"op": "read", "args": {"path": "small.txt"}, "timeout": 10}), args.n)
            container = box._container
            exec_run = timed(lambda: container.exec_run(["cat", "small.txt"], user=box.user), min(args.n, 50))
        rows += [row("plain subprocess: cat", plain_cat), row("sandbox step: exec argv cat", box_cat),
                 row("plain subprocess: sh -c 'wc -l < f'", plain_wc), row("sandbox step: exec cmd 'wc -l < f'", box_wc),
                 row("plain Python read of the file", plain_read), row("sandbox step: read", box_read),
                 row("docker exec_run per step: cat (reference)", exec_run)]
        starts = []
        for _ in range(10):
            started = time.perf_counter()
            with DockerSandbox(root):
                pass
            starts.append((time.perf_counter() - started) * 1000)
        rows.append(row("sandbox start + stop (one per run)", starts))
        staged = []
        for _ in range(10):
            started = time.perf_counter()
            with DockerSandbox(root, writable=True) as box:
                box.change_set()
            staged.append((time.perf_counter() - started) * 1000)
        rows.append(row("writable sandbox: start, stage, read changes, stop", staged))
        plan = parse_plan("\n".join(
            f's{i}: v{i} = exec "wc -l < small.txt"' if i % 4 == 1 else
            f's{i}: v{i} = read "small.txt"' if i % 4 == 2 else
            f's{i}: v{i} = grep "line 9" in=$v{i - 1}' if i % 4 == 3 else
            f's{i}: v{i} = exec "sort -r" stdin=$v{i - 2}' for i in range(1, 21))).plan
        assert plan is not None
        runs = []
        for _ in range(10):
            started = time.perf_counter()
            with DockerSandbox(root) as box:
                result = run_plan(plan, box, Policy())
                assert result.ok, result.failed_step()
            runs.append((time.perf_counter() - started) * 1000)
        rows.append(row("20-step plan, run end to end (start, 20 steps, stop)", runs))
        steps_only = []
        with DockerSandbox(root) as box:
            for _ in range(10):
                started = time.perf_counter()
                run_plan(plan, box, Policy())
                steps_only.append((time.perf_counter() - started) * 1000)
        rows.append(row("20-step plan, steps only (warm sandbox)", steps_only))
    print("| what | median ms | p90 ms |")
    print("|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
