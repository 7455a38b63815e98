"""Fixtures shared by the test modules.

* ``make_released_course``: released copies of the course, the keys built once per test run (a release runs
  every solution notebook in a kernel: the slowest set-up of the suite);
* ``shared_cache``: where those built-once things are kept, one folder per test run that pytest-xdist's
  workers share (each worker runs the session fixtures; the first to need a thing builds it);
* ``course_keys``: the keys of every assignment of the course, built by ``calcgrade key`` once per test run
  (``course_support.CourseKeys``; each build runs an assignment's solution notebooks in a kernel);
* ``pg_server``: one throw-away PostgreSQL server per test run (``pg_support``), skipped with the reason
  when the binaries are missing; each user takes its own database (``pg_server.create_database``).

The helper modules beside this file (``course_support``, ``pg_support``, ``dask_support``,
``browser_support``) and ``fixtures/`` are importable by name: pytest puts this folder on ``sys.path``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

import course_support
import pg_support

ASSIGNMENT = "02_derivatives"  # the assignment the grading tests share


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this test run where session fixtures keep what they build once (``course_support.cached``).

    Under pytest-xdist each worker runs the session fixtures and has its own temporary folder inside the run's;
    the cache is in the run's folder, so the workers share it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    cache = base / "shared-cache"
    cache.mkdir(exist_ok=True)
    return cache


@pytest.fixture(scope="session")
def make_released_course(shared_cache: Path) -> Callable[..., Path]:
    """``make_released_course(target, assignment=ASSIGNMENT, db_url=None)``: a course folder at ``target``
    with ``assignment`` released into its own gradebook.  The release itself (keys, exercises) runs once per
    assignment and test run; each call copies it."""

    def make(target: Path, assignment: str = ASSIGNMENT, *, db_url: str | None = None) -> Path:
        template = course_support.cached(shared_cache / f"released-{assignment}",
                                         lambda folder: course_support.release_template(folder, assignment))
        return course_support.copy_released(template, Path(target), assignment, db_url=db_url)

    return make


@pytest.fixture(scope="session")
def course_keys(shared_cache: Path) -> course_support.CourseKeys:
    """``calcgrade key`` over every assignment under solutions/, run when first asked for; read-only for its
    users (``CourseKeys.copy_into`` copies, ``CourseKeys.keys`` parses afresh)."""
    from grader.course.coursedir import assignments_of

    return course_support.CourseKeys(shared_cache / "course-keys", assignments_of(course_support.ROOT))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg_support.PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1 for the whole run, always stopped."""
    problem = pg_support.binaries_problem()
    if problem:
        pytest.skip(problem)
    with pg_support.PostgresServer() as server:
        yield server
