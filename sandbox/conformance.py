"""The conformance suite: named checks that every sandbox backend must pass.

Each check takes a started :class:`Sandbox` and returns ``(passed, detail)``. After every check
the runner makes one plain call, so a check that leaves the sandbox broken fails. Backends
that are not security boundaries list the checks they are known to fail in
:data:`KNOWN_FAILURES`; those are reported apart, and the ones that would touch the host
(writing into its directories, a fork bomb without a pids limit) are never run there.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codearc_env.sandbox.base import (
    ISOLATION_MODES,
    CallResult,
    Invocation,
    Isolation,
    Limits,
    Sandbox,
)

CHECK_LIMITS = Limits(timeout_s=1.0, cpu_s=2, memory_mb=256, file_size_mb=4, open_files=32)
"""Tight limits so the suite runs in seconds."""
SLACK_S = 4.0
"""How much longer than its timeout a killed call may take to come back."""

CheckFn = Callable[[Sandbox], "tuple[bool, str]"]

_PACED: tuple[Isolation, ...] = ("batch", "resident")
"""The modes where one process runs invocations one after another."""


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    fn: CheckFn
    touches_host_without_isolation: bool = False
    """Never run on a backend that is not a security boundary (it could harm the host)."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    known_failure: bool = False
    """Listed in KNOWN_FAILURES for this backend: a failure here is expected."""
    ran: bool = True
    duration_s: float = 0.0

    @property
    def status(self) -> str:
        if not self.ran:
            return "known failure (not run)"
        if self.known_failure:
            return "known failure" if not self.passed else "PASS (listed as known failure)"
        return "pass" if self.passed else "FAIL"

    @property
    def acceptable(self) -> bool:
        return self.passed or self.known_failure


def _call(
    box: Sandbox, source: str, *args: object, function: str = "f", **limits: float
) -> CallResult:
    lim = Limits(**{**CHECK_LIMITS.__dict__, **limits}) if limits else CHECK_LIMITS
    return box.run_one(source, function, Invocation(args=tuple(args)), lim)


def _show(r: CallResult) -> str:
    if r.infra_error:
        return f"infra error: {r.infra_error}"
    if r.timed_out:
        return f"timed out after {r.duration_s:.2f}s"
    if r.raised:
        return f"{r.error_type}: {r.error_message[:120]}"
    return f"returned {r.value_str[:120]!r}"


# ----------------------------------------------------------------------------- checks


def check_plain_values(box: Sandbox) -> tuple[bool, str]:
    r = _call(box, "def f(x):\n    return [x, True, (1, 2.5), float('nan'), {3}, {'k': None}]\n", 7)
    want = "[7, True, (1, 2.5), nan, {3}, {'k': None}]"
    tags = [item["t"] for item in (r.value or {}).get("v", [])]
    ok = r.ok and r.value_str == want and tags == ["int", "bool", "tuple", "float", "set", "dict"]
    return ok, _show(r) + f" tags={tags}"


def check_error_without_traceback(box: Sandbox) -> tuple[bool, str]:
    source = "SECRET_TOKEN = 1\ndef f(x):\n    raise ValueError('bad %d' % x)  # SECRET_TOKEN\n"
    r = _call(box, source, 3)
    ok = r.error_type == "ValueError" and r.error_message == "bad 3"
    return ok and "SECRET_TOKEN" not in r.error_message + r.stdout, _show(r)


def check_source_not_inspectable(box: Sandbox) -> tuple[bool, str]:
    source = "def f():\n    import inspect\n    return inspect.getsource(f)  # SECRET\n"
    r = _call(box, source)
    return "SECRET" not in r.value_str + r.error_message, _show(r)


def check_timeout(box: Sandbox) -> tuple[bool, str]:
    r = _call(box, "def f():\n    while True:\n        pass\n")
    return r.timed_out and r.duration_s < 1.0 + SLACK_S, _show(r)


def check_timeout_kills_descendants(box: Sandbox) -> tuple[bool, str]:
    spawn = (
        "import os, sys, time\n"
        "def f():\n"
        "    pids = []\n"
        "    for escape in (False, True):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            if escape:\n"
        "                os.setsid()\n"
        "                if os.fork():\n"
        "                    os._exit(0)\n"
        "            print(os.getpid(), flush=True)\n"
        "            time.sleep(600)\n"
        "            os._exit(0)\n"
        "    time.sleep(0.3)\n"
        "    while True:\n"
        "        pass\n"
    )
    r = _call(box, spawn)
    pids = [int(p) for p in r.stdout.split() if p.isdigit()]
    if not r.timed_out or len(pids) != 2:
        return False, f"setup: {_show(r)} stdout={r.stdout!r}"
    probe = (
        "import os\n"
        "def f(pids):\n"
        "    alive = []\n"
        "    for p in pids:\n"
        "        try:\n"
        "            with open('/proc/%d/stat' % p) as fh:\n"
        "                if fh.read().split(') ')[1][0] != 'Z':\n"
        "                    alive.append(p)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return alive\n"
    )
    r2 = _call(box, probe, pids)
    return r2.ok and r2.value_str == "[]", f"descendants {pids}: still alive {_show(r2)}"


def check_memory_bomb(box: Sandbox) -> tuple[bool, str]:
    results = [
        _call(box, "def f():\n    return len(bytearray(4 * 1024 ** 3))\n"),
        _call(box, "def f():\n    x = []\n    while True:\n        x.append(' ' * 10 ** 7)\n"),
    ]
    ok = all(not r.ok and r.infra_error is None for r in results)
    return ok, "; ".join(_show(r) for r in results)


