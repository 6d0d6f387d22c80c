"""Batch isolation: one forked child runs many invocations, each in a fresh namespace.

Part of the worker (embedded in the sandbox; standard library only). The parent side is a
mixin of :class:`worker.Worker`, which provides ``read_child``, ``scratch``, ``nproc`` and
``send``; the child side restores the process-wide state an invocation may change.
"""

import _thread
import builtins
import contextlib
import math
import operator
import os
import resource
import select
import signal
import sys
import time
from typing import Any

_wire: Any = sys.modules.get("_codearc_wire")
if _wire is None:  # imported inside the harness (tests, launch_source); never in a sandbox
    import importlib

    _wire = importlib.import_module("codearc_env.sandbox.wire")

_child = _wire.sibling("worker_child")
_cleanup = _wire.sibling("worker_cleanup")
_results = _wire.sibling("worker_results")
HEADER, BUDGET_SPENT, frame, write_all = (
    _wire.HEADER,
    _wire.BUDGET_SPENT,
    _wire.frame,
    _wire.write_all,
)
RENDER_GUARD_S, _child_call, _set_limits, _vm_bytes = (
    _child.RENDER_GUARD_S,
    _child._child_call,
    _child._set_limits,
    _child._vm_bytes,
)
_guarded, _prctl, _reset_signals, _expendable = (
    _child._guarded,
    _child._prctl,
    _child._reset_signals,
    _child._expendable,
)
_kill_group = _cleanup._kill_group
_pidfd, _await_exit, _hard_deadline, _outcome = (
    _results._pidfd,
    _results._await_exit,
    _results._hard_deadline,
    _results._outcome,
)
STDOUT_CAP_DEFAULT = _results.STDOUT_CAP_DEFAULT

NPROC_ROOM = 8 + 17
"""RLIMIT_NPROC counts every process of the sandbox's user: room for the worker's own (8) and
its resident children (16, and the one being replaced), so how many problems are warm never
changes how many processes a call may start."""

# Descriptors of a batch child: 0-2 stdio, then these (kept so stdio can be restored).
_RES_FD, _CTL_FD, _OUT_FD, _NULL_FD = 3, 4, 5, 6


def _python_state():
    """What an invocation may change in the process and the next one must not see (cheap)."""
    state = {
        "builtins": dict(builtins.__dict__),
        "builtin_items": (tuple(builtins.__dict__), tuple(builtins.__dict__.values())),
        "environ": dict(os.environ),
        "environ_data": dict(getattr(os.environ, "_data", {})),
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
    keys, values = state["builtin_items"]
    # Identity of every key and value in order, compared in C (no call's __eq__ runs); a
    # reordered dict is restored too, which is harmless.
    if not (
        len(current) == len(keys)
        and all(map(operator.is_, current, keys))
        and all(map(operator.is_, current.values(), values))
    ):
        current.clear()
        current.update(state["builtins"])
    env = os.environ
    same_env = type(env) is os._Environ and getattr(env, "_data", None) == state["environ_data"]
    if not same_env and env != state["environ"]:
        env.clear()
        env.update(state["environ"])
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


def _left_behind():
    """Whether the invocation left a thread or a process (this child is their subreaper).

    Threads are those Python started (``_thread._count``, no system call: listing
    /proc/self/task cost more than many invocations do)."""
    if _thread._count() > 0:
        return True
    try:
        os.waitpid(-1, os.WNOHANG)  # a child, running or just exited: either way a stray
        return True
    except ChildProcessError:
        return False


def _cpu_used():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _enter_child(w_res, w_out, ctl, limits, nproc, calls):
    """Ready a forked child that runs invocations one after another, on the parent's word.

    Its descriptors become the fixed ones above, its limits are set, and its hard CPU limit
    covers ``calls`` invocations (each gets cpu_s more as its soft limit). Returns the
    per-invocation context :func:`_run_invocation` takes.
    """
    os.setpgid(0, 0)
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the worker
    _prctl(4, 1)  # dumpable again: the call may inspect itself, just not the worker
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: what an invocation orphans stays ours to see
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
    hard = math.ceil(_cpu_used()) + calls * (cpu_s + 1) + 1
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    _set_limits(dict(limits, cpu_s=hard), nproc, _vm_bytes())
    if not _child._STDIO:  # made here, then on the descriptors the invocations get
        os.dup2(_NULL_FD, 0)
        os.dup2(_OUT_FD, 1)
    out, stdin = _child._stdio()
    return {
        "out": out,
        "stdin": stdin,
        "state": _python_state(),
        "cpu_s": cpu_s,
        "hard": hard,
        "pid": os.getpid(),
    }


def _allow_cpu(ctx):
    """An invocation's CPU allowance: ``cpu_s`` more than used so far, within the hard limit.

    Set again in every batch child (a candidate may have raised its own); a resident child
    runs the hidden function only, so there it is skipped while it stays the same."""
    soft = min(math.ceil(_cpu_used()) + ctx["cpu_s"], ctx["hard"])
    if soft != ctx.get("soft") or not _child._TRUSTED:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_CPU, (soft, ctx["hard"]))
            ctx["soft"] = soft


