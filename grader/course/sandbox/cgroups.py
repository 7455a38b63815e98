"""Kernel-enforced memory and process limits for an executor's sandbox, where the machine offers a cgroup.

The executor's polls (``grader.course.sandbox.zygote`` every 0.25 s, the parent every 0.5 s) look at memory
between two moments; a cgroup bounds it at every page.  ``ExecutorCgroup.create`` makes a cgroup per
executor below the grader's own cgroup:

* cgroup v2 when the grader's cgroup is delegated with ``memory`` and ``pids`` in its
  ``cgroup.subtree_control`` (``memory.max``, ``pids.max``, ``memory.events``' ``oom_kill``);
* else cgroup v1, the ``memory`` and ``pids`` hierarchies, when their folders are writable (as root)
  (``memory.limit_in_bytes``, ``pids.max``, ``memory.oom_control``'s ``oom_kill``).

The executor's processes are moved in once it is ready (``adopt``): pages are charged to the cgroup that
first touched them, so the warm-up stays charged outside and the limit counts what the jobs add.  Each job's
limits are set before it runs (``set_limits``); ``oom_kills`` tells the caller that the kernel killed a
process of the sandbox for memory.  ``remove`` deletes the cgroup when the executor stops; ``create`` first
removes the empty cgroups that a killed grader left (named after a process that no longer exists).  Where
no cgroup can be made, ``create`` returns None and says why once (``unavailable``); the polls remain the
limit.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["ExecutorCgroup", "unavailable", "PREFIX"]

PREFIX = "calcgrade-"
_LOG = logging.getLogger(__name__)
_V2_ROOT_HINTS = ("/sys/fs/cgroup/unified", "/sys/fs/cgroup")
_V1_ROOT = "/sys/fs/cgroup"
_said: list[str] = []


def _own_cgroups() -> dict[str, str]:
    """Controller (or "" for cgroup v2) -> this process's cgroup path, from /proc/self/cgroup."""
    out: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in (parts[1].split(",") if parts[1] else [""]):
            out[controller] = parts[2]
    return out


def _v2_mount() -> str | None:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if " - cgroup2 " in line:
            return line.split()[4]
    return None


def _creator_alive(name: str) -> bool:
    parts = name[len(PREFIX):].split("-")
    return bool(parts) and parts[0].isdigit() and os.path.exists(f"/proc/{parts[0]}")


def _sweep(parent: Path) -> None:
    """Remove empty cgroups of ours whose grader process is gone (a run that was killed)."""
    try:
        names = [p.name for p in parent.iterdir() if p.is_dir() and p.name.startswith(PREFIX)]
    except OSError:
        return
    for name in names:
        if not _creator_alive(name):
            try:
                os.rmdir(parent / name)
            except OSError:
                pass


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _count(path: Path, key: str) -> int:
    """The value of ``key`` in a "key value" file (0 when missing)."""
    try:
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
                return int(parts[1])
    except OSError:
        pass
    return 0


def _say_once(why: str) -> None:
    if not _said:
        _said.append(why)
        _LOG.debug("no cgroup for the executors (the memory polls are the limit): %s", why)


def unavailable() -> str | None:
    """Why the last ``create`` found no cgroup (None when one was made, or none was tried)."""
    return _said[0] if _said else None


