"""The warm worker: the first process inside every sandbox. Standard library only.

The harness launches it as ``python3 -s -P -c <launch_source()>`` with the environment of
``launch_env()``: the launch source embeds this
file and ``codec.py``, so the sandbox needs neither our package nor a file of ours on disk.

Protocol: frames on stdin/stdout, each a 4-byte big-endian length then UTF-8 JSON (never
pickle). Requests:

    {"op": "ping"}                                  -> {"op": "pong", "python": ..., ...}
    {"op": "run", "id": n, "source": str, "function": str,
     "invocations": [{"args": [tree], "kwargs": [[name, tree]], "expression": str|null}],
     "limits": {...Limits fields...},
     "isolation": "call" | "batch"}                 -> one {"op": "result", "id", "i", "r"} per
                                                       invocation, streamed, then {"op": "done"},
                                                       or {"op": "broken", "id", "message"} when
                                                       the worker cannot run another call (it then
                                                       exits, and the harness replaces it)
    {"op": "exit"}                                  -> the worker exits

The worker ignores every catchable signal (a call runs as the same user and could otherwise
end it); on docker and bwrap it is also PID 1 of the sandbox's pid namespace, which SIGKILL
and SIGSTOP from inside do not reach. After every call it removes the call's processes, the
System V IPC objects of its (private) IPC namespace and everything in the scratch directory.

Each invocation runs in a fresh forked child (new process group, rlimits, wiped scratch
directory as cwd) that executes the module in a fresh namespace and calls the function, so no
Python state, process or file survives from one call to the next. The parent enforces the
wall clock, caps what the child sends back, and is a child subreaper, so it can kill every
descendant (even ones that called setsid) after each call.

With ``"isolation": "batch"`` one forked child runs the invocations in turn (each in a fresh
module namespace, under its own timer and CPU allowance); the parent paces it one invocation at
a time, enforces each one's wall clock, and forks a new child after a kill or a crash. Files and
processes are cleaned up after the batch instead of after each call. A batch may carry a
time budget (``limits["batch_budget_s"]``): once its invocations have taken that long, the rest
are not run and come back timed out (``BUDGET_SPENT``).
"""

import __future__

import builtins
import contextlib
import hashlib
import io
import json
import math
import os
import resource
import select
import signal
import struct
import sys
import time
from typing import Any

_codec: Any = sys.modules.get("_codearc_codec")
if _codec is None:  # imported inside the harness (tests, launch_source); never in a sandbox
    import importlib

    _codec = importlib.import_module("codearc_env.sandbox.codec")

PROTOCOL_VERSION = 1
HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 256 * 1024 * 1024
STDOUT_CAP_DEFAULT = 64_000
RENDER_GUARD_S = 1.0
"""Time allowed for each of encode() and str() of a returned value (hostile __repr__/__str__)."""
DRAIN_S = 0.25
"""How long the worker keeps reading a call's stdout once its result is in."""
TAMPERED = "the call wrote to its own result channel"
"""Why a result frame no genuine child could have sent is refused."""
SCRATCH_MODE = 0o700
WATCHDOG_PERIOD_S = 0.02
"""How often the memory watchdog (where no cgroup caps the sandbox) sums the processes' memory."""
OVER_MEMORY = "the call's processes together used more memory than the sandbox allows"
MODULE_NAME = "__codearc__"
"""``__name__`` of the executed module: not "__main__", so ``if __name__ == "__main__"`` blocks
(which often read stdin) do not run."""
_COMPILE_CACHE_SIZE = 64
_LAZY_ANNOTATIONS = __future__.annotations.compiler_flag
BUDGET_SPENT = "not run: the batch's time budget was spent"
_PRE_IMPORTS = ("bisect", "collections", "functools", "heapq", "itertools", "math", "re", "typing")
"""Imported by the worker at start: cheap, and used by most targets."""
_ON_DEMAND_IMPORTS = frozenset(
    {"array", "calendar", "cmath", "copy", "datetime", "decimal", "enum", "fractions"}
    | {"hashlib", "ipaddress", "json", "numpy", "operator", "random", "statistics", "string"}
    | {"textwrap", "unicodedata"}
)
"""Trusted modules the worker imports once, the first time a module it runs imports them.

Not at start: every call forks the worker and its child's exit tears down the worker's pages,
so each module loaded into the worker (numpy triples its memory) makes every call slower;
only sandboxes whose code uses a module pay for it, and only once instead of per call.
"""


