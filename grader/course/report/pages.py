"""``calcgrade report [ASSIGNMENT]``: what the class got wrong, as a page an instructor reads in a minute.

With ASSIGNMENT: one self-contained HTML page (the class, a row per question with its mistakes and
most frequent wrong answers, the students below a threshold, plots), or with ``--json`` the same
numbers on stdout.  Without: the course overview (assignments x students).  The numbers come from
the answer log that trusted grading writes and from nbgrader's gradebook (``report.data``); they are
computed in ``report.stats`` and drawn by ``report.render`` / ``report.plots``.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from typing import Any

from grader.course.report.stats import DEFAULT_THRESHOLD, AssignmentReport, assignment_json, overview_json

__all__ = ["add_arguments", "main", "write_course_report", "default_report_path", "ReportError", "build_report",
           "report_json", "report_html"]


class ReportError(Exception):
    """The report cannot be made; the message says what and where."""


def default_report_path(course_root: Path, assignment: str | None) -> Path:
    """``<course>/reports/<assignment>.html`` (``course.html`` for the overview): beside the gradebook,
    outside every folder students receive."""
    return Path(course_root) / "reports" / f"{assignment or 'course'}.html"


def _check_assignment(course_root: Path, assignment: str, db_url: str) -> None:
    from grader.course.coursedir import UnknownAssignment, require_assignment
    from grader.course.gradebook import question_scores
    from grader.course.report.data import course_assignments

    known = set(course_assignments(course_root, db_url)) | set(question_scores(db_url))
    try:
        require_assignment(course_root, assignment, known=sorted(known))
    except UnknownAssignment as exc:
        raise ReportError(exc.message) from None


def build_report(course_root: Path, assignment: str | None, *, threshold: float = DEFAULT_THRESHOLD,
                 db_url: str | None = None) -> Any:
    """The numbers: an ``AssignmentReport``, or a ``CourseOverview`` when ``assignment`` is None."""
    from grader.course.report import data as reportdata

    root = Path(course_root)
    db_url = db_url or reportdata.gradebook_url(root)
    if assignment is None:
        overview, _ = reportdata.course_overview(root, threshold=threshold, db_url=db_url)
        return overview
    _check_assignment(root, assignment, db_url)
    return reportdata.assignment_report(root, assignment, threshold=threshold, db_url=db_url)


def report_json(report: Any) -> dict:
    """The ``--json`` document of ``build_report``'s result."""
    return assignment_json(report) if isinstance(report, AssignmentReport) else overview_json(report)


def report_html(report: Any, *, beside: Path | None = None) -> str:
    """The page of ``build_report``'s result; ``beside``: the folder the overview goes to (its
    assignment pages already there are linked)."""
    from grader.course.report import render as reporthtml

    if isinstance(report, AssignmentReport):
        return reporthtml.assignment_html(report)
    links = {a: f"{a}.html" for a in report.assignments if beside is not None and (beside / f"{a}.html").is_file()}
    return reporthtml.overview_html(report, links)


def write_course_report(course_root: Path | str, assignment: str | None, out: Path | str | None = None, *,
                        threshold: float = DEFAULT_THRESHOLD) -> Path:
    """Write the report page of ``assignment`` (None: the course overview) and return its path.

    ``out`` defaults to ``default_report_path``.  What ``calcgrade demo`` calls at its end.
    """
    root = Path(course_root).resolve()
    target = Path(out) if out is not None else default_report_path(root, assignment)
    page = report_html(build_report(root, assignment, threshold=threshold), beside=target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


# --- command line ----------------------------------------------------------------------------------
def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", nargs="?", default=None, metavar="ASSIGNMENT",
                        help="the assignment to report on (default: a course overview, assignments x students)")
    parser.add_argument("--course-root", default=None, metavar="DIR",
                        help="the course folder holding nbgrader_config.py (default: found from here)")
    parser.add_argument("--out", default=None, metavar="FILE.html",
                        help="where to write the page (default: <course>/reports/<assignment>.html)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON instead of writing a page")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="FRACTION",
                        help=f"list students below this fraction of the points (default {DEFAULT_THRESHOLD})")
    parser.add_argument("-v", "--verbose", action="store_true", help="show details when something fails")


def _course_root(args: argparse.Namespace) -> Path:
    """The course folder, found as every command finds it (``grader.course.coursedir``)."""
    from grader.course.coursedir import CourseNotFound, find_course_root

    try:
        return find_course_root(getattr(args, "course_root", None))
    except CourseNotFound as exc:
        raise ReportError(exc.message) from None


def main(args: argparse.Namespace) -> int:
    from grader.core.extras import MissingExtra

    verbose = bool(getattr(args, "verbose", False))
    try:
        threshold = float(getattr(args, "threshold", DEFAULT_THRESHOLD))
        if not 0.0 <= threshold <= 1.0:
            raise ReportError(f"--threshold must be a fraction between 0 and 1, not {threshold:g}")
        root = _course_root(args)
        assignment = getattr(args, "assignment", None)
        target = Path(args.out) if getattr(args, "out", None) else default_report_path(root, assignment)
        report = build_report(root, assignment, threshold=threshold)
        if getattr(args, "json", False):
            print(json.dumps(report_json(report), indent=1))
            if getattr(args, "out", None):
                _write(target, report_html(report, beside=target.parent))
            return 0
        _write(target, report_html(report, beside=target.parent))
        print(f"Report written: {target}")
        return 0
    except (ReportError, MissingExtra) as exc:
        print(f"calcgrade report: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the gradebook or the log could not be read: say what, not a traceback
        if verbose:
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        print(f"calcgrade report: could not make the report ({exc.__class__.__name__}: {first}); "
              "run with -v for details", file=sys.stderr)
        return 1


def _write(target: Path, page: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {target} ({exc.strerror or exc})") from None