def check_fork_bomb(box: Sandbox) -> tuple[bool, str]:
    bomb = (
        "import os\n"
        "def f():\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            pass\n"
    )
    r = _call(box, bomb)
    count = "import os\ndef f():\n    return sum(p.isdigit() for p in os.listdir('/proc'))\n"
    r2 = _call(box, count)
    # Inside a pid namespace only init, the worker and this call's process should remain.
    ok = not r.ok and r.infra_error is None and r2.ok and int(r2.value_str) <= 8
    return ok, f"bomb: {_show(r)}; processes visible after: {_show(r2)}"


def check_huge_stdout(box: Sandbox) -> tuple[bool, str]:
    r = _call(box, "def f():\n    print('x' * 10 ** 7)\n    return 1\n")
    ok = r.ok and r.stdout_truncated and len(r.stdout) <= CHECK_LIMITS.stdout_chars
    return ok, f"{_show(r)} stdout={len(r.stdout)} chars truncated={r.stdout_truncated}"


def check_huge_return(box: Sandbox) -> tuple[bool, str]:
    cap = CHECK_LIMITS.output_chars
    # Encoding a million-item list takes about a second of CPU: room for it, since this check
    # is about the cap, not speed.
    rs = [
        _call(box, "def f():\n    return 'x' * 10 ** 7\n", timeout_s=6.0, cpu_s=6),
        _call(box, "def f():\n    return list(range(10 ** 6))\n", timeout_s=6.0, cpu_s=6),
    ]
    ok = all(r.ok and r.truncated and len(r.value_str) <= cap for r in rs)
    ok = ok and all(r.value and r.value.get("t") == "opaque" for r in rs)
    return ok, "; ".join(f"truncated={r.truncated} str={len(r.value_str)}" for r in rs)


def check_no_network(box: Sandbox) -> tuple[bool, str]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(5)
    port = server.getsockname()[1]
    accepted: list[bool] = []

    def accept() -> None:
        try:
            conn, _ = server.accept()
            accepted.append(True)
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    probe = (
        "import socket\n"
        "def f(port):\n"
        "    reached = []\n"
        "    for host, p in (('127.0.0.1', port), ('1.1.1.1', 53), ('8.8.8.8', 53)):\n"
        "        try:\n"
        "            socket.create_connection((host, p), timeout=0.5).close()\n"
        "            reached.append(host)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return reached\n"
    )
    try:
        r = _call(box, probe, port, timeout_s=3.0)
    finally:
        server.close()
        thread.join(1)
    ok = r.ok and r.value_str == "[]" and not accepted
    return ok, f"{_show(r)} harness listener reached={bool(accepted)}"


def check_harness_invisible(box: Sandbox) -> tuple[bool, str]:
    pid = os.getpid()
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        cmdline = fh.read().decode("utf-8", "replace")
    probe = (
        "def f(pid):\n"
        "    try:\n"
        "        with open('/proc/%d/cmdline' % pid, 'rb') as fh:\n"
        "            return fh.read().decode('utf-8', 'replace')\n"
        "    except OSError:\n"
        "        return None\n"
    )
    r = _call(box, probe, pid)
    ok = r.ok and r.value != {"t": "str", "v": cmdline}
    return ok, f"harness pid {pid} seen as {r.value_str[:60]!r}"


def check_worker_channel_unreachable(box: Sandbox) -> tuple[bool, str]:
    probe = (
        "import os\n"
        "def f():\n"
        "    opened = []\n"
        "    base = '/proc/%d/fd' % os.getppid()\n"
        "    try:\n"
        "        fds = os.listdir(base)\n"
        "    except OSError:\n"
        "        fds = [str(n) for n in range(16)]\n"
        "    for fd in fds:\n"
        "        try:\n"
        "            os.close(os.open(os.path.join(base, fd), os.O_RDONLY | os.O_NONBLOCK))\n"
        "            opened.append(int(fd))\n"
        "        except OSError:\n"
        "            pass\n"
        "    return opened\n"
    )
    r = _call(box, probe)
    return r.ok and r.value_str == "[]", f"worker descriptors opened: {_show(r)}"


def check_no_writes_outside_scratch(box: Sandbox) -> tuple[bool, str]:
    token = secrets.token_hex(4)
    probe = (
        "import os\n"
        "def f(token):\n"
        "    wrote = []\n"
        "    for d in ('/', '/etc', '/usr', '/usr/lib', '/var', '/var/tmp', '/root', '/home',\n"
        "              '/opt', '/srv', '/run', '/dev', '/dev/shm', '/bin', os.path.expanduser('~')):\n"
        "        path = os.path.join(d, '.codearc-probe-' + token)\n"
        "        if os.path.abspath(d).startswith(os.getcwd()):\n"
        "            continue\n"
        "        try:\n"
        "            with open(path, 'w') as fh:\n"
        "                fh.write('x')\n"
        "            wrote.append(d)\n"
        "            os.unlink(path)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return wrote\n"
    )
    r = _call(box, probe, token)
    return r.ok and r.value_str == "[]", _show(r)


def check_no_state_between_calls(box: Sandbox) -> tuple[bool, str]:
    source = (
        "import builtins, math, os, sys\n"
        "def f(phase):\n"
        "    if phase == 'set':\n"
        "        open('left-behind.txt', 'w').write('x')\n"
        "        builtins.LEFT_BEHIND = 1\n"
        "        math.pi = 3\n"
        "        os.environ['LEFT_BEHIND'] = '1'\n"
        "        sys.setrecursionlimit(50)\n"
        "        return 'set'\n"
        "    found = []\n"
        "    if os.path.exists('left-behind.txt'):\n"
        "        found.append('cwd file')\n"
        "    if hasattr(builtins, 'LEFT_BEHIND'):\n"
        "        found.append('builtins')\n"
        "    if math.pi == 3:\n"
        "        found.append('module attribute')\n"
        "    if 'LEFT_BEHIND' in os.environ:\n"
        "        found.append('environment')\n"
        "    if sys.getrecursionlimit() == 50:\n"
        "        found.append('recursion limit')\n"
        "    return found\n"
    )
    both = box.run(
        source, "f", [Invocation(args=("set",)), Invocation(args=("get",))], CHECK_LIMITS
    )
    again = _call(box, source, "get")
    ok = both[0].ok and all(r.ok and r.value_str == "[]" for r in (both[1], again))
    return ok, f"same request: {_show(both[1])}; next request: {_show(again)}"


