"""What a run reports as it goes: typed event records, each carrying a process id.

The vm emits them (run start, each step, its output as it comes, result checks, repairs, run end), the
application adds its own (recovered journals, commit, refused commit, discard); the CLI
renders them, the trace store keeps them as JSON lines and trace checks read them back.
`to_json()` is the trace's format (docs/plans.md); `from_json` reads any line of a trace,
old ones without a process id too. A run's plan is process 1; sub-processes will number
from 2.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar

MAIN_PID = 1


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {"event": self.kind, **asdict(self)}


@dataclass(frozen=True)
class RunStart(Event):
    kind: ClassVar[str] = "run_start"
    run_id: str
    time: str
    plan: dict[str, Any] | None
    policy: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # the caller's: request, model, ...
    pid: int = MAIN_PID

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.kind, "run_id": self.run_id, "time": self.time, "plan": self.plan}
        if self.policy is not None:
            out["policy"] = self.policy
        return {**out, **self.meta, "pid": self.pid}


@dataclass(frozen=True)
class StepStart(Event):
    """A step is about to run (its instruction: `id`, `op`). Live only: the CLI's progress
    shows it with the time it has been running; the trace keeps the step's `StepResult`,
    which says how long it took, so the recorder does not write it (babel.app.do)."""

    kind: ClassVar[str] = "step_start"
    id: str
    op: str
    pid: int = MAIN_PID


@dataclass(frozen=True)
class StepOutput(Event):
    """A piece of a running step's output, as the command prints it (`stream`: stdout or
    stderr; `text`: the piece; `cut`: the sandbox streams no more of this stream, at its
    bound). Live only, as StepStart: the CLI shows it under the running step's line; the
    step's `StepResult` keeps its output, so the recorder does not write it (babel.app.do)."""

    kind: ClassVar[str] = "step_output"
    id: str
    stream: str
    text: str
    cut: bool = False
    pid: int = MAIN_PID


@dataclass(frozen=True)
class StepResult(Event):
    """One step's status: ok, or failed with a failure kind the control loop steers by."""

    kind: ClassVar[str] = "step"
    id: str
    op: str
    status: str  # "ok" or "failed"
    failure: str | None
    message: str | None
    output: str  # a bounded preview of the value as text
    truncated: bool
    bytes: int
    duration_ms: float
    detail: dict[str, Any] = field(default_factory=dict)  # exit code, stderr tail, ...
    pid: int = MAIN_PID

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class ResultChecked(Event):
    """A completed read-only plan's result did not answer the request."""

    kind: ClassVar[str] = "result_check"
    step: str
    problem: str
    pid: int = MAIN_PID


@dataclass(frozen=True)
class Repair(Event):
    kind: ClassVar[str] = "repair"
    step: str
    outcome: str
    reason: str = ""
    old: str | None = None
    new: str | None = None
    new_id: str | None = None
    source: str = ""
    pid: int = MAIN_PID


@dataclass(frozen=True)
class Recovered(Event):
    """An interrupted commit of an earlier run, rolled back or finished before this one."""

    kind: ClassVar[str] = "recovered"
    detail: str
    pid: int = MAIN_PID


@dataclass(frozen=True)
class Commit(Event):
    kind: ClassVar[str] = "commit"
    run_id: str
    written: list[str]
    deleted: list[str]
    pid: int = MAIN_PID


@dataclass(frozen=True)
class CommitRefused(Event):
    kind: ClassVar[str] = "commit_refused"
    run_id: str
    problems: list[str]
    pid: int = MAIN_PID


@dataclass(frozen=True)
class Discard(Event):
    kind: ClassVar[str] = "discard"
    run_id: str
    reason: str
    pid: int = MAIN_PID


@dataclass(frozen=True)
class RunEnd(Event):
    kind: ClassVar[str] = "run_end"
    run_id: str
    status: str  # ok, failed, rejected, interrupted
    result: str | None = None
    steps_ok: int = 0
    steps_failed: int = 0
    skipped: list[str] | None = None
    duration_ms: float | None = None
    error: str | None = None
    diagnostics: list[dict[str, Any]] | None = None
    pid: int = MAIN_PID

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        return {k: v for k, v in out.items() if v is not None or k == "result"}


KINDS: dict[str, type[Event]] = {cls.kind: cls for cls in (RunStart, StepStart, StepOutput, StepResult, ResultChecked, Repair, Recovered,
                                                              Commit, CommitRefused, Discard, RunEnd)}


def _blank(annotation: Any) -> Any:
    """The value of a field a trace line leaves out: nothing of its type."""
    text = str(annotation)
    if "None" in text:
        return None
    for prefix, value in (("str", ""), ("int", 0), ("float", 0.0), ("bool", False), ("dict", {}), ("list", [])):
        if text.startswith(prefix):
            return value
    return None


def from_json(data: dict[str, Any]) -> Event | None:
    """The record of one trace line, or None for a line of a kind this version does not
    know. A field the line leaves out (a trace written by hand, or by an older version)
    reads as nothing of its type."""
    cls = KINDS.get(str(data.get("event")))
    if cls is None:
        return None
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in data:
            values[f.name] = data[f.name]
        elif f.default is MISSING and f.default_factory is MISSING:
            values[f.name] = _blank(f.type)
    if cls is RunStart:
        values["meta"] = {k: v for k, v in data.items() if k not in {f.name for f in fields(cls)} and k != "event"}
    return cls(**values)
