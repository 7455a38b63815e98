"""nbgrader preprocessors that make stock ``nbgrader autograde`` grade as ``calcgrade autograde`` does.

The course's nbgrader_config.py puts them into nbgrader's two autograde pipelines:

    sanitize:  CheckSubmissionCells, ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
               CheckCellMetadata            (nbgrader restores locked and test cells from the gradebook)
    autograde: SandboxedExecute (instead of Execute), TrustedGrade, IgnorePattern, ClearMetadataPreprocessor,
               LimitOutput, SaveTrustedGrades (instead of SaveAutoGrades), AssignLatePenalties, CheckCellMetadata

* ``CheckSubmissionCells`` fails a submission whose nbgrader cells were duplicated, invented or deleted, with
  the reason (nbgrader would otherwise drop or mix them up silently); nbgrader carries on with the next student.
* ``SandboxedExecute`` runs the restored notebook on the sandboxed warm executor: the student's code sees only
  a copy of its own submission folder, no key, no gradebook, no network, and is killed with its descendants.
* ``TrustedGrade`` grades the answers the test cells handed over against the private key
  (``grader.course.grading.trusted``), outside the student's process, and puts the trusted verdicts into the test cells.
* ``SaveTrustedGrades`` writes those points to the gradebook; nbgrader's own ``SaveAutoGrades`` would read a
  score out of the cell outputs, which is exactly what student code can forge.

The fast path (``calcgrade autograde``) runs the same steps, with execution done in parallel.
"""

from __future__ import annotations

import atexit
import fnmatch
import json
import os
from pathlib import Path
from typing import Any, Mapping

from nbgrader import utils as nbutils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor, SaveAutoGrades
from traitlets import Bool, Float, Integer

from grader.course.grading.trusted import GradingRefused

__all__ = [
    "GradingRefused", "CheckSubmissionCells", "SandboxedExecute", "TrustedGrade", "SaveTrustedGrades",
    "submission_problems", "released_cells", "submission_files", "course_root_of", "load_private_key", "record_answers",
    "answer_records", "cache_metadata_schemas", "MAX_FILES", "MAX_FILES_BYTES",
]

MAX_FILES = 500
MAX_FILES_BYTES = 64 << 20


# --- what both ways of grading share ----------------------------------------------------------------------
def released_cells(gradebook: Any, notebook_id: str, assignment: str) -> tuple[set[str], set[str]] | None:
    """(every nbgrader cell id, the graded ones) of a released notebook in the gradebook; None when unknown."""
    try:
        source = gradebook.find_notebook(notebook_id, assignment)
    except MissingEntry:
        return None
    graded = {c.name for c in source.grade_cells}
    return {c.name for c in source.source_cells} | graded, graded


def submission_problems(nb: Mapping[str, Any], gradebook: Any, notebook_id: str, assignment: str,
                        cells: tuple[set[str], set[str]] | None = None) -> list[str]:
    """Duplicated, unknown or deleted nbgrader cells of a submitted notebook, as sentences (empty: fine).
    ``cells``: ``released_cells(...)`` when the caller has read them already (once per class)."""
    cells = cells or released_cells(gradebook, notebook_id, assignment)
    if cells is None:
        return [f"{notebook_id}.ipynb is not a notebook of {assignment} in the gradebook"]
    known, graded = cells
    seen: dict[str, int] = {}
    problems: list[str] = []
    for cell in nb.get("cells", []):
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if not isinstance(meta, Mapping) or not (meta.get("grade") or meta.get("solution") or meta.get("locked")
                                                 or meta.get("task")):
            continue
        gid = meta.get("grade_id")
        if not isinstance(gid, str):
            problems.append("a graded or locked cell has no grade_id (its nbgrader metadata was edited)")
            continue
        seen[gid] = seen.get(gid, 0) + 1
    for gid, count in sorted(seen.items()):
        if count > 1:
            problems.append(f"the cell {gid!r} appears {count} times (a copied cell keeps its grade_id); "
                            "delete the copies")
        if gid not in known:
            problems.append(f"the cell {gid!r} is not part of {assignment} (unknown grade_id)")
    missing = sorted(graded - set(seen))
    if missing:
        problems.append(f"the graded cell{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                        "was deleted from the notebook")
    return problems


def submission_files(folder: Path, *, skip: tuple[str, ...] = ("*.ipynb",), ignore: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The files a submission's notebook may read (relative path -> bytes): a copy goes into the sandbox."""
    files: dict[str, bytes] = {}
    total = 0
    folder = Path(folder)
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_symlink() or not path.is_file():
            continue
        if any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in ignore) or \
                any(fnmatch.fnmatch(path.name, pat) for pat in skip):
            continue
        total += path.stat().st_size
        if len(files) >= MAX_FILES or total > MAX_FILES_BYTES:
            raise GradingRefused(f"the submission folder holds more than {MAX_FILES} files or "
                                 f"{MAX_FILES_BYTES >> 20} MB")
        files[rel.as_posix()] = path.read_bytes()
    return files


def course_root_of(config: Any, resources: Mapping[str, Any] | None = None) -> Path:
    """The course folder: nbgrader's CourseDirectory.root from the config, else the folder of nbgrader_config.py
    above the notebook being graded."""
    try:
        section = config.CourseDirectory
        if "root" in section and section.root:
            return Path(section.root).resolve()
    except Exception:
        pass
    start = Path(((resources or {}).get("metadata") or {}).get("path") or os.getcwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "nbgrader_config.py").is_file():
            return folder
    return Path(os.getcwd()).resolve()


_KEYS: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}


