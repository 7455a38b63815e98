"""Outputs of function questions: how they are described to a student and compared with the reference's.

Shared by private grading (``grader.key.grading``) and public grading (``grader.key.publicgrade``).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy as sp

from grader.key.wire import WireError, from_wire

__all__ = ["describe_args", "numeric_array", "output_matches", "norm_shape", "shape_of", "shape_text"]


def describe_args(wire_args: Any) -> str:
    try:
        args = from_wire(wire_args)
    except WireError:
        return "(...)"
    if not isinstance(args, tuple):
        args = (args,)
    parts = []
    for a in args:
        if isinstance(a, sp.Lambda):
            parts.append(f"f({', '.join(map(str, a.variables))}) = {a.expr}")
        elif isinstance(a, np.ndarray):
            parts.append(np.array2string(a, precision=4, threshold=8, separator=", "))
        else:
            text = repr(a)
            parts.append(text if len(text) < 60 else text[:57] + "...")
    return "(" + ", ".join(parts) + ")"


def numeric_array(v: Any) -> np.ndarray | None:
    """``v`` as a float array when it is plain numbers (no SymPy symbols, no bools), else None."""
    if isinstance(v, (bool, np.bool_, str)) or v is None:
        return None
    try:
        arr = np.asarray(v if not isinstance(v, sp.MatrixBase) else v.tolist(), dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def output_matches(out: Any, ref: Any, entry: Mapping[str, Any]) -> bool:
    """Private comparison of one output with one reference output.

    Plain numbers and arrays of numbers: |a - e| <= atol + rtol*|e| entry by entry (the core's rule
    for plain numbers), non-finite values equal only to the same non-finite value.  Anything else
    (SymPy results) goes to the core's ``compare``.
    """
    a, e = numeric_array(out), numeric_array(ref)
    if a is not None and e is not None:
        if norm_shape(a.shape) != norm_shape(e.shape):
            return False
        a, e = a.reshape(-1), e.reshape(-1)
        fin = np.isfinite(e)
        if not np.array_equal(np.isfinite(a), fin):
            return False
        same_nonfinite = np.all((a[~fin] == e[~fin]) | (np.isnan(a[~fin]) & np.isnan(e[~fin])))
        with np.errstate(all="ignore"):
            close = np.abs(a[fin] - e[fin]) <= entry["atol"] + entry["rtol"] * np.abs(e[fin])
        return bool(same_nonfinite and np.all(close))
    from grader.core.comparison import compare

    try:
        return bool(compare(out, ref, rtol=entry["rtol"], atol=entry["atol"]).correct)
    except (ValueError, TypeError):
        return False


def norm_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(int(n) for n in shape)
    return (max(shape),) if len(shape) == 2 and 1 in shape else shape



def shape_of(v: Any) -> tuple[int, ...] | None:
    """The shape of an output, () for a scalar, None when it is not numeric-like."""
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, float, np.number, sp.Expr)) and not isinstance(v, sp.MatrixBase):
        return ()
    if isinstance(v, (list, tuple, np.ndarray, sp.MatrixBase)):
        try:
            arr = np.asarray(v if not isinstance(v, sp.MatrixBase) else v.tolist(), dtype=object)
            shape = tuple(arr.shape)
            return tuple(n for n in shape) if not (len(shape) == 2 and 1 in shape) else (max(shape),)
        except Exception:
            return None
    return None


def shape_text(v: Any) -> str:
    shape = shape_of(v)
    if shape is None:
        return f"a {type(v).__name__}"
    if shape == ():
        return "a single number"
    return f"an array of shape {shape}"


