"""nbgrader's per-student bookkeeping on one open gradebook (``grader.course.grading.sharedgradebook``) leaves
exactly what nbgrader's own classes leave: the same students, submissions, late penalties, grade rows,
copied files and restored notebooks.  Each case runs nbgrader's class on one copy of a released course and
calcgrade's on another, and compares."""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import AssignLatePenalties as StockLate
from nbgrader.preprocessors import OverwriteCells as StockCells
from nbgrader.preprocessors import OverwriteKernelspec as StockKernelspec
from traitlets.config import Config

from grader.course.coursedir import nbgrader_config
from grader.course.grading import sharedgradebook as shared

ASSIGNMENT = "02_derivatives"
NOTEBOOK = "derivatives"
DUE = datetime.datetime(2026, 11, 20, 12, 0, 0)
ON_TIME = "2026-11-20 11:00:00.000000 UTC\n"
LATE = "2026-11-20 15:30:00.000000 UTC\n"   # three and a half hours late

pytestmark = pytest.mark.slow


@pytest.fixture()
def twins(tmp_path, make_released_course):
    """Two identical released courses with a due date and two submissions (on time, late)."""
    roots = []
    for side in ("nbgrader", "calcgrade"):
        root = make_released_course(tmp_path / side, ASSIGNMENT)
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            gb.update_or_create_assignment(ASSIGNMENT, duedate=DUE)
        released = root / "exercises" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        for student, stamp in (("ada", ON_TIME), ("bob", LATE)):
            folder = root / "submitted" / student / ASSIGNMENT
            folder.mkdir(parents=True)
            (folder / f"{NOTEBOOK}.ipynb").write_bytes(released.read_bytes())
            (folder / "timestamp.txt").write_text(stamp)
            (folder / "notes.txt").write_text(f"{student}'s notes")
        roots.append(root)
    return roots


def _converter(root: Path, cls: type, *, create_student: bool = True) -> Autograde:
    config = nbgrader_config(root)
    config.Autograde.create_student = create_student
    conv = cls(coursedir=CourseDirectory(config=config), config=config)
    conv.force = True
    return conv


def _bookkeeping(root: Path, cls: type, student: str, *, create_student: bool = True) -> str:
    """One student's init_assignment through ``cls``; "" or the NbGraderException's message."""
    conv = _converter(root, cls, create_student=create_student)
    src = root / "submitted" / student / ASSIGNMENT
    conv.notebooks = [str(src / f"{NOTEBOOK}.ipynb")]
    conv.init_destination(ASSIGNMENT, student)
    with Gradebook(conv.coursedir.db_url, conv.coursedir.course_id) as gb:
        if cls is shared.SharedGradebookAutograde:
            conv.gradebook = gb
        try:
            conv.init_assignment(ASSIGNMENT, student)
        except NbGraderException as exc:
            return str(exc)
        gb.db.commit()
    return ""


