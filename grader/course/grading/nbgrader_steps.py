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
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from nbgrader import utils as nbutils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheckCellMetadata
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer

from grader.course import coursedir
from grader.course.grading.sharedgradebook import shared_gradebook
from grader.course.grading.submission_files import MAX_FILES, MAX_FILES_BYTES
from grader.course.grading.trusted import GradingRefused

__all__ = [
    "GradingRefused", "CheckSubmissionCells", "SandboxedExecute", "TrustedGrade", "SaveTrustedGrades",
    "submission_problems", "released_cells", "submission_files", "course_root_of", "load_private_key", "record_answers",
    "answer_records", "CheckCellMetadata", "AutogradeSteps", "autograde_steps", "MAX_FILES", "MAX_FILES_BYTES",
]



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
    """The files a submission's notebook may read (relative path -> bytes): a copy goes into the sandbox.
    Never follows a link (``grader.course.grading.submission_files``)."""
    from grader.course.grading.submission_files import read_files

    return read_files(folder, skip=skip, ignore=ignore)


def course_root_of(config: Any, resources: Mapping[str, Any] | None = None) -> Path:
    """The course folder: nbgrader's ``CourseDirectory.root`` when the config sets it, else the course at or
    above the notebook being graded, found as every command finds it (``coursedir.find_course_root``).

    Raises ``CourseNotFound`` (naming where it looked) rather than guess: a wrong course folder would grade
    against another course's key."""
    section = config.get("CourseDirectory") if hasattr(config, "get") else None
    root = section.get("root") if section is not None and hasattr(section, "get") else None
    if root:
        return Path(root).resolve()
    start = Path(((resources or {}).get("metadata") or {}).get("path") or os.getcwd())
    return coursedir.find_course_root(start=start)


_KEYS: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}


def load_private_key(course_root: Path, assignment: str) -> dict[str, Any]:
    """The private key of ``assignment``, or GradingRefused when it is missing or stale (never the public key).

    Called for every notebook of a stock ``nbgrader autograde`` run: the key and its staleness check (which
    reads every solution notebook) are reused while neither the key file nor a solution notebook changed."""
    from grader.course.release.keystate import private_key_problem
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
            "fingerprint": getattr(q, "fingerprint", None), "answer_text": getattr(q, "answer_text", None),
        })
    return out


def record_answers(db_url: str, assignment: str, student: str, records: list[dict[str, Any]], *,
                   session: Any = None) -> bool:
    """Write a submission's answers to the class report's log (``grader.course.grading.answerlog``), replacing
    earlier ones.  With ``session`` (an open gradebook's session) the rows join its transaction, so a notebook's
    grades and answers are committed together; else in a transaction of their own.  Returns True once written."""
    from grader.course.grading import answerlog

    rows = []
    for r in records:
        fields = {k: v for k, v in r.items() if k not in ("answer", "entry", "fingerprint", "answer_text")}
        # computed within the notebook's grading budget when the grading process could (gradingprocess.py);
        # only otherwise here (which needs SymPy in this process)
        fingerprint, text = r.get("fingerprint"), r.get("answer_text")
        if not fingerprint or text is None:
            from grader.key.entries import unanswered_answer

            answer = r["answer"]
            if answer is None:  # nothing was handed over: the log counts it as unanswered
                answer = unanswered_answer("")
            fingerprint = fingerprint or answerlog.answer_fingerprint(answer, r["entry"])
            text = text if text is not None else answerlog.answer_text(answer)
        rows.append(answerlog.AnswerRecord(**fields, fingerprint=fingerprint, answer_text=text))
    if session is not None:
        answerlog.replace_records(session, assignment, student, rows)
    else:
        answerlog.write_records(db_url, assignment, student, rows)
    return True


# --- the pool of the stock path ------------------------------------------------------------------------------
_POOLS: dict[bool, Any] = {}
_NO_SANDBOX: list[Any] = []   # the SandboxUnavailable of this process (said once, not retried per notebook)


def _pool(sandbox: bool) -> Any:
    """One warm executor per nbgrader process (its imports are paid once for the whole class).  A sandboxed
    pool starts without a probe ahead (it checks the sandbox as it starts); SandboxUnavailable says why not."""
    from grader.course.sandbox.executor import ExecutorPool, SandboxUnavailable

    if sandbox and _NO_SANDBOX:
        raise SandboxUnavailable(_NO_SANDBOX[0].why)
    if sandbox not in _POOLS:
        try:
            _POOLS[sandbox] = ExecutorPool(1, sandbox=sandbox)
        except SandboxUnavailable as exc:
            _NO_SANDBOX.append(exc)
            raise
        atexit.register(_POOLS[sandbox].close)
    return _POOLS[sandbox]


