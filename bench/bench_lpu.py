"""The LPU's four example programs run with Babel, against the same programs run the LPU's way.

    python bench/bench_lpu.py --repo /tmp/lpu [--model qwen2.5-coder-1.5b] [--only room-comfort]

For each program (examples/*.aasm in a checkout of HuyNguyenAu/llm_native_virtual_machine,
run from the checkout so that LC finds examples/data/), three runs on the embedded model:

- `babel (cold)`: Babel's way, a fresh memo: a model op asked twice with the same chat
  (a retry loop over a greedy answer) is answered once;
- `babel (warm)`: the same again with that memo: a rerun replays every answer;
- `per-op`: every model op a separate call with no memo, as the LPU makes them (its
  every op is a fresh server call).

Each cold and per-op run gets a freshly loaded engine (warmed by one tiny request, so the
load is not timed), so neither profits from the other's prompt cache. Each row: model
ops the model answered, the requests they made to the engine (an INF is one generation,
an EVAL two scored options, a SIM eleven), the requests the LPU makes for the same
instructions (INF one chat; EVAL one chat and eight embeddings; SIM two embeddings),
tokens (context + generated of the answered ops; a scored choice's context is estimated
at four characters a token), wall time; the checks' time is in `check ms`. Prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from babel.app import check_program, load_program, run_program  # noqa: E402
from babel.model import ModelPool, ModelRequest, Sample, load_config, make_client  # noqa: E402
from babel.vm import Memo  # noqa: E402

PROGRAMS = ["customer-claim", "content-moderation", "legal-compliance", "room-comfort"]
REQUESTS = {"inf": 1, "eval": 2, "sim": 11}  # engine requests of one model op in Babel
LPU_REQUESTS = {"inf": 1, "eval": 9, "sim": 2}  # server calls of one in the LPU (src/processor/control_unit/language_logic_unit)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="a checkout of the LPU's repository")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--only", action="append", help="run only this program (repeatable)")
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    os.chdir(repo)
    config = load_config({"model": args.model})
    rows = []
    for name in args.only or PROGRAMS:
        path = repo / "examples" / f"{name}.aasm"
        source = load_program(path.read_bytes(), str(path))
        started = time.perf_counter()
        problems = [d for d in check_program(source) if d.is_error]
        check_ms = (time.perf_counter() - started) * 1000
        if problems or source.program is None:
            print(f"{name}: rejected: {problems}", file=sys.stderr)
            continue
        with tempfile.TemporaryDirectory() as state:
            memo = Memo(Path(state) / "memo.sqlite")
            for mode, fresh in (("per-op", True), ("babel (cold)", False), ("babel (warm)", False)):
                with ModelPool() as pool:
                    client = make_client(config, pool=pool)
                    if mode != "babel (warm)":
                        client.submit([ModelRequest(([{"role": "user", "content": "hi"}],), (Sample(0.0, 0),), max_tokens=1)])
                    t0 = time.perf_counter()
                    outcome = run_program(source, repo, model=lambda c=client: c, memo=memo, fresh_calls=fresh, write=lambda _: None)
                    wall = time.perf_counter() - t0
                run = outcome.run
                assert run is not None
                answered = [s for s in run.steps if s.op in REQUESTS and s.detail.get("memo") == "miss"]
                requests = sum(REQUESTS[s.op] for s in answered)
                lpu_requests = sum(LPU_REQUESTS[s.op] for s in run.steps if s.op in REQUESTS)
                rows.append((name, mode, len(source.program.instrs), len(run.steps), run.model_calls, requests, lpu_requests, run.memo_hits,
                             run.tokens, wall, check_ms, run.status))
                print(f"{name} {mode}: {run.status}, {run.model_calls} calls, {run.memo_hits} memo hits, {run.tokens} tokens, "
                      f"{wall:.1f} s", file=sys.stderr, flush=True)
    print("| program | run | instructions (executed) | model ops answered | engine requests | LPU's requests | memo hits | tokens "
          "| wall s | check ms | status |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, mode, count, executed, calls, requests, lpu_requests, hits, tokens, wall, check_ms, status in rows:
        print(f"| {name} | {mode} | {count} ({executed}) | {calls} | {requests} | {lpu_requests} | {hits} | {tokens} | {wall:.1f} "
              f"| {check_ms:.1f} | {status} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
