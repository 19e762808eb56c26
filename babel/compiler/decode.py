"""The decoder: k candidate plans in, one plan out, with the vote behind it.

Compilation is a noisy channel and this is its decoder. Candidates the verifier
rejects are dropped (the syndrome). The rest are canonicalised so that equivalent
plans fall in one group, and, where a dry run is offered, each distinct plan is run
in a throwaway sandbox and plans are grouped again by what they produced (agreement
by execution). Plain majority is not enough for a small model (measured: majority of
5 samples is worse than the greedy answer), so the vote is weighted: the greedy
candidate counts for more, a plan whose dry run failed or printed nothing counts for
little, one whose output lacks the shape the request asks for (a number, sorted lines:
babel.compiler.shape) counts for less, so does one that leaves out what the request names
(a number it gives, a directory it names: babel.compiler.shape.plan_misses), and the model's own
likelihood breaks ties. An optional reviewer (babel.compiler.review) weighs plans by how likely
the request is given each. The output checker (babel.compiler.checker), where given, judges
each distinct output of the dry runs against the request and scales its group's score by
its verdict; a winner it rejects makes the decision `rejected`, which the pipeline answers
with a refine round. The decision says how many candidates agreed and why the winner won.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from babel.compiler.checker import OutputChecker, Verdict
from babel.compiler.compile import Candidate, Compilation
from babel.compiler.intent import Shape, intent
from babel.compiler.review import Reviewer, plan_text
from babel.compiler.shape import ShapeCheck, checks_for, is_null, plan_misses
from babel.lang import Diagnostic, Plan, canonical_key
from babel.verify import NO_SKILLS, SkillTable, step_facts

GREEDY_BONUS = 1.0
FAILED_WEIGHT = 0.05
EMPTY_WEIGHT = 0.3
EFFECTS_WEIGHT = 0.02  # a plan that changes files when the request only asks a question: below a failed dry run's weight
NULL_WEIGHT = 0.5  # a zero where the request asks for a number: what a plan that missed its target prints
WRONG_SHAPE_WEIGHT = 0.2  # an output without the shape the request asks for (babel.compiler.shape)
MISSES_WEIGHT = 0.4  # per thing the request names that the plan leaves out (babel.compiler.shape.plan_misses), at most twice
REVIEW_WEIGHT = 0.2  # how much the reviewer's log P(request | plan) moves a plan's weight (review_factors)
CHECK_WEIGHT = 1.0  # a judged group's score is scaled by check_factor(its verdict)
CHECK_FLOOR = 0.05  # the least a verdict scales a score by, so that a confident "no" is not a veto
SUMMARY_RESULT_CHARS = 2000  # of each group's dry-run output, what the summary keeps (the checker sees at most 1,200)
CHECK_GROUPS = 5  # the most groups judged, best first (k = 5 has at most five distinct outputs)


@dataclass(frozen=True)
class DryRun:
    """What a dry run of one plan gave: ok with a result, or the failure that stopped it."""

    ok: bool
    result: str | None
    failure: str | None = None
    message: str | None = None
    changes: str | None = None  # a digest of the files the plan changed, when it writes


DryRunner = Callable[[Plan], "DryRun | None"]


@dataclass(frozen=True)
class Group:
    key: str  # the canonical plan, or the outcome it shares with others
    members: tuple[int, ...]  # candidate indices
    score: float
    outcome: DryRun | None = None
    plans: int = 1  # how many distinct plans agreed on this outcome
    by_plan: tuple[tuple[int, ...], ...] = ()  # the members, per distinct plan
    reviews: tuple[float | None, ...] = ()  # the reviewer's log P(request | plan), per distinct plan
    verdict: Verdict | None = None  # the output checker's, when it judged this group's output

    def brief(self) -> dict[str, object]:
        """Its members, what its dry run gave and its verdict, as the summary records the
        winners of other settings (without the checker, before a refine round)."""
        outcome = self.outcome
        return {"members": list(self.members), "ok": None if outcome is None else outcome.ok,
                "result": None if outcome is None else (outcome.result or "")[:SUMMARY_RESULT_CHARS],
                "p": None if self.verdict is None else round(self.verdict.probability, 4)}


@dataclass(frozen=True)
class Decision:
    plan: Plan | None
    chosen: int | None
    groups: tuple[Group, ...]
    valid: int
    total: int
    reason: str
    diagnostics: tuple[Diagnostic, ...] = ()  # why nothing was chosen, when nothing was
    dry_runs: dict[str, DryRun] = field(default_factory=dict, compare=False)
    weights: dict[int, float] = field(default_factory=dict, compare=False)  # each valid candidate's own weight
    commands: dict[int, str] = field(default_factory=dict, compare=False)  # each valid candidate's plan, as the reviewer reads it
    misses: dict[int, list[str]] = field(default_factory=dict, compare=False)  # what each leaves out of the request
    rounds: int = 0  # refine rounds that led to it (babel.app.pipeline.compile_and_decode)
    refines: tuple[dict[str, object], ...] = ()  # per refine round: the verdict that asked for it, its candidates and tokens
    unchecked: Group | None = None  # the group that would have won without the output checker, when it judged

    @property
    def rejected(self) -> bool:
        """The output checker judged the winner's output not to answer the request: the
        failure kind `output_rejected`."""
        verdict = self.groups[0].verdict if self.groups else None
        return self.plan is not None and verdict is not None and not verdict.passed

    def summary(self) -> dict[str, object]:
        return {
            "chosen": self.chosen, "valid": self.valid, "total": self.total, "reason": self.reason,
            "groups": [{"members": list(g.members), "score": round(g.score, 3), "plans": g.plans, "by_plan": [list(p) for p in g.by_plan],
                        "reviews": list(g.reviews),
                        "verdict": None if g.verdict is None else {"p": round(g.verdict.probability, 4), "votes": list(g.verdict.votes)},
                        "outcome": None if g.outcome is None else {"ok": g.outcome.ok, "result": (g.outcome.result or "")[:SUMMARY_RESULT_CHARS],
                                                                   "failure": g.outcome.failure, "changes": g.outcome.changes}}
                       for g in self.groups],
            "weights": self.weights,
            "commands": {i: text[:400] for i, text in self.commands.items()},
            "misses": {i: m for i, m in self.misses.items() if m},
            "rejected": self.rejected, "rounds": self.rounds, "refines": list(self.refines),
            "unchecked": None if self.unchecked is None else self.unchecked.brief(),
        }


def has_effects(plan: Plan, skills: SkillTable) -> bool:
    return any(step_facts(step, skills).effects for step in plan.steps)


def _weight(candidate: Candidate) -> float:
    weight = 1.0 + (GREEDY_BONUS if candidate.greedy else 0.0)
    if candidate.logprob is not None and candidate.tokens:
        weight += 0.5 * math.exp(candidate.logprob / max(candidate.tokens, 1))  # mean token probability, 0..1
    return weight


def _outcome_factor(outcome: DryRun | None, checks: list[ShapeCheck]) -> float:
    if outcome is None:
        return 1.0
    if not outcome.ok:
        return FAILED_WEIGHT
    if not (outcome.result or "").strip() and not outcome.changes:
        return EMPTY_WEIGHT
    factor = 1.0
    for check in checks:
        if not check.holds(outcome.result or ""):
            factor *= WRONG_SHAPE_WEIGHT
    if outcome.result is not None and any(check.shape is Shape.NUMBER for check in checks) and is_null(outcome.result):
        factor *= NULL_WEIGHT
    return factor


def score_groups(ballots: list[tuple[list[list[float]], DryRun | None]], checks: list[ShapeCheck]) -> list[float]:
    """The score of each group: its members' weights (given per distinct plan), scaled by
    what its dry run gave (failed, empty, a zero for a count, the wrong shape)."""
    return [sum(sum(ws) for ws in plans) * _outcome_factor(outcome, checks) for plans, outcome in ballots]


def check_factor(verdict: Verdict | None, weight: float = CHECK_WEIGHT) -> float:
    """How much the checker's verdict scales a group's score: P(good) to the power
    `weight`, at least CHECK_FLOOR; 1 for a group it did not judge."""
    if verdict is None:
        return 1.0
    return float(max(CHECK_FLOOR, verdict.probability) ** weight)


def review_factors(reviews: dict[str, float]) -> dict[str, float]:
    """Each distinct plan's vote factor from the reviewer's scores: exp(REVIEW_WEIGHT x
    (its log P(request | plan) minus the best one's)), so the plan that explains the
    request best keeps its weight and the others lose some, smoothly."""
    if len(reviews) < 2:
        return {key: 1.0 for key in reviews}
    best = max(reviews.values())
    return {key: math.exp(max(REVIEW_WEIGHT * (score - best), -20.0)) for key, score in reviews.items()}


def decode(compilation: Compilation, dry_run: DryRunner | None = None, review: Reviewer | None = None,
           skills: SkillTable = NO_SKILLS, checker: OutputChecker | None = None) -> Decision:
    candidates = compilation.candidates
    valid = [c for c in candidates if c.valid]
    if not valid:
        best = min(candidates, key=lambda c: sum(d.is_error for d in c.diagnostics), default=None)
        return Decision(None, None, (), 0, len(candidates),
                        "no candidate passed the verifier", tuple(best.diagnostics) if best else ())
    # 1. group equivalent plans
    by_plan: dict[str, list[Candidate]] = {}
    for candidate in valid:
        assert candidate.plan is not None
        by_plan.setdefault(canonical_key(candidate.plan), []).append(candidate)
    # 2. run each distinct plan once, where we may, and regroup by outcome
    outcomes: dict[str, DryRun] = {}
    if dry_run is not None:
        for key, members in by_plan.items():
            assert members[0].plan is not None
            outcome = dry_run(members[0].plan)
            if outcome is not None:
                outcomes[key] = outcome
    # 3. ask the reviewer how well each distinct plan explains the request
    reviews: dict[str, float] = {}
    if review is not None and len(by_plan) > 1:
        scored_plans = review([members[0].plan for members in by_plan.values() if members[0].plan is not None])
        if scored_plans is not None and len(scored_plans) == len(by_plan):
            reviews = dict(zip(by_plan, scored_plans, strict=True))
    factors = review_factors(reviews)
    groups: dict[str, list[str]] = {}
    for key in by_plan:
        outcome = outcomes.get(key)
        if outcome is not None and outcome.ok:
            group_key = f"result:{outcome.result}\x00{outcome.changes or ''}"
        else:
            group_key = f"plan:{key}"
        groups.setdefault(group_key, []).append(key)
    checks = checks_for(compilation.request)
    weights = {c.index: _weight(c) for c in valid}
    if not intent(compilation.request).wants_edit:
        weights = {c.index: w * (EFFECTS_WEIGHT if c.plan is not None and has_effects(c.plan, skills) else 1.0)
                   for c, w in zip(valid, weights.values(), strict=True)}
    mount = compilation.facts.mount if compilation.facts is not None else "/workspace"
    commands = {c.index: plan_text(c.plan) for c in valid if c.plan is not None}
    misses = {i: plan_misses(compilation.request, text, mount) for i, text in commands.items()}
    weights = {i: w * MISSES_WEIGHT ** min(len(misses.get(i, ())), 2) for i, w in weights.items()}
    ballots = [([[weights[c.index] * factors.get(key, 1.0) for c in by_plan[key]] for key in plan_keys], outcomes.get(plan_keys[0]))
               for plan_keys in groups.values()]
    scores = score_groups(ballots, checks)
    scored: list[Group] = []
    for (group_key, plan_keys), score in zip(groups.items(), scores, strict=True):
        members = [c for key in plan_keys for c in by_plan[key]]
        scored.append(Group(group_key, tuple(c.index for c in members), score, outcomes.get(plan_keys[0]), len(plan_keys),
                            tuple(tuple(c.index for c in by_plan[key]) for key in plan_keys),
                            tuple(reviews.get(key) for key in plan_keys)))
    scored.sort(key=lambda g: (-g.score, min(g.members)))
    unchecked = scored[0] if checker is not None else None
    if checker is not None:
        scored = _checked(scored, checker, commands)
    winner = scored[0]
    members = [candidates[i] for i in winner.members]
    chosen = next((c for c in members if c.greedy), None) or max(
        members, key=lambda c: (c.logprob / max(c.tokens, 1)) if c.logprob is not None else -1e9)
    reason = _reason(winner, scored, len(valid), len(candidates), dry_run is not None)
    if winner.verdict is not None:
        reason += (f"; the output checker judged its output {'an answer' if winner.verdict.passed else 'not an answer'} "
                   f"to the request (P = {winner.verdict.probability:.2f})")
    if checks and winner.outcome is not None and winner.outcome.ok:
        shapes = [c.name for c in checks if c.holds(winner.outcome.result or "")]
        if shapes:
            reason += f"; its output is {' and '.join(shapes)}, as the request asks"
    return Decision(chosen.plan, chosen.index, tuple(scored), len(valid), len(candidates), reason, (), outcomes,
                    {i: round(w, 4) for i, w in weights.items()},
                    commands, misses, unchecked=unchecked)


def _checked(groups: list[Group], checker: OutputChecker, commands: dict[int, str]) -> list[Group]:
    """The groups with the checker's verdicts on the best CHECK_GROUPS outputs (dry runs that
    completed, empty ones too) folded into their scores, sorted again. A group it did not
    judge keeps its score scaled by the lowest verdict given, so that judging the best
    groups never lifts the unjudged ones over them."""
    judged = {n: (commands.get(g.members[0], ""), g.outcome.result or "") for n, g in enumerate(groups)
              if g.outcome is not None and g.outcome.ok}
    judged = dict(list(judged.items())[:CHECK_GROUPS])
    if not judged:
        return groups
    found = checker(list(judged.values()))
    verdicts = {n: v for n, v in zip(judged, found, strict=True) if v is not None}
    if not verdicts:
        return groups
    lowest = min(verdicts.values(), key=lambda v: v.probability)
    rescored = [replace(g, score=g.score * check_factor(verdicts.get(n, lowest)), verdict=verdicts.get(n)) for n, g in enumerate(groups)]
    return sorted(rescored, key=lambda g: (-g.score, min(g.members)))


def _reason(winner: Group, groups: list[Group], valid: int, total: int, executed: bool) -> str:
    agreed = len(winner.members)
    how = "produced the same output" if executed and winner.outcome is not None and winner.outcome.ok else "are the same plan"
    parts = [f"{agreed} of {total} candidates {how}" if agreed > 1 else f"1 of {total} candidates"]
    if valid < total:
        parts.append(f"{total - valid} rejected by the verifier")
    if winner.outcome is not None and not winner.outcome.ok:
        parts.append(f"every dry run failed ({winner.outcome.failure})")
    runners_up = [g for g in groups[1:] if g.score > 0]
    if runners_up:
        parts.append(f"score {winner.score:.2f} against {runners_up[0].score:.2f} for the next")
    return "; ".join(parts)
