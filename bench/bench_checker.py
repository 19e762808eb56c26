"""The output checker as a judge, on recorded `babel eval` runs: precision, recall, and what it does to the vote.

    python bench/bench_checker.py RECORDS.jsonl --suite bench/suite [--model qwen2.5-coder-1.5b]
                                  [--weights 0,0.5,1,2] [--verdicts OUT.json]

RECORDS is the output of `babel eval SUITE --json --no-check --refine 0` (k > 1, so that
every task's groups carry their dry runs' outputs). For every group whose dry run
completed, the checker (babel.compiler.checker, the embedded model) judges its output
against the request, and the output is compared with the task's gold answer. It prints:

- the checker as a judge of outputs: precision and recall of "this answers the request"
  at the decoder's threshold, per question and for their mean (the verdict), and how
  often, within a task, a right output is judged above a wrong one (pairs);
- the checker as the trigger of refine rounds: how often the winner is rejected, and how
  often a rejected winner was in fact wrong;
- task success when the verdicts weigh the vote (babel.compiler.decode.check_factor) at each
  weight, replayed on the recorded groups (bench/replay_vote.py); 0 is the vote without it.

RECORDS may also come from a run with the checker and refine on (the defaults): then the
verdicts are read from the records, nothing is judged again, and the last part is instead
what each setting would have chosen in that run, by its dry-run output: k = 1 (the greedy
candidate), k = 5 (the first round's winner without the checker), k = 5 + checker (the first
round's winner), k = 5 + checker + refine (the last round's), the oracle, and the run itself.

The verdicts are kept in `--verdicts` (default bench/out/verdicts-<records>.json), and
read back from there on a second run, so the weights can be replayed without the model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel.app.evaluate import check, load_suite  # noqa: E402
from babel.compiler.checker import REJECT_BELOW, Verdict, verdicts  # noqa: E402
from babel.compiler.decode import check_factor  # noqa: E402
from bench.replay_vote import replay  # noqa: E402


def judged_groups(record: dict, task: object) -> list[tuple[int, str, str, bool]]:
    """(group index, command, output, is it the gold answer) of each group whose dry run completed."""
    vote = record.get("vote") or {}
    commands = {int(k): v for k, v in (vote.get("commands") or {}).items()}
    found = []
    for n, group in enumerate(vote.get("groups") or []):
        outcome = group.get("outcome")
        if outcome is None or not outcome.get("ok"):
            continue
        result = outcome.get("result") or ""
        right = check(task, result, {}, record.get("expected"))[0]  # type: ignore[arg-type]
        found.append((n, commands.get(group["members"][0], ""), result, right))
    return found


def passes(task: object, brief: dict | None, record: dict) -> bool:
    """Whether a recorded group (or a group's brief) printed the gold answer."""
    if brief is None:
        return False
    outcome = brief.get("outcome", brief)
    if not outcome or not outcome.get("ok"):
        return False
    return check(task, outcome.get("result") or "", {}, record.get("expected"))[0]  # type: ignore[arg-type]


def settings(records: list[dict], tasks: dict) -> None:
    """From a run with the checker and refine on (the defaults): what each setting would have
    chosen, judged by its dry-run output (no repair): the greedy candidate alone (k = 1),
    the first round's vote without the checker (k = 5), with it (k = 5 + checker), and the
    last round's (k = 5 + checker + refine); the oracle; and what the run itself passed."""
    counts = {"k = 1 (the greedy candidate)": 0, "k = 5": 0, "k = 5 + checker": 0, "k = 5 + checker + refine": 0,
              "oracle (some candidate right)": 0, "the run as recorded (with repair)": 0}
    refined = gained = lost = 0
    for record in records:
        task = tasks[record["id"]]
        vote = record.get("vote") or {}
        groups = vote.get("groups") or []
        if not groups or task.expect.get("files"):  # an edit: no dry run shows its effect, every setting is the run
            for key in counts:
                counts[key] += record["passed"]
            continue
        first = (vote.get("refines") or [None])[0]
        greedy = next((g for g in groups if 0 in g["members"]), None)
        unchecked = (first or {}).get("unchecked") if first else vote.get("unchecked")
        checked = first["rejected"] if first else groups[0]
        final = groups[0]
        results = [passes(task, greedy, record), passes(task, unchecked or groups[0], record), passes(task, checked, record),
                   passes(task, final, record), record["passed"] or any(passes(task, g, record) for g in groups), record["passed"]]
        for key, ok in zip(counts, results, strict=True):
            counts[key] += ok
        if first:
            refined += 1
            gained += results[3] and not results[2]
            lost += results[2] and not results[3]
    n = len(records)
    print("| setting | passed |\n|---|---|")
    for key, value in counts.items():
        print(f"| {key} | {value}/{n} ({100 * value / max(n, 1):.0f}%) |")
    print(f"\nrefined: {refined} tasks; the refine round turned {gained} wrong answers right and {lost} right ones wrong")
    latency = sorted(r["latency_s"] for r in records)
    tokens = sorted(r["prompt_tokens"] + r["completion_tokens"] for r in records)
    print(f"median s/task {latency[n // 2]:.1f}; median tokens/task (prompt + completion) {tokens[n // 2]}")


def rates(pairs: list[tuple[float, bool]]) -> str:
    tp = sum(p >= REJECT_BELOW and right for p, right in pairs)
    fp = sum(p >= REJECT_BELOW and not right for p, right in pairs)
    fn = sum(p < REJECT_BELOW and right for p, right in pairs)
    tn = sum(p < REJECT_BELOW and not right for p, right in pairs)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    return f"precision {precision:.2f} ({tp}/{tp + fp}), recall {recall:.2f} ({tp}/{tp + fn}), accuracy {(tp + tn) / max(len(pairs), 1):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("records")
    parser.add_argument("--suite", default="bench/suite")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--weights", default="0,0.5,1,2")
    parser.add_argument("--verdicts", default=None)
    args = parser.parse_args()
    tasks = {task.id: task for task in load_suite(Path(args.suite))}
    records = [json.loads(line) for line in Path(args.records).read_text().splitlines() if line.strip()]
    records = [r for r in records if r["id"] in tasks]
    out = Path(args.verdicts) if args.verdicts else Path(__file__).parent / "out" / f"verdicts-{Path(args.records).stem}.json"
    kept: dict[str, list] = json.loads(out.read_text()) if out.exists() else {}
    checked = any(g.get("verdict") for r in records for g in ((r.get("vote") or {}).get("groups") or []))
    if checked:  # a run with the checker on: its verdicts are in the records
        kept = {f"{r['id']}#{n}": [g["verdict"]["p"], *g["verdict"]["votes"]]
                for r in records for n, g in enumerate((r.get("vote") or {}).get("groups") or []) if g.get("verdict")}
    model = None
    started = time.perf_counter()
    judged = 0
    for record in records:
        task = tasks[record["id"]]
        for n, command, output, _ in judged_groups(record, task):
            key = f"{record['id']}#{n}"
            if key in kept:
                continue
            if model is None:
                from babel.compiler import STABLE_MESSAGES
                from babel.model import load_config, make_client
                model = make_client(load_config({"model": args.model}), stable_messages=STABLE_MESSAGES)
            verdict = verdicts(model, task.request, task.workspace, [(command, output)])[0]
            kept[key] = None if verdict is None else [verdict.probability, *verdict.votes]
            judged += 1
            print(f"  judged {key}: {kept[key]}", file=sys.stderr, flush=True)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(kept, indent=0))
    elapsed = time.perf_counter() - started
    if judged:
        print(f"{judged} outputs judged in {elapsed:.0f} s ({elapsed / judged:.1f} s each), model {args.model}")
    # 1. the checker as a judge of outputs
    per_question: list[list[tuple[float, bool]]] = [[], [], []]
    ordered = right_above = 0
    for record in records:
        task = tasks[record["id"]]
        groups = judged_groups(record, task)
        scored = [(kept.get(f"{record['id']}#{n}"), right) for n, _, _, right in groups]
        for found, right in scored:
            if found is not None:
                for q, p in enumerate(found[:3]):
                    per_question[q].append((p, right))
        rights = [f[0] for f, r in scored if f is not None and r]
        wrongs = [f[0] for f, r in scored if f is not None and not r]
        for a in rights:
            for b in wrongs:
                ordered += 1
                right_above += a > b
    print(f"\n{args.records} on {args.suite}: {len(per_question[0])} outputs judged, "
          f"{sum(r for _, r in per_question[0])} of them right")
    print(f"- the verdict (mean of the questions): {rates(per_question[0])}")
    for q in (1, 2):
        print(f"- question {q} alone: {rates(per_question[q])}")
    print(f"- within a task, a right output judged above a wrong one: {right_above}/{ordered} pairs")
    # 2. the trigger of refine rounds: the winner as recorded, judged
    rejected = wrong_rejected = winners = 0
    for record in records:
        task = tasks[record["id"]]
        found = kept.get(f"{record['id']}#0")
        groups = (record.get("vote") or {}).get("groups") or []
        if found is None or not groups or task.expect.get("files"):  # type: ignore[attr-defined]
            continue
        winners += 1
        if found[0] < REJECT_BELOW:
            rejected += 1
            wrong_rejected += not record["passed"]
    print(f"- winners rejected: {rejected}/{winners}; of those, wrong in fact: {wrong_rejected}/{rejected}")
    if checked:
        print()
        settings(records, tasks)
        return
    # 3. the vote, weighed by the verdicts
    for weight in (float(w) for w in args.weights.split(",")):
        passed = oracle = 0
        for record in records:
            task = tasks[record["id"]]
            groups = (record.get("vote") or {}).get("groups") or []
            verdict_of = {n: kept.get(f"{record['id']}#{n}") for n in range(len(groups))}
            given = [Verdict(v[0], ()) for v in verdict_of.values() if v is not None]
            lowest = min(given, key=lambda v: v.probability) if given else None
            factors = [check_factor(Verdict(v[0], ()) if v is not None else lowest, weight) for v in verdict_of.values()]
            now, could = replay(record, task, None, factors if groups else None)
            passed += now
            oracle += could
        print(f"- vote with check weight {weight:g}: {passed}/{len(records)} (oracle {oracle}/{len(records)})")


if __name__ == "__main__":
    main()
