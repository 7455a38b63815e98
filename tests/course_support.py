"""Released course folders for tests that grade a class (autograde, the report, tampering, the cluster and
PostgreSQL tests), and the keys of every assignment of the course, built once per test run.

Why shared: a release builds the answer keys by running every solution notebook in a kernel (10-20 s here),
and several test modules need the same released assignment in fresh course folders with their own
gradebooks.  ``release_template`` runs calcgrade's whole release once per test run (the session fixture
``make_released_course`` in conftest.py calls it); ``copy_released`` copies that template and runs the one step
of a release that writes to a gradebook (nbgrader's generate_assignment) against the copy's own gradebook,
SQLite or the ``db_url`` given.

``CourseKeys`` builds the keys of every assignment under ``solutions/`` with ``calcgrade key`` once per test
run (the session fixture ``course_keys``): the course's own tests (test_assignments.py) and the key parity
tests (test_key_parity.py) read the same keys instead of running every solution notebook twice.

Once per test run, with pytest-xdist too: its workers each run the session fixtures, so what they build is
kept in one folder of the run (conftest's ``shared_cache``) under a lock (``cached``), built by the first
worker that needs it and copied by every user.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from grader.course import coursedir
from grader.course.demo import run as demo
from grader.course.release import publish as course
from grader.course.release.keybuild import build_keys
from grader.key import files

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


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Held by one process at a time: pytest-xdist's workers share the test run's caches (``shared_cache``), and
    the first to need an entry builds it while the others wait for it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached(folder: Path, build: Callable[[Path], None]) -> Path:
    """``folder``, built once per test run by ``build(folder)`` (by whichever worker asks first; a build that
    failed half-way is started again).  Read-only for its users: they copy it."""
    done = folder.with_name(folder.name + ".done")
    with exclusive(folder.with_name(folder.name + ".lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(folder)
            done.touch()
    return folder


class CourseKeys:
    """``calcgrade key`` over every assignment of this checkout, in a copy of its solutions at ``root``.

    The command runs when its keys are first asked for (``finished``; a caller can start its own slow steps
    before), once per test run.  The keys are read-only for their users: ``copy_into`` copies them into a
    user's own course, ``keys`` parses them afresh for each caller.
    """

    def __init__(self, root: Path, assignments: list[str]) -> None:
        self.root = Path(root)
        self.assignments = list(assignments)
        self._result = self.root.with_name("calcgrade-key.json")

    def _build(self, root: Path) -> None:
        shutil.copytree(ROOT / "solutions", root / "solutions")
        shutil.copy2(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.pop("NBGRADER_EXECUTION", None)
        try:
            proc = subprocess.run([str(Path(sys.executable).parent / "calcgrade"), "key", *self.assignments],
                                  cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=600)
            result = [proc.returncode, proc.stdout]
        except subprocess.TimeoutExpired as exc:
            result = [-9, (exc.stdout or b"").decode(errors="replace") + "\n(killed: timed out)"]
        self._result.write_text(json.dumps(result), encoding="utf-8")

    def finished(self) -> tuple[int, str]:
        """(exit status, merged output) of ``calcgrade key``, run now if no one has yet."""
        cached(self.root, self._build)
        status, output = json.loads(self._result.read_text(encoding="utf-8"))
        return status, output

    def paths(self, assignment: str) -> tuple[Path, Path]:
        """(private key, public key) of ``assignment`` where ``calcgrade key`` wrote them."""
        self.finished()
        return files.private_key_path(self.root, assignment), files.public_key_path(self.root, assignment)

    def keys(self, assignment: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(private key, public key) of ``assignment``, parsed.  When ``calcgrade key`` could not build them,
        raises the ``KeyBuildError`` that says why (the build is run again, for its problems)."""
        private, public = self.paths(assignment)
        if not (private.is_file() and public.is_file()):
            build_keys(self.root, assignment, write=False)  # raises KeyBuildError with the problems
            raise RuntimeError(f"calcgrade key wrote no keys of {assignment}:\n{self.finished()[1][-3000:]}")
        return json.loads(private.read_text(encoding="utf-8")), json.loads(public.read_text(encoding="utf-8"))

    def copy_into(self, course_root: Path, assignment: str) -> None:
        """Put the keys of ``assignment`` where ``calcgrade key`` would have written them in ``course_root``
        (those it wrote: a key it could not build is left out, as the command leaves it)."""
        for source, target in zip(self.paths(assignment), (files.private_key_path(Path(course_root), assignment),
                                                           files.public_key_path(Path(course_root), assignment))):
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
