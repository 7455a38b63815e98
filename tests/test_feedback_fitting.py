"""The public key's feedback values never let a student fit the reference (issue 24).

A public entry shows the reference's values at a few feedback points.  Three values of an affine function of
two variables, or of a quadratic in one, pin it down; so an expression gets fewer values than it has terms
(``feedbackpoints.fit_limit``), and feedback points respect the author's per-variable domain.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from grader.key.feedbackpoints import N_FEEDBACK, build_feedback, fit_limit

ROOT = Path(__file__).resolve().parent.parent
x, y, s = sp.symbols("x y s", real=True)


@pytest.mark.parametrize("expr, limit", [
    (10 * x**9, 0), (s - s**2, 1), (2 * x + y - 1, 2), (x - x**2 / 2, 1), (6 * x * (x**2 + 1)**2, 2),
    (x**4 + x**3 + x**2 + x + 1, N_FEEDBACK), (sp.sin(x), 0),
])
def test_fit_limit_is_fewer_than_the_terms(expr, limit):
    assert fit_limit(expr) == limit


def _stored(feedback, index=0):
    return [v for v in (feedback or {"values": [None]})["values"][index] or [] if v is not None]


_MONOMIALS = [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2), (3, 0)]


def _random_polynomials(n=40, seed=24):
    rng = random.Random(seed)
    for _ in range(n):
        monomials = rng.sample(_MONOMIALS, rng.randint(1, 5))
        yield monomials, [rng.choice([c for c in range(-9, 10) if c]) for _ in monomials]


@pytest.mark.parametrize("monomials, coefficients", list(_random_polynomials()))
def test_a_fit_in_the_reference_s_own_monomials_stays_underdetermined(monomials, coefficients):
    """Even a student who guesses exactly which monomials the answer has cannot solve for their coefficients."""
    expr = sum(c * x**i * y**j for (i, j), c in zip(monomials, coefficients))
    fb = build_feedback([expr], [x, y], "fit_probe", [])
    values = _stored(fb)
    assert len(values) < len(sp.Add.make_args(sp.expand(expr))) or not expr.free_symbols
    if values:
        points = fb["points"][:len(values)]
        design = np.array([[p["x"]**i * p["y"]**j for (i, j) in monomials] for p in points])
        assert np.linalg.matrix_rank(design) < len(monomials)


def test_feedback_points_stay_in_the_author_s_domain():
    fb = build_feedback([1 / (1 + sp.exp(-x)) - y], [x, y], "bce_probe", [], domain={"y": [0.0, 1.0]})
    assert fb is not None and fb["points"]
    assert all(0.0 <= p["y"] <= 1.0 for p in fb["points"])
    assert len(_stored(fb)) == 1


def test_an_antiderivative_keeps_its_integrand_s_values():
    """The integrand is printed in the question, so its values give nothing away."""
    fb = build_feedback([x**2], [x], "antideriv_probe", [], kind="antiderivative")
    assert len(_stored(fb)) == N_FEEDBACK


# the answers the review recovered with a one-line fit, and the number of unknowns of the family they belong to
FITTED = [
    ("06_matrix_calculus", "grad_quadratic", 3),   # each entry affine in x1, x2
    ("07_autodiff_learning", "linearisation", 3),  # affine in x, y
    ("07_autodiff_learning", "taylor_log", 3),     # a quadratic in x
    ("05_gradient_descent", "dL_dw", 3),           # affine in w, b
    ("05_gradient_descent", "dL_db", 3),
    ("02_derivatives", "limit_definition", 1),     # c * x
    ("01_sums_products", "closed_form_linear", 3), # a quadratic in m
]


@pytest.mark.parametrize("assignment, qid, unknowns", FITTED)
def test_the_committed_public_key_cannot_be_fitted(assignment, qid, unknowns):
    entry = json.loads((ROOT / "solutions" / assignment / "calcgrade_public.json").read_text())["questions"][qid]
    fb = entry.get("feedback")
    for index in range(len(fb["values"]) if fb else 0):
        assert len(_stored(fb, index)) < unknowns, (qid, fb)


def test_a_question_s_per_variable_domain_reaches_the_public_key():
    from grader.key.entries import make_question_record
    from grader.key.publicbuild import build_public_entry

    z = sp.Symbol("z", real=True)
    record = make_question_record("bce_probe", 1 / (1 + sp.exp(-z)) - y, kind=None, var=None, rtol=1e-6, atol=1e-9,
                                  mistakes=None, inputs=None, domain={y: (0, 1)}, plot=None,
                                  call=lambda fn, args, timeout: ("ok", fn(*args)))
    assert record["domain"] == {"y": [0.0, 1.0]}
    public = build_public_entry(record, "probe")
    assert public["domain"] == {"y": [0.0, 1.0]}
    points = public["feedback"]["points"]
    assert points and all(0.0 <= p["y"] <= 1.0 for p in points)
