"""One shape policy for every answer that has a shape: arrays, SymPy matrices and function outputs.

Why one module: array answers, function results and both keys each had their own rule, and they
disagreed (a function returning a row where a column was expected passed; the same row as an
array failed). Every check of a shape now asks ``align``.

A question chooses its ``layout`` (default ``"convention"``):

* ``"convention"``: the course's convention (docs/COURSE.md): a gradient has the shape of its
  variable, so a flat list and a column (or a row, if the reference is a row) of the same length
  are the same answer (accepted with a note), while a row given for a column is the transpose and
  is rejected with a message that names the convention. A Jacobian has one row per output, so a
  matrix must have the reference's shape. A single value written as a 1 x 1 matrix, or a one-entry
  list, is that value (with a note).
* ``"exact"``: the shape must be the reference's shape (a flat list is not a column).
* ``"any"``: any vector layout of the right length (flat, row, column) is accepted with a note.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["LAYOUTS", "DEFAULT_LAYOUT", "CONVENTION", "check_layout", "align", "mismatch_sentence",
           "single_entry", "SINGLE_NOTE", "value_shape"]

LAYOUTS = ("convention", "exact", "any")
DEFAULT_LAYOUT = "convention"
CONVENTION = ("by the course's convention a gradient has the shape of its variable (a column or a flat list), "
              "a row is its transpose, and a Jacobian has one row per output")
SINGLE_NOTE = "your answer is a 1 x 1 array; it was read as its single entry."


def check_layout(layout: Any) -> str:
    """The layout name, or ValueError (an authoring error) naming the choices."""
    if layout is None:
        return DEFAULT_LAYOUT
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    return str(layout)


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape)) if shape else 1


def _is_vector(shape: tuple[int, ...]) -> bool:
    return len(shape) == 1 or (len(shape) == 2 and 1 in shape)


def align(shape: tuple[int, ...], expected: tuple[int, ...], layout: str = DEFAULT_LAYOUT) -> str | None:
    """How an answer of ``shape`` relates to a reference of shape ``expected``.

    None: the same shape; "note": the same entries in an equivalent layout (read in the reference's
    shape, with a note); "bad": a different answer (wrong size, or a transpose under the convention).
    """
    shape, expected = tuple(int(n) for n in shape), tuple(int(n) for n in expected)
    if shape == expected:
        return None
    if layout == "exact" or _size(shape) != _size(expected):
        return "bad"
    if _size(shape) == 1:
        return "note"  # a single value however it is wrapped: (), (1,), (1, 1)
    if not (_is_vector(shape) and _is_vector(expected)):
        return "bad"
    if layout == "any" or len(shape) == 1 or len(expected) == 1:
        return "note"
    return "bad"  # a row for a column (or the reverse): the transpose


def _orientation(shape: tuple[int, ...]) -> str:
    if len(shape) == 2 and shape[1] == 1 and shape[0] > 1:
        return f"a column of {shape[0]} entries"
    if len(shape) == 2 and shape[0] == 1 and shape[1] > 1:
        return f"a row of {shape[1]} entries"
    if len(shape) == 1:
        return f"a flat vector of {shape[0]} entries"
    if len(shape) == 0:
        return "a single value"
    if len(shape) == 2:
        return f"a {shape[0]} x {shape[1]} matrix"
    return f"an array of shape {shape}"


def mismatch_sentence(shape: tuple[int, ...], expected: tuple[int, ...], layout: str = DEFAULT_LAYOUT,
                      subject: str = "Your answer") -> str:
    """Why a shape is refused, naming the layout rule when the entries would fit another way."""
    shape, expected = tuple(int(n) for n in shape), tuple(int(n) for n in expected)
    text = (f"{subject} is {_orientation(shape)} (shape {shape}), but {_orientation(expected)} "
            f"(shape {expected}) is expected")
    if _size(shape) == _size(expected) and _is_vector(shape) and _is_vector(expected):
        if layout == "exact":
            return text + ": this question asks for exactly that shape."
        return text + f": {CONVENTION}."
    if len(shape) == 2 and shape == expected[::-1]:
        return text + f" ({CONVENTION})."
    return text + "."


def single_entry(value: Any, layout: str = DEFAULT_LAYOUT) -> tuple[Any, bool]:
    """(the single entry, True) when ``value`` is a 1 x 1 (or one-entry) SymPy matrix, NumPy array,
    or list, and the layout allows reading it as a scalar; else (value, False)."""
    if layout == "exact":
        return value, False
    try:
        from sympy.matrices import MatrixBase
        from sympy.tensor.array import NDimArray
    except ImportError:  # pragma: no cover
        return value, False
    if isinstance(value, MatrixBase):
        return (value[0, 0], True) if value.shape == (1, 1) else (value, False)
    if isinstance(value, NDimArray):
        return (value[(0,) * value.rank()], True) if value.rank() and len(value) == 1 else (value, False)
    if isinstance(value, np.ndarray):
        return (value.reshape(-1)[0], True) if value.ndim and value.size == 1 else (value, False)
    if isinstance(value, list) and len(value) == 1:
        inner = value[0]
        if isinstance(inner, list):
            return (inner[0], True) if len(inner) == 1 and not isinstance(inner[0], list) else (value, False)
        return inner, True
    return value, False


def value_shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a result as given (a row stays (1, n)): () for a number, None when not numeric-like."""
    import numbers

    import sympy as sp

    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, sp.MatrixBase):
        return tuple(int(n) for n in value.shape)
    if isinstance(value, (numbers.Number, np.number, sp.Expr)):
        return ()
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            return tuple(int(n) for n in np.asarray(value, dtype=object).shape)
        except Exception:
            return None
    return None