def check_tmp_wiped_between_calls(box: Sandbox) -> tuple[bool, str]:
    token = secrets.token_hex(4)
    source = (
        "import os\n"
        "def f(phase, token):\n"
        "    path = '/tmp/.codearc-left-behind-' + token\n"
        "    if phase == 'set':\n"
        "        open(path, 'w').write('x')\n"
        "        return 'set'\n"
        "    found = os.path.exists(path)\n"
        "    if found:\n"
        "        os.unlink(path)\n"
        "    return found\n"
    )
    calls = [Invocation(args=("set", token)), Invocation(args=("get", token))]
    rs = box.run(source, "f", calls, CHECK_LIMITS)
    return rs[0].ok and rs[1].ok and rs[1].value_str == "False", _show(rs[1])


def check_hostile_return_objects(box: Sandbox) -> tuple[bool, str]:
    source = (
        "class Liar:\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = object.__hash__\n"
        "class FakeInt(int):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = int.__hash__\n"
        "    def __repr__(self):\n"
        "        return '5'\n"
        "class BadRepr:\n"
        "    def __repr__(self):\n"
        "        raise RuntimeError('no')\n"
        "class HangRepr:\n"
        "    def __repr__(self):\n"
        "        while True:\n"
        "            pass\n"
        "class HangStr:\n"
        "    def __str__(self):\n"
        "        while True:\n"
        "            try:\n"
        "                pass\n"
        "            except BaseException:\n"
        "                pass\n"
        "class HangMessage(Exception):\n"
        "    def __str__(self):\n"
        "        while True:\n"
        "            pass\n"
        "def f(kind):\n"
        "    if kind == 'error':\n"
        "        raise HangMessage()\n"
        "    obj = {'liar': Liar(), 'int': FakeInt(5), 'bad': BadRepr(), 'hang': HangRepr(),\n"
        "           'str': HangStr()}[kind]\n"
        "    return [obj] if kind == 'liar' else obj\n"
    )
    kinds = ["liar", "int", "bad", "hang", "str", "error"]
    # A hanging __repr__ spins through both one-second render guards: 2 s of CPU, the whole
    # CPU limit of CHECK_LIMITS on an idle machine. Room for it, so the guards are what is tested.
    limits = Limits(**{**CHECK_LIMITS.__dict__, "cpu_s": 5})
    rs = box.run(source, "f", [Invocation(args=(k,)) for k in kinds], limits)
    problems = []
    for kind, r in zip(kinds, rs, strict=True):
        if r.infra_error or r.duration_s > 1.0 + SLACK_S:
            problems.append(f"{kind}: {_show(r)}")
        elif kind == "error":
            if r.error_type != "HangMessage":
                problems.append(f"{kind}: {_show(r)}")
        elif kind == "liar":
            inner = (r.value or {}).get("v", [{}])[0]
            if not r.ok or inner.get("t") != "opaque":
                problems.append(f"{kind}: {r.value}")
        elif kind == "str" and r.timed_out:
            continue  # a __str__ that swallows the guard is killed by the wall clock: fine
        elif kind == "int" and r.ok and (r.value or {}).get("type") == "__codearc__.FakeInt":
            continue  # an int subclass keeps its base's structure, its own type recorded
        elif not r.ok or (r.value or {}).get("t") != "opaque":
            problems.append(f"{kind}: {_show(r)} value={r.value}")
    return not problems, "; ".join(problems) or "all hostile objects stayed opaque"


def check_exits_handled(box: Sandbox) -> tuple[bool, str]:
    source = (
        "import os, signal, sys\n"
        "def f(kind):\n"
        "    if kind == 'sys.exit':\n"
        "        sys.exit(3)\n"
        "    if kind == 'os._exit':\n"
        "        os._exit(7)\n"
        "    if kind == 'BaseException':\n"
        "        raise BaseException('base')\n"
        "    if kind == 'KeyboardInterrupt':\n"
        "        raise KeyboardInterrupt\n"
        "    if kind == 'SIGKILL':\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    if kind == 'recursion':\n"
        "        return f(kind)\n"
        "    if kind == 'close stdout':\n"
        "        os.close(1)\n"
        "        os.close(2)\n"
        "        return 'closed'\n"
    )
    want = {
        "sys.exit": ("SystemExit", "3"),
        "os._exit": ("ProcessExit", "the process exited with status 7"),
        "BaseException": ("BaseException", "base"),
        "KeyboardInterrupt": ("KeyboardInterrupt", ""),
        "SIGKILL": ("ProcessKilled", "killed by signal SIGKILL"),
        "recursion": ("RecursionError", "maximum recursion depth exceeded"),
    }
    kinds = [*want, "close stdout"]
    rs = box.run(source, "f", [Invocation(args=(k,)) for k in kinds], CHECK_LIMITS)
    problems = [
        f"{k}: {_show(r)}"
        for k, r in zip(kinds, rs, strict=True)
        if k in want and (r.error_type, r.error_message) != want[k]
    ]
    if not (rs[-1].ok and rs[-1].value_str == "closed"):
        problems.append(f"close stdout: {_show(rs[-1])}")
    return not problems, "; ".join(problems) or "all handled"


