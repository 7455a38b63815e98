"""Released course folders for tests that grade a class (the cluster and PostgreSQL tests).

Why shared: a release builds the answer keys by running every solution notebook in a kernel (10-20 s here),
and several test modules need the same released assignment in fresh course folders with their own
gradebooks.  The first call of a test session runs calcgrade's whole release into a template folder; every
call copies the template and runs the one step of a release that writes to a gradebook (nbgrader's
generate_assignment) against the copy's own gradebook, SQLite or the ``db_url`` given.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from grader.course import coursedir
from grader.course.demo import run as demo
from grader.course.release import publish as course

ROOT = Path(__file__).resolve().parent.parent
_TEMPLATES: dict[str, Path] = {}


def set_db_url(course_root: Path, db_url: str | None) -> None:
    """Point the course's nbgrader_config.py at ``db_url`` (None: nbgrader's default SQLite file)."""
    config = course_root / "nbgrader_config.py"
    lines = [line for line in config.read_text().splitlines() if not line.startswith("c.CourseDirectory.db_url")]
    if db_url:
        lines.append(f"c.CourseDirectory.db_url = {db_url!r}")
    config.write_text("\n".join(lines) + "\n")


def _template(assignment: str) -> Path:
    if assignment not in _TEMPLATES:
        base = Path(tempfile.mkdtemp(prefix="calcgrade-template-"))
        atexit.register(shutil.rmtree, base, True)
        root = base / "course"
        demo.prepare_course(ROOT, root, [assignment])
        course.release(root, assignment, validate=False)
        _TEMPLATES[assignment] = root
    return _TEMPLATES[assignment]


def released_course(target: Path, assignment: str, *, db_url: str | None = None) -> Path:
    """A course at ``target`` (created) with ``assignment`` released and recorded in its own gradebook."""
    template = _template(assignment)
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("gradebook.db", "gradebook.db-*"))
    set_db_url(target, db_url)
    api = coursedir.nbgrader_api(target)
    with coursedir.scripts_on_path():
        result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise RuntimeError(f"nbgrader generate_assignment failed in {target}:\n{result.get('log', '')}")
    return target
