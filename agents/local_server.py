"""One llama-cpp-python server per GGUF file per process, on loopback, never left behind.

:func:`server_for` hands out a process-wide :class:`LocalServer`; its :meth:`~LocalServer.start`
launches ``llama_cpp.server`` on 127.0.0.1 and a free port the first time, waits until
``/v1/models`` answers, and returns the base URL; later calls (any thread) reuse it.

Nothing survives the harness:

- the server runs in its own process group, which :meth:`LocalServer.stop` (also registered
  with :mod:`atexit`, so it runs after Ctrl-C) terminates, then kills;
- the server is started through this module's ``__main__``, which watches a pipe from the
  parent and exits when it closes, so even a SIGKILLed harness takes its server with it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from codearc_env.agents import local_chat_format
from codearc_env.agents.local_model import LocalModel, LocalModelError

HOST = "127.0.0.1"
CHAT_FORMAT = local_chat_format.NAME
"""Our ChatML handler (registered in the server process): SmolLM2 speaks ChatML, and this
handler renders tools, tool calls and tool results, and constrains a forced or required
``tool_choice`` with a JSON-schema grammar so the call always parses."""
DEFAULT_N_CTX = 8192
STARTUP_TIMEOUT_S = 180.0
_STOP_GRACE_S = 5.0
_POLL_S = 0.2
_PORT_TRIES = 3


def _default_threads() -> int:
    # One thread by default: for a 135M model, llama.cpp's OpenMP threads spin-wait on each
    # other, and on a busy 2-core machine two threads ran ten times slower than one.
    return int(os.environ.get("CODEARC_LOCAL_THREADS") or 1)


@dataclass(frozen=True)
class ServerConfig:
    """How to serve one GGUF file. Equal configs share one server in a process."""

    model: LocalModel
    chat_format: str = CHAT_FORMAT
    n_ctx: int = DEFAULT_N_CTX
    """Context window in tokens; the agents' conversations outgrow llama.cpp's default 2048."""
    n_threads: int = 0
    """CPU threads; 0 means $CODEARC_LOCAL_THREADS, else 1 (see :func:`_default_threads`)."""
    startup_timeout_s: float = STARTUP_TIMEOUT_S

    def server_args(self, port: int, api_key: str) -> list[str]:
        """Arguments for ``python -m llama_cpp.server`` (exact flag names of its settings)."""
        threads = self.n_threads or _default_threads()
        return [
            "--model", str(self.model.gguf_path),
            "--model_alias", self.model.alias,
            "--host", HOST,
            "--port", str(port),
            "--api_key", api_key,
            "--verbose", "false",
            "--logits_all", "false",  # only the last token is sampled; all-token logits cost ~1.5x
            "--chat_format", self.chat_format,
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(threads),
            "--n_threads_batch", str(threads),
        ]  # fmt: skip


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _models_answer(base_url: str, alias: str, api_key: str) -> bool:
    # A direct opener: a proxy configured in the environment must not see loopback traffic.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        f"{base_url}/models", headers={"Authorization": f"Bearer {api_key}"}
    )
    try:
        with opener.open(request, timeout=2.0) as resp:
            data = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return any(m.get("id") == alias for m in data.get("data", ()))


class LocalServer:
    """A lazily started ``llama_cpp.server`` child process. Thread-safe; stop is idempotent.

    Each launch gets a fresh random API key: the port is on loopback, but other local users
    should not be able to use (or tie up) the model.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._base_url: str | None = None
        self._api_key = ""
        self._log_fd: int | None = None
        self._owner_pid = os.getpid()

    @property
    def base_url(self) -> str | None:
        """``http://127.0.0.1:<port>/v1`` while running, else None."""
        return self._base_url

    @property
    def api_key(self) -> str:
        """Bearer token the running server expects ("" before the first start)."""
        return self._api_key

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Start the server unless it runs already; return its OpenAI base URL."""
        with self._lock:
            if self.running and self._base_url is not None:
                return self._base_url
            self._stop_locked()
            for _ in range(_PORT_TRIES):
                try:
                    return self._launch_locked(_free_port())
                except _PortLost:  # another process took the port between probe and bind
                    continue
            raise LocalModelError(
                f"local model server found no free port on {HOST} in {_PORT_TRIES} tries"
            )

    def stop(self) -> None:
        """Terminate the server's process group (SIGTERM, then SIGKILL after a grace period)."""
        with self._lock:
            self._stop_locked()

    def _launch_locked(self, port: int) -> str:
        # The server's log lives in an unlinked file: readable through our descriptor for
        # error messages, and gone however this process ends.
        fd, log_name = tempfile.mkstemp(prefix="codearc-local-server-", suffix=".log")
        os.unlink(log_name)
        self._log_fd = fd
        # hex only: a url-safe token may start with "-", which argparse takes for an option
        self._api_key = secrets.token_hex(24)
        cmd = [sys.executable, "-m", __name__, *self.config.server_args(port, self._api_key)]
        self._proc = proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,  # the lifeline: EOF here makes the child exit
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, so stop() can kill all of it
        )
        base_url = f"http://{HOST}:{port}/v1"
        deadline = time.monotonic() + self.config.startup_timeout_s
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                tail = self._log_tail()
                self._stop_locked()
                if "address already in use" in tail.lower():
                    raise _PortLost(port)
                raise LocalModelError(
                    f"local model server exited during start-up (code {code}):\n{tail}"
                )
            if _models_answer(base_url, self.config.model.alias, self._api_key):
                self._base_url = base_url
                _register_atexit()
                return base_url
            time.sleep(_POLL_S)
        tail = self._log_tail()
        self._stop_locked()
        raise LocalModelError(
            f"local model server did not answer on {base_url} within "
            f"{self.config.startup_timeout_s:.0f}s:\n{tail}"
        )

    def _stop_locked(self) -> None:
        proc, self._proc, self._base_url = self._proc, None, None
        # A forked child inherits the registry, but the server belongs to the forking parent.
        if proc is not None and os.getpid() == self._owner_pid:
            _kill_group(proc)
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        if self._log_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._log_fd)
            self._log_fd = None

    def _log_tail(self, n_bytes: int = 2000) -> str:
        if self._log_fd is None:
            return ""
        try:
            size = os.fstat(self._log_fd).st_size
            data = os.pread(self._log_fd, n_bytes, max(0, size - n_bytes))
        except OSError:
            return ""
        return data.decode("utf-8", errors="replace")


