"""``calcgrade autograde ASSIGNMENT``: the command line of ``grader.course.grading.autograde``.

Its arguments, the progress it shows (a bar on a terminal, a line per submission otherwise) and its exit
status: 0 when every submission was graded, 1 when some failed alone (the summary says why), 2 when grading
was refused or could not start (one sentence; ``-v`` adds the traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader.core.extras import MissingExtra
from grader.course import coursedir
from grader.course.grading.autograde import (
    GradingRefused, StudentResult, autograde_assignment, format_summary, skip_unused_schema_formats,
    submitted_students)

__all__ = ["add_arguments", "main"]


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment to grade (a folder of solutions/)")
    parser.add_argument("--course-root", type=Path, default=None, metavar="DIR",
                        help="the course folder (default: the one holding nbgrader_config.py, from here)")
    parser.add_argument("--students", default=None, metavar="a,b",
                        help="only these students (default: every submission)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="notebooks executed at once (default: the number of cores)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://H:P",
                        help="execute on the Dask workers of this scheduler instead of this machine")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade even where no sandbox is available (student code runs with your rights)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="show details of failures")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def main(args: argparse.Namespace) -> int:
    skip_unused_schema_formats()
    try:
        root = coursedir.find_course_root(getattr(args, "course_root", None))
        coursedir.require_assignment(root, args.assignment)
    except coursedir.CourseNotFound as exc:
        print(f"calcgrade autograde: {exc.message}", file=sys.stderr)
        return 2
    students = [s.strip() for s in args.students.split(",") if s.strip()] if args.students else None
    total = len(students) if students is not None else len(submitted_students(root, args.assignment))
    progress = _Progress(sys.stdout.isatty() and not args.json, quiet=args.json, total=total)
    try:
        run = autograde_assignment(root, args.assignment, students=students, workers=args.workers,
                                   scheduler=args.scheduler, sandbox=not args.no_sandbox, on_result=progress)
    except (GradingRefused, MissingExtra) as exc:
        print(f"calcgrade autograde: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback from a command
        print(f"calcgrade autograde: grading {args.assignment} failed ({first_line(exc)}); -v shows details",
              file=sys.stderr)
        if args.verbose:
            import traceback

            traceback.print_exc()
        return 2
    finally:
        progress.close()
    if args.json:
        print(json.dumps(run.to_json(), indent=1))
    else:
        print(format_summary(run))
    return 0 if all(r.success for r in run.results) else 1


class _Progress:
    """A tqdm bar on a terminal; one line per graded submission otherwise."""

    def __init__(self, tty: bool, *, quiet: bool = False, total: int | None = None) -> None:
        self.bar = None
        self.done = 0
        self.quiet = quiet
        if tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="submission", file=sys.stdout, leave=False)

    def __call__(self, res: StudentResult) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(res.student, refresh=False)
            self.bar.update(1)
        elif not self.quiet:
            what = f"{res.score:g}/{res.max_score:g}" if res.success else f"failed: {res.error}"
            print(f"[{self.done}] {res.student}: {what}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
