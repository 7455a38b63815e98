"""nbgrader's per-student bookkeeping, run on ``calcgrade autograde``'s one open gradebook.

nbgrader's Autograde converter and three of its preprocessors (OverwriteKernelspec, OverwriteCells,
AssignLatePenalties) open a new ``Gradebook`` for each student or notebook, eight times per notebook in
all: each open builds a new SQLAlchemy engine, checks the schema and the course, and compiles every query
afresh.  On the fast path that was the largest part of the trusted process's time per notebook.

The classes here have nbgrader's rules exactly, and differ only in which gradebook they use: the run's
open one when ``calcgrade autograde`` hands it over (``resources["calcgrade"]["gradebook"]`` for the
preprocessors, ``SharedGradebookAutograde.gradebook`` for the converter); with none (stock
``nbgrader autograde``) they are nbgrader's own methods.  The shared-gradebook branches mirror nbgrader
0.9.6, the version ``pyproject.toml`` pins; ``tests/test_shared_gradebook.py`` runs both on the same
submissions and checks they leave the same gradebook and notebooks, so an nbgrader upgrade that changes
these steps fails there rather than quietly.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde
from nbgrader.converters.base import BaseConverter, NbGraderException
from nbgrader.preprocessors import AssignLatePenalties as NbgraderAssignLatePenalties
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.preprocessors import OverwriteCells as NbgraderOverwriteCells
from nbgrader.preprocessors import OverwriteKernelspec as NbgraderOverwriteKernelspec

__all__ = ["shared_gradebook", "RunGradebook", "SharedGradebookAutograde", "OverwriteKernelspec", "OverwriteCells",
           "AssignLatePenalties"]


class RunGradebook(Gradebook):
    """nbgrader's Gradebook, opened once for a whole ``calcgrade autograde`` run, which looks up each cell of
    the released notebooks once per run instead of once per cell of every submission.

    OverwriteCells asks for the released version of every nbgrader cell of every submitted notebook (a
    joined query each, some sixty per notebook); those rows are written by the release and never by
    grading, so the answer cannot change during the run.  Misses are not remembered (MissingEntry each
    time, as nbgrader's).  The rows are kept detached from the run's session: its commits never expire them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.released_cells: dict[tuple[str, str, str, str], Any] = {}

    def _released(self, kind: str, name: str, notebook: str, assignment: str, find: Any) -> Any:
        key = (kind, name, notebook, assignment)
        if key not in self.released_cells:
            cell = find(name, notebook, assignment)
            # detached from the run's session, whose commits (five per notebook) would otherwise expire it and
            # make the next notebook reload it, one query per cell; its columns stay as loaded
            self.db.expunge(cell)
            self.released_cells[key] = cell
        return self.released_cells[key]

    def find_source_cell(self, name: str, notebook: str, assignment: str) -> Any:
        return self._released("source", name, notebook, assignment, super().find_source_cell)

    def find_graded_cell(self, name: str, notebook: str, assignment: str) -> Any:
        return self._released("graded", name, notebook, assignment, super().find_graded_cell)


def shared_gradebook(resources: Any) -> Any:
    """The open gradebook ``calcgrade autograde`` hands its steps (``resources["calcgrade"]["gradebook"]``),
    or None (stock nbgrader: each step opens its own)."""
    state = resources.get("calcgrade") if hasattr(resources, "get") else None
    return state.get("gradebook") if isinstance(state, dict) else None


class SharedGradebookAutograde(Autograde):
    """nbgrader's Autograde converter whose per-student bookkeeping (``init_assignment``) uses
    ``self.gradebook`` when set, instead of opening the gradebook five times per student."""

    gradebook: Any = None

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        gb = self.gradebook
        if gb is None:
            super().init_assignment(assignment_id, student_id)
            return
        # nbgrader's Autograde.init_assignment, step by step, on one gradebook: the submission's other files
        # copied (BaseConverter), the student and the submission with its timestamp, the assignment's files
        # copied over, the notebooks the gradebook does not know dropped, unsubmitted notebooks scored 0
        BaseConverter.init_assignment(self, assignment_id, student_id)
        if self.create_student:
            gb.update_or_create_student(student_id)
        else:
            try:
                gb.find_student(student_id)
            except MissingEntry:
                msg = "No student with ID '%s' exists in the database" % student_id
                self.log.error(msg)
                raise NbGraderException(msg)
        try:
            assignment = gb.find_assignment(assignment_id)
        except MissingEntry:
            msg = "No assignment with ID '%s' exists in the database" % assignment_id
            self.log.error(msg)
            raise NbGraderException(msg)
        src_path = self._format_source(assignment_id, student_id)
        timestamp = self.coursedir.get_existing_timestamp(src_path)
        if timestamp:
            submission = gb.update_or_create_submission(assignment_id, student_id, timestamp=timestamp)
            if submission.total_seconds_late > 0:
                self.log.warning("%s is %s seconds late", submission, submission.total_seconds_late)
        else:
            gb.update_or_create_submission(assignment_id, student_id)

        dest_path = self._format_dest(assignment_id, student_id)
        source_path = self.coursedir.format_path(self.coursedir.source_directory, ".", assignment_id)
        source_files = set(utils.find_all_files(source_path, self.coursedir.ignore + ["*.ipynb"]))
        excluded = {os.path.join(source_path, x) for x in self.exclude_overwriting.get(assignment_id, [])}
        for filename in source_files - excluded:
            dest = os.path.join(dest_path, os.path.relpath(filename, source_path))
            if not os.path.exists(os.path.dirname(dest)):
                os.makedirs(os.path.dirname(dest))
            if os.path.exists(dest):
                os.remove(dest)
            shutil.copy(filename, dest)

        notebooks = []
        for notebook in self.notebooks:
            notebook_id = os.path.splitext(os.path.basename(notebook))[0]
            try:
                gb.find_notebook(notebook_id, assignment_id)
            except MissingEntry:
                self.log.warning("Skipping unknown notebook: %s", notebook)
                continue
            notebooks.append(notebook)
        self.notebooks = notebooks
        if not self.notebooks:
            msg = "No notebooks found, did you forget to run 'nbgrader generate_assignment'?"
            self.log.error(msg)
            raise NbGraderException(msg)

        for notebook in assignment.notebooks:
            path = os.path.join(self.coursedir.format_path(self.coursedir.submitted_directory, student_id,
                                                           assignment_id), f"{notebook.name}.ipynb")
            if not os.path.exists(path):
                self.log.warning("No submitted file: %s", path)
                for grade in gb.find_submission_notebook(notebook.name, assignment_id, student_id).grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
                gb.db.commit()


class OverwriteKernelspec(NbgraderOverwriteKernelspec):
    """nbgrader's OverwriteKernelspec (the released notebook's kernelspec replaces the submitted one), on
    the run's open gradebook when there is one."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        gb = shared_gradebook(resources)
        if gb is None:
            return super().preprocess(nb, resources)
        nbg = resources["nbgrader"]
        kernelspec = gb.find_notebook(nbg["notebook"], nbg["assignment"]).kernelspec
        if kernelspec is not None:
            kernelspec = json.loads(kernelspec)
        if kernelspec:
            nb.metadata["kernelspec"] = kernelspec
        return nb, resources


class OverwriteCells(NbgraderOverwriteCells):
    """nbgrader's OverwriteCells (locked and test cells restored from the gradebook, cell by cell), on the
    run's open gradebook when there is one.  Its per-cell rules are nbgrader's methods, inherited."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        gb = shared_gradebook(resources)
        if gb is None:
            return super().preprocess(nb, resources)
        nbg = resources["nbgrader"]
        self.notebook_id, self.assignment_id, self.db_url = nbg["notebook"], nbg["assignment"], nbg["db_url"]
        self.gradebook = gb
        try:
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # the per-cell loop
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        finally:
            self.gradebook = None  # never kept past the notebook (nor closed: the run owns it)
        return nb, resources


class AssignLatePenalties(NbgraderAssignLatePenalties):
    """nbgrader's AssignLatePenalties (its late-submission plugin's penalty, bounded by the notebook's
    score), on the run's open gradebook when there is one."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        gb = shared_gradebook(resources)
        if gb is None:
            return super().preprocess(nb, resources)
        nbg = resources["nbgrader"]
        self.notebook_id, self.assignment_id = nbg["notebook"], nbg["assignment"]
        self.student_id, self.db_url = nbg["student"], nbg["db_url"]
        self.init_plugin()
        submission = gb.find_submission(self.assignment_id, self.student_id)
        notebook = gb.find_submission_notebook(self.notebook_id, self.assignment_id, self.student_id)
        notebook.late_submission_penalty = None
        if submission.total_seconds_late > 0:
            self.log.warning("%s is %s seconds late", submission, submission.total_seconds_late)
            penalty = self.plugin_inst.late_submission_penalty(self.student_id, notebook.score,
                                                                submission.total_seconds_late)
            if penalty is not None:
                notebook.late_submission_penalty = self._check_late_penalty(notebook, penalty)
        gb.db.commit()
        return nb, resources
