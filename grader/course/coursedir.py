"""The course folder a command works on, its assignments, and nbgrader configured by that folder's own config.

Why this module: a course is a folder with ``nbgrader_config.py`` (and ``solutions/``), and an instructor
may have several of them.  Like nbgrader itself, every ``calcgrade`` command (``report`` included) works on
the course given by ``--course-root`` or, failing that, on the nearest folder at or above the current one
that holds ``nbgrader_config.py`` -- never on the folder the package happens to be installed from, which
would silently release into the wrong course.  Every command that takes an assignment checks its name here
(``require_assignment``), so a misspelt name gets the same one sentence listing the assignments that exist.
nbgrader runs from this interpreter (its scripts on PATH) and configured by the course's own config only;
the gradebook's scores are read in ``grader.course.gradebook``.
"""

from __future__ import annotations

import difflib
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from grader.key import files
from grader.key.files import CONFIG_NAME

__all__ = ["CONFIG_NAME", "CourseNotFound", "UnknownAssignment", "find_course_root", "assignments_of",
           "require_assignment", "course_of_command", "scripts_on_path", "script_environment", "nbgrader_config", "nbgrader_api",
           "exchange_root", "course_id"]



class CourseNotFound(FileNotFoundError):
    """No course folder where one was looked for; ``message`` says where and what to do.

    A FileNotFoundError: the course folder is a path that is not there.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownAssignment(CourseNotFound):
    """An assignment name the course does not have; ``message`` names the ones it has."""


def find_course_root(explicit: Path | str | None = None, *, start: Path | None = None) -> Path:
    """The course folder a command works on.

    ``explicit`` (``--course-root``) when given: it must hold nbgrader_config.py.  Else the folder of
    nbgrader_config.py at or above ``start`` (default: the current folder).  Raises ``CourseNotFound``
    with a sentence for the user when there is none.
    """
    if explicit is not None and str(explicit) != "":
        root = Path(explicit).expanduser().resolve()
        if not root.is_dir():
            raise CourseNotFound(f"no course at {root}: the folder does not exist")
        if not (root / CONFIG_NAME).is_file():
            raise CourseNotFound(f"no course at {root}: it has no {CONFIG_NAME} "
                                 f"(`calcgrade init {root}` writes a fresh course there)")
        return root
    here = Path(start if start is not None else Path.cwd()).resolve()
    found = files.find_course_root(here)
    if found is not None:
        return found
    raise CourseNotFound(
        f"no course found: neither {here} nor a folder above it holds {CONFIG_NAME}; run calcgrade in a "
        "course folder, give --course-root DIR, or start one with `calcgrade init DIR`"
    )


def assignments_of(course_root: Path) -> list[str]:
    """The course's assignments: the folders under solutions/ that hold at least one notebook."""
    sol = Path(course_root) / "solutions"
    if not sol.is_dir():
        return []
    return sorted(d.name for d in sol.iterdir()
                  if d.is_dir() and any(not p.name.startswith(".") for p in d.glob("*.ipynb")))


def require_assignment(course_root: Path, assignment: str, *, known: list[str] | None = None) -> None:
    """Raise ``UnknownAssignment`` unless ``assignment`` is one of the course's (``known``, default
    ``assignments_of``): one sentence naming the assignments that exist, and the closest one."""
    names = sorted(set(assignments_of(course_root) if known is None else known))
    if assignment in names:
        return
    listed = ", ".join(names) if names else "none yet"
    close = difflib.get_close_matches(assignment, names, n=1, cutoff=0.6)
    hint = f": did you mean {close[0]}?" if close else ""
    raise UnknownAssignment(f"no assignment {assignment!r} in the course at {Path(course_root)}{hint} "
                            f"(assignments: {listed})")


def course_of_command(command: str, course_root: Path | str | None, assignments: Iterable[str] = ()) -> Path | None:
    """The course folder of ``calcgrade COMMAND`` with every named assignment checked; None after one
    sentence on stderr (``calcgrade COMMAND: ...``) when there is no course or a name is not one of it."""
    try:
        root = find_course_root(course_root)
        for assignment in assignments:
            require_assignment(root, assignment)
    except CourseNotFound as exc:
        print(f"calcgrade {command}: {exc.message}", file=sys.stderr)
        return None
    return root


def script_environment(extra_path: str | None = None) -> dict[str, str]:
    """The environment nbgrader needs in a subprocess: this interpreter's scripts (alembic) on PATH
    (then ``extra_path``, when given)."""
    env = dict(os.environ)
    parts = [str(Path(sys.executable).parent)] + ([extra_path] if extra_path else []) + [env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(p for p in parts if p)
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


@contextmanager
def scripts_on_path() -> Iterator[None]:
    """Run nbgrader in-process with this interpreter's scripts on PATH (alembic creates gradebooks)."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = script_environment()["PATH"]
    try:
        yield
    finally:
        os.environ["PATH"] = old


def nbgrader_config(course_root: Path, *, db_url: str | None = None) -> Any:
    """The traitlets config of the course's own nbgrader_config.py (no user-level config mixed in).

    ``db_url`` replaces the gradebook (a release is first tried against a scratch gradebook).
    """
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(course_root).resolve()
    config = PyFileConfigLoader(CONFIG_NAME, path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    if str(config.CourseDirectory.get("db_url", "")).startswith("postgres"):
        from grader.core.extras import require

        require("postgres", f"the PostgreSQL gradebook of {CONFIG_NAME}")
    return config


def nbgrader_api(course_root: Path, *, db_url: str | None = None) -> Any:  # -> nbgrader.apps.NbGraderAPI
    """An NbGraderAPI configured by the course's own nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = nbgrader_config(course_root, db_url=db_url)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def exchange_root(course_root: Path) -> Path:
    """The exchange folder the course's config names (nbgrader's default when it names none)."""
    from nbgrader.exchange.default import Exchange

    config = nbgrader_config(course_root)
    return Path(Exchange(config=config).root)


def course_id(course_root: Path) -> str:
    """The course id of the course's config ("" when it sets none)."""
    return str(nbgrader_config(course_root).CourseDirectory.get("course_id", "") or "")
