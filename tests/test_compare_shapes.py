"""One shape policy (grader.core.shapes) for arrays, SymPy matrices, function results and both keys."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from grader.core.comparison import compare
from grader.core.shapes import CONVENTION, align, single_entry
from grader.key.entries import make_question_record
from grader.key.grading import grade
from grader.key.publicbuild import build_public_entry
from grader.key.wire import to_wire
from grader.notebook.check import _call_student

x, y = sp.symbols("x y", real=True)
GRAD = sp.Matrix([2 * x, 3 * y**2])  # a column, as the course writes gradients


@pytest.mark.parametrize("shape,expected,layout,how", [
    ((2,), (2, 1), "convention", "note"),
    ((2, 1), (2,), "convention", "note"),
    ((1, 2), (2, 1), "convention", "bad"),
    ((1, 2), (2,), "convention", "note"),
    ((1, 2), (2, 1), "any", "note"),
    ((2,), (2, 1), "exact", "bad"),
    ((1, 1), (), "convention", "note"),
    ((1, 1), (), "exact", "bad"),
    ((3, 2), (2, 3), "any", "bad"),
    ((2, 2), (2, 2), "exact", None),
])
def test_align(shape, expected, layout, how):
    assert align(shape, expected, layout) == how


def test_a_row_for_a_column_is_rejected_with_the_convention():
    v = compare(GRAD.T, GRAD)
    assert not v.correct and v.misconception == "transposed"
    assert CONVENTION in v.message


def test_a_flat_list_for_a_column_is_accepted_with_a_note():
    v = compare([2 * x, 3 * y**2], GRAD)
    assert v.correct and "read as a vector" in v.message


def test_layout_any_and_exact():
    assert compare(GRAD.T, GRAD, layout="any").correct
    v = compare([2 * x, 3 * y**2], GRAD, layout="exact")
    assert not v.correct and "asks for exactly that shape" in v.message
    with pytest.raises(ValueError, match="layout must be one of"):
        compare(GRAD, GRAD, layout="columns")


def test_a_1x1_matrix_where_a_scalar_is_asked_is_its_entry():
    # (df/dx)(dx/dt) in matrices is 1 x 1 (MML eq. 5.49)
    chain = sp.Matrix([[y]]) * sp.Matrix([[2 * x]])
    v = compare(chain, 2 * x * y, kind="expression")
    assert v.correct and "1 x 1" in v.message
    assert compare(np.array([[2.5]]), 2.5, kind="number").correct
    wrong = compare(sp.Matrix([[3 * x * y]]), 2 * x * y, kind="expression")
    assert not wrong.correct and "1 x 1" in wrong.message  # the note is said either way
    assert not compare(chain, 2 * x * y, kind="expression", layout="exact").correct
    assert single_entry(sp.Matrix([[1, 2]]))[1] is False


def _double_col(v):
    return 2 * np.asarray(v, dtype=float)


def test_a_function_returning_a_row_for_a_column_is_rejected_like_an_array():
    col = [(np.array([[1.0], [2.0], [3.0]]),)]
    v = compare(lambda a: _double_col(a).reshape(1, -1), _double_col, inputs=col)
    assert not v.correct
    assert "row of 3 entries" in v.message and CONVENTION in v.message
    assert compare(lambda a: _double_col(a).reshape(-1), _double_col, inputs=col).correct
    assert compare(lambda a: _double_col(a).reshape(1, -1), _double_col, inputs=col, layout="any").correct


def _keys(qid, reference, **opts):
    private = make_question_record(qid, reference, kind=opts.pop("kind", None), var=None, rtol=1e-6, atol=1e-9,
                                   mistakes=None, inputs=opts.pop("inputs", None), domain=None, plot=None,
                                   call=_call_student, layout=opts.pop("layout", None))
    return private, build_public_entry(private, "test_shapes")


def test_both_keys_apply_the_policy_to_arrays_and_scalars():
    for reference, answer, correct in ((GRAD, GRAD.T, False), (GRAD, [2 * x, 3 * y**2], True),
                                       (2 * x * y, sp.Matrix([[2 * x * y]]), True)):
        private, public = _keys("q", reference)
        a, b = grade(to_wire(answer), private), grade(to_wire(answer), public)
        assert a.correct is b.correct is correct, (a.message, b.message)


def test_the_private_key_applies_the_policy_to_function_results():
    inputs = [(np.array([[1.0], [2.0]]),)]
    private, _ = _keys("fn", _double_col, inputs=inputs)
    ref = _double_col(inputs[0][0])
    row = {"$": "calls", "results": [{"ok": to_wire(ref.reshape(1, -1))}]}
    flat = {"$": "calls", "results": [{"ok": to_wire(ref.reshape(-1))}]}
    v = grade(row, private)
    assert not v.correct and CONVENTION in v.message
    assert grade(flat, private).correct


def test_the_public_key_leaves_the_orientation_of_function_results_to_grading():
    inputs = [(np.array([[1.0], [2.0]]),)]
    private, public = _keys("fn", _double_col, inputs=inputs)
    ref = _double_col(inputs[0][0])
    row = {"$": "calls", "results": [{"ok": to_wire(ref.reshape(1, -1))}]}
    flat = {"$": "calls", "results": [{"ok": to_wire(ref.reshape(-1))}]}
    v = grade(row, public)
    assert "checked at grading" in v.message and v.message != grade(row, private).message
    assert "checked at grading" not in grade(flat, public).message


def test_a_question_chooses_its_layout_and_both_keys_follow_it():
    """question(..., layout=...) reaches both keys: "any" takes the row, "exact" refuses the flat list."""
    private, public = _keys("q", GRAD, layout="any")
    assert private["layout"] == public["layout"] == "any"
    assert grade(to_wire(GRAD.T), private).correct and grade(to_wire(GRAD.T), public).correct
    private, public = _keys("q", GRAD, layout="exact")
    flat = [2 * x, 3 * y**2]
    assert not grade(to_wire(flat), private).correct and not grade(to_wire(flat), public).correct
    private, public = _keys("q", GRAD)
    assert "layout" not in private and "layout" not in public  # the default leaves the keys as they were
    with pytest.raises(ValueError, match="layout must be one of"):
        _keys("q", GRAD, layout="sideways")