def load_private_key(course_root: Path, assignment: str) -> dict[str, Any]:
    """The private key of ``assignment``, or GradingRefused when it is missing or stale (never the public key).

    Called for every notebook of a stock ``nbgrader autograde`` run: the key and its staleness check (which
    reads every solution notebook) are reused while neither the key file nor a solution notebook changed."""
    from grader.course.release.keybuild import private_key_problem
    from grader.key import files

    path = files.private_key_path(course_root, assignment)
    solutions = sorted((Path(course_root) / "solutions" / assignment).glob("*.ipynb"))
    try:
        stamp = (path.stat().st_mtime_ns, tuple((p.name, p.stat().st_mtime_ns) for p in solutions))
    except OSError:
        stamp = None
    hit = _KEYS.get((str(path), assignment))
    if stamp is not None and hit and hit[0] == stamp:
        return hit[1]
    problem = private_key_problem(course_root, assignment)
    if problem:
        raise GradingRefused(problem)
    key = files.load_key(path)
    if stamp is not None:
        _KEYS[(str(path), assignment)] = (stamp, key)
    return key


def hints_seen(nb: Mapping[str, Any]) -> dict[str, int]:
    """{qid: hint tiers shown} from a submitted notebook's outputs (read before nbgrader clears them; for the
    report only, never for a score)."""
    from grader.notebook.hints import hints_used

    try:
        return {str(k): int(v) for k, v in hints_used(nb).items()}
    except Exception:
        return {}


def answer_records(graded: Any, private_key: Mapping[str, Any], *, assignment: str, student: str,
                   notebook: str, hints: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """The fields of one ``grader.course.grading.answerlog.AnswerRecord`` per graded question of a notebook."""
    hints = hints or {}
    questions = private_key.get("questions") or {}
    out = []
    for q in graded.questions:
        if q.qid is None:
            continue
        entry = questions.get(q.qid) or {}
        verdict = q.verdict or {}
        out.append({
            "assignment": assignment, "student": student, "notebook": notebook, "qid": q.qid,
            "points": float(q.points), "max_points": float(q.max_points), "correct": q.status == "correct",
            "misconception": verdict.get("misconception"), "method": str(verdict.get("method") or q.status),
            "hints_used": int(hints.get(q.qid, 0)), "answer": q.answer if q.graded else None, "entry": entry,
        })
    return out


def record_answers(db_url: str, assignment: str, student: str, records: list[dict[str, Any]]) -> bool:
    """Write a submission's answers to the class report's log (``grader.course.grading.answerlog``), replacing earlier
    ones.  Returns True once written."""
    from grader.course.grading import answerlog
    from grader.key.entries import unanswered_answer

    rows = []
    for r in records:
        answer, entry = r["answer"], r["entry"]
        if answer is None:  # nothing was handed over: the log counts it as unanswered
            answer = unanswered_answer("")
        fields = {k: v for k, v in r.items() if k not in ("answer", "entry")}
        rows.append(answerlog.AnswerRecord(**fields, fingerprint=answerlog.answer_fingerprint(answer, entry),
                                           answer_text=answerlog.answer_text(answer)))
    answerlog.write_records(db_url, assignment, student, rows)
    return True


# --- nbgrader's metadata check, without re-checking its schema for every cell -------------------------------------
class _CachedSchemas:
    """``jsonschema`` as nbgrader's metadata validator uses it, with each schema checked once instead of once per
    cell (``jsonschema.validate`` checks the schema itself on every call: a third of a second per notebook)."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self._validators: dict[str, Any] = {}

    def validate(self, instance: Any, schema: Any, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            return self._module.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            cls = self._module.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = self._module.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def cache_metadata_schemas() -> None:
    """Make nbgrader's CheckCellMetadata check each schema once per process (same verdicts, faster)."""
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, _CachedSchemas):
        common.jsonschema = _CachedSchemas(common.jsonschema)


