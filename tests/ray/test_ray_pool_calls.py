"""A pool host's packed calls (one pickled argument, pickled results) answer as its plain ones.

The host runs here as a plain object, without Ray: what is tested is the packing, on a real
pool of the process backend. The cluster tests (test_ray.py) run every call through Ray.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator

import pytest

from codearc_env.errors import SandboxError
from codearc_env.sandbox.base import CallResult, Invocation, Limits
from codearc_env.sandbox.ray_pool import PoolHost, pack_call

pytestmark = pytest.mark.filterwarnings("ignore:the 'process' sandbox backend is NOT")

SOURCE = (
    "def f(x, scale=1):\n"
    "    if x < 0:\n"
    "        raise ValueError(f'negative: {x}')\n"
    "    return [x * scale, {x: str(x)}]\n"
)


@pytest.fixture(scope="module")
def host() -> Iterator[PoolHost]:
    host = PoolHost(2, "process", None)
    try:
        yield host
    finally:
        host.close()


def without_duration(results: list[CallResult]) -> list[CallResult]:
    return [dataclasses.replace(r, duration_s=0.0) for r in results]


@pytest.mark.parametrize(("side", "isolation"), [("reference", "resident"),
                                                 ("reference", "batch"),
                                                 ("candidate", "call")])
def test_a_packed_call_returns_what_the_plain_call_returns(host, side, isolation) -> None:
    invocations = [Invocation(args=(3,), kwargs=(("scale", 2),)), Invocation(args=(-1,)),
                   Invocation(expression="f(4)")]
    limits = Limits(timeout_s=30)
    packed = host.run_packed(pack_call(side, SOURCE, "f", invocations, limits, isolation))
    assert type(packed) is bytes
    got = pickle.loads(packed)
    plain = host.run(side, SOURCE, "f", invocations, limits, isolation)
    assert without_duration(got) == without_duration(plain)
    assert [(r.ok, r.value_str, r.error_type, r.error_message) for r in got] == [
        (True, "[6, {3: '3'}]", None, ""),
        (False, "", "ValueError", "negative: -1"),
        (True, "[4, {4: '4'}]", None, ""),
    ]


def test_a_packed_call_with_no_limits_uses_the_pool_s_own(host) -> None:
    [result] = pickle.loads(host.run_packed(
        pack_call("candidate", SOURCE, "f", [Invocation(args=(5,))], None, "call")))
    assert result.ok and result.value_str == "[5, {5: '5'}]"


def test_a_packed_call_the_pool_refuses_raises_as_the_plain_call() -> None:
    host = PoolHost(2, "process", None)
    call = pack_call("candidate", SOURCE, "f", [Invocation(args=(1,))], None, "resident")
    with pytest.raises(ValueError) as info:
        host.run_packed(call)
    assert str(info.value) == "resident isolation is for hidden functions, never for a candidate"
    host.close()
    with pytest.raises(SandboxError) as closed:
        host.run_packed(pack_call("candidate", SOURCE, "f", [Invocation(args=(1,))], None,
                                  "call"))
    assert str(closed.value) == "the sandbox pool is closed"
