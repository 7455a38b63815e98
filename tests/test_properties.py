"""Properties that must hold for every input, searched with hypothesis rather than listed by hand.

* the wire form round-trips (``grader.key.wire``): what ``check()`` hands over decodes to the same value;
* equal answers give equal fingerprints (``answerprint.answer_fingerprint``): the answer log and the report
  group an answer with its other spellings (expanded, factored, reordered);
* parsing typed text never raises anything but ``InvalidAnswer`` (``grader.core.parsing``): a student's
  string becomes an expression or a clear message, never a traceback.

Example counts stay modest and the search is derandomised (the same examples on every run): the suite
must stay quick on two cores, and a failure must be reproducible.
"""

from __future__ import annotations

import json
import math

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.core.parsing import InvalidAnswer, parse_expression, parse_text
from grader.course.grading.answerprint import answer_fingerprint
from grader.key.entries import make_question_record
from grader.key.wire import from_wire, to_wire

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", positive=True)
z = sp.Symbol("z")

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- strategies ------------------------------------------------------------------------------------------------
_atoms = st.one_of(
    st.sampled_from([x, y, z, sp.pi, sp.E, sp.Integer(2), sp.Rational(1, 3)]),
    st.integers(-50, 50).map(sp.Integer),
    st.tuples(st.integers(-9, 9), st.integers(1, 9)).map(lambda t: sp.Rational(*t)),
)


def _grow(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.tuples(children, children).map(lambda t: sp.Add(*t)),
        st.tuples(children, children).map(lambda t: sp.Mul(*t)),
        st.tuples(children, st.integers(-3, 4)).map(lambda t: sp.Pow(t[0], t[1])),
        st.tuples(st.sampled_from([sp.sin, sp.cos, sp.exp, sp.atan, sp.Abs]), children).map(lambda t: t[0](t[1])),
    )


expressions = st.recursive(_atoms, _grow, max_leaves=8)

_floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
plain_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), _floats, st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner)),
    max_leaves=10,
)
arrays = st.one_of(
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=6).map(np.array),
    st.lists(st.integers(-1000, 1000), min_size=1, max_size=6).map(lambda v: np.array(v).reshape(-1, 1)),
)


def _same(a: object, b: object) -> bool:
    """Equal values, NaN equal to NaN, a tuple equal only to a tuple."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b))
    return type(a) is type(b) and a == b


def _through_json(value: object) -> object:
    return from_wire(json.loads(json.dumps(to_wire(value), allow_nan=False)))


# --- the wire round trip ---------------------------------------------------------------------------------------
@PROPERTY
@given(expressions)
def test_a_sympy_answer_round_trips_exactly(expr):
    assert sp.srepr(_through_json(expr)) == sp.srepr(expr)


@PROPERTY
@given(plain_values)
def test_a_plain_value_round_trips(value):
    assert _same(_through_json(value), value)


@PROPERTY
@given(arrays)
def test_an_array_round_trips_with_its_shape_and_kind(array):
    back = _through_json(array)
    assert isinstance(back, np.ndarray) and back.shape == array.shape and back.dtype.kind == array.dtype.kind
    assert np.array_equal(back, array)


# --- equal answers, equal fingerprints ------------------------------------------------------------------------
def _record(reference: sp.Expr) -> dict:
    return make_question_record("q", reference, kind=None, var=x, rtol=1e-6, atol=1e-9, mistakes=None,
                                inputs=None, domain=None, plot=None, call=None)


_ENTRY = _record(x**2 * sp.cos(x))
polynomials = st.lists(st.integers(-6, 6), min_size=1, max_size=5).map(
    lambda cs: sum((c * x**k for k, c in enumerate(cs)), sp.Integer(0)))


@PROPERTY
@given(polynomials, polynomials)
def test_spellings_of_one_answer_share_its_fingerprint(p, q):
    answer = p * q + sp.sin(x) * p
    spellings = [answer, sp.expand(answer), sp.factor(answer), p * (q + sp.sin(x)), sp.expand(p * q) + p * sp.sin(x)]
    prints = {answer_fingerprint(to_wire(s), _ENTRY) for s in spellings}
    assert len(prints) == 1, spellings


@PROPERTY
@given(polynomials, st.integers(1, 5))
def test_a_different_answer_gets_another_fingerprint(p, shift):
    assert answer_fingerprint(to_wire(p), _ENTRY) != answer_fingerprint(to_wire(p + shift * x**7), _ENTRY)


# --- parsing raises InvalidAnswer or nothing -----------------------------------------------------------------------
_TOKENS = ["x", "y", "2", "0", "1.5", "1e308", "9**9**9", "+", "-", "*", "/", "**", "^", "(", ")", "[", "]", ",",
           "sin", "cos", "exp", "log", "ln", "sqrt", "pi", "e", "E", "oo", "I", "np.", "sp.", "math.", " ", "=", "<",
           ">", "==", "!", "lambda", "import", "__class__", ".", "'", '"', "True", "None", "...", "{", "}", ":",
           "\u2212", "\u00d7", "x_1", "f(x)", "0x1F", "1j", "#", "\\", "\n"]
typed = st.one_of(st.text(max_size=40), st.lists(st.sampled_from(_TOKENS), max_size=14).map("".join))
SYMBOLS = {"x": x, "y": y}


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(typed)
def test_parsing_raises_only_invalid_answer(text):
    for parse in (lambda t: parse_expression(t, SYMBOLS), lambda t: parse_text(t, SYMBOLS)):
        try:
            value = parse(text)
        except InvalidAnswer as exc:
            assert str(exc).strip()  # a message the student can read
        else:
            assert value is not None
