"""What runs inside a call's child process: limits, signals, the call itself, its result.

Part of the worker (embedded in the sandbox; standard library only). Shared by call mode
(``worker.py``) and batch mode (``worker_batch.py``).
"""

import _signal
import builtins
import contextlib
import hashlib
import io
import os
import resource
import signal
import sys
from typing import Any

_wire: Any = sys.modules.get("_codearc_wire")
if _wire is None:  # imported inside the harness (tests, launch_source); never in a sandbox
    import importlib

    _wire = importlib.import_module("codearc_env.sandbox.wire")

_codec = _wire.sibling("codec")
frame, write_all = _wire.frame, _wire.write_all

RENDER_GUARD_S = 1.0
"""Time allowed for each of encode() and str() of a returned value (hostile __repr__/__str__)."""

MODULE_NAME = "__codearc__"
"""``__name__`` of the executed module: not "__main__", so ``if __name__ == "__main__"`` blocks
(which often read stdin) do not run."""

class _Overtime(BaseException):
    """Raised by SIGALRM inside the child; a BaseException so ordinary handlers miss it."""


def _on_alarm(signum, frame_):
    raise _Overtime()


_TRUSTED = False
"""Set in a resident child, which runs only a hidden function (the benchmark's own code): the
handler table Python keeps is then taken as the truth, and a handler already in place is not
set again (in children that run candidates every disposition is set every time: code may
change one behind Python's back)."""


# Plain numbers, and _signal's functions rather than signal's: those turn every number they
# take or return into an enum each time, and a child copies every page that work writes.
_SIGALRM, _ITIMER_REAL, _SIG_DFL, _SIG_IGN = (
    int(signal.SIGALRM), int(signal.ITIMER_REAL), int(signal.SIG_DFL), int(signal.SIG_IGN)
)


def _arm(seconds):
    if not (_TRUSTED and _signal.getsignal(_SIGALRM) is _on_alarm):
        _signal.signal(_SIGALRM, _on_alarm)
    _signal.setitimer(_ITIMER_REAL, max(seconds, 0.001))


def _disarm():
    _signal.setitimer(_ITIMER_REAL, 0)


def _guarded(fn, seconds, on_timeout, on_error):
    """Run fn() under a timer: hostile __repr__/__str__/__eq__ code may hang or raise."""
    try:
        _arm(seconds)
        try:
            return fn()
        finally:
            _disarm()
    except _Overtime:
        return on_timeout
    except BaseException:
        return on_error


_TYPE_NAME = type.__dict__["__name__"]  # bypasses a metaclass that lies about __name__


def _type_name(obj):
    try:
        name = _TYPE_NAME.__get__(type(obj))
        return name if type(name) is str else "<unknown>"
    except BaseException:
        return "<unknown>"


def _exception_message(exc, cap):
    text = _guarded(lambda: str(exc), RENDER_GUARD_S, "<str() timed out>", "<str() failed>")
    if type(text) is not str:
        text = "<str() returned a non-string>"
    return text[:cap]


def _encode_value(value, cap):
    """(tree, value_str, truncated) for a returned value; never raises."""

    def encode():
        try:
            return _codec.encode(value)
        except _codec.EncodeError:  # a cycle or deep nesting: keep the type, not the structure
            return _codec._opaque(value)

    tree = _guarded(encode, RENDER_GUARD_S, None, None)
    if tree is None:
        tree = {"t": "opaque", "type": "builtins." + _type_name(value), "v": "<unrepresentable>"}
    truncated = False
    text = _codec.canonical(tree)
    if len(text) > cap:
        # Too big to send: a digest still lets two equal huge values compare equal.
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        tree = {
            "t": "opaque",
            "type": "truncated:" + tree.get("type", tree["t"]),
            "v": f"sha256={digest} chars={len(text)}",
        }
        truncated = True
    value_str = _guarded(lambda: str(value), RENDER_GUARD_S, None, None)
    if type(value_str) is not str:
        value_str = f"<str() failed: {_type_name(value)}>"
    if len(value_str) > cap:
        value_str = value_str[:cap]
        truncated = True
    return tree, value_str, truncated


def _set_limits(limits, nproc, baseline_vm):
    mb = 1024 * 1024

    def lim(which, value):
        # A limit the platform refuses is skipped: the outer layer (container) still caps.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))

    cpu = int(limits["cpu_s"])
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    lim(resource.RLIMIT_AS, baseline_vm + int(limits["memory_mb"]) * mb)
    lim(resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) * mb)
    lim(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    lim(resource.RLIMIT_CORE, 0)
    # No POSIX message queue can be created: one would outlive the call in the IPC namespace.
    lim(resource.RLIMIT_MSGQUEUE, 0)
    if nproc:
        lim(resource.RLIMIT_NPROC, int(nproc))


def _vm_bytes():
    # os-level, as _expendable: a fresh child copies every page it writes, and open()'s
    # file objects write to many.
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            return int(os.read(fd, 4096).split()[0]) * resource.getpagesize()
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return 1024 * 1024 * 1024


_STDIO: list[tuple[io.TextIOWrapper, io.TextIOWrapper]] = []
"""The (stdout, stdin) pair every child takes, made once in the worker: see premake_stdio."""


def _new_stdio():
    out = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace"
    )
    return out, io.TextIOWrapper(io.FileIO(0, "r", closefd=False))


