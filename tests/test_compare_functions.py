"""compare() on Python functions: called on grader-chosen inputs, with clear verdicts."""

from __future__ import annotations

import time

import numpy as np
import sympy as sp

from grader import compare


def ref_square(v):
    return v**2


def test_equal_function_on_scalars_and_arrays():
    v = compare(lambda v: v * v, ref_square)
    assert v.correct and v.method == "numeric" and v.details["inputs"] >= 5


def test_wrong_function_reports_input_and_values():
    v = compare(lambda v: v**3, ref_square)
    assert not v.correct
    assert v.message.startswith("On input 0.5 your function returns 0.125 but the correct result is 0.25")


def test_factor_diagnosis_for_functions():
    v = compare(lambda v: 2 * v**2, ref_square)
    assert v.misconception == "constant_factor" and "factor of 2" in v.message


def test_exceptions_none_nan_types():
    v = compare(lambda v: 1 / 0, ref_square)
    assert v.misconception == "exception" and "ZeroDivisionError" in v.message
    v = compare(lambda v: None, ref_square)
    assert v.misconception == "returned_none" and "return" in v.message
    v = compare(lambda v: v * np.nan, ref_square)
    assert not v.correct and "NaN" in v.message
    v = compare(lambda v: "four", ref_square)
    assert not v.correct and "not a number" in v.message
    v = compare(lambda v: np.ones(3), ref_square)
    assert not v.correct and "shape" in v.message
    v = compare(5, ref_square)
    assert v.method == "invalid" and "Python function" in v.message
    assert "not answered yet" in compare(..., ref_square).message.lower()


def test_infinite_loop_is_stopped():
    def forever(v):
        while True:
            pass

    t = time.perf_counter()
    v = compare(forever, ref_square, timeout=0.5)
    assert time.perf_counter() - t < 10  # 0.5 s plus ample slack for a busy machine (endless otherwise)
    assert not v.correct and v.method == "timeout" and "infinite loop" in v.message


def test_sleeping_function_is_abandoned():
    v = compare(lambda v: time.sleep(5), ref_square, timeout=0.3)
    assert v.method == "timeout"


def test_mutating_inputs_does_not_affect_reference():
    def mutate(a):
        a = np.asarray(a)
        if a.ndim:
            a[...] = 0
        return np.asarray(a) ** 2 if not a.ndim else a**2

    def ref(a):
        return np.asarray(a) ** 2

    v = compare(mutate, ref)
    assert not v.correct


def test_given_inputs_with_lambda():
    def central(f, v, h=1e-5):
        return (f(v + h) - f(v - h)) / (2 * h)

    def forward(f, v, h=1e-5):
        return (f(v + h) - f(v)) / h

    x = sp.Symbol("x")
    inputs = [(sp.Lambda(x, sp.sin(x)), 0.7), (sp.Lambda(x, sp.exp(x)), 1.2)]
    assert compare(central, central, inputs=inputs).correct
    v = compare(forward, central, inputs=inputs, rtol=1e-8)
    assert not v.correct and "sin(x)" in v.message


def test_named_mistake_function():
    v = compare(lambda w, g, lr: w + lr * g, lambda w, g, lr: w - lr * g,
                mistakes={"plus": (lambda w, g, lr: w + lr * g, "Step against the gradient: w - lr*g.")})
    assert v.misconception == "plus" and v.message.startswith("Step against")
