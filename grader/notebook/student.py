"""The student id of a live kernel, and the key entry ``check`` grades with for that student.

The order (first found wins) is documented in ``grader.notebook.variants``; while grading, none of this is
asked: the trusted grader takes the id from the gradebook.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any, Mapping

from grader.key import variants as kv

__all__ = ["set_student", "student_id", "entry_for_check", "STUDENT_ENV"]

STUDENT_ENV = "CALCGRADE_STUDENT"
_STUDENT: list[str] = []        # set_student()'s value in this kernel


def set_student(student: str) -> str:
    """Use ``student`` as this kernel's student id for ``variant`` and ``check`` (before the environment)."""
    _STUDENT[:] = [str(student).strip()]
    return _STUDENT[0]


def student_id(cwd: Path | None = None) -> tuple[str, str]:
    """(student id, where it came from) in a live kernel; the order is the module docstring's."""
    here = Path(cwd or Path.cwd()).resolve()
    if os.environ.get("NBGRADER_EXECUTION") == "autograde" and here.parent.parent.name == "autograded":
        return here.parent.name, "the autograded/<student>/ folder"
    if _STUDENT and _STUDENT[0]:
        return _STUDENT[0], "set_student()"
    for env in (STUDENT_ENV, "JUPYTERHUB_USER"):
        value = os.environ.get(env, "").strip()
        if value:
            return value, f"${env}"
    try:
        return getpass.getuser(), "the login name"
    except Exception:
        return "student", "no id found"


def entry_for_check(key: Mapping[str, Any], qid: str, cwd: Path | None = None) -> dict[str, Any] | None:
    """The entry ``check`` grades with in a live kernel: the student's own variant of a variant question."""
    entry = (key.get("questions") or {}).get(qid)
    if not kv.is_variant(entry):
        return entry
    return kv.student_variant(key, qid, student_id(cwd)[0])
