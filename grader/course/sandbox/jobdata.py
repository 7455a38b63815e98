"""What a sandboxed job is and what comes back: pure data shared by the pool, the executor and the cluster.

A ``Job`` (the notebook as nbgrader restored it, the submission's other files, the function inputs from the
private key, the student's variant numbers, the ``Limits``) is JSON-able and picklable, so that it can go to
a local executor over a socket or to a Dask worker; an ``Execution`` is what running it produced.  The
wire form the executor reads (``job_bytes``) and the checks made before a notebook is sent
(``notebook_problem``) live here too, next to the types they describe.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Limits", "Job", "Execution", "notebook_problem", "limits_of", "job_bytes", "empty_notebook"]


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    memory_bytes: int = 2 << 30
    cpu_seconds: int = 600
    processes: int = 64
    cell_timeout: float = 10.0
    notebook_timeout: float = 300.0


@dataclass
class Job:
    """One submission to run: pure data (JSON-able, picklable), sent to a pool or a Dask worker."""

    key: str
    notebook: dict
    files: dict[str, bytes]
    inputs: dict[str, list]
    limits: Limits = field(default_factory=Limits)
    variants: dict[str, dict] = field(default_factory=dict)   # qid -> the graded student's params (issue 23)


@dataclass
class Execution:
    """What running a Job produced.  ``payloads`` and ``stopped_at`` index ``notebook["cells"]``."""

    key: str
    notebook: dict
    payloads: dict[int, list[dict]]
    stopped: str | None
    stopped_at: int | None
    timed_out_cells: list[int]
    sandboxed: bool
    seconds: float
    worker: str = ""


def notebook_problem(notebook: Any) -> str | None:
    """Why ``notebook`` cannot be run at all (None when it has a list of cells)."""
    if not isinstance(notebook, dict):
        return f"the notebook is not a JSON object (it is {type(notebook).__name__})"
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return "the notebook has no list of cells"
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return f"cell {i} of the notebook is not a valid cell"
    return None


def limits_of(job: Job) -> Limits:
    """The job's limits as ``Limits`` (a job that crossed a wire may carry them as a plain mapping)."""
    return job.limits if isinstance(job.limits, Limits) else Limits(**dict(job.limits or {}))


def job_bytes(job: Job) -> bytes:
    """The job as the executor reads it: JSON, the files in base64."""
    limits = limits_of(job)
    doc = {
        "key": job.key,
        "notebook": job.notebook,
        "files": {str(k): base64.b64encode(bytes(v)).decode("ascii") for k, v in (job.files or {}).items()},
        "inputs": job.inputs or {},
        "variants": getattr(job, "variants", None) or {},
        "limits": asdict(limits),
    }
    return json.dumps(doc).encode("utf-8")


def empty_notebook(notebook: dict) -> dict:
    nb = copy.deepcopy(notebook)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb
