"""Grade submitted notebooks into answer records, with a fresh kernel per notebook (interim).

Why this exists: the report reads the answer log that trusted grading writes
(``grader.course.answerlog``).  Until the sandboxed executor and the trusted grader are merged,
this module produces the same records the plain way, so the report, its tests and the demo have
real data: each submission runs top to bottom in a fresh kernel (``kernelrun``) in record mode, so
``check(qid, value)`` only serialises the answer (function answers are called on the key's
inputs); the captured wire answers are then graded *outside* the kernel with
``grader.key.grading.grade`` against the private key, and fingerprinted.

Like nbgrader, the graded test cells are first restored from the solution notebook by grade_id, so
an edited test cell grades nothing.  Unlike trusted grading, student code runs unsandboxed here:
use it on the sample class and in tests, not on untrusted submissions.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import nbformat

from grader.course.answerlog import AnswerRecord, make_record, write_records
from grader.course.kernelrun import NotebookRunError, read_notebook, run_notebook
from grader.key import files, grading
from grader.key.entries import unanswered_answer

__all__ = ["GradedSubmission", "grade_notebook", "grade_assignment", "records_for"]

CELL_TIMEOUT = 10


@dataclass
class GradedSubmission:
    student: str
    records: list[AnswerRecord]
    failure: str | None = None    # why the submission could not be graded at all


def _restore_test_cells(nb: Any, solution: Any) -> None:
    """Put back every graded test cell of the solution (by grade_id), as nbgrader's autograde does."""
    tests = {}
    for cell in solution.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if meta.get("grade") and not meta.get("solution") and meta.get("grade_id"):
            tests[meta["grade_id"]] = cell.source
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        gid = meta.get("grade_id")
        if gid in tests:
            cell.source = tests[gid]


def _setup_cell(inputs_path: Path) -> Any:
    # record mode calls a function answer on the inputs of the question it knows; the key's inputs
    # are handed to the kernel here (the sandbox branch's capture.configure(inputs=...) replaces this)
    source = (
        "import json as _cg_json, grader.notebook.check as _cg_check\n"
        f"with open({str(inputs_path)!r}) as _cg_file:\n"
        "    _cg_check._RECORDED.update(_cg_json.load(_cg_file))\n"
        "del _cg_file, _cg_json, _cg_check\n"
    )
    return nbformat.v4.new_code_cell(source)


def records_for(answers: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]], *, assignment: str,
                student: str, notebook: str) -> list[AnswerRecord]:
    """Answer records of one notebook from its captured wire answers (qid -> wire), one per key entry."""
    out = []
    for qid, entry in entries.items():
        wire = answers.get(qid, unanswered_answer(""))
        out.append(make_record(assignment=assignment, student=student, notebook=notebook, qid=qid, wire_answer=wire,
                               entry=entry, verdict=grading.grade(wire, entry),
                               max_points=float(entry.get("points", 0.0))))
    return out


def grade_notebook(path: Path, solution_path: Path, key: Mapping[str, Any], *, assignment: str, student: str,
                   cell_timeout: int = CELL_TIMEOUT) -> GradedSubmission:
    """Run one submitted notebook and grade its answers against the private ``key``; never raises."""
    entries = {q: e for q, e in key["questions"].items() if e.get("notebook") == path.name}
    try:
        json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return GradedSubmission(student, [], f"{path.name} is not a notebook: not valid JSON (cut off or corrupted)")
    try:
        nb = read_notebook(path)
        solution = read_notebook(solution_path)
    except NotebookRunError as exc:
        return GradedSubmission(student, [], str(exc))
    _restore_test_cells(nb, solution)
    with tempfile.TemporaryDirectory(prefix="calcgrade-grade-") as tmp:
        folder = Path(tmp) / assignment
        folder.mkdir()
        inputs = folder / ".calcgrade_inputs.json"
        inputs.write_text(json.dumps({q: {"kind": e["kind"], "inputs": e.get("inputs", [])}
                                      for q, e in entries.items()}), encoding="utf-8")
        nb.cells.insert(0, _setup_cell(inputs))
        target = folder / path.name
        nbformat.write(nb, str(target))
        record = folder / ".calcgrade_record.jsonl"
        record.touch()
        try:
            run_notebook(target, env={"CALCGRADE_RECORD": str(record)}, cell_timeout=cell_timeout)
        except NotebookRunError as exc:
            return GradedSubmission(student, [], str(exc))
        answers: dict[str, Any] = {}
        for line in record.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if "check" in item:
                answers[str(item["check"])] = item.get("answer")  # the last check of a qid counts
    return GradedSubmission(student, records_for(answers, entries, assignment=assignment, student=student,
                                                 notebook=path.name))


def grade_assignment(course_root: Path, assignment: str, *, students: Sequence[str] | None = None,
                     db_url: str | None = None, workers: int = 2) -> list[GradedSubmission]:
    """Grade every submission ``submitted/<student>/<assignment>/*.ipynb`` (or those of ``students``).

    With ``db_url``, each graded student's records replace theirs in the answer log.
    """
    root = Path(course_root).resolve()
    key = files.load_key(files.private_key_path(root, assignment))
    names = sorted(students) if students is not None else sorted(
        d.name for d in (root / "submitted").iterdir() if (d / assignment).is_dir())
    solutions = sorted((root / "solutions" / assignment).glob("*.ipynb"))

    def one(student: str) -> GradedSubmission:
        records: list[AnswerRecord] = []
        for solution in solutions:
            sub = root / "submitted" / student / assignment / solution.name
            if not sub.exists():
                continue
            graded = grade_notebook(sub, solution, key, assignment=assignment, student=student)
            if graded.failure:
                return graded
            records += graded.records
        return GradedSubmission(student, records)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, names))
    if db_url:
        for g in results:
            if g.failure is None:
                write_records(db_url, assignment, g.student, g.records)
    return results