def _run_invocation(ctx, job, index, scratch, retire=None, restored=False):
    """Run one invocation in a fresh namespace and send its frame, bound to ``index``.

    ``restored``: the process-wide state was restored since the last invocation. Returns
    False when this child must not run another: the invocation left a thread or a
    process (they could write the next frame), or ``retire()`` says so. The frame then says
    ``"last": true``, and the child exits after sending it.
    """
    _reset_stdio(ctx["out"], ctx["stdin"])
    os.chdir(scratch)
    if not restored:  # a resident child restores before it decodes the arguments
        _restore_python_state(ctx["state"])
    _allow_cpu(ctx)
    ns: dict[str, Any] = {}
    result = _child_call(job, ns)
    if os.getpid() != ctx["pid"]:
        os._exit(0)  # a process the call forked returned here: it is not the batch
    with contextlib.suppress(BaseException):
        ctx["out"].flush()
    result["i"] = index  # bound to its invocation: a frame left by an earlier one fails
    last = _left_behind() or (retire is not None and retire(ns))
    if last:
        result["last"] = True
    write_all(_RES_FD, frame(result))
    if last:
        os._exit(0)
    # Break the namespace's cycles (functions refer to it) so its memory goes now.
    _guarded(ns.clear, RENDER_GUARD_S, None, None)
    return True


def _batch_child_main(items, start, w_res, w_out, ctl, limits, nproc, scratch):
    """A batch child: runs items[start:] one at a time, each when the parent says go. Never returns.

    Each invocation executes the module in a fresh namespace, under its own SIGALRM timer and
    CPU-time allowance, and sends one result frame; stdout is flushed before the frame, and
    the parent reads it before it lets the next invocation start, so stdout stays per call.
    """
    try:
        todo = sum(1 for item in items[start:] if "error_type" not in item)
        ctx = _enter_child(w_res, w_out, ctl, limits, nproc, todo)
        for index, job in enumerate(items[start:], start):
            if "error_type" in job:
                continue  # the parent reported it without a child
            if os.read(_CTL_FD, 1) != b"g":
                break  # the parent is done with us
            _run_invocation(ctx, job, index, scratch)
    except BaseException:
        pass
    os._exit(0)


class BatchRunner:
    """The worker's batch mode (a mixin of Worker, which provides these)."""

    scratch: str
    nproc: bool
    input_closed: bool
    broken: Any
    send: Any
    prepare: Any
    clean_up: Any
    read_child: Any
    reap: Any

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
                        result, healthy, died = self.collect(child, limits, i, i + 1 < len(items))
                        if not healthy:
                            self.end_batch_child(child)
                            self.reap()  # what the dead child started dies with it
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
        return self.fork_paced_child(
            limits,
            lambda fds, nproc: _batch_child_main(
                items, start, fds[0], fds[1], fds[2], limits, nproc, self.scratch
            ),
        )

    def fork_paced_child(self, limits, body):
        """Fork a child that runs invocations when told to: ``body((w_res, w_out, ctl), nproc)``
        runs in it and never returns."""
        import socket  # only paced children need it: MSG_NOSIGNAL, so a dead one cannot SIGPIPE us

        r_res, w_res = os.pipe()
        r_out, w_out = os.pipe()
        ctl_parent, ctl_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        nproc = int(limits.get("processes", 64)) + NPROC_ROOM if self.nproc else None
        pid = os.fork()
        if pid == 0:
            os.close(r_res)
            os.close(r_out)
            body((w_res, w_out, ctl_child.fileno()), nproc)
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

    def collect(self, child, limits, index, more, go=b"g"):
        """Let the child run its next invocation (``go``: what tells it to), numbered ``index``;
        ``more``: whether it may run another after this one.

        Returns (result, whether the child can go on, whether it died without a byte of result).
        """
        import socket

        cap = int(limits["output_chars"])
        stdout_cap = int(limits.get("stdout_chars", STDOUT_CAP_DEFAULT))
        start = time.monotonic()
        with contextlib.suppress(OSError):  # dead already: its pipes report it below
            child["ctl"].sendall(go, socket.MSG_NOSIGNAL)
        hard_deadline = _hard_deadline(start, limits)
        got = self.read_child(child["res"], child["out"], child["pidfd"], hard_deadline, limits)
        healthy = got.complete() and not (got.overflow or got.dead or self.input_closed)
        if healthy and len(got.res_buf) > HEADER.size + (got.expected or 0):
            healthy = False  # more than one frame: the call wrote to the channel itself
        if healthy and more and select.select([child["res"]], [], [], 0)[0]:
            healthy = False
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
        if result.pop("last", False):
            healthy = False  # it left a thread or process behind, or retired, and has exited
        if result.get("error_type") == "MalformedResult":
            healthy = False  # whatever else the call wrote may still be on its way
        if status_box:  # already reaped: end_batch_child must not wait for it again
            child["reaped"] = True
        child["served"] += 1
        died = got.dead and not got.res_buf and not got.timed_out
        return result, healthy, died
