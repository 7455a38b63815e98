"""Where the report's numbers come from: the answer log, nbgrader's gradebook, the course folders.

The answer log (``answerlog``, written by trusted grading) holds every verdict and answer
fingerprint.  nbgrader's gradebook adds the submissions it knows; a submission that has scores
there but no answer-log rows (graded by stock nbgrader) still counts in the scores, from its test
cell grades, without mistakes or wrong answers, and the page says so.  A submitted folder with
neither is a failed (or not yet graded) submission, and the reason is found where it can be.

Nothing here writes: a missing gradebook is not created.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.course.gradebook import CellScore, question_scores
from grader.course.grading.answerlog import AnswerRecord, read_records
from grader.course.report.stats import (
    DEFAULT_THRESHOLD, AssignmentReport, CourseOverview, Failure, build_assignment_report, build_overview,
)

__all__ = ["gradebook_url", "question_layout", "variant_questions", "assignment_report", "course_overview",
           "course_assignments", "failure_reason"]


def gradebook_url(course_root: Path) -> str:
    """The course's gradebook database URL (nbgrader's ``db_url``, from nbgrader_config.py)."""
    from grader.course.coursedir import nbgrader_api

    return str(nbgrader_api(Path(course_root)).coursedir.db_url)


def _mistakes_of(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The named mistakes of a key entry (of a variant question: its first variant's, same ids for all)."""
    from grader.key.variants import is_variant, resolve

    return list((resolve(entry, 0) if is_variant(entry) else entry).get("mistakes", []))


def question_layout(course_root: Path, assignment: str) -> tuple[list[tuple[str, str]], dict[str, float],
                                                                  dict[str, dict[str, str]]]:
    """(notebook, qid) in notebook order, points per qid, and mistake messages per qid, from the course.

    The order comes from the graded test cells of the solution notebooks (else the released ones);
    points and mistake messages from the private key when it exists.
    """
    from grader.course.kernelrun import NotebookRunError, read_notebook, test_cells
    from grader.key import files

    root = Path(course_root)
    order: list[tuple[str, str]] = []
    points: dict[str, float] = {}
    for folder in (root / "solutions" / assignment, root / "exercises" / assignment):
        notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
        for path in notebooks:
            try:
                cells, _ = test_cells(read_notebook(path))
            except NotebookRunError:
                continue
            for qid, pts in cells.items():
                order.append((path.name, qid))
                points[qid] = pts
        if order:
            break
    messages: dict[str, dict[str, str]] = {}
    key_path = files.private_key_path(root, assignment)
    if key_path.is_file():
        try:
            key = files.load_key(key_path)
        except (OSError, ValueError):
            key = {"questions": {}}
        for qid, entry in key["questions"].items():
            messages[qid] = {m["id"]: m.get("message", "") for m in _mistakes_of(entry)}
            if "points" in entry:
                points[qid] = float(entry["points"])
            if qid not in {q for _, q in order}:
                order.append((str(entry.get("notebook", "")), qid))
    return order, points, messages


def variant_questions(course_root: Path, assignment: str) -> set[str]:
    """The qids of the assignment's variant questions (every student their own numbers), from its key."""
    from grader.key import files
    from grader.key.variants import is_variant

    for path in (files.private_key_path(Path(course_root), assignment), files.public_key_path(Path(course_root), assignment)):
        try:
            return {q for q, e in files.load_key(path)["questions"].items() if is_variant(e)}
        except (OSError, ValueError):
            continue
    return set()


def failure_reason(course_root: Path, student: str, assignment: str, in_gradebook: bool = False) -> str:
    """Why a submission has no score, in a few words (the report's and the grade export's reading)."""
    from grader.course.kernelrun import NotebookRunError, read_notebook

    folder = Path(course_root) / "submitted" / student / assignment
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        return "no notebook in the submission"
    for path in notebooks:
        try:
            json.loads(path.read_text(encoding="utf-8", errors="replace"))
        except ValueError:
            return f"{path.name} is not a notebook: not valid JSON (cut off or corrupted)"
        try:
            read_notebook(path)
        except NotebookRunError as exc:
            detail = str(exc).split("(", 1)[-1].rstrip(")")[:160]
            return f"{path.name} is not a readable notebook ({detail})"
    if in_gradebook:
        return "grading failed: nbgrader's gradebook holds no score for it (see the autograde log)"
    return f"not graded: no verdicts recorded (run `calcgrade autograde {assignment}`)"


