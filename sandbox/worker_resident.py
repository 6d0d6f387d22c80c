"""Resident isolation: a warm child per (module, function, limits) that outlives its request.

Part of the worker (embedded in the sandbox; standard library only). For hidden functions
only: the harness asks for it when it queries a reference, never for a candidate (the pool
refuses it on the candidate side). A resident child runs like a batch child (each invocation
in a fresh module namespace, with the process-wide state restored, under its own timer and
CPU allowance), but it stays between requests, so an episode's queries cost an ``exec`` of
the module and the call instead of a fork each. It reads each invocation from the parent as
a frame, and numbers its frames across requests, so a frame left by an earlier one fails.

A child is replaced after a kill, a crash, anything left behind (a thread, a process), a
malformed frame, ``RESIDENT_CALLS`` invocations, or when its memory grew by more than
``RESIDENT_GROWTH_MB`` since it started; an invocation that died, or raised MemoryError, after
earlier ones in the same child runs again on a fresh child, whose result stands. Between requests the worker cleans up as after any
call (scratch files, IPC objects, processes), sparing only the idle resident children.
"""

import collections
import contextlib
import json
import os
import resource
import select
import sys
from typing import Any

_wire: Any = sys.modules.get("_codearc_wire")
if _wire is None:  # imported inside the harness (tests, launch_source); never in a sandbox
    import importlib

    _wire = importlib.import_module("codearc_env.sandbox.wire")

_batch = _wire.sibling("worker_batch")
_child = _wire.sibling("worker_child")  # now: the worker hides its modules before any call
_read_all = _wire.sibling("worker_cleanup")._read_all
HEADER, frame, read_ahead, write_all = _wire.HEADER, _wire.frame, _wire.read_ahead, _wire.write_all
done_frame = _wire.done_frame
_enter_child, _run_invocation, _restore_python_state, _reset_stdio, _allow_cpu = (
    _batch._enter_child,
    _batch._run_invocation,
    _batch._restore_python_state,
    _batch._reset_stdio,
    _batch._allow_cpu,
)
_RES_FD, _CTL_FD, _OUT_FD = _batch._RES_FD, _batch._CTL_FD, _batch._OUT_FD
_guarded, RENDER_GUARD_S = _batch._guarded, _batch.RENDER_GUARD_S

RESIDENT_CHILDREN = 16
"""Resident children one worker keeps, least recently used first out. A pool routes a problem
to one reference sandbox, so this is how many problems' queries a sandbox serves warm."""

RESIDENT_CALLS = 1000
"""Invocations one resident child runs before a fresh one replaces it (its hard CPU limit
covers this many)."""

RESIDENT_GROWTH_MB = 16
"""A resident child whose resident memory grew by more than this since it started, after its
last invocation's namespace is freed and its heap trimmed, retires: an idle child keeps what
that invocation left in its heap, and a capped sandbox counts it."""

MEMORY_FAILURES = frozenset({"MemoryError", "MemoryLimitExceeded"})


def resident_key(source_digest, function, limits):
    """What a resident child is for: the module (by its digest), the function and the limits it
    was set up with (a flat dict of numbers and None, as the harness sends it)."""
    return (source_digest, function, tuple(sorted(limits.items())))