# ----------------------------------------------------------------------------- framing


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


# ----------------------------------------------------------------------------- child side


class _Overtime(BaseException):
    """Raised by SIGALRM inside the child; a BaseException so ordinary handlers miss it."""


def _on_alarm(signum, frame_):
    raise _Overtime()


def _arm(seconds):
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


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
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 1024 * 1024 * 1024


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
        out = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace"
        )
        sys.stdout = sys.__stdout__ = out  # type: ignore[misc]
        sys.stderr = sys.__stderr__ = out  # type: ignore[misc]
        stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
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


# Descriptors of a batch child: 0-2 stdio, then these (kept so stdio can be restored).
_RES_FD, _CTL_FD, _OUT_FD, _NULL_FD = 3, 4, 5, 6


def _python_state():
    """What an invocation may change in the process and the next one must not see (cheap)."""
    state = {
        "builtins": dict(builtins.__dict__),
        "environ": dict(os.environ),
        "recursion": sys.getrecursionlimit(),
        "digits": sys.get_int_max_str_digits(),
    }
    if "numpy.random" in sys.modules:
        with contextlib.suppress(Exception):
            state["numpy.random"] = sys.modules["numpy.random"].get_state()
    if "decimal" in sys.modules:
        state["decimal"] = sys.modules["decimal"].getcontext().copy()
    return state


def _restore_python_state(state):
    current = builtins.__dict__
    saved = state["builtins"]
    if len(current) != len(saved) or any(current.get(k) is not v for k, v in saved.items()):
        current.clear()
        current.update(saved)
    if os.environ != state["environ"]:
        os.environ.clear()
        os.environ.update(state["environ"])
    sys.setrecursionlimit(state["recursion"])
    sys.set_int_max_str_digits(state["digits"])
    sys.settrace(None)
    sys.setprofile(None)
    if "random" in sys.modules:
        sys.modules["random"].seed()  # what random does after a fork: call mode's behaviour
    if "numpy.random" in state:
        sys.modules["numpy.random"].set_state(state["numpy.random"])
    if "decimal" in state:
        sys.modules["decimal"].setcontext(state["decimal"].copy())


def _reset_stdio(out, stdin):
    os.dup2(_NULL_FD, 0)
    os.dup2(_OUT_FD, 1)
    os.dup2(_OUT_FD, 2)
    sys.stdout = sys.__stdout__ = out  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = out  # type: ignore[misc]
    sys.stdin = sys.__stdin__ = stdin  # type: ignore[misc]
    _reset_signals()


_WORKER_IGNORES: tuple[signal.Signals, ...] = ()
"""Signals the worker ignores (filled by _prepare_parent); every child restores them."""