def check_resource_limits(box: Sandbox) -> tuple[bool, str]:
    rs = [
        # file size: 8 MB > the 4 MB limit
        _call(box, "def f():\n    open('big', 'wb').write(b'x' * (8 << 20))\n    return 'wrote'\n"),
        # open files
        _call(box, "def f():\n    return [open('/dev/null') for _ in range(200)] and 'opened'\n"),
        # CPU time: busy in C code, which the SIGALRM guard cannot interrupt
        _call(box, "def f():\n    return len(str(7 ** 10 ** 7))\n", timeout_s=30.0),
    ]
    # The CPU-time limit, not the 30 s wall clock, must be what stopped the last one.
    ok = all(not r.ok and r.infra_error is None for r in rs)
    ok = ok and not rs[2].timed_out and rs[2].error_message == "killed by signal SIGXCPU"
    return ok, "; ".join(_show(r) for r in rs)


def check_worker_death_detected(box: Sandbox) -> tuple[bool, str]:
    kill_worker = (
        "import os, signal\n"
        "def f(kill):\n"
        "    if kill:\n"
        "        os.kill(os.getppid(), signal.SIGKILL)\n"
        "    return 1\n"
    )
    calls = [Invocation(args=(True,)), Invocation(args=(False,))]
    rs = box.run(kill_worker, "f", calls, CHECK_LIMITS)
    # Either the worker cannot be killed (PID 1 of its namespace), or the call that killed
    # it is graded (it kills a fresh worker too): never an infrastructure error. The rest
    # of the batch runs either way.
    survived = rs[0].ok and rs[0].value_str == "1"
    graded = rs[0].error_type == "SandboxKilled" and rs[0].infra_error is None
    ok = (survived or graded) and rs[1].ok and rs[1].value_str == "1"
    return ok, f"first: {_show(rs[0])}; second: {_show(rs[1])}"


_SIGNAL_WORKER = (
    "import os, signal, time\n"
    "def f(names):\n"
    "    sent = []\n"
    "    for name in names:\n"
    "        sig = signal.SIGRTMIN + 3 if name == 'SIGRTMIN+3' else getattr(signal, name)\n"
    "        try:\n"
    "            os.kill(os.getppid(), sig)\n"
    "            sent.append(name)\n"
    "        except OSError:\n"
    "            pass\n"
    "    time.sleep(0.3)\n"
    "    return len(sent)\n"
)
_SIGNALS = [
    *("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM"),
    *("SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGABRT"),
    *("SIGSEGV", "SIGBUS", "SIGTRAP", "SIGSYS", "SIGPWR", "SIGIO", "SIGRTMIN+3"),
]


def _same_worker(box: Sandbox, run: Callable[[], CallResult]) -> tuple[CallResult, bool]:
    """Run something and say whether the sandbox kept its worker (no restart in between)."""
    before = getattr(box, "restarts", 0)
    r = run()
    return r, getattr(box, "restarts", 0) == before


def check_worker_survives_signals(box: Sandbox) -> tuple[bool, str]:
    problems = []
    for name in [*_SIGNALS, "SIGSTOP", "SIGKILL"]:
        before = getattr(box, "restarts", 0)
        r = _call(box, _SIGNAL_WORKER, [name])
        kept = getattr(box, "restarts", 0) == before
        if not (r.ok and r.value_str == "1" and kept):
            problems.append(f"{name}: {_show(r)}" + ("" if kept else " (worker replaced)"))
    return not problems, "; ".join(problems) or f"{len(_SIGNALS) + 2} signals sent to the worker"


def check_worker_survives_kill_all(box: Sandbox) -> tuple[bool, str]:
    source = (
        "import os, signal\n"
        "def f():\n"
        "    try:\n"
        "        os.kill(-1, signal.SIGKILL)\n"  # every process the call may signal but itself
        "    except OSError:\n"
        "        pass\n"
        "    return 'sent'\n"
    )
    r, kept = _same_worker(box, lambda: _call(box, source))
    ok = r.ok and r.value_str == "sent"
    return ok and kept, _show(r) + ("" if kept else " (worker replaced)")


def check_deep_scratch_tree(box: Sandbox) -> tuple[bool, str]:
    source = (
        "import os\n"
        "def f(depth):\n"
        "    for _ in range(depth):\n"
        "        os.mkdir('d')\n"
        "        os.chdir('d')\n"
        "    open('leaf', 'w').write('x')\n"
        "    os.chmod('.', 0)\n"
        "    return depth\n"
    )
    # Deeper than shutil.rmtree's recursion allows (the default recursion limit is 1000).
    r, kept = _same_worker(box, lambda: _call(box, source, 1500, timeout_s=10.0))
    after = _call(box, "import os\ndef f():\n    return os.listdir('.')\n")
    ok = r.ok and kept and after.ok and after.value_str == "[]"
    return ok, f"{_show(r)}; next call sees {_show(after)}" + ("" if kept else " (worker replaced)")


def check_scratch_survives_chmod(box: Sandbox) -> tuple[bool, str]:
    source = (
        "import os\n"
        "def f(phase):\n"
        "    if phase == 'break':\n"
        "        os.makedirs('a/b')\n"
        "        os.chmod('a', 0)\n"
        "        try:\n"
        "            os.chmod(os.getcwd(), 0)\n"
        "        except OSError:\n"
        "            pass\n"
        "        return 'broken'\n"
        "    open('probe', 'w').write('x')\n"
        "    return sorted(os.listdir('.'))\n"
    )
    first = _call(box, source, "break")
    rs = [_call(box, source, "use") for _ in range(2)]
    ok = all(r.ok and r.value_str == "['probe']" for r in rs)
    return ok, f"after {_show(first)}: " + "; ".join(_show(r) for r in rs)


