"""``compare``: does an answer equal the reference, and if not, why not?

The pipeline for one call:

1. infer the kind from the reference (unless given) and prepare the reference
   (instructor errors raise ``ValueError`` here, before any student input is read);
2. normalise the answer (``answers``): unreadable input becomes an "invalid" verdict;
3. decide equality: numeric evidence first, symbolic confirmation second
   (``equivalence``); exact arithmetic for exact numbers;
4. when wrong, explain: named mistakes first, then generic diagnoses (``mistakes``),
   then a counterexample.

Everything after step 1 runs under ``budget.enforced``: once the deadline passes,
Python code raises ``Timeout`` and the call returns what it knows. Symbolic
proof gets only a slice of the budget (``PROOF_SHARE``) so that the common case
stays fast; an equality it cannot confirm in time is reported as "numeric".
"""

from __future__ import annotations

import numbers
import threading
import warnings
from collections import OrderedDict
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from grader.core.answers import InvalidAnswer, array_like
from grader.core.arrays import ArrayProblem
from grader.core.budget import Deadline, Timeout, enforced
from grader.core.functions import FunctionProblem
from grader.core.inputs import warm_default_inputs
from grader.core.problem import CONSTANT_NAMES, Options, Problem, prepare_mistakes
from grader.core.shapes import check_layout
from grader.core.scalars import AntiderivativeProblem, ExpressionProblem, NumberProblem
from grader.core.verdict import Verdict

__all__ = ["compare", "infer_kind", "prepared", "KINDS", "CONSTANT_NAMES"]

KINDS = ("expression", "antiderivative", "number", "array", "function")

# ---------------------------------------------------------------------------
# public entry point

def compare(
    answer: Any,
    expected: Any,
    *,
    kind: str | None = None,
    var: Any = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    timeout: float = 2.0,
    mistakes: Mapping[str, Any] | None = None,
    inputs: Sequence[Any] | None = None,
    partial: bool = False,
    layout: str | None = None,
) -> Verdict:
    """Grade ``answer`` against the reference ``expected``.

    kind: "expression", "antiderivative", "number", "array", "function" (None: inferred).
    var: the variable of an antiderivative (default: the only symbol of ``expected``).
    rtol, atol: |a - e| <= atol + rtol*|e| for numeric comparisons.
    timeout: seconds; the call returns within it on any input.
    mistakes: {id: (wrong answer, message)}; a matching answer gets that message and id.
    inputs: for "function": argument tuples to call both functions with (default: chosen by the grader).
    partial: for "array": a wrong answer of the right shape earns the fraction of right entries
        (``Verdict.score``); default all or nothing.
    layout: the shape policy for arrays, matrices and function results: "convention" (default: a flat
        list and a column are the same vector, a row is the transpose, a 1 x 1 matrix is a scalar),
        "exact" or "any" (``grader.core.shapes``).

    Never raises on student input; raises ValueError/TypeError when the reference
    or the options are unusable (an authoring error).
    """
    kind = infer_kind(expected) if kind is None else kind
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    rtol, atol, timeout = float(rtol), float(atol), float(timeout)
    if not (rtol >= 0 and atol >= 0 and timeout > 0):
        raise ValueError("rtol and atol must be >= 0 and timeout > 0")
    deadline = Deadline(max(0.005, timeout - min(0.03, 0.1 * timeout)))
    opts = Options(kind, rtol, atol, timeout, deadline, partial=bool(partial), layout=check_layout(layout))
    if kind == "function" and inputs is None and callable(expected):
        warm_default_inputs(expected, max(1.0, timeout))  # preparation of the reference, bounded on its own
    deadline = Deadline(max(0.005, timeout - min(0.03, 0.1 * timeout)))
    opts.deadline = deadline
    try:
        # preparing the reference is inside the budget too (a huge reference is rebuilt per call);
        # its ValueError/TypeError (authoring errors) propagate
        with enforced(deadline):
            problem, named = prepared(expected, kind, var, inputs, mistakes)
    except Timeout:
        return _timeout_verdict(timeout)
    try:
        # no warning may reach stderr (nbgrader scores a cell with stderr output 0)
        with enforced(deadline), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return problem.grade(answer, opts, named)
    except Timeout:
        return _timeout_verdict(timeout)
    except InvalidAnswer as exc:
        return Verdict.invalid(exc.message, exc.reason)
    except (RecursionError, MemoryError):
        return Verdict.invalid("Your answer is too large or too deeply nested to check.", "too_large")
    except Exception as exc:  # never raise on student input
        return Verdict.invalid(
            f"Your answer could not be checked ({type(exc).__name__}); please rewrite it in a simpler form.",
            "error",
        )


def _timeout_verdict(timeout: float) -> Verdict:
    return Verdict(
        False, 0.0,
        "Your answer could not be checked within the time limit: it may be extremely large or complicated. "
        "Simplify it and try again.",
        None, "timeout", {"reason": "timeout", "timeout": timeout},
    )


