"""The local model server's life cycle: start on demand, reuse, loopback only, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from codearc_env.agents.local_model import LocalModelError, parse_local_model
from codearc_env.agents.local_server import LocalServer, ServerConfig, server_for

pytestmark = [
    pytest.mark.localmodel,
    pytest.mark.slow,
    pytest.mark.usefixtures("needs_local_model"),
]


def _gone(pid: int, within_s: float = 20.0) -> bool:
    """True once ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def _listen_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net shows them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            addr, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A = LISTEN
                found.add(addr)
    return found


@pytest.fixture
def private_server() -> LocalServer:
    # Its own configuration (smaller context) so it never shares the session's server.
    server = LocalServer(ServerConfig(model=parse_local_model("local/smollm2"), n_ctx=1024))
    yield server
    server.stop()


def test_concurrent_starts_share_one_process(private_server: LocalServer) -> None:
    urls: list[str] = []
    threads = [
        threading.Thread(target=lambda: urls.append(private_server.start())) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(urls) == 4 and len(set(urls)) == 1
    pid = private_server.pid
    assert private_server.start() == urls[0] and private_server.pid == pid


def test_listens_on_loopback_only_and_wants_its_key(private_server: LocalServer) -> None:
    url = private_server.start()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert url == f"http://127.0.0.1:{port}/v1"
    assert _listen_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(f"{url}/models", timeout=5)
    assert info.value.code == 401
    request = urllib.request.Request(
        f"{url}/models", headers={"Authorization": f"Bearer {private_server.api_key}"}
    )
    with opener.open(request, timeout=5) as resp:
        assert [m["id"] for m in json.load(resp)["data"]] == ["smollm2"]


def test_stop_ends_the_process_and_a_later_start_brings_it_back(
    private_server: LocalServer,
) -> None:
    private_server.start()
    first = private_server.pid
    assert first is not None
    private_server.stop()
    assert private_server.pid is None and private_server.base_url is None
    assert _gone(first)
    private_server.stop()  # idempotent
    private_server.start()
    assert private_server.running and private_server.pid != first


def test_server_for_hands_out_one_server_per_configuration() -> None:
    model = parse_local_model("local/smollm2")
    assert server_for(model) is server_for(model)
    assert server_for(model, n_ctx=1024) is not server_for(model)


def test_a_file_that_is_no_model_fails_with_the_servers_words(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file at all")
    server = LocalServer(ServerConfig(model=parse_local_model(f"local/{bad}")))
    with pytest.raises(LocalModelError) as info:
        server.start()
    assert str(info.value).startswith("local model server exited during start-up (code ")
    assert not server.running


_HARNESS = textwrap.dedent(
    """
    import os, signal, sys, time
    # Ctrl-C in a terminal: a runner started in the background may pass SIGINT down ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    from codearc_env.agents.local_model import parse_local_model
    from codearc_env.agents.local_server import server_for
    server = server_for(parse_local_model("local/smollm2"))
    server.start()
    print(server.pid, flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)
    time.sleep(600)
    """
)


@pytest.mark.parametrize(
    "how",
    ["exit", "SIGINT", "SIGTERM", "SIGKILL"],
    ids=["normal-exit", "ctrl-c", "sigterm", "sigkill"],
)
def test_nothing_is_left_running_when_the_harness_goes(how: str, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HARNESS, "exit" if how == "exit" else "wait"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip().isdigit(), f"harness printed {line!r}"
        server_pid = int(line)
        if how != "exit":
            assert not _gone(server_pid, within_s=0.5)
            os.kill(proc.pid, getattr(signal, how))
        proc.wait(timeout=30)
        assert _gone(server_pid), f"server {server_pid} still runs after the harness got {how}"
        assert list(tmp_path.iterdir()) == []  # nor a log file
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
