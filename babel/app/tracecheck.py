"""Trace checks for CI: does a run's trace meet stated expectations?

A trace (JSON Lines: run_start, one event per step, repairs, run_end) is the evidence
of what a plan did. An expectations file says what must hold:

    status: ok                      # the run's status: ok, failed or rejected
    steps:
      min: 1                        # bounds on the number of steps that ran
      max: 5
      run: [grep]                   # step ids or opcodes that must have run
      not_run: [write]              # ... that must not have run
      status: {s1: ok}              # the status of given steps
    tokens: {max: 4000}             # prompt + completion tokens, when the trace has them
    duration_ms: {max: 60000}
    repairs: {max: 1}
    result:
      equals: "3"                   # after trimming surrounding whitespace
      matches: ['^\\d+$']           # regular expressions (re.search, multiline)
      contains: ["app/db.py"]
    output:                         # per step: patterns its output must match
      s1: ['password']

`check(trace, expectations)` reads the trace's lines back into event records
(babel.lang's) and returns one finding per expectation, each passed or not
with a readable reason; `babel trace check` prints them and exits non-zero on a failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from babel.lang import Event, Repair, RunEnd, RunStart, StepResult, event_from_json

KNOWN = {"status", "steps", "tokens", "duration_ms", "repairs", "result", "output"}


class ExpectationError(ValueError):
    """An expectations file that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    detail: str = ""


def load_expectations(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ExpectationError(f"{path}: cannot read it: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ExpectationError(f"{path}{where}: not valid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict):
        raise ExpectationError(f"{path}: expectations are a mapping with keys {', '.join(sorted(KNOWN))}")
    unknown = sorted(set(data) - KNOWN)
    if unknown:
        raise ExpectationError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KNOWN))})")
    return data


def _bounds(name: str, value: float | None, spec: Any) -> list[Finding]:
    if not isinstance(spec, dict):
        return [Finding(False, name, f"expected a mapping with min/max, got {spec!r}")]
    out = []
    if value is None:
        return [Finding(False, name, "the trace does not record it")]
    if "min" in spec:
        out.append(Finding(value >= spec["min"], f"{name} ≥ {spec['min']}", f"it is {value:g}"))
    if "max" in spec:
        out.append(Finding(value <= spec["max"], f"{name} ≤ {spec['max']}", f"it is {value:g}"))
    return out


TraceLine = Event | dict[str, Any]


def records(events: Sequence[TraceLine]) -> list[Event]:
    """A trace's lines as event records (lines of kinds this version does not know are left out)."""
    out = []
    for event in events:
        record = event if isinstance(event, Event) else event_from_json(event)
        if record is not None:
            out.append(record)
    return out


def _ends(events: list[Event]) -> tuple[RunStart | None, RunEnd | None]:
    start = next((e for e in events if isinstance(e, RunStart)), None)
    end = next((e for e in reversed(events) if isinstance(e, RunEnd)), None)
    return start, end


