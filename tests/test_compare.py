"""compare(): expressions, numbers, antiderivatives, invalid input, determinism, time limits."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import sympy as sp

from grader import Verdict, compare

x, y = sp.symbols("x y")
xr = sp.Symbol("x", real=True)
xp = sp.Symbol("x", positive=True)
m = sp.Symbol("m", integer=True, positive=True)


def ok(v: Verdict) -> None:
    assert v.correct, v.message
    assert v.score == 1.0
    assert v.message == "Correct."


def bad(v: Verdict, *, method: str | None = None, contains: str = "", misconception: str | None = "any") -> None:
    assert not v.correct, v
    assert v.score == 0.0
    if method is not None:
        assert v.method == method, v
    if contains:
        assert contains.lower() in v.message.lower(), v.message
    if misconception != "any":
        assert v.misconception == misconception, v


# --- expressions ---------------------------------------------------------------------

def test_equal_expression_is_proven_symbolically():
    v = compare(6 * x * (x**2 + 1) ** 2, sp.diff((x**2 + 1) ** 3, x))
    ok(v)
    assert v.method == "symbolic"


def test_wrong_expression_gives_counterexample_with_point_and_values():
    v = compare(3 * (x**2 + 1) ** 2, sp.diff((x**2 + 1) ** 3, x))
    bad(v, method="numeric", contains="at x = ")
    assert "your answer is" in v.message and "the correct value is" in v.message
    ce = v.details["counterexample"]
    assert set(ce) == {"point", "answer", "expected", "reason"}
    xv = ce["point"]["x"]
    assert ce["answer"] == pytest.approx(3 * (xv**2 + 1) ** 2, rel=1e-9)
    assert ce["expected"] == pytest.approx(6 * xv * (xv**2 + 1) ** 2, rel=1e-9)


def test_symbols_without_assumptions_are_real():
    ok(compare(sp.sqrt(x**2), sp.Abs(x)))
    ok(compare(sp.Abs(x) ** 2, x**2))
    ok(compare(sp.re(x), x))


def test_positive_symbol_sampled_positive():
    ok(compare(sp.sqrt(xp**2), xp))
    # with x real, sqrt(x**2) is not x
    bad(compare(sp.sqrt(x**2), x), contains="at x = -")


def test_student_symbol_matched_by_name_to_reference_symbol():
    ok(compare(sp.Symbol("x") ** 2, xr**2))
    ok(compare(sp.sqrt(sp.Symbol("x") ** 2), xp))


def test_agrees_at_every_integer_is_rejected():
    bad(compare(sp.sin(sp.pi * x), sp.Integer(0) * x, kind="expression", var=x), method="numeric")
    bad(compare(x + sp.sin(sp.pi * x) / 1000, x))


def test_tenth_of_a_percent_off_is_rejected():
    v = compare(1.001 * x**2, x**2)
    bad(v, method="numeric")
    v2 = compare(x**2 * (1 + 1e-8), x**2)
    ok(v2)


def test_huge_powers_compare_correctly_and_fast():
    t = time.perf_counter()
    ok(compare((x - 3) ** 6000, (x - 3) ** 6000 * 1))
    ok(compare((x + 1) ** 100000, (x + 1) ** 99999 * (x + 1)))
    bad(compare((x + 1) ** 100000, (x + 1) ** 100001), method="numeric")
    bad(compare(x ** (10**10) * 1.001, x ** (10**10)))
    ok(compare(x ** (10**10), x ** (10**10)))
    assert time.perf_counter() - t < 30  # guards keep these from running for minutes; slack for a busy machine


def test_trig_and_log_identities():
    ok(compare(sp.sin(x) ** 2 + sp.cos(x) ** 2, sp.Integer(1), kind="expression"))
    ok(compare(2 * sp.sin(x) * sp.cos(x), sp.sin(2 * x)))
    ok(compare(sp.log(xp**2), 2 * sp.log(xp)))
    ok(compare(sp.exp(2 * sp.log(x)), x**2))  # defined only where x > 0 ... and x**2 everywhere
    ok(compare(1 - sp.tanh(x) ** 2, 1 / sp.cosh(x) ** 2))


def test_answer_undefined_where_reference_is_defined_differs():
    v = compare(2 * sp.log(x), sp.log(x**2))
    bad(v, contains="not a real number")
    assert v.details["counterexample"]["reason"] == "complex"
    v2 = compare(x**2 / x, x, kind="expression")  # x**2/x is just x in SymPy
    ok(v2)


def test_reference_domain_only_is_sampled():
    ok(compare(sp.log(sp.Abs(x)), sp.log(x)))  # log x is undefined (not real) for x < 0
    ok(compare(sp.sqrt(1 - x**2), sp.sqrt((1 - x) * (1 + x))))


def test_string_answers():
    ok(compare("2*x*exp(x^2)", 2 * x * sp.exp(x**2)))
    ok(compare("sp.cos(x) * x**2 + 2*x*sin(x)", sp.diff(x**2 * sp.sin(x), x)))
    ok(compare("ln(x)", sp.log(x)))
    bad(compare("2x", 2 * x), method="invalid", contains="2*x")
    bad(compare("(x+1)(x-1)", x**2 - 1), method="invalid", contains="*")
    bad(compare("sin x", sp.sin(x)), method="invalid", contains="parentheses")


def test_string_answers_execute_nothing(tmp_path):
    target = tmp_path / "pwned"
    for text in [
        f"__import__('os').system('touch {target}')",
        "().__class__.__bases__[0].__subclasses__()",
        "exec('1')",
        "x.__class__",
        "lambda: 1",
        "[c for c in ()]",
    ]:
        v = compare(text, x)
        bad(v, method="invalid")
        assert v.details["reason"] in {"forbidden", "syntax", "stray_symbol"}, (text, v)
    assert not target.exists()


def test_string_with_unknown_name_is_named():
    v = compare("2*t", 2 * x)
    bad(v, method="invalid", contains="t")
    assert "uses x" in v.message


# --- invalid answers --------------------------------------------------------------------

@pytest.mark.parametrize(
    "answer, reason, words",
    [
        (None, "unanswered", "None"),
        (..., "unanswered", "not answered yet"),
        ("...", "unanswered", "not answered yet"),
        (float("nan"), "nan", "NaN"),
        (sp.nan, "nan", "NaN"),
        (float("inf"), "infinite", "infinite"),
        (sp.oo, "infinite", "infinite"),
        (-sp.oo, "infinite", "infinite"),
        (sp.zoo, "infinite", "zoo"),
        (sp.Eq(y, 2 * x), "relational", "equation"),
        (2 * x > 1, "relational", "equation or inequality"),
        (sp.Derivative(x**2, x), "unevaluated", "evaluate it first"),
        (sp.Integral(x, x), "unevaluated", "integral"),
        (sp.Sum(x, (x, 1, 3)), "unevaluated", "sum"),
        (sp.Limit(x, x, 0), "unevaluated", "limit"),
        (1 + 2j, "complex", "complex"),
        (2 * x + sp.I, None, None),
        (True, "wrong_type", "True/False"),
        ([2 * x, 1], "wrong_shape", "list of 2 entries"),
        (np.array([1.0, 2.0]), "wrong_shape", "shape (2,)"),
        (sp.Matrix([2 * x, 1]), "wrong_shape", "matrix"),  # a 1 x 1 Matrix is read as its entry (shapes.single_entry)
        (lambda t: 2 * t, "wrong_type", "function"),
        (object(), "wrong_type", "cannot be read"),
        (2 * sp.Symbol("t"), "stray_symbol", "symbol t"),
        (sp.Function("f")(x), "stray_symbol", "undefined function f"),
        ("", "unanswered", "empty"),
        ("x ==", "syntax", ""),
        ("x" * 5000, "too_large", "characters"),
        ("(" * 300 + "x" + ")" * 300, None, None),
        ("10**10**10", "too_large", "too large"),
        ("factorial(10**6)", "too_large", "too large"),
    ],
)
def test_invalid_answers_have_their_own_message(answer, reason, words):
    v = compare(answer, 2 * x)
    assert not v.correct and v.score == 0.0
    if reason is None:  # complex-valued or unreadable: any clear refusal or a wrong verdict
        assert v.method in {"invalid", "numeric", "timeout"}
        return
    assert v.method == "invalid", v
    assert v.details["reason"] == reason, v
    assert words in v.message


def test_stray_constant_in_a_derivative_is_named():
    v = compare(2 * x + sp.Symbol("C"), 2 * x)
    bad(v, method="invalid", contains="symbol C")


def test_numpy_scalars_and_zero_d_arrays_are_numbers():
    ok(compare(np.float64(2.5), sp.Rational(5, 2)))
    ok(compare(np.array(2.5), 2.5))
    ok(compare(np.int64(55), 55))


# --- numbers --------------------------------------------------------------------------

def test_exact_numbers_compared_exactly():
    v = compare(sp.Rational(8, 3), sp.Rational(8, 3))
    ok(v)
    assert v.method == "exact"
    ok(compare(2 * sp.sqrt(2), sp.sqrt(8)))
    v = compare(sp.Rational(355, 113), sp.pi)  # 8.5e-8 relative: inside the default tolerance
    assert v.correct and v.method == "numeric"
    bad(compare(sp.Rational(22, 7), sp.pi), contains="close but not within")
    ok(compare(sp.exp(1), sp.E))


def test_float_vs_rational_uses_tolerance():
    v = compare(2.6666667, sp.Rational(8, 3))
    ok(v)
    assert v.method == "numeric"
    bad(compare(2.67, sp.Rational(8, 3)), method="numeric", contains="not correct")
    bad(compare(8 / 3 * 1.001, sp.Rational(8, 3)), contains="close but not within")


def test_number_tolerances_are_respected():
    ok(compare(1.0 + 1e-10, 1.0))
    ok(compare(1e-10, 0.0))
    bad(compare(1e-7, 0.0))
    ok(compare(101, 100, rtol=0.02))


def test_number_answer_does_not_give_the_value_away():
    v = compare(50, 55)
    bad(v)
    assert "55" not in v.message


def test_number_diagnoses():
    bad(compare(-55, 55), misconception="opposite_sign", contains="opposite sign")
    bad(compare(110, 55), misconception="constant_factor", contains="factor of 2")
    v = compare(sp.Rational(8, 1), sp.Rational(8, 3))
    bad(v, misconception="constant_factor", contains="factor of 3")


def test_a_zero_answer_is_not_off_by_a_factor_of_zero():
    v = compare(0, 55)
    bad(v, misconception=None, contains="not correct")
    assert "factor" not in v.message


def test_true_false_for_a_number_is_read_as_one_zero_with_a_note():
    for answer in (True, np.True_, np.array(True)):
        v = compare(answer, 1)
        assert v.correct and v.score == 1.0 and v.message.startswith("Correct.")
        assert "True/False were read as 1/0" in v.message and v.details["notes"] == ["True/False were read as 1/0."]
    v = compare(False, 1)
    bad(v, contains="True/False were read as 1/0")
    assert v.details["notes"] == ["True/False were read as 1/0."] and "factor" not in v.message
    assert compare(False, 0).correct
    ok(compare(1, np.True_))  # a reference written as a comparison


def test_number_with_symbols_left_over():
    bad(compare(2 * x, 6), method="invalid", contains="still contains x")
    bad(compare("2*m", 6), method="invalid", contains="still contains m")


# --- antiderivatives ----------------------------------------------------------------------

def test_antiderivative_up_to_a_constant():
    for ans in (x**3 / 3, x**3 / 3 + 5, x**3 / 3 + sp.Symbol("C"), "x^3/3 + C", x**3 / 3 + sp.Symbol("k")):
        ok(compare(ans, x**3 / 3, kind="antiderivative"))


def test_antiderivative_log_abs():
    ok(compare(sp.log(x), sp.log(sp.Abs(x)), kind="antiderivative"))
    ok(compare(sp.log(sp.Abs(x)), sp.log(x), kind="antiderivative"))
    ok(compare("ln(abs(x)) + C", sp.log(x), kind="antiderivative"))


def test_antiderivative_differentiated_instead():
    v = compare(2 * x, x**3 / 3, kind="antiderivative")
    bad(v, misconception="differentiated_instead", contains="differentiated instead of integrating")


def test_antiderivative_integrand_given_and_factor():
    bad(compare(x**2, x**3 / 3, kind="antiderivative"), misconception="integrand_given")
    bad(compare(x**3, x**3 / 3, kind="antiderivative"), misconception="constant_factor", contains="factor of 3")


def test_antiderivative_constant_must_be_added():
    v = compare(sp.Symbol("C") * x**3 / 3, x**3 / 3, kind="antiderivative")
    bad(v, misconception="constant_misplaced", contains="added")


def test_antiderivative_needs_var_with_several_symbols():
    with pytest.raises(ValueError):
        compare(x * y, x * y, kind="antiderivative")
    ok(compare(x**2 * y / 2 + 7, x**2 * y / 2, kind="antiderivative", var=x))


# --- expression diagnoses -----------------------------------------------------------------

def test_generic_expression_diagnoses():
    e = 3 * x**2 + 4 * x + 5
    bad(compare(2 * e, e), misconception="constant_factor", contains="factor of 2")
    bad(compare(e / 2, e), misconception="constant_factor", contains="factor of 1/2")
    bad(compare(-e, e), misconception="opposite_sign")
    bad(compare(e + 7, e), misconception="added_constant", contains="constant (7")
    bad(compare(x**3 + 2 * x**2 + 5 * x + 7, e), misconception="antiderivative_instead")


def test_named_mistake_wins():
    expected = sp.diff((x**2 + 1) ** 3, x)
    mistakes = {"forgot_inner_derivative": (3 * (x**2 + 1) ** 2, "Did you forget the inner derivative?")}
    v = compare(3 * (x**2 + 1) ** 2, expected, mistakes=mistakes)
    bad(v, misconception="forgot_inner_derivative")
    assert v.message == "Did you forget the inner derivative?"
    v = compare("3*(x^2+1)^2", expected, mistakes=mistakes)
    assert v.misconception == "forgot_inner_derivative"
    ok(compare(expected, expected, mistakes=mistakes))


def test_bad_mistake_definition_is_an_authoring_error():
    with pytest.raises(ValueError):
        compare(x, x, mistakes={"oops": x})


# --- verdict, determinism, limits --------------------------------------------------------------

def test_verdict_to_dict_is_json_and_stable():
    v = compare(3 * (x**2 + 1) ** 2, sp.diff((x**2 + 1) ** 3, x))
    d = v.to_dict()
    assert list(d) == ["correct", "score", "message", "misconception", "method", "details"]
    assert json.loads(json.dumps(d)) == d
    assert Verdict.from_dict(d).to_dict() == d


def test_deterministic_messages():
    a, e = sp.sin(x) * 1.01, sp.sin(x)
    runs = {compare(a, e).to_dict().__repr__() for _ in range(3)}
    assert len(runs) == 1


def test_works_in_a_worker_thread():
    out: list[Verdict] = []
    t = threading.Thread(target=lambda: out.append(compare(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1 + 0 * x, kind="expression")))
    t.start()
    t.join(10)
    assert out and out[0].correct


def test_pathological_inputs_end_within_the_timeout():
    nested = x
    for _ in range(60):
        nested = sp.sin(nested + 1)
    cases = [
        (nested, nested + 1e-3),
        (sp.expand((x + 1) ** 40) * sp.sin(x) ** 2 + sp.expand((x + 1) ** 40) * sp.cos(x) ** 2, sp.expand((x + 1) ** 40)),
        (sp.exp(sp.exp(sp.exp(x))), x),
        (sp.sin(x ** (10**10)), sp.sin(x ** (10**10))),
        (sp.Integer(10) ** 5000 * x, x),
        ("+" * 1500 + "x", x),
    ]
    for a, e in cases:
        t = time.perf_counter()
        v = compare(a, e, timeout=0.5)
        assert time.perf_counter() - t < 0.5 + 10, (a, v)  # within its budget, plus slack for a busy machine
        assert isinstance(v.message, str) and v.message
