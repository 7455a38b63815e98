"""After a job in the executor: nothing of it survives, nothing of it reaches the next job.

In the sandbox the executor is the only process left in its pid namespace besides bubblewrap's
init, so ``kill(-1, SIGKILL)`` reaches every process a job started, detached or double-forked ones
included.  Without the sandbox (``--no-sandbox``) the executor is a child subreaper: orphans of a job
are re-parented to it, and it kills its whole descendant tree.  System V IPC objects live in the
sandbox's own IPC namespace and are removed; the writable folders are wiped.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import time
from typing import Any

__all__ = ["kill_everything", "remove_ipc", "wipe", "mount_points", "job_memory", "descendants", "memory_of",
           "KILL_PATIENCE"]

KILL_PATIENCE = 5.0   # seconds a job's processes have to be gone once killed; past it the executor gives up

_libc = ctypes.CDLL(None, use_errno=True)


def _other_pids() -> list[int]:
    me = os.getpid()
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            out.append(int(name))
    return out


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (through /proc/<pid>/task/*/children)."""
    out: list[int] = []
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
                out += kids
                stack += kids
        except (OSError, ValueError):
            continue
    return out


def memory_of(pid: int) -> int:
    """Proportional set size of ``pid`` in bytes (pages shared with the executor count in part)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def job_memory(sandboxed: bool, ours: set[int] | frozenset[int] = frozenset()) -> int:
    """Memory in use by all of a running job's processes together, in bytes (``ours``: processes of the
    executor's own left out, e.g. the keeper and init of the job's namespaces).

    RLIMIT_AS bounds each process; this bounds what a job's processes use together (a job that
    forks twenty processes of 1.9 GiB each), without needing a cgroup."""
    pids = _other_pids() if sandboxed else descendants(os.getpid())
    return sum(memory_of(p) for p in pids if p not in ours)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_everything(sandboxed: bool, child: int) -> bool:
    """Kill every process the job left: the whole pid namespace, or (plain) all our descendants.

    False when some survived five seconds of trying (then the executor must not serve another job)."""
    deadline = time.monotonic() + KILL_PATIENCE
    while time.monotonic() < deadline:
        if sandboxed:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap()
            left = [p for p in _other_pids() if _state(p) not in ("Z", "X", "")]
        else:
            try:
                os.killpg(child, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            left = descendants(os.getpid())
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _reap()
            left = [p for p in descendants(os.getpid()) if _state(p) not in ("Z", "X", "")]
        if not left:
            return True
        time.sleep(0.01)
    return False


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def remove_ipc() -> None:
    """System V shared memory, semaphores and queues, and POSIX message queues, a job made (private to this
    sandbox's IPC namespace): the next job of the executor starts with none."""
    try:
        for name in os.listdir("/dev/mqueue"):
            try:
                os.unlink(os.path.join("/dev/mqueue", name))   # mq_unlink
            except OSError:
                pass
    except OSError:
        pass
    for name, func, arg_count in (("shm", "shmctl", 3), ("sem", "semctl", 3), ("msg", "msgctl", 3)):
        try:
            with open(f"/proc/sysvipc/{name}") as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) < 2 or not cols[1].isdigit():
                continue
            ident = int(cols[1])
            fn = getattr(_libc, func)
            if name == "sem":
                fn(ctypes.c_int(ident), ctypes.c_int(0), ctypes.c_int(0))
            else:
                fn(ctypes.c_int(ident), ctypes.c_int(0), ctypes.c_void_p(None))


def mount_points() -> set[str]:
    """Mount points of this mount namespace (read-only binds that may sit inside /tmp)."""
    points: set[str] = set()
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 4:
                    points.add(fields[4].encode().decode("unicode_escape"))
    except OSError:
        pass
    return points


def wipe(path: str, keep_top: bool = True, mounts: set[str] | None = None) -> None:
    """Delete everything below ``path`` except mount points and the folders leading to them."""
    mounts = mount_points() if mounts is None else mounts

    def onerror(func: Any, p: str, exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(p) or p, 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        p = os.path.join(path, name)
        if p in mounts:
            continue
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                if any(m.startswith(p + "/") for m in mounts):
                    wipe(p, True, mounts)
                    continue
                os.chmod(p, 0o700)
                shutil.rmtree(p, onerror=onerror)
            else:
                os.unlink(p)
        except OSError:
            pass
    if not keep_top:
        shutil.rmtree(path, ignore_errors=True)
