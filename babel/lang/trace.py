"""The trace store: every run's events, kept as JSON Lines and browsable with `babel logs`.

A run writes one file, `<state dir>/runs/<run id>.jsonl`, as it goes (run_start, one
event per step, any repairs, run_end), so a run that is killed still leaves what it
did. The state dir is the application's to choose (`babel.app.Paths`: $BABEL_STATE_DIR,
else $XDG_STATE_HOME/babel, else ~/.local/state/babel); the store is given it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    time: str
    status: str
    steps: int
    request: str | None
    path: Path


class TraceWriter:
    """Appends a run's events to its file as they happen."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def __call__(self, event: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TraceStore:
    """The traces kept under a state dir: `state`/runs/<run id>.jsonl."""

    def __init__(self, state: Path) -> None:
        self.root = state / "runs"

    def writer(self, run_id: str) -> TraceWriter:
        return TraceWriter(self.root / f"{run_id}.jsonl")

    def runs(self) -> list[RunSummary]:
        if not self.root.is_dir():
            return []
        summaries = []
        for path in sorted(self.root.glob("*.jsonl"), reverse=True):
            events = list(read_events(path))
            if not events:
                continue
            start = events[0]
            end = next((e for e in reversed(events) if e.get("event") == "run_end"), None)
            summaries.append(RunSummary(
                run_id=path.stem, time=str(start.get("time", "")),
                status=str(end.get("status")) if end else "unfinished",
                steps=sum(1 for e in events if e.get("event") == "step"),
                request=start.get("request"), path=path,
            ))
        return summaries

    def find(self, prefix: str) -> Path | None:
        """The trace whose run id starts with `prefix` (or `last` for the newest)."""
        runs = self.runs()
        if prefix in ("last", "latest"):
            return runs[0].path if runs else None
        matches = [r.path for r in runs if r.run_id.startswith(prefix)]
        return matches[0] if len(matches) == 1 else None


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The events of a trace file; a torn last line (a killed run) is skipped."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                yield event