def check(trace: Sequence[TraceLine], expect: dict[str, Any]) -> list[Finding]:
    events = records(trace)
    start, end = _ends(events)
    steps = [e for e in events if isinstance(e, StepResult)]
    repairs = [e for e in events if isinstance(e, Repair)]
    findings: list[Finding] = []
    status = end.status if end else None
    if "status" in expect:
        findings.append(Finding(status == expect["status"], f"status is {expect['status']}", f"it is {status}"))
    spec = expect.get("steps") or {}
    if spec:
        ran_ids = {str(e.id) for e in steps}
        ran_ops = {e.op for e in steps}
        findings += _bounds("steps", float(len(steps)), {k: v for k, v in spec.items() if k in ("min", "max")}) if {"min", "max"} & set(spec) else []
        for name in spec.get("run", []):
            findings.append(Finding(name in ran_ids or name in ran_ops, f"{name} ran", f"steps that ran: {', '.join(sorted(map(str, ran_ids))) or 'none'}"))
        for name in spec.get("not_run", []):
            findings.append(Finding(name not in ran_ids and name not in ran_ops, f"{name} did not run", "it ran"))
        for step_id, wanted in (spec.get("status") or {}).items():
            last = next((e for e in reversed(steps) if str(e.id) == str(step_id)), None)
            findings.append(Finding(last is not None and last.status == wanted, f"{step_id} is {wanted}",
                                    f"it is {last.status if last else 'not run'}"))
    if "tokens" in expect:
        tokens = start.meta.get("tokens") if start else None
        total = None if not isinstance(tokens, dict) else float(tokens.get("prompt", 0) + tokens.get("completion", 0))
        findings += _bounds("tokens", total, expect["tokens"])
    if "duration_ms" in expect:
        findings += _bounds("duration_ms", end.duration_ms if end else None, expect["duration_ms"])
    if "repairs" in expect:
        findings += _bounds("repairs", float(len(repairs)), expect["repairs"])
    result = end.result if end else None
    rspec = expect.get("result") or {}
    text = "" if result is None else str(result)
    if "equals" in rspec:
        findings.append(Finding(text.strip() == str(rspec["equals"]).strip(), f"result equals {str(rspec['equals'])!r}", f"it is {text.strip()[:200]!r}"))
    for pattern in rspec.get("matches", []):
        findings.append(Finding(re.search(pattern, text, re.MULTILINE) is not None, f"result matches /{pattern}/", f"result: {text.strip()[:200]!r}"))
    for needle in rspec.get("contains", []):
        findings.append(Finding(needle in text, f"result contains {needle!r}", f"result: {text.strip()[:200]!r}"))
    for step_id, patterns in (expect.get("output") or {}).items():
        last = next((e for e in reversed(steps) if str(e.id) == str(step_id)), None)
        output = "" if last is None else str(last.output)
        for pattern in patterns if isinstance(patterns, list) else [patterns]:
            findings.append(Finding(last is not None and re.search(pattern, output, re.MULTILINE) is not None,
                                    f"{step_id}'s output matches /{pattern}/", "not run" if last is None else f"output: {output.strip()[:200]!r}"))
    return findings


def diff(a: Sequence[TraceLine], b: Sequence[TraceLine]) -> list[str]:
    """What differs between two runs: plan steps, statuses, outputs, result, status."""
    def summary(trace: Sequence[TraceLine]) -> tuple[dict[str, StepResult], RunEnd | None]:
        events = records(trace)
        return {str(e.id): e for e in events if isinstance(e, StepResult)}, _ends(events)[1]

    lines: list[str] = []
    steps_a, end_a = summary(a)
    steps_b, end_b = summary(b)
    for step_id in sorted(set(steps_a) | set(steps_b), key=lambda s: (len(s), s)):
        x, y = steps_a.get(step_id), steps_b.get(step_id)
        if x is None or y is None:
            lines.append(f"{step_id}: only in {'the second' if x is None else 'the first'} run")
            continue
        if (x.op, x.status, x.failure) != (y.op, y.status, y.failure):
            before = f"{x.op} {x.status} {x.failure or ''}".strip()
            after = f"{y.op} {y.status} {y.failure or ''}".strip()
            lines.append(f"{step_id}: {before} → {after}")
        elif x.output != y.output:
            lines.append(f"{step_id}: output differs: {str(x.output)[:80]!r} → {str(y.output)[:80]!r}")
    status_a, status_b = (end_a.status if end_a else None), (end_b.status if end_b else None)
    if status_a != status_b:
        lines.append(f"status: {status_a} → {status_b}")
    result_a, result_b = (end_a.result if end_a else None), (end_b.result if end_b else None)
    if result_a != result_b:
        lines.append(f"result: {str(result_a)[:80]!r} → {str(result_b)[:80]!r}")
    return lines


def read_trace(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events
