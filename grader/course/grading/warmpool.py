"""An executor pool started in the background: ``calcgrade autograde`` reads the course and prepares its first
students while the pool warms up, and ``calcgrade demo`` releases its assignments meanwhile.

The sandbox probe (``sandbox_available``) runs beside the pool's start, not before it: it only decides whether
work may be prepared ahead (a refused run must leave every earlier autograded copy alone) and explains a pool
that could not start."""

from __future__ import annotations

import os
import threading
from typing import Any

from grader.course.grading.trusted import GradingRefused

__all__ = ["WarmPool"]


class WarmPool:
    """An ExecutorPool started in the background, so that its warm-up overlaps other work (reading the course;
    the demo's release).  ``sandbox_usable()`` waits for the sandbox probe only; ``get()`` for the pool, and
    turns a sandbox that cannot be made into a GradingRefused that says why and what to do."""

    def __init__(self, workers: int | None, sandbox: bool) -> None:
        self.pool: Any = None
        self.error: BaseException | None = None
        self.count = max(1, int(workers or os.cpu_count() or 1))
        self.checked = threading.Event()   # the sandbox's check has run (its answer: self.usable)
        self.usable = not sandbox
        self.thread = threading.Thread(target=self._start, args=(sandbox,), daemon=True)
        self.thread.start()

    def _start(self, sandbox: bool) -> None:
        try:
            from grader.course.sandbox.executor import ExecutorPool

            if sandbox:   # the probe answers sandbox_usable() while the executor starts: neither waits
                threading.Thread(target=self._probe, daemon=True, name="calcgrade-sandbox-probe").start()
            else:
                self.checked.set()
            self.pool = ExecutorPool(self.count, sandbox=sandbox)
        except BaseException as exc:  # reported by get()
            self.error = exc
            self.checked.set()

    def _probe(self) -> None:
        try:
            from grader.course.sandbox.executor import sandbox_available

            self.usable = sandbox_available()[0]
        finally:
            self.checked.set()

    def sandbox_usable(self) -> bool:
        """True once the sandbox is known to work here (or is not asked for): work may be prepared."""
        self.checked.wait()
        return self.usable and self.error is None

    def get(self) -> Any:
        self.thread.join()
        if self.error is not None:
            from grader.course.sandbox.executor import SandboxUnavailable

            if isinstance(self.error, SandboxUnavailable):
                why = self.error.why
                if "--no-sandbox" not in why:
                    why += "; pass --no-sandbox to grade anyway (the students' code then runs with your rights)"
                raise GradingRefused(f"no sandbox is available here: {why}") from None
            raise self.error
        return self.pool

    def close(self) -> None:
        self.thread.join()
        if self.pool is not None:
            self.pool.close()
