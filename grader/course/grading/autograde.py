"""``calcgrade autograde ASSIGNMENT``: the course's nbgrader autograde pipeline, with the execution step run fast.

The steps are the ones ``nbgrader_config.py`` declares (``nbgrader_steps.autograde_steps``); only the way
of running ``SandboxedExecute`` differs from stock ``nbgrader autograde``.  Three phases, the first and last
in this (trusted) process only:

1. *prepare*, per student: nbgrader's converter does its bookkeeping and copies the files
   (``_copy_submission``), then each submitted notebook goes through the sanitising steps and the steps
   before execution, and becomes a ``Job``;
2. *execute*, in parallel: the jobs go to the sandboxed warm executors (``ExecutorPool``, one per core by
   default) or, with ``--scheduler``, to Dask workers (``grader.course.sandbox.cluster.run_jobs``), and are
   prepared only as executors free up;
3. *grade*, as executions come back: the steps after execution (trusted grading, the gradebook: one
   transaction per notebook, one writer), then the notebook is written by nbgrader's converter.

A submission that cannot be read or executed fails alone, with its reason in the summary.  Grading refuses
to start without a current private key (``calcgrade release``) or, unless ``--no-sandbox``, without a sandbox.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from grader.course.coursedir import scripts_on_path
from grader.course.grading.trusted import GradingRefused
from grader.course.grading.warmpool import WarmPool

__all__ = [
    "StudentResult", "AutogradeRun", "GradingRefused", "autograde_assignment", "format_summary", "submitted_students",
    "skip_unused_schema_formats",
]

# --- results ----------------------------------------------------------------------------------------------------
@dataclass
class StudentResult:
    """What grading one student's submission gave."""

    student: str
    assignment: str
    success: bool
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    error: str = ""                                   # why the submission could not be graded (one sentence)
    stopped: list[str] = field(default_factory=list)  # "<notebook>: <why the run stopped early>"
    questions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AutogradeRun:
    assignment: str
    results: list[StudentResult]
    sandboxed: bool
    seconds: float
    workers: int
    where: str = "local"
    per_worker: dict[str, int] = field(default_factory=dict)  # Dask worker -> notebooks run (with --scheduler)

    def to_json(self) -> dict[str, Any]:
        return {"assignment": self.assignment, "sandboxed": self.sandboxed, "seconds": round(self.seconds, 3),
                "workers": self.workers, "executed_on": self.where, "per_worker": self.per_worker,
                "students": [asdict(r) for r in self.results]}


@dataclass
class _Pending:
    student: str
    notebook: str
    dest: Path
    restored: dict[str, Any]
    resources: dict[str, Any]


# --- phase 1: prepare -----------------------------------------------------------------------------------------
class _Context:
    """The course's nbgrader, read once per run: its Autograde converter (bookkeeping, file copying, writing),
    the pipeline its config declares (``nbgrader_steps.autograde_steps``), the private key and the limits."""

    def __init__(self, course_root: Path, assignment: str, sandbox: bool, cell_timeout: float | None) -> None:
        from nbconvert.writers import FilesWriter
        from nbgrader.coursedir import CourseDirectory

        from grader.course.coursedir import nbgrader_config
        from grader.course.grading.nbgrader_steps import autograde_steps, load_private_key
        from grader.course.grading.sharedgradebook import SharedGradebookAutograde
        from grader.course.grading.trusted import function_inputs
        from grader.course.sandbox.executor import Limits

        self.released_cells: dict[str, Any] = {}  # notebook -> released_cells(), read once per class
        self.root = course_root
        self.assignment = assignment
        self.config = nbgrader_config(course_root)
        self.coursedir = CourseDirectory(config=self.config)
        self.db_url = self.coursedir.db_url
        self.key = load_private_key(course_root, assignment)
        self.inputs = function_inputs(self.key)
        # nbgrader's converter; its per-student bookkeeping runs on the run's open gradebook (sharedgradebook)
        self.converter = SharedGradebookAutograde(coursedir=self.coursedir, config=self.config)
        self.converter.force = True
        # nbgrader's per-student notes ("Removing existing assignment", "Copying ...") are not the summary's;
        # its errors still show
        self.converter.log = logging.getLogger("calcgrade.autograde.nbgrader")
        self.converter.log.setLevel(logging.ERROR)
        self.converter.writer = FilesWriter(parent=self.converter, config=self.config)
        self.steps = autograde_steps(self.converter)
        execute = self.steps.execute
        if cell_timeout is None and "timeout" in self.config.Execute and "cell_timeout" not in self.config.SandboxedExecute:
            cell_timeout = float(self.config.Execute.timeout)
        self.limits = Limits(memory_bytes=execute.memory_bytes, cpu_seconds=Limits().cpu_seconds,
                             processes=execute.processes, cell_timeout=cell_timeout or execute.cell_timeout,
                             notebook_timeout=execute.notebook_timeout)
        self.sandbox = sandbox

    def path(self, step: str, student: str) -> Path:
        return Path(self.coursedir.format_path(step, student, self.assignment))


