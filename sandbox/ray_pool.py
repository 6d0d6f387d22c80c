"""A sandbox pool for environments spread over a Ray cluster.

:func:`start_ray_pool` starts one :class:`PoolHost` actor on every live node of the cluster
the process is connected to. Each host owns an ordinary :class:`SandboxPool` whose sandboxes
run on that node. It returns a :class:`RayPool`: a client that can be shipped to tasks and
actors on any node and given wherever a ``SandboxPool`` is accepted (``CodeARCEnv(pool=...)``,
``make_vector_env(pool=...)``). A call made through the client goes to the host on the node
the caller runs on, so sandboxes stay next to the environments that use them; a node without
a host (one that joined after the start) uses another node's host.

    pool = start_ray_pool(size=8, backend="bwrap")          # on the trainer's driver
    @ray.remote
    def rollout(pool):
        env = CodeARCEnv(split="builtin", pool=pool)         # on any node
        ...
    pool.shutdown()                                          # stops every host

Ray is an optional extra (``pip install codearc-env[ray]``); it is imported only here, when a
Ray pool is made or used.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from codearc_env.errors import SandboxError
from codearc_env.sandbox.base import BackendInfo, CallResult, Invocation, Isolation, Limits
from codearc_env.sandbox.pool import (
    DEFAULT_ASYNC_THREADS,
    DEFAULT_SIZE,
    PoolStats,
    SandboxPool,
    Side,
    _Member,
)

HOST_CONCURRENCY = DEFAULT_ASYNC_THREADS
"""Calls one host serves at once: a call waiting for a busy member holds a thread, as in
:meth:`SandboxPool.arun`."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SandboxError(
            "Ray is not installed: pip install 'codearc-env[ray]' (or ray==2.52.0)"
        ) from None
    return ray


class PoolHost:
    """Owns one :class:`SandboxPool` on the node it runs on (a Ray actor, one per node)."""

    def __init__(self, size: int, backend: str | None, limits: Limits | None) -> None:
        self.pool = SandboxPool(size, backend, limits)

    def run(
        self, side: Side, source: str, function: str, invocations: Sequence[Invocation],
        limits: Limits | None, isolation: Isolation,
    ) -> list[CallResult]:
        return self.pool.run(side, source, function, invocations, limits, isolation=isolation)

    def node_id(self) -> str:
        return str(import_ray().get_runtime_context().get_node_id())

    def backend_info(self) -> BackendInfo:
        return self.pool.backend_info()

    def stats(self) -> PoolStats:
        return self.pool.stats

    def close(self) -> None:
        self.pool.close()


