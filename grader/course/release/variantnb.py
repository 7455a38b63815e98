"""``calcgrade variant ASSIGNMENT STUDENT -o FILE [--solution]``: the notebook one student sees.

Without ``--solution``: the released notebook (exercises/) with, under every ``variant("qid")`` call, the
statement with STUDENT's numbers already shown (the student sees the same once they run the cell).
With ``--solution``: a submission as a student who solved their own variant would hand it in: the released
notebook whose answer cells hold the solution's code (key declarations dropped), each ``variant("qid")``
call with STUDENT's numbers written in (``variant("qid", a=2, b=5)``), so it runs anywhere and gets full
marks when graded as STUDENT's, and loses the variant points under any student with other numbers.

The numbers come from the public key (``grader.key.variants.student_variant``): the same pure function the
kernel and the trusted grader use.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path
from typing import Any

from grader.key import files
from grader.key import variants as kv

__all__ = ["variant_notebook", "pin_variants", "student_numbers", "main", "add_arguments", "VariantNotebookError"]

_CALL = re.compile(r"""variant\(\s*["']([^"']+)["']\s*\)""")
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"


class VariantNotebookError(RuntimeError):
    """The notebook cannot be written; the message says what is missing and what to run."""


def _literal(value: Any) -> str:
    """Python source that rebuilds ``value`` in a course notebook (where ``sp`` is SymPy)."""
    import sympy as sp

    if isinstance(value, bool) or isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, sp.MatrixBase):
        return f"sp.Matrix({[[str(x) for x in row] for row in value.tolist()]!r})".replace("'", "")
    if isinstance(value, sp.Integer):
        return str(int(value))
    if isinstance(value, sp.Basic):
        return f"sp.sympify({str(value)!r})"
    return repr(value)


def pin_variants(source: str, numbers: dict[str, dict[str, Any]]) -> str:
    """``source`` with each ``variant("qid")`` call given the numbers of ``numbers[qid]`` literally."""

    def pin(match: "re.Match[str]") -> str:
        qid = match.group(1)
        given = numbers.get(qid)
        if not given:
            return match.group(0)
        args = ", ".join(f"{k}={_literal(v)}" for k, v in given.items())
        return f'variant("{qid}", {args})'

    return _CALL.sub(pin, source)


def _solution_source(source: str, numbers: dict[str, dict[str, Any]]) -> str:
    from grader.course.release.releaseprep import drop_declaration_regions

    kept = [line for line in drop_declaration_regions(source).split("\n") if line.strip() not in (_BEGIN, _END)]
    text = pin_variants("\n".join(kept), numbers)
    return re.sub(r"(?m)^(\s*[A-Za-z_]\w*\s*=\s*\.\.\.)\s*#.*\n", "", text)  # the placeholder line goes


def _chosen(key: dict[str, Any], student: str) -> dict[str, dict[str, Any]]:
    return {qid: (kv.student_variant(key, qid, student) or {}).get("variant") or {}
            for qid, entry in (key.get("questions") or {}).items() if kv.is_variant(entry)}


def student_numbers(key: dict[str, Any], student: str) -> dict[str, dict[str, Any]]:
    """qid -> ``student``'s numbers (Python/SymPy values) for every variant question of ``key``."""
    return {qid: dict(kv.read_params(v.get("params") or {})) for qid, v in _chosen(key, student).items()}


def variant_notebook(course_root: Path, assignment: str, student: str, *, solution: bool = False,
                     notebook: str | None = None) -> Any:
    """The notebook STUDENT sees (or, with ``solution``, would submit): an nbformat notebook."""
    import nbformat

    root = Path(course_root)
    released = sorted((root / "exercises" / assignment).glob("*.ipynb"))
    if notebook:
        released = [p for p in released if p.stem == Path(notebook).stem]
    if not released:
        raise VariantNotebookError(f"exercises/{assignment} holds no released notebook"
                                   + (f" named {notebook}" if notebook else "")
                                   + f": run `calcgrade release {assignment}` first")
    if len(released) > 1:
        raise VariantNotebookError(f"{assignment} has several notebooks ({', '.join(p.name for p in released)}): "
                                   "name one with --notebook")
    path = released[0]
    public_path = files.public_key_path(root, assignment)
    try:
        key = files.load_key(public_path)
    except (OSError, ValueError) as exc:
        raise VariantNotebookError(f"the public key {public_path} cannot be read ({exc.__class__.__name__}): "
                                   f"run `calcgrade release {assignment}`") from None
    nb = nbformat.read(str(path), as_version=4)
    chosen = _chosen(key, student)
    numbers = {qid: dict(kv.read_params(v.get("params") or {})) for qid, v in chosen.items()}
    sources: dict[str, str] = {}
    if solution:
        sol = nbformat.read(str(root / "solutions" / assignment / path.name), as_version=4)
        sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in sol.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if solution and gid in sources and cell.cell_type == "code":
            cell.source = _solution_source(sources[gid], numbers)
        if cell.cell_type != "code":
            continue
        shown = [chosen[q] for q in _CALL.findall(cell.source) if q in chosen]
        shown += [chosen[m.group(1)] for m in re.finditer(r"""variant\(\s*["']([^"']+)["']\s*,""", cell.source)
                  if m.group(1) in chosen]
        if shown:
            cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": v.get("statement", ""),
                                                                         "text/plain": v.get("statement", "")})
                            for v in shown]
    nb.metadata = copy.deepcopy(nb.metadata)
    nb.metadata["calcgrade_variant"] = {"student": student, "solution": bool(solution)}  # for the reader only
    return nb


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("student", metavar="STUDENT", help="the student id (as in submitted/<student>/)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the notebook to write")
    parser.add_argument("--course-root", default=None, metavar="DIR",
                        help="the course folder holding nbgrader_config.py (default: found from here)")
    parser.add_argument("--solution", action="store_true",
                        help="write the solution with the student's numbers (what a right submission looks like)")
    parser.add_argument("--notebook", default=None, metavar="NAME", help="which notebook, when there are several")


def main(args: argparse.Namespace) -> int:
    import nbformat

    from grader.course.coursedir import CourseNotFound, find_course_root

    try:
        root = find_course_root(Path(args.course_root) if args.course_root else None)
    except CourseNotFound as exc:
        print(f"calcgrade variant: {exc.message}", file=sys.stderr)
        return 2
    try:
        nb = variant_notebook(root, args.assignment, args.student, solution=args.solution, notebook=args.notebook)
    except VariantNotebookError as exc:
        print(f"calcgrade variant: {exc}", file=sys.stderr)
        return 1
    out = Path(args.output)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(out))
    except OSError as exc:
        print(f"calcgrade variant: cannot write {out} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    what = "solution" if args.solution else "notebook"
    print(f"{args.assignment}: the {what} of {args.student} written to {out}")
    return 0
