"""A sandbox pool for environments spread over a Ray cluster.

:func:`start_ray_pool` starts one :class:`PoolHost` actor on every live node of the cluster
the process is connected to. Each host owns an ordinary :class:`SandboxPool` whose sandboxes
run on that node. It returns a :class:`RayPool`: a client that can be shipped to tasks and
actors on any node and given wherever a ``SandboxPool`` is accepted (``CodeARCEnv(pool=...)``,
``make_vector_env(pool=...)``). A call made through the client goes to the host on the node
the caller runs on, so sandboxes stay next to the environments that use them; a node without
a host (one that joined after the start, or left out with ``nodes=``) uses another node's host.

A host that dies (its node lost, or the actor killed) fails the calls made to it with
:class:`SandboxError` naming its node, an infrastructure error. The client's next call on that
node starts a fresh host there if the node is still alive (every client of the pool finds the
same one, by name); if the node is gone, calls meant for it keep raising, and a caller that was
only borrowing that node's host moves to another node's.

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
import pickle
import threading
import uuid
import zlib
from collections.abc import Collection, Mapping, Sequence
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
PICKLE_PROTOCOL = 5
"""Of a call's arguments and results between a client and a host (Ray's own protocol)."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SandboxError(
            "Ray is not installed: pip install 'codearc-env[ray]' (or ray==2.52.0)"
        ) from None
    return ray


def pack_call(
    side: Side, source: str, function: str, invocations: Sequence[Invocation],
    limits: Limits | None, isolation: Isolation,
) -> bytes:
    """A call's arguments as the one bytes argument of :meth:`PoolHost.run_packed`.

    Ray serializes each argument of an actor call on its own, and what msgpack cannot hold
    (dataclasses, and the values in them) with cloudpickle, whose per-object hook is Python
    code; one bytes argument made by the C pickler is passed as it is. On one call of a
    query that is about 0.5 ms less CPU, the client's process and the host's together."""
    return pickle.dumps(
        (side, source, function, tuple(invocations), limits, isolation), PICKLE_PROTOCOL
    )


class PoolHost:
    """Owns one :class:`SandboxPool` on the node it runs on (a Ray actor, one per node)."""

    def __init__(self, size: int, backend: str | None, limits: Limits | None) -> None:
        self.pool = SandboxPool(size, backend, limits)

    def run(
        self, side: Side, source: str, function: str, invocations: Sequence[Invocation],
        limits: Limits | None, isolation: Isolation,
    ) -> list[CallResult]:
        return self.pool.run(side, source, function, invocations, limits, isolation=isolation)

    def run_packed(self, call: bytes) -> bytes:
        """:meth:`run` of a :func:`pack_call` call; its results pickled (an error raises
        as from :meth:`run`). The pickles come from the pool's own client, as Ray's would."""
        return pickle.dumps(self.run(*pickle.loads(call)), PICKLE_PROTOCOL)

    def node_id(self) -> str:
        return str(import_ray().get_runtime_context().get_node_id())

    def backend_info(self) -> BackendInfo:
        return self.pool.backend_info()

    def stats(self) -> PoolStats:
        return self.pool.stats

    def close(self) -> None:
        self.pool.close()


def pick_host_node(here: str, host_nodes: Collection[str], gone: Collection[str]) -> str:
    """The node whose host serves a caller on node ``here``: ``here`` when it has a host;
    else one of the others, picked by ``here``'s id (so by every caller on it alike) among
    those not ``gone`` while any is left."""
    if here in host_nodes:
        return here
    ids = sorted(set(host_nodes) - set(gone)) or sorted(host_nodes)
    return ids[zlib.crc32(here.encode("ascii")) % len(ids)]


