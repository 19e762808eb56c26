"""The package stays clean under ruff and mypy --strict (style.md's cheap friends)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", [["ruff", "check", "babel", "tests", "bench"], ["mypy", "--strict", "babel"]])
def test_lint(command: list[str]) -> None:
    if shutil.which(command[0]) is None and not (Path(sys.executable).parent / command[0]).exists():
        pytest.fail(f"{command[0]} is not installed (it is in the dev extra)")
    tool = str(Path(sys.executable).parent / command[0]) if (Path(sys.executable).parent / command[0]).exists() else command[0]
    done = subprocess.run([tool, *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
