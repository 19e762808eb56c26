"""Checks the public suite against itself: every task's `reference` solution, run after
its setup in a fresh directory, must meet the task's expectations.

    python bench/suite/check_suite.py [SUITE_DIR]

Runs on the host with bash, no Docker and no model: it checks the tasks, not Babel.
Absolute workspaces (/testbed, /srv/data, /app) are created fresh and removed again, so
run it as root, on a machine where those paths are not in use. Ends with
`N passed, N failed`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from babel.evaluate import Task, check, load_suite  # noqa: E402


def sh(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True, timeout=60)


def fresh(task: Task) -> Path:
    if task.workspace == "/workspace":
        return Path(tempfile.mkdtemp(prefix="suite-"))
    path = Path(task.workspace)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def check_task(task: Task, reference: str) -> tuple[bool, str]:
    work = fresh(task)
    try:
        if sh(task.setup, work).returncode != 0:
            return False, "setup failed"
        expected = None
        if "output_of" in task.expect:
            other = Path(tempfile.mkdtemp(prefix="suite-ref-")) if task.workspace == "/workspace" else None
            if other is None:  # absolute workspaces: the same path, rebuilt
                shutil.rmtree(work)
                work.mkdir(parents=True)
                sh(task.setup, work)
            else:
                sh(task.setup, other)
            expected = sh(str(task.expect["output_of"]), other or work).stdout
            if other is not None:
                shutil.rmtree(other)
            if not expected.strip():
                return False, "output_of printed nothing"
            if other is None:
                shutil.rmtree(work)
                work.mkdir(parents=True)
                sh(task.setup, work)
        done = sh(reference, work)
        files = {p: (work / p).read_text() if (work / p).is_file() else None for p in task.expect.get("files", {})}
        return check(task, done.stdout, files, expected)
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
