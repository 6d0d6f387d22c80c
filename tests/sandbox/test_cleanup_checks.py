"""The cheap looks the worker's clean-up takes after every request: its children from a list
kept open, and the scratch directory by one stat where a directory's size counts its entries.
What the clean-up leaves (nothing) is checked on every backend by the conformance suite
(`tmp_wiped_between_calls`, `resident_wiped_between_runs`, `scratch_survives_chmod`)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest

from codearc_env.sandbox import wire
from codearc_env.sandbox import worker as worker_module
from codearc_env.sandbox import worker_cleanup as cleanup


def _tmpfs_dir() -> str | None:
    """A new directory on a tmpfs, or None when /dev/shm is not one."""
    try:
        with open("/proc/self/mounts") as mounts:
            on_tmpfs = any(
                line.split()[1] == "/dev/shm" and line.split()[2] == "tmpfs" for line in mounts
            )
    except OSError:
        return None
    return tempfile.mkdtemp(dir="/dev/shm") if on_tmpfs else None


@pytest.fixture()
def tmpfs_dir() -> Iterator[str]:
    path = _tmpfs_dir()
    if path is None:
        pytest.skip("no tmpfs at /dev/shm")
    yield path
    cleanup._wipe(path)
    os.rmdir(path)


def _in_a_fresh_process(body: Callable[[], object]) -> object:
    """``body()`` run in a forked process of its own (one thread, no children: the test
    process may have both), its JSON result sent back."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.write(w, json.dumps(body()).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as got:
        data = got.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def test_own_children_lists_what_a_fresh_read_lists_as_children_come_and_go() -> None:
    def body() -> list[object]:
        me = os.getpid()

        def by_path() -> list[int]:
            return sorted(int(x) for x in cleanup._read_all(f"/proc/self/task/{me}/children").split())

        seen = []
        kids = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            kids.append(pid)
            seen.append([sorted(cleanup._own_children(me) or []), by_path()])
        for pid in kids:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            seen.append([sorted(cleanup._own_children(me) or []), by_path()])
        return seen

    seen = _in_a_fresh_process(body)
    assert all(kept == fresh for kept, fresh in seen), seen  # type: ignore[union-attr]
    assert [len(kept) for kept, _ in seen] == [1, 2, 3, 2, 1, 0]  # type: ignore[union-attr]


