"""``calcgrade demo``: one whole course cycle on the bundled sample class.

In a fresh course folder with nbgrader's default SQLite gradebook it releases
every assignment, places the sample class, autogrades it with a progress bar,
generates the feedback, exports the grades, and prints a gradebook table, where
the files are, and how long each step took.  It exercises exactly the code an
instructor runs, so it doubles as an end-to-end check of an installation.

What it made to look at (the class report, the feedback pages, grades.csv) is kept in a folder it names
at the end (``--output DIR``; by default a new folder under the system's temporary folder); only its
scratch course folder is removed, unless ``--keep DIR`` runs the whole course there and keeps it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from grader.course import gradebook
from grader.course.grading import autograde
from grader.course.grading.warmpool import WarmPool
from grader.course.release import publish as course
from grader.course.demo import sampleclass

DEMO_TIMESTAMP = "2026-11-20 17:00:00.000000 UTC"


@dataclass
class StepTimer:
    """Wall-clock time of each named step, for the closing report."""

    steps: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"==> {name}", flush=True)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.steps.append((name, time.perf_counter() - start))


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", "--dir", dest="keep", type=Path, default=None, metavar="DIR",
                        help="run in DIR (new or empty) and keep it: gradebook, grades, feedback "
                             "(default: a temporary folder, removed at the end)")
    parser.add_argument("--output", type=Path, default=None, metavar="DIR",
                        help="where the report pages, feedback pages and grades.csv are kept (new or empty; "
                             "default: a new folder under the system's temporary folder)")
    parser.add_argument("--course-root", type=Path, default=None,
                        help="the course to demonstrate (default: the course here, else the one calcgrade carries)")
    parser.add_argument("--assignments", nargs="*", default=None,
                        help="only these assignments (default: all in solutions/)")
    parser.add_argument("--workers", type=int, default=None,
                        help="notebooks executed at once (default: the number of cores)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade even where no sandbox is available (the summary says so)")


def prepare_course(source_root: Path, target: Path, assignments: list[str]) -> None:
    """Copy the instructor's side of the course (config + solutions) into ``target``."""
    from grader.course.release.init import copy_course

    copy_course(source_root, target, assignments)


def demo_source(explicit: Path | None = None) -> tuple[Path, str]:
    """(the course to demonstrate, where it came from): ``--course-root``, else the course at or above the
    current folder, else the course this installation carries.  Raises CourseNotFound."""
    from grader.course.coursedir import CourseNotFound, find_course_root
    from grader.course.release.init import bundled_course

    if explicit is not None:
        return find_course_root(explicit), "the course given"
    try:
        root = find_course_root()
    except CourseNotFound:
        root = None
    if root is not None and (root / "solutions").is_dir():
        return root, "the course here"
    bundled = bundled_course()
    if bundled is None:
        raise CourseNotFound("no course here and none carried by this installation: run calcgrade demo in a "
                             "course folder, or give --course-root DIR")
    return bundled, "the course calcgrade carries"


def run_cycle(
    course_root: Path,
    assignments: list[str],
    *,
    workers: int | None = None,
    timer: StepTimer | None = None,
    progress: bool = True,
    sandbox: bool = True,
) -> dict:
    """Release, place the sample class, autograde (sandboxed, trusted), feedback, export.  Returns a summary."""
    timer = timer or StepTimer()
    course_root = Path(course_root).resolve()
    # the executor pool starts now: its warm-up overlaps the release, and a sandbox that cannot be made is
    # explained before anything is released
    warming = WarmPool(workers, sandbox)
    try:
        if not warming.sandbox_usable():
            warming.get()   # raises: why, and the way out (--no-sandbox)
        return _cycle(course_root, assignments, warming, workers=workers, timer=timer, progress=progress,
                      sandbox=sandbox)
    finally:
        warming.close()


