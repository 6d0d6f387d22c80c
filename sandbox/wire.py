"""Framing and protocol constants shared by the harness and the worker. Standard library only.

Frames are a 4-byte big-endian length, then UTF-8 JSON (ASCII on the wire; never pickle).
The worker embeds this file like ``codec.py``; the harness's channel imports it.
"""

import json
import os
import struct
import sys

PROTOCOL_VERSION = 1

HEADER = struct.Struct(">I")

MAX_REQUEST_BYTES = 256 * 1024 * 1024

BUDGET_SPENT = "not run: the batch's time budget was spent"


def read_ahead(fd, pending, n):
    """Exactly ``n`` bytes: first from ``pending`` (bytes read earlier), then from ``fd``,
    reading ahead in large chunks, so a frame's header and body, written together, take one
    read. Returns ``(the n bytes, what is left of what was read)``, or None at EOF."""
    if len(pending) < n:
        chunks, need = [pending], n - len(pending)
        while need > 0:
            data = os.read(fd, max(need, 65536))
            if not data:
                return None
            chunks.append(data)
            need -= len(data)
        pending = b"".join(chunks)
    return pending[:n], pending[n:]


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def frame(obj):
    # ASCII JSON: lone surrogates in user strings survive as \\u escapes.
    body = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return HEADER.pack(len(body)) + body


DONE_BODY = b'{"op":"done","id":%d}'
"""The body of ``frame({"op": "done", "id": rid})`` for a whole-number id (``% rid``)."""


def done_frame(rid):
    """``frame({"op": "done", "id": rid})``, for a whole-number id without the encoder (the
    same bytes; this ends every resident request)."""
    if type(rid) is int:
        body = DONE_BODY % rid
        return HEADER.pack(len(body)) + body
    return frame({"op": "done", "id": rid})


def sibling(name):
    """Another module of the worker: embedded as ``_codearc_<name>`` in a sandbox (the launch
    source registers each one), imported from the package in the harness (tests)."""
    module = sys.modules.get("_codearc_" + name)
    if module is None:
        import importlib

        module = importlib.import_module("codearc_env.sandbox." + name)
    return module