def _ids(resources: Mapping[str, Any]) -> tuple[str, str, str, str]:
    nbg = resources["nbgrader"]
    return nbg["assignment"], nbg["student"], nbg["notebook"], nbg["db_url"]


# --- the preprocessors ------------------------------------------------------------------------------------------
class CheckSubmissionCells(NbGraderPreprocessor):
    """Refuses a submission whose nbgrader cells were duplicated, invented or deleted (before nbgrader dedups)."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        assignment, _, notebook_id, db_url = _ids(resources)
        shared = shared_gradebook(resources)
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
        from grader.course.sandbox.executor import Job, SandboxUnavailable
        from grader.course.grading.trusted import function_inputs

        assignment, student, notebook_id, _ = _ids(resources)
        root = course_root_of(self.config, resources)
        key = load_private_key(root, assignment)
        try:
            pool = _pool(True)
        except SandboxUnavailable as exc:
            if not self.allow_unsandboxed:
                raise GradingRefused(f"no sandbox is available ({exc.why}); refusing to run student code unsandboxed "
                                     "(set c.SandboxedExecute.allow_unsandboxed = True to grade anyway)") from None
            pool = _pool(False)
        folder = Path(((resources.get("metadata") or {}).get("path")) or ".")
        _refuse_links(self.config, root, student, assignment, folder)
        restored = json.loads(json.dumps(nb))
        from grader.key.variants import params_for_student

        job = Job(key=f"{student}/{assignment}/{notebook_id}.ipynb", notebook=restored,
                  files=submission_files(folder), inputs=function_inputs(key), limits=self.limits(),
                  variants=params_for_student(key, student))  # the gradebook's student, never the notebook
        execution = pool.run(job)
        resources["calcgrade"] = {"execution": execution, "restored": restored, "key": key,
                                  "course_root": str(root)}
        return nb, resources


def _refuse_links(config: Any, root: Path, student: str, assignment: str, autograded: Path) -> None:
    """Stock nbgrader has already copied the submission with a link-following copy: refuse a submission that
    holds a link (removing what the links brought into autograded/) before any of it reaches the sandbox."""
    from grader.course.grading.submission_files import check_submission, submitted_folder

    below, submitted = submitted_folder(config, root, student, assignment)
    check_submission(submitted, below=below, copied_to=autograded)


class TrustedGrade(NbGraderPreprocessor):
    """Grades the test cells' answer payloads against the private key; puts the trusted verdicts in the cells."""

    plots = Bool(False, help="draw the plot of a wrong function-shaped answer into its verdict in the autograded "
                             "notebook and the feedback (about 0.1 s per wrong answer)").tag(config=True)
    budget = Float(60.0, help="CPU seconds the trusted grading of one notebook may take (decoding, grading, "
                              "displays, the answer log's fields); past it the notebook gets 0 with the reason "
                              "and the batch goes on").tag(config=True)

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        import nbformat

        from grader.course.grading.gradingprocess import grade_within_budget

        state = resources.get("calcgrade") or {}
        if "execution" not in state:
            raise GradingRefused("TrustedGrade needs SandboxedExecute before it in c.Autograde.autograde_preprocessors")
        _, student, notebook_id, _ = _ids(resources)
        from grader.key.variants import key_for_student

        state["key"] = key_for_student(state["key"], student)  # variant questions: the gradebook's student's
        graded = grade_within_budget(state["execution"], state["key"], notebook_name=f"{notebook_id}.ipynb",
                                     restored=state["restored"], plots=self.plots, budget=self.budget)
        state["graded"] = graded
        return nbformat.from_dict(graded.notebook), resources