def check_memory_cap_per_sandbox(box: Sandbox) -> tuple[bool, str]:
    # Eight processes of 200 MB each: every one within its own address-space limit, together
    # far over what one sandbox may hold (one call's limit plus the worker's own).
    source = (
        "import os, time\n"
        "def f(n, mb):\n"
        "    pids = []\n"
        "    for _ in range(n):\n"
        "        pid = os.fork()\n"
        "        if pid == 0:\n"
        "            try:\n"
        "                block = bytearray(mb << 20)\n"
        "                for i in range(0, len(block), 4096):\n"
        "                    block[i] = 1\n"
        "                time.sleep(2)\n"
        "            finally:\n"
        "                os._exit(0)\n"
        "        pids.append(pid)\n"
        "    held = 0\n"
        "    for pid in pids:\n"
        "        held += os.waitpid(pid, 0)[1] == 0\n"
        "    return held\n"
    )
    r = _call(box, source, 8, 200, timeout_s=8.0, cpu_s=8)
    ok = r.infra_error is None and not (r.ok and r.value_str == "8")
    return ok, f"8 x 200 MB: {_show(r)}"


def check_no_ipc_between_calls(box: Sandbox) -> tuple[bool, str]:
    source = (
        "import ctypes, os\n"
        "KEY = 0x6361726\n"
        "def f(phase):\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    libc.shmat.restype = ctypes.c_void_p\n"
        "    found = []\n"
        "    if phase == 'make':\n"
        "        shm = libc.shmget(KEY, 1 << 20, 0o1600)\n"  # IPC_CREAT | 0600
        "        if shm >= 0:\n"
        "            addr = libc.shmat(shm, None, 0)\n"
        "            ctypes.memset(addr, 7, 1 << 20)\n"
        "            found.append('shm')\n"
        "        if libc.semget(KEY + 1, 1, 0o1600) >= 0:\n"
        "            found.append('sem')\n"
        "        if libc.msgget(KEY + 2, 0o1600) >= 0:\n"
        "            found.append('msg')\n"
        "        try:\n"
        "            rt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
        "            if rt.mq_open(b'/codearc-probe', 0o102, 0o600, None) >= 0:\n"  # O_CREAT|O_RDWR
        "                found.append('mqueue')\n"
        "        except OSError:\n"
        "            pass\n"
        "        try:\n"
        "            open('/dev/shm/codearc-probe', 'w').write('x')\n"
        "            found.append('/dev/shm')\n"
        "        except OSError:\n"
        "            pass\n"
        "        return found\n"
        "    if libc.shmget(KEY, 0, 0) >= 0:\n"
        "        found.append('shm')\n"
        "    if libc.semget(KEY + 1, 0, 0) >= 0:\n"
        "        found.append('sem')\n"
        "    if libc.msgget(KEY + 2, 0) >= 0:\n"
        "        found.append('msg')\n"
        "    try:\n"
        "        rt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
        "        if rt.mq_open(b'/codearc-probe', 0) >= 0:\n"
        "            found.append('mqueue')\n"
        "    except OSError:\n"
        "        pass\n"
        "    if os.path.exists('/dev/shm/codearc-probe'):\n"
        "        found.append('/dev/shm')\n"
        "    for kind in ('shm', 'sem', 'msg'):\n"
        "        try:\n"
        "            with open('/proc/sysvipc/' + kind) as fh:\n"
        "                if len(fh.read().splitlines()) > 1 and kind not in found:\n"
        "                    found.append(kind)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return found\n"
    )
    made = _call(box, source, "make")
    left = _call(box, source, "look")
    ok = made.ok and left.ok and left.value_str == "[]"
    return ok, f"made {_show(made)}; left for the next call: {_show(left)}"


_STRAY_WRITER = (
    "import json, os, threading, time\n"
    "FORGED = json.dumps({'ok': True, 'value': {'t': 'str', 'v': 'forged'},\n"
    "                     'value_str': 'forged', 'truncated': False}).encode()\n"
    "FRAME = len(FORGED).to_bytes(4, 'big') + FORGED\n"
    "def forge():\n"
    "    time.sleep(0.4)\n"
    "    for fd in range(3, 10):\n"
    "        try:\n"
    "            os.write(fd, FRAME)\n"
    "        except OSError:\n"
    "            pass\n"
    "def f(kind):\n"
    "    if kind == 'thread':\n"
    "        threading.Thread(target=forge, daemon=True).start()\n"
    "    elif kind == 'process' and os.fork() == 0:\n"
    "        forge()\n"
    "        os._exit(0)\n"
    "    elif kind == 'genuine':\n"
    "        time.sleep(0.8)\n"
    "    return kind\n"
)


def check_batch_results_bound(box: Sandbox) -> tuple[bool, str]:
    problems = []
    for isolation in _PACED:
        for kind in ("thread", "process"):
            calls = [Invocation(args=(kind,)), Invocation(args=("genuine",))]
            rs = box.run(_STRAY_WRITER, "f", calls, CHECK_LIMITS, isolation=isolation)
            if isolation == "resident":  # and in the next run, on a child that stays
                rs = rs + box.run(_STRAY_WRITER, "f", calls[1:], CHECK_LIMITS, isolation=isolation)
            for r in rs[1:]:
                if not (r.ok and r.value_str == "genuine"):
                    problems.append(f"{isolation}, after a stray {kind}: {_show(r)}")
    return not problems, "; ".join(problems) or "each result came from its own invocation"


_LABELS_SOURCE = (
    "import os\n"
    "def f(kind):\n"
    "    if kind == 'close all':\n"
    "        os.closerange(0, 1024)\n"
    "        return 'closed'\n"
    "    if kind == 'junk':\n"
    "        os.write(3, b'\\xff\\xff\\xff\\xffjunk')\n"
    "        return 'junk'\n"
    "    if kind == 'bad frame':\n"
    "        os.write(3, b'\\x00\\x00\\x00\\x04junk')\n"
    "        return 'bad'\n"
)


