"""Autograde a whole class with nbgrader, one student at a time, without letting
one submission stop the others.

Why worker processes: nbgrader has no parallel autograde, logs kernel noise to
the terminal, and gives up on a whole notebook when a kernel dies.  Each worker
is a separate Python process that grades a list of (assignment, student) pairs
through nbgrader's own API and reports one JSON line per submission, so the
parent can draw a progress bar, keep a log, and carry on whatever happens in a
worker.  Two workers keep both cores of a small machine busy; the SQLite
gradebook is shared, so a submission that hits a locked database is retried.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

RETRIES_ON_LOCK = 3


@dataclass(frozen=True)
class GradingResult:
    """What happened when one submission was autograded."""

    assignment: str
    student: str
    success: bool
    seconds: float
    error: str = ""  # one line, for the instructor


def course_environment(extra_path: str | None = None) -> dict[str, str]:
    """The environment nbgrader needs: this interpreter's scripts (alembic) on PATH."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    parts = [bin_dir] + ([extra_path] if extra_path else []) + [env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(p for p in parts if p)
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


@contextmanager
def course_path() -> Iterator[None]:
    """Run nbgrader in-process with this interpreter's scripts on PATH (alembic creates gradebooks)."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = course_environment()["PATH"]
    try:
        yield
    finally:
        os.environ["PATH"] = old


def load_api(course_root: Path):  # -> nbgrader.apps.NbGraderAPI
    """An NbGraderAPI configured by the course's own nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    course_root = Path(course_root).resolve()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    config.CourseDirectory.root = str(course_root)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _summarise_error(result: dict) -> str:
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    for marker, message in (
        ("DeadKernelError", "the kernel died while running the notebook"),
        ("NotJSONError", "the file is not a valid notebook (not JSON)"),
        ("JSONDecodeError", "the file is not a valid notebook (not JSON)"),
        ("is not valid JSON", "the file is not a valid notebook (not JSON)"),
        ("database is locked", "the gradebook was busy"),
        ("CellTimeoutError", "a cell ran past the time limit"),
    ):
        if marker in text:
            return message
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "nbgrader reported a failure"


def grade_one(api, assignment: str, student: str) -> GradingResult:
    """Autograde one submission through nbgrader's API; never raises."""
    start = time.perf_counter()
    error = ""
    success = False
    for attempt in range(RETRIES_ON_LOCK):
        try:
            result = api.autograde(assignment, student, force=True, create=True)
        except Exception as exc:  # nbgrader itself failed: record, go on
            result = {"success": False, "error": f"{type(exc).__name__}: {exc}"}
        success = bool(result.get("success"))
        error = "" if success else _summarise_error(result)
        if success or error != "the gradebook was busy":
            break
        time.sleep(0.5 * (attempt + 1))
    return GradingResult(assignment, student, success, time.perf_counter() - start, error)


def _worker(course_root: Path, jobs: list[tuple[str, str]]) -> int:
    """Entry point of a worker process: grade jobs, print one JSON line each."""
    import logging

    logging.disable(logging.WARNING)
    api = load_api(course_root)
    api.log.setLevel(logging.ERROR)
    out = sys.stdout
    for assignment, student in jobs:
        res = grade_one(api, assignment, student)
        out.write(json.dumps(res.__dict__) + "\n")
        out.flush()
    return 0


def autograde_class(
    course_root: Path,
    jobs: Sequence[tuple[str, str]],
    *,
    workers: int = 2,
    on_result: Callable[[GradingResult], None] | None = None,
    log_path: Path | None = None,
) -> list[GradingResult]:
    """Autograde every (assignment, student) job in ``workers`` processes.

    Results come back in the order of ``jobs``.  A worker that dies takes no
    other submission with it: its unfinished jobs are reported as failures.
    """
    course_root = Path(course_root).resolve()
    jobs = list(jobs)
    workers = max(1, min(workers, len(jobs)))
    # Create the gradebook (alembic) once, before workers race to do it.
    if jobs:
        _ensure_gradebook(course_root)
    shards: list[list[tuple[str, str]]] = [jobs[i::workers] for i in range(workers)]
    log = open(log_path, "a", encoding="utf-8") if log_path else subprocess.DEVNULL
    env = course_environment()
    procs = []
    try:
        for shard in shards:
            procs.append(
                (
                    shard,
                    subprocess.Popen(
                        [sys.executable, "-m", "grader.course.autograde", str(course_root), json.dumps(shard)],
                        stdout=subprocess.PIPE,
                        stderr=log,
                        text=True,
                        env=env,
                        cwd=str(course_root),
                    ),
                )
            )
        results: dict[tuple[str, str], GradingResult] = {}
        import selectors

        sel = selectors.DefaultSelector()
        for shard, proc in procs:
            assert proc.stdout is not None
            sel.register(proc.stdout, selectors.EVENT_READ, (shard, proc))
        open_streams = len(procs)
        while open_streams:
            for key, _ in sel.select():
                line = key.fileobj.readline()  # type: ignore[union-attr]
                if not line:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                try:
                    data = json.loads(line)
                    res = GradingResult(**data)
                except (ValueError, TypeError):
                    continue
                results[(res.assignment, res.student)] = res
                if on_result:
                    on_result(res)
        for _, proc in procs:
            proc.wait()
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
        if log_path and log is not subprocess.DEVNULL:
            log.close()  # type: ignore[union-attr]
    ordered = []
    for job in jobs:
        res = results.get(job) or GradingResult(job[0], job[1], False, 0.0, "the grading worker stopped")
        if job not in results and on_result:
            on_result(res)
        ordered.append(res)
    return ordered


def _ensure_gradebook(course_root: Path) -> None:
    from nbgrader.api import Gradebook

    with course_path():
        with Gradebook(load_api(course_root).coursedir.db_url):
            pass


def all_scores(course_root: Path) -> dict[tuple[str, str, str], dict[str, float]]:
    """(assignment, student, notebook) -> points per question (test cell grade id without ``test_``),
    read from the gradebook in one pass."""
    from nbgrader.api import Gradebook

    api = load_api(course_root)
    out: dict[tuple[str, str, str], dict[str, float]] = {}
    with Gradebook(api.coursedir.db_url) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for nb in submission.notebooks:
                    out[(assignment.name, submission.student.id, nb.name)] = {
                        (g.name[len("test_"):] if g.name.startswith("test_") else g.name): float(g.score or 0.0)
                        for g in nb.grades
                    }
    return out


def scores(course_root: Path, assignment: str, student: str, notebook: str) -> dict[str, float] | None:
    """Points per question of one graded notebook, or None if it is not in the gradebook."""
    return all_scores(course_root).get((assignment, student, notebook))


def main(argv: Iterable[str] | None = None) -> int:  # worker entry point
    args = list(sys.argv[1:] if argv is None else argv)
    course_root, jobs = Path(args[0]), [tuple(j) for j in json.loads(args[1])]
    return _worker(course_root, jobs)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
