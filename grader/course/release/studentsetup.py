"""``calcgrade student-setup``: a student's Jupyter, ready for the course, in one command.

Why: calcgrade depends on nbgrader (students need nbgrader's Assignment List to fetch and submit), and
nbgrader's JupyterLab extension shows the instructor's menus (Formgrader, Create Assignment, Course List)
to everyone, while its Assignment List answers "Error fetching courses!" until the student's Jupyter names
the course's exchange.  This writes, in one Jupyter configuration folder (the student's own, or the
environment's for a JupyterHub image):

* ``nbgrader_config.py``: the course's exchange folder and course id (``exchange.student_config``);
* ``labconfig/page_config.json``: nbgrader's instructor plugins disabled and locked (what
  ``jupyter labextension disable/lock`` write);
* ``jupyter_server_config.json``: nbgrader's formgrader and course-list server extensions off (the
  ``jupyter server extension disable`` command cannot name nbgrader's sub-extensions).

Existing settings in the two JSON files are kept (merged); an ``nbgrader_config.py`` calcgrade did not
write is not overwritten.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["INSTRUCTOR_LAB_PLUGINS", "INSTRUCTOR_SERVER_EXTENSIONS", "config_dir_for", "write_student_setup",
           "add_arguments", "main"]

INSTRUCTOR_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
MARKER = "# written by `calcgrade student-setup`"


def config_dir_for(level: str) -> Path:
    """Jupyter's configuration folder of ``level``: ``user`` (~/.jupyter or JUPYTER_CONFIG_DIR) or
    ``sys-prefix`` (this environment's etc/jupyter, what every user of a JupyterHub image reads)."""
    from jupyter_core.paths import jupyter_config_dir

    if level == "sys-prefix":
        return Path(sys.prefix) / "etc" / "jupyter"
    return Path(jupyter_config_dir())


def _merge_json(path: Path, update: dict[str, Any]) -> None:
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix or remove it first") from None
    if not isinstance(current, dict):
        raise ValueError(f"{path} does not hold a JSON object; fix or remove it first")

    def merge(into: dict[str, Any], new: dict[str, Any]) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value
    merge(current, update)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")


def write_student_setup(config_dir: Path, exchange_root: str, course_id: str) -> list[Path]:
    """Write the three files into ``config_dir``; returns their paths.  Raises ValueError (naming the file)
    for an nbgrader_config.py of someone else's or a JSON file that cannot be merged."""
    config_dir = Path(config_dir)
    nbgrader_config = config_dir / "nbgrader_config.py"
    if nbgrader_config.is_file() and MARKER not in nbgrader_config.read_text(encoding="utf-8", errors="replace"):
        raise ValueError(f"{nbgrader_config} exists and was not written by calcgrade: add the course's two lines "
                         f"to it yourself (c.Exchange.root = {exchange_root!r}, "
                         f"c.CourseDirectory.course_id = {course_id!r}) or remove it")
    page_config = config_dir / "labconfig" / "page_config.json"
    server_config = config_dir / "jupyter_server_config.json"
    _merge_json(page_config, {"disabledExtensions": {name: True for name in INSTRUCTOR_LAB_PLUGINS},
                              "lockedExtensions": {name: True for name in INSTRUCTOR_LAB_PLUGINS}})
    _merge_json(server_config, {"ServerApp": {"jpserver_extensions": {
        name: False for name in INSTRUCTOR_SERVER_EXTENSIONS}}})
    config_dir.mkdir(parents=True, exist_ok=True)
    nbgrader_config.write_text(
        f"{MARKER}: the course this Jupyter fetches from and submits to\n"
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {exchange_root!r}\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n", encoding="utf-8")
    return [nbgrader_config, page_config, server_config]


def command_for(course_root: Path) -> str:
    """The command an instructor hands to students (printed after a release)."""
    from grader.course import coursedir

    return (f"calcgrade student-setup --exchange {coursedir.exchange_root(course_root)} "
            f"--course-id {coursedir.course_id(course_root)}")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exchange", default=None, metavar="DIR",
                        help="the course's exchange folder (default: the one of --course-root or the course here)")
    parser.add_argument("--course-id", default=None, metavar="ID", help="the course's nbgrader course id")
    parser.add_argument("--course-root", type=Path, default=None, metavar="DIR",
                        help="read the exchange and course id from this course's nbgrader_config.py")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--level", choices=["user", "sys-prefix"], default="user",
                       help="user: this user's Jupyter (default); sys-prefix: every user of this environment "
                            "(a JupyterHub image)")
    where.add_argument("--config-dir", type=Path, default=None, metavar="DIR",
                       help="write into this Jupyter configuration folder instead")


def main(args: argparse.Namespace) -> int:
    from grader.course import coursedir

    exchange, course_id = args.exchange, args.course_id
    if exchange is None or course_id is None:
        try:
            root = coursedir.find_course_root(args.course_root)
        except coursedir.CourseNotFound as exc:
            print("calcgrade student-setup: give --exchange DIR and --course-id ID (your instructor's "
                  f"release prints them), or run it in the course folder ({exc.message})", file=sys.stderr)
            return 2
        exchange = exchange or str(coursedir.exchange_root(root))
        course_id = course_id or coursedir.course_id(root)
    if not course_id:
        print("calcgrade student-setup: the course has no course id (c.CourseDirectory.course_id)", file=sys.stderr)
        return 2
    target = args.config_dir if args.config_dir is not None else config_dir_for(args.level)
    try:
        written = write_student_setup(target, str(exchange), str(course_id))
    except (ValueError, OSError) as exc:
        print(f"calcgrade student-setup: {exc}", file=sys.stderr)
        return 2
    print(f"✓ Jupyter in {target} is set up for the course {course_id}: the Assignment List fetches from and "
          f"submits to {exchange}; nbgrader's instructor menus and formgrader are off.")
    for path in written:
        print(f"    {path}")
    print("  Restart JupyterLab to see it.")
    return 0
