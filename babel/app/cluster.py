"""`babel eval --ray`: a suite's tasks fanned out over a Ray cluster.

Each Ray worker is an actor that builds, once, what a task needs (the model client, with
its own embedded engine, or a client of the shared endpoint; the sandbox factory of its
own machine's Docker engine; the skill table sent from the driver) and then runs tasks
one at a time, each end to end as `babel eval` runs it (`make_runner`). The driver keeps
`workers` tasks in flight, hands each result to `on_result` in the suite's order, and
when a worker dies (its process killed, its machine gone) Ray starts it again and runs
its task again, up to `retries` times; a task that still fails is a failed result, and
the suite goes on.

Ray is an optional dependency (`pip install 'babel-plans[ray]'`, what scripts/setup
installs): only this module imports it, and only when called.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from babel.app.evaluate import Task, TaskResult, eval_runner, run_one
from babel.app.paths import Paths
from babel.compiler import REFINE_ROUNDS, STABLE_MESSAGES
from babel.model import Config, ModelPool, make_client
from babel.sandbox import started
from babel.skills import Skill

Item = TypeVar("Item")
Out = TypeVar("Out")

#: The environment a worker on another machine needs to reach the same model and Docker
#: the way the driver does (API keys are never in config files, so they travel this way).
FORWARDED = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DOCKER_HOST")


class ClusterError(RuntimeError):
    """Ray is missing, or the cluster cannot be reached; the message says which and what to do."""


@dataclass(frozen=True)
class EvalJob:
    """What every worker needs to run a task as `babel eval` does (sent to it pickled)."""

    config: Config
    k: int = 3
    repair: bool = True
    execute_candidates: bool = True
    variants: bool = False
    review: bool = False
    check_outputs: bool = True
    refine: int = REFINE_ROUNDS
    skills: dict[str, Skill] = field(default_factory=dict)  # (a plain dict: a SkillMap's mapping proxy cannot be pickled)
    cpus: int = 1  # the CPU cores a worker asks of the cluster, and the engine's threads when none are configured

    def runner(self) -> Callable[[Task], TaskResult]:
        """Run in the worker: its own model client and its machine's sandboxes."""
        config = self.config
        paths = Paths.from_env()
        if config.sources.get("cache_dir", "default") == "default":  # the driver's cache is not this machine's
            config = dataclasses.replace(config, cache_dir=str(paths.cache))
        if config.threads == 0:
            config = dataclasses.replace(config, threads=self.cpus)
        client = make_client(config, stable_messages=STABLE_MESSAGES, pool=ModelPool())
        run = eval_runner(client, started, self.skills, k=self.k, repair=self.repair, execute_candidates=self.execute_candidates,
                          variants=self.variants, review=self.review, check_outputs=self.check_outputs, refine=self.refine)
        return lambda task: run_one(run, task)


class _Worker(Generic[Item, Out]):
    """The actor: `setup` is called once, in the worker's process."""

    def __init__(self, setup: Callable[[], Callable[[Item], Out]]) -> None:
        self.fn = setup()

    def run(self, item: Item) -> Out:
        return self.fn(item)


def ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError("--ray needs Ray: pip install 'babel-plans[ray]' (./scripts/setup installs it)") from None
    return ray


def connect(address: str, workers: int) -> bool:
    """Join the cluster at `address` ("auto": the one `ray start` began on this machine; a
    host:port or ray:// address), or with "local" start one here with `workers` CPUs for the
    length of the call. True when this call started Ray (and must shut it down)."""
    ray = ray_module()
    if ray.is_initialized():
        return False
    if address != "local" and address != "auto":
        _answers(address)
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False, "include_dashboard": False}
    try:
        if address == "local":
            ray.init(num_cpus=workers, **quiet)
        else:
            env = {name: os.environ[name] for name in os.environ if name.startswith("BABEL_") or name in FORWARDED}
            ray.init(address=address, runtime_env={"env_vars": env}, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise _unreachable(address, str(error)) from None
    return True


def _unreachable(address: str, why: str) -> ClusterError:
    return ClusterError(f"cannot reach the Ray cluster at {address!r}: {why} (start one with `ray start --head`, or use --ray local)")


def _answers(address: str) -> None:
    """Fail fast on an address where nothing listens (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--ray {address!r}: give 'local', 'auto', HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as error:
        raise _unreachable(address, str(error.strerror or error)) from None


def ray_map(setup: Callable[[], Callable[[Item], Out]], items: Sequence[Item], *, address: str = "local", workers: int | None = None,
            cpus: int = 1, retries: int = 2, on_result: Callable[[Out], None] | None = None,
            on_lost: Callable[[Item, str], Out] | None = None) -> list[Out]:
    """fn(item) for every item on `workers` Ray actors (fn = setup(), made once in each),
    at most `workers` at a time (None: one per `cpus` CPUs of the cluster); results in the items' order, each handed to `on_result`
    as soon as every earlier one is known. A worker that dies is started again and its item
    run again, up to `retries` times; past that, on_lost(item, why) stands for its result
    (none given: the error is raised)."""
    ray = ray_module()
    if not items:
        return []
    mine = connect(address, workers or os.cpu_count() or 1)
    try:
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus)
        actor = ray.remote(num_cpus=cpus, max_restarts=retries, max_task_retries=retries)(_Worker)
        idle = [actor.remote(setup) for _ in range(min(workers, len(items)))]
        pending: dict[Any, tuple[int, Any]] = {}
        done: dict[int, Out] = {}
        shown = 0
        queue = collections.deque(enumerate(items))
        while queue or pending:
            while queue and idle:
                index, item = queue.popleft()
                worker = idle.pop()
                pending[worker.run.remote(item)] = (index, worker)
            [ready], _ = ray.wait(list(pending), num_returns=1)
            index, worker = pending.pop(ready)
            try:
                done[index] = ray.get(ready)
                idle.append(worker)
            except ray.exceptions.RayError as error:  # the worker died past its restarts (or the task raised)
                if on_lost is None:
                    raise
                done[index] = on_lost(items[index], f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
                idle.append(actor.remote(setup))
            while shown in done:
                if on_result is not None:
                    on_result(done[shown])
                shown += 1
        return [done[i] for i in range(len(items))]
    finally:
        if mine:
            ray.shutdown()


def run_eval_on_ray(tasks: list[Task], job: EvalJob, *, address: str = "local", workers: int | None = None,
                    on_result: Callable[[TaskResult], None] | None = None) -> list[TaskResult]:
    """`babel eval --ray ADDRESS -j WORKERS`: the suite's tasks over a Ray cluster, one result
    per task in order (each also to `on_result`), as `run_eval` gives them on one machine;
    `workers` None: one per `job.cpus` CPUs of the cluster."""
    def lost(task: Task, why: str) -> TaskResult:
        return TaskResult(task.id, False, None, None, f"error: the Ray worker running it was lost: {why}", 0.0)

    return ray_map(job.runner, tasks, address=address, workers=workers, cpus=job.cpus, on_result=on_result, on_lost=lost)
