"""Replay the decoder's vote on recorded eval runs, without the model or the sandbox.

    python bench/replay_vote.py bench/out/qwen2.5-coder-0.5b-k5.jsonl [...]

`babel eval --json` records, per task, every group of candidates with its members (per
distinct plan), each candidate's weight and what its dry run printed. This scores those
groups again with the decoder's current `score_groups` and shape checks, and prints per
file: tasks passed as recorded, passed under the current vote, and the oracle (a group
that would have passed existed). Use it to see what a change to the vote does before
spending a full evaluation on it; a task whose expectation is about files (an edit) keeps
its recorded outcome, since no dry run shows its effect.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel.app.evaluate import check, load_suite  # noqa: E402
from babel.compiler.decode import (  # noqa: E402
    REVIEW_WEIGHT,  # noqa: E402
    DryRun,
    score_groups,
)
from babel.compiler.shape import checks_for  # noqa: E402


def replay(record: dict, task: object, review_weight: float | None = None, group_factors: list[float] | None = None) -> tuple[bool, bool]:
    """(passes under the current vote, some group would pass). With `review_weight`, the
    reviewer's recorded scores weigh plans as review_factors would with that weight;
    `group_factors` scale each recorded group's score (the output checker's, bench_checker.py)."""
    groups = (record.get("vote") or {}).get("groups") or []
    if not groups or task.expect.get("files"):  # type: ignore[attr-defined]
        return record["passed"], record["passed"]
    weights = {int(k): v for k, v in ((record.get("vote") or {}).get("weights") or {}).items()}
    reviews = [r for group in groups for r in (group.get("reviews") or []) if r is not None]
    best = max(reviews, default=0.0)
    weight = REVIEW_WEIGHT if review_weight is None else review_weight

    def factor(score: float | None) -> float:
        return 1.0 if score is None or len(reviews) < 2 else math.exp(max(weight * (score - best), -20.0))

    ballots = []
    for group in groups:
        by_plan = group.get("by_plan") or [group["members"]]
        plan_reviews = group.get("reviews") or [None] * len(by_plan)
        outcome = group.get("outcome")
        dry = None if outcome is None else DryRun(outcome["ok"], outcome.get("result"), outcome.get("failure"))
        ballots.append(([[weights.get(i, 2.45 if i == 0 else 1.45) * factor(score) for i in members]
                         for members, score in zip(by_plan, plan_reviews, strict=False)], dry))
    scores = score_groups(ballots, checks_for(task.request))  # type: ignore[attr-defined]
    if group_factors is not None:
        scores = [score * factor for score, factor in zip(scores, group_factors, strict=True)]
    best = max(range(len(groups)), key=lambda n: (scores[n], -min(groups[n]["members"])))

    def passes(group: dict) -> bool:
        outcome = group.get("outcome")
        if outcome is None or not outcome.get("ok"):
            return False
        return check(task, outcome.get("result") or "", {}, record.get("expected"))[0]  # type: ignore[arg-type]

    chosen = groups[best]
    now = record["passed"] if chosen is groups[0] and (chosen.get("outcome") is None) else passes(chosen)
    return now, record["passed"] or any(passes(g) for g in groups)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("records", nargs="+")
    parser.add_argument("--suite", default="bench/suite")
    parser.add_argument("-v", "--verbose", action="store_true", help="name the tasks whose outcome changes")
    parser.add_argument("--review-weight", default=None, help="comma-separated reviewer weights to try (default: the decoder's)")
    args = parser.parse_args()
    tasks = {task.id: task for task in load_suite(Path(args.suite))}
    weights = [None] if args.review_weight is None else [float(w) for w in args.review_weight.split(",")]
    for name in args.records:
        records = [json.loads(line) for line in Path(name).read_text().splitlines() if line.strip()]
        for weight in weights:
            recorded = now = oracle = 0
            for record in records:
                task = tasks.get(record["id"])
                if task is None:
                    continue
                passed, could = replay(record, task, weight)
                recorded += record["passed"]
                now += passed
                oracle += could
                if args.verbose and passed != record["passed"]:
                    print(f"  {record['id']}: {'gained' if passed else 'lost'}")
            label = "" if weight is None else f" (review weight {weight:g})"
            print(f"{name}{label}: recorded {recorded}/{len(records)}, current vote {now}/{len(records)}, oracle {oracle}/{len(records)}")

if __name__ == "__main__":
    main()
