"""Reading answers: the safe parser and value normalisation (grader.core.answers)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from grader.core.answers import (
    InvalidAnswer,
    boolean_as_number,
    booleans_as_numbers,
    canonical_symbols,
    parse_expression,
    to_array,
    to_expression,
)

x, y = sp.symbols("x y", real=True)
SYMS = {"x": x, "y": y}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x^2", x**2),
        ("x**2 + 2*x*y", x**2 + 2 * x * y),
        ("ln(x) + log(y)", sp.log(x) + sp.log(y)),
        ("log(x, 2)", sp.log(x, 2)),
        ("sp.sqrt(x) + np.exp(y) + math.sin(x)", sp.sqrt(x) + sp.exp(y) + sp.sin(x)),
        ("e^x", sp.exp(x)),
        ("pi*x", sp.pi * x),
        ("abs(x)", sp.Abs(x)),
        ("arctan(x) + atan2(y, x)", sp.atan(x) + sp.atan2(y, x)),
        ("Rational(1, 3)*x", x / 3),
        ("1/3*x", x / 3),
        ("2.5*x", 2.5 * x),
        ("-x + +y", -x + y),
        ("x \u2212 y", x - y),
        ("sp.pi", sp.pi),
    ],
)
def test_parse_whitelisted_math(text, expected):
    assert parse_expression(text, SYMS) == expected


@pytest.mark.parametrize(
    "text, reason, words",
    [
        ("__import__('os').system('echo hi')", "forbidden", "plain mathematics"),
        ("x.__class__", "forbidden", "plain mathematics"),
        ("os.system('ls')", "forbidden", "plain mathematics"),
        ("(x+1)(x-1)", "syntax", "(x+1)*(x-1)"),
        ("2(x+1)", "syntax", "2*(x+1)"),
        ("open('/etc/passwd')", "forbidden", "'open' is not allowed"),
        ("eval('1')", "forbidden", "not allowed"),
        ("lambda: x", "forbidden", "plain mathematics"),
        ("[x for x in y]", "forbidden", "plain mathematics"),
        ("x if y else 1", "forbidden", "plain mathematics"),
        ("'text'", "wrong_type", "quotes"),
        ("2x", "syntax", "2*x"),
        ("x y", "syntax", "x*y"),
        ("sin x", "syntax", "parentheses"),
        ("(x+1", "syntax", "parentheses"),
        ("x(x+1)", "syntax", "x*(x+1)"),
        ("sin", "syntax", "argument"),
        ("sin(x, y, keyword=1)", "syntax", "plain arguments"),
        ("t + 1", "stray_symbol", "symbol t"),
        ("Derivative(x**2, x)", "unevaluated", "evaluate it first"),
        ("integrate(x, x)", "unevaluated", "integral"),
        ("x == 2", "relational", "equation"),
        ("oo", "infinite", "infinite"),
        ("nan", "nan", "NaN"),
        ("2 + 3j", "complex", "imaginary"),
        ("I*x", "complex", "imaginary"),
        ("x/0", "undefined", "divides by zero"),
        ("[x, y]", "wrong_type", "single expression"),
        ("9" * 5000, "too_large", "characters"),
        ("2**2**2**2**2**2", "too_large", "too large"),
        ("-" * 2000 + "x", "too_large", ""),
        ("   ", "unanswered", "empty"),
        ("...", "unanswered", "not answered yet"),
    ],
)
def test_parse_rejections(text, reason, words):
    with pytest.raises(InvalidAnswer) as info:
        parse_expression(text, SYMS)
    assert info.value.reason == reason, info.value.message
    assert words.lower() in info.value.message.lower()


def test_parse_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    for text in (f"__import__('pathlib').Path('{marker}').touch()", f"open('{marker}', 'w')"):
        with pytest.raises(InvalidAnswer):
            parse_expression(text, SYMS)
    assert not marker.exists()


def test_canonical_symbols_make_plain_symbols_real_and_keep_assumptions():
    canon = canonical_symbols({sp.Symbol("x"), sp.Symbol("n", positive=True, integer=True)})
    assert canon["x"].is_real
    assert canon["n"].is_positive and canon["n"].is_integer


def test_to_expression_maps_symbols_by_name():
    e = to_expression(sp.Symbol("x") ** 2, SYMS)
    assert e == x**2 and e.free_symbols == {x}


def test_to_expression_numbers():
    assert to_expression(Fraction(1, 3), {}) == sp.Rational(1, 3)
    assert to_expression(np.float32(0.5), {}) == sp.Float(0.5)
    assert to_expression(np.array(3), {}) == 3
    assert float(to_expression(3 + 0j, {})) == 3.0
    with pytest.raises(InvalidAnswer, match="complex"):
        to_expression(sp.sqrt(-2), {})


def test_integration_constants_are_allowed_only_when_asked():
    assert to_expression(x + sp.Symbol("C"), SYMS, constants=["C"]).free_symbols == {x, sp.Symbol("C", real=True)}
    with pytest.raises(InvalidAnswer, match="symbol C"):
        to_expression(x + sp.Symbol("C"), SYMS)


def test_to_array_shapes():
    assert to_array([[1, 2], [3, 4]], {})[0] == (2, 2)
    assert to_array(sp.Matrix([1, 2, 3]), {})[0] == (3, 1)
    assert to_array(np.ones((2, 3)), {})[0] == (2, 3)
    assert to_array(sp.Array([[1, 2]]), {})[0] == (1, 2)
    assert to_array("[[x, 1], [2, y]]", SYMS) == ((2, 2), [x, 1, 2, y])
    assert to_array(5, {}) == ((), [5])
    with pytest.raises(InvalidAnswer, match="ragged"):
        to_array([[1], [2, 3]], {})
    with pytest.raises(InvalidAnswer, match="empty"):
        to_array([[]], {})


def test_true_false_become_one_zero_only_when_asked():
    assert boolean_as_number(True) == (1, True) and boolean_as_number(np.False_) == (0, True)
    assert boolean_as_number(np.array(True)) == (1, True)
    assert boolean_as_number(2.5) == (2.5, False) and boolean_as_number("True") == ("True", False)
    shape, raw = to_array(np.array([0.5, 2.0]) > 1, SYMS)
    entries, converted = booleans_as_numbers(raw)
    assert shape == (2,) and entries == [0, 1] and converted
    assert all(type(e) is int for e in entries)
    assert booleans_as_numbers([1, 2.5, x]) == ([1, 2.5, x], False)
    with pytest.raises(InvalidAnswer, match="True/False value"):
        to_expression(True, SYMS)  # the reader itself still refuses: only number/array questions convert