def _rss_bytes():
    try:
        return int(_read_all("/proc/self/statm").split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def _peak_rss_bytes():
    """The most this process has held resident (ru_maxrss counts the current size too), so
    never less than _rss_bytes(): one system call where /proc takes three."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _malloc_trim():
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except Exception:  # not glibc: nothing to trim
        pass


def _frame_reader(fd):
    """A reader of the parent's frames on ``fd``: their bytes, or None at the end (it reads
    ahead, so a frame's header and body take one read)."""
    ahead = [b""]

    def read(n):
        got = read_ahead(fd, ahead[0], n)
        if got is None:
            return None
        head, ahead[0] = got
        return head

    def read_frame():
        header = read(HEADER.size)
        return None if header is None else read(HEADER.unpack(header)[0])

    return read_frame


def short_of_memory(result):
    """Whether a call's result may come from memory others held (then it is run again)."""
    if result.get("error_type") in MEMORY_FAILURES:
        return True
    return result.get("error_message") == "killed by signal SIGKILL"  # the OOM killer


def _imports_loaded(code):
    """Whether every module the code (functions and class bodies included) imports by name is
    loaded already: importing it again then only looks it up. Asked by the worker before it
    forks the child (``dis`` then stays one shared copy, not one per child)."""
    import dis

    stack, package = [code], None
    while stack:
        co = stack.pop()
        stack.extend(c for c in co.co_consts if isinstance(c, type(code)))
        for ins in dis.get_instructions(co):
            if ins.opname == "IMPORT_NAME":
                package = ins.argval
                if package not in sys.modules:
                    return False
            elif ins.opname == "IMPORT_FROM":  # from package import name: maybe a submodule
                module = sys.modules.get(package or "")
                loaded = vars(module) if module is not None else {}
                if f"{package}.{ins.argval}" not in sys.modules and ins.argval not in loaded:
                    return False
    return True


def _names_numpy(code):
    """Whether the code (functions and class bodies included) names numpy anywhere: as a name
    it uses or imports, or inside a string constant, alone or in a tuple or frozenset of them
    (``__import__("numpy")``, ``("numpy", "math")``).

    A resident child restores numpy's global random state before every invocation only for
    such a module (the restore costs about 50 microseconds, paid by every process forked after
    any module loaded numpy into the worker). That rests on what hidden functions are: the
    benchmark's own code, which reaches numpy by importing it, and no third-party library
    that draws from numpy's state on its behalf is installed in the sandbox."""
    stack = [code]
    while stack:
        item = stack.pop()
        if isinstance(item, type(code)):
            if any("numpy" in name for name in item.co_names):
                return True
            stack.extend(item.co_consts)
        elif isinstance(item, str):
            if "numpy" in item:
                return True
        elif isinstance(item, (tuple, frozenset)):
            stack.extend(item)
    return False


REHEARSAL_S = 0.2
"""Time the rehearsal may take (a module slower to run is cut short). A query sent meanwhile
waits for it, inside the slack of the worker's deadline beyond the call's own limits."""


def _rehearse(ctx, prepare, code, limits):
    """Run the invocation machinery once, before the first query, on the module with a
    constant for a call, its output thrown away and nothing sent.

    After the fork this process shares the worker's pages until it writes to them, and a
    first invocation writes to many (decoding, the module's code, the timers, encoding the
    value): about a millisecond of copying, which a warm-up pays here instead of the first
    query. The module runs as before every invocation (each one executes it afresh), so the
    first query meets the process-wide state a later one would."""
    job = prepare(code, "", {"expression": "None"}, dict(limits, timeout_s=REHEARSAL_S))
    if "error_type" in job:
        return
    try:
        sink = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no descriptor to spare (open_files): no rehearsal
        return
    try:
        saved = os.dup(_OUT_FD)
    except OSError:
        os.close(sink)
        return
    _allow_cpu(ctx)  # as an invocation's
    try:
        os.dup2(sink, _OUT_FD)
        _reset_stdio(ctx["out"], ctx["stdin"])
        ns: dict[str, Any] = {}
        result = _child._child_call(job, ns)
        if os.getpid() != ctx["pid"]:
            os._exit(0)  # a process the module forked returned here
        with contextlib.suppress(BaseException):
            ctx["out"].flush()
        frame(result)
        _guarded(ns.clear, REHEARSAL_S, None, None)
    finally:
        os.dup2(saved, _OUT_FD)
        os.close(saved)
        os.close(sink)
    _restore_python_state(ctx["state"])


def _resident_child_main(prepare, code, function, limits, scratch, fds, nproc, traits):
    """A resident child: runs each invocation the parent sends, until it is told to stop (the
    parent closes its end) or must not go on. Never returns.

    ``traits``: what the worker found in the module before the fork (``rehearse``: every
    module it imports is loaded; ``numpy``: it names numpy)."""
    try:
        _child._TRUSTED = True  # this process runs the hidden function only
        w_res, w_out, ctl = fds
        ctx = _enter_child(w_res, w_out, ctl, limits, nproc, RESIDENT_CALLS)
        if not traits["numpy"]:  # the hidden function cannot reach numpy's random state
            ctx["state"].pop("numpy.random", None)
        ceiling = _rss_bytes() + RESIDENT_GROWTH_MB * 1024 * 1024  # what a call may add
        if traits["rehearse"]:  # not when cut short inside an import it would leave a package half done
            _rehearse(ctx, prepare, code, limits)
        read_frame = _frame_reader(_CTL_FD)

        def retire(ns):
            if _peak_rss_bytes() <= ceiling or _rss_bytes() <= ceiling:
                return False
            # Free the namespace and give the heap's free pages back (glibc keeps them after
            # a large free), then decide on what the child really keeps.
            _guarded(ns.clear, RENDER_GUARD_S, None, None)
            _malloc_trim()
            return _rss_bytes() > ceiling

        index = 0
        while index < RESIDENT_CALLS:
            body = read_frame()
            if body is None:
                break  # the parent is done with us
            _restore_python_state(ctx["state"])  # decoding must not see an earlier call's state
            job = prepare(code, function, json.loads(body), limits)
            if "error_type" in job:  # its arguments could not be decoded
                write_all(_RES_FD, frame(dict(job, i=index)))
            else:
                _run_invocation(ctx, job, index, scratch, retire, restored=True)
            index += 1
    except BaseException:
        pass
    os._exit(0)


BatchRunner: Any = _batch.BatchRunner


class ResidentRunner(BatchRunner):
    """The worker's resident mode, on the batch mode's paced children (a mixin of Worker,
    which provides what BatchRunner lists)."""

    residents: "collections.OrderedDict[tuple[Any, ...], dict[str, Any]]"
    resident_pid_set: Any
    busy: Any
    unusable: Any
    broken: Any
    fd_out: int

    def run_resident(self, rid, key, code, function, invocations, limits):
        if not invocations:  # a warm-up: the child starts now, ready for the next request
            self.resident_child(key, code, function, limits)
        last = b""
        for i, inv in enumerate(invocations):
            go = frame(inv)
            for _attempt in range(2):
                child = self.resident_child(key, code, function, limits)
                served = child["served"]
                self.busy = child["pid"]
                try:
                    result, healthy, died = self.collect(child, limits, served, True, go)
                finally:
                    self.busy = None
                # Out of memory: what earlier invocations left in this child's address space
                # (its limit is set once) or other resident children's memory may be the
                # cause, so a fresh child decides, with the idle ones gone.
                cramped = short_of_memory(result) and (served or len(self.residents) > 1)
                if not healthy or cramped or child["served"] >= RESIDENT_CALLS:
                    self.drop_resident(key)
                    self.reap()  # what the ended child started dies with it
                if cramped:
                    self.drop_all_residents()
                # A child that died without a byte after serving earlier invocations may
                # have been ended by what those left behind: a fresh child runs this one
                # (not after its own CPU limit: that would only spend it again).
                spent = result.get("error_message") == "killed by signal SIGXCPU"
                again = cramped or (died and served and not spent)
                if not again or self.input_closed:
                    break
            if self.input_closed:
                return
            reply = {"op": "result", "id": rid, "i": i, "r": result}
            if i + 1 < len(invocations):
                self.send(reply)
            else:
                last = frame(reply)
        # The last result and "done" go out in one write, before the clean-up: the harness
        # wakes once for them, and the clean-up runs while it goes on. It still ends before
        # the next request is read; a sandbox it leaves unusable answers that request
        # "broken" (see Worker.serve), and this request's results stand.
        write_all(self.fd_out, last + done_frame(rid))
        self.clean_up()
        self.unusable, self.broken = self.broken, None

    def resident_child(self, key, code, function, limits):
        """The live resident child for key, started (and the oldest one ended) when needed."""
        child = self.residents.get(key)
        if child is not None and _has_exited(child):
            self.drop_resident(key)
            child = None
        if child is not None:
            self.residents.move_to_end(key)
            return child
        while len(self.residents) >= RESIDENT_CHILDREN:
            self.drop_resident(next(iter(self.residents)))
        traits = {"rehearse": _imports_loaded(code), "numpy": _names_numpy(code)}
        child = self.fork_paced_child(
            limits,
            lambda fds, nproc: _resident_child_main(
                self.prepare, code, function, limits, self.scratch, fds, nproc, traits
            ),
        )
        self.residents[key] = child
        self.resident_pid_set = None
        return child

    def drop_resident(self, key):
        child = self.residents.pop(key, None)
        self.resident_pid_set = None
        if child is not None:
            self.end_batch_child(child)

    def drop_all_residents(self):
        for key in list(self.residents):
            self.drop_resident(key)

    def resident_pids(self):
        pids = self.resident_pid_set
        if pids is None:  # made again only after a child came or went (this runs per request)
            pids = self.resident_pid_set = frozenset(c["pid"] for c in self.residents.values())
        return pids

    def idle_resident_pids(self):
        return self.resident_pids() - {self.busy}


def _has_exited(child):
    """Whether a resident child ended while idle (a kill from elsewhere, the memory watchdog)."""
    if child["pidfd"] is not None:
        return bool(select.select([child["pidfd"]], [], [], 0)[0])
    try:
        pid, _ = os.waitpid(child["pid"], os.WNOHANG)
    except ChildProcessError:
        pid = child["pid"]
    if pid == 0:
        return False
    child["reaped"] = True
    return True
