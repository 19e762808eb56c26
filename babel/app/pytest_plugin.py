"""A pytest plugin so that a project's own tests can run a plan and assert on its trace.

Installed with Babel (entry point `pytest11`), it gives the fixture `babel_run`:

    def test_finds_the_password(babel_run, tmp_path):
        (tmp_path / "app.py").write_text('password = "x"\\n')
        trace = babel_run('grep "password" paths=["."]', root=tmp_path)
        trace.check({"status": "ok", "result": {"contains": ["app.py:1"]}})

`trace.check` raises an AssertionError listing every unmet expectation (the format of
`babel trace check`). The plan runs in the real sandbox; `policy=` grants more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Trace:
    events: list[dict[str, Any]]

    def _end(self) -> dict[str, Any]:
        empty: dict[str, Any] = {}
        return next((e for e in reversed(self.events) if e.get("event") == "run_end"), empty)

    @property
    def status(self) -> str:
        return str(self._end().get("status"))

    @property
    def result(self) -> str | None:
        value = self._end().get("result")
        return None if value is None else str(value)

    def check(self, expectations: dict[str, Any]) -> None:
        from babel.app.tracecheck import check

        failed = [f for f in check(self.events, expectations) if not f.ok]
        if failed:
            raise AssertionError("trace check failed:\n" + "\n".join(f"  ✗ {f.what} ({f.detail})" for f in failed))


def run_traced_plan(source: str, root: Path, policy: Any = None) -> Trace:
    from babel.app.paths import Paths, load_skill_table
    from babel.app.pipeline import execute_plan
    from babel.lang import Event, StepOutput, StepStart, parse_plan
    from babel.sandbox import started
    from babel.verify import Policy, verify
    from babel.vm import rejected

    policy = policy or Policy()
    paths = Paths.from_env()
    skills = load_skill_table(paths).skills
    events: list[dict[str, Any]] = []

    def collect(event: Event) -> None:
        if not isinstance(event, (StepStart, StepOutput)):  # live only, as in a trace
            events.append(event.to_json())

    parsed = parse_plan(source)
    problems = parsed.diagnostics if parsed.plan is None else [d for d in verify(parsed.plan, policy, skills=skills) if d.is_error]
    if problems or parsed.plan is None:
        rejected(parsed.plan, problems, on_event=collect)
        return Trace(events)
    # as `babel run` does: writes land on a staged copy, committed to root only if the run completes
    execute_plan(parsed.plan, Path(root), policy, lambda path, writable: started(path, policy.workspace, writable), journal=paths.commits,
                 on_event=collect, skills=skills)
    return Trace(events)


@pytest.fixture
def babel_run() -> Callable[..., Trace]:
    """Run a plan (text or JSON form) over a directory in the sandbox; returns its Trace."""
    return run_traced_plan