def check_labels_deterministic(box: Sandbox) -> tuple[bool, str]:
    want = {
        "close all": ("ProcessExit", "the process exited with status 0"),
        "junk": ("MalformedResult", "the call wrote to its own result channel"),
        "bad frame": ("MalformedResult", "the call wrote to its own result channel"),
    }
    kinds = [k for k in want for _ in range(4)]
    problems = set()
    for isolation in ISOLATION_MODES:
        invs = [Invocation(args=(k,)) for k in kinds]
        rs = box.run(_LABELS_SOURCE, "f", invs, CHECK_LIMITS, isolation=isolation)
        for k, r in zip(kinds, rs, strict=True):
            if (r.error_type, r.error_message) != want[k]:
                problems.add(f"{isolation} {k}: {_show(r)}")
    return not problems, "; ".join(sorted(problems)) or "every outcome labelled the same way"


def check_harness_hidden_from_call(box: Sandbox) -> tuple[bool, str]:
    source = (
        "import os, resource, signal, sys\n"
        "def f():\n"
        "    main = sys.modules.get('__main__')\n"
        "    limits = [resource.getrlimit(getattr(resource, name)) for name in\n"
        "              ('RLIMIT_NOFILE', 'RLIMIT_FSIZE', 'RLIMIT_NPROC', 'RLIMIT_MSGQUEUE')]\n"
        "    return {\n"
        "        'harness modules': sorted(m for m in sys.modules if 'codearc' in m.lower()\n"
        "                                  and not m.startswith('__editable__')),\n"
        "        'main globals': sorted(k for k in vars(main) if not k.startswith('__')),\n"
        "        'argv': sys.argv,\n"
        "        'modules': sorted(sys.modules),\n"
        "        'signals': [str(signal.getsignal(s)) for s in signal.valid_signals()\n"
        "                    if s not in (signal.SIGKILL, signal.SIGSTOP)],\n"
        "        'limits': limits,\n"
        "        'cwd': os.getcwd(),\n"
        "    }\n"
    )
    by_call = _call(box, source)
    others = {i: box.run(source, "f", [Invocation()], CHECK_LIMITS, isolation=i)[0] for i in _PACED}
    if not (by_call.ok and all(r.ok for r in others.values())):
        return False, f"call: {_show(by_call)}; " + "; ".join(
            f"{i}: {_show(r)}" for i, r in others.items()
        )
    seen = by_call.value_str
    leaks = [
        part
        for part in ("'harness modules': []", "'main globals': []", "'argv': ['-c']")
        if part not in seen
    ]
    for isolation, r in others.items():
        if by_call.value != r.value:
            leaks.append(f"a call in {isolation} mode sees something else than a call on its own")
    return not leaks, "; ".join(leaks) + f" {seen[:200]}" if leaks else "nothing of the harness"


def check_numpy(box: Sandbox) -> tuple[bool, str]:
    r = _call(box, "import numpy as np\ndef f():\n    return int(np.arange(5).sum())\n")
    return r.ok and r.value_str == "10", _show(r)


def check_big_int_text(box: Sandbox) -> tuple[bool, str]:
    r = _call(box, "def f():\n    return 10 ** 5000\n")
    return r.ok and r.value_str == "1" + "0" * 5000, _show(r)[:60]


_BATCH_SOURCE = (
    "import os, signal, sys\n"
    "def f(kind):\n"
    "    if kind == 'loop':\n"
    "        while True:\n"
    "            pass\n"
    "    if kind == 'stubborn':\n"  # swallows the in-process timer: only the parent stops it
    "        while True:\n"
    "            try:\n"
    "                while True:\n"
    "                    pass\n"
    "            except BaseException:\n"
    "                pass\n"
    "    if kind == 'os._exit':\n"
    "        os._exit(7)\n"
    "    if kind == 'SIGKILL':\n"
    "        os.kill(os.getpid(), signal.SIGKILL)\n"
    "    if kind == 'sys.exit':\n"
    "        sys.exit(3)\n"
    "    if kind == 'error':\n"
    "        raise ValueError('bad ' + kind)\n"
    "    if kind == 'memory':\n"
    "        x = []\n"
    "        while True:\n"
    "            x.append(' ' * 10 ** 7)\n"
    "    if kind == 'huge':\n"
    "        return 'x' * 10 ** 7\n"
    "    if kind == 'print':\n"
    "        print('printed', kind)\n"
    "        print('x' * 10 ** 6)\n"
    "    return [kind, {kind: (1, 2.5, None)}, float('nan')]\n"
)
_BATCH_KINDS = [
    *("a", "loop", "b", "os._exit", "c", "sys.exit", "d", "memory", "e", "huge"),
    *("f", "error", "g", "SIGKILL", "h", "print", "i", "stubborn", "j"),
]


def _comparable(r: CallResult) -> tuple[object, ...]:
    return (
        r.ok, r.value, r.value_str, r.error_type, r.error_message, r.timed_out, r.truncated,
        r.infra_error, r.stdout, r.stdout_truncated,
    )  # fmt: skip