class SaveTrustedGrades(NbGraderPreprocessor):
    """Writes the trusted points and nbgrader's "No response." comments of one notebook to the gradebook, and
    its graded answers to the class report's log, in one transaction.

    In place of nbgrader's SaveAutoGrades, which reads a score out of the cell outputs (what student code can
    forge) and commits once per cell.  The rules for cells the trusted step did not grade are nbgrader's own
    (``nbgrader.utils.determine_grade`` on the source; the comment from the cell's checksum)."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        state = resources.get("calcgrade") or {}
        if "graded" not in state:
            raise GradingRefused("SaveTrustedGrades needs TrustedGrade before it in c.Autograde.autograde_preprocessors")
        shared = shared_gradebook(resources)
        if shared is not None:  # the fast path's one open gradebook (its only writer)
            self._save(shared, nb, resources)
        else:
            with Gradebook(_ids(resources)[3]) as gb:
                self._save(gb, nb, resources)
        return nb, resources

    def _save(self, gb: Any, nb: Any, resources: Any) -> None:
        from nbgrader.api import Comment, Grade
        from sqlalchemy.orm import joinedload

        state = resources["calcgrade"]
        assignment, student, notebook_id, db_url = _ids(resources)
        submission = gb.find_submission_notebook(notebook_id, assignment, student)
        grades = {g.cell.name: g for g in gb.db.query(Grade).options(joinedload(Grade.cell))
                  .filter(Grade.notebook_id == submission.id)}
        comments = {c.cell.name: c for c in gb.db.query(Comment).options(joinedload(Comment.cell))
                    .filter(Comment.notebook_id == submission.id)}
        trusted = state["graded"].by_grade_id()
        try:
            for cell in nb.cells:
                if "nbgrader" not in cell.metadata:
                    continue
                gid = cell.metadata["nbgrader"]["grade_id"]
                if nbutils.is_grade(cell):
                    _set_score(self._row(grades, gid, "grade", notebook_id), cell, trusted.get(gid), self.log)
                if nbutils.is_solution(cell) or nbutils.is_task(cell):
                    unchanged = cell.metadata.nbgrader.get("checksum", None) == nbutils.compute_checksum(cell)
                    self._row(comments, gid, "comment", notebook_id).auto_comment = \
                        "No response." if unchanged and not nbutils.is_task(cell) else None
            rows = self._answers(state, assignment, student, notebook_id)
            if rows is not None:
                record_answers(db_url, assignment, student, rows, session=gb.db)
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise

    @staticmethod
    def _row(rows: Mapping[str, Any], gid: str, what: str, notebook_id: str) -> Any:
        if gid not in rows:
            raise MissingEntry(f"no {what} for the cell {gid!r} of {notebook_id} in the gradebook")
        return rows[gid]

    def _answers(self, state: Mapping[str, Any], assignment: str, student: str, notebook_id: str) -> Any:
        """The report's rows of this notebook, or None when they cannot be made (the log never costs a grade)."""
        try:
            seen = ((state["restored"].get("metadata") or {}).get("calcgrade") or {}).get("hints_used") or {}
            return answer_records(state["graded"], state["key"], assignment=assignment, student=student,
                                  notebook=notebook_id, hints=seen if isinstance(seen, dict) else {})
        except Exception as exc:
            self.log.warning("could not record the answers of %s for the report: %s", student, exc)
            return None


def _set_score(grade: Any, cell: Any, result: Any, log: Any) -> None:
    """The points of one graded cell: the trusted verdict's, nbgrader's rule for answers graded by hand, or 0."""
    if result is not None:
        grade.auto_score = float(result.points)
        manual = result.status == "manual"
    elif nbutils.is_solution(cell) or cell.cell_type != "code":
        # answers graded by hand: nbgrader's rule (0 when left as released, else for the grader) reads the
        # cell's source and checksum, never its outputs
        grade.auto_score, _ = nbutils.determine_grade(cell, log)
        manual = grade.auto_score is None
    else:  # a graded code cell the trusted step did not see: never credit
        grade.auto_score = 0.0
        manual = True
    grade.needs_manual_grade = bool(manual or grade.manual_score is not None)


