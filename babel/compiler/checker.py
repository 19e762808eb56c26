"""The output checker: does what a plan printed answer the request?

Most wrong answers of a small compiler are plans that run and print the wrong thing
(`-mtime -30` for "not modified in the last 30 days", `grep -c` for "count every
occurrence"): the verifier passes them and no step fails, so neither the syndrome nor the
control loop sees them. The checker looks at the output instead. For each distinct output
of the dry runs it asks the model two constrained yes/no questions over a small context
(the request, the command, the output's first lines), worded differently, and takes P(yes)
of each by scoring the answers (teacher-forced, nothing sampled: deterministic). Their mean
is the verdict: how likely the model finds it that the output answers the request. The decoder folds it into the vote (babel.compiler.decode); a winner
the checker rejects is the failure kind `output_rejected`, which the pipeline answers with
refine rounds (babel.compiler.compile.refine_with_outputs).

Both questions end the same user message, so the engine prefills the shared request,
command and output once and only the question's few tokens again (BatchedEngine.score).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from babel.model import ModelClient, ModelRequest

#: (plan text, output) pairs in, one verdict per pair out; None where it could not judge
OutputChecker = Callable[[list[tuple[str, str]]], "list[Verdict | None]"]

SYSTEM = ("You check the output of a shell command against the request it was written for. "
          "A good output answers the request exactly: every item asked for and nothing else, "
          "in the form asked (a count is a single number, a list has one item per line). "
          "Answer with one word: yes or no.")

#: the two questions, each asked so that "yes" is good. A third, asked so that "yes" is bad ("Is this
#: output wrong for the request: missing something it asks for, showing something it did not ask
#: for, or in the wrong form?"), was worse than chance on the public suite (bench/RESULTS.md): the
#: 1.5B model answers "yes" to it whatever it is shown.
QUESTIONS = (
    ("Does this output answer the request correctly and completely?", True),
    ("Does the command do what the request asks, and does its output show the answer?", True),
)
MAX_LINES = 20
MAX_CHARS = 1200
REJECT_BELOW = 0.7  # a winner whose verdict is below this is `output_rejected` (chosen on the public suite: bench/RESULTS.md)


@dataclass(frozen=True)
class Verdict:
    probability: float  # P(the output answers the request), the mean over the questions
    votes: tuple[float, ...]  # each question's P(good)

    @property
    def passed(self) -> bool:
        return self.probability >= REJECT_BELOW


def shown_output(output: str) -> str:
    """The output as the checker sees it: its first MAX_LINES lines, at most MAX_CHARS
    characters, and how much was left out (a page of it, not all of it)."""
    lines = output.rstrip("\n").split("\n") if output.strip() else []
    head = "\n".join(lines[:MAX_LINES])[:MAX_CHARS]
    shown = head.count("\n") + 1 if head else 0
    if not lines:
        return "(no output)"
    if shown < len(lines) or len(head) < len("\n".join(lines[:MAX_LINES])):
        return f"{head}\n[... {len(lines)} lines in all, the first {shown} shown]"
    return head


def check_chat(request: str, mount: str, command: str, output: str, question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Request: {request}\nWorkspace: {mount}\nCommand:\n{command}\n"
                                        f"Output:\n{shown_output(output)}\n\n{question}"}]


def _p_yes(scores: list[float | None]) -> float | None:
    """P(yes) from the scores of "yes", "Yes", "no", "No" (either case is the same word)."""
    if any(s is None for s in scores):
        return None
    weights = [math.exp(float(s)) for s in scores if s is not None]
    total = sum(weights)
    return None if total <= 0 else (weights[0] + weights[1]) / total


def verdicts(model: ModelClient, request: str, mount: str, judged: list[tuple[str, str]]) -> list[Verdict | None]:
    """The checker's verdict on each (command, output) pair; None where the model gave no
    score. It raises what the model raises."""
    found: list[Verdict | None] = []
    for command, output in judged:
        votes: list[float] = []
        for question, yes_is_good in QUESTIONS:
            chat = check_chat(request, mount, command, output, question)
            results = model.submit([ModelRequest((chat,), target=word) for word in ("yes", "Yes", "no", "No")])
            p = _p_yes([r.score for r in results])
            if p is None:
                break
            votes.append(p if yes_is_good else 1.0 - p)
        found.append(Verdict(sum(votes) / len(votes), tuple(round(v, 4) for v in votes)) if len(votes) == len(QUESTIONS) else None)
    return found


def output_checker(model: ModelClient, request: str, mount: str) -> OutputChecker | None:
    """A function judging outputs against the request, or None when the model cannot score
    texts (an endpoint). A failure to judge is no verdict, never a failed decode."""
    if not model.capabilities.score:
        return None

    seen: dict[tuple[str, str], Verdict | None] = {}  # a refine round judges the earlier outputs again: once is enough

    def check(judged: list[tuple[str, str]]) -> list[Verdict | None]:
        fresh = [pair for pair in dict.fromkeys(judged) if pair not in seen]
        try:
            seen.update(zip(fresh, verdicts(model, request, mount, fresh), strict=True))
        except Exception:  # the checker is advice: without it the vote stands on the rest
            return [seen.get(pair) for pair in judged]
        return [seen[pair] for pair in judged]

    return check
