"""``codearc eval --ray``: a run's episodes on a Ray cluster; its files written by the driver.

One :class:`EpisodeHost` actor per live node plays episodes there, on environments that share
that node's own sandbox pool (``--pool-size`` per node). It writes nothing: each episode comes
back to the driver as its result and its trace lines, and the driver alone appends to
``results.jsonl`` and writes ``traces/``. So ``--resume``, the summary and the exports read the
same files as a run without Ray.

When a node dies, the episodes in flight on it come back as errors of its actor; the driver
plays them again on the nodes left (and on nodes that have joined since). A result is written
only when it arrives, and never for an episode already recorded, so none is lost or counted
twice.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from codearc_env import trace as tr
from codearc_env.agents.episode import Agent, EpisodeResult
from codearc_env.agents.results import ResultsFile
from codearc_env.agents.runner import (
    PlayOptions,
    Progress,
    RunPlan,
    Task,
    trace_path,
    with_trace,
)
from codearc_env.errors import CodeARCError
from codearc_env.sandbox.ray_pool import import_ray, live_node_ids, start_host

log = logging.getLogger(__name__)
LOCAL_CLUSTER = ""
"""``--ray`` without an address: start a Ray cluster on this machine for the run."""
LOOPBACK = "127.0.0.1"
"""The only address a cluster started for the run listens on."""


class RayRunError(CodeARCError):
    """The Ray cluster cannot carry the run on (no live node left)."""


@contextlib.contextmanager
def connected(address: str) -> Iterator[Any]:
    """Ray, connected to ``address`` (or to a new local cluster for :data:`LOCAL_CLUSTER`).
    A process already connected keeps its connection; one made here ends here."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports unless asked for
    if address == LOCAL_CLUSTER:
        # Loopback only: a cluster this run starts for itself takes no connection from outside.
        ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING,
                 _node_ip_address=LOOPBACK)
    else:
        ray.init(address=address, logging_level=logging.WARNING)
    try:
        yield ray
    finally:
        ray.shutdown()


class NodeSetup:
    """Makes a node's environment factory and the pool it owns (None: no pool), from the
    run's settings; shipped to every node."""

    def __init__(self, config: Any, env_factory: Callable[[str], Any] | None = None) -> None:
        self.config = config
        self.env_factory = env_factory

    def __call__(self) -> tuple[Callable[[str], Any], Any]:
        from codearc_env.agents.evaluate import default_env_factory, make_pool

        if self.env_factory is not None:
            return self.env_factory, None
        pool = make_pool(self.config)
        return default_env_factory(self.config, pool), pool


class TraceLines:
    """Collects an episode's trace events as JSON lines, for the driver to write."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, event: tr.Event) -> None:
        self.lines.append(tr.json_line(tr.event_to_dict(event)))


class EpisodeHost:
    """Plays episodes on one node (a Ray actor; one thread per episode in flight). Each
    thread keeps its own environments; they all run on the node's pool."""

    def __init__(
        self, setup: NodeSetup, make_agent: Callable[[Task], Agent], options: PlayOptions
    ) -> None:
        self.make_env, self.pool = setup()
        self.make_agent = make_agent
        self.options = options
        self.replied = threading.Event()  # as in the runner: a rejection is fatal before this
        self._local = threading.local()
        self._envs: list[Any] = []
        self._lock = threading.Lock()

    def node_id(self) -> str:
        return str(import_ray().get_runtime_context().get_node_id())

    def _env(self, variant: str) -> Any:
        envs: dict[str, Any] = self._local.__dict__.setdefault("envs", {})
        if variant not in envs:
            envs[variant] = self.make_env(variant)
            with self._lock:
                self._envs.append(envs[variant])
        return envs[variant]

    def _drop_env(self, variant: str) -> None:
        env = self._local.__dict__.get("envs", {}).pop(variant, None)
        if env is not None:
            with contextlib.suppress(Exception):
                env.close()

    def play(self, task: Task, replied_elsewhere: bool) -> tuple[dict[str, Any], list[str], bool]:
        """One episode, with the runner's retries; returns its result, its trace lines (all
        attempts) and whether the model has replied on this node."""
        if replied_elsewhere:
            self.replied.set()
        trace = TraceLines()  # every attempt's events, in order
        result = self.options.play(
            task,
            self.make_agent,
            self._env,
            self._drop_env,
            lambda attempt: contextlib.nullcontext(trace),
            self.replied,
            time.sleep,
        )
        return result.to_dict(), trace.lines, self.replied.is_set()

    def close(self) -> None:
        with self._lock:
            envs, self._envs = self._envs, []
        for env in envs:
            with contextlib.suppress(Exception):
                env.close()
        if self.pool is not None:
            self.pool.close()


def ray_executor(config: Any, env_factory: Callable[[str], Any] | None = None) -> Any:
    """A stand-in for :func:`~codearc_env.agents.runner.run_tasks` that plays the tasks on the
    Ray cluster ``config.ray`` names; nodes make their own environments and pools."""
    return functools.partial(run_on_ray, config.ray, NodeSetup(config, env_factory))


