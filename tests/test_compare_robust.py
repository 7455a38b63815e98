"""Failure classes of issue 14: cancelling logs, exact slips between sample points, branch cuts from
signed zeros, sample points on a decimal grid. Every case is a verdict (and where it matters the
counterexample), never a timing."""

from __future__ import annotations

import math

import sympy as sp

from grader import compare
from grader.core.equivalence import UNSTABLE, numeric_compare, stable_value
from grader.core.evaluation import UNDEFINED, evaluate
from grader.core.exactness import exact_difference, witness
from grader.core.sampling import narrow_points, sample_points

x, y, t, u = sp.symbols("x y t u", real=True)
a, b = sp.symbols("a b", real=True)
log, exp, sqrt, tanh, cosh, sinh = sp.log, sp.exp, sp.sqrt, sp.tanh, sp.cosh, sp.sinh


def sigmoid(v: sp.Expr) -> sp.Expr:
    return 1 / (1 + exp(-v))


def right(v, methods=("symbolic", "numeric", "exact")):
    assert v.correct is True, v.message
    assert v.method in methods


def wrong(v):
    assert v.correct is False, v.message
    assert v.score == 0.0


def no_undefined_claim(v):
    """The message never blames a cancellation on the answer."""
    assert "undefined" not in v.message
    ce = v.details.get("counterexample")
    assert ce is None or ce["reason"] != "undefined"


# --------------------------------------------------------------------------- 1. cancelling logs

def test_log_one_minus_sigmoid_is_minus_softplus():
    # 1 - sigma(t) underflows to 0 for t > 37 in float64 and for t > 130 at 60 digits
    v = compare(-log(1 - sigmoid(t)), log(1 + exp(t)), kind="expression")
    right(v)


def test_log_sech_squared_written_with_tanh():
    # 1 - tanh(x)**2 is exactly 0 in float64 for |x| > 19
    v = compare(log(1 - tanh(x) ** 2), -2 * log(cosh(x)), kind="expression")
    right(v)


def test_log_cosh_minus_sinh_at_large_positive_values():
    v = compare(log(cosh(u) - sinh(u)), -u, kind="expression")
    right(v)


def test_nested_cancellation_of_an_exponential():
    # sqrt(e^(2x) + 1) - e^x = e^-x / (sqrt(1 + e^-2x) + 1): 0 in float64 beyond x = 19
    v = compare(log(sqrt(exp(2 * x) + 1) - exp(x)), -sp.asinh(exp(x)), kind="expression")
    right(v)


def test_cross_entropy_with_a_second_variable_named_otherwise():
    naive = -b * log(sigmoid(a)) - (1 - b) * log(1 - sigmoid(a))
    v = compare(naive, log(1 + exp(a)) - a * b, kind="expression")
    right(v)


def test_a_wrong_cancelling_answer_is_rejected_at_a_point_it_is_defined():
    v = compare(-log(1 - sigmoid(t)) + sp.Rational(1, 1000), log(1 + exp(t)), kind="expression")
    wrong(v)
    no_undefined_claim(v)


def test_cancellation_beyond_any_precision_is_skipped_not_reported():
    # at |x| > 50 the argument's cancellation needs tens of thousands of digits: those points are skipped
    naive = log(1 - 1 / (1 + exp(-x**2)))
    stable = -x**2 - log(1 + exp(-x**2))
    v = compare(naive, stable, kind="expression")
    right(v)
    assert stable_value(naive, {x: 250.3}) is UNSTABLE
    assert stable_value(stable, {x: 250.3}) not in (UNSTABLE, UNDEFINED)


def test_a_piecewise_gap_is_still_undefined_and_reported():
    gap = sp.Piecewise((x, x > 0))
    assert stable_value(gap, {x: -1.25}) is UNDEFINED
    v = compare(gap, x, kind="expression")
    wrong(v)
    assert v.details["counterexample"]["reason"] == "undefined"


def test_evidence_is_undetermined_when_too_few_points_survive():
    # an answer that is only ever a cancellation cannot be called equal on the strength of no points
    deep = log(1 - 1 / (1 + exp(-(x**2 + 5000))))
    ev = numeric_compare(deep, -(x**2 + 5000) - log(1 + exp(-(x**2 + 5000))))
    assert ev.status == "undetermined"


# --------------------------------------------------------------------------- 2. exact slips

P = sp.expand(sp.prod([x - k for k in range(20, 33)]))  # roots far from the usual sample range


def test_expanded_polynomial_off_by_one_is_rejected_near_a_root():
    v = compare(P + 1, P, kind="expression")
    wrong(v)
    point = v.details["counterexample"]["point"]["x"]
    assert 19 < point < 33  # near a root of the reference, where the tolerance is atol


def test_factored_form_of_the_same_polynomial_is_accepted():
    right(compare(sp.factor(P), P, kind="expression"))


def test_rational_function_with_a_slipped_constant_is_rejected():
    wrong(compare((P + 1) / (x**2 + 1), P / (x**2 + 1), kind="expression"))


def test_a_tiny_higher_degree_term_is_rejected():
    v = compare(x**2 + x**4 / 10**12, x**2, kind="expression")
    wrong(v)