class ExecutorCgroup:
    """One executor's cgroup: its memory folder and pids folder (the same one under cgroup v2)."""

    def __init__(self, version: int, memory: Path, pids: Path) -> None:
        self.version = version
        self.memory = memory
        self.pids = pids

    @property
    def folders(self) -> list[Path]:
        return [self.memory] if self.memory == self.pids else [self.memory, self.pids]

    @classmethod
    def create(cls) -> "ExecutorCgroup | None":
        """A new cgroup below this process's own, or None (why: ``unavailable``)."""
        name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        own = _own_cgroups()
        mount = _v2_mount()
        problems = []
        if mount and "" in own:
            parent = Path(mount + own[""].rstrip("/"))
            try:
                delegated = set((parent / "cgroup.subtree_control").read_text().split())
            except OSError:
                delegated = set()
            if {"memory", "pids"} <= delegated:
                _sweep(parent)
                try:
                    (parent / name).mkdir()
                    return cls(2, parent / name, parent / name)
                except OSError as exc:
                    problems.append(f"cgroup v2 at {parent} is not writable ({exc.strerror})")
            else:
                problems.append(f"cgroup v2 at {parent} does not delegate memory and pids")
        if "memory" in own and "pids" in own:
            made: list[Path] = []
            for controller in ("memory", "pids"):
                parent = Path(_V1_ROOT, controller + own[controller].rstrip("/"))
                _sweep(parent)
                try:
                    (parent / name).mkdir()
                    made.append(parent / name)
                except OSError as exc:
                    problems.append(f"cgroup v1 {controller} at {parent} is not writable ({exc.strerror})")
                    break
            if len(made) == 2:
                return cls(1, made[0], made[1])
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    pass
        else:
            problems.append("no cgroup v1 memory and pids hierarchies")
        _say_once("; ".join(problems) or "no cgroup found")
        return None

    def adopt(self, pids: list[int]) -> None:
        """Move these processes (the sandbox's) into the cgroup."""
        for folder in self.folders:
            for pid in pids:
                try:
                    _write(folder / "cgroup.procs", str(pid))
                except OSError:
                    pass   # a process that has just ended

    def set_limits(self, memory_bytes: int, processes: int) -> None:
        """The memory limit (bytes, the job's and the executor's new pages together) and the number of tasks."""
        if self.version == 2:
            _write(self.memory / "memory.max", str(int(memory_bytes)))
            try:
                _write(self.memory / "memory.swap.max", "0")
            except OSError:
                pass
        else:
            # memory+swap may never be below memory alone: around the memory limit, whichever order works
            memsw = self.memory / "memory.memsw.limit_in_bytes"
            for path in (memsw, self.memory / "memory.limit_in_bytes", memsw):
                try:
                    _write(path, str(int(memory_bytes)))
                except OSError:
                    if path != memsw:
                        raise
        _write(self.pids / "pids.max", str(int(processes)))

    def start_job(self, memory_bytes: int, processes: int) -> int:
        """Set a job's limits (a failure is logged, the polls remain); the memory kills so far, to compare
        with ``killed_for_memory`` when the job is over."""
        try:
            self.set_limits(memory_bytes, processes)
        except OSError as exc:
            _LOG.debug("the cgroup's limits could not be set: %s", exc)
        return self.oom_kills()

    def killed_for_memory(self, kills_before: int, outcome: dict[str, Any]) -> bool:
        """The kernel killed a process of the sandbox for memory since ``start_job``, and the job ended by a
        kill (its own process, or the whole executor: ``outcome`` is the executor's answer)."""
        if self.oom_kills() <= kills_before:
            return False
        stopped = outcome.get("stopped")
        return outcome.get("op") == "eof" or (isinstance(stopped, str) and "killed" in stopped)

    def oom_kills(self) -> int:
        """How many processes of the cgroup the kernel killed for memory so far."""
        if self.version == 2:
            return _count(self.memory / "memory.events", "oom_kill")
        return _count(self.memory / "memory.oom_control", "oom_kill")

    def fork_refusals(self) -> int:
        """How many forks the pids limit refused so far."""
        return _count(self.pids / "pids.events", "max")

    def remove(self, wait: float = 5.0) -> None:
        """Delete the cgroup (its processes must be ending: retried for ``wait`` seconds)."""
        deadline = time.monotonic() + wait
        for folder in self.folders:
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() >= deadline:
                        _LOG.debug("the cgroup %s could not be removed", folder)
                        break
                    time.sleep(0.02)
