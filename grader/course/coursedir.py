"""The course folder a command works on, and nbgrader configured by that folder's own config.

Why this module: a course is a folder with ``nbgrader_config.py`` (and ``solutions/``), and an instructor
may have several of them.  Like nbgrader itself, every ``calcgrade`` command works on the course given by
``--course-root`` or, failing that, on the nearest folder at or above the current one that holds
``nbgrader_config.py`` -- never on the folder the package happens to be installed from, which would
silently release into the wrong course.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["CONFIG_NAME", "CourseNotFound", "find_course_root", "scripts_on_path", "script_environment",
           "nbgrader_config", "nbgrader_api", "exchange_root", "course_id"]

CONFIG_NAME = "nbgrader_config.py"


class CourseNotFound(FileNotFoundError):
    """No course folder where one was looked for; ``message`` says where and what to do.

    A FileNotFoundError, as the former ``release.project_root()`` raised, so callers of either keep working.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def find_course_root(explicit: Path | None = None, *, start: Path | None = None) -> Path:
    """The course folder a command works on.

    ``explicit`` (``--course-root``) when given: it must hold nbgrader_config.py.  Else the folder of
    nbgrader_config.py at or above ``start`` (default: the current folder).  Raises ``CourseNotFound``
    with a sentence for the user when there is none.
    """
    if explicit is not None:
        root = Path(explicit).expanduser().resolve()
        if not root.is_dir():
            raise CourseNotFound(f"no course at {root}: the folder does not exist")
        if not (root / CONFIG_NAME).is_file():
            raise CourseNotFound(f"no course at {root}: it has no {CONFIG_NAME} "
                                 f"(`calcgrade init {root}` writes a fresh course there)")
        return root
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise CourseNotFound(
        f"no course found: neither {here} nor a folder above it holds {CONFIG_NAME}; run calcgrade in a "
        "course folder, give --course-root DIR, or start one with `calcgrade init DIR`"
    )


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