def test_polynomial_in_an_exponential_off_by_one_is_rejected():
    q = sp.expand((exp(x) - 30) ** 6)
    wrong(compare(q + 1, q, kind="expression"))


def test_two_variable_slip_is_rejected():
    q = sp.expand((x - 25) ** 7 * (y - 30) ** 5)
    wrong(compare(q + 1, q, kind="expression"))


def test_floats_keep_the_tolerance():
    # an answer with floats is judged with the tolerance, as before: 1e-12 off is fine
    right(compare(x**2 + sp.Float(1e-12), x**2, kind="expression"))


def test_exact_difference_decides_rational_functions_only():
    assert exact_difference((x**2 - 1) / (x - 1), x + 1, None) is True
    assert exact_difference(P + 1, P, None) is False
    assert exact_difference(sp.sin(x) ** 2, 1 - sp.cos(x) ** 2, None) is None
    assert exact_difference(x + sp.Float(0.5), x, None) is None


def test_witness_is_confirmed_at_high_precision():
    ce = witness(P + 1, P, 1e-6, 1e-9, None, None)
    assert ce is not None and ce.reason == "value"
    assert abs(float(ce.answer) - float(ce.expected) - 1) < 1e-9
    assert witness(sp.factor(P), P, 1e-6, 1e-9, None, None) is None


# --------------------------------------------------------------------------- 3. signed zeros

def test_square_roots_of_reciprocal_ratios_are_not_one():
    v = compare(sqrt(a / b) * sqrt(b / a), sp.Integer(1), kind="expression")
    wrong(v)
    ce = v.details["counterexample"]
    assert ce["point"]["a"] * ce["point"]["b"] < 0  # the signs differ there
    assert ce["answer"] == -1.0


def test_the_same_identity_holds_for_positive_symbols():
    ap, bp = sp.symbols("a b", positive=True)
    right(compare(sqrt(ap / bp) * sqrt(bp / ap), sp.Integer(1), kind="expression"))


def test_sqrt_x_times_sqrt_reciprocal_is_minus_one_for_negative_x():
    assert evaluate(sqrt(x) * sqrt(1 / x), {x: -2.5}) == -1
    wrong(compare(sqrt(x) * sqrt(1 / x), sp.Integer(1) + 0 * x, kind="expression", var=x))


def test_logs_of_reciprocal_ratios_do_not_cancel_for_opposite_signs():
    v = compare(log(a / b) + log(b / a), sp.Integer(0), kind="expression")
    wrong(v)


def test_float_and_precise_tiers_agree_on_the_principal_branch():
    expr = sqrt(a / b) * sqrt(b / a)
    for pa, pb in ((2.0, -3.0), (-0.7, 1.9), (-1.5, -2.5)):
        fast = evaluate(expr, {a: pa, b: pb})
        assert fast is not None
        assert abs(fast - (1 if pa * pb > 0 else -1)) < 1e-12


def test_absolute_value_form_is_accepted():
    right(compare(sqrt(a**2 / b**2), sp.Abs(a) / sp.Abs(b), kind="expression"))


# --------------------------------------------------------------------------- 4. decimal grids

def test_a_perturbation_that_vanishes_on_a_grid_is_caught():
    wrong(compare(x**2 + sp.sin(2 * 10**6 * sp.pi * x) / 10**4, x**2, kind="expression"))


def test_a_cosine_comb_is_caught():
    wrong(compare(x**3 + sp.cos(2000 * sp.pi * x) - 1, x**3, kind="expression"))


def test_a_comb_in_two_variables_is_caught():
    wrong(compare(x * y + sp.sin(10**5 * sp.pi * x) * sp.sin(10**5 * sp.pi * y) / 100, x * y,
                  kind="expression"))


def test_sample_points_have_full_precision_mantissas():
    p = sp.Symbol("p", positive=True)
    pts = sample_points([x, p], 40, seed=11) + narrow_points([x, p], 40, seed=12)
    values = [v for pt in pts for v in pt.values()]
    assert all(float(f"{v:.8g}") != v for v in values)  # none is a short decimal
    assert all(v != int(v) for v in values)
    assert all(pt[p] > 0 for pt in pts)
    assert sample_points([x, p], 40, seed=11) == sample_points([x, p], 40, seed=11)


def test_counterexample_shows_a_short_point_and_keeps_the_exact_one():
    v = compare(x**2 + 1, x**2, kind="expression")
    wrong(v)
    exact = v.details["counterexample"]["point"]["x"]
    assert float(f"{exact:.8g}") != exact
    assert f"x = {float(f'{exact:.4g}'):.4g}" in v.message
    assert math.isfinite(exact)


def test_an_exact_slip_too_small_to_show_is_named():
    # pi*x against an exact decimal approximation: within the tolerance at every point, yet exactly different
    v = compare(sp.Rational(314159, 100000) * x, sp.pi * x, kind="expression")
    wrong(v)
    assert v.method == "exact" and v.misconception == "exact_slip"
    assert "not exactly" in v.message
    # the same approximation typed as a float is judged with the tolerance
    right(compare(3.14159265 * x, sp.pi * x, kind="expression"))