def run_on_ray(
    address: str,
    setup: NodeSetup,
    tasks: Sequence[Task],
    plan: RunPlan,
    on_result: Callable[[EpisodeResult | None, Progress], None] | None = None,
) -> list[EpisodeResult]:
    """:func:`~codearc_env.agents.runner.run_tasks` on the cluster at ``address``, at most
    ``plan.concurrency`` episodes at once per node. ``plan.make_env`` is not used: ``setup``
    makes each node's environments there."""
    done, progress = plan.recorded(tasks, on_result)
    todo = deque(t for t in tasks if t.key not in done)
    if not todo:
        return []  # nothing left: no cluster needed
    with connected(address) as ray:
        driver = _Driver(ray, setup, plan.make_agent, plan.options, plan.concurrency)
        try:
            new = driver.run(
                todo, set(done), plan.results, plan.traces_dir, progress, on_result, plan.stop
            )
        except BaseException:
            driver.close_hosts(graceful=False)  # episodes in flight are not recorded
            raise
        driver.close_hosts(graceful=True)
        return new


class _Driver:
    """Hands tasks to the node hosts and records what comes back (one thread: the caller's)."""

    def __init__(
        self,
        ray: Any,
        setup: NodeSetup,
        make_agent: Callable[[Task], Agent],
        options: PlayOptions,
        concurrency: int,
    ) -> None:
        self.ray = ray
        self.setup = setup
        self.make_agent = make_agent
        self.options = options
        self.concurrency = concurrency
        self.hosts: dict[str, Any] = {}
        self.lost: set[str] = set()
        self.in_flight: dict[Any, tuple[str, Task]] = {}
        self.replied = False
        self.episodes_replayed = 0

    def add_hosts(self) -> None:
        """A host on every live node that has none (nodes that joined late included)."""
        for node in live_node_ids():
            if node not in self.hosts and node not in self.lost:
                self.hosts[node] = start_host(
                    node, EpisodeHost, self.setup, self.make_agent, self.options,
                    concurrency=self.concurrency + 1,  # a thread left for close()
                )

    def run(
        self,
        todo: deque[Task],
        recorded: set[tuple[str, int]],
        results: ResultsFile,
        traces_dir: Path,
        progress: Progress,
        on_result: Callable[[EpisodeResult | None, Progress], None] | None,
        stop: threading.Event,
    ) -> list[EpisodeResult]:
        ray = self.ray
        new: list[EpisodeResult] = []
        self.add_hosts()
        while (todo or self.in_flight) and not stop.is_set():
            self.dispatch(todo)
            if not self.in_flight:
                raise RayRunError(
                    f"no live node left in the Ray cluster: {len(todo)} episodes not played "
                    "(finished ones are recorded; continue with --resume)"
                )
            ready, _ = ray.wait(list(self.in_flight), num_returns=1, timeout=0.5)
            for ref in ready:
                node, task = self.in_flight.pop(ref)
                try:
                    data, lines, replied = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    if exc.actor_init_failed:  # a set-up error, not a lost node
                        raise RayRunError(
                            f"the episode host on Ray node {node} did not start: {exc}"
                        ) from None
                    self.node_lost(node, exc)
                    todo.appendleft(task)  # played again on a live node
                    self.episodes_replayed += 1
                    continue
                except ray.exceptions.RayTaskError as exc:
                    # The episode's own error (e.g. FatalModelError): as in the runner, it
                    # stops the run.
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, BaseException):
                        raise cause from None
                    raise
                self.replied = self.replied or replied
                if task.key in recorded:
                    continue  # already on disk: never counted twice
                result = _record(task, data, lines, results, traces_dir)
                recorded.add(task.key)
                new.append(result)
                progress.add(result)
                if on_result is not None:
                    on_result(result, progress)
        if self.episodes_replayed:
            log.warning("%d episodes were played again after their node was lost",
                        self.episodes_replayed)
        return new

    def dispatch(self, todo: deque[Task]) -> None:
        load = {node: 0 for node in self.hosts}
        for node, _ in self.in_flight.values():
            load[node] = load.get(node, 0) + 1
        for node, host in list(self.hosts.items()):
            while todo and load[node] < self.concurrency:
                task = todo.popleft()
                self.in_flight[host.play.remote(task, self.replied)] = (node, task)
                load[node] += 1

    def node_lost(self, node: str, exc: BaseException) -> None:
        if node in self.hosts:
            reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            log.warning("Ray node %s lost (%s); its episodes are played again elsewhere",
                        node, type(exc).__name__)
            log.info("why node %s was lost: %s", node, reason)
            host = self.hosts.pop(node)
            with contextlib.suppress(Exception):  # unreachable may still be alive: stop it
                self.ray.kill(host)
            self.lost.add(node)
            self.add_hosts()

    def close_hosts(self, graceful: bool) -> None:
        """Stop every host; ``graceful``: let each close its environments and pool first
        (killing a host kills its sandboxes too: they die with their parent)."""
        ray = self.ray
        closing = [(h, h.close.remote() if graceful else None) for h in self.hosts.values()]
        for host, ref in closing:
            if ref is not None:
                with contextlib.suppress(ray.exceptions.RayError):
                    ray.get(ref, timeout=60)
            ray.kill(host)
        self.hosts.clear()


def _record(
    task: Task, data: dict[str, Any], lines: list[str], results: ResultsFile, traces_dir: Path
) -> EpisodeResult:
    """Write the episode's trace, then its result line (as the runner does)."""
    path = trace_path(traces_dir, task)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)
        fh.flush()
        os.fsync(fh.fileno())
    result = with_trace(task, data, traces_dir)
    results.append(result)
    return result
