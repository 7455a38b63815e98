"""The public key judges with the declared tolerance, like the private key.

Each case builds a private entry from a reference (as ``question()`` records it) and the public entry
from it (as ``calcgrade key`` does), then grades the same serialised answer with both.  Answers a
fraction k of the tolerance ``atol + rtol*|ref|`` away: k = 0.5 and 0.9 must be accepted by both keys,
k = 1.5 and 3 rejected by both.  References are chosen with a tolerance whose leading digit is at
least 2 (3.7e-4, 2.25e-4, ...): the public grid step is then at most half the tolerance, and the
public check (never stricter, looser by at most one step, see ``grader.key.fingerprint``) rejects 1.5
tolerances by construction, not by where the value falls in its bucket.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy as sp

from grader.core.answers import BOOLEAN_NOTE
from grader.key.entries import make_question_record
from grader.key.grading import grade
from grader.notebook.check import _call_student
from grader.key.publicbuild import build_public_entry
from grader.key.wire import to_wire

x = sp.Symbol("x", real=True)
ATOL = 1e-9
FACTORS = [(0.5, True), (0.9, True), (1.5, False), (3.0, False)]


def keys(qid: str, reference: Any, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(private entry, public entry) of one question."""
    private = make_question_record(
        qid, reference, kind=options.pop("kind", None), var=options.pop("var", None),
        rtol=options.pop("rtol", 1e-6), atol=options.pop("atol", ATOL), mistakes=options.pop("mistakes", None),
        inputs=options.pop("inputs", None), domain=None, plot=None, call=_call_student,
    )
    assert not options
    return private, build_public_entry(private, "test_publicgrade")


def both(answer: Any, private: dict[str, Any], public: dict[str, Any]) -> tuple[Any, Any]:
    wire = answer if isinstance(answer, dict) and answer.get("$") == "calls" else to_wire(answer)
    return grade(wire, private), grade(wire, public)


def assert_same(a: Any, b: Any, expected: bool) -> None:
    assert a.correct is expected, f"private: {a.message}"
    assert b.correct is expected, f"public: {b.message}"
    assert (a.correct, a.score, a.misconception) == (b.correct, b.score, b.misconception), (a.message, b.message)


@pytest.mark.parametrize("rtol", [1e-4, 1e-6])
@pytest.mark.parametrize("k,accepted", FACTORS)
@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("reference", [3.7, -0.0371, 27.35])
def test_a_number_is_judged_with_the_declared_tolerance(rtol, k, accepted, sign, reference):
    private, public = keys("num", sp.Float(reference), rtol=rtol)
    answer = reference + sign * k * (ATOL + rtol * abs(reference))
    assert_same(*both(answer, private, public), accepted)


def test_the_reported_integration_case_is_accepted_publicly():
    """rtol=1e-4 and an answer 2.5e-5 off (a quarter of the tolerance): accepted by both keys."""
    private, public = keys("integral", sp.Float(1.0 / 3), rtol=1e-4)
    assert_same(*both(1.0 / 3 + 2.5e-5, private, public), True)
    assert_same(*both(1.0 / 3 - 2.5e-5, private, public), True)


@pytest.mark.parametrize("rtol", [1e-4, 1e-6])
@pytest.mark.parametrize("k,accepted", FACTORS)
@pytest.mark.parametrize("sign", [1, -1])
def test_an_expression_is_judged_with_the_declared_tolerance(rtol, k, accepted, sign):
    reference = 3 * sp.sin(x) + x**2 / 2 + 1
    private, public = keys("expr", reference, rtol=rtol)
    # k*rtol*|v| off at every sample point v: about k tolerances (atol is negligible next to rtol*|v|)
    answer = reference * (1 + sign * k * rtol)
    assert_same(*both(answer, private, public), accepted)


@pytest.mark.parametrize("rtol", [1e-4, 1e-6])
@pytest.mark.parametrize("k,accepted", FACTORS)
@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("index", [0, 1])
def test_an_array_entry_is_judged_with_its_own_tolerance(rtol, k, accepted, sign, index):
    reference = [3.7, -2.25, 0.0, 1.3]  # entry 1's tolerance is 2.25 steps of the array's grid (set by 3.7)
    private, public = keys("arr", reference, rtol=rtol)
    answer = list(reference)
    answer[index] += sign * k * (ATOL + rtol * abs(reference[index]))
    a, b = both(np.array(answer), private, public)
    assert_same(a, b, accepted)
    if not accepted:
        assert a.details["wrong_entries"] == b.details["wrong_entries"] == [[index]]


