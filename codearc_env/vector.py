"""Vector environments on one shared execution pool.

``gymnasium.make_vec("CodeARC-Annotated-v0", num_envs=64)`` lands here (the registered
``vector_entry_point``): the sub-environments run in this process on one
:class:`~codearc_env.sandbox.pool.SandboxPool` of at most ``pool_size`` sandboxes, instead
of two sandboxes each. The vector env owns that pool and closes it with itself.
``vectorization_mode="sync"`` or ``"async"`` still gives one env (two sandboxes) per slot.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from gymnasium.vector import SyncVectorEnv

from codearc_env.sandbox.base import Limits
from codearc_env.sandbox.pool import DEFAULT_SIZE, SandboxPool


def default_pool_size(num_envs: int) -> int:
    """Two sandboxes per env up to the pool's default size: a small batch gains nothing from
    sharing, a large one needs no more."""
    return max(2, min(DEFAULT_SIZE, 2 * num_envs))


class PooledSyncVectorEnv(SyncVectorEnv):
    """A SyncVectorEnv whose sub-environments share ``pool``; closing it closes the pool."""

    def __init__(self, env_fns: Any, pool: SandboxPool, **kwargs: Any) -> None:
        self.pool = pool
        try:
            super().__init__(env_fns, **kwargs)
        except BaseException:
            pool.close()
            raise

    def close_extras(self, **kwargs: Any) -> None:
        try:
            super().close_extras(**kwargs)
        finally:
            self.pool.close()


def make_vector_env(
    num_envs: int,
    *,
    pool_size: int | None = None,
    backend: str | None = None,
    limits: Limits | None = None,
    pool: SandboxPool | None = None,
    **env_kwargs: Any,
) -> SyncVectorEnv:
    """``num_envs`` CodeARC environments on one pool (``pool_size`` sandboxes; default
    :func:`default_pool_size`). A given ``pool`` is used as is and left open."""
    from codearc_env.env import CodeARCEnv

    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    env_kwargs.pop("max_episode_steps", None)  # the env caps turns itself (max_turns)

    def one_env() -> CodeARCEnv:
        return CodeARCEnv(pool=shared, **env_kwargs)

    if pool is not None:
        if pool_size is not None or backend is not None or limits is not None:
            raise ValueError("pool= replaces pool_size, backend and limits: give them to the pool")
        shared = pool
        return SyncVectorEnv([one_env] * num_envs)
    size = pool_size if pool_size is not None else default_pool_size(num_envs)
    shared = SandboxPool(size, backend, limits)
    return PooledSyncVectorEnv([one_env] * num_envs, shared)


_PROCESS_POOLS: dict[tuple[int, int, str | None, Limits | None], SandboxPool] = {}
_PROCESS_POOLS_LOCK = threading.Lock()


def process_pool(
    size: int = DEFAULT_SIZE, backend: str | None = None, limits: Limits | None = None
) -> SandboxPool:
    """This process's pool for these settings, made on first use and shared by every caller
    (for adapters whose environments are made one at a time by a trainer). Its sandboxes
    stop when the process exits; a forked child gets a pool of its own."""
    key = (os.getpid(), size, backend, limits)
    with _PROCESS_POOLS_LOCK:
        pool = _PROCESS_POOLS.get(key)
        if pool is None or pool.closed:
            pool = _PROCESS_POOLS[key] = SandboxPool(size, backend, limits)
        return pool
