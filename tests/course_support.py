"""Released course folders for tests that grade a class (autograde, the report, tampering, the cluster and
PostgreSQL tests).

Why shared: a release builds the answer keys by running every solution notebook in a kernel (10-20 s here),
and several test modules need the same released assignment in fresh course folders with their own
gradebooks.  ``release_template`` runs calcgrade's whole release once per test run (the session fixture
``make_released_course`` in conftest.py calls it); ``copy_released`` copies that template and runs the one step
of a release that writes to a gradebook (nbgrader's generate_assignment) against the copy's own gradebook,
SQLite or the ``db_url`` given.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.course import coursedir
from grader.course.demo import run as demo
from grader.course.release import publish as course

ROOT = Path(__file__).resolve().parent.parent


def set_db_url(course_root: Path, db_url: str | None) -> None:
    """Point the course's nbgrader_config.py at ``db_url`` (None: nbgrader's default SQLite file)."""
    config = course_root / "nbgrader_config.py"
    lines = [line for line in config.read_text().splitlines() if not line.startswith("c.CourseDirectory.db_url")]
    if db_url:
        lines.append(f"c.CourseDirectory.db_url = {db_url!r}")
    config.write_text("\n".join(lines) + "\n")


def release_template(root: Path, assignment: str) -> Path:
    """The course of this checkout with ``assignment`` only, released (keys built) at ``root``."""
    demo.prepare_course(ROOT, root, [assignment])
    course.release(root, assignment, validate=False)
    return root


def copy_released(template: Path, target: Path, assignment: str, *, db_url: str | None = None) -> Path:
    """A course at ``target`` (created) with ``assignment`` released and recorded in its own gradebook."""
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("gradebook.db", "gradebook.db-*"))
    set_db_url(target, db_url)
    api = coursedir.nbgrader_api(target)
    with coursedir.scripts_on_path():
        result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise RuntimeError(f"nbgrader generate_assignment failed in {target}:\n{result.get('log', '')}")
    return target