def _scaled(v: Any) -> Any:
    return np.asarray(v, dtype=float) * 3.7


@pytest.mark.parametrize("rtol", [1e-4, 1e-6])
@pytest.mark.parametrize("k,accepted", FACTORS)
@pytest.mark.parametrize("which", [0, 1])
def test_function_outputs_are_judged_with_the_declared_tolerance(rtol, k, accepted, which):
    inputs = [(np.array([1.0, -0.6081]),), (1.0,)]  # outputs [3.7, -2.24997] (one grid for both) and 3.7
    private, public = keys("fn", _scaled, rtol=rtol, inputs=inputs)
    outs = [np.array(_scaled(*args), dtype=float) for args in inputs]
    flat = outs[which].reshape(-1)
    flat[-1] += k * (ATOL + rtol * abs(flat[-1]))  # the smaller entry of the array, or the single number
    answer = {"$": "calls", "results": [{"ok": to_wire(o if o.ndim else float(o))} for o in outs]}
    assert_same(*both(answer, private, public), accepted)


def test_an_exact_answer_within_tolerance_of_an_exact_reference():
    private, public = keys("pi", sp.pi)
    assert_same(*both(sp.Rational(355, 113), private, public), True)   # 8.5e-8 relative
    a, b = both(sp.Rational(22, 7), private, public)                   # 4e-4 relative
    assert_same(a, b, False)
    assert a.misconception == b.misconception == "close"


def test_generic_diagnoses_agree_with_a_looser_tolerance():
    """A wrong answer 4 tolerances off (0.04 %) is 'not quite' for both keys, not 'off by a factor'."""
    reference = 3 * sp.sin(x) + x**2 / 2 + 1
    private, public = keys("expr", reference, rtol=1e-4)
    for answer, ident in ((-reference, "opposite_sign"), (2 * reference, "constant_factor"),
                          (reference * (1 + 4e-4), None), (reference + 5, "added_constant")):
        a, b = both(answer, private, public)
        assert not a.correct and not b.correct
        assert a.misconception == b.misconception, (a.message, b.message)
        assert a.misconception == ident


# --- True/False read as 1/0 ------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [
    [False, False, True, True, True],
    np.array([0.05, 0.4, 1.2, 2.0, 5.0]) > 1,
    [np.False_, np.False_, np.True_, np.True_, np.True_],
    np.array([0.05, 0.4, 1.2, 2.0, 5.0]).reshape(-1, 1) > 1,
], ids=["list", "numpy comparison", "numpy bools", "column"])
def test_a_boolean_vector_is_read_as_ones_and_zeros_by_both_keys(answer):
    private, public = keys("diverges", [0, 0, 1, 1, 1])
    a, b = both(answer, private, public)
    assert_same(a, b, True)
    for v in (a, b):
        assert BOOLEAN_NOTE in v.message and BOOLEAN_NOTE in v.details["notes"]


def test_a_wrong_boolean_vector_names_the_same_entry_with_both_keys():
    private, public = keys("diverges", [0, 0, 1, 1, 1])
    a, b = both(np.array([0.05, 0.4, 0.9, 2.0, 5.0]) > 1, private, public)
    assert_same(a, b, False)
    assert a.misconception == "one_wrong_entry"
    assert a.details["wrong_entries"] == b.details["wrong_entries"] == [[2]]
    assert BOOLEAN_NOTE in a.message and BOOLEAN_NOTE in b.message


def test_a_boolean_is_read_as_a_number_by_both_keys():
    private, public = keys("is_convex", sp.Integer(1))
    for answer, expected in ((True, True), (np.True_, True), (False, False), (np.array(True), True)):
        a, b = both(answer, private, public)
        assert_same(a, b, expected)
        assert BOOLEAN_NOTE in a.details["notes"] and BOOLEAN_NOTE in b.details["notes"]


def test_other_entries_keep_their_message_next_to_booleans():
    private, public = keys("diverges", [0, 0, 1, 1, 1])
    a, b = both([False, False, True, "yes", True], private, public)
    assert_same(a, b, False)
    assert a.message == b.message
    assert a.message.startswith("In entry 4 (counting from 1): it uses the symbol yes")


def test_a_boolean_is_still_not_an_expression():
    private, public = keys("expr", 2 * x)
    a, b = both(True, private, public)
    assert_same(a, b, False)
    assert "True/False value" in a.message and "True/False value" in b.message
