"""Shared by tests/test_executor.py and tests/test_sandbox.py: one warm pool per test session.

Starting an executor pays the imports and the warm-up (several seconds on a busy machine), so the
tests share one sandboxed pool of one executor; it is closed at the end of the session (and its
processes die with this one in any case: bubblewrap's --die-with-parent).
"""

from __future__ import annotations

import atexit
from typing import Any

from grader.course.sandbox.executor import ExecutorPool, Job, Limits

_POOLS: dict[bool, ExecutorPool] = {}

FAST = Limits(cell_timeout=2.0, notebook_timeout=60.0)


def pool(sandbox: bool = True) -> ExecutorPool:
    if sandbox not in _POOLS:
        p = ExecutorPool(1, sandbox=sandbox)
        _POOLS[sandbox] = p
        atexit.register(p.close)
    return _POOLS[sandbox]


def notebook(*sources: str) -> dict[str, Any]:
    """An nbformat-4 notebook whose code cells are ``sources`` (a markdown cell first)."""
    cells: list[dict[str, Any]] = [{"cell_type": "markdown", "metadata": {}, "source": "# test"}]
    for src in sources:
        cells.append({"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None})
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def job(key: str, *sources: str, limits: Limits = FAST, files: dict[str, bytes] | None = None,
        inputs: dict[str, list] | None = None) -> Job:
    return Job(key, notebook(*sources), files or {}, inputs or {}, limits)


def texts(execution: Any, cell: int) -> str:
    """All stream text of one cell (cell index in notebook["cells"])."""
    return "".join(o.get("text", "") for o in execution.notebook["cells"][cell].get("outputs", [])
                   if o.get("output_type") == "stream")


def errors(execution: Any, cell: int) -> list[str]:
    return [o["ename"] for o in execution.notebook["cells"][cell].get("outputs", [])
            if o.get("output_type") == "error"]


def fork_bomb_job(key: str) -> Job:
    """A notebook whose first cell hands over ``kept`` = 1 and whose second forks until refused, forever
    (16 processes allowed, 1 s per cell)."""
    return job(key, "from grader import check\ncheck('kept', 1)",
               "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
               limits=Limits(processes=16, cell_timeout=1.0, notebook_timeout=30.0))
