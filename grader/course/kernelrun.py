"""Run a notebook top to bottom in a fresh kernel (nbclient), for key building and scorecards.

Kept apart from both users so they execute notebooks the same way: the kernel starts in the
notebook's own folder (where its public key lives), with the caller's extra environment variables,
errors in cells do not stop the run, and each cell can report progress.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Callable, Mapping

import nbformat

from grader.key.testcell import checked_question

__all__ = ["NotebookRunError", "read_notebook", "run_notebook", "test_cells"]


class NotebookRunError(RuntimeError):
    """The notebook could not be run at all (missing, not JSON, kernel died at start)."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook, turning every way it can be unreadable into NotebookRunError."""
    if not path.is_file():
        raise NotebookRunError(f"{path}: no such notebook")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # invalid JSON, wrong schema, binary junk
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise NotebookRunError(f"{path}: not a readable notebook ({first[:200]})") from None
    return nb


def run_notebook(
    path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cell_timeout: int = 60,
    on_cell: Callable[[int, int], None] | None = None,
) -> nbformat.NotebookNode:
    """Execute ``path`` in a fresh python3 kernel; return the notebook with its outputs.

    ``on_cell(done, total)`` is called after each code cell.  Cell errors are kept as outputs.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = read_notebook(path)
    total = sum(1 for c in nb.cells if c.cell_type == "code")
    done = [0]

    def _after(cell: nbformat.NotebookNode, cell_index: int, **_: object) -> None:
        if cell.get("cell_type") == "code":
            done[0] += 1
            if on_cell is not None:
                on_cell(done[0], total)

    full_env = dict(os.environ)
    full_env.update(env or {})
    # the kernel must import the same grader as this process
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(Path(__file__).resolve().parents[2]), full_env.get("PYTHONPATH", "")] if p
    )
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(path.parent.resolve())}},
        on_cell_executed=_after,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
    )
    try:
        # the kernel's own start-up chatter (e.g. a TCP warning) is not the notebook's output
        client.execute(env=full_env, cwd=str(path.parent.resolve()), stderr=subprocess.DEVNULL)
    except (DeadKernelError, CellTimeoutError) as exc:
        # keep what ran; the caller reads the outputs it has
        nb.metadata["calcgrade_run_error"] = str(exc).splitlines()[0][:300] if str(exc) else "kernel died"
    except Exception as exc:
        raise NotebookRunError(f"{path}: could not run ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    return nb


def test_cells(nb: Any) -> tuple[dict[str, float], list[str]]:
    """{qid: points} of the graded test cells of a notebook, and the problems found."""
    points: dict[str, float] = {}
    problems: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        checked = checked_question(cell.source)
        gid = meta.get("grade_id", f"cell {index}")
        if checked.qid is None:
            if len(checked.named) > 1:
                problems.append(f"test cell {gid!r} checks several questions ({', '.join(checked.named)}); "
                                "use one cell each")
            elif checked.problem:
                problems.append(f"test cell {gid!r}: {checked.problem}")
            continue
        qid = checked.qid
        if qid in points:
            problems.append(f"question {qid!r} has more than one graded test cell")
            continue
        try:
            points[qid] = float(meta.get("points", 0))
        except (TypeError, ValueError):
            problems.append(f"test cell {gid!r} has invalid points {meta.get('points')!r}")
    return points, problems