def infer_kind(expected: Any) -> str:
    """The kind implied by the reference's type."""
    from sympy.matrices import MatrixBase
    from sympy.tensor.array import NDimArray

    if isinstance(expected, (MatrixBase, NDimArray, list, tuple, sp.Tuple)):
        return "array"
    try:
        converted = array_like(expected)  # a reference computed with PyTorch or JAX
    except InvalidAnswer as exc:
        raise TypeError(f"unusable reference: {exc.message}") from None
    if converted is not None:
        expected = converted
    if isinstance(expected, np.ndarray):
        return "array" if expected.ndim > 0 else "number"
    if isinstance(expected, sp.Basic):
        if isinstance(expected, sp.Expr) and not expected.free_symbols:
            return "number"
        return "expression"
    if isinstance(expected, (numbers.Number, np.generic)):
        return "number"
    if isinstance(expected, str):
        return "expression"
    if callable(expected):
        return "function"
    raise TypeError(f"cannot infer the kind of a reference of type {type(expected).__name__}")


def _prepare(expected: Any, kind: str, var: Any, inputs: Sequence[Any] | None) -> Problem:
    if kind == "expression":
        return ExpressionProblem(expected, var, "expression")
    if kind == "antiderivative":
        return AntiderivativeProblem(expected, var)
    if kind == "number":
        return NumberProblem(expected)
    if kind == "array":
        return ArrayProblem(expected, var)
    return FunctionProblem(expected, inputs)


# ---------------------------------------------------------------------------
# prepared references, cached

PREPARED_CACHE_SIZE = 512
_prepared: "OrderedDict[Any, tuple[Problem, list[Any]]]" = OrderedDict()
_prepared_lock = threading.Lock()


class _Unfreezable(Exception):
    pass


def prepared(expected: Any, kind: str, var: Any, inputs: Sequence[Any] | None,
             mistakes: Mapping[str, Any] | None) -> tuple[Problem, list[Any]]:
    """The prepared reference and named mistakes, from a cache of recent references.

    Why: grading a class compares every student's answer with the same reference; preparing it
    (parsing, canonical symbols, mistakes normalised like the reference, derivatives computed on
    first use) costs up to hundreds of milliseconds for large references and was paid per call.
    A prepared problem is never changed by grading (only filled with what it computes lazily),
    so it can be shared. References that cannot be frozen into a key (callables, function
    questions, whose reference runs on every call) are prepared afresh.
    """
    try:
        if kind == "function":
            raise _Unfreezable
        key = (kind, _freeze(expected), _freeze(var), _freeze_mistakes(mistakes))
        hash(key)
    except (_Unfreezable, TypeError, ValueError, RecursionError):
        problem = _prepare(expected, kind, var, inputs)
        return problem, prepare_mistakes(mistakes, problem, kind)
    with _prepared_lock:
        hit = _prepared.get(key)
        if hit is not None:
            _prepared.move_to_end(key)
            return hit
    problem = _prepare(expected, kind, var, inputs)
    value = (problem, prepare_mistakes(mistakes, problem, kind))
    with _prepared_lock:
        _prepared[key] = value
        while len(_prepared) > PREPARED_CACHE_SIZE:
            _prepared.popitem(last=False)
    return value


def _freeze(v: Any, depth: int = 0) -> Any:
    """A hashable key that is equal exactly when two references prepare to the same problem."""
    from sympy.matrices import MatrixBase
    from sympy.tensor.array import NDimArray

    if depth > 20:
        raise _Unfreezable
    if v is None or isinstance(v, (str, bool)):
        return (type(v).__name__, v)
    if isinstance(v, MatrixBase):
        return ("Matrix", sp.ImmutableMatrix(v))
    if isinstance(v, NDimArray):
        return ("NDimArray", sp.ImmutableDenseNDimArray(v))
    if isinstance(v, sp.Basic):
        return ("Basic", v)
    if isinstance(v, (int, float, complex, Fraction, Decimal)):
        return (type(v).__name__, repr(v))
    if isinstance(v, np.ndarray):
        if v.dtype == object:
            return ("ndarray-object", v.shape, tuple(_freeze(x, depth + 1) for x in v.reshape(-1)))
        return ("ndarray", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, np.generic):
        return ("np", v.dtype.str, repr(v.item()))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, tuple(_freeze(x, depth + 1) for x in v))
    raise _Unfreezable


def _freeze_mistakes(mistakes: Mapping[str, Any] | None) -> Any:
    if not mistakes:
        return ()
    out = []
    for ident, entry in mistakes.items():
        if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
            raise _Unfreezable  # prepare_mistakes says what is wrong with it
        out.append((str(ident), _freeze(entry[0]), str(entry[1])))
    return tuple(out)