def _copy_submission(ctx: _Context, student: str) -> list[str]:
    """The one place a submission's files are copied: nbgrader's own bookkeeping for one student
    (``Autograde.init_destination`` and ``init_assignment``: the earlier autograded copy removed, student and
    submission with its timestamp in the gradebook, the submission's and the assignment's other files copied
    to ``autograded/``, unsubmitted notebooks scored 0).  Returns the submitted notebooks nbgrader will grade."""
    from nbgrader.converters.base import NbGraderException

    from grader.course.grading.submission_files import check_submission

    conv = ctx.converter
    src = ctx.path(ctx.coursedir.submitted_directory, student)
    # nbgrader's copy follows links: a submission holding one (to the key, to a classmate's notebook) is
    # refused, naming it, before anything of it is copied (grader.course.grading.submission_files)
    check_submission(src, below=Path(ctx.coursedir.root) / ctx.coursedir.submitted_directory)
    conv.notebooks = sorted(glob.glob(os.path.join(str(src), f"{ctx.coursedir.notebook_id}.ipynb")))
    if not conv.notebooks:
        raise GradingRefused(f"no notebook of {ctx.assignment} was submitted")
    if not conv.init_destination(ctx.assignment, student):
        raise GradingRefused("left out by CourseDirectory.student_id_exclude")
    try:
        conv.init_assignment(ctx.assignment, student)
    except NbGraderException as exc:
        raise GradingRefused(str(exc) or f"nbgrader could not prepare {student}'s submission") from None
    return list(conv.notebooks)


def _prepare(ctx: _Context, gb: Any, student: str) -> list[tuple[Any, _Pending]]:
    """nbgrader's bookkeeping for one student, then each notebook through the sanitising steps and the steps
    before execution: a Job per submitted notebook."""
    from grader.key.variants import params_for_student  # issue 23: the gradebook's student's numbers
    import nbformat
    from nbgrader.utils import setenv

    from grader.course.grading.nbgrader_steps import submission_files
    from grader.course.sandbox.executor import Job

    gb.db.commit()  # the student's bookkeeping (through this same session) starts a transaction of its own
    notebooks = _copy_submission(ctx, student)
    dest = ctx.path(ctx.coursedir.autograded_directory, student)
    files = submission_files(dest)
    out = []
    for path in notebooks:
        name = Path(path).stem
        try:
            nb = nbformat.reads(Path(path).read_text(encoding="utf-8", errors="replace"), as_version=4)
        except Exception as exc:
            why = "not JSON" if "JSON" in type(exc).__name__ else _first_line(exc)
            raise GradingRefused(f"{Path(path).name} is not a valid notebook ({why})") from None
        resources = ctx.converter.init_single_notebook_resources(path)
        resources["metadata"] = {"path": str(Path(path).parent), "name": name}
        resources["calcgrade"] = {"gradebook": gb, "released_cells": ctx.released_cells}
        for step in ctx.steps.sanitize:
            nb, resources = step(nb, resources)
        resources["metadata"]["path"] = str(dest)
        with setenv(NBGRADER_EXECUTION="autograde"):
            for step in ctx.steps.before:
                nb, resources = step(nb, resources)
        restored = json.loads(json.dumps(nb))
        job = Job(key=f"{student}/{ctx.assignment}/{name}.ipynb", notebook=restored, files=files,
                  inputs=ctx.inputs, limits=ctx.limits, variants=params_for_student(ctx.key, student))
        out.append((job, _Pending(student, name, dest, restored, resources)))
    gb.db.commit()
    return out


# --- phase 3: grade ---------------------------------------------------------------------------------------------
def _finish(ctx: _Context, gb: Any, pending: _Pending, execution: Any) -> Any:
    """The steps after execution (trusted grading, the gradebook, ...) and the autograded notebook, written by
    nbgrader's converter (this process only)."""
    import nbformat
    from nbgrader.utils import setenv

    resources = pending.resources
    resources["calcgrade"].update(execution=execution, restored=pending.restored, key=ctx.key,
                                  course_root=str(ctx.root))
    nb = nbformat.from_dict(pending.restored)
    try:
        with setenv(NBGRADER_EXECUTION="autograde"):
            for step in ctx.steps.after:
                nb, resources = step(nb, resources)
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise
    resources["output_extension"] = ".ipynb"
    ctx.converter.write_single_notebook(nbformat.writes(nb), resources)
    graded = resources["calcgrade"].get("graded")
    if graded is None:
        raise GradingRefused("the course's autograde steps after SandboxedExecute have no TrustedGrade")
    return graded


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


