"""The warm worker: the first process inside every sandbox. Standard library only.

The harness launches it as ``python3 -s -P -c <launch_source()>`` (``launch.py``) with the
environment of ``launch_env()``; the launch source embeds this file, the other ``worker_*``
modules, ``wire.py`` and ``codec.py``, so the sandbox needs neither our package nor a file of
ours on disk.

Protocol: frames on stdin/stdout, each a 4-byte big-endian length then UTF-8 JSON (never
pickle). Requests:

    {"op": "ping"}                                  -> {"op": "pong", "python": ..., ...}
    {"op": "run", "id": n, "source": str, "function": str,
     "invocations": [{"args": [tree], "kwargs": [[name, tree]], "expression": str|null}],
     "limits": {...Limits fields...},
     "isolation": "call" | "batch" | "resident"}    -> one {"op": "result", "id", "i", "r"} per
                                                       invocation, streamed, then {"op": "done"},
                                                       or {"op": "broken", "id", "message"} when
                                                       the worker cannot run another call (it then
                                                       exits, and the harness replaces it); after
                                                       a resident request, whose clean-up follows
                                                       its "done", the next request gets it
    {"op": "exit"}                                  -> the worker exits

The worker blocks every catchable signal (a call runs as the same user and could otherwise
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

With ``"isolation": "resident"`` (hidden functions only) the invocations run like a batch's, in
a child that stays for the next request of the same module, function and limits
(``worker_resident.py``): an episode's queries then cost no fork each.
"""

import __future__

import collections
import contextlib
import gc
import hashlib
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
_child = _wire.sibling("worker_child")
_cleanup = _wire.sibling("worker_cleanup")
_results = _wire.sibling("worker_results")
_batch = _wire.sibling("worker_batch")
_resident = _wire.sibling("worker_resident")
HEADER, PROTOCOL_VERSION, MAX_REQUEST_BYTES = (
    _wire.HEADER,
    _wire.PROTOCOL_VERSION,
    _wire.MAX_REQUEST_BYTES,
)
BUDGET_SPENT, frame, read_ahead, write_all = (
    _wire.BUDGET_SPENT,
    _wire.frame,
    _wire.read_ahead,
    _wire.write_all,
)
MODULE_NAME, _type_name, _child_main, _prctl = (
    _child.MODULE_NAME,
    _child._type_name,
    _child._child_main,
    _child._prctl,
)
_block_signals = _child._block_signals
_kill_group, reap_descendants, _remove_ipc, _wipe, _ready_scratch = (
    _cleanup._kill_group,
    _cleanup.reap_descendants,
    _cleanup._remove_ipc,
    _cleanup._wipe,
    _cleanup._ready_scratch,
)
_scratch_state, _size_counts_entries = _cleanup._scratch_state, _cleanup._size_counts_entries
_sandbox_rss, _kill_calls = _cleanup._sandbox_rss, _cleanup._kill_calls
_pidfd, _await_exit, _hard_deadline, _outcome, _ChildOutput = (
    _results._pidfd,
    _results._await_exit,
    _results._hard_deadline,
    _results._outcome,
    _results._ChildOutput,
)
STDOUT_CAP_DEFAULT, DRAIN_S = _results.STDOUT_CAP_DEFAULT, _results.DRAIN_S
NPROC_ROOM = _batch.NPROC_ROOM

WATCHDOG_PERIOD_S = 0.02
"""How often the memory watchdog (where no cgroup caps the sandbox) sums the processes' memory."""

_COMPILE_CACHE_SIZE = 64

_LAZY_ANNOTATIONS = __future__.annotations.compiler_flag

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


ResidentRunner: Any = _resident.ResidentRunner