_CLIENTS: dict[str, RayPool] = {}
_REMOTE_CLASSES: dict[type, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def live_node_ids() -> list[str]:
    """The ids of the cluster's live nodes (the process must be connected to Ray)."""
    ray = import_ray()
    return sorted(node["NodeID"] for node in ray.nodes() if node.get("Alive"))


def start_host(
    node_id: str, actor_class: type, *args: Any, concurrency: int, name: str | None = None
) -> Any:
    """An actor of ``actor_class`` pinned to ``node_id`` (it dies with that node and is not
    restarted: its callers see the loss and decide what to do). With ``name``: the live actor
    of that name if there is one, else a new one under that name."""
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    with _CLIENTS_LOCK:
        remote_class = _REMOTE_CLASSES.get(actor_class)
        if remote_class is None:
            remote_class = _REMOTE_CLASSES[actor_class] = ray.remote(actor_class)
    named: dict[str, Any] = {"name": name, "get_if_exists": True} if name is not None else {}
    return remote_class.options(
        num_cpus=0,  # the work happens in the sandboxes, not in the actor's own thread
        max_concurrency=concurrency,
        max_restarts=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
        **named,
    ).remote(*args)


def host_name(token: str, node_id: str) -> str:
    """The actor name of pool ``token``'s host on ``node_id``: a name is free again once its
    actor is dead, so clients that lose a host all find the one fresh host started there."""
    return f"codearc-pool-{token}-{node_id}"


def start_ray_pool(
    size: int = DEFAULT_SIZE,
    backend: str | None = None,
    limits: Limits | None = None,
    *,
    nodes: Sequence[str] | None = None,
    async_threads: int = DEFAULT_ASYNC_THREADS,
) -> RayPool:
    """Start a host with a pool of ``size`` sandboxes on every live node (or on ``nodes``,
    given by node id); return the client.

    The process must be connected to Ray (``ray.init(...)``). The hosts belong to this
    process: they stop with it, or earlier with :meth:`RayPool.shutdown`.
    """
    if size < 2:
        raise ValueError(
            f"a pool needs at least 2 sandboxes (references and candidates never share "
            f"one), got size={size}"
        )
    ray = import_ray()
    live = live_node_ids()
    chosen = live if nodes is None else sorted(set(nodes))
    not_live = [node for node in chosen if node not in live]
    if not_live:
        raise SandboxError(f"not live nodes of the Ray cluster: {', '.join(not_live)}")
    token = uuid.uuid4().hex
    hosts = {
        node: start_host(node, PoolHost, size, backend, limits, concurrency=HOST_CONCURRENCY,
                         name=host_name(token, node))
        for node in chosen
    }
    if not hosts:
        raise SandboxError("the Ray cluster has no live node to start a sandbox pool on")
    started = ray.get([h.node_id.remote() for h in hosts.values()])
    if started != list(hosts):
        raise SandboxError(f"pool hosts started on nodes {started}, not on {list(hosts)}")
    # copies arriving in this process resolve to this client
    return _attach(token, hosts, size, backend, limits, async_threads)


def _attach(
    token: str,
    hosts: Mapping[str, Any],
    size: int,
    backend: str | None,
    limits: Limits | None,
    async_threads: int,
) -> RayPool:
    """The client of pool ``token`` in this process: one per process, however many times
    it arrives, so environments here share one oracle (and its reference tables)."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(token)
        if client is None:
            client = _CLIENTS[token] = RayPool(token, hosts, size, backend, limits, async_threads)
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
        backend: str | None = None,
        limits: Limits | None = None,
        async_threads: int = DEFAULT_ASYNC_THREADS,
    ) -> None:
        self.token = token
        self.hosts = dict(hosts)
        self.size = size
        self.backend = backend
        self.limits = limits or Limits()
        self._given_limits = limits
        self._lost: set[str] = set()  # nodes whose host this client saw die
        self._gone: set[str] = set()  # lost nodes that have left the cluster
        self._hosts_lock = threading.Lock()
        self._reference: list[_Member] = []  # the members live in the hosts
        self._candidate: list[_Member] = []
        self._idle: list[_Member] = []
        self._set_up_calls(async_threads)

    def __reduce__(self) -> tuple[Any, ...]:
        with self._hosts_lock:
            hosts = dict(self.hosts)
        return (
            _attach,
            (self.token, hosts, self.size, self.backend, self._given_limits,
             self._async_threads),
        )

    def serving_node(self) -> str:
        """The node whose host serves this process (see :func:`pick_host_node`)."""
        here = str(import_ray().get_runtime_context().get_node_id())
        with self._hosts_lock:
            return pick_host_node(here, self.hosts, self._gone)

    def host(self) -> Any:
        """The host serving this process (see :meth:`serving_node`)."""
        return self._host_on(self.serving_node())

    def _host_on(self, node: str) -> Any:
        """``node``'s host; after a loss, a fresh one if the node is alive, else
        :class:`SandboxError`."""
        with self._hosts_lock:
            if node in self._lost:
                if node in self._gone or node not in live_node_ids():
                    self._gone.add(node)
                    raise SandboxError(
                        f"the sandbox pool host on Ray node {node} is lost and the node has "
                        "left the cluster"
                    )
                self.hosts[node] = start_host(
                    node, PoolHost, self.size, self.backend, self._given_limits,
                    concurrency=HOST_CONCURRENCY, name=host_name(self.token, node),
                )
                self._lost.discard(node)
            return self.hosts[node]

    def _ask(self, node: str, host: Any, ref: Any) -> Any:
        """The answer of ``host`` (``node``'s) to call ``ref``; a lost host is an
        infrastructure error, never the candidate's."""
        ray = import_ray()
        try:
            return ray.get(ref)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnschedulableError) as exc:
            with self._hosts_lock:
                if self.hosts.get(node) is host:  # not already replaced by another thread
                    self._lost.add(node)
            raise SandboxError(
                f"the sandbox pool host on Ray node {node} is lost ({type(exc).__name__}); "
                "the next call starts a fresh one there if the node is alive"
            ) from exc

    def _run_on(
        self, side: Side, source: str, function: str, invocations: Sequence[Invocation],
        limits: Limits | None, isolation: Isolation,
    ) -> list[CallResult]:
        """The call runs on a member of ``side`` of the host serving this process."""
        if self._closed:
            raise SandboxError("the sandbox pool is closed")
        self._count(f"{side}_calls")
        node = self.serving_node()
        host = self._host_on(node)
        call = host.run_packed.remote(
            pack_call(side, source, function, invocations, limits, isolation)
        )
        results: list[CallResult] = pickle.loads(self._ask(node, host, call))
        return results

    def reference_member(self, source: str) -> Any:
        raise SandboxError("a Ray pool's members live in its hosts; ask a host")

    def warm(self, source: str, function: str, limits: Limits | None = None) -> None:
        """Nothing: the members live in the hosts, where an episode's first query starts
        the resident process."""

    def backend_info(self) -> BackendInfo:
        node = self.serving_node()
        host = self._host_on(node)
        info: BackendInfo = self._ask(node, host, host.backend_info.remote())
        return info

    def start(self) -> None:
        """Wait until every host answers (they start their members on first use)."""
        if self._closed:
            raise SandboxError("the sandbox pool is closed")
        self._ask_every("node_id")

    def host_stats(self) -> dict[str, PoolStats]:
        """Each host's pool counts, by node id."""
        return self._ask_every("stats")

    def _ask_every(self, method: str) -> dict[str, Any]:
        asked = []
        for node in sorted(self.hosts):
            host = self._host_on(node)
            asked.append((node, host, getattr(host, method).remote()))
        return {node: self._ask(node, host, ref) for node, host, ref in asked}

    def shutdown(self) -> None:
        """Stop every host and its sandboxes (for the process that started them), fresh
        hosts started by other clients of the pool included."""
        ray = import_ray()
        self.close()
        with self._hosts_lock:
            hosts = list(self.hosts.items())
        current = []
        for node, known in hosts:
            with contextlib.suppress(ValueError):  # no live host of that name
                current.append(ray.get_actor(host_name(self.token, node)))
            current.append(known)
        closing = [(h, h.close.remote()) for h in current]
        for host, ref in closing:
            with contextlib.suppress(ray.exceptions.RayError):  # a lost host has nothing left
                ray.get(ref, timeout=30)
            ray.kill(host)
        with _CLIENTS_LOCK:
            _CLIENTS.pop(self.token, None)