# --- the run ------------------------------------------------------------------------------------------------------
def submitted_students(course_root: Path, assignment: str) -> list[str]:
    """Students with a folder submitted/<student>/<assignment>/."""
    folder = Path(course_root) / "submitted"
    if not folder.is_dir():
        return []
    return sorted(d.name for d in folder.iterdir() if (d / assignment).is_dir())


def skip_unused_schema_formats() -> None:
    """Keep ``jsonschema`` (imported by nbformat and nbgrader) from loading its optional IRI format checker.

    ``rfc3987_syntax`` builds some forty parsers when imported: 1-2 s of a calm start-up, 5 s on a busy
    machine, for a check that only runs with a ``FormatChecker``, which neither nbformat nor nbgrader passes
    (their schemas are validated without format assertions, so no verdict changes).  jsonschema imports it
    inside ``suppress(ImportError)``; marking it absent is its documented "not installed" case."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


def autograde_assignment(
    course_root: Path,
    assignment: str,
    *,
    students: Iterable[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    sandbox: bool = True,
    cell_timeout: float | None = None,
    on_result: Callable[[StudentResult], None] | None = None,
    pool: Any = None,
) -> AutogradeRun:
    """Grade every (or the named) submission of ``assignment``; raises GradingRefused before grading anything
    when the private key is missing or stale, or no sandbox is available and ``sandbox`` is True.

    ``pool``: an open ``ExecutorPool`` to reuse (a caller grading several assignments pays its warm-up once).
    Without one, the executors warm up while this process reads the course, and each student is prepared
    only when an executor is about to be free (preparing, grading and saving stay in this thread: one writer).
    """
    started = time.perf_counter()
    skip_unused_schema_formats()
    course_root = Path(course_root).resolve()
    per_worker: dict[str, int] = {}
    if scheduler:  # before anything is prepared: a cluster to use, whose workers can sandbox
        from grader.course.sandbox import cluster

        try:
            cluster.check_cluster(scheduler, sandbox=sandbox)
        except cluster.ClusterUnavailable as exc:
            raise GradingRefused(str(exc)) from None
    warming = None if (scheduler or pool is not None) else WarmPool(workers, sandbox)
    try:
        return _run(course_root, assignment, started, students=students, workers=workers, scheduler=scheduler,
                    sandbox=sandbox, cell_timeout=cell_timeout, on_result=on_result, pool=pool, warming=warming,
                    per_worker=per_worker)
    finally:
        if warming is not None:
            warming.close()


def _run(course_root: Path, assignment: str, started: float, *, students: Iterable[str] | None,
         workers: int | None, scheduler: str | None, sandbox: bool, cell_timeout: float | None,
         on_result: Callable[[StudentResult], None] | None, pool: Any, warming: WarmPool | None,
         per_worker: dict[str, int]) -> AutogradeRun:
    from nbgrader.api import MissingEntry

    from grader.course.grading.gradingprocess import start_grading_process
    from grader.course.grading.sharedgradebook import RunGradebook

    ctx = _Context(course_root, assignment, sandbox, cell_timeout)
    everyone = submitted_students(course_root, assignment)
    chosen = list(everyone if students is None else students)
    unknown = [s for s in chosen if s not in everyone]
    if unknown:
        raise GradingRefused(f"no submission of {assignment} from {', '.join(unknown)} in "
                             f"{course_root / 'submitted'}")
    workers = max(1, int(workers or os.cpu_count() or 1))
    results = {s: StudentResult(s, assignment, True) for s in chosen}
    clock: dict[str, float] = {}
    pending: dict[str, _Pending] = {}
    left: dict[str, int] = {}
    with scripts_on_path(), _quiet_nbgrader(), _heap_settled(), \
            RunGradebook(ctx.db_url, ctx.coursedir.course_id) as gb:
        ctx.converter.gradebook = gb
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            raise GradingRefused(f"{assignment} is not in the gradebook: release it first "
                                 f"(`calcgrade release {assignment}`)") from None
        def report(student: str) -> None:
            results[student].seconds = time.perf_counter() - clock.get(student, started)
            if on_result:
                on_result(results[student])

        def prepare(student: str) -> list[tuple[Any, _Pending]] | None:
            clock[student] = time.perf_counter()
            try:
                return _prepare(ctx, gb, student)
            except Exception as exc:
                _fail(ctx, results[student], exc)
                report(student)
                return None

        # the first students are prepared while the executors warm up (one per executor: they start at once)
        # (only where the sandbox works: a refused run must leave every earlier autograded copy alone)
        ahead = {s: prepare(s) for s in chosen[:workers]} if warming is not None and warming.sandbox_usable() else {}
        # the grading process's imports (half a CPU-second) start once this process's own start-up work is done:
        # started with it, three processes would share two cores and slow the executor's warm-up, which is
        # what the first notebook waits for; started now, it is ready before the executor is
        start_grading_process()
        executor = pool if pool is not None else (warming.get() if warming is not None else None)

        def jobs() -> Iterator[Any]:
            for student in chosen:
                prepared = ahead.pop(student) if student in ahead else prepare(student)
                if prepared is None:
                    continue
                left[student] = len(prepared)
                for job, item in prepared:
                    pending[job.key] = item
                    yield job

        if scheduler:
            from grader.course.sandbox import cluster

            executions = cluster.run_jobs(jobs(), scheduler, sandbox=sandbox)  # prepared as workers free up
        else:
            executions = executor.map(jobs())
        sandboxed = sandbox
        for execution in executions:
            item = pending.pop(execution.key, None)
            if item is None:
                continue
            res = results[item.student]
            if scheduler:
                per_worker[execution.worker] = per_worker.get(execution.worker, 0) + 1
            sandboxed = sandboxed and bool(getattr(execution, "sandboxed", False))
            if res.success:
                try:
                    graded = _finish(ctx, gb, item, execution)
                    res.score = round(res.score + graded.score, 6)
                    res.max_score = round(res.max_score + graded.max_score, 6)
                    if graded.stopped:
                        res.stopped.append(f"{item.notebook}: {graded.stopped}")
                    res.questions += [{"notebook": item.notebook, "qid": q.qid, "grade_id": q.grade_id,
                                       "points": q.points, "max_points": q.max_points, "status": q.status,
                                       "message": q.message} for q in graded.questions]
                except Exception as exc:
                    _fail(ctx, res, exc)
            left[item.student] -= 1
            if left[item.student] == 0:
                if res.success:
                    ctx.converter.set_permissions(assignment, item.student)
                report(item.student)
        for item in list(pending.values()):  # never came back
            _fail(ctx, results[item.student], GradingRefused("the executor did not return this notebook"))
            left[item.student] = 0
            report(item.student)
    return AutogradeRun(assignment, [results[s] for s in chosen], sandboxed, time.perf_counter() - started,
                        len(per_worker) if scheduler else (executor.workers if executor is not None else workers),
                        scheduler or "local", per_worker)


@contextmanager
def _heap_settled() -> Iterator[None]:
    """The objects alive when the run starts (nbgrader, SQLAlchemy, Jupyter: everything imported) are left out of
    the garbage collector's full passes until it ends (``gc.freeze``): each pass otherwise walked them all, 0.1 s
    a time, five times in 100 notebooks.  Unfrozen at the end, so a process that goes on (a test, a notebook)
    collects as before; a heap someone else froze is left as it is."""
    import gc

    mine = gc.get_freeze_count() == 0
    if mine:
        gc.freeze()
    try:
        yield
    finally:
        if mine:
            gc.unfreeze()


@contextmanager
def _quiet_nbgrader() -> Iterator[None]:
    """SQLAlchemy's session notes from nbgrader's API and nbformat's duplicate-cell-id notes are not the
    instructor's business (a duplicated cell is reported per student in the summary)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="nbgrader")
        warnings.filterwarnings("ignore", module="nbformat")
        yield


