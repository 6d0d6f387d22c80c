"""What the harness makes once and reuses per query gives what making it afresh gives: the
request text, the record of recent resident functions, and a pool's choice of member."""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict
from typing import Any

import pytest

from codearc_env.sandbox import pool as pool_module
from codearc_env.sandbox.base import Invocation, Isolation, Limits
from codearc_env.sandbox.channel import Channel, Transport
from codearc_env.sandbox.pool import SandboxPool
from codearc_env.sandbox.wire import HEADER
from codearc_env.sandbox.workerbox import (
    RECENT_RESIDENTS,
    RecentResidents,
    encode_invocation,
    run_request,
)
from codearc_env.testing import CallableSandbox


class Recording(Transport):
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def recv(self, deadline: float) -> bytes:
        return b""

    def close(self) -> None:
        pass


SOURCES = [
    "def f(x):\n    return x\n",
    'def f(s):\n    return "é\\t" + s + "\U0001f600\\"\'"\n',
    "def f(x):\n    return '\udcff'\n",  # a lone surrogate, as json escapes it
    "",
]
INVOCATIONS = [
    [],
    [Invocation(args=(1, -2.5, "a\"b\n", None, True))],
    [Invocation(args=([1, (2, 3)], {"k": {1, 2}}), kwargs=(("y", float("inf")),)),
     Invocation(expression="f(3)")],
]
LIMITS = [Limits(), Limits(timeout_s=0.25, memory_mb=300, batch_budget_s=1.5)]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("invocations", INVOCATIONS)
@pytest.mark.parametrize("limits", LIMITS)
@pytest.mark.parametrize("isolation", ["call", "batch", "resident"])
def test_a_run_request_is_the_json_of_its_dict(
    source: str, invocations: list[Invocation], limits: Limits, isolation: Isolation
) -> None:
    encoded = [encode_invocation(i) for i in invocations]
    message: dict[str, Any] = {
        "op": "run", "id": 12, "source": source, "function": "f", "invocations": encoded,
        "limits": asdict(limits), "isolation": isolation,
    }
    expected = json.dumps(message, ensure_ascii=True, separators=(",", ":"))
    for _ in range(2):  # the second time from the cached parts
        assert run_request(12, source, "f", encoded, limits, isolation) == expected
    sent, sent_json = Recording(), Recording()
    Channel(sent).send(message)
    Channel(sent_json).send_json(run_request(12, source, "f", encoded, limits, isolation))
    body = expected.encode("ascii")
    assert sent.sent == sent_json.sent == [HEADER.pack(len(body)) + body]


def test_recent_residents_forget_the_least_recently_used_first() -> None:
    recent = RecentResidents()
    keys = [("source", f"f{i}", Limits()) for i in range(RECENT_RESIDENTS)]
    assert [recent.use(k) for k in keys] == [False] * RECENT_RESIDENTS
    assert recent.use(keys[0])  # now the most recent: keys[1] is the oldest
    assert not recent.use(("source", "new", Limits()))  # one too many: keys[1] goes
    assert not recent.use(keys[1])  # back again, and keys[2] went
    assert recent.use(keys[0])
    assert all(recent.use(k) for k in keys[3:])
    assert recent.use(("source", "f0", Limits()))  # an equal key is the same key
    recent.clear()
    assert not recent.use(keys[0])


def test_new_sources_go_to_the_least_used_member_and_keep_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_module, "MAX_ROUTES", 6)
    pool = SandboxPool(6, make_member=lambda: CallableSandbox({"f": lambda x: x}))
    reference = pool.members[:3]
    sources = [f"def f(x):\n    return x + {i}\n" for i in range(6)]
    first = [pool.reference_member(s) for s in sources]
    # Each member serves two of the six, and the first three go to three different ones,
    # the first of them where its checksum points.
    assert sorted(first.count(m) for m in reference) == [2, 2, 2]
    assert len(set(map(id, first[:3]))) == 3
    assert first[0] is reference[zlib.crc32(sources[0].encode("utf-8")) % 3]
    assert [pool.reference_member(s) for s in sources] == first  # kept
    pool.reference_member("def f(x):\n    return -x\n")  # past MAX_ROUTES: starts over
    assert len(pool._routes) == 1


def test_threads_routing_one_new_source_at_once_agree() -> None:
    import threading

    pool = SandboxPool(8, make_member=lambda: CallableSandbox({"f": lambda x: x}))
    for round_ in range(20):
        source = f"def f(x):\n    return x * {round_}\n"
        got: list[object] = []
        start = threading.Barrier(8)

        def route(source: str, got: list[object], start: threading.Barrier) -> None:
            start.wait()
            got.append(pool.reference_member(source))

        threads = [threading.Thread(target=route, args=(source, got, start)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(map(id, got))) == 1


@pytest.mark.parametrize("rid", [0, 7, 2**70, -3, "x", None, 1.5, True])
def test_done_frame_is_the_frame_of_a_done_message(rid: object) -> None:
    from codearc_env.sandbox import wire

    assert wire.done_frame(rid) == wire.frame({"op": "done", "id": rid})
