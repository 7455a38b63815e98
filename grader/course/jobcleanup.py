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

__all__ = ["kill_everything", "remove_ipc", "wipe"]

_libc = ctypes.CDLL(None, use_errno=True)


def _other_pids() -> list[int]:
    me = os.getpid()
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            out.append(int(name))
    return out


def _descendants(pid: int) -> list[int]:
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


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_everything(sandboxed: bool, child: int) -> None:
    """Kill every process the job left: the whole pid namespace, or (plain) all our descendants."""
    deadline = time.monotonic() + 5.0
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
            left = _descendants(os.getpid())
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _reap()
            left = [p for p in _descendants(os.getpid()) if _state(p) not in ("Z", "X", "")]
        if not left:
            return
        time.sleep(0.01)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def remove_ipc() -> None:
    """System V shared memory, semaphores and queues a job made (private to this IPC namespace)."""
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


def wipe(path: str, keep_top: bool = True) -> None:
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
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
                shutil.rmtree(p, onerror=onerror)
            else:
                os.unlink(p)
        except OSError:
            pass
    if not keep_top:
        shutil.rmtree(path, ignore_errors=True)
