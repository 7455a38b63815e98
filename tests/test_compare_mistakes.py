"""Diagnoses (grader.core.mistakes) and the Verdict record."""

from __future__ import annotations

import json

import sympy as sp

from grader import compare
from grader.core.mistakes import constant_offset, constant_ratio, describe_factor, diagnose_values
from grader.core.verdict import Verdict

x = sp.Symbol("x")


def test_constant_ratio_and_offset():
    e = [1.0, -2.0, 3.5, 10.0]
    assert constant_ratio([2 * v for v in e], e) == 2.0
    assert constant_ratio([v + 1 for v in e], e) is None
    assert constant_offset([v + 1 for v in e], e) == 1.0
    assert constant_offset([2 * v for v in e], e) is None
    assert constant_ratio(e, e) is None and constant_offset(e, e) is None
    assert constant_ratio([complex(2 * v) for v in e], [complex(v) for v in e]) == 2.0


def test_factor_sentences():
    assert describe_factor(-1.0)[0] == "opposite_sign"
    assert describe_factor(2.0) == ("constant_factor", "Your answer is off by a factor of 2 (it is 2 times the correct answer).")
    assert "1/3" in describe_factor(1 / 3)[1]
    ident, text = describe_factor(-0.5)
    assert ident == "constant_factor" and "sign is wrong" in text and "1/2" in text
    ident, text = describe_factor(1.001)
    assert ident == "close" and "0.1 %" in text and "too large" in text


def test_diagnose_values_prefers_factor_over_offset():
    e = [1.0, 2.0, 3.0]
    assert diagnose_values([3.0, 6.0, 9.0], e)[0] == "constant_factor"
    assert diagnose_values([1.5, 2.5, 3.5], e)[0] == "added_constant"
    assert diagnose_values([1.5, 2.5, 3.5], e, offsets=False) is None
    assert diagnose_values([1.0, 5.0, 2.0], e) is None


def test_named_mistakes_take_precedence_over_generic_ones():
    v = compare(2 * x**2, x**2, mistakes={"doubled": (2 * x**2, "You doubled it.")})
    assert v.misconception == "doubled" and v.message == "You doubled it."
    v = compare(2 * x**2, x**2)
    assert v.misconception == "constant_factor"


def test_named_mistake_in_order_of_the_dict():
    mistakes = {"first": (2 * x, "first"), "second": (2 * x, "second")}
    assert compare(2 * x, x**2, mistakes=mistakes).misconception == "first"


def test_number_mistakes():
    v = compare(45, 55, mistakes={"off_by_one": (45, "The sum starts at 1 and ends at 10.")})
    assert v.misconception == "off_by_one" and not v.correct


def test_verdict_record():
    v = Verdict.right("Correct.", "symbolic")
    assert v and v.score == 1.0 and v.to_dict()["details"] == {}
    w = Verdict(False, 7.0, "x", None, "numeric", {"point": {"x": float("nan")}, "vals": (1, 2)})
    assert w.score == 0.0  # out-of-range scores are clamped to the verdict
    d = w.to_dict()
    assert json.dumps(d) and d["details"]["vals"] == [1, 2] and d["details"]["point"]["x"] == "nan"


def test_antiderivative_constants_by_name():
    for name in ("C", "C_1", "c2", "K", "const"):
        v = compare(x**3 / 3 + sp.Symbol(name), x**3 / 3, kind="antiderivative")
        assert v.correct, (name, v.message)
    v = compare("x^3/3 + t", x**3 / 3, kind="antiderivative")
    assert not v.correct and v.message == "Your answer uses the symbol t, which this question does not use (it uses x)."