def _state(root: Path) -> dict:
    """The gradebook's students, submissions (time, lateness, grade rows) and the autograded files."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        subs = {s.student.id: (str(s.timestamp), s.total_seconds_late,
                               sorted((g.name, g.auto_score, g.needs_manual_grade)
                                      for nb in s.notebooks for g in nb.grades))
                for s in gb.find_assignment(ASSIGNMENT).submissions}
        students = sorted(s.id for s in gb.students)
    files = sorted(str(p.relative_to(root)) for p in (root / "autograded").rglob("*") if p.is_file()) \
        if (root / "autograded").exists() else []
    return {"students": students, "submissions": subs, "files": files}


def test_the_per_student_bookkeeping_leaves_what_nbgraders_leaves(twins):
    theirs, ours = twins
    for student in ("ada", "bob", "ada"):  # the second time: a submission graded again
        assert _bookkeeping(theirs, Autograde, student) == _bookkeeping(ours, shared.SharedGradebookAutograde,
                                                                       student) == ""
        assert _state(theirs) == _state(ours)
    state = _state(ours)
    assert state["submissions"]["bob"][1] == 3.5 * 3600 and state["submissions"]["ada"][1] == 0
    assert f"autograded/bob/{ASSIGNMENT}/notes.txt" in state["files"]
    # an unknown student where the course does not create students: the same refusal, nothing written
    stock = _bookkeeping(theirs, Autograde, "ada", create_student=False)
    assert stock == ""  # ada exists by now; a stranger does not
    (theirs / "submitted" / "eve" / ASSIGNMENT).mkdir(parents=True)
    (ours / "submitted" / "eve" / ASSIGNMENT).mkdir(parents=True)
    for root in twins:
        (root / "submitted" / "eve" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").write_bytes(
            (root / "exercises" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_bytes())
    refused = _bookkeeping(theirs, Autograde, "eve", create_student=False)
    assert refused == "No student with ID 'eve' exists in the database"
    assert _bookkeeping(ours, shared.SharedGradebookAutograde, "eve", create_student=False) == refused
    assert _state(theirs) == _state(ours)


def _resources(root: Path, student: str, gb: Gradebook | None) -> dict:
    res = {"nbgrader": {"notebook": NOTEBOOK, "assignment": ASSIGNMENT, "student": student,
                        "db_url": f"sqlite:///{root / 'gradebook.db'}"}}
    if gb is not None:
        res["calcgrade"] = {"gradebook": gb}
    return res


def _tampered(root: Path) -> nbformat.NotebookNode:
    """A submission whose locked cells, test cells and kernelspec were edited."""
    nb = nbformat.read(str(root / "exercises" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            cell.source = "print('edited by the student')"
    nb.metadata["kernelspec"] = {"name": "not-python", "display_name": "Another", "language": "x"}
    return nb


def test_the_restoring_steps_give_nbgraders_notebooks(twins):
    theirs, ours = twins
    _bookkeeping(theirs, Autograde, "ada")
    _bookkeeping(ours, shared.SharedGradebookAutograde, "ada")
    nb = _tampered(theirs)
    for stock_cls, our_cls in ((StockKernelspec, shared.OverwriteKernelspec), (StockCells, shared.OverwriteCells)):
        expected, _ = stock_cls().preprocess(copy.deepcopy(nb), _resources(theirs, "ada", None))
        with shared.RunGradebook(f"sqlite:///{ours / 'gradebook.db'}") as gb:
            for _ in range(2):  # the second notebook of the run reads the released cells remembered
                got, _ = our_cls().preprocess(copy.deepcopy(nb), _resources(ours, "ada", gb))
                gb.db.commit()
                assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True), stock_cls.__name__
            remembered = len(gb.released_cells)
        assert remembered > 0 or stock_cls is StockKernelspec
        assert json.dumps(got, sort_keys=True) != json.dumps(nb, sort_keys=True)  # something was restored
    assert "edited by the student" not in json.dumps(got)
    # with no open gradebook handed over, the classes are nbgrader's own
    alone, _ = shared.OverwriteCells().preprocess(copy.deepcopy(nb), _resources(ours, "ada", None))
    assert json.dumps(alone, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_late_penalties_are_nbgraders(twins):
    theirs, ours = twins
    config = Config()
    config.LateSubmissionPlugin.penalty_method = "zero"   # a late notebook loses its whole score
    penalties = {}
    for root, cls, share in ((theirs, StockLate, False), (ours, shared.AssignLatePenalties, True)):
        conv = Autograde if not share else shared.SharedGradebookAutograde
        for student in ("ada", "bob"):
            _bookkeeping(root, conv, student)
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            for student in ("ada", "bob"):
                for grade in gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student).grades:
                    grade.auto_score = grade.max_score
            gb.db.commit()
            for student in ("ada", "bob"):
                nb = nbformat.read(str(root / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), 4)
                cls(config=config).preprocess(nb, _resources(root, student, gb if share else None))
            penalties[root] = {s: gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, s).late_submission_penalty
                               for s in ("ada", "bob")}
    assert penalties[theirs] == penalties[ours]
    assert penalties[ours]["ada"] is None and penalties[ours]["bob"] > 0   # bob's whole score
