"""Exact slips: the private key rejects them only with an exact witness, and the public key never
promises "Correct." for an answer whose exactness only grading can judge."""

from __future__ import annotations

import numpy as np
import sympy as sp

from grader.core.comparison import compare
from grader.core.exactness import exact_difference, exact_witness
from grader.core.inputs import default_inputs, special_points
from grader.key.entries import make_question_record
from grader.key.grading import grade
from grader.key.publicbuild import build_public_entry
from grader.key.publicgrade import exact_stake
from grader.key.wire import to_wire
from grader.notebook.check import _call_student

x = sp.Symbol("x", real=True)


def _keys(reference):
    private = make_question_record("q", reference, kind="expression", var=None, rtol=1e-6, atol=1e-9,
                                   mistakes=None, inputs=None, domain=None, plot=None, call=_call_student)
    return private, build_public_entry(private, "test_exact_keys")


def test_an_exact_slip_needs_an_exact_witness():
    slip = sp.Rational(314159, 100000) * x
    assert exact_witness(slip, sp.pi * x) is not None
    assert exact_witness(sp.sqrt(x**2), sp.Abs(x)) is None
    assert exact_witness((sp.sqrt(2) + 1) ** 2 * x, (3 + 2 * sp.sqrt(2)) * x) is None
    assert exact_difference(2 * x**2 + 2 * x + sp.Rational(1, 2), (2 * x + 1) ** 2 / 2, None) is True
    v = compare(slip, sp.pi * x)
    assert not v.correct and v.misconception == "exact_slip"


def test_the_public_key_defers_to_grading_where_a_tolerance_cannot_judge():
    private, public = _keys(sp.pi * x)
    slip = to_wire(sp.Rational(314159, 100000) * x)
    assert grade(slip, private).misconception == "exact_slip"
    pub = grade(slip, public)
    assert pub.message != "Correct." and "exact check at grading" in pub.message
    assert pub.details.get("exact_check") == "at grading"
    assert grade(to_wire(sp.pi * x), public).message == "Correct."
    assert grade(to_wire(x * 3.14159265358979), public).message == "Correct."


def test_exact_stake_names_long_rationals_and_tiny_constants():
    assert exact_stake(sp.Rational(314159, 100000) * x) == "314159/100000"
    assert exact_stake(x**2 + sp.exp(-30)) == "exp(-30)"
    assert exact_stake(x**2 / 3 + sp.Rational(7, 2)) is None
    assert exact_stake(sp.Float(0.5) * x) is None


def _dsig(z):
    s = 1 / (1 + np.exp(-np.asarray(z, dtype=float)))
    return s * (1 - s)


def test_default_inputs_reach_saturating_shortcuts_and_kinks():
    clipped = lambda z: np.where(np.abs(np.asarray(z, dtype=float)) > 8, 0.0, _dsig(z))  # noqa: E731
    v = compare(clipped, _dsig)
    assert not v.correct and "10" in v.message
    hinge = lambda z: np.maximum(0.0, 1 - np.asarray(z, dtype=float))  # noqa: E731
    assert any(abs(p - 1.0) < 1e-2 for p in special_points(hinge))
    moved = lambda z: np.maximum(0.0, 0.999 - np.asarray(z, dtype=float)) + 0.001  # noqa: E731
    assert not compare(moved, hinge).correct
    shapes = {np.asarray(a[0]).shape for a in default_inputs(_dsig)}
    assert {(), (1,), (2, 2), (2, 3)} <= shapes and any(len(s) == 1 and s[0] > 20 for s in shapes)
    scalars = [a[0] for a in default_inputs(_dsig) if np.ndim(a[0]) == 0]
    assert max(scalars) >= 1000 and min(scalars) <= -100
