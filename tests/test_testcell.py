"""Which question a test cell checks: one reading (``grader.key.testcell``), and the four parts that need
it (key builder, trusted grader, feedback page, release check) agree on tricky cells.

Before this reading existed, a comment ``# check("old", x)`` made the key builder complain while the
grader ignored it, and ``check(qid="q", value=x)`` earned points in the key but "grade by hand" in the
trusted grader.  Every case below is read by all four and must give the same question.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.course.grading.feedbackhtml import question_of
from grader.course.grading.trusted import graded_cells_of
from grader.course.kernelrun import test_cells as key_builder_test_cells
from grader.course.release.releasecheck import cell_label
from grader.key.testcell import NO_CHECK, checked_question

# (source, the question it checks or None)
TRICKY = [
    ('check("q1", x)', "q1"),
    ('check(qid="q2", value=x)', "q2"),
    ("check(\n    'q3',\n    x,\n)", "q3"),
    ('# check("old", x)\ncheck("q4", x)', "q4"),
    ('# check("old", x)\nassert x == 2', None),
    ('note = "check(\'q6\', x)"\nprint(note)', None),
    ('"""Calls check("doc", x) in prose."""\ncheck("q7", x)', "q7"),
    ('check("q8", x)  # not check("other", y)', "q8"),
    ('grader.check("q9", f(2))\nprint(1)', "q9"),
    ('%matplotlib inline\ncheck("q10", x)', "q10"),
    ('check("a", 1)\ncheck("b", 2)', None),
    ('check("same", 1)\ncheck("same", 2)', "same"),
    ("check(name, x)", None),
    ('mycheck("q14", x)\nrecheck("q14", x)', None),
    ('if ready:\n    check("q15", x)', "q15"),
    ("check(", None),
    ('check(value=x, qid="q17")', "q17"),
]


def _notebook(source: str) -> nbformat.NotebookNode:
    cell = new_code_cell(source, metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                         "grade_id": "test_cell", "points": 2}})
    return new_notebook(cells=[cell])


def _key_builder(nb) -> str | None:
    points, _ = key_builder_test_cells(nb)
    assert len(points) <= 1
    return next(iter(points), None)


def _trusted(nb) -> str | None:
    (cell,) = graded_cells_of(nb)
    return cell.qid


def _feedback(nb) -> str | None:
    return question_of(nb.cells[0])


def _release_check(nb) -> str | None:
    match = re.search(r"question ([^)]+)\)$", cell_label("a", "n.ipynb", 0, nb.cells[0]))
    return match.group(1) if match else None


@pytest.mark.parametrize("source, expected", TRICKY)
def test_the_four_readers_agree(source, expected):
    assert checked_question(source).qid == expected
    nb = _notebook(source)
    seen = {reader.__name__: reader(nb) for reader in (_key_builder, _trusted, _feedback, _release_check)}
    assert seen == dict.fromkeys(seen, expected)


def test_why_a_cell_cannot_be_graded_is_said():
    assert checked_question("assert d == 2").reason == NO_CHECK
    assert "several questions (a, b)" in checked_question('check("a", 1)\ncheck("b", 2)').reason
    assert checked_question('check("a", 1)\ncheck("b", 2)').named == ("a", "b")
    assert "cannot be parsed" in checked_question("check(").reason
    assert "does not name its question" in checked_question("check(name, x)").reason
    assert "cell magic" in checked_question('%%time\ncheck("q", x)').reason
    assert checked_question('check("q", x)').reason == ""


def test_the_key_builder_reports_what_the_grader_would_refuse():
    _, problems = key_builder_test_cells(_notebook('check("a", 1)\ncheck("b", 2)'))
    assert problems == ["test cell 'test_cell' checks several questions (a, b); use one cell each"]
    _, problems = key_builder_test_cells(_notebook("check(name, x)"))
    assert len(problems) == 1 and "does not name its question" in problems[0]
    assert key_builder_test_cells(_notebook("assert d == 2")) == ({}, [])


def test_the_release_check_labels_a_solution_cell_with_its_declared_question():
    cell = new_code_cell('d = 2\nquestion("chain", d)', metadata={"nbgrader": {"grade_id": "ans_chain"}})
    assert cell_label("02_d", "d.ipynb", 3, cell) == "02_d/d.ipynb, cell 4 (ans_chain, question chain)"
    cell = new_code_cell('# question("old", d)\nd = 2', metadata={"nbgrader": {"grade_id": "ans"}})
    assert cell_label("02_d", "d.ipynb", 0, cell) == "02_d/d.ipynb, cell 1 (ans)"


def test_a_huge_or_deeply_nested_source_is_reported_not_raised():
    deep = "check(" * 5000 + ")" * 5000
    assert checked_question(deep).qid is None
    assert checked_question(["check(", '"q", x)']).qid == "q"