def _cycle(course_root: Path, assignments: list[str], warming: WarmPool, *, workers: int | None,
           timer: StepTimer, progress: bool, sandbox: bool) -> dict:
    from grader.course.progress import progress_bar

    with timer.step(f"release {len(assignments)} assignment(s): build keys, generate student versions"):
        for assignment in assignments:
            course.release(course_root, assignment, validate=False)
    with timer.step("place the sample class in submitted/"):
        subs = [s for s in sampleclass.sample_class(course_root) if s.assignment in assignments]
        sampleclass.place(subs, course_root, DEMO_TIMESTAMP)
        students = sorted({s.student for s in subs})
        print(f"    {submission_count(subs, assignments)}")
    jobs = sorted({(s.assignment, s.student) for s in subs})
    results: list[autograde.StudentResult] = []
    runs: list[autograde.AutogradeRun] = []
    with timer.step(f"autograde {len(jobs)} submissions (sandboxed execution, trusted grading)"):
        bar = progress_bar(len(jobs), desc="autograde", unit="submission", disable=not progress, file=sys.stderr)

        def tick(res: autograde.StudentResult) -> None:
            bar.set_postfix_str(f"{res.assignment}/{res.student}", refresh=False)
            bar.update(1)

        pool = warming.get()
        for assignment in assignments:
            run = autograde.autograde_assignment(course_root, assignment, workers=workers, sandbox=sandbox,
                                                 on_result=tick, pool=pool)
            runs.append(run)
            results += run.results
        bar.close()
    with timer.step("generate feedback (HTML)"):
        for assignment in assignments:
            course.generate_feedback(course_root, assignment)
    with timer.step("export grades (CSV)"):
        from grader.course.report.export import export_grades

        csv_path, _ = export_grades(course_root)
    return {"submissions": subs, "results": results, "csv": csv_path, "students": students, "runs": runs,
            "sandboxed": all(r.sandboxed for r in runs)}


def submission_count(subs: list[sampleclass.Submission], assignments: list[str]) -> str:
    """"90 submissions of 7 assignments by 14 students (12 to 14 per assignment)": not every sample student
    hands in every assignment, so the count is never students times assignments."""
    per = {a: len({s.student for s in subs if s.assignment == a}) for a in assignments}
    pairs = len({(s.assignment, s.student) for s in subs})
    students = len({s.student for s in subs})
    low, high = min(per.values(), default=0), max(per.values(), default=0)
    spread = f"{low} per assignment" if low == high else f"{low} to {high} per assignment"
    return (f"{pairs} submission{'s' * (pairs != 1)} of {len(assignments)} assignment{'s' * (len(assignments) != 1)} "
            f"by {students} student{'s' * (students != 1)} ({spread})")


def gradebook_rows(course_root: Path, subs: list[sampleclass.Submission],
                   results: list[autograde.StudentResult]) -> list[dict]:
    """One row per student: points per assignment from the gradebook, plus what a correct grader gives."""
    failed = {(r.assignment, r.student) for r in results if not r.success}
    graded = gradebook.all_scores(course_root)
    rows: dict[str, dict] = {}
    for sub in subs:
        row = rows.setdefault(sub.student, {"student": sub.student, "cells": {}})
        got = graded.get((sub.assignment, sub.student, Path(sub.notebook).stem))
        cell = row["cells"].setdefault(sub.assignment, {"got": 0.0, "max": 0.0, "fair": 0.0, "graded": True})
        if got is None or (sub.assignment, sub.student) in failed:
            cell["graded"] = False
            got = got or {}
        cell["got"] += sum(got.values())
        cell["fair"] += sum(sub.expected.values())
        cell["max"] += sum(sub.points.values())
    return [rows[k] for k in sorted(rows)]


