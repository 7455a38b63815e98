"""Fixtures shared by the test modules.

* ``make_released_course``: released copies of the course, the keys built once per test run (a release runs
  every solution notebook in a kernel: the slowest set-up of the suite);
* ``pg_server``: one throw-away PostgreSQL server per test run (``pg_support``), skipped with the reason
  when the binaries are missing; each user takes its own database (``pg_server.create_database``).

The helper modules beside this file (``course_support``, ``pg_support``, ``dask_support``,
``browser_support``) and ``fixtures/`` are importable by name: pytest puts this folder on ``sys.path``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

import course_support
import pg_support

ASSIGNMENT = "02_derivatives"  # the assignment the grading tests share


@pytest.fixture(scope="session")
def make_released_course(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``make_released_course(target, assignment=ASSIGNMENT, db_url=None)``: a course folder at ``target``
    with ``assignment`` released into its own gradebook.  The release itself (keys, exercises) runs once per
    assignment and test run; each call copies it."""
    templates: dict[str, Path] = {}

    def make(target: Path, assignment: str = ASSIGNMENT, *, db_url: str | None = None) -> Path:
        if assignment not in templates:
            base = tmp_path_factory.mktemp(f"released-{assignment}")
            templates[assignment] = course_support.release_template(base / "course", assignment)
        return course_support.copy_released(templates[assignment], Path(target), assignment, db_url=db_url)

    return make


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg_support.PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1 for the whole run, always stopped."""
    problem = pg_support.binaries_problem()
    if problem:
        pytest.skip(problem)
    with pg_support.PostgresServer() as server:
        yield server
