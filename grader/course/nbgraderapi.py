"""nbgrader from this interpreter: its environment, its API configured by the course, the gradebook's scores.

Why a module: the course cycle (release, feedback, export, autograde, the demo) drives nbgrader in-process and
as a command; both need this interpreter's scripts on PATH (``alembic`` creates gradebooks) and the course's own
nbgrader_config.py, and several readers want the points per question out of the gradebook in one pass.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["course_environment", "course_path", "load_api", "all_scores", "scores"]


# --- nbgrader from this interpreter -------------------------------------------------------------------------
def course_environment(extra_path: str | None = None) -> dict[str, str]:
    """The environment nbgrader needs: this interpreter's scripts (alembic) on PATH."""
    from grader.course.coursedir import script_environment

    return script_environment(extra_path)


@contextmanager
def course_path() -> Iterator[None]:
    """Run nbgrader in-process with this interpreter's scripts on PATH (alembic creates gradebooks)."""
    from grader.course.coursedir import scripts_on_path

    with scripts_on_path():
        yield


def load_api(course_root: Path):  # -> nbgrader.apps.NbGraderAPI
    """An NbGraderAPI configured by the course's own nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    course_root = Path(course_root).resolve()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    config.CourseDirectory.root = str(course_root)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


# --- reading the gradebook ------------------------------------------------------------------------------------------
def all_scores(course_root: Path) -> dict[tuple[str, str, str], dict[str, float]]:
    """(assignment, student, notebook) -> points per question (test cell grade id without ``test_``),
    read from the gradebook in one pass."""
    from nbgrader.api import Gradebook

    api = load_api(course_root)
    out: dict[tuple[str, str, str], dict[str, float]] = {}
    with Gradebook(api.coursedir.db_url) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for nb in submission.notebooks:
                    out[(assignment.name, submission.student.id, nb.name)] = {
                        (g.name[len("test_"):] if g.name.startswith("test_") else g.name): float(g.score or 0.0)
                        for g in nb.grades
                    }
    return out


def scores(course_root: Path, assignment: str, student: str, notebook: str) -> dict[str, float] | None:
    """Points per question of one graded notebook, or None if it is not in the gradebook."""
    return all_scores(course_root).get((assignment, student, notebook))
