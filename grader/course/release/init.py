"""``calcgrade init DIR``: a fresh course folder to start from, written from the course the package carries.

Why the package carries a course: ``pip install calcgrade`` must be enough to see the tool work
(``calcgrade demo`` anywhere) and to start a course of one's own.  The wheel holds the course's
``nbgrader_config.py`` and the starter assignment (``starter/solutions/00_starter``) as package data
(``grader/course/data/course``, copied there by setup.py when the wheel is built), never the real
assignments' solutions: students install the package too.  An editable install or a source checkout uses the
checkout's starter assignment with the checkout's configuration.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from grader.course.coursedir import CONFIG_NAME

__all__ = ["DATA_COURSE", "bundled_course", "copy_course", "write_course", "add_arguments", "main"]

DATA_COURSE = Path(__file__).resolve().parents[1] / "data" / "course"

# What a course folder accumulates that does not belong in its version control.
GITIGNORE = """\
# written by calcgrade and nbgrader; not part of the course's sources
.calcgrade/
gradebook.db
exchange/
submitted/
autograded/
feedback/
grades.csv
autograde.log
.ipynb_checkpoints/
"""

_IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


def _is_course(folder: Path) -> bool:
    return (folder / CONFIG_NAME).is_file() and (folder / "solutions").is_dir()


def bundled_course() -> Path | None:
    """The course this installation carries: the wheel's package data, else (editable install, source
    tree) the checkout the package is imported from.  None when neither holds a course."""
    if _is_course(DATA_COURSE):
        return DATA_COURSE
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file() and (checkout / CONFIG_NAME).is_file() \
            and (checkout / "starter" / "solutions").is_dir():
        return checkout / "starter"
    return None


def copy_course(source: Path, target: Path, assignments: list[str] | None = None) -> None:
    """Copy the instructor's side of a course (config + solutions, optionally only some assignments).

    The checkout's starter folder holds only solutions/: its configuration is the checkout's own."""
    target.mkdir(parents=True, exist_ok=True)
    config = source / CONFIG_NAME if (source / CONFIG_NAME).is_file() else source.parent / CONFIG_NAME
    shutil.copy2(config, target / CONFIG_NAME)
    names = assignments if assignments is not None else sorted(
        d.name for d in (source / "solutions").iterdir() if d.is_dir() and not d.name.startswith("."))
    for name in names:
        shutil.copytree(source / "solutions" / name, target / "solutions" / name, ignore=_IGNORED)


def write_course(target: Path, *, course_id: str | None = None, source: Path | None = None) -> Path:
    """Write a fresh course folder at ``target`` (which must be new or empty); returns it resolved."""
    source = source or bundled_course()
    if source is None:
        raise FileNotFoundError("this installation carries no course (reinstall calcgrade from its wheel)")
    target = Path(target).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"{target} is not empty: give a new or empty folder")
    copy_course(source, target)
    (target / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    if course_id:
        config = target / CONFIG_NAME
        text = config.read_text(encoding="utf-8")
        text, count = re.subn(r"(?m)^c\.CourseDirectory\.course_id\s*=.*$",
                              f"c.CourseDirectory.course_id = {course_id!r}", text)
        if not count:
            text += f"\nc.CourseDirectory.course_id = {course_id!r}\n"
        config.write_text(text, encoding="utf-8")
    return target


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="the new course folder (new or empty)")
    parser.add_argument("--course-id", default=None,
                        help="nbgrader course id (default: the one of the carried course)")


def main(args: argparse.Namespace) -> int:
    try:
        target = write_course(args.dir, course_id=args.course_id)
    except (FileNotFoundError, FileExistsError) as exc:
        print(f"calcgrade init: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"calcgrade init: cannot write {args.dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    names = sorted(d.name for d in (target / "solutions").iterdir() if d.is_dir())
    print(f"✓ a fresh course in {target}: {CONFIG_NAME} and solutions/ ({len(names)} "
          f"assignment{'s' * (len(names) != 1)}: {', '.join(names)})")
    print("  Next: edit the notebooks in solutions/, then release each assignment, e.g.")
    print(f"    cd {target} && calcgrade release {names[0] if names else '<assignment>'}")
    return 0
