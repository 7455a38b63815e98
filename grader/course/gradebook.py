"""The scores in nbgrader's gradebook: the one reader, with one rule for a cell nobody scored.

Why one reader: the report, the demo's table, the benchmarks and the tests all ask "how many points did this
student get for this question", and two readers had already drifted apart (one read a missing score as 0,
the other as "not graded").  The rule, here only: a grade cell's points are its manual score when an
instructor gave one, else its automatic score, plus nbgrader's extra credit; a cell with neither score (a
failed autograde leaves both empty) is *not graded* and reads ``None``, never 0.  Grade cells named
``test_<qid>`` (calcgrade's convention) give the question id.

Nothing here writes: a missing gradebook is not created.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CellScore", "cell_points", "question_scores", "all_scores", "sqlite_file_missing"]


@dataclass(frozen=True)
class CellScore:
    """One grade cell of one submitted notebook."""

    notebook: str            # the notebook's name without .ipynb, as nbgrader keeps it
    qid: str
    points: float | None     # None: not graded
    max_points: float


def cell_points(grade: Any) -> float | None:
    """The points of an nbgrader ``Grade`` by the rule of this module (None: not graded)."""
    score = grade.manual_score if grade.manual_score is not None else grade.auto_score
    if score is None:
        return None
    return float(score) + float(grade.extra_credit or 0.0)


def _qid(grade_name: str) -> str:
    return grade_name[len("test_"):] if grade_name.startswith("test_") else grade_name


def _has_gradebook_tables(db_url: str) -> bool:
    """Whether nbgrader has created its tables there (opening a Gradebook would otherwise create them)."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        return bool(sa.inspect(engine).has_table("submitted_assignment"))
    finally:
        engine.dispose()


def sqlite_file_missing(db_url: str) -> bool:
    """Whether ``db_url`` names an SQLite file that does not exist (reading must not create it)."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(db_url)
    except Exception:
        return False
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") and \
        not Path(url.database).is_file()


def question_scores(db_url: str, assignment: str | None = None) -> dict[str, dict[str, list[CellScore]]]:
    """assignment -> student -> the grade cells of every submitted notebook, read in one pass.

    ``assignment``: only that one.  {} when there is no gradebook yet (nothing is created).
    """
    if sqlite_file_missing(db_url) or not _has_gradebook_tables(db_url):
        return {}
    from nbgrader.api import Gradebook

    from grader.course.coursedir import scripts_on_path

    out: dict[str, dict[str, list[CellScore]]] = {}
    with scripts_on_path(), Gradebook(db_url) as gb:
        for a in gb.assignments:
            if assignment is not None and a.name != assignment:
                continue
            for sub in a.submissions:
                out.setdefault(a.name, {})[sub.student.id] = [
                    CellScore(nb.name, _qid(g.name), cell_points(g), float(g.max_score or 0.0))
                    for nb in sub.notebooks for g in nb.grades
                ]
    return out


def all_scores(course_root: Path) -> dict[tuple[str, str, str], dict[str, float]]:
    """(assignment, student, notebook) -> points per graded question of the course's gradebook.

    A question that was not graded (see the rule above) is left out, so a sum is the points earned."""
    from grader.course.coursedir import nbgrader_api

    out: dict[tuple[str, str, str], dict[str, float]] = {}
    for assignment, students in question_scores(str(nbgrader_api(course_root).coursedir.db_url)).items():
        for student, cells in students.items():
            for cell in cells:
                row = out.setdefault((assignment, student, cell.notebook), {})
                if cell.points is not None:
                    row[cell.qid] = cell.points
    return out