_CLIENTS: dict[str, RayPool] = {}
_REMOTE_CLASSES: dict[type, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def live_node_ids() -> list[str]:
    """The ids of the cluster's live nodes (the process must be connected to Ray)."""
    ray = import_ray()
    return sorted(node["NodeID"] for node in ray.nodes() if node.get("Alive"))


def start_host(node_id: str, actor_class: type, *args: Any, concurrency: int) -> Any:
    """An actor of ``actor_class`` pinned to ``node_id`` (it dies with that node and is not
    restarted: its callers see the loss and decide what to do)."""
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    with _CLIENTS_LOCK:
        remote_class = _REMOTE_CLASSES.get(actor_class)
        if remote_class is None:
            remote_class = _REMOTE_CLASSES[actor_class] = ray.remote(actor_class)
    return remote_class.options(
        num_cpus=0,  # the work happens in the sandboxes, not in the actor's own thread
        max_concurrency=concurrency,
        max_restarts=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
    ).remote(*args)


def start_ray_pool(
    size: int = DEFAULT_SIZE,
    backend: str | None = None,
    limits: Limits | None = None,
    *,
    async_threads: int = DEFAULT_ASYNC_THREADS,
) -> RayPool:
    """Start a host with a pool of ``size`` sandboxes on every live node; return the client.

    The process must be connected to Ray (``ray.init(...)``). The hosts belong to this
    process: they stop with it, or earlier with :meth:`RayPool.shutdown`.
    """
    if size < 2:
        raise ValueError(
            f"a pool needs at least 2 sandboxes (references and candidates never share "
            f"one), got size={size}"
        )
    ray = import_ray()
    hosts = {
        node: start_host(node, PoolHost, size, backend, limits, concurrency=HOST_CONCURRENCY)
        for node in live_node_ids()
    }
    if not hosts:
        raise SandboxError("the Ray cluster has no live node to start a sandbox pool on")
    started = ray.get([h.node_id.remote() for h in hosts.values()])
    if started != list(hosts):
        raise SandboxError(f"pool hosts started on nodes {started}, not on {list(hosts)}")
    token = uuid.uuid4().hex
    return _attach(token, hosts, size, limits, async_threads)  # copies here resolve to it


def _attach(
    token: str,
    hosts: Mapping[str, Any],
    size: int,
    limits: Limits | None,
    async_threads: int,
) -> RayPool:
    """The client of pool ``token`` in this process: one per process, however many times
    it arrives, so environments here share one oracle (and its reference tables)."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(token)
        if client is None:
            client = _CLIENTS[token] = RayPool(token, hosts, size, limits, async_threads)
        return client


class RayPool(SandboxPool):
    """A client of the pool hosts of a Ray cluster, usable wherever a pool is accepted.

    Made by :func:`start_ray_pool`; pickled into tasks and actors as a handle to the same
    hosts. :meth:`close` ends this client's use (environments never close a given pool);
    :meth:`shutdown` stops the hosts themselves.
    """

    def __init__(
        self,
        token: str,
        hosts: Mapping[str, Any],
        size: int,
        limits: Limits | None = None,
        async_threads: int = DEFAULT_ASYNC_THREADS,
    ) -> None:
        self.token = token
        self.hosts = dict(hosts)
        self.size = size
        self.limits = limits or Limits()
        self._given_limits = limits
        self._reference: list[_Member] = []  # the members live in the hosts
        self._candidate: list[_Member] = []
        self._idle: list[_Member] = []
        self._set_up_calls(async_threads)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _attach,
            (self.token, self.hosts, self.size, self._given_limits, self._async_threads),
        )

    def host(self) -> Any:
        """The host serving this process: the one on its node, else one picked by node id."""
        node = str(import_ray().get_runtime_context().get_node_id())
        host = self.hosts.get(node)
        if host is not None:
            return host
        ids = sorted(self.hosts)
        return self.hosts[ids[zlib.crc32(node.encode("ascii")) % len(ids)]]

    def _run_on(
        self, side: Side, source: str, function: str, invocations: Sequence[Invocation],
        limits: Limits | None, isolation: Isolation,
    ) -> list[CallResult]:
        """The call runs on a member of ``side`` of the host on this node."""
        if self._closed:
            raise SandboxError("the sandbox pool is closed")
        self._count(f"{side}_calls")
        ray = import_ray()
        call = self.host().run.remote(side, source, function, list(invocations), limits, isolation)
        try:
            return list(ray.get(call))
        except ray.exceptions.RayActorError as exc:
            # The host (so its node) is gone: an infrastructure error, never the candidate's.
            raise SandboxError(f"the sandbox pool host is lost: {exc}") from None

    def reference_member(self, source: str) -> Any:
        raise SandboxError("a Ray pool's members live in its hosts; ask a host")

    def backend_info(self) -> BackendInfo:
        ray = import_ray()
        info: BackendInfo = ray.get(self.host().backend_info.remote())
        return info

    def start(self) -> None:
        """Wait until every host answers (they start their members on first use)."""
        if self._closed:
            raise SandboxError("the sandbox pool is closed")
        ray = import_ray()
        ray.get([h.node_id.remote() for h in self.hosts.values()])

    def host_stats(self) -> dict[str, PoolStats]:
        """Each host's pool counts, by node id."""
        ray = import_ray()
        stats = ray.get([h.stats.remote() for h in self.hosts.values()])
        return dict(zip(self.hosts, stats, strict=True))

    def shutdown(self) -> None:
        """Stop every host and its sandboxes (for the process that started them)."""
        ray = import_ray()
        self.close()
        closing = [(h, h.close.remote()) for h in self.hosts.values()]
        for host, ref in closing:
            with contextlib.suppress(ray.exceptions.RayError):  # a lost host has nothing left
                ray.get(ref, timeout=30)
            ray.kill(host)
        with _CLIENTS_LOCK:
            _CLIENTS.pop(self.token, None)