def check_batch_matches_call(box: Sandbox) -> tuple[bool, str]:
    calls = [Invocation(args=(k,)) for k in _BATCH_KINDS]
    by_call = box.run(_BATCH_SOURCE, "f", calls, CHECK_LIMITS)
    problems = []
    for isolation in _PACED:
        got = box.run(_BATCH_SOURCE, "f", calls, CHECK_LIMITS, isolation=isolation)
        if isolation == "resident":  # one run per call too, as queries come
            got = got + [box.run(_BATCH_SOURCE, "f", [c], CHECK_LIMITS, isolation=isolation)[0]
                         for c in calls]  # fmt: skip
        for kind, c, b in zip(_BATCH_KINDS * 2, by_call * 2, got, strict=False):
            if kind in ("memory", "stubborn"):
                # memory: the address-space limit or the OOM killer; stubborn: the CPU-time
                # limit or the wall clock, whichever comes first on a loaded machine. A
                # failure either way.
                if b.ok or b.infra_error or c.ok or c.infra_error:
                    problems.append(f"{kind}: call {_show(c)} {isolation} {_show(b)}")
            elif _comparable(c) != _comparable(b):
                problems.append(f"{kind}: call {_show(c)} {isolation} {_show(b)}")
            elif b.duration_s > CHECK_LIMITS.timeout_s + SLACK_S:
                problems.append(f"{kind}: took {b.duration_s:.2f}s in {isolation} mode")
        if got[1].timed_out is not True or not got[len(calls) - 1].ok:
            problems.append(f"a timeout in the middle stopped the {isolation} run")
    return not problems, "; ".join(problems) or f"{len(calls)} invocations agree in each mode"


def check_batch_no_python_state(box: Sandbox) -> tuple[bool, str]:
    source = (
        "import builtins, decimal, os, sys\n"
        "COUNT = [0]\n"
        "def f(phase, seen=[]):\n"
        "    COUNT[0] += 1\n"
        "    seen.append(phase)\n"
        "    found = []\n"
        "    if COUNT[0] != 1:\n"
        "        found.append('global counter')\n"
        "    if len(seen) != 1:\n"
        "        found.append('mutable default')\n"
        "    if hasattr(builtins, 'LEFT_BEHIND'):\n"
        "        found.append('builtins')\n"
        "    if 'LEFT_BEHIND' in os.environ:\n"
        "        found.append('environment')\n"
        "    if sys.getrecursionlimit() == 50:\n"
        "        found.append('recursion limit')\n"
        "    if decimal.getcontext().prec == 7:\n"
        "        found.append('decimal context')\n"
        "    builtins.LEFT_BEHIND = 1\n"
        "    os.environ['LEFT_BEHIND'] = '1'\n"
        "    sys.setrecursionlimit(50)\n"
        "    decimal.getcontext().prec = 7\n"
        "    return found\n"
    )
    calls = [Invocation(args=(i,)) for i in range(4)]
    got = [
        *box.run(source, "f", calls, CHECK_LIMITS, isolation="batch"),
        *box.run(source, "f", calls, CHECK_LIMITS, isolation="resident"),
        *(box.run(source, "f", [c], CHECK_LIMITS, isolation="resident")[0] for c in calls),
    ]
    ok = all(r.ok and r.value_str == "[]" for r in got)
    return ok, "carried over: " + "; ".join(r.value_str if r.ok else _show(r) for r in got)


def check_resident_wiped_between_runs(box: Sandbox) -> tuple[bool, str]:
    source = (
        "import os\n"
        "def f(phase):\n"
        "    seen = sorted(os.listdir('.'))\n"
        "    if phase == 'write':\n"
        "        with open('left_behind.txt', 'w') as out:\n"
        "            out.write('x')\n"
        "    return seen\n"
    )
    first = box.run(source, "f", [Invocation(args=("write",))], CHECK_LIMITS, isolation="resident")
    then = box.run(source, "f", [Invocation(args=("look",))], CHECK_LIMITS, isolation="resident")
    ok = first[0].ok and then[0].ok and then[0].value_str == "[]"
    return ok, f"the next run saw {_show(then[0])}"


def check_hash_seed_fixed(box: Sandbox) -> tuple[bool, str]:
    r = _call(
        box,
        "import os, sys\ndef f():\n    return [hash('codearc'), sys.flags.hash_randomization]\n",
    )
    # PYTHONHASHSEED=0 disables randomization; str hashes are then the same in every sandbox.
    return r.ok and r.value_str.endswith(", 0]"), _show(r)


