"""The wire form round-trips every kind of answer, and refuses what it must not build."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

from grader.key.wire import WireError, from_wire, to_wire

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", positive=True)
z = sp.Symbol("z")
n = sp.Symbol("n", integer=True, positive=True)

SYMPY_VALUES = [
    sp.diff((x**2 + 1)**3, x), sp.sqrt(x), sp.log(sp.Abs(x)) + sp.Symbol("C"), sp.Rational(3, 7),
    sp.Integer(10)**40, sp.Float("0.1", 30), sp.pi * sp.E, sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi),
    1 / x, sp.Derivative(x**2, x), sp.Integral(x, (x, 0, 1)), sp.Piecewise((x, x > 0), (0, True)),
    sp.Lambda(x, x**2), sp.Eq(x, 1), sp.oo, -sp.oo, sp.zoo, sp.nan, sp.I * x, z * y, n * (n + 1) / 2,
    sp.Sum(x**n, (n, 1, 5)), sp.Function("f")(x), sp.Max(x, 0), sp.Heaviside(x), sp.atan2(y, x),
    sp.Add(x, x, evaluate=False), sp.tanh(x) ** 2,
]


def _roundtrip(value):
    return from_wire(json.loads(json.dumps(to_wire(value), allow_nan=False)))


@pytest.mark.parametrize("value", SYMPY_VALUES, ids=[sp.srepr(v)[:40] for v in SYMPY_VALUES])
def test_sympy_expressions_round_trip_exactly(value):
    back = _roundtrip(value)
    assert sp.srepr(back) == sp.srepr(value)


def test_symbol_assumptions_survive():
    back = _roundtrip(x + y + z + n)
    names = {s.name: s for s in back.free_symbols}
    assert names["x"].is_real and names["x"].is_positive is None
    assert names["y"].is_positive
    assert names["z"].is_real is None
    assert names["n"].is_integer and names["n"].is_positive


@pytest.mark.parametrize("value", [
    None, Ellipsis, 0, -7, 2**80, 1.5, -0.0, 1e-300, True, "x^2 + 1", 1 + 2j, (1, [2, 3.5]), {"a": 1},
    [[1, 2], [3, 4]],
])
def test_python_values_round_trip(value):
    back = _roundtrip(value)
    assert back == value and type(back) is type(value)


def test_non_finite_floats_round_trip():
    assert np.isnan(_roundtrip(float("nan")))
    assert _roundtrip(float("inf")) == float("inf")
    assert _roundtrip(float("-inf")) == float("-inf")


@pytest.mark.parametrize("value", [np.float64(1.25), np.float32(0.5), np.int64(3), np.int32(-2), np.complex128(1 + 1j)])
def test_numpy_scalars_keep_their_dtype(value):
    back = _roundtrip(value)
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value", [
    np.array([[1.0, 2.0], [3.0, np.nan]]), np.arange(6).reshape(2, 3, 1), np.array([True, False]),
    np.array([1 + 2j]), np.zeros((0, 3)), np.array(2.5),
])
def test_numpy_arrays_keep_shape_dtype_and_values(value):
    back = _roundtrip(value)
    assert back.shape == value.shape and back.dtype == value.dtype
    np.testing.assert_array_equal(back, value)


def test_object_arrays_and_matrices():
    arr = np.array([x, 2 * x, 3], dtype=object)
    back = _roundtrip(arr)
    assert back.dtype == object and list(back) == list(arr)
    for m in (sp.Matrix([[x, y], [1, 2]]), sp.ImmutableMatrix([x, y]), sp.Array([[x, 1], [2, 3]])):
        back = _roundtrip(m)
        assert back == m and type(back) is type(m)


def test_function_results_structure_passes_through():
    calls = {"$": "calls", "results": [{"ok": to_wire(np.array([1.0]))}, {"error": "it raised ValueError"}]}
    assert from_wire(json.loads(json.dumps(calls))) == calls


def test_unsupported_values_are_named_not_pickled():
    class Thing:
        pass

    w = to_wire(Thing())
    assert w == {"$": "unsupported", "type": "Thing"}
    assert repr(from_wire(w)) == "<Thing>"
    assert to_wire(len)["$"] == "callable"


@pytest.mark.parametrize("bad", [
    {"$": "sym", "tree": ["__import__", ["Symbol", "os", {}]]},
    {"$": "sym", "tree": ["eval", "pi"]},
    {"$": "sym", "tree": "os.system"},
    {"$": "ndarray", "dtype": "object; import os", "shape": [1], "data": [1]},
    {"$": "ndarray", "dtype": "float64", "shape": [3], "data": [1.0]},
    {"$": "pickle", "v": "gASV"},
    {"$": "sym", "tree": ["Integer"]},
    42.5j if False else {"$": "int", "v": "12a"},
])
def test_malformed_or_hostile_wire_data_is_refused(bad):
    with pytest.raises(WireError):
        from_wire(bad)


def test_deep_and_huge_values_are_refused_cleanly():
    deep: list = [1]
    for _ in range(600):
        deep = [deep]
    with pytest.raises(WireError):
        to_wire(deep)
    expr = x
    for _ in range(450):
        expr = sp.sin(expr, evaluate=False)
    with pytest.raises(WireError):
        to_wire(expr)
    with pytest.raises(WireError):
        to_wire(list(range(300_000)))


def test_numpy_booleans_round_trip_as_booleans():
    comparison = np.array([0.05, 0.4, 1.2]) > 1
    back = _roundtrip(comparison)
    assert back.dtype == bool and back.tolist() == [False, False, True]
    back = _roundtrip((np.array([[0.5], [2.0]]) > 1))
    assert back.shape == (2, 1) and back.dtype == bool
    assert _roundtrip([np.False_, np.True_]) == [False, True]
    assert _roundtrip(np.True_) is True
    back = _roundtrip(np.array([np.True_, 1, x], dtype=object))
    assert back.dtype == object and list(back) == [True, 1, x] and back[0] is True
