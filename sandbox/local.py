"""Workers that run as local child processes: the base of the process and bwrap backends."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from codearc_env.errors import SandboxError
from codearc_env.sandbox.channel import Channel, PipeTransport
from codearc_env.sandbox.launch import PYTHON_FLAGS, launch_env, launch_source
from codearc_env.sandbox.workerbox import WorkerSandbox

_LAUNCHER: ThreadPoolExecutor | None = None
"""Every worker is launched from this one long-lived thread. bwrap --die-with-parent and the
worker's PR_SET_PDEATHSIG fire when the launching *thread* exits, not the process: launched
from a short-lived thread (a pool worker), the sandbox would be killed when that thread ends."""


_LAUNCHER_LOCK = threading.Lock()


def _launcher() -> ThreadPoolExecutor:
    global _LAUNCHER
    with _LAUNCHER_LOCK:
        if _LAUNCHER is None:
            _LAUNCHER = ThreadPoolExecutor(1, thread_name_prefix="codearc-sandbox-launcher")
        return _LAUNCHER


def _forget_launcher_after_fork() -> None:
    # A forked child (e.g. gymnasium's AsyncVectorEnv with the fork context) inherits the
    # executor but not its thread: work submitted there would wait forever.
    global _LAUNCHER, _LAUNCHER_LOCK
    _LAUNCHER = None
    _LAUNCHER_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_launcher_after_fork)


class LocalWorkerSandbox(WorkerSandbox):
    """Launches ``command() + [python, -s, -P, -c, worker]`` with stdin/stdout as the channel."""

    _proc: subprocess.Popen[bytes] | None = None
    _stderr: IO[bytes] | None = None

    def _command(self, worker_args: list[str]) -> list[str]:
        """The full argv that runs ``worker_args`` (python and its arguments) in the sandbox."""
        raise NotImplementedError

    def _worker_config(self) -> dict[str, object]:
        raise NotImplementedError

    def _pass_fds(self) -> tuple[int, ...]:
        """Descriptors the launched command inherits (besides stdio)."""
        return ()

    def _python(self) -> str:
        raise NotImplementedError

    def _launch(self) -> Channel:
        worker_args = [
            self._python(),
            *PYTHON_FLAGS,
            "-c",
            launch_source(),
            json.dumps(self._worker_config()),
        ]
        # Kept open for the worker's lifetime (closed in _terminate), so no context manager.
        self._stderr = tempfile.TemporaryFile(prefix="codearc-worker-stderr-")  # noqa: SIM115
        run_as = self._run_as()
        preexec = self._preexec(run_as)
        if preexec is not None:  # it drops privileges itself, after what needs them
            run_as = None
        try:
            self._proc = _launcher().submit(
                subprocess.Popen,
                self._command(worker_args),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,  # Ctrl-C in the terminal reaches the harness only
                close_fds=True,
                pass_fds=self._pass_fds(),
                env=self._environment(),
                cwd="/",
                user=run_as,
                group=run_as,
                extra_groups=[] if run_as is not None else None,
                preexec_fn=preexec,
            ).result()
        except (OSError, subprocess.SubprocessError) as exc:  # the latter: preexec_fn failed
            raise SandboxError(f"cannot launch the {self.name} sandbox: {exc}") from exc
        if self._proc.stdin is None or self._proc.stdout is None:
            raise SandboxError(
                "the worker has no pipes"
            )  # unreachable with PIPE; keeps mypy honest
        # The channel owns duplicates, so closing the Popen's file objects cannot race with it.
        return Channel(
            PipeTransport(os.dup(self._proc.stdin.fileno()), os.dup(self._proc.stdout.fileno()))
        )

    def _run_as(self) -> int | None:
        """The uid (and gid) to launch as; None keeps the harness's."""
        return None

    def _preexec(self, run_as: int | None) -> Callable[[], None] | None:
        """Code the launched process runs before exec, as the harness's user; it must then
        drop to ``run_as`` itself. None: nothing to run."""
        return None

    def _environment(self) -> dict[str, str]:
        return launch_env()

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            try:
                proc.wait(timeout=1.0)  # the worker exits on EOF and cleans up after itself
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _diagnostics(self) -> str:
        proc, err = self._proc, self._stderr
        parts = []
        if proc is not None and proc.poll() is not None:
            parts.append(f"exit status {proc.returncode}")
        if err is not None:
            try:
                err.seek(0)
                text = err.read(4000).decode("utf-8", "replace").strip()
            except (OSError, ValueError):
                text = ""
            if text:
                parts.append(text.splitlines()[-1])
        return "; ".join(parts)
