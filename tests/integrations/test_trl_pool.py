"""The TRL adapter's environments share one sandbox pool per process by default."""

from __future__ import annotations

import warnings

import pytest

from codearc_env.integrations import codearc_trl_env, problem_rows
from codearc_env.vector import process_pool

from .conftest import TOY_ID


def _env(adapter):
    return adapter._environment().unwrapped


def test_adapters_of_one_process_share_one_pool_of_the_asked_size():
    factory = codearc_trl_env("CodeARC-Builtin-v0", backend="process", pool_size=4)
    rows = problem_rows("annotated", "builtin")[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the process backend says it is no boundary
        first, second = factory(), factory()
        for adapter, row in zip((first, second), rows, strict=True):
            adapter.reset(**row)
            target = row["problem_id"].rsplit("/", 1)[1]
            assert f"{target}(" in adapter.query(calls=f"{target}()")
    pool = _env(first).pool
    assert pool is _env(second).pool is process_pool(4, "process")
    assert pool.size == 4 and pool.members[0].name == "process"
    assert pool.stats.reference_calls == 2
    assert _env(first)._owned == []
    pool.close()


def test_pool_size_none_and_foreign_entry_points_keep_their_own_sandboxes():
    assert _env(codearc_trl_env("CodeARC-Builtin-v0", backend="process", pool_size=None)()).pool \
        is None
    assert _env(codearc_trl_env(TOY_ID)()).pool is None  # made by its own entry point


def test_pool_size_below_two_is_refused():
    with pytest.raises(ValueError) as info:
        codearc_trl_env("CodeARC-Builtin-v0", pool_size=1)
    assert str(info.value) == "pool_size must be None or at least 2, got 1"
