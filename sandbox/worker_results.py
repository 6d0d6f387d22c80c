"""Reading a child's result: what it sent, how it ended, and the label that says so truly.

Part of the worker (embedded in the sandbox; standard library only).
"""

import json
import os
import select
import signal
import sys
import time
from typing import Any

_wire: Any = sys.modules.get("_codearc_wire")
if _wire is None:  # imported inside the harness (tests, launch_source); never in a sandbox
    import importlib

    _wire = importlib.import_module("codearc_env.sandbox.wire")

_codec = _wire.sibling("codec")
HEADER = _wire.HEADER
RENDER_GUARD_S = _wire.sibling("worker_child").RENDER_GUARD_S

STDOUT_CAP_DEFAULT = 64_000

DRAIN_S = 0.25
"""How long the worker keeps reading a call's stdout once its result is in."""

TAMPERED = "the call wrote to its own result channel"
"""Why a result frame no genuine child could have sent is refused."""

OVER_MEMORY = "the call's processes together used more memory than the sandbox allows"


def _pidfd(pid):
    """A descriptor readable once pid has exited, even if its pipes live on; None if absent."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _await_exit(pidfd, deadline):
    """Wait until the child behind pidfd exits; False if it still runs at the deadline.

    Its own exit status then says how it ended: killing it as soon as its result channel
    closed would label the outcome by a race (its exit or our SIGKILL)."""
    if pidfd is None:
        return True
    remaining = max(0.0, deadline - time.monotonic())
    return bool(select.select([pidfd], [], [], remaining)[0])


def _hard_deadline(start, limits):
    """The child gets the call's limit plus time to render its value; past this it is killed."""
    return start + float(limits["timeout_s"]) + 2 * RENDER_GUARD_S + 0.5


class _ChildOutput:
    """What one invocation's child has sent so far: its result frame and its stdout."""

    def __init__(self, result_cap):
        self.result_cap = result_cap
        self.res_buf = bytearray()
        self.expected = None
        self.out_buf = bytearray()
        self.out_total = 0
        self.overflow = self.timed_out = self.dead = self.over_memory = False

    def complete(self):
        return self.expected is not None and len(self.res_buf) >= HEADER.size + self.expected

    def read_result(self, fd):
        """Read from the result pipe; False at EOF."""
        data = os.read(fd, 65536)
        if not data:
            return False
        self.res_buf += data
        if self.expected is None and len(self.res_buf) >= HEADER.size:
            (self.expected,) = HEADER.unpack(bytes(self.res_buf[: HEADER.size]))
            self.overflow = self.expected > self.result_cap
        return True

    def read_out(self, fd, room):
        """Read from the stdout pipe, keeping at most ``room`` bytes; False at EOF."""
        data = os.read(fd, 65536)
        if data:
            self.out_total += len(data)
            left = room - len(self.out_buf)
            if left > 0:
                self.out_buf += data[:left]
        return bool(data)


def _outcome(got, status, duration, stdout_cap, cap, index=None):
    """The result of one invocation from what its child sent; status() gives its wait status."""
    timed_out, overflow, res_buf, expected = got.timed_out, got.overflow, got.res_buf, got.expected
    out_buf, out_total = got.out_buf, got.out_total
    stdout = out_buf.decode("utf-8", "replace")
    stdout_truncated = out_total > len(out_buf) or len(stdout) > stdout_cap
    common = {
        "duration_s": duration,
        "stdout": stdout[:stdout_cap],
        "stdout_truncated": stdout_truncated,
    }
    if timed_out:
        return dict(common, timed_out=True)
    if overflow:
        return dict(common, error_type="MalformedResult", error_message=TAMPERED)
    if got.over_memory:
        return dict(common, error_type="MemoryLimitExceeded", error_message=OVER_MEMORY)
    if expected is None or len(res_buf) < HEADER.size + expected:
        return dict(common, **_death(status()))
    body = bytes(res_buf[HEADER.size : HEADER.size + expected])
    try:
        reply = json.loads(body.decode("utf-8"))
        if index is not None and (type(reply) is not dict or reply.pop("i", None) != index):
            raise ValueError("a frame of another invocation")
        last = reply.pop("last", None) is True if index is not None else False
        if last:
            common["last"] = True  # the child says it exits after this frame; the worker strips it
        if reply == {"timed_out": True}:
            return dict(common, timed_out=True)
        return dict(common, **_sanitize(reply, cap))
    except (ValueError, TypeError, KeyError, RecursionError, _codec.EncodeError):
        # A genuine child always sends a well-formed frame: this one is the call's own.
        return dict(common, error_type="MalformedResult", error_message=TAMPERED)


def _death(status):
    """Describe a child that ended without a result (os._exit, a signal, the OOM killer)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return {"error_type": "ProcessKilled", "error_message": f"killed by signal {name}"}
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return {
        "error_type": "ProcessExit",
        "error_message": f"the process exited with status {code}",
    }


def _sanitize(reply, cap):
    """Accept only the fields a call may report: the child runs untrusted code and could forge."""
    if type(reply) is not dict:
        raise ValueError("result is not an object")
    if reply.get("ok") is True:
        value = reply["value"]
        _codec.validate(value)
        text = reply.get("value_str")
        if type(text) is not str:
            raise ValueError("value_str is not a string")
        return {
            "ok": True,
            "value": value,
            "value_str": text[:cap],
            "truncated": reply.get("truncated") is True or len(text) > cap,
        }
    error_type = reply.get("error_type")
    message = reply.get("error_message")
    if type(error_type) is not str or type(message) is not str:
        raise ValueError("result has neither a value nor an error")
    return {"error_type": error_type[:200], "error_message": message[:cap]}
