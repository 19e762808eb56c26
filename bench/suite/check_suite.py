"""Checks the public suite against itself: every task's `reference` solution, run after
its setup in a fresh directory, must meet the task's expectations.

    python bench/suite/check_suite.py [SUITE_DIR]

Runs on the host with bash, no Docker and no model: it checks the tasks, not Babel.
Absolute workspaces (/testbed, /srv/data, /app) are stood in for by temp dirs (their
paths rewritten in the scripts), so nothing outside /tmp is touched. Ends with
`N passed, N failed`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from babel.app.evaluate import Task, check, load_suite  # noqa: E402


def sh(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True, timeout=60)


def check_task(task: Task, reference: str) -> tuple[bool, str]:
    """Run setup, then the reference, in a fresh temp dir standing in for the workspace.

    An absolute workspace (/testbed, ...) is never touched on the host: its path is
    rewritten to the temp dir in the task's scripts.
    """

    def local(script: str, work: Path) -> str:
        return script if task.workspace == "/workspace" else script.replace(task.workspace, str(work))

    def prepared() -> Path:
        work = Path(tempfile.mkdtemp(prefix="suite-"))
        if sh(local(task.setup, work), work).returncode != 0:
            raise RuntimeError("setup failed")
        return work

    try:
        expected = None
        if "output_of" in task.expect:
            other = prepared()
            expected = sh(local(str(task.expect["output_of"]), other), other).stdout.replace(str(other), task.workspace)
            shutil.rmtree(other)
            if not expected.strip():
                return False, "output_of printed nothing"
        work = prepared()
    except RuntimeError as error:
        return False, str(error)
    try:
        done = sh(local(reference, work), work)
        files = {p: (work / p).read_text() if (work / p).is_file() else None for p in task.expect.get("files", {})}
        return check(task, done.stdout.replace(str(work), task.workspace), files, expected)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    suite = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    import yaml

    references = {}
    for file in sorted(suite.glob("*.yaml")):
        for raw in yaml.safe_load(file.read_text()) or []:
            references[raw["id"]] = raw.get("reference", "")
    passed = failed = 0
    for task in load_suite(suite):
        ok, why = check_task(task, references.get(task.id, ""))
        passed += ok
        failed += not ok
        if not ok:
            print(f"FAIL {task.id}: {why}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