def _submitted(course_root: Path, assignment: str) -> list[str]:
    base = Path(course_root) / "submitted"
    if not base.is_dir():
        return []
    return sorted(d.name for d in base.iterdir() if (d / assignment).is_dir())


def assignment_report(course_root: Path, assignment: str, *, threshold: float = DEFAULT_THRESHOLD,
                      db_url: str | None = None, records: list[AnswerRecord] | None = None,
                      gradebook: dict[str, dict[str, list[CellScore]]] | None = None) -> AssignmentReport:
    """The report of one assignment of the course at ``course_root``."""
    root = Path(course_root)
    db_url = db_url or gradebook_url(root)
    log = read_records(db_url, assignment) if records is None else [r for r in records if r.assignment == assignment]
    book = (question_scores(db_url, assignment) if gradebook is None else gradebook).get(assignment, {})
    order, points, messages = question_layout(root, assignment)
    in_log = {r.student for r in log}
    sources = {s: "log" for s in in_log}
    all_records = list(log)
    from_book = []
    for student, cells in sorted(book.items()):
        if student in in_log or all(cell.points is None for cell in cells):
            continue  # not graded (grader.course.gradebook's rule): a failed submission, found below
        from_book.append(student)
        sources[student] = "gradebook"
        for cell in cells:
            pts = 0.0 if cell.points is None else cell.points  # a cell left ungraded in a graded notebook
            all_records.append(AnswerRecord(assignment, student, cell.notebook + ".ipynb", cell.qid, pts,
                                            cell.max_points, cell.max_points > 0 and pts >= cell.max_points - 1e-9,
                                            None, "nbgrader", "", ""))
    graded = in_log | set(from_book)
    failed = [Failure(s, failure_reason(root, s, assignment, s in book))
              for s in sorted(set(_submitted(root, assignment)) | set(book)) if s not in graded]
    report = build_assignment_report(assignment, all_records, failed=failed, order=order, max_points=points,
                                     threshold=threshold, sources=sources, mistake_messages=messages,
                                     variant_qids=variant_questions(root, assignment))
    from grader.course.report.functions import load_references

    report.functions = load_references(root, assignment)  # wrong function answers drawn against these
    if from_book:
        report.notes.append(
            f"{len(from_book)} submission(s) have scores in nbgrader's gradebook but no answer log "
            f"({', '.join(from_book)}): they count in the scores, not in mistakes or wrong answers. "
            f"Grade with `calcgrade autograde {assignment}` to record every answer.")
    if not log and not from_book and not failed:
        report.notes.append(f"No graded submission of {assignment} yet.")
    return report


def course_assignments(course_root: Path, db_url: str) -> list[str]:
    """Assignments of the course: solutions/ folders, plus any in the answer log."""
    from grader.course.coursedir import assignments_of

    names = set(assignments_of(Path(course_root)))
    names |= {r.assignment for r in read_records(db_url)}
    return sorted(names)


def course_overview(course_root: Path, *, threshold: float = DEFAULT_THRESHOLD,
                    db_url: str | None = None) -> tuple[CourseOverview, list[AssignmentReport]]:
    """Assignments x students, and each assignment's report (read once from the log and gradebook)."""
    root = Path(course_root)
    db_url = db_url or gradebook_url(root)
    records = read_records(db_url)
    book = question_scores(db_url)
    names = sorted(set(course_assignments(root, db_url)) | set(book))
    reports = [assignment_report(root, a, threshold=threshold, db_url=db_url, records=records, gradebook=book)
               for a in names]
    return build_overview(reports), reports
