"""Whether an assignment's private key is current: built from the solutions as they are now.

Kept apart from ``keybuild`` (which runs the solutions and needs SymPy and a kernel) because grading asks
this once per run before anything else: ``calcgrade autograde`` refuses a stale key without importing
what only building one needs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from grader.key import files

__all__ = ["solution_notebooks", "solutions_digest", "private_key_problem"]


def solution_notebooks(folder: Path) -> list[Path]:
    """The notebooks of a solutions folder (not hidden ones such as checkpoints)."""
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def _grades_by(cell: Any) -> bool:
    """Whether a cell can change a grade: code (answers, question declarations, test cells, the setup
    they run in) and graded or solution Markdown.  Prose (any other Markdown or raw cell) cannot."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" or bool(meta.get("solution") or meta.get("grade") or meta.get("task"))


def _support_files(folder: Path) -> list[Path]:
    """The assignment's other files the solutions may read (data, helper modules); not the public key the
    build itself writes, nor caches and checkpoints."""
    from grader.key.files import PUBLIC_KEY_NAME

    skip = {".ipynb_checkpoints", "__pycache__"}
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".ipynb"
                  and p.name != PUBLIC_KEY_NAME and not p.name.startswith(".")
                  and not skip.intersection(p.relative_to(folder).parts))


def solutions_digest(course_root: Path, assignment: str) -> str:
    """A digest of what can change a grade: each solution notebook's code cells and graded cells (source
    and nbgrader metadata: points, grade ids; so answer and test cells, question declarations with their
    options), and the assignment's other files.  Not prose, not outputs: a typo fixed in a Markdown cell,
    or a notebook re-run or re-saved, leaves a released key valid in the middle of a course."""
    import nbformat

    folder = Path(course_root) / "solutions" / assignment
    h = hashlib.sha256(b"calcgrade-solutions/2")
    for path in solution_notebooks(folder):
        h.update(b"\0" + path.name.encode())
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:  # unreadable: its bytes stand for it
            h.update(path.read_bytes())
            continue
        for cell in nb.cells:
            if not _grades_by(cell):
                continue
            meta = dict(cell.get("metadata", {}).get("nbgrader", {}))
            meta.pop("checksum", None)
            h.update(json.dumps([cell.cell_type, cell.source, meta], sort_keys=True).encode())
    for path in _support_files(folder):
        h.update(b"\1" + path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def private_key_problem(course_root: Path, assignment: str) -> str | None:
    """None when the private key exists and was built from the current solutions; else one sentence
    ending with "run `calcgrade release <assignment>`" (grading refuses on it, validate reports it)."""
    fix = f"run `calcgrade release {assignment}`"
    path = files.private_key_path(Path(course_root), assignment)
    if not path.is_file():
        return f"{assignment} has no private key ({path} is missing): {fix}"
    try:
        key = files.load_key(path)
    except (OSError, ValueError) as exc:
        return f"the private key {path} cannot be read ({exc.__class__.__name__}): {fix}"
    if not key.get("solutions_digest"):
        return f"the private key of {assignment} does not say which solutions it was built from: {fix}"
    if key.get("solutions_digest") != solutions_digest(Path(course_root), assignment):
        return (f"the private key of {assignment} was built from older solutions (solutions/{assignment} "
                f"changed since): {fix}")
    return None
