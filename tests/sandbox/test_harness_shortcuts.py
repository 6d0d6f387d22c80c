"""The harness's per-query shortcuts give what the plain way gives: the JSON it sends, the
messages it reads, the results it builds, and the keys it files limits under."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest

from codearc_env.sandbox import workerbox
from codearc_env.sandbox.base import CallResult, Invocation, Limits
from codearc_env.sandbox.channel import Channel, ChannelClosed, Transport, decode, to_json
from codearc_env.sandbox.wire import HEADER
from codearc_env.sandbox.workerbox import WorkerSandbox, limits_token, to_call_result

VALUES: list[Any] = [
    {"op": "ping"},
    [1, -2.5, 1e300, float("inf"), float("-inf"), True, False, None, 10**40],
    {"s": "é\t\"\\\U0001f600\udcff", "nested": [[{"a": []}], {}], "f": 0.1},
    [{"args": [{"t": "int", "v": "5"}], "kwargs": [["x", {"t": "list", "v": []}]]}],
    "a str",
    7,
]


@pytest.mark.parametrize("value", VALUES)
def test_to_json_is_what_json_dumps_makes(value: Any) -> None:
    assert to_json(value) == json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def test_to_json_nan_and_unknown_types() -> None:
    assert to_json([float("nan")]) == "[NaN]"
    with pytest.raises(TypeError, match=r"^Object of type set is not JSON serializable$"):
        to_json({"x": {1}})


@pytest.mark.parametrize(
    "text",
    ['{"op":"done","id":3}', '{"op": "result", "id": 1, "i": 0, "r": {"ok": true}}',
     '{"s":"\\udcff\\u00e9"}', ' {"a": [1.5, null]} '],
)
def test_decode_is_what_json_loads_reads(text: str) -> None:
    assert decode(text.encode("utf-8")) == json.loads(text)
    assert decode(bytearray(text.encode("utf-8"))) == json.loads(text)


def test_decode_refuses_what_is_not_an_object() -> None:
    with pytest.raises(ChannelClosed, match=r"^malformed reply from the worker: not an object$"):
        decode(b"[1]")
    with pytest.raises(ChannelClosed, match=r"^malformed reply from the worker: Expecting value: "
                                            r"line 1 column 1 \(char 0\)$"):
        decode(b"nope")


def _plain_result(reply: dict[str, Any]) -> CallResult:
    fields = set(CallResult.__dataclass_fields__)
    kwargs = {k: v for k, v in reply.items() if k in fields}
    kwargs["ok"] = reply.get("ok") is True
    return CallResult(**kwargs)


@pytest.mark.parametrize(
    "reply",
    [
        {"duration_s": 0.002, "stdout": "", "stdout_truncated": False, "ok": True,
         "value": {"t": "int", "v": "5"}, "value_str": "5", "truncated": False},
        {"ok": True, "value": None, "value_str": "None", "forged": 1},
        {"ok": 1, "value": None, "value_str": "None"},
        {"ok": "true", "value_str": "x"},
        {"duration_s": 0.1, "stdout": "hi", "error_type": "ValueError", "error_message": "no"},
        {"timed_out": True},
        {},
    ],
)
def test_a_result_is_what_the_field_by_field_way_builds(reply: dict[str, Any]) -> None:
    assert to_call_result(dict(reply)) == _plain_result(reply)


def test_limits_tokens_name_limits_by_value() -> None:
    a, b, c = Limits(), Limits(), Limits(timeout_s=1.0)
    assert limits_token(a) == limits_token(b) == limits_token(Limits(timeout_s=5))
    assert limits_token(c) != limits_token(a)
    assert workerbox._limits_json(c) == json.dumps(asdict(c), separators=(",", ":"))


def test_a_forgotten_limits_number_is_never_given_to_other_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workerbox, "MAX_LIMITS_KEPT", 3)
    seen: dict[int, Limits] = {}
    for _round in range(3):
        for cpu in range(1, 8):
            limits = Limits(cpu_s=cpu)
            token = limits_token(limits)
            assert seen.setdefault(token, limits) == limits
            assert workerbox._limits_json(limits) == json.dumps(
                asdict(limits), separators=(",", ":"))
    assert len(workerbox._TOKEN_BY_ID) <= 3 and len(workerbox._TOKEN_BY_VALUE) <= 3


class Scripted(Transport):
    """Answers each run request with one result per invocation and a done frame made by
    ``done`` (the worker's exact text, or another spelling of the same message)."""

    def __init__(self, done: str) -> None:
        self.done, self.out = done, b""

    def send(self, data: bytes) -> None:
        message = json.loads(data[HEADER.size:])
        replies: list[str] = []
        if message["op"] == "ping":
            replies.append('{"op":"pong"}')
        elif message["op"] == "run":
            rid = message["id"]
            for i, inv in enumerate(message["invocations"]):
                value = inv["args"][0]
                replies.append(json.dumps({"op": "result", "id": rid, "i": i, "r": {
                    "ok": True, "value": value, "value_str": value["v"]}}))
            replies.append(self.done % rid)
        for text in replies:
            body = text.encode()
            self.out += HEADER.pack(len(body)) + body

    def recv(self, deadline: float) -> bytes:
        out, self.out = self.out, b""
        return out

    def close(self) -> None:
        pass


class ScriptedBox(WorkerSandbox):
    name = "scripted"

    def __init__(self, done: str) -> None:
        super().__init__()
        self.done = done

    def _launch(self) -> Channel:
        return Channel(Scripted(self.done))

    def _terminate(self) -> None:
        pass


@pytest.mark.parametrize("done", ['{"op":"done","id":%d}', '{"op": "done", "id": %d}',
                                  '{"id":%d,"op":"done"}'])
def test_a_request_ends_at_its_done_frame_however_it_is_spelled(
    done: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[bytes] = []

    def counting_decode(body: bytes) -> dict[str, Any]:
        decoded.append(bytes(body))
        return decode(body)

    monkeypatch.setattr(workerbox, "decode", counting_decode)
    box = ScriptedBox(done)
    for isolation in ("call", "resident"):
        results = box.run("def f(x):\n    return x\n", "f",
                          [Invocation(args=(k,)) for k in range(3)], isolation=isolation)
        assert [r.value_str for r in results] == ["0", "1", "2"]
        assert all(r.ok for r in results)
    assert box.restarts == 0
    # The worker's own spelling is recognised without decoding it; any other is decoded.
    assert len(decoded) == (6 if done == '{"op":"done","id":%d}' else 8)
    box.close()


def _fresh_encoding(inv: Invocation) -> dict[str, Any]:
    from codearc_env.sandbox import codec

    return {"args": [codec.encode(a) for a in inv.args],
            "kwargs": [[k, codec.encode(v)] for k, v in inv.kwargs], "expression": None}


def test_arguments_seen_again_get_the_encoding_made_the_first_time() -> None:
    workerbox._ENCODED.clear()
    args, kwargs = (1, -2.5, float("nan"), "a", b"b", None, True, (1, frozenset({2}))), (("k", 3j),)
    first = workerbox.encode_invocation(Invocation(args=args, kwargs=kwargs))
    again = workerbox.encode_invocation(Invocation(args=args, kwargs=kwargs))
    assert again is first and json.dumps(first) == json.dumps(_fresh_encoding(Invocation(args, kwargs)))
    # Equal arguments in other objects are encoded afresh: True is not 1, nor 1.0.
    for other in [(True,), (1.0,), (1,)]:
        assert workerbox.encode_invocation(Invocation(args=other)) == _fresh_encoding(
            Invocation(args=other))


def test_what_can_change_or_is_large_is_never_kept() -> None:
    class Number(int):
        pass

    workerbox._ENCODED.clear()
    items = [1]
    args = (items, {"k": 1}, {2})
    workerbox.encode_invocation(Invocation(args=args))
    items.append(2)
    assert workerbox.encode_invocation(Invocation(args=args)) == _fresh_encoding(
        Invocation(args=args))
    for big in [(Number(3),), ("x" * 300,), tuple(range(40))]:
        assert workerbox.encode_invocation(Invocation(args=big)) == _fresh_encoding(
            Invocation(args=big))
    assert workerbox._ENCODED == {}
    assert workerbox.encode_invocation(Invocation(expression="f(1)")) == {
        "args": [], "kwargs": [], "expression": "f(1)"}


def test_the_record_of_encodings_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workerbox, "MAX_ENCODED_KEPT", 4)
    workerbox._ENCODED.clear()
    kept = [(k,) for k in range(10)]
    for args in kept:
        assert workerbox.encode_invocation(Invocation(args=args)) == _fresh_encoding(
            Invocation(args=args))
        assert len(workerbox._ENCODED) <= 4
