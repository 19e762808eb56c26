"""The reviewer: how well does each candidate plan explain the request?

The compiler's own likelihood says how probable a plan is given the request; a small
model's errors are often plans that are probable and wrong (the common idiom, not the
asked-for one). The reviewer asks the other direction: how probable is the user's request
given the plan, as if the model had to guess what was asked from the command alone
("coder-reviewer" reranking). A plan that drops a condition of the request (-mtime, a
column, a sort order) explains it worse. It costs one teacher-forced pass over a short
prompt per distinct plan and samples nothing, so it is deterministic. The decoder folds
the scores into its vote (babel.decode); this module only builds the question and asks
it of a model that can score texts (the embedded engine; recorded cassettes replay it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from babel.plan import Plan, to_text
from babel.shell import quote_argv

Reviewer = Callable[[list[Plan]], "list[float] | None"]

SYSTEM = ("You are shown a shell command (or a short plan) that a user's request was compiled into. "
          "Write the request the user typed, in plain English, in one line.")


def plan_text(plan: Plan) -> str:
    """A plan as a reviewer reads it: exec steps as their command lines, others in text form."""
    lines = []
    for step in plan.steps:
        cmd, argv = step.args.get("cmd"), step.args.get("argv")
        if step.op == "exec" and isinstance(cmd, str):
            lines.append(cmd)
        elif step.op == "exec" and isinstance(argv, list):
            lines.append(quote_argv([str(a) for a in argv]))
        else:
            lines.append(to_text(Plan((step,))).strip())
    return "\n".join(lines)


def review_chat(plan: Plan, mount: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Workspace: {mount}\nCommand:\n{plan_text(plan)}"}]


def reviewer(model: Any, request: str, mount: str) -> Reviewer | None:
    """A function scoring plans by log P(request | plan), or None when the model cannot
    score texts (an endpoint). A failure to score is no score, never a failed decode."""
    score = getattr(model, "score", None)
    if score is None:
        return None

    def review(plans: list[Plan]) -> list[float] | None:
        try:
            return [float(s) for s in score([review_chat(plan, mount) for plan in plans], [request] * len(plans))]
        except Exception:  # the reviewer is advice: without it the vote stands on the rest
            return None

    return review