def _fail(ctx: _Context, res: StudentResult, exc: BaseException) -> None:
    res.success = False
    res.error = str(exc) if isinstance(exc, GradingRefused) else _first_line(exc)
    res.score = 0.0
    dest = ctx.path(ctx.coursedir.autograded_directory, res.student)
    if dest.exists():
        shutil.rmtree(dest, ignore_errors=True)


# --- the summary -----------------------------------------------------------------------------------------------
def format_summary(run: AutogradeRun) -> str:
    """The table the command prints: student, score, and why a submission failed or stopped early."""
    width = max([len("student")] + [len(r.student) for r in run.results])
    lines = [f"{'student':<{width}}  {'score':>11}  notes", "-" * (width + 30)]
    for r in run.results:
        score = f"{r.score:g}/{r.max_score:g}" if r.success else "failed"
        note = r.error if not r.success else "; ".join(f"stopped early ({s})" for s in r.stopped)
        lines.append(f"{r.student:<{width}}  {score:>11}  {note}".rstrip())
    graded = [r for r in run.results if r.success]
    lines.append("")
    lines.append(f"{len(graded)} of {len(run.results)} submissions graded in {run.seconds:.1f} s "
                 f"({run.workers} worker{'s' if run.workers != 1 else ''}, {run.where}).")
    if run.per_worker:
        from grader.course.sandbox.cluster import summary_lines

        lines += ["Dask workers:", *summary_lines(run.per_worker, run.seconds)]
    if not run.sandboxed:
        bar = "!" * 78
        lines += [bar, "!! NOT SANDBOXED: the students' code ran with your rights (--no-sandbox). It could read",
                  "!! the keys and other submissions or change files; these grades are not trustworthy.", bar]
    return "\n".join(lines)