class CheckCellMetadata(NbgraderCheckCellMetadata):
    """nbgrader's CheckCellMetadata with every rule of nbgrader's own validator, its JSON schema compiled once.

    nbgrader's validator calls ``jsonschema.validate`` per cell, which first checks the schema itself against
    the meta-schema: about 5 ms per cell, twice per notebook, a third of the grader's time per notebook.
    Here a subclass of nbgrader's ``MetadataValidator`` checks each cell's metadata with a validator built
    once from nbgrader's schema, then runs nbgrader's own ``validate_nb`` (schema versions, grade ids,
    points, cell types, duplicate grade ids), whose per-cell ``jsonschema.validate`` call is then handed a
    schema that accepts everything and costs nothing to check (the real schema has just been applied)."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        import traceback

        from nbgrader.nbgraderformat import ValidationError

        try:
            _metadata_validator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(msg)
            raise ValidationError(msg)
        return nb, resources


_VALIDATOR: list[Any] = []
_VALID_METADATA_KEPT = 20_000   # distinct valid nbgrader metadata remembered per process (a few MB at most)
_CHECKED_SCHEMA = "urn:calcgrade:nbgrader-metadata-already-checked"


def _metadata_validator() -> Any:
    """One nbgrader metadata validator per process, whose schema is compiled once (see CheckCellMetadata)."""
    if not _VALIDATOR:
        import jsonschema
        from nbgrader.nbgraderformat import MetadataValidator

        # a JSON Schema dialect with no keywords: its meta-schema and its schemas accept everything, so
        # ``jsonschema.validate(meta, {"$schema": _CHECKED_SCHEMA})`` inside nbgrader returns at once
        jsonschema.validators.create(meta_schema={"$id": _CHECKED_SCHEMA}, validators={}, version="calcgrade-checked")

        class CompiledSchemaValidator(MetadataValidator):
            def __init__(self) -> None:
                super().__init__()
                cls = jsonschema.validators.validator_for(self.schema)
                cls.check_schema(self.schema)
                self.compiled = cls(self.schema)
                self.schema = {"$schema": _CHECKED_SCHEMA}
                self.valid: set[str] = set()

            def validate_cell(self, cell: Any) -> None:
                meta = cell.metadata.get("nbgrader") if "nbgrader" in cell.metadata else None
                if meta is not None and meta.get("schema_version", 0) == self.schema_version:
                    self.check_schema(meta)
                super().validate_cell(cell)

            def check_schema(self, meta: Any) -> None:
                # the schema's verdict depends on the metadata's content only, and most cells of a class's
                # submissions carry the same metadata (the released cell's, restored): a valid one is
                # remembered by its JSON text; an invalid one is checked again each time
                try:
                    text = json.dumps(meta, sort_keys=True)
                except (TypeError, ValueError):
                    text = None
                if text is not None and text in self.valid:
                    return
                error = jsonschema.exceptions.best_match(self.compiled.iter_errors(meta))
                if error is not None:
                    raise error
                if text is not None and len(self.valid) < _VALID_METADATA_KEPT:
                    self.valid.add(text)

        _VALIDATOR.append(CompiledSchemaValidator())
    return _VALIDATOR[0]


# --- the steps nbgrader_config.py declares ------------------------------------------------------------------
@dataclass
class AutogradeSteps:
    """The course's autograde pipeline, as nbgrader runs it: ``sanitize`` on the submitted notebook, then
    ``before`` + ``execute`` + ``after`` (``c.Autograde.autograde_preprocessors`` split at the execution step,
    which the fast path replaces by its executor pool or the cluster)."""

    sanitize: list[Any]
    before: list[Any]
    execute: "SandboxedExecute"
    after: list[Any]


def autograde_steps(converter: Any) -> AutogradeSteps:
    """The steps of ``converter`` (an ``nbgrader.converters.Autograde`` configured by the course), instantiated
    by nbconvert's rules (dotted name -> class -> instance configured through its exporter), in order.

    The one reading of the pipeline for both ways of grading.  Raises GradingRefused when the course does not
    execute with SandboxedExecute (calcgrade never runs student code outside its sandbox)."""
    from inspect import isclass

    from traitlets.utils.importstring import import_item

    exporter = converter.exporter_class(parent=converter, config=converter.config)

    def make(names: list[Any]) -> list[Any]:
        steps = []
        for step in names:
            if isinstance(step, str):
                step = import_item(step)
            if isclass(step):
                step = step(parent=exporter)
            steps.append(exporter.register_preprocessor(step))
        return steps

    sanitize, pipeline = make(list(converter.sanitize_preprocessors)), make(list(converter.autograde_preprocessors))
    found = [i for i, step in enumerate(pipeline) if isinstance(step, SandboxedExecute)]
    if len(found) != 1:
        raise GradingRefused("the course's c.Autograde.autograde_preprocessors must hold SandboxedExecute exactly "
                             f"once (found {len(found)}): calcgrade runs students' code only in its sandbox")
    return AutogradeSteps(sanitize, pipeline[:found[0]], pipeline[found[0]], pipeline[found[0] + 1:])
