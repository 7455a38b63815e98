"""The executor's watch over one running job: its clock, interrupts, memory, kills, and its end.

``grader.course.sandbox.zygote`` runs several jobs at once and drives one ``JobWatch`` per job from its single
select loop: ``fds`` (the job's pidfd, its timing pipe, and once the job's keeper is gone, its init's pidfd),
``deadline`` (when to look again at the latest) and ``step`` (react to what is ready and to the clock).  A cell
past its timeout gets SIGINT (KeyboardInterrupt, as Jupyter interrupts a kernel), then SIGKILL after
``INTERRUPT_GRACE``; the notebook is killed at its wall time; the memory of the job's processes together is
polled every ``MEMORY_POLL`` seconds (below the job's init where it has namespaces of its own,
``grader.course.sandbox.jobns``; else every process of the sandbox but the executor, the job then running alone).
Killing a job kills its keeper; the job is over once its init is gone (``init_gone``), which the kernel allows
only once every process of the job's pid namespace has ended.  ``outcome`` is the answer to the parent.
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import Any

from grader.course.sandbox import jobcleanup as cleanup
from grader.course.sandbox import jobns

__all__ = ["JobWatch", "INTERRUPT_GRACE", "MEMORY_POLL"]

INTERRUPT_GRACE = 3.0        # seconds a cell has to stop after its KeyboardInterrupt
MEMORY_POLL = 0.25           # seconds between two looks at the memory a job's processes use together


class JobWatch:
    """The zygote's view of one running job: the cell clock, interrupts, memory, kills, and the wait until every
    process of the job is gone.  Driven by ``serve``'s select loop (``fds``, ``deadline``, ``step``), beside the
    other jobs of the executor."""

    def __init__(self, job_id: int, pid: int, timing_fd: int, limits: dict[str, Any], sandboxed: bool = True,
                 namespaces: bool = False) -> None:
        self.job_id = job_id
        self.pid = pid
        self.sandboxed = sandboxed
        self.namespaces = namespaces
        self.timing_fd = timing_fd
        self.timing_open = True
        self.pidfd: int | None = os.pidfd_open(pid)
        self.started = time.monotonic()
        self.next_memory_look = self.started + MEMORY_POLL
        self.status: int | None = None      # K's wait status, once reaped
        self.init: int | None = None        # I (jobns), once K made it
        self.init_pidfd: int | None = None
        self.drain_deadline = 0.0
        self.workdir = ""
        self.cell_timeout = float(limits.get("cell_timeout", 10.0))
        self.notebook_timeout = float(limits.get("notebook_timeout", 300.0))
        self.cpu_seconds = int(limits.get("cpu_seconds", 600))
        self.memory = int(limits.get("memory_bytes", 2 << 30))
        self.current: int | None = None
        self.cell_started = 0.0
        self.interrupted_at: float | None = None
        self.timed_out: list[int] = []
        self.stopped: str | None = None
        self.stopped_at: int | None = None
        self.done = False
        self.buffer = b""
        # The timing pipe is written by the job's own process, where student code runs: what it says is a
        # claim, and a false one must not buy time.  A cell may start only once, in order, and only if it is
        # a code cell of the notebook (the parent sends their indexes); the end of a cell does not stop the
        # clock, it starts the next one (the gap before the next cell has the same limit as a cell).  A job
        # therefore never runs longer than an honest notebook of its length could.
        cells = limits.get("cells")
        self.code_cells: set[int] | None = (
            {c for c in cells if isinstance(c, int) and not isinstance(c, bool)} if isinstance(cells, list) else None)
        self.last_started = -1

    def _on_line(self, line: str) -> None:
        parts = line.split()
        if not parts:
            return
        now = time.monotonic()
        if parts[0] == "S" and len(parts) == 2 and parts[1].isdigit():
            index = int(parts[1])
            if index <= self.last_started or (self.code_cells is not None and index not in self.code_cells):
                return  # a cell started twice, out of order or not a code cell: a forged line
            self.last_started = index
            self.current = index
            self.cell_started = now
            self.interrupted_at = None
        elif parts[0] == "E" and self.current is not None and self.interrupted_at is None:
            self.current = None
            self.cell_started = now        # the gap to the next cell runs on the same clock
        elif parts[0] == "D":
            self.done = True

    def _read_timing(self) -> bool:
        """Read what the child said (non-blocking); False once the pipe is closed."""
        try:
            data = os.read(self.timing_fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            return False
        self.buffer = (self.buffer + data)[-65536:]
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self._on_line(line.decode("ascii", "replace"))
        return True

    def _find_init(self) -> None:
        if self.init is None and self.namespaces and self.status is None:
            init = jobns.init_of(self.pid)
            if init is not None:
                try:
                    self.init_pidfd = os.pidfd_open(init)
                    self.init = init
                except OSError:
                    pass

    def _kill(self, why: str) -> None:
        if self.stopped is None:
            self.stopped = why
            self.stopped_at = self.current
        self._find_init()   # before K goes: afterwards no list names I
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @property
    def running(self) -> bool:
        return self.status is None

    def fds(self) -> list[int]:
        out = [self.timing_fd] if self.timing_open else []
        if self.pidfd is not None:
            out.append(self.pidfd)
        if self.status is not None and self.init_pidfd is not None:
            out.append(self.init_pidfd)
        return out

    def deadline(self) -> float:
        """When ``step`` must run next at the latest."""
        if self.status is not None:
            return time.monotonic() + 0.05   # draining: look for stray processes now and then
        deadlines = [self.started + self.notebook_timeout, self.next_memory_look]
        if self.current is not None:
            if self.interrupted_at is None:
                deadlines.append(self.cell_started + self.cell_timeout)
            else:
                deadlines.append(self.interrupted_at + INTERRUPT_GRACE)
        elif self.last_started >= 0:
            deadlines.append(self.cell_started + self.cell_timeout + INTERRUPT_GRACE)
        return min(deadlines)

    def step(self, ready: set[int]) -> None:
        """React to what is ready and to the clock."""
        if self.timing_open and self.timing_fd in ready:
            self.timing_open = self._read_timing()
        if self.pidfd is not None and self.pidfd in ready:
            self._find_init()
            _, self.status = os.waitpid(self.pid, 0)
            os.close(self.pidfd)
            self.pidfd = None
            # what is left in the pipe (descendants may hold it open: never wait for EOF)
            for _ in range(64):
                if not self.timing_open or not select.select([self.timing_fd], [], [], 0)[0]:
                    break
                self.timing_open = self._read_timing()
            self.drain_deadline = time.monotonic() + cleanup.KILL_PATIENCE
            return
        if self.status is not None:
            return
        now = time.monotonic()
        if self.init is None:
            self._find_init()
        if now >= self.next_memory_look:
            self.next_memory_look = now + MEMORY_POLL
            used = self.memory_used()
            if used > self.memory:
                self._kill(f"the notebook's processes used more than its memory limit together "
                           f"({used / (1 << 30):.1f} GiB of {self.memory / (1 << 30):g} GiB)")
                return
        if now >= self.started + self.notebook_timeout:
            self._kill(f"the notebook ran longer than its time limit ({self.notebook_timeout:g} s)")
        elif self.current is not None and self.interrupted_at is not None:
            if now >= self.interrupted_at + INTERRUPT_GRACE:
                self._kill(f"cell {self.current} did not stop within {INTERRUPT_GRACE:g} s of being "
                           f"interrupted at its time limit ({self.cell_timeout:g} s)")
        elif (self.current is None and self.last_started >= 0
              and now >= self.cell_started + self.cell_timeout + INTERRUPT_GRACE):
            self._kill(f"the notebook ran past its time limit after cell {self.last_started} "
                       f"({self.cell_timeout:g} s per cell)")
        elif self.current is not None and now >= self.cell_started + self.cell_timeout:
            self.timed_out.append(self.current)
            self.interrupted_at = now
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def memory_used(self) -> int:
        """Memory of the job's processes together: below its init (its own pid namespace), or every process of
        the sandbox but the executor when the job has no namespaces of its own (then it runs alone)."""
        if not self.namespaces:
            return cleanup.job_memory(self.sandboxed)
        if self.init is None:
            return 0
        return sum(cleanup.memory_of(p) for p in cleanup.descendants(self.init))

    def init_gone(self) -> bool:
        """The job's init has ended (the kernel ended every process of its pid namespace first)."""
        if self.init_pidfd is None:
            return True
        if not select.select([self.init_pidfd], [], [], 0)[0]:
            return False
        try:
            os.waitpid(self.init, os.WNOHANG)   # ours to reap when K went first (this process is a subreaper)
        except ChildProcessError:
            pass
        os.close(self.init_pidfd)
        self.init_pidfd = None
        return True

    def close(self) -> None:
        for fd in (self.pidfd, self.init_pidfd, self.timing_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.pidfd = self.init_pidfd = None

    def outcome(self, status: int) -> dict[str, Any]:
        stopped, stopped_at = self.stopped, self.stopped_at
        if stopped is None and not self.done:
            stopped_at = self.current
            where = f" during cell {stopped_at}" if stopped_at is not None else ""
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                if sig == signal.SIGXCPU:
                    stopped = f"the process used more than its CPU time ({self.cpu_seconds} s){where}"
                elif sig == signal.SIGSEGV:
                    stopped = f"the process crashed (segmentation fault){where}"
                elif sig == signal.SIGKILL:
                    stopped = f"the process was killed (out of memory?){where}"
                else:
                    try:
                        name = signal.Signals(sig).name
                    except ValueError:
                        name = str(sig)
                    stopped = f"the process was killed by {name}{where}"
            elif os.WIFEXITED(status):
                code = os.WEXITSTATUS(status)
                if code == 3:
                    stopped = f"the process ran out of memory (limit {self.memory / (1 << 30):g} GiB){where}"
                elif code == 4:
                    stopped = (f"the grader failed while running the notebook{where} (a fault of the grader, "
                               "not of the submission; the instructor has the details)")
                else:
                    stopped = f"the process exited (exit status {code}){where}"
            else:
                stopped = f"the process stopped{where}"
        return {"op": "done", "job": self.job_id, "stopped": stopped, "stopped_at": stopped_at,
                "timed_out_cells": self.timed_out}
