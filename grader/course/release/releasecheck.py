"""What is wrong with a release, said in one or two sentences: where (assignment, notebook, cell,
question id) and what.

Why a check of our own before nbgrader: nbgrader finds a broken solution region only halfway through
``generate_assignment``, after it has logged a traceback and removed the previous release.  The
structural slips an author makes (a missing ``### END SOLUTION``, a region outside a solution cell,
two cells with one grade id) are found here first, named by cell and question, so a refused release
can say exactly where to look.  What nbgrader still refuses is summarised from its log.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat

from grader.key.testcell import checked_question

__all__ = ["cell_label", "notebook_problems", "assignment_problems", "summarise_nbgrader_log", "first_sentence"]

_REGIONS = (("BEGIN SOLUTION", "END SOLUTION", "solution"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "hidden-tests"))


def cell_label(assignment: str, notebook: str, index: int, cell: Any) -> str:
    """``02_derivatives/derivatives.ipynb, cell 8 (ans_chain_rule, question chain_rule)``."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    parts = [str(meta["grade_id"])] if meta.get("grade_id") else []
    qid = checked_question(cell.get("source", ""), calls=("check", "question")).qid
    if qid is not None:
        parts.append(f"question {qid}")
    extra = f" ({', '.join(parts)})" if parts else ""
    return f"{assignment}/{notebook}, cell {index + 1}{extra}"


def _region_problems(source: str) -> list[str]:
    problems = []
    for begin, end, name in _REGIONS:
        depth = 0
        for line in source.split("\n"):
            if begin in line:
                if depth:
                    problems.append(f"a second `### {begin}` before the `### {end}` of the first")
                depth = 1
            elif end in line:
                if not depth:
                    problems.append(f"`### {end}` without a `### {begin}` above it")
                depth = 0
        if depth:
            problems.append(f"`### {begin}` has no matching `### {end}`")
    return problems


def notebook_problems(path: Path, assignment: str) -> list[str]:
    """Structural problems nbgrader would refuse (or silently mis-release), one sentence each."""
    path = Path(path)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # not JSON, not a notebook
        return [f"{assignment}/{path.name} cannot be read as a notebook ({exc.__class__.__name__}: "
                f"{str(exc)[:160]})"]
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        where = cell_label(assignment, path.name, index, cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        problems += [f"{where}: {p}" for p in _region_problems(cell.get("source", ""))]
        if "BEGIN SOLUTION" in cell.get("source", "") and not meta.get("solution"):
            problems.append(f"{where}: a `### BEGIN SOLUTION` region in a cell that is not marked as a solution "
                            "cell (nbgrader would release it unchanged)")
        marked = meta.get("solution") or meta.get("grade") or meta.get("locked") or meta.get("task")
        gid = meta.get("grade_id")
        if marked and not gid:
            problems.append(f"{where}: an nbgrader cell without a grade id")
        elif gid:
            if gid in seen:
                problems.append(f"{where}: grade id {gid!r} is also used by cell {seen[gid] + 1}")
            seen.setdefault(gid, index)
    return problems


def assignment_problems(course_root: Path, assignment: str) -> list[str]:
    """``notebook_problems`` of every solution notebook of the assignment."""
    folder = Path(course_root) / "solutions" / assignment
    out: list[str] = []
    for path in sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith(".")):
        out += notebook_problems(path, assignment)
    return out


def summarise_nbgrader_log(log: str, fallback: str) -> str:
    """What nbgrader says went wrong: the first exception message in its log (the cause; later ones
    only repeat that the notebook failed), else its first error line, else ``fallback``."""
    lines = [re.sub(r"^\[[^\]]*\]\s*", "", line).strip() for line in (log or "").splitlines() if line.strip()]
    for text in lines:
        match = re.match(r"^[A-Za-z_.]*(?:Error|Exception): (.+)$", text)
        if match:
            return match.group(1)[:300]
    for raw in (log or "").splitlines():
        if re.search(r"\b(ERROR|CRITICAL)\]", raw):
            return re.sub(r"^\[[^\]]*\]\s*", "", raw.strip()).strip()[:300]
    return fallback


def first_sentence(problems: list[str]) -> str:
    """The first problem, and how many more there are (the rest with ``-v``)."""
    if not problems:
        return ""
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''}; -v lists them)" if more else "")
