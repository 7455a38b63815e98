"""``calcgrade export``: the gradebook as a CSV an LMS imports, with ungraded submissions marked.

Why not ``nbgrader export`` alone: it writes 0.0 for a submission that could not be graded (a file that
is not a notebook) and for one never submitted, the same as a real zero, and its columns are nbgrader's
own.  Here every row says what it is (``graded``, ``not graded`` with the reason, ``not submitted``,
``needs manual grading``) and a score is written only for a graded submission, never 0.0 in place of
"unknown".  Three layouts (the column mapping is in docs/INSTRUCTOR.md):

* ``nbgrader``: nbgrader's columns (one row per assignment and student) plus ``status`` and ``reason``;
* ``canvas``: Canvas's gradebook import: ``Student, ID, SIS User ID, SIS Login ID, Section``, then one
  column per assignment, a ``Points Possible`` row first; an ungraded cell is left empty (Canvas leaves
  such a grade unchanged);
* ``moodle``: Moodle's CSV grade import: identifier columns (``Username``, ``ID number``, ``Email
  address``: map one of them in Moodle's import), one grade column per assignment and its feedback
  column holding the reason; an empty grade is "no grade" for Moodle.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

__all__ = ["FORMATS", "GradeRow", "gradebook_rows", "write_nbgrader", "write_canvas", "write_moodle",
           "export_grades", "add_arguments", "main"]

FORMATS = ("nbgrader", "canvas", "moodle")
DEFAULT_OUTPUT = {"nbgrader": "grades.csv", "canvas": "grades-canvas.csv", "moodle": "grades-moodle.csv"}

GRADED, NOT_GRADED, NOT_SUBMITTED, MANUAL = "graded", "not graded", "not submitted", "needs manual grading"


@dataclass
class GradeRow:
    """One student's standing on one assignment; ``score`` is None unless ``status`` is ``graded``."""

    assignment: str
    student: str
    status: str
    score: float | None
    max_score: float
    raw_score: float | None = None
    late_penalty: float | None = None
    reason: str = ""
    duedate: str = ""
    timestamp: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: float | None) -> str:
    """A score as the LMS reads it: plain decimal, no exponent, no trailing zeros ("7.5", "12")."""
    if value is None:
        return ""
    text = f"{float(value):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def gradebook_rows(course_root: Path, assignments: Iterable[str] | None = None) -> list[GradeRow]:
    """Every (assignment, student) of the course's gradebook, with its status; [] without a gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    from grader.course.coursedir import scripts_on_path
    from grader.course.gradebook import sqlite_file_missing
    from grader.course.report import data

    root = Path(course_root).resolve()
    db_url = data.gradebook_url(root)
    if sqlite_file_missing(db_url):
        return []
    wanted = set(assignments or [])
    rows: list[GradeRow] = []
    with scripts_on_path(), Gradebook(db_url) as gb:
        for a in gb.assignments:
            if wanted and a.name not in wanted:
                continue
            for student in gb.students:
                row = GradeRow(a.name, student.id, NOT_SUBMITTED, None, float(a.max_score or 0.0),
                               duedate=_text(a.duedate), first_name=_text(student.first_name),
                               last_name=_text(student.last_name), email=_text(student.email),
                               lms_user_id=_text(getattr(student, "lms_user_id", "")),
                               reason="no submission")
                try:
                    sub = gb.find_submission(a.name, student.id)
                except MissingEntry:
                    rows.append(row)
                    continue
                row.timestamp = _text(sub.timestamp)
                grades = [g for nb in sub.notebooks for g in nb.grades]
                scored = [g for g in grades if g.auto_score is not None or g.manual_score is not None]
                if not scored:
                    row.status = NOT_GRADED
                    row.reason = data.failure_reason(root, student.id, a.name, True)
                elif sub.needs_manual_grade:
                    waiting = sum(bool(g.needs_manual_grade) for g in grades)
                    row.status = MANUAL
                    row.reason = f"{waiting} answer(s) wait for manual grading (nbgrader formgrader)"
                else:
                    penalty = float(sub.late_submission_penalty or 0.0)
                    raw = float(sub.score or 0.0)
                    row.status, row.reason = GRADED, ""
                    row.raw_score, row.late_penalty, row.score = raw, penalty, max(0.0, raw - penalty)
                rows.append(row)
    return rows


NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score", "status", "reason"]


def write_nbgrader(rows: list[GradeRow], target: Path) -> None:
    """nbgrader's export columns, one row per assignment and student, plus ``status`` and ``reason``."""
    with open(target, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(NBGRADER_COLUMNS)
        for r in rows:
            out.writerow([r.assignment, r.duedate, r.timestamp, r.student, r.last_name, r.first_name, r.email,
                          _number(r.raw_score), _number(r.late_penalty), _number(r.score), _number(r.max_score),
                          r.status, r.reason])


def _wide(rows: list[GradeRow]) -> tuple[list[str], dict[str, float], dict[str, dict[str, GradeRow]]]:
    assignments: list[str] = []
    points: dict[str, float] = {}
    by_student: dict[str, dict[str, GradeRow]] = {}
    for r in rows:
        if r.assignment not in points:
            assignments.append(r.assignment)
            points[r.assignment] = r.max_score
        by_student.setdefault(r.student, {})[r.assignment] = r
    return assignments, points, by_student


CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def write_canvas(rows: list[GradeRow], target: Path) -> None:
    """Canvas's gradebook import layout.  Student: "Last, First" (else the nbgrader id); ID: nbgrader's
    ``lms_user_id`` when set; SIS Login ID: the nbgrader student id (the login students submit with)."""
    assignments, points, by_student = _wide(rows)
    with open(target, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(CANVAS_COLUMNS + assignments)
        out.writerow(["Points Possible", "", "", "", ""] + [_number(points[a]) for a in assignments])
        for student, cells in sorted(by_student.items()):
            first = next(iter(cells.values()))
            name = ", ".join(p for p in (first.last_name, first.first_name) if p) or student
            out.writerow([name, first.lms_user_id, "", student, ""]
                         + [_number(cells[a].score) if a in cells else "" for a in assignments])


def write_moodle(rows: list[GradeRow], target: Path) -> None:
    """Moodle's CSV grade import layout: identifiers, then per assignment a grade and a feedback column."""
    assignments, _, by_student = _wide(rows)
    with open(target, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        header = ["First name", "Last name", "Username", "ID number", "Email address"]
        for a in assignments:
            header += [a, f"{a} (feedback)"]
        out.writerow(header)
        for student, cells in sorted(by_student.items()):
            first = next(iter(cells.values()))
            line = [first.first_name, first.last_name, student, first.lms_user_id, first.email]
            for a in assignments:
                r = cells.get(a)
                line += [_number(r.score) if r else "", (f"{r.status}: {r.reason}" if r.reason else "") if r else ""]
            out.writerow(line)


_WRITERS = {"nbgrader": write_nbgrader, "canvas": write_canvas, "moodle": write_moodle}


def export_grades(course_root: Path, target: Path | None = None, *, fmt: str = "nbgrader",
                  assignments: Iterable[str] | None = None) -> tuple[Path, list[GradeRow]]:
    """Write the course's grades in layout ``fmt`` (default file name in the course folder)."""
    if fmt not in _WRITERS:
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    root = Path(course_root).resolve()
    path = Path(target) if target is not None else root / DEFAULT_OUTPUT[fmt]
    rows = gradebook_rows(root, assignments)
    _WRITERS[fmt](rows, path)
    return path, rows


# --- command line ---------------------------------------------------------------------------------------
def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="only these assignments (default: all)")
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="nbgrader",
                        help="nbgrader (one row per assignment and student, with status and reason), canvas or "
                             "moodle (their gradebook import layouts); see docs/INSTRUCTOR.md")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help="where to write (default: grades.csv, grades-canvas.csv or grades-moodle.csv in the "
                             "course folder)")
    parser.add_argument("--course-root", type=Path, default=None, metavar="DIR",
                        help="course folder (default: the nearest folder at or above here with nbgrader_config.py)")