class Worker(ResidentRunner):
    def __init__(self, config, fd_in=0, fd_out=1):
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.scratch = config["scratch"]
        self.nproc = bool(config.get("nproc"))
        self.ipc_cleanup = bool(config.get("ipc_cleanup"))
        self.memory_cap = int(config.get("memory_watchdog_mb") or 0) * 1024 * 1024
        """Bytes all the sandbox's processes may hold together (0: a cgroup caps them)."""
        self.scratch_mode = os.stat(self.scratch).st_mode & 0o7777
        self.scratch_clean = None
        """_scratch_state of the scratch directory empty, with its mode, once known to tell
        (see ready_scratch); None: list it after every request."""
        self.scratch_probed = False
        self.broken = None
        """Why this worker cannot run another call (it then reports infra and exits)."""
        self.unusable = None
        """Why the next request cannot run, found by the clean-up after a request whose
        "done" went out first (resident mode); that request is answered "broken"."""
        self.code_cache = {}
        self.residents = collections.OrderedDict()
        """Resident children by what they run (worker_resident.resident_key)."""
        self.resident_pid_set = None
        """Their pids (None: to be made again from ``residents``)."""
        self.busy = None
        """The resident child running an invocation now, if any."""
        self.pending_input = b""
        self.input_closed = False

    def send(self, obj):
        write_all(self.fd_out, frame(obj))

    def read_exact(self, n):
        """``n`` bytes of the harness's input (first what was read while a call ran); None at
        its end."""
        got = read_ahead(self.fd_in, self.pending_input, n)
        if got is None:
            return None
        head, self.pending_input = got
        return head

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
                if self.unusable:
                    self.send({"op": "broken", "id": request.get("id"), "message": self.unusable})
                    return
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

    @staticmethod
    def source_digest(source):
        return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()

    def compile_module(self, source, key):
        """``(code, None)`` or ``(None, (error type, message))``; ``key``: source_digest(source)."""
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
        digest = self.source_digest(request["source"])
        code, compile_error = self.compile_module(request["source"], digest)
        isolation = request.get("isolation")
        if isolation == "batch" and compile_error is None:
            self.run_batch(rid, code, request["function"], request["invocations"], limits)
            return
        if isolation == "resident" and compile_error is None:
            key = _resident.resident_key(digest, request["function"], limits)
            self.run_resident(rid, key, code, request["function"], request["invocations"], limits)
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

    def reap(self):
        """Kill and reap every process of the calls; idle resident children stay."""
        reap_descendants(spare=self.resident_pids())

    def clean_up(self):
        """After a call (or a batch): no process, file or IPC object of it is left."""
        self.reap()
        if self.ipc_cleanup:
            _remove_ipc()
        self.broken = self.ready_scratch()

    def ready_scratch(self):
        """Empty the scratch directory and give it back its mode; the reason when that fails.
        Where its size counts its entries, an unchanged state says so without a listing."""
        clean = self.scratch_clean
        if clean is not None and _scratch_state(self.scratch) == clean:
            return None  # nothing was made in it, and it is the same directory with its mode
        problem = _ready_scratch(self.scratch, self.scratch_mode)
        if problem is None and not self.scratch_probed:
            self.scratch_probed = True  # once: the state an empty directory has from now on
            if _size_counts_entries(self.scratch):
                self.scratch_clean = _scratch_state(self.scratch)
        return problem

    def run_one(self, code, function, inv, limits):
        job = self.prepare(code, function, inv, limits)
        if "error_type" in job:
            return job
        try:
            result = self.supervise(job, limits)
            if self.residents and _resident.short_of_memory(result):
                # Idle resident children hold memory the sandbox's cap counts: a call that ran
                # out of it runs again without them, and that result stands.
                self.drop_all_residents()
                self.clean_up()
                result = self.supervise(job, limits)
            return result
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
            "nproc": int(limits.get("processes", 64)) + NPROC_ROOM if self.nproc else None,
            "scratch": self.scratch,
        }

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
        # The watchdog's first look is one period in: a call that ends sooner (most queries)
        # never pays for reading every process's memory.
        next_look = time.monotonic() + WATCHDOG_PERIOD_S
        while not got.complete():
            now = time.monotonic()
            remaining = hard_deadline - now
            if remaining <= 0:
                got.timed_out = True
                break
            if self.memory_cap and now >= next_look:
                next_look = now + WATCHDOG_PERIOD_S
                if _sandbox_rss(self.idle_resident_pids()) > self.memory_cap:
                    got.over_memory = True
                    _kill_calls()
                    break
            wait = min(remaining, next_look - now) if self.memory_cap else remaining
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


def _hide_harness():
    """What a call sees of the worker: no modules, globals or arguments of ours (a call forks
    from the worker, so without this it could tell it runs in the harness, and which one)."""
    for name in [m for m in sys.modules if m.startswith("_codearc_")]:
        del sys.modules[name]
    main_module = sys.modules.get("__main__")
    if main_module is not None:  # the launch source's own variables
        for name in [k for k in vars(main_module) if not k.startswith("__")]:
            del main_module.__dict__[name]
    sys.argv[:] = ["-c"]


def _prepare_parent():
    _block_signals()
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
    _child.premake_stdio()
    worker = Worker(config, fd_in=0, fd_out=fd_out)
    os.dup2(devnull, 1)
    # The cyclic collector then never walks the worker's start-up objects: each walk writes to
    # every one, and after a fork each page written costs the worker a fault (and a child a copy).
    gc.freeze()
    try:
        worker.serve()
    finally:
        reap_descendants()
        if worker.ipc_cleanup:
            _remove_ipc()
        _wipe(config["scratch"])
