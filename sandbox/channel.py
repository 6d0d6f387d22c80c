"""Framed JSON messages between the harness and a worker, over pipes or a docker socket."""

from __future__ import annotations

import abc
import contextlib
import json
import json.encoder
import os
import select
import socket
import time
from json.encoder import encode_basestring_ascii
from typing import Any

from codearc_env.sandbox.wire import HEADER

MAX_REPLY_BYTES = 64 * 1024 * 1024
READ_CHUNK = 64 * 1024
"""Bytes asked of one read: below malloc's mmap threshold, so a small reply does not cost a
fresh mapping of the whole buffer (and its release) on every read."""


_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
"""Made once: ``json.dumps`` with these options builds a new encoder on every call."""
_MAKE_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_ENCODE = (
    None if _MAKE_C_ENCODER is None else _MAKE_C_ENCODER(
        None, _ENCODER.default, encode_basestring_ascii, None, ":", ",", False, False, True)
)
"""The C encoder ``_ENCODER.encode`` makes afresh on every call, made once. Without the check
for circular references: what the harness sends is trees of its own making (the codec's, the
limits', its own messages), never circular."""
_DECODE = json.JSONDecoder().decode
"""What ``json.loads`` calls for a str, without its checks of keyword arguments."""


def to_json(value: Any) -> str:
    """``value`` as the JSON text :meth:`Channel.send` sends (ASCII only, no spaces)."""
    if _ENCODE is None or isinstance(value, str):
        return _ENCODER.encode(value)
    return "".join(_ENCODE(value, 0))


def json_string(text: str) -> str:
    """``to_json(text)`` for a str, without the encoder's dispatch."""
    return encode_basestring_ascii(text)


class ChannelClosed(Exception):
    """The worker's end went away (it died, or its container stopped)."""


class ChannelTimeout(Exception):
    """No complete frame arrived before the deadline."""


class Transport(abc.ABC):
    """A byte stream to the worker's stdin and from its stdout."""

    @abc.abstractmethod
    def send(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def recv(self, deadline: float) -> bytes:
        """Some bytes of the worker's stdout; b"" on EOF; ChannelTimeout at the deadline."""

    @abc.abstractmethod
    def close(self) -> None: ...


def _wait_readable(fileno: int, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([fileno], [], [], remaining)[0]:
        raise ChannelTimeout("no reply from the worker before the deadline")


class PipeTransport(Transport):
    """The stdin/stdout pipes of a local process (process and bwrap backends)."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        self._in = fd_in  # we write the worker's stdin
        self._out = fd_out  # we read the worker's stdout

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._in, view) :]
        except OSError as exc:  # EPIPE: the worker is gone
            raise ChannelClosed(f"cannot write to the worker: {exc}") from exc

    def recv(self, deadline: float) -> bytes:
        _wait_readable(self._out, deadline)
        try:
            return os.read(self._out, READ_CHUNK)
        except OSError as exc:
            raise ChannelClosed(f"cannot read from the worker: {exc}") from exc

    def close(self) -> None:
        for fd in (self._in, self._out):
            with contextlib.suppress(OSError):
                os.close(fd)


class DockerSocketTransport(Transport):
    """A container's attached stdin/stdout: output arrives multiplexed in 8-byte-header chunks."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._raw = bytearray()  # undemultiplexed bytes
        self.stderr = bytearray()  # kept (capped) for error messages

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise ChannelClosed(f"cannot write to the container: {exc}") from exc

    def recv(self, deadline: float) -> bytes:
        while True:
            out = self._demux()
            if out is not None:
                return out
            _wait_readable(self._sock.fileno(), deadline)
            try:
                data = self._sock.recv(READ_CHUNK)
            except OSError as exc:
                raise ChannelClosed(f"cannot read from the container: {exc}") from exc
            if not data:
                return b""
            self._raw += data

    def _demux(self) -> bytes | None:
        """Stdout payload of the complete chunks buffered so far, or None if there is none."""
        out = bytearray()
        while len(self._raw) >= 8:
            stream = self._raw[0]
            size = int.from_bytes(self._raw[4:8], "big")
            if len(self._raw) < 8 + size:
                break
            payload = self._raw[8 : 8 + size]
            del self._raw[: 8 + size]
            if stream == 1:
                out += payload
            elif len(self.stderr) < 65536:
                self.stderr += payload
        return bytes(out) if out else None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


class Channel:
    """Request/reply frames over a transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._buf = bytearray()

    def send(self, message: dict[str, Any]) -> None:
        self.send_json(to_json(message))

    def send_json(self, text: str) -> None:
        """Send a message already encoded as :func:`to_json` encodes it."""
        body = text.encode("ascii")
        self.transport.send(HEADER.pack(len(body)) + body)

    def recv(self, deadline: float) -> dict[str, Any]:
        return decode(self.recv_frame(deadline))

    def recv_frame(self, deadline: float) -> bytes | bytearray:
        """The body of the next frame, undecoded (see :func:`decode`)."""
        while True:
            if len(self._buf) >= HEADER.size:
                (size,) = HEADER.unpack_from(self._buf)
                if size > MAX_REPLY_BYTES:
                    raise ChannelClosed(f"reply of {size} bytes exceeds the cap")
                if len(self._buf) >= HEADER.size + size:
                    body = self._buf[HEADER.size : HEADER.size + size]
                    del self._buf[: HEADER.size + size]
                    return body
            data = self.transport.recv(deadline)
            if not data:
                raise ChannelClosed("the worker closed its output")
            self._buf += data

    def close(self) -> None:
        self.transport.close()


def decode(body: bytes | bytearray) -> dict[str, Any]:
    """The message of a frame's body; ChannelClosed when it is not a JSON object."""
    try:
        message = _DECODE(body.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise ChannelClosed(f"malformed reply from the worker: {exc}") from exc
    if not isinstance(message, dict):
        raise ChannelClosed("malformed reply from the worker: not an object")
    return message