def format_table(rows: list[dict], assignments: list[str]) -> str:
    """The gradebook as a text table; '!' marks a score a careful grader would not give."""
    short = [a.split("_", 1)[0] for a in assignments]
    width = max([len("student")] + [len(r["student"]) for r in rows])
    header = f"{'student':<{width}}  " + "  ".join(f"{s:>9}" for s in short) + f"  {'total':>11}"
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = []
        total = total_max = 0.0
        for a in assignments:
            c = row["cells"].get(a)
            if c is None:
                cells.append(f"{'':>9}")
                continue
            mark = "!" if abs(c["got"] - c["fair"]) > 1e-9 else " "
            text = f"{c['got']:g}/{c['max']:g}" if c["graded"] else f"err {c['got']:g}/{c['max']:g}"
            cells.append(f"{text:>8}{mark}")
            total += c["got"]
            total_max += c["max"]
        lines.append(f"{row['student']:<{width}}  " + "  ".join(cells) + f"  {f'{total:g}/{total_max:g}':>11}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from grader.course.coursedir import CourseNotFound, assignments_of, require_assignment

    try:
        source_root, origin = demo_source(getattr(args, "course_root", None))
        for assignment in args.assignments or []:
            require_assignment(source_root, assignment)
    except CourseNotFound as exc:
        print(f"calcgrade demo: {exc.message}", file=sys.stderr)
        return 2
    assignments = args.assignments or assignments_of(source_root)
    keep = args.keep is not None
    output = getattr(args, "output", None)
    for folder in [f for f in (args.keep, output) if f is not None]:
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            print(f"calcgrade demo: {folder} is not empty; give an empty or new folder", file=sys.stderr)
            return 2
    target = args.keep.resolve() if keep else Path(tempfile.mkdtemp(prefix="calcgrade-demo-scratch-"))
    if keep:
        results = target
    elif output is not None:
        results = output.resolve()
    else:
        results = Path(tempfile.mkdtemp(prefix="calcgrade-demo-"))
    status = 2
    try:
        status = _run(args, source_root, origin, target, assignments, keep, results)
        return status
    finally:
        if not keep:
            shutil.rmtree(target, ignore_errors=True)
            if status != 0 and output is None:
                shutil.rmtree(results, ignore_errors=True)
        if status == 0:
            print(f"\nThe report, the feedback pages and grades.csv are in {results}"
                  + ("" if keep else f" (the scratch course folder {target} was removed; --keep DIR keeps it all)."))


def _keep_results(target: Path, results: Path, csv_path: Path) -> Path:
    """Copy what the demo made to look at (feedback pages, grades.csv) out of the scratch course."""
    results.mkdir(parents=True, exist_ok=True)
    if (target / "feedback").is_dir():
        shutil.copytree(target / "feedback", results / "feedback", dirs_exist_ok=True)
    shutil.copy2(csv_path, results / csv_path.name)
    return results / csv_path.name


def _print_copying(course_root: Path, assignments: list[str]) -> None:
    """The report's copying flags (variant questions: an answer right for a classmate's numbers only)."""
    from grader.course.report.data import assignment_report

    lines = []
    for name in assignments:
        for flag in assignment_report(course_root, name).copying:
            lines.append(f"  {name}/{flag.qid}: {flag.student} answered the numbers of {', '.join(flag.sources)}")
    if lines:
        print()
        print("Possible copying (every student has their own numbers in variant questions):")
        print("\n".join(lines))


def _run(args: argparse.Namespace, source_root: Path, origin: str, target: Path, assignments: list[str],
         keep: bool, results: Path) -> int:
    timer = StepTimer()
    started = datetime.now(timezone.utc)
    print(f"calcgrade demo: a whole course cycle of {origin} ({source_root}) in {target}")
    with timer.step("prepare a fresh course folder (config + solutions)"):
        prepare_course(source_root, target, assignments)
    try:
        summary = run_cycle(target, assignments, workers=args.workers, timer=timer, sandbox=not args.no_sandbox)
    except autograde.GradingRefused as exc:
        print(f"calcgrade demo: {exc}", file=sys.stderr)
        return 2
    rows = gradebook_rows(target, summary["submissions"], summary["results"])
    print()
    print("Gradebook (points per assignment; 'err' = the submission could not be graded;")
    print("           '!' = the score differs from what a careful grader gives)")
    print(format_table(rows, assignments))
    failed = [r for r in summary["results"] if not r.success]
    if failed:
        print()
        print("Submissions that could not be graded (the others were graded regardless):")
        for r in failed:
            print(f"  {r.assignment}/{r.student}: {r.error}")
    stopped = [r for r in summary["results"] if r.success and r.stopped]
    if stopped:
        print()
        print("Submissions whose run stopped early (points earned before the stop are kept):")
        for r in stopped:
            print(f"  {r.assignment}/{r.student}: {'; '.join(r.stopped)}")
    if not summary["sandboxed"]:
        print()
        print("!" * 78)
        print("!! NOT SANDBOXED (--no-sandbox): the students' code ran with your rights.")
        print("!" * 78)
    csv_path = summary["csv"] if keep else _keep_results(target, results, summary["csv"])
    print()
    if keep:
        print(f"Gradebook (SQLite): {target / 'gradebook.db'}")
    print(f"Grades (CSV):       {csv_path}")
    print(f"Feedback (HTML):    {results / 'feedback'}/<student>/<assignment>/<notebook>.html")
    # what the class got wrong: a page per assignment and the overview, in the results folder
    from grader.course.report.pages import write_course_report

    reports = results / "reports"
    with timer.step("class report (HTML)"):
        pages = [write_course_report(target, name, reports / f"{name or 'course'}.html")
                 for name in [*assignments, None]]
    print()
    for page in pages:
        print(f"Report (HTML):      {page}")
    _print_copying(target, assignments)
    print()
    print("Time per step:")
    for name, seconds in timer.steps:
        print(f"  {seconds:7.1f} s  {name}")
    total = (datetime.now(timezone.utc) - started).total_seconds()
    print(f"  {total:7.1f} s  total")
    return 0
