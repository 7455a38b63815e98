"""The executor's processes as the parent sees them: started from one long-lived thread, named across pid
namespaces.

An executor dies with the thread that started it (bubblewrap's ``--die-with-parent`` and the kernel's
parent-death signal follow the creating *thread*), so ``spawn`` runs every start in one long-lived thread, never
in a short-lived worker thread of ``ExecutorPool.map``.  Inside the sandbox, pids are those of its own pid
namespace; ``nspid`` reads a process's pid at every level (``/proc/<pid>/status`` ``NSpid``) and ``child_named``
finds, among the children of the executor, the job's process the executor reported by its inner pid: its
subtree is the job's (``grader.course.sandbox.executor`` watches its memory from outside and can kill it).
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any

__all__ = ["spawn", "nspid", "children", "child_named"]


def nspid(pid: int) -> list[int]:
    """A process's pid in each pid namespace from this /proc's down to its own (empty when gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


def children(pid: int) -> list[int]:
    """The children of ``pid``'s main thread (an executor forks from it only)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(k) for k in fh.read().split()]
    except (OSError, ValueError):
        return []


def child_named(parent: int, inner_pid: int) -> int | None:
    """The child of ``parent`` whose pid in its own pid namespace is ``inner_pid`` (None when gone)."""
    return next((c for c in children(parent) if nspid(c)[-1:] == [inner_pid]), None)


_QUEUE: "queue.Queue[tuple[Any, Future]]" = queue.Queue()
_THREAD: threading.Thread | None = None
_LOCK = threading.Lock()


def _loop() -> None:
    while True:
        fn, fut = _QUEUE.get()
        try:
            fut.set_result(fn())
        except BaseException as exc:
            fut.set_exception(exc)


def spawn(fn: Any) -> Any:
    """Run ``fn`` (a Popen) in one long-lived thread.

    An executor dies with the thread that started it (``--die-with-parent`` and the kernel's
    parent-death signal follow the creating *thread*), so executors are never started from a
    short-lived worker thread of ``map``.
    """
    global _THREAD
    with _LOCK:
        if _THREAD is None or not _THREAD.is_alive():
            _THREAD = threading.Thread(target=_loop, name="calcgrade-executor-spawner", daemon=True)
            _THREAD.start()
    fut: Future = Future()
    _QUEUE.put((fn, fut))
    return fut.result()