CHECKS: list[Check] = [
    Check(
        "plain_values", "types survive: bool/int, tuple/list, nan, set, dict", check_plain_values
    ),
    Check(
        "error_without_traceback", "exception type and message only", check_error_without_traceback
    ),
    Check(
        "source_not_inspectable",
        "inspect.getsource cannot read the module",
        check_source_not_inspectable,
    ),
    Check("timeout", "an endless loop times out", check_timeout),
    Check(
        "timeout_kills_descendants",
        "children and setsid grandchildren die",
        check_timeout_kills_descendants,
    ),
    Check("memory_bomb", "huge allocations fail inside the call", check_memory_bomb),
    Check(
        "fork_bomb",
        "a fork bomb is contained",
        check_fork_bomb,
        touches_host_without_isolation=True,
    ),
    Check("huge_stdout", "printed output is capped", check_huge_stdout),
    Check("huge_return", "huge return values are capped and flagged", check_huge_return),
    Check("no_network", "no loopback to the harness, no internet", check_no_network),
    Check(
        "harness_invisible", "the harness process is not visible in /proc", check_harness_invisible
    ),
    Check(
        "worker_channel_unreachable",
        "a call cannot open the worker's descriptors (the harness channel) via /proc",
        check_worker_channel_unreachable,
    ),
    Check(
        "no_writes_outside_scratch",
        "only the scratch directory is writable",
        check_no_writes_outside_scratch,
        touches_host_without_isolation=True,
    ),
    Check(
        "no_state_between_calls", "files, modules, env do not persist", check_no_state_between_calls
    ),
    Check(
        "tmp_wiped_between_calls",
        "a file left in /tmp is gone at the next call",
        check_tmp_wiped_between_calls,
        touches_host_without_isolation=True,
    ),
    Check(
        "hostile_return_objects",
        "lying or hanging objects cannot fake a value",
        check_hostile_return_objects,
    ),
    Check("exits_handled", "sys.exit, os._exit, BaseException, signals", check_exits_handled),
    Check("resource_limits", "file size, open files, CPU time", check_resource_limits),
    Check(
        "worker_death_detected",
        "a call that kills its worker is graded (never infra) and the rest still runs",
        check_worker_death_detected,
    ),
    Check(
        "worker_survives_signals",
        "every signal a call can send its worker, SIGKILL and SIGSTOP included, leaves it running",
        check_worker_survives_signals,
    ),
    Check(
        "worker_survives_kill_all",
        "kill(-1, SIGKILL) from a call leaves the worker running",
        check_worker_survives_kill_all,
        touches_host_without_isolation=True,
    ),
    Check(
        "deep_scratch_tree",
        "a directory tree deeper than the recursion limit, made unreadable, is wiped",
        check_deep_scratch_tree,
    ),
    Check(
        "scratch_survives_chmod",
        "a call that removes the scratch directory's permissions does not break later calls",
        check_scratch_survives_chmod,
    ),
    Check(
        "memory_cap_per_sandbox",
        "many processes, each within its own limit, cannot together exceed the sandbox's",
        check_memory_cap_per_sandbox,
        touches_host_without_isolation=True,
    ),
    Check(
        "no_ipc_between_calls",
        "no SysV shared memory, semaphore, message queue, POSIX queue or /dev/shm file "
        "outlives its call",
        check_no_ipc_between_calls,
        touches_host_without_isolation=True,
    ),
    Check(
        "batch_results_bound",
        "in a batch, a thread or process left by one invocation cannot write the next one's result",
        check_batch_results_bound,
    ),
    Check(
        "labels_deterministic",
        "closing every descriptor, or writing to the result channel, gets one true label",
        check_labels_deterministic,
    ),
    Check(
        "harness_hidden_from_call",
        "a call sees no module, global or argument of the worker, and sees the same alone "
        "or in a batch",
        check_harness_hidden_from_call,
    ),
    Check(
        "batch_matches_call",
        "isolation='batch' and 'resident' give call mode's results: values, errors, timeouts, "
        "exits, memory bombs, huge values and stdout, the run going on after each",
        check_batch_matches_call,
    ),
    Check(
        "batch_no_python_state",
        "in a batch or a resident process, within a run and between runs, module globals, "
        "defaults, builtins, env, recursion limit, decimal and random state do not carry over",
        check_batch_no_python_state,
    ),
    Check(
        "resident_wiped_between_runs",
        "a file one run writes in resident mode is gone when the next run starts",
        check_resident_wiped_between_runs,
    ),
    Check(
        "hash_seed_fixed", "str hashing is not randomized (PYTHONHASHSEED=0)", check_hash_seed_fixed
    ),
    Check("numpy", "numpy imports", check_numpy),
    Check("big_int_text", "str() of ints over 4300 digits", check_big_int_text),
]

KNOWN_FAILURES: dict[str, dict[str, str]] = {
    "process": {
        "no_network": "no network namespace: the code shares the host's network",
        "harness_invisible": "no pid namespace: the code sees every host process",
        "no_writes_outside_scratch": "no mount namespace: the code can write wherever its user can",
        "tmp_wiped_between_calls": "/tmp is the host's: files left there persist",
        **(
            {"worker_channel_unreachable": "as root, the code has CAP_SYS_PTRACE over the worker"}
            if os.geteuid() == 0
            else {}
        ),
        "fork_bomb": "no pids cgroup, and RLIMIT_NPROC binds neither root nor other users' counts",
        "worker_survives_signals": "no pid namespace: the call may SIGKILL or SIGSTOP its worker",
        "worker_survives_kill_all": "no pid namespace: kill(-1) reaches every process of the user",
        "memory_cap_per_sandbox": "no cgroup and no watchdog: only per-process limits",
        "no_ipc_between_calls": "no IPC namespace: the host's objects cannot be told apart",
    },
}
"""Checks a backend is expected to fail, with the reason. Secure backends have none."""


def _healthy(box: Sandbox) -> str | None:
    r = box.run_one("def f(x):\n    return x + 1\n", "f", Invocation(args=(1,)), CHECK_LIMITS)
    return None if r.ok and r.value_str == "2" else _show(r)


def run_check(box: Sandbox, check: Check, *, run_known_failures: bool = False) -> CheckResult:
    known = check.name in KNOWN_FAILURES.get(box.name, {})
    secure = box.info().is_security_boundary
    if known and (not run_known_failures or (check.touches_host_without_isolation and not secure)):
        return CheckResult(check.name, False, KNOWN_FAILURES[box.name][check.name], True, ran=False)
    began = time.monotonic()
    try:
        passed, detail = check.fn(box)
    except Exception as exc:  # a check that crashes is a failed check, with the reason
        passed, detail = False, f"check raised {type(exc).__name__}: {exc}"
    broken = _healthy(box)
    if broken is not None:
        passed, detail = False, f"{detail}; sandbox broken afterwards: {broken}"
    return CheckResult(check.name, passed, detail, known, duration_s=time.monotonic() - began)


def run_checks(
    box: Sandbox, names: Sequence[str] | None = None, *, run_known_failures: bool = False
) -> list[CheckResult]:
    """Run the named checks (all by default) against a started sandbox."""
    unknown = set(names or ()) - {c.name for c in CHECKS}
    if unknown:
        raise ValueError(f"unknown conformance checks: {', '.join(sorted(unknown))}")
    chosen = [c for c in CHECKS if names is None or c.name in names]
    return [run_check(box, c, run_known_failures=run_known_failures) for c in chosen]


def check_by_name(name: str) -> Check:
    for check in CHECKS:
        if check.name == name:
            return check
    raise ValueError(f"unknown conformance check {name!r}")
