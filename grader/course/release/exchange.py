"""nbgrader's exchange for a course: the folder through which students fetch and submit.

Why here: nbgrader's default exchange (/usr/local/share/nbgrader/exchange) must pre-exist and be
writable by everyone, so on a fresh machine the Assignment List says "Error fetching courses!".  The
course's nbgrader_config.py names an exchange folder (a JupyterHub course points it at its shared
folder); ``calcgrade release`` creates it with the permissions nbgrader expects and publishes the
released assignment there (nbgrader ``release_assignment``), so release -> fetch -> submit -> collect
works out of the box on one machine.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from grader.course import coursedir

__all__ = ["ExchangeError", "ensure_exchange", "publish", "student_config"]

# What nbgrader's release_assignment creates (exchange/default/release_assignment.py): the root
# writable by everyone, the course folder and outbound/ readable, inbound/ writable but not listable,
# set-gid so submissions keep the instructor's group.
ROOT_MODE = 0o777
COURSE_MODE = 0o755
OUTBOUND_MODE = 0o755
INBOUND_MODE = stat.S_ISGID | 0o733


class ExchangeError(RuntimeError):
    """The exchange cannot be prepared or written; the message says which folder and why."""


def _ensure(path: Path, mode: int) -> None:
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != mode:
        os.chmod(path, mode)


def ensure_exchange(course_root: Path) -> Path:
    """Create the course's exchange folders with nbgrader's permissions; the course folder in it."""
    cid = coursedir.course_id(course_root)
    if not cid:
        raise ExchangeError(f"{Path(course_root) / coursedir.CONFIG_NAME} sets no c.CourseDirectory.course_id, "
                            "which nbgrader's exchange needs")
    root = coursedir.exchange_root(course_root)
    course = root / cid
    try:
        _ensure(root, ROOT_MODE)
        _ensure(course, COURSE_MODE)
        _ensure(course / "outbound", OUTBOUND_MODE)
        _ensure(course / "inbound", INBOUND_MODE)
    except OSError as exc:
        raise ExchangeError(f"cannot prepare the exchange folder {root}: {exc.strerror or exc} "
                            "(set c.Exchange.root in nbgrader_config.py to a folder you may create)") from exc
    return course


def publish(course_root: Path, assignment: str) -> Path:
    """nbgrader ``release_assignment`` of exercises/<assignment> into the exchange (replacing an older copy)."""
    from grader.course.release.releasecheck import summarise_nbgrader_log

    course = ensure_exchange(course_root)
    config = coursedir.nbgrader_config(course_root)
    config.ExchangeReleaseAssignment.force = True
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    with coursedir.scripts_on_path():
        result = api.release_assignment(assignment)
    if not result.get("success"):
        reason = summarise_nbgrader_log((result.get("log") or "") + "\n" + (result.get("error") or ""),
                                        "nbgrader release_assignment failed")
        raise ExchangeError(f"{assignment} could not be published to the exchange {course}: {reason}")
    return course / "outbound" / assignment


def student_config(course_root: Path) -> str:
    """The nbgrader_config.py a student's Jupyter needs to see this course in its Assignment List."""
    return (
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {str(coursedir.exchange_root(course_root))!r}\n"
        f"c.CourseDirectory.course_id = {coursedir.course_id(course_root)!r}\n"
    )
