"""``calcgrade autograde ASSIGNMENT``: grade a class fast, with nothing the students' code can tamper with.

Three phases, the first and last in this (trusted) process only:

1. *prepare*, per student: nbgrader's own bookkeeping (student and submission in the gradebook, the
   submission's files and the assignment's files copied to ``autograded/``), the submitted notebook read and
   sanitised by the course's nbgrader steps (locked and test cells restored from the gradebook; duplicated,
   unknown or deleted cells refused), and a ``Job`` built from it;
2. *execute*, in parallel: the jobs go to the sandboxed warm executor (``ExecutorPool``, one worker per core
   by default) or, with ``--scheduler``, to Dask workers (``grader.course.cluster.run_jobs``);
3. *grade*, as executions come back: the trusted grader reads each test cell's answer payload and grades it
   against the private key; the points go to the gradebook through nbgrader's Gradebook API (one writer: this
   process) and the notebook to ``autograded/`` as nbgrader writes it.

A submission that cannot be read or executed fails alone, with its reason in the summary.  Grading refuses
to start without a current private key (``calcgrade release``) or, unless ``--no-sandbox``, without a sandbox.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from grader.course.nbgrader_steps import GradingRefused

__all__ = [
    "StudentResult", "AutogradeRun", "GradingRefused", "autograde_assignment", "course_environment",
    "course_path", "load_api", "all_scores", "scores", "format_summary", "main", "add_arguments",
]

_SANITIZE = ["grader.course.nbgrader_steps.CheckSubmissionCells", "nbgrader.preprocessors.ClearOutput",
             "nbgrader.preprocessors.DeduplicateIds", "nbgrader.preprocessors.OverwriteKernelspec",
             "nbgrader.preprocessors.OverwriteCells", "nbgrader.preprocessors.CheckCellMetadata"]
_AFTER_EXECUTION = ["grader.course.nbgrader_steps.TrustedGrade", "nbgrader.preprocessors.IgnorePattern",
                    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                    "grader.course.nbgrader_steps.SaveTrustedGrades", "nbgrader.preprocessors.AssignLatePenalties",
                    "nbgrader.preprocessors.CheckCellMetadata"]


# --- nbgrader from this interpreter -------------------------------------------------------------------------
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
    def __init__(self, course_root: Path, assignment: str, sandbox: bool, cell_timeout: float | None) -> None:
        from grader.course.executor import Limits
        from grader.course.nbgrader_steps import SandboxedExecute, load_private_key
        from grader.course.trusted import function_inputs

        self.root = course_root
        self.assignment = assignment
        self.api = load_api(course_root)
        self.config = self.api.config
        self.coursedir = self.api.coursedir
        self.db_url = self.coursedir.db_url
        self.key = load_private_key(course_root, assignment)
        self.inputs = function_inputs(self.key)
        execute = SandboxedExecute(config=self.config)
        if cell_timeout is None and "timeout" in self.config.Execute and "cell_timeout" not in self.config.SandboxedExecute:
            cell_timeout = float(self.config.Execute.timeout)
        self.limits = Limits(memory_bytes=execute.memory_bytes, cpu_seconds=Limits().cpu_seconds,
                             processes=execute.processes, cell_timeout=cell_timeout or execute.cell_timeout,
                             notebook_timeout=execute.notebook_timeout)
        self.sandbox = sandbox
        self.sanitize = [self._make(name) for name in _SANITIZE]
        self.after = [self._make(name) for name in _AFTER_EXECUTION]
        from nbgrader.converters import Autograde

        self.exclude = Autograde(coursedir=self.coursedir, config=self.config).exclude_overwriting.get(assignment, [])

    def _make(self, name: str) -> Any:
        from traitlets.utils.importstring import import_item

        return import_item(name)(config=self.config)

    def path(self, step: str, student: str) -> Path:
        return Path(self.coursedir.format_path(step, student, self.assignment))


def _prepare(ctx: _Context, gb: Any, student: str) -> list[tuple[Any, _Pending]]:
    """nbgrader's bookkeeping for one student, and a Job per submitted notebook."""
    import nbformat
    from nbgrader.utils import find_all_files

    from grader.course.executor import Job
    from grader.course.nbgrader_steps import submission_files

    src, dest = ctx.path(ctx.coursedir.submitted_directory, student), ctx.path(ctx.coursedir.autograded_directory, student)
    gb.update_or_create_student(student)
    timestamp = ctx.coursedir.get_existing_timestamp(str(src))
    if timestamp:
        gb.update_or_create_submission(ctx.assignment, student, timestamp=timestamp)
    else:
        gb.update_or_create_submission(ctx.assignment, student)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = list(ctx.coursedir.ignore)
    for filename in find_all_files(str(src), ignore + ["*.ipynb"]):
        target = dest / os.path.relpath(filename, src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(filename, target)
    source = Path(ctx.coursedir.format_path(ctx.coursedir.source_directory, ".", ctx.assignment))
    excluded = {str(source / x) for x in ctx.exclude}
    for filename in find_all_files(str(source), ignore + ["*.ipynb"]):
        if filename in excluded:
            continue
        target = dest / os.path.relpath(filename, source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        shutil.copy(filename, target)
    files = submission_files(dest)
    out = []
    assignment = gb.find_assignment(ctx.assignment)
    for nb_entry in assignment.notebooks:
        path = src / f"{nb_entry.name}.ipynb"
        if not path.exists():
            submission = gb.find_submission_notebook(nb_entry.name, ctx.assignment, student)
            for grade in submission.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            gb.db.commit()
            continue
        try:
            nb = nbformat.reads(path.read_text(encoding="utf-8", errors="replace"), as_version=4)
        except Exception as exc:
            raise GradingRefused(f"{path.name} is not a valid notebook ({_first_line(exc)})") from None
        resources: dict[str, Any] = {
            "unique_key": nb_entry.name, "output_files_dir": f"{nb_entry.name}_files",
            "metadata": {"path": str(dest), "name": nb_entry.name},
            "nbgrader": {"student": student, "assignment": ctx.assignment, "notebook": nb_entry.name,
                         "db_url": ctx.db_url},
        }
        for step in ctx.sanitize:
            nb, resources = step(nb, resources)
        restored = json.loads(json.dumps(nb))
        job = Job(key=f"{student}/{ctx.assignment}/{nb_entry.name}.ipynb", notebook=restored, files=files,
                  inputs=ctx.inputs, limits=ctx.limits)
        out.append((job, _Pending(student, nb_entry.name, dest, restored, resources)))
    if not out:
        raise GradingRefused(f"no notebook of {ctx.assignment} was submitted")
    return out


# --- phase 3: grade ---------------------------------------------------------------------------------------------
def _finish(ctx: _Context, pending: _Pending, execution: Any) -> Any:
    """Trusted grading, nbgrader's remaining steps, the gradebook and the autograded notebook (this process only)."""
    import nbformat

    resources = pending.resources
    resources["calcgrade"] = {"execution": execution, "restored": pending.restored, "key": ctx.key,
                              "course_root": str(ctx.root)}
    nb = nbformat.from_dict(pending.restored)
    for step in ctx.after:
        nb, resources = step(nb, resources)
    target = pending.dest / f"{pending.notebook}.ipynb"
    nbformat.write(nb, str(target))
    return resources["calcgrade"]["graded"]


def _set_permissions(ctx: _Context, dest: Path) -> None:
    mode = int(str(664 if ctx.coursedir.groupshared else 444), 8)
    for dirname, _, filenames in os.walk(dest):
        for name in filenames:
            os.chmod(os.path.join(dirname, name), mode)


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
    """
    from nbgrader.api import Gradebook, MissingEntry

    from grader.course.executor import ExecutorPool, sandbox_available

    started = time.perf_counter()
    course_root = Path(course_root).resolve()
    if sandbox and scheduler is None:
        ok, why = sandbox_available()
        if not ok:
            raise GradingRefused(f"no sandbox is available here ({why}); grading would run the students' code "
                                 "with your rights. Pass --no-sandbox to grade anyway.")
    if scheduler:  # before anything is prepared: a cluster to use, whose workers can sandbox
        from grader.course import cluster

        try:
            cluster.check_cluster(scheduler, sandbox=sandbox)
        except cluster.ClusterUnavailable as exc:
            raise GradingRefused(str(exc)) from None
    per_worker: dict[str, int] = {}
    ctx = _Context(course_root, assignment, sandbox, cell_timeout)
    everyone = submitted_students(course_root, assignment)
    chosen = list(everyone if students is None else students)
    unknown = [s for s in chosen if s not in everyone]
    if unknown:
        raise GradingRefused(f"no submission of {assignment} from {', '.join(unknown)} in "
                             f"{course_root / 'submitted'}")
    workers = max(1, int(workers or os.cpu_count() or 1))
    results: dict[str, StudentResult] = {}
    clock: dict[str, float] = {}
    with course_path(), Gradebook(ctx.db_url, ctx.coursedir.course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            raise GradingRefused(f"{assignment} is not in the gradebook: release it first "
                                 f"(`calcgrade release {assignment}`)") from None
        jobs, pending = [], {}
        for student in chosen:
            clock[student] = time.perf_counter()
            results[student] = StudentResult(student, assignment, True)
            try:
                for job, item in _prepare(ctx, gb, student):
                    jobs.append(job)
                    pending[job.key] = item
            except Exception as exc:
                _fail(ctx, results[student], exc)
        left = {s: sum(1 for p in pending.values() if p.student == s) for s in chosen}
        if scheduler:
            executions = cluster.run_jobs(jobs, scheduler, sandbox=sandbox)
            own_pool = None
        else:
            own_pool = None if pool is not None else ExecutorPool(min(workers, max(1, len(jobs))), sandbox=sandbox)
            executions = (pool or own_pool).map(jobs)
        sandboxed = sandbox
        try:
            for student in chosen:  # students failed in phase 1 are reported first
                if not results[student].success and on_result:
                    on_result(results[student])
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
                        graded = _finish(ctx, item, execution)
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
                        _set_permissions(ctx, item.dest)
                    res.seconds = time.perf_counter() - clock[item.student]
                    if on_result:
                        on_result(res)
            for key, item in pending.items():  # never came back
                _fail(ctx, results[item.student], GradingRefused("the executor did not return this notebook"))
                if on_result:
                    on_result(results[item.student])
        finally:
            if own_pool is not None:
                own_pool.close()
    return AutogradeRun(assignment, [results[s] for s in chosen], sandboxed, time.perf_counter() - started,
                        len(per_worker) if scheduler else workers, scheduler or "local", per_worker)


def _fail(ctx: _Context, res: StudentResult, exc: BaseException) -> None:
    res.success = False
    res.error = str(exc) if isinstance(exc, GradingRefused) else _first_line(exc)
    res.score = 0.0
    dest = ctx.path(ctx.coursedir.autograded_directory, res.student)
    if dest.exists():
        shutil.rmtree(dest, ignore_errors=True)


# --- reading the gradebook ------------------------------------------------------------------------------------------
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


# --- command line ----------------------------------------------------------------------------------------------------
def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment to grade (a folder of solutions/)")
    parser.add_argument("--course-root", type=Path, default=None, metavar="DIR",
                        help="the course folder (default: the one holding nbgrader_config.py, from here)")
    parser.add_argument("--students", default=None, metavar="a,b",
                        help="only these students (default: every submission)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="notebooks executed at once (default: the number of cores)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://H:P",
                        help="execute on the Dask workers of this scheduler instead of this machine")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade even where no sandbox is available (student code runs with your rights)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="show details of failures")


def find_root(explicit: Path | None) -> Path:
    """The course folder: --course-root, else the course of the current folder."""
    try:
        from grader.course import coursedir  # type: ignore[attr-defined]

        return Path(coursedir.find_course_root(explicit))
    except ImportError:
        pass
    if explicit is not None:
        if not (Path(explicit) / "nbgrader_config.py").is_file():
            raise GradingRefused(f"{explicit} is not a course folder (it has no nbgrader_config.py)")
        return Path(explicit).resolve()
    from grader.key.files import find_course_root

    root = find_course_root(Path.cwd())
    if root is None:
        raise GradingRefused("no course here: run it in a course folder (one with nbgrader_config.py, or below "
                             "it) or pass --course-root DIR")
    return root


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
        from grader.course.cluster import summary_lines

        lines += ["Dask workers:", *summary_lines(run.per_worker, run.seconds)]
    if not run.sandboxed:
        bar = "!" * 78
        lines += [bar, "!! NOT SANDBOXED: the students' code ran with your rights (--no-sandbox). It could read",
                  "!! the keys and other submissions or change files; these grades are not trustworthy.", bar]
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    try:
        root = find_root(getattr(args, "course_root", None))
    except Exception as exc:
        print(f"calcgrade autograde: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 2
    students = [s.strip() for s in args.students.split(",") if s.strip()] if args.students else None
    progress = _Progress(sys.stdout.isatty() and not args.json, quiet=args.json)
    try:
        run = autograde_assignment(root, args.assignment, students=students, workers=args.workers,
                                   scheduler=args.scheduler, sandbox=not args.no_sandbox, on_result=progress)
    except GradingRefused as exc:
        print(f"calcgrade autograde: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback from a command
        print(f"calcgrade autograde: grading {args.assignment} failed ({_first_line(exc)}); -v shows details",
              file=sys.stderr)
        if args.verbose:
            import traceback

            traceback.print_exc()
        return 2
    finally:
        progress.close()
    if args.json:
        print(json.dumps(run.to_json(), indent=1))
    else:
        print(format_summary(run))
    return 0 if all(r.success for r in run.results) else 1


class _Progress:
    """A tqdm bar on a terminal; one line per graded submission otherwise."""

    def __init__(self, tty: bool, *, quiet: bool = False) -> None:
        self.bar = None
        self.done = 0
        self.quiet = quiet
        if tty:
            from tqdm import tqdm

            self.bar = tqdm(unit="submission", file=sys.stdout, leave=False)

    def __call__(self, res: StudentResult) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(res.student, refresh=False)
            self.bar.update(1)
        elif not self.quiet:
            what = f"{res.score:g}/{res.max_score:g}" if res.success else f"failed: {res.error}"
            print(f"[{self.done}] {res.student}: {what}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
