"""compare() on arrays: shapes, entries named from 1, diagnoses."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from grader import compare

x, y = sp.symbols("x y")
GRAD = [2 * x * y + 3 * y**2, x**2 + 6 * x * y]


@pytest.mark.parametrize(
    "answer",
    [list(GRAD), tuple(GRAD), sp.Matrix(GRAD), sp.ImmutableMatrix(GRAD), sp.Array(GRAD),
     "[2*x*y + 3*y^2, x^2 + 6*x*y]", np.array(GRAD, dtype=object)],
)
def test_gradient_in_any_container(answer):
    v = compare(answer, GRAD)
    assert v.correct, v.message


def test_numeric_vector_forms_and_column_note():
    assert compare(np.array([39.0, 40.0]), [39, 40]).correct
    assert compare([39, 40], np.array([39.0, 40.0])).correct
    v = compare(np.array([[39.0], [40.0]]), [39, 40])
    assert v.correct and "shape (2, 1)" in v.message and v.details["notes"]
    v = compare([39, 40], sp.Matrix([39, 40]))
    assert v.correct and "note" in v.message.lower()


def test_row_for_column_is_a_transposition():
    v = compare(np.array([[39.0, 40.0]]), np.array([[39.0], [40.0]]))
    assert not v.correct and v.misconception == "transposed"


def test_swapped_components():
    v = compare(GRAD[::-1], GRAD)
    assert not v.correct and v.misconception == "swapped_components"
    assert "entry 1 and entry 2 (counting from 1)" in v.message
    assert v.details["wrong_entries"] == [[0], [1]] and v.details["index_base"] == 0


def test_missing_component():
    v = compare([39], [39, 40])
    assert not v.correct and v.misconception == "missing_component"
    assert "entry 2" in v.message
    v = compare([1, 2], [5, 6, 7])
    assert not v.correct and v.misconception == "missing_component"
    assert "2 entries" in v.message


def test_one_wrong_entry_is_named_with_counterexample():
    v = compare([2 * x * y + 3 * y**2, x**2 + 3 * x * y], GRAD)
    assert not v.correct and v.misconception == "one_wrong_entry"
    assert v.message.startswith("Entry 2 (counting from 1) is wrong")
    assert "At x = " in v.message and "should be" in v.message
    assert v.details["wrong_entries"] == [[1]]


def test_matrix_entries_named_by_row_and_column():
    H = sp.Matrix([[2 * y, 2 * x + 6 * y], [2 * x + 6 * y, 6 * x]])
    v = compare([[2 * y, 2 * x + 6 * y], [2 * x + 6 * y, 6 * y]], H)
    assert "row 2, column 2" in v.message and v.details["wrong_entries"] == [[1, 1]]
    v = compare([[0, 2 * x + 6 * y], [2 * x, 6 * y]], H)
    assert not v.correct and "3 of 4 entries are wrong" in v.message


def test_transposed_matrix():
    J = sp.Matrix([[2 * x * y, x**2], [5, sp.cos(y)]])
    v = compare(J.T, J)
    assert not v.correct and v.misconception == "transposed"
    J2 = sp.Matrix([[1, 2, 3], [4, 5, 6]])
    v = compare(J2.T, J2)
    assert not v.correct and v.misconception == "transposed" and "shape (3, 2)" in v.message


def test_whole_array_sign_and_factor():
    v = compare([-39, -40], [39, 40])
    assert v.misconception == "opposite_sign"
    v = compare([78, 80], [39, 40])
    assert v.misconception == "constant_factor" and "factor of 2" in v.message


def test_bad_arrays_have_clear_messages():
    cases = [
        ([[1, 2], [3]], "ragged"),
        ([], "empty list"),
        (np.array([]), "empty array"),
        (np.zeros((0, 2)), "empty"),
        (39, "single value"),
        ([39, float("nan")], "entry 2 (counting from 1): it is NaN"),
        ([39, None], "entry 2 (counting from 1)"),
        ([39, 2 * sp.Symbol("t")], "symbol t"),
        ([[1, 2, 3], [4, 5, 6]], "shape (2, 3)"),
        (None, "None"),
        (..., "not answered yet"),
    ]
    for answer, words in cases:
        v = compare(answer, [39, 40])
        assert not v.correct and v.score == 0.0, answer
        assert words.lower() in v.message.lower(), (answer, v.message)


def test_array_tolerance_and_exactness():
    assert compare([1 / 3, 2.0], [sp.Rational(1, 3), 2]).correct
    v = compare([0.3333, 2.0], [sp.Rational(1, 3), 2])
    assert not v.correct and v.misconception == "one_wrong_entry"
    v = compare([1, 2], [1, 2])
    assert v.correct and v.method == "exact"


def test_named_mistake_for_arrays():
    mistakes = {"dropped_y": ([2 * x, x**2], "Treat y as a constant, but keep it.")}
    v = compare([2 * x, x**2], GRAD, mistakes=mistakes)
    assert v.misconception == "dropped_y" and v.message == "Treat y as a constant, but keep it."


# --- True/False entries ("1 for yes, 0 for no") ---------------------------------------------------
BOOL_NOTE = "True/False were read as 1/0."
RATES = np.array([0.05, 0.4, 1.2, 2.0, 5.0])


@pytest.mark.parametrize("answer", [
    [False, False, True, True, True],
    RATES > 1,
    [np.False_, np.False_, np.True_, np.True_, np.True_],
    np.array([False, False, True, True, True], dtype=object),
    (RATES > 1).reshape(-1, 1),
    [0, False, 1, True, 1],
], ids=["list", "numpy comparison", "numpy bools", "object array", "column", "mixed"])
def test_boolean_entries_are_read_as_ones_and_zeros_with_a_note(answer):
    v = compare(answer, [0, 0, 1, 1, 1])
    assert v.correct, v.message
    assert BOOL_NOTE in v.message and BOOL_NOTE in v.details["notes"]


def test_a_wrong_boolean_vector_names_the_wrong_entry_and_keeps_the_note():
    v = compare(RATES > 0.3, [0, 0, 1, 1, 1])
    assert not v.correct and v.misconception == "one_wrong_entry"
    assert v.details["wrong_entries"] == [[1]] and "Entry 2" in v.message
    assert BOOL_NOTE in v.message and v.details["notes"] == [BOOL_NOTE]
    v = compare([True, False], [0, 0, 1, 1, 1])
    assert not v.correct and v.misconception == "missing_component" and BOOL_NOTE in v.message


def test_a_boolean_reference_and_named_mistake():
    mistakes = {"all_diverge": ([1, 1, 1, 1, 1], "A small enough learning rate converges.")}
    assert compare([0, 0, 1, 1, 1], RATES > 1).correct
    v = compare(RATES > 0, RATES > 1, mistakes=mistakes)
    assert v.misconception == "all_diverge" and v.message.startswith("A small enough learning rate converges.")


@pytest.mark.parametrize("answer, words", [
    ([False, None, True], "In entry 2 (counting from 1): Not answered yet: your answer is None"),
    ([False, object(), True], "In entry 2 (counting from 1): it is an object, which cannot be read as an entry"),
    ([False, "yes", True], "In entry 2 (counting from 1): it uses the symbol yes"),
])
def test_other_non_numeric_entries_keep_their_message(answer, words):
    v = compare(answer, [0, 0, 1])
    assert not v.correct and v.method == "invalid"
    assert v.message.startswith(words), v.message
