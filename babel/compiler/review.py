"""The reviewer: how well does each candidate plan explain the request?

The compiler's own likelihood says how probable a plan is given the request; a small
model's errors are often plans that are probable and wrong (the common idiom, not the
asked-for one). The reviewer asks the other direction: how probable is the user's request
given the plan, as if the model had to guess what was asked from the command alone
("coder-reviewer" reranking). A plan that drops a condition of the request (-mtime, a
column, a sort order) explains it worse. It costs one teacher-forced pass over a short
prompt per distinct plan and samples nothing, so it is deterministic. The decoder folds
the scores into its vote (babel.compiler.decode); this module only builds the question and asks
it of a model that can score texts (the embedded engine; recorded cassettes replay it).
"""

from __future__ import annotations

from collections.abc import Callable

from babel.lang import Plan, to_text
from babel.model import ModelClient, ModelRequest
from babel.verify import handler

Reviewer = Callable[[list[Plan]], "list[float] | None"]

SYSTEM = ("You are shown a shell command (or a short plan) that a user's request was compiled into. "
          "Write the request the user typed, in plain English, in one line.")


def plan_text(plan: Plan) -> str:
    """A plan as a reviewer reads it: exec steps as their command lines, others in text form."""
    lines = []
    for step in plan.steps:
        semantics = handler(step.op)
        command = semantics.command(step) if semantics is not None else None
        lines.append(command if command is not None else to_text(Plan((step,))).strip())
    return "\n".join(lines)


def review_chat(plan: Plan, mount: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Workspace: {mount}\nCommand:\n{plan_text(plan)}"}]


def reviewer(model: ModelClient, request: str, mount: str) -> Reviewer | None:
    """A function scoring plans by log P(request | plan), or None when the model cannot
    score texts (an endpoint). A failure to score is no score, never a failed decode."""
    if not model.capabilities.score:
        return None

    def review(plans: list[Plan]) -> list[float] | None:
        try:
            results = model.submit([ModelRequest((review_chat(plan, mount),), target=request) for plan in plans])
        except Exception:  # the reviewer is advice: without it the vote stands on the rest
            return None
        scores = [r.score for r in results]
        return None if any(s is None for s in scores) else [float(s) for s in scores if s is not None]

    return review