# --- the pool of the stock path ------------------------------------------------------------------------------
_POOLS: dict[bool, Any] = {}


def _pool(sandbox: bool) -> Any:
    """One warm executor per nbgrader process (its imports are paid once for the whole class)."""
    if sandbox not in _POOLS:
        from grader.course.sandbox.executor import ExecutorPool

        _POOLS[sandbox] = ExecutorPool(1, sandbox=sandbox)
        atexit.register(_POOLS[sandbox].close)
    return _POOLS[sandbox]


def _ids(resources: Mapping[str, Any]) -> tuple[str, str, str, str]:
    nbg = resources["nbgrader"]
    return nbg["assignment"], nbg["student"], nbg["notebook"], nbg["db_url"]


# --- the preprocessors ------------------------------------------------------------------------------------------
class CheckSubmissionCells(NbGraderPreprocessor):
    """Refuses a submission whose nbgrader cells were duplicated, invented or deleted (before nbgrader dedups)."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        cache_metadata_schemas()  # nbgrader's CheckCellMetadata runs twice per notebook after this step
        assignment, _, notebook_id, db_url = _ids(resources)
        shared = (resources.get("calcgrade") or {}).get("gradebook")
        if shared is not None:  # the fast path: one gradebook, the released cells read once per class
            cache = resources["calcgrade"].setdefault("released_cells", {})
            if notebook_id not in cache:
                cache[notebook_id] = released_cells(shared, notebook_id, assignment)
            problems = submission_problems(nb, shared, notebook_id, assignment, cache[notebook_id])
        else:
            with Gradebook(db_url) as gb:
                problems = submission_problems(nb, gb, notebook_id, assignment)
        if problems:
            raise GradingRefused("; ".join(problems))
        # the hints the student saw, for the report, before nbgrader clears the outputs
        nb.setdefault("metadata", {})["calcgrade"] = {"hints_used": hints_seen(nb)}
        return nb, resources


class SandboxedExecute(NbGraderPreprocessor):
    """Runs the restored notebook in a sandbox on the warm executor (in place of nbgrader's Execute)."""

    cell_timeout = Float(10.0, help="seconds one cell may run before it is stopped").tag(config=True)
    notebook_timeout = Float(300.0, help="seconds the whole notebook may run").tag(config=True)
    memory_bytes = Integer(2 << 30, help="memory limit of a submission's process tree").tag(config=True)
    processes = Integer(64, help="how many processes a submission may run at once").tag(config=True)
    allow_unsandboxed = Bool(False, help="grade even where no sandbox is available (the student's code then "
                                         "runs with the grader's rights)").tag(config=True)

    def limits(self) -> Any:
        from grader.course.sandbox.executor import Limits

        return Limits(memory_bytes=self.memory_bytes, cell_timeout=self.cell_timeout,
                      notebook_timeout=self.notebook_timeout, processes=self.processes)

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        from grader.course.sandbox.executor import Job, sandbox_available
        from grader.course.grading.trusted import function_inputs

        assignment, student, notebook_id, _ = _ids(resources)
        root = course_root_of(self.config, resources)
        key = load_private_key(root, assignment)
        sandbox, why = sandbox_available()
        if not sandbox and not self.allow_unsandboxed:
            raise GradingRefused(f"no sandbox is available ({why}); refusing to run student code unsandboxed "
                                 "(set c.SandboxedExecute.allow_unsandboxed = True to grade anyway)")
        folder = Path(((resources.get("metadata") or {}).get("path")) or ".")
        restored = json.loads(json.dumps(nb))
        from grader.key.variants import params_for_student

        job = Job(key=f"{student}/{assignment}/{notebook_id}.ipynb", notebook=restored,
                  files=submission_files(folder), inputs=function_inputs(key), limits=self.limits(),
                  variants=params_for_student(key, student))  # the gradebook's student, never the notebook
        execution = _pool(sandbox).run(job)
        resources["calcgrade"] = {"execution": execution, "restored": restored, "key": key,
                                  "course_root": str(root)}
        return nb, resources


class TrustedGrade(NbGraderPreprocessor):
    """Grades the test cells' answer payloads against the private key; puts the trusted verdicts in the cells."""

    plots = Bool(False, help="draw the plot of a wrong function-shaped answer into its verdict in the autograded "
                             "notebook and the feedback (about 0.1 s per wrong answer)").tag(config=True)

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        import nbformat

        from grader.course.grading.trusted import grade_execution

        state = resources.get("calcgrade") or {}
        if "execution" not in state:
            raise GradingRefused("TrustedGrade needs SandboxedExecute before it in c.Autograde.autograde_preprocessors")
        _, student, notebook_id, _ = _ids(resources)
        from grader.key.variants import key_for_student

        state["key"] = key_for_student(state["key"], student)  # variant questions: the gradebook's student's
        graded = grade_execution(state["execution"], state["key"], notebook_name=f"{notebook_id}.ipynb",
                                 restored=state["restored"], plots=self.plots, student=student)
        state["graded"] = graded
        return nbformat.from_dict(graded.notebook), resources


class SaveTrustedGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades with the trusted points instead of a score read from the cell outputs; also
    records every graded answer for the class report."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        state = resources.get("calcgrade") or {}
        if "graded" not in state:
            raise GradingRefused("SaveTrustedGrades needs TrustedGrade before it in c.Autograde.autograde_preprocessors")
        self._trusted = state["graded"].by_grade_id()
        assignment, student, notebook_id, db_url = _ids(resources)
        if state.get("gradebook") is not None:  # the fast path's one open gradebook (its only writer)
            self.notebook_id, self.assignment_id, self.student_id, self.db_url = notebook_id, assignment, student, db_url
            self.gradebook = state["gradebook"]
            nb, resources = super(SaveAutoGrades, self).preprocess(nb, resources)
        else:
            nb, resources = super().preprocess(nb, resources)
        try:
            seen = ((state["restored"].get("metadata") or {}).get("calcgrade") or {}).get("hints_used") or {}
            record_answers(db_url, assignment, student, answer_records(
                state["graded"], state["key"], assignment=assignment, student=student, notebook=notebook_id,
                hints=seen if isinstance(seen, dict) else {}))
        except Exception as exc:  # the report's log must never cost a grade
            self.log.warning("could not record the answers of %s for the report: %s", student, exc)
        return nb, resources

    def _add_score(self, cell: Any, resources: Any) -> None:
        gid = cell.metadata["nbgrader"]["grade_id"]
        grade = self.gradebook.find_grade(gid, self.notebook_id, self.assignment_id, self.student_id)
        result = self._trusted.get(gid)
        if result is not None:
            grade.auto_score = float(result.points)
            manual = result.status == "manual"
        elif nbutils.is_solution(cell) or cell.cell_type != "code":
            # answers graded by hand: nbgrader's rule (0 when left as released, else for the grader) reads
            # the cell's source and checksum, never its outputs
            grade.auto_score, _ = nbutils.determine_grade(cell, self.log)
            manual = grade.auto_score is None
        else:  # a graded code cell the trusted step did not see: never credit
            grade.auto_score = 0.0
            manual = True
        grade.needs_manual_grade = bool(manual or grade.manual_score is not None)
        self.gradebook.db.commit()