def _reset_signals():
    """A call's signal dispositions: the defaults, except oversized writes raise OSError."""
    for sig in _WORKER_IGNORES:
        signal.signal(sig, signal.SIG_DFL)
    for sig in (signal.SIGALRM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _expendable():
    """Make this process the one the kernel's OOM killer picks before the worker."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")


def _cpu_used():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _batch_child_main(items, start, w_res, w_out, ctl, limits, nproc, scratch):
    """A batch child: runs items[start:] one at a time, each when the parent says go. Never returns.

    Each invocation executes the module in a fresh namespace, under its own SIGALRM timer and
    CPU-time allowance, and sends one result frame; stdout is flushed before the frame, and
    the parent reads it before it lets the next invocation start, so stdout stays per call.
    """
    try:
        os.setpgid(0, 0)
        _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the worker
        _prctl(4, 1)  # dumpable again: the call may inspect itself, just not the worker
        devnull = os.open(os.devnull, os.O_RDONLY)
        sources = (w_res, ctl, w_out, devnull)
        park = max(sources) + 1  # park above every source first: one may sit on a target
        for k, fd in enumerate(sources):
            os.dup2(fd, park + k)
        for k, target in enumerate((_RES_FD, _CTL_FD, _OUT_FD, _NULL_FD)):
            os.dup2(park + k, target)
        os.closerange(_NULL_FD + 1, 1 << 16)
        os.set_inheritable(_CTL_FD, False)  # processes a call starts do not steal the go bytes
        _expendable()
        cpu_s = int(limits["cpu_s"])
        todo = sum(1 for item in items[start:] if "error_type" not in item)
        # The hard CPU limit covers the whole batch; each call gets cpu_s more as its soft limit.
        with contextlib.suppress(ValueError, OSError):
            hard = math.ceil(_cpu_used()) + todo * (cpu_s + 1) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
        limits_without_cpu = dict(limits, cpu_s=hard)
        _set_limits(limits_without_cpu, nproc, _vm_bytes())
        out = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace"
        )
        stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        state = _python_state()
        me = os.getpid()
        for index, job in enumerate(items[start:], start):
            if "error_type" in job:
                continue  # the parent reported it without a child
            if os.read(_CTL_FD, 1) != b"g":
                break  # the parent is done with us
            _reset_stdio(out, stdin)
            os.chdir(scratch)
            _restore_python_state(state)
            soft = min(math.ceil(_cpu_used()) + cpu_s, hard)
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
            ns: dict[str, Any] = {}
            result = _child_call(job, ns)
            if os.getpid() != me:
                os._exit(0)  # a process the call forked returned here: it is not the batch
            with contextlib.suppress(BaseException):
                out.flush()
            result["i"] = index  # bound to its invocation: a frame left by an earlier one fails
            write_all(_RES_FD, frame(result))
            # Break the namespace's cycles (functions refer to it) so its memory goes now.
            _guarded(ns.clear, RENDER_GUARD_S, None, None)
            del ns, result
    except BaseException:
        pass
    os._exit(0)


# ----------------------------------------------------------------------------- parent side


def _prctl(option, arg):
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, arg, 0, 0, 0)
    except Exception:
        return -1


def _children_of(pid):
    """Direct children of pid (orphans reparent to us: we are a child subreaper)."""
    kids: set[int] = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.update(int(x) for x in f.read().split())
        return kids
    except (OSError, ValueError):
        pass
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    stat = f.read()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    kids.add(int(name))
            except (OSError, ValueError):
                pass
    return kids


def _kill_group(pid):
    for fn, target in ((os.killpg, pid), (os.kill, pid)):
        with contextlib.suppress(OSError):
            fn(target, signal.SIGKILL)


def reap_descendants(budget_s=10.0):
    """Kill and reap every descendant process (a fork bomb may have made thousands)."""
    me = os.getpid()
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid:
            continue
        kids = _children_of(me)
        for kid in kids:
            _kill_group(kid)
        if not kids:
            time.sleep(0.001)
    return False


def _wipe(root):
    """Remove everything under root, whatever the call did to modes or depth.

    Iterative and relative to directory descriptors: no recursion limit and no path length
    limit, so a tree deeper than either cannot make the worker fail. Returns what was left
    (an OSError's text), or None when root is empty.
    """
    try:
        top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        return f"cannot open {root}: {exc}"
    problem = None
    names: list[str] = []  # the path from root down to the directory `fd` is, as names
    fd = top
    try:
        while True:
            child = _empty_directory(fd)
            if child is None:  # fd is empty: go back up and remove it
                if not names:
                    break
                parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = parent
                name = names.pop()
                try:
                    os.rmdir(name, dir_fd=fd)
                except OSError as exc:
                    problem = f"cannot remove a directory: {exc}"
                    break
                continue
            with contextlib.suppress(OSError):
                os.chmod(child, SCRATCH_MODE, dir_fd=fd, follow_symlinks=False)
            try:
                sub = os.open(child, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                problem = f"cannot enter a directory: {exc}"
                break
            if fd != top:
                os.close(fd)
            fd = sub
            names.append(child)
    finally:
        if fd != top:
            os.close(fd)
        os.close(top)
    return problem


def _empty_directory(fd):
    """Unlink every non-directory in fd; return the name of a subdirectory left, else None."""
    with contextlib.suppress(OSError):
        os.chmod(fd, SCRATCH_MODE)
    for entry in os.scandir(fd):
        if entry.is_dir(follow_symlinks=False):
            return entry.name
        with contextlib.suppress(OSError):
            os.unlink(entry.name, dir_fd=fd)
    return None


def _ready_scratch(root, mode):
    """Empty root and give it back its mode; the reason when that fails (worker unusable)."""
    try:
        if os.stat(root).st_mode & 0o7777 != mode:
            os.chmod(root, mode)
        problem = _wipe(root)
        if problem is None and os.listdir(root):
            problem = "entries are left"
    except OSError as exc:
        problem = str(exc)
    return None if problem is None else f"cannot prepare the scratch directory: {problem}"


_IPC_KINDS = (("shm", "shmctl"), ("sem", "semctl"), ("msg", "msgctl"))


def _remove_ipc():
    """Remove every System V IPC object of this (private) IPC namespace."""
    libc = None
    for kind, ctl in _IPC_KINDS:
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 2:
                continue
            if libc is None:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
            ipc_id = int(fields[1])
            if kind == "sem":
                libc.semctl(ipc_id, 0, 0)  # IPC_RMID is 0
            else:
                getattr(libc, ctl)(ipc_id, 0, None)


class Worker:
    def __init__(self, config, fd_in=0, fd_out=1):
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.scratch = config["scratch"]
        self.nproc = bool(config.get("nproc"))
        self.ipc_cleanup = bool(config.get("ipc_cleanup"))
        self.memory_cap = int(config.get("memory_watchdog_mb") or 0) * 1024 * 1024
        """Bytes all the sandbox's processes may hold together (0: a cgroup caps them)."""
        self.scratch_mode = os.stat(self.scratch).st_mode & 0o7777
        self.broken = None
        """Why this worker cannot run another call (it then reports infra and exits)."""
        self.code_cache = {}
        self.pending_input = b""
        self.input_closed = False

    # -- protocol

    def send(self, obj):
        write_all(self.fd_out, frame(obj))

    def read_exact(self, n):
        """Like read_exact(), but first consumes input read while a call was running."""
        head, self.pending_input = self.pending_input[:n], self.pending_input[n:]
        if len(head) == n:
            return head
        rest = read_exact(self.fd_in, n - len(head))
        return None if rest is None else head + rest

    def _buffer_harness_input(self, watch):
        """Keep what the harness sends while a call runs; False once it went away (EOF)."""
        data = os.read(self.fd_in, 65536)
        if not data:
            self.input_closed = True
            watch.remove(self.fd_in)
            return False
        self.pending_input += data
        return True

    def read_request(self):
        header = self.read_exact(HEADER.size)
        if header is None:
            return None
        (size,) = HEADER.unpack(header)
        if size > MAX_REQUEST_BYTES:
            raise ValueError(f"request of {size} bytes exceeds the cap")
        body = self.read_exact(size)
        if body is None:
            return None
        return json.loads(body.decode("utf-8"))

    def serve(self):
        while True:
            try:
                request = self.read_request()
            except (ValueError, RecursionError) as exc:
                self.send({"op": "error", "message": f"bad request: {exc}"})
                return
            if request is None or request.get("op") == "exit":
                return
            op = request.get("op")
            if op == "ping":
                self.send(self.hello())
            elif op == "run":
                self.run(request)
                if self.input_closed or self.broken:
                    return
            else:
                self.send({"op": "error", "message": f"unknown op {op!r}"})

    def hello(self):
        import importlib.util

        numpy = sys.modules.get("numpy")
        if numpy is not None:
            numpy_state = numpy.__version__
        else:  # loaded on first use; say whether it can be
            numpy_state = "available" if importlib.util.find_spec("numpy") else None
        return {
            "op": "pong",
            "protocol": PROTOCOL_VERSION,
            "python": sys.version.split()[0],
            "numpy": numpy_state,
            "pid": os.getpid(),
            "uid": os.getuid(),
            "hash_seed": os.environ.get("PYTHONHASHSEED", "random"),
            "python_env": ",".join(sorted(k for k in os.environ if k.startswith("PYTHON"))),
        }

    # -- execution

    def compile_module(self, source):
        key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
        hit = self.code_cache.get(key)
        if hit is None:
            try:
                # Postponed annotations (PEP 563, the default from Python 3.14): a hint naming
                # something the module never imports must not stop it loading (annotated/885).
                hit = (compile(source, "<module>", "exec", _LAZY_ANNOTATIONS, True), None)
            except BaseException as exc:  # SyntaxError, ValueError (NUL), RecursionError...
                hit = (None, (_type_name(exc), str(exc)[:2000]))
            if hit[0] is not None:
                _import_trusted(hit[0])
            if len(self.code_cache) >= _COMPILE_CACHE_SIZE:
                self.code_cache.pop(next(iter(self.code_cache)))
            self.code_cache[key] = hit
        return hit

    def run(self, request):
        rid = request.get("id")
        limits = request["limits"]
        code, compile_error = self.compile_module(request["source"])
        if request.get("isolation") == "batch" and compile_error is None:
            self.run_batch(rid, code, request["function"], request["invocations"], limits)
            return
        for i, inv in enumerate(request["invocations"]):
            if compile_error is not None:
                result = {"error_type": compile_error[0], "error_message": compile_error[1]}
            else:
                result = self.run_one(code, request["function"], inv, limits)
            self.send({"op": "result", "id": rid, "i": i, "r": result})
            if self.input_closed:
                return
            if self.broken:  # the harness replaces this worker and runs the rest on the new one
                self.send({"op": "broken", "id": rid, "message": self.broken})
                return
        self.send({"op": "done", "id": rid})

    def clean_up(self):
        """After a call (or a batch): no process, file or IPC object of it is left."""
        reap_descendants()
        if self.ipc_cleanup:
            _remove_ipc()
        self.broken = _ready_scratch(self.scratch, self.scratch_mode)

    def run_one(self, code, function, inv, limits):
        job = self.prepare(code, function, inv, limits)
        if "error_type" in job:
            return job
        try:
            return self.supervise(job, limits)
        finally:
            self.clean_up()

    def prepare(self, code, function, inv, limits):
        """The job a child runs for one invocation, or an error result if its arguments fail."""
        try:
            expression = inv.get("expression")
            if expression is not None:
                expression = compile(expression, "<call>", "eval")
            args = [_codec.decode(a) for a in inv.get("args", [])]
            kwargs = {str(k): _codec.decode(v) for k, v in inv.get("kwargs", [])}
        except BaseException as exc:
            return {"error_type": _type_name(exc), "error_message": str(exc)[:2000]}
        return {
            "code": code,
            "function": function,
            "expression": expression,
            "args": args,
            "kwargs": kwargs,
            "limits": limits,
            # RLIMIT_NPROC counts every process of the user (namespace): leave room for ours.
            "nproc": int(limits.get("processes", 64)) + 8 if self.nproc else None,
            "scratch": self.scratch,
        }

    # -- batch isolation: one child runs many invocations

    def run_batch(self, rid, code, function, invocations, limits):
        """One forked child for the whole batch; a new one after a child dies or is killed."""
        items = [self.prepare(code, function, inv, limits) for inv in invocations]
        budget = limits.get("batch_budget_s")
        spent = 0.0
        child = None
        try:
            for i, item in enumerate(items):
                if budget is not None and spent >= float(budget):
                    result = {"timed_out": True, "error_message": BUDGET_SPENT}
                elif "error_type" in item:
                    result = item
                else:
                    started = time.monotonic()
                    for _attempt in range(2):
                        if child is None:
                            child = self.fork_batch_child(items, i, limits)
                        served = child["served"]
                        result, healthy, died = self.collect(child, limits, i, len(items))
                        if not healthy:
                            self.end_batch_child(child)
                            reap_descendants()  # what the dead child started dies with it
                            child = None
                        # A child that died before sending anything, after serving earlier
                        # invocations, may have been killed by what those left behind (a
                        # thread, a closed descriptor): run this one again on a fresh child,
                        # where it dies again only if it is the culprit, as in call mode.
                        if not (died and served) or self.input_closed:
                            break
                    spent += time.monotonic() - started
                self.send({"op": "result", "id": rid, "i": i, "r": result})
                if self.input_closed:
                    return
            if child is not None:
                child, last = None, child
                self.end_batch_child(last)
            self.clean_up()
            if self.broken:  # this request's results stand; the next one needs a new worker
                self.send({"op": "broken", "id": rid, "message": self.broken})
                return
            self.send({"op": "done", "id": rid})
        finally:
            if child is not None:
                self.end_batch_child(child)
                self.clean_up()

    def fork_batch_child(self, items, start, limits):
        import socket  # only batches need it: MSG_NOSIGNAL, so a dead child cannot SIGPIPE us

        r_res, w_res = os.pipe()
        r_out, w_out = os.pipe()
        ctl_parent, ctl_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        nproc = int(limits.get("processes", 64)) + 8 if self.nproc else None
        pid = os.fork()
        if pid == 0:
            os.close(r_res)
            os.close(r_out)
            _batch_child_main(
                items, start, w_res, w_out, ctl_child.fileno(), limits, nproc, self.scratch
            )
        os.close(w_res)
        os.close(w_out)
        ctl_child.close()
        with contextlib.suppress(OSError):  # the child does it too: either may run first
            os.setpgid(pid, pid)
        pidfd = _pidfd(pid)
        return {
            "pid": pid,
            "res": r_res,
            "out": r_out,
            "ctl": ctl_parent,
            "pidfd": pidfd,
            "served": 0,
        }

    def end_batch_child(self, child):
        if not child.get("reaped"):
            _kill_group(child["pid"])
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child["pid"], 0)
        child["ctl"].close()
        for fd in (child["res"], child["out"], child["pidfd"]):
            if fd is not None:
                os.close(fd)

    def collect(self, child, limits, index, count):
        """Let the child run its next invocation.

        Returns (result, whether the child can go on, whether it died without a byte of result).
        """
        import socket

        more = index + 1 < count
        cap = int(limits["output_chars"])
        stdout_cap = int(limits.get("stdout_chars", STDOUT_CAP_DEFAULT))
        start = time.monotonic()
        with contextlib.suppress(OSError):  # dead already: its pipes report it below
            child["ctl"].send(b"g", socket.MSG_NOSIGNAL)
        hard_deadline = _hard_deadline(start, limits)
        got = self.read_child(child["res"], child["out"], child["pidfd"], hard_deadline, limits)
        healthy = got.complete() and not (got.overflow or got.dead or self.input_closed)
        if healthy and len(got.res_buf) > HEADER.size + (got.expected or 0):
            healthy = False  # more than one frame: the call wrote to the channel itself
        if healthy and more and select.select([child["res"]], [], [], 0)[0]:
            healthy = False
        if healthy and more and _has_strays(child["pid"]):
            healthy = False  # a thread or process it left could write the next one's result
        if got.dead and not got.complete() and not _await_exit(child["pidfd"], hard_deadline):
            got.timed_out = True  # closed its result channel, then kept running
        duration = time.monotonic() - start
        status_box: list[int] = []

        def status():
            _kill_group(child["pid"])
            if not status_box:
                try:
                    status_box.append(os.waitpid(child["pid"], 0)[1])
                except ChildProcessError:
                    status_box.append(0)
            return status_box[0]

        result = _outcome(got, status, duration, stdout_cap, cap, index)
        if result.get("error_type") == "MalformedResult":
            healthy = False  # whatever else the call wrote may still be on its way
        if status_box:  # already reaped: end_batch_child must not wait for it again
            child["reaped"] = True
        child["served"] += 1
        died = got.dead and not got.res_buf and not got.timed_out
        return result, healthy, died

    def supervise(self, job, limits):
        """Fork the child, enforce the wall clock, collect its result frame and stdout."""
        cap = int(limits["output_chars"])
        stdout_cap = int(limits.get("stdout_chars", STDOUT_CAP_DEFAULT))
        r_res, w_res = os.pipe()
        r_out, w_out = os.pipe()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(r_res)
            os.close(r_out)
            _child_main(job, w_res, w_out)
        os.close(w_res)
        os.close(w_out)
        with contextlib.suppress(OSError):  # the child does it too: either may run first
            os.setpgid(pid, pid)
        pidfd = _pidfd(pid)
        hard_deadline = _hard_deadline(start, limits)
        try:
            got = self.read_child(r_res, r_out, pidfd, hard_deadline, limits)
            if got.dead and not got.complete() and not _await_exit(pidfd, hard_deadline):
                got.timed_out = True  # closed its result channel, then kept running
        finally:
            _kill_group(pid)
            _, status = os.waitpid(pid, 0)
            for fd in (r_res, r_out, pidfd):
                if fd is not None:
                    os.close(fd)
        duration = time.monotonic() - start
        return _outcome(got, lambda: status, duration, stdout_cap, cap)

    def read_child(self, r_res, r_out, pidfd, hard_deadline, limits):
        """Read one invocation's result frame and stdout from a child, until the frame is
        complete, the child dies (its result pipe closes, or its pidfd fires), the deadline
        passes, the frame announces more than the cap, or the harness goes away."""
        # A frame's tree and str() are capped at output_chars characters each; ASCII JSON
        # spends at most 12 bytes on one (a surrogate pair's escapes): more is not genuine.
        got = _ChildOutput(26 * int(limits["output_chars"]) + 65536)
        out_room = 4 * int(limits.get("stdout_chars", STDOUT_CAP_DEFAULT))
        watch = [r_res, r_out] + ([pidfd] if pidfd is not None else [])
        if not self.input_closed:
            watch.append(self.fd_in)
        while not got.complete():
            remaining = hard_deadline - time.monotonic()
            if remaining <= 0:
                got.timed_out = True
                break
            if self.memory_cap and _sandbox_rss() > self.memory_cap:
                got.over_memory = True
                _kill_calls()
                break
            wait = min(remaining, WATCHDOG_PERIOD_S) if self.memory_cap else remaining
            ready, _, _ = select.select(watch, [], [], wait)
            if self.fd_in in ready and not self._buffer_harness_input(watch):
                break
            if r_out in ready and not got.read_out(r_out, out_room):
                watch.remove(r_out)
            if r_res in ready and not got.read_result(r_res):
                got.dead = True  # closed its end without (finishing) a frame
                break
            if got.overflow:
                break
            if pidfd is not None and pidfd in ready and r_res not in ready:
                got.dead = True  # a frame it wrote before dying was read above (r_res first)
                while not got.complete() and select.select([r_res], [], [], 0)[0]:
                    if not got.read_result(r_res) or got.overflow:
                        break
                break
        if not (got.timed_out or got.overflow or got.over_memory):
            # It flushed stdout before its frame (and may wait for our go): drain what is
            # there, for a moment only, since a process it left behind may write forever.
            drain_end = time.monotonic() + DRAIN_S
            while r_out in watch and select.select([r_out], [], [], 0)[0]:
                if not got.read_out(r_out, out_room) or time.monotonic() > drain_end:
                    break
        return got


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


def _has_strays(pid):
    """Whether a batch child has another thread, or a process besides it is alive."""
    try:
        if len(os.listdir(f"/proc/{pid}/task")) > 1:
            return True
    except OSError:
        return True
    return bool(_children_of(pid) or _children_of(os.getpid()) - {pid})


def _sandbox_rss():
    """Resident bytes of every process visible except the worker (its own pid namespace)."""
    me = os.getpid()
    total = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            try:
                with open(f"/proc/{name}/statm", "rb") as f:
                    total += int(f.read().split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return total * resource.getpagesize()


def _kill_calls():
    """Kill every process of the calls at once (they are reaped after the call)."""
    if os.getpid() == 1:  # init of the sandbox's pid namespace: everything else is a call's
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        return
    for kid in _children_of(os.getpid()):
        _kill_group(kid)


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
        if reply == {"timed_out": True}:
            return dict(common, timed_out=True)
        return dict(common, **_sanitize(reply, cap))
    except (ValueError, TypeError, KeyError, RecursionError, _codec.EncodeError):
        # A genuine child always sends a well-formed frame: this one is the call's own.
        return dict(common, error_type="MalformedResult", error_message=TAMPERED)


def _imported_names(code):
    """Every name in the code object tree: a superset of the modules it imports."""
    names = set()
    stack = [code]
    while stack:
        co = stack.pop()
        names.update(co.co_names)
        stack.extend(c for c in co.co_consts if isinstance(c, type(code)))
    return names


def _import_trusted(code):
    """Import (once, in the worker) the trusted modules this code may import."""
    wanted = {n.partition(".")[0] for n in _imported_names(code)} & _ON_DEMAND_IMPORTS
    for name in wanted - set(sys.modules):
        with contextlib.suppress(Exception):
            __import__(name)


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


_KEPT_SIGNALS = ("SIGKILL", "SIGSTOP", "SIGCHLD", "SIGCONT", "SIGWINCH", "SIGURG")
"""Signals the worker does not ignore: uncatchable ones, SIGCHLD (ignoring it would make
children vanish before the worker reads their status) and ones that do nothing by default."""


def _ignore_signals():
    """Ignore every catchable signal: a call (same user) must not be able to end the worker."""
    global _WORKER_IGNORES
    kept = {getattr(signal, name) for name in _KEPT_SIGNALS}
    ignored: list[signal.Signals] = []
    for sig in signal.valid_signals():
        if sig in kept:
            continue
        try:
            signal.signal(sig, signal.SIG_IGN)
            ignored.append(sig)
        except (OSError, ValueError, RuntimeError):
            pass
    _WORKER_IGNORES = tuple(ignored)


def _hide_harness():
    """What a call sees of the worker: no modules, globals or arguments of ours (a call forks
    from the worker, so without this it could tell it runs in the harness, and which one)."""
    for name in ("_codearc_codec", "_codearc_worker"):
        sys.modules.pop(name, None)
    main_module = sys.modules.get("__main__")
    if main_module is not None:
        for name in ("_m", "_w", "sys", "types"):
            main_module.__dict__.pop(name, None)
    sys.argv[:] = ["-c"]


def _prepare_parent():
    _ignore_signals()
    import socket  # noqa: F401  (batches need it: loaded now, every call sees the same modules)

    sys.set_int_max_str_digits(0)  # 3.11 refuses str() of ints over 4300 digits by default
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread: small address space
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphaned descendants of a call become ours
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with whoever launched us
    # PR_SET_DUMPABLE 0: a call (same uid, no capabilities) can then neither open our
    # descriptors through /proc/<pid>/fd (the harness channel) nor ptrace or read our memory.
    _prctl(4, 0)
    for name in _PRE_IMPORTS:
        with contextlib.suppress(Exception):
            __import__(name)


def main(argv):
    config = json.loads(argv[1]) if len(argv) > 1 else {}
    config.setdefault("scratch", os.getcwd())
    os.makedirs(config["scratch"], exist_ok=True)
    _prepare_parent()
    if _codec is sys.modules.get("_codearc_codec"):  # launched in a sandbox, not imported
        _hide_harness()
    # Anything the worker itself might print must not corrupt the protocol on fd 1.
    devnull = os.open(os.devnull, os.O_WRONLY)
    fd_out = os.dup(1)
    os.dup2(devnull, 2)
    worker = Worker(config, fd_in=0, fd_out=fd_out)
    os.dup2(devnull, 1)
    try:
        worker.serve()
    finally:
        reap_descendants()
        if worker.ipc_cleanup:
            _remove_ipc()
        _wipe(config["scratch"])


# ----------------------------------------------------------------------------- launcher


PYTHON_FLAGS = ("-s", "-P")
"""How the worker's python is started. Not ``-I``: it implies ``-E``, which would ignore the
PYTHONHASHSEED we set. ``-s`` skips the user site directory, ``-P`` (3.11+) keeps the current
directory off sys.path; the environment is ours alone (see :func:`launch_env`)."""
HASH_SEED = "0"
"""A fixed str/bytes hash seed: set iteration order (``list(set(words))``) is then the same in
every sandbox, so a reference and a candidate run in different sandboxes agree."""


def launch_env():
    """The worker's whole environment: no other PYTHON* variable can reach the interpreter."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "PYTHONHASHSEED": HASH_SEED}


def launch_source():
    """Python source that runs the worker with the codec embedded (for ``python3 -s -P -c``)."""
    from pathlib import Path

    here = Path(__file__).resolve().parent
    codec_src = (here / "codec.py").read_text(encoding="utf-8")
    worker_src = (here / "worker.py").read_text(encoding="utf-8")
    return (
        "import sys, types\n"
        "_m = types.ModuleType('_codearc_codec')\n"
        "sys.modules['_codearc_codec'] = _m\n"
        f"exec(compile({codec_src!r}, 'codec.py', 'exec'), _m.__dict__)\n"
        "_w = types.ModuleType('_codearc_worker')\n"
        "sys.modules['_codearc_worker'] = _w\n"
        f"exec(compile({worker_src!r}, 'worker.py', 'exec'), _w.__dict__)\n"
        "_w.main(sys.argv)\n"
    )
