"""`babel eval --ray` on a real local Ray cluster (two workers, started by the tests).

The model is replayed from the library cassette, so both paths ask the same questions and
get the same answers: what differs is only where the tasks run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from babel.app.cluster import ClusterError, connect, ray_map

ray = pytest.importorskip("ray")
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import the tests

CASSETTE = Path(__file__).parent / "cassettes" / "library.json"
COUNT = "how many lines does notes.txt have?"  # recorded in the library cassette (tests/test_library.py)


def crash_once(marker: Path) -> object:
    """A worker's function that kills its own process the first time it meets item 3."""
    def square(n: int) -> tuple[int, int]:
        if n == 3 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return n * n, os.getpid()
    return square


def test_results_come_back_in_order_and_a_dead_workers_item_runs_again(tmp_path: Path) -> None:
    marker = tmp_path / "crashed"
    seen: list[int] = []
    out = ray_map(lambda: crash_once(marker), list(range(8)), address="local", workers=2, on_result=lambda r: seen.append(r[0]))
    assert [square for square, _ in out] == [n * n for n in range(8)] == seen
    assert marker.exists() and out[3][1] != int(marker.read_text())  # item 3 ran again, on the worker started again
    assert len({pid for _, pid in out}) >= 2  # both workers took items
    assert not ray.is_initialized()  # the cluster this call started is shut down


def test_an_item_whose_worker_keeps_dying_is_a_lost_result_and_the_rest_go_on(tmp_path: Path) -> None:
    def always_dies() -> object:
        def fn(n: int) -> int:
            if n == 1:
                os._exit(1)
            return n
        return fn

    out = ray_map(always_dies, [0, 1, 2], address="local", workers=1, retries=1, on_lost=lambda item, why: -1)
    assert out == [0, -1, 2]


def test_a_cluster_that_cannot_be_reached_or_a_bad_address_is_a_clear_error() -> None:
    with pytest.raises(ClusterError, match="cannot reach the Ray cluster at '127.0.0.1:1'"):
        connect("127.0.0.1:1", 1)
    with pytest.raises(ClusterError, match="give 'local', 'auto', HOST:PORT"):
        connect("nowhere", 1)


@pytest.mark.docker
def test_babel_eval_on_ray_gives_what_babel_eval_gives(docker_ready: None, tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    setup = "printf 'TODO one\\nfine\\nTODO two\\nTODO three\\n' > notes.txt"
    for name, expected in (("a", "4"), ("b", "4"), ("c", "5")):  # c's answer is wrong on purpose: one fails
        (suite / f"{name}.yaml").write_text(json.dumps({"id": f"count-{name}", "request": COUNT, "setup": setup, "expect": {"output": expected}}))
    env = {**os.environ, "BABEL_STATE_DIR": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "BABEL_BACKEND": "cassette", "BABEL_CASSETTE": str(CASSETTE)}
    env.pop("OPENAI_BASE_URL", None)

    def babel(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "babel.cli", "eval", str(suite), "-k", "3", *args], capture_output=True, text=True,
                              timeout=600, stdin=subprocess.DEVNULL, env=env, cwd=tmp_path)

    here, there = babel("--json"), babel("--json", "--ray", "local", "-j", "2")
    assert here.returncode == there.returncode == 1, there.stderr  # one task fails
    mine = [json.loads(line) for line in here.stdout.splitlines()]
    theirs = [json.loads(line) for line in there.stdout.splitlines()]
    assert [(r["id"], r["passed"], r["result"], r["plan"]) for r in theirs] == [(r["id"], r["passed"], r["result"], r["plan"]) for r in mine]
    assert [r["id"] for r in theirs] == ["count-a", "count-b", "count-c"] and [r["passed"] for r in theirs] == [True, True, False]
    assert "2 passed, 1 failed" in there.stderr