class _PortLost(Exception):
    pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The child leads its own session, so its pid is the group id; killing the group also
    # catches anything it spawned.
    for sig, wait_s in ((signal.SIGTERM, _STOP_GRACE_S), (signal.SIGKILL, _STOP_GRACE_S)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    # Stragglers in the group after the leader died (none expected): one last sweep.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


_registry: dict[ServerConfig, LocalServer] = {}
_registry_lock = threading.Lock()
_atexit_done = False


def _register_atexit() -> None:
    global _atexit_done
    with _registry_lock:
        if not _atexit_done:
            atexit.register(stop_all)
            _atexit_done = True


def server_for(model: LocalModel, **options: object) -> LocalServer:
    """The process-wide server for ``model`` (not started; call ``.start()``).

    ``options`` are :class:`ServerConfig` fields (``n_ctx``, ``n_threads``, ``chat_format``,
    ``startup_timeout_s``); each distinct configuration gets its own server.
    """
    config = ServerConfig(model=model, **options)  # type: ignore[arg-type]
    with _registry_lock:
        server = _registry.get(config)
        if server is None:
            server = _registry[config] = LocalServer(config)
        return server


def stop_all() -> None:
    """Stop every server this process started (registered with atexit on first start)."""
    with _registry_lock:
        servers = list(_registry.values())
    for server in servers:
        server.stop()


def _exit_when_parent_goes() -> None:
    # Blocks until the parent closes its end of the pipe (on stop, exit or death).
    with contextlib.suppress(OSError):
        sys.stdin.buffer.read()
    os._exit(0)


def _serve(argv: list[str]) -> None:
    """Child side: arm the lifeline, then run ``llama_cpp.server`` as ``python -m`` would."""
    import runpy

    threading.Thread(target=_exit_when_parent_goes, name="lifeline", daemon=True).start()
    local_chat_format.register()
    sys.argv = ["llama_cpp.server", *argv]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    _serve(sys.argv[1:])
