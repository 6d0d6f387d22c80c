"""What the worker clears after every call: processes, scratch files, IPC objects; and the
memory watchdog used where no cgroup caps the sandbox.

Part of the worker (embedded in the sandbox; standard library only).
"""

import _thread
import contextlib
import os
import resource
import signal
import time

SCRATCH_MODE = 0o700


def _children_of(pid):
    """Direct children of pid (orphans reparent to us: we are a child subreaper)."""
    kids: set[int] = set()
    if pid == os.getpid() and _thread._count() == 0:
        # One thread (the worker starts none): its own list is every child, orphans
        # included, in one read instead of a listing of /proc first (this runs after every
        # request).
        listed = _own_children(pid)
        if listed is not None:
            return listed
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            kids.update(int(x) for x in _read_all(f"/proc/{pid}/task/{tid}/children").split())
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


_children_list = (0, -1)
"""(pid, descriptor) of that process's open list of its children, read again for each look."""


def _own_children(pid):
    """The children of this process, whose only thread is ``pid``, from its list in /proc kept
    open: one system call, where opening the list each time cost several times more after
    every request. None when the list cannot be read so (then it is read by path)."""
    global _children_list
    owner, fd = _children_list
    try:
        if owner != pid:  # first use, or a forked child: its parent's descriptor is not its own
            fd = os.open(f"/proc/self/task/{pid}/children", os.O_RDONLY)
            _children_list = (pid, fd)
        data = os.pread(fd, 65536, 0)
        if len(data) < 65536:  # the whole list (a longer one is read by path, in full)
            return {int(x) for x in data.split()}
    except (OSError, ValueError):
        pass
    return None


def _read_all(path):
    """A /proc file's bytes, os-level (open() costs three more system calls; this runs after
    every request)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kill_group(pid):
    for fn, target in ((os.killpg, pid), (os.kill, pid)):
        with contextlib.suppress(OSError):
            fn(target, signal.SIGKILL)


def reap_descendants(budget_s=10.0, spare=frozenset()):
    """Kill and reap every descendant process (a fork bomb may have made thousands), except
    the children in ``spare`` (the worker's resident children), which are neither killed nor
    reaped: their records reap them, so a pid is never reused behind a record's back."""
    if spare:
        return _reap_sparing(budget_s, spare)
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


def _reap_sparing(budget_s, spare):
    me = os.getpid()
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        kids = _children_of(me) - spare
        if not kids:
            return True
        for kid in kids:
            _kill_group(kid)
        for kid in kids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(kid, os.WNOHANG)
        time.sleep(0.0005)
    return False


def _wipe(root):
    """Remove everything under root; what was left (an OSError's text), or None when empty."""
    try:
        top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        return f"cannot open {root}: {exc}"
    try:
        return _empty_tree(top)
    finally:
        os.close(top)


def _empty_tree(top):
    """Empty the directory open as ``top``, whatever the call did to modes or depth.

    Iterative and relative to directory descriptors: no recursion limit and no path length
    limit, so a tree deeper than either cannot make the worker fail. Each subdirectory is
    made searchable before it is entered; ``top`` keeps its mode. Returns None when ``top``
    is empty, else why not.
    """
    names: list[str] = []  # the path from top down to the directory `fd` is, as names
    fd = top
    try:
        while True:
            child = _empty_directory(fd)
            if child is None:  # fd is empty: go back up and remove it
                if not names:
                    return None
                parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = parent
                os.rmdir(names.pop(), dir_fd=fd)
                continue
            # A directory, not a symlink (scandir said so, and no call runs now).
            os.chmod(child, SCRATCH_MODE, dir_fd=fd)
            sub = os.open(child, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            if fd != top:
                os.close(fd)
            fd = sub
            names.append(child)
    except OSError as exc:
        return f"cannot empty it: {exc}"
    finally:
        if fd != top:
            os.close(fd)


def _empty_directory(fd):
    """Unlink every non-directory in fd; return the name of a subdirectory left, else None."""
    for entry in os.scandir(fd):
        if entry.is_dir(follow_symlinks=False):
            return entry.name
        os.unlink(entry.name, dir_fd=fd)
    return None


def _ready_scratch(root, mode):
    """Empty root and give it back its mode; the reason when that fails (worker unusable)."""
    try:
        try:
            top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        except PermissionError:  # the call took its own permissions away: ours to give back
            os.chmod(root, mode)
            top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if os.fstat(top).st_mode & 0o7777 != mode:
                os.fchmod(top, mode)
            problem = _empty_tree(top)
        finally:
            os.close(top)
    except OSError as exc:
        problem = str(exc)
    return None if problem is None else f"cannot prepare the scratch directory: {problem}"


def _scratch_state(root):
    """What tells, in one system call, that nothing was made in root since it had this state:
    where a directory's size counts its entries (:func:`_size_counts_entries`), an unchanged
    size, with the same directory and mode. None when root cannot be looked at."""
    try:
        st = os.stat(root)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mode, st.st_size)


def _size_counts_entries(root):
    """Whether root, empty, grows when an entry is made in it and shrinks back when it is
    removed (tmpfs adds 20 bytes per entry, whatever its kind). On such a filesystem an empty
    directory's size is never that of one with entries; on others (ext4 keeps whole blocks)
    the scratch directory is listed after every request."""
    probe = os.path.join(root, ".codearc-size-probe")
    try:
        empty = os.stat(root).st_size
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        try:
            grown = os.stat(root).st_size
        finally:
            os.unlink(probe)
        return grown != empty and os.stat(root).st_size == empty
    except OSError:
        return False


_IPC_KINDS = (("shm", "shmctl"), ("sem", "semctl"), ("msg", "msgctl"))
_IPC_COUNTS = (("shmctl", (0, 14), 0), ("semctl", (0, 0, 19), 7), ("msgctl", (0, 12), 0))
"""How many objects of each kind exist: SHM_INFO's used_ids, SEM_INFO's semusz and MSG_INFO's
msgpool (the int at that index of the struct the call fills). Three system calls, where
reading /proc/sysvipc after every call costs ten times more."""
_libc = None


def _remove_ipc():
    """Remove every System V IPC object of this (private) IPC namespace."""
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    import ctypes

    info = (ctypes.c_int * 32)()
    if not any(
        getattr(_libc, fn)(*args, info) >= 0 and info[index] > 0
        for fn, args, index in _IPC_COUNTS
    ):
        return
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
            ipc_id = int(fields[1])
            if kind == "sem":
                _libc.semctl(ipc_id, 0, 0)  # IPC_RMID is 0
            else:
                getattr(_libc, ctl)(ipc_id, 0, None)


def _sandbox_rss(idle=frozenset()):
    """Resident bytes of every process visible except the worker (its own pid namespace) and
    the ``idle`` ones (resident children between invocations: what they hold is the worker's
    pages, shared, and what their last invocation left, which they retire over)."""
    me = os.getpid()
    total = 0
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me and int(name) not in idle:
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