def _stdio():
    """A child's text streams over its descriptors 1 (stdout) and 0 (stdin)."""
    return _STDIO[0] if _STDIO else _new_stdio()


def premake_stdio():
    """Make the children's text streams in the worker, never to be used there: making them in
    each child cost it ~80 copied pages. They are made on descriptors of the kinds a child's
    are (stdout a pipe, stdin /dev/null), so what they keep of them (seekable or not) holds in
    the child. Best effort: without them each child makes its own."""
    opened: list[int] = []
    saved: list[int] = []
    try:
        pipe_r, pipe_w = os.pipe()
        opened += (pipe_r, pipe_w)
        null = os.open(os.devnull, os.O_RDONLY)
        opened.append(null)
        saved.append(os.dup(0))
        saved.append(os.dup(1))
        os.dup2(null, 0)
        os.dup2(pipe_w, 1)
        _STDIO[:] = [_new_stdio()]
    except OSError:
        pass
    finally:
        for fd, target in zip(saved, (0, 1), strict=False):  # saved may stop short
            os.dup2(fd, target)
        for fd in opened + saved:
            os.close(fd)


def _child_main(job, w_res, w_out):
    """Runs in the forked child; never returns."""
    try:
        os.setpgid(0, 0)
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the worker
        _prctl(4, 1)  # dumpable again: the call may inspect itself, just not the worker
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(w_out, 1)
        os.dup2(w_out, 2)
        os.dup2(w_res, 3)
        os.closerange(4, 1 << 16)
        _reset_signals()
        _expendable()
        _set_limits(job["limits"], job["nproc"], _vm_bytes())
        os.chdir(job["scratch"])
        out, stdin = _stdio()
        sys.stdout = sys.__stdout__ = out  # type: ignore[misc]
        sys.stderr = sys.__stderr__ = out  # type: ignore[misc]
        sys.stdin = sys.__stdin__ = stdin  # type: ignore[misc]
        result = _child_call(job)
        with contextlib.suppress(BaseException):
            out.flush()
        write_all(3, frame(result))
    except BaseException:
        pass
    os._exit(0)


def _child_call(job, ns=None):
    limits = job["limits"]
    cap = int(limits["output_chars"])
    if ns is None:
        ns = {}
    ns.update({"__name__": MODULE_NAME, "__builtins__": builtins})
    try:
        _arm(float(limits["timeout_s"]))
        try:
            exec(job["code"], ns)
            if job["expression"] is not None:
                value = eval(job["expression"], ns)
            else:
                fn = ns.get(job["function"])
                if fn is None:
                    raise NameError("name {!r} is not defined".format(job["function"]))
                value = fn(*job["args"], **job["kwargs"])
        finally:
            _disarm()
    except _Overtime:
        return {"timed_out": True}
    except BaseException as exc:  # SystemExit, KeyboardInterrupt, RecursionError...
        return {"error_type": _type_name(exc), "error_message": _exception_message(exc, cap)}
    tree, value_str, truncated = _encode_value(value, cap)
    return {"ok": True, "value": tree, "value_str": value_str, "truncated": truncated}


def _block_signals():
    """Block every catchable signal in the worker: a call (same user) cannot end it with one.

    Blocked rather than ignored: a fork does not inherit pending signals, and a child makes
    every signal deliverable again with one call (see _reset_signals)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())


_CALL_DEFAULTS = tuple(
    int(getattr(signal, name))
    for name in ("SIGINT", "SIGTERM", "SIGALRM", "SIGCHLD", "SIGXCPU", "SIGPIPE")
)
_SIGXFSZ, _SIG_SETMASK = int(signal.SIGXFSZ), int(signal.SIG_SETMASK)


def _reset_signals():
    """A call's signals: default dispositions (oversized writes raise OSError instead of
    killing), then nothing blocked."""
    for signum in _CALL_DEFAULTS:
        if _TRUSTED and signum == _SIGALRM:
            continue  # _arm installs its handler before anything runs, in every mode
        _set_disposition(signum, _SIG_DFL)
    _set_disposition(_SIGXFSZ, _SIG_IGN)
    _signal.pthread_sigmask(_SIG_SETMASK, ())


def _set_disposition(signum, handler):
    if not (_TRUSTED and _signal.getsignal(signum) == handler):
        _signal.signal(signum, handler)


def _expendable():
    """Make this process the one the kernel's OOM killer picks before the worker."""
    with contextlib.suppress(OSError):
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        try:
            os.write(fd, b"1000")
        finally:
            os.close(fd)


_PRCTL: list[Any] = []
"""libc's prctl, found on first use: the worker's own start-up, so every child it forks has it
(finding it again in each child cost ~60 copied pages: a child copies every page it writes)."""


def _prctl(option, arg):
    try:
        if not _PRCTL:
            import ctypes

            _PRCTL.append(ctypes.CDLL(None, use_errno=True).prctl)
        return _PRCTL[0](option, arg, 0, 0, 0)
    except Exception:
        return -1
