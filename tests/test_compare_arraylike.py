"""Answers from ML libraries: any array-like (``__array__``; a tensor that requires grad, read through
``.detach()``) is read like the NumPy array it converts to, in compare, the wire form and the public
key, without importing torch or JAX. A small array-like class stands in for them; the last test uses
real PyTorch where it is installed."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import sympy as sp

from grader import compare
from grader.core.answers import InvalidAnswer, array_like
from grader.key.entries import make_question_record
from grader.key.grading import grade
from grader.key.publicbuild import build_public_entry
from grader.key.publicgrade import grade_public
from grader.key.wire import from_wire, to_wire
from grader.notebook.check import _call_student

x = sp.Symbol("x", real=True)


class GradTensor:
    """Like a PyTorch tensor: ``__array__`` refuses while it requires grad; ``.detach()`` frees it."""

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        self.data = np.asarray(data, dtype=float)
        self.requires_grad = requires_grad
        self.detached = 0

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy().")
        return self.data if dtype is None else self.data.astype(dtype)

    def detach(self) -> "GradTensor":
        self.detached += 1
        return GradTensor(self.data, requires_grad=False)


class PlainArrayLike:
    """Like a JAX array: only ``__array__``, no detach."""

    def __init__(self, data: Any) -> None:
        self.data = np.asarray(data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)


class Broken:
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise ValueError("device memory was freed")


# --------------------------------------------------------------------------- compare

def test_a_gradient_tensor_is_read_as_a_vector():
    t = GradTensor([0.5, -2.0, 3.0])
    v = compare(t, [sp.Rational(1, 2), -2, 3])
    assert v.correct, v.message
    assert t.detached == 1


def test_a_wrong_entry_of_a_tensor_is_named():
    v = compare(GradTensor([[1.0, 2.0], [3.0, 5.0]]), sp.Matrix([[1, 2], [3, 4]]))
    assert not v.correct
    assert v.details["wrong_entries"] == [[1, 1]]


def test_a_zero_dimensional_tensor_is_a_number():
    assert compare(GradTensor(0.25), sp.Rational(1, 4)).correct
    assert not compare(GradTensor(0.3), sp.Rational(1, 4)).correct


def test_a_vector_tensor_for_a_number_is_refused_with_its_shape():
    v = compare(PlainArrayLike([1.0, 2.0]), 3.0)
    assert not v.correct
    assert "shape (2,)" in v.message and v.method == "invalid"


def test_a_list_of_scalar_tensors_is_a_vector():
    assert compare([GradTensor(1.0), GradTensor(-4.0)], np.array([1.0, -4.0])).correct


def test_a_list_of_row_tensors_is_a_matrix():
    rows = [PlainArrayLike([1.0, 0.0]), PlainArrayLike([0.0, 1.0])]
    assert compare(rows, sp.eye(2)).correct


def test_a_reference_tensor_is_read_too():
    assert compare(np.array([2.0, 4.0]), GradTensor([2.0, 4.0])).correct


def test_a_function_returning_a_tensor():
    v = compare(lambda a: GradTensor(np.asarray(a, dtype=float) ** 2), lambda a: np.asarray(a, dtype=float) ** 2)
    assert v.correct, v.message
    w = compare(lambda a: GradTensor(np.asarray(a, dtype=float) ** 3), lambda a: np.asarray(a, dtype=float) ** 2)
    assert not w.correct


def test_an_array_like_that_cannot_convert_gets_a_sentence():
    v = compare(Broken(), [1, 2])
    assert not v.correct and v.method == "invalid"
    assert "could not be read as an array" in v.message and "Traceback" not in v.message
    with pytest.raises(InvalidAnswer):
        array_like(Broken())


def test_sympy_and_numpy_values_are_not_array_likes():
    assert array_like(sp.Matrix([1, 2])) is None  # SymPy matrices have __array__, and their own reader
    assert array_like(np.array([1.0])) is None
    assert array_like([1, 2]) is None
    assert array_like(3.0) is None


# --------------------------------------------------------------------------- wire form and keys

def _roundtrip(value: Any) -> Any:
    return from_wire(json.loads(json.dumps(to_wire(value), allow_nan=False)))


def test_the_wire_form_of_a_tensor_is_the_ndarray_form():
    t = GradTensor([[1.5, 2.0], [0.0, -1.0]])
    assert to_wire(t) == to_wire(np.array([[1.5, 2.0], [0.0, -1.0]]))
    back = _roundtrip(t)
    assert isinstance(back, np.ndarray) and back.shape == (2, 2)
    assert _roundtrip(PlainArrayLike(2.5)).shape == ()


def test_the_wire_form_of_a_broken_array_like_is_unsupported():
    assert to_wire(Broken())["$"] == "unsupported"


def _keys(qid: str, reference: Any, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    private = make_question_record(
        qid, reference, kind=options.pop("kind", None), var=None, rtol=1e-6, atol=1e-9,
        mistakes=options.pop("mistakes", None), inputs=options.pop("inputs", None), domain=None, plot=None,
        call=_call_student,
    )
    return private, build_public_entry(private, "test_arraylike")


def test_private_and_public_keys_agree_on_a_tensor_answer():
    private, public = _keys("grad", [sp.Rational(1, 2), sp.Integer(-3)])
    for answer, ok in ((GradTensor([0.5, -3.0]), True), (GradTensor([0.5, 3.0]), False)):
        wire = to_wire(answer)
        a, b = grade(wire, private), grade(wire, public)
        assert a.correct is ok and b.correct is ok, (a.message, b.message)
        c = grade_public(answer, public)  # the self-check path hands the value itself
        assert c.correct is ok, c.message


def test_public_key_reads_a_tensor_for_an_expression_question_as_a_shape_error():
    _private, public = _keys("expr", x**2)
    v = grade_public(GradTensor([1.0, 2.0]), public)
    assert not v.correct and "shape (2,)" in v.message


def test_public_key_function_outputs_may_be_tensors():
    from grader.key.entries import call_answer

    square = lambda a: np.asarray(a, dtype=float) ** 2  # noqa: E731
    private, public = _keys("sq", square, kind="function", inputs=[(np.array([1.5, -2.0]),), (0.5,)])
    good = call_answer(lambda a: GradTensor(square(a)), private, call=_call_student)
    bad = call_answer(lambda a: GradTensor(square(a) + 1), private, call=_call_student)
    assert grade(good, private).correct and grade(good, public).correct
    assert not grade(bad, private).correct and not grade(bad, public).correct


def test_real_torch_tensor_with_grad():
    torch = pytest.importorskip("torch")
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    loss = (w**2).sum()
    loss.backward()
    assert compare(w.grad, [2, 4]).correct
    assert compare(w * 2, [2, 4]).correct  # requires grad: read through .detach()
    assert compare(loss, 5).correct
    assert to_wire(w) == to_wire(np.array([1.0, 2.0], dtype=np.float32))