def main(args: argparse.Namespace) -> int:
    from grader.course.coursedir import CourseNotFound, find_course_root

    try:
        root = find_course_root(args.course_root)
    except CourseNotFound as exc:
        print(f"calcgrade export: {exc.message}", file=sys.stderr)
        return 2
    try:
        path, rows = export_grades(root, args.output, fmt=args.fmt, assignments=args.assignments or None)
    except OSError as exc:
        print(f"calcgrade export: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an unreadable gradebook: one sentence, not a traceback
        print(f"calcgrade export: cannot read the gradebook of {root} ({exc.__class__.__name__}: "
              f"{str(exc).splitlines()[0][:160] if str(exc) else ''})", file=sys.stderr)
        return 2
    known = {r.assignment for r in rows}
    unknown = [a for a in (args.assignments or []) if a not in known]
    if unknown:
        print(f"calcgrade export: the gradebook has no assignment {', '.join(unknown)}"
              + (f" (it has {', '.join(sorted(known))})" if known else ""), file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no rows: nothing graded yet"
    print(f"✓ {args.fmt} export written to {path}: {summary}")
    for r in rows:
        if r.status in (NOT_GRADED, MANUAL):
            print(f"  {r.assignment} {r.student}: {r.status} ({r.reason}); its score is left empty")
    return 0
