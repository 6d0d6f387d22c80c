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


def read_exact(fd, n):
    """Read exactly n bytes from fd; None on EOF."""
    chunks = []
    while n > 0:
        data = os.read(fd, min(n, 1 << 20))
        if not data:
            return None
        chunks.append(data)
        n -= len(data)
    return b"".join(chunks)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def frame(obj):
    # ASCII JSON: lone surrogates in user strings survive as \\u escapes.
    body = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return HEADER.pack(len(body)) + body


def sibling(name):
    """Another module of the worker: embedded as ``_codearc_<name>`` in a sandbox (the launch
    source registers each one), imported from the package in the harness (tests)."""
    module = sys.modules.get("_codearc_" + name)
    if module is None:
        import importlib

        module = importlib.import_module("codearc_env.sandbox." + name)
    return module