def test_a_list_too_long_for_one_read_is_read_by_path() -> None:
    def body() -> list[object]:
        me = os.getpid()
        cleanup._own_children(me)  # the list is open
        os.pread = lambda fd, n, at: b"1 " * (n // 2)  # as a list of 32,768 children reads
        return [cleanup._own_children(me), sorted(cleanup._children_of(me))]

    # None: not read from the kept list; then read by path: this process has no children
    assert _in_a_fresh_process(body) == [None, []]


def test_a_forked_child_opens_its_own_list() -> None:
    cleanup._own_children(os.getpid())
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        grandchild = os.fork()
        if grandchild == 0:
            time.sleep(30)
            os._exit(0)
        os.write(w, json.dumps([sorted(cleanup._own_children(os.getpid()) or []), grandchild])
                 .encode())
        os.kill(grandchild, 9)
        os.waitpid(grandchild, 0)
        os._exit(0)
    os.close(w)
    listed, grandchild = json.loads(os.read(r, 4096))
    os.waitpid(pid, 0)
    assert listed == [grandchild]


def test_on_tmpfs_a_directory_size_tells_every_kind_of_entry(tmpfs_dir: str) -> None:
    assert cleanup._size_counts_entries(tmpfs_dir)
    assert os.listdir(tmpfs_dir) == []  # the probe left nothing
    empty = cleanup._scratch_state(tmpfs_dir)
    outside = tempfile.mkdtemp(dir="/dev/shm")
    try:
        open(os.path.join(outside, "moved"), "w").close()
        makers = {
            "file": lambda p: open(p, "w").close(),
            "directory": os.mkdir,
            "symlink": lambda p: os.symlink("/etc", p),
            "fifo": os.mkfifo,
            "hard link": lambda p: os.link(os.path.join(outside, "moved"), p),
            "moved in": lambda p: os.rename(os.path.join(outside, "moved"), p),
        }
        for kind, make in makers.items():
            path = os.path.join(tmpfs_dir, "x")
            make(path)
            assert cleanup._scratch_state(tmpfs_dir) != empty, kind
            (os.rmdir if kind == "directory" else os.unlink)(path)
            assert cleanup._scratch_state(tmpfs_dir) == empty, kind
        os.chmod(tmpfs_dir, 0o755)
        assert cleanup._scratch_state(tmpfs_dir) != empty  # the mode is part of the state
    finally:
        cleanup._wipe(outside)
        os.rmdir(outside)


def test_a_directory_whose_size_does_not_count_entries_is_not_trusted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    real_stat = os.stat
    monkeypatch.setattr(cleanup.os, "stat", lambda p, *a, **k: _fixed_size(real_stat(p, *a, **k)))
    assert not cleanup._size_counts_entries(str(tmp_path))
    assert os.listdir(tmp_path) == []


def _fixed_size(st: os.stat_result) -> os.stat_result:
    fields = list(st)
    fields[6] = 4096  # st_size, as ext4 reports a directory of a few entries
    return os.stat_result(fields)


def _serve(scratch: str, requests: list[dict[str, object]]) -> dict[str, int]:
    """Run an unsandboxed worker (our own toy modules only) on ``requests``; how many times
    it listed the scratch directory, and how many requests it finished."""
    to_worker, from_harness = os.pipe()
    from_worker, to_harness = os.pipe()
    counts_r, counts_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(from_harness)
            os.close(from_worker)
            listed = [0]
            full = worker_module._ready_scratch

            def counted(root: str, mode: int) -> str | None:
                listed[0] += 1
                return full(root, mode)

            worker_module._ready_scratch = counted
            worker = worker_module.Worker({"scratch": scratch}, fd_in=to_worker, fd_out=to_harness)
            worker.serve()
            os.write(counts_w, json.dumps({"listed": listed[0]}).encode())
        finally:
            os._exit(0)
    os.close(to_worker)
    os.close(to_harness)
    os.close(counts_w)
    done = 0
    pending = b""
    for i, request in enumerate(requests):
        wire.write_all(from_harness, wire.frame(dict(request, op="run", id=i)))
        while True:
            got = wire.read_ahead(from_worker, pending, 4)
            assert got is not None
            head, pending = got
            got = wire.read_ahead(from_worker, pending, wire.HEADER.unpack(head)[0])
            assert got is not None
            body, pending = got
            if json.loads(body)["op"] == "done":
                done += 1
                break
    os.close(from_harness)
    counts = json.loads(os.read(counts_r, 4096))
    os.waitpid(pid, 0)
    return dict(counts, done=done)


LIMITS = {"timeout_s": 5.0, "cpu_s": 5, "memory_mb": 512, "file_size_mb": 16, "open_files": 64,
          "output_chars": 10000, "stdout_chars": 1000, "processes": 64, "batch_budget_s": None}


def _request(source: str, isolation: str) -> dict[str, object]:
    return {"source": source, "function": "f", "limits": LIMITS, "isolation": isolation,
            "invocations": [{"args": [], "kwargs": [], "expression": None}]}


def test_the_worker_lists_its_tmpfs_scratch_only_after_something_was_made_in_it(
    tmpfs_dir: str,
) -> None:
    quiet = _request("def f():\n    return 1\n", "resident")
    writes = _request(
        "import os\ndef f():\n    os.makedirs('d/e')\n    open('d/e/x', 'w').close()\n"
        "    return sorted(os.listdir('.'))\n",
        "batch",
    )
    got = _serve(tmpfs_dir, [quiet, quiet, quiet, writes, quiet, quiet])
    # the first clean-up lists (and finds out the directory's size counts its entries); then
    # only the one after the request that wrote
    assert got == {"listed": 2, "done": 6}
    assert os.listdir(tmpfs_dir) == []


def test_the_worker_lists_a_scratch_directory_whose_size_tells_nothing(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cleanup, "_size_counts_entries", lambda root: False)
    monkeypatch.setattr(worker_module, "_size_counts_entries", lambda root: False)
    quiet = _request("def f():\n    return 1\n", "resident")
    assert _serve(str(tmp_path), [quiet] * 4) == {"listed": 4, "done": 4}
