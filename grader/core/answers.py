"""Turning whatever a student hands in into one comparable form, or a clear refusal.

Why: every later step (sampling, proofs, diagnoses) wants a SymPy expression over
the question's own real symbols, or a shape plus a list of such expressions. All
the ways an answer can be unreadable are decided here, each with its own
sentence, by raising ``InvalidAnswer``.

Strings are parsed without executing anything: Python's ``ast`` module turns the
text into a syntax tree, and only a whitelist of node types, function names and
the question's symbols is translated into SymPy objects. ``eval``, ``sympify``
and ``parse_expr`` never see the text.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

import sympy as sp
from sympy.core.function import AppliedUndef

__all__ = [
    "InvalidAnswer",
    "parse_expression",
    "parse_text",
    "to_expression",
    "to_array",
    "canonical_symbols",
    "describe_type",
    "booleans_as_numbers",
    "boolean_as_number",
    "BOOLEAN_NOTE",
    "MAX_TEXT",
    "array_like",
]

from grader.core.parsing import (  # noqa: F401  (re-exported)
    CONSTANTS, FUNCTIONS, MAX_DEPTH, MAX_ENTRIES, MAX_NUMBER_BITS, MAX_TEXT, InvalidAnswer, parse_expression, parse_text, stray_message,
)


# ---------------------------------------------------------------------------
# symbols

def canonical_symbols(symbols: Iterable[sp.Symbol]) -> dict[str, sp.Symbol]:
    """Map each name to the symbol that answers will be rewritten to.

    A symbol with no assumptions becomes a real symbol of the same name (the
    course's variables are real); declared assumptions (positive, integer, ...)
    are kept. The first symbol of a given name wins.
    """
    out: dict[str, sp.Symbol] = {}
    for s in sorted(symbols, key=lambda s: (s.name, str(s.assumptions0))):
        if s.name in out:
            continue
        if s.is_real is None:
            assumptions = {k: v for k, v in s.assumptions0.items() if v is not None}
            assumptions.pop("commutative", None)
            assumptions["real"] = True
            try:
                out[s.name] = sp.Symbol(s.name, **assumptions)
            except Exception:
                out[s.name] = sp.Symbol(s.name, real=True)
        else:
            out[s.name] = sp.Symbol(s.name, **{k: v for k, v in s.assumptions0.items() if v is not None})
    return out


# ---------------------------------------------------------------------------
# arrays from other libraries

def array_like(value: Any) -> Any:
    """``value`` as a NumPy array when it is an array of another library, else None.

    Why: a student who computes a gradient with PyTorch's autograd or with JAX hands over a tensor,
    not an ndarray. Both (and CuPy, pandas, xarray ...) implement the NumPy protocol ``__array__``,
    so any object whose type has it is read like the array it converts to, without importing those
    libraries. A PyTorch tensor that requires grad refuses the conversion until it is detached
    (``.detach()``) and one on a GPU until it is copied back (``.cpu()``): both are done first.
    NumPy arrays and scalars, SymPy objects (a Matrix has ``__array__`` too), strings and
    containers are not array-likes here; they have their own readers. Raises InvalidAnswer when
    the conversion fails.
    """
    import numpy as np

    if isinstance(value, (np.ndarray, np.generic, sp.Basic, str, bytes, list, tuple, dict)) or _is_matrix(value):
        return None
    if not hasattr(type(value), "__array__"):
        return None
    v = value
    try:
        detach = getattr(v, "detach", None)
        if callable(detach):
            v = detach()
        cpu = getattr(v, "cpu", None)
        if callable(cpu):
            v = cpu()
        arr = np.asarray(v)
    except Exception as exc:  # the other library's own error: say what could not be read
        raise InvalidAnswer(
            f"Your answer is {describe_type(value)}, which could not be read as an array "
            f"({type(exc).__name__}); convert it with .tolist() or numpy.asarray(...) first.",
            "wrong_type",
        ) from None
    if not isinstance(arr, np.ndarray):
        raise InvalidAnswer(f"Your answer is {describe_type(value)}, which could not be read as an array.", "wrong_type")
    return arr


# ---------------------------------------------------------------------------
# values -> expressions

def describe_type(value: Any) -> str:
    """The value's type with an article: "an int", "a numpy.ndarray"."""
    t = type(value)
    mod = t.__module__
    name = t.__name__ if mod in ("builtins",) else f"{mod.split('.')[0]}.{t.__name__}"
    return ("an " if name[0].lower() in "aeiou" else "a ") + name


def to_expression(
    value: Any,
    symbols: Mapping[str, sp.Symbol],
    *,
    constants: Iterable[str] = (),
    what: str = "an expression",
) -> sp.Expr:
    """Normalise a scalar answer to a SymPy expression over the canonical ``symbols``.

    ``constants`` names extra symbols accepted (integration constants); they are
    mapped to real symbols of that name. Raises InvalidAnswer.
    """
    allowed = dict(symbols)
    for c in constants:
        if c not in allowed:
            allowed[c] = sp.Symbol(c, real=True)
    expr = _to_sympy_scalar(value, allowed, what, symbols)
    return _check_expr(expr, allowed, symbols)


def _to_sympy_scalar(
    value: Any, allowed: Mapping[str, sp.Symbol], what: str, question: Mapping[str, sp.Symbol] | None = None
) -> sp.Expr:
    import numpy as np

    if value is None:
        raise InvalidAnswer(
            "Not answered yet: your answer is None (did you forget to assign the result, or to return it?).",
            "unanswered",
        )
    if value is Ellipsis:
        raise InvalidAnswer("This question is not answered yet: replace the ... with your answer.", "unanswered")
    if isinstance(value, (bool, np.bool_)):
        raise InvalidAnswer(f"Your answer is {bool(value)}, a True/False value, but {what} is expected.", "wrong_type")
    if isinstance(value, str):
        return parse_text(value, allowed, allow_arrays=False, question=question)
    converted = array_like(value)  # a tensor of PyTorch, JAX, ... is read as its NumPy array
    if converted is not None:
        value = converted
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _to_sympy_scalar(value.item(), allowed, what, question)
        raise InvalidAnswer(
            f"Your answer is an array of shape {tuple(value.shape)}, but {what} is expected (a single value).",
            "wrong_shape",
        )
    if isinstance(value, np.generic):
        return _to_sympy_scalar(value.item(), allowed, what)
    if isinstance(value, int):
        if value.bit_length() > MAX_NUMBER_BITS:
            raise InvalidAnswer("Your answer is too large a number to work with.", "too_large")
        return sp.Integer(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise InvalidAnswer("Your answer is NaN (not a number): something was undefined, like 0/0.", "nan")
        if math.isinf(value):
            raise InvalidAnswer("Your answer is infinite; the correct answer is finite.", "infinite")
        return sp.Float(value)
    if isinstance(value, complex):
        if value.imag == 0:
            return _to_sympy_scalar(value.real, allowed, what)
        raise InvalidAnswer(f"Your answer {value} is a complex number; the answer is real.", "complex")
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidAnswer("Your answer is not a finite number.", "infinite")
        return sp.Float(str(value))
    if isinstance(value, sp.Basic) or _is_matrix(value):
        return _sympy_scalar(value, what)
    if isinstance(value, (list, tuple)):
        raise InvalidAnswer(
            f"Your answer is a {type(value).__name__} of {_entries(len(value))}, but {what} is expected (a single value).",
            "wrong_shape",
        )
    if callable(value):
        raise InvalidAnswer(
            f"Your answer is a function, but {what} is expected: give the value itself, not a function computing it.",
            "wrong_type",
        )
    if isinstance(value, numbers.Real):
        try:
            return _to_sympy_scalar(float(value), allowed, what)
        except (TypeError, ValueError, OverflowError):
            pass
    raise InvalidAnswer(f"Your answer is {describe_type(value)}, which cannot be read as {what}.", "wrong_type")


def _entries(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _is_matrix(value: Any) -> bool:
    from sympy.matrices import MatrixBase
    from sympy.tensor.array import NDimArray

    return isinstance(value, (MatrixBase, NDimArray))


def _sympy_scalar(value: sp.Basic, what: str) -> sp.Expr:
    from sympy.matrices import MatrixBase
    from sympy.tensor.array import NDimArray

    if isinstance(value, sp.Lambda):
        raise InvalidAnswer(f"Your answer is a Lambda (a function), but {what} is expected: give the expression itself.", "wrong_type")
    if isinstance(value, sp.Expr) and not isinstance(value, (MatrixBase, NDimArray)):
        return value

    if isinstance(value, (MatrixBase, NDimArray)):
        raise InvalidAnswer(
            f"Your answer is a matrix/array of shape {tuple(value.shape)}, but {what} is expected (a single value).",
            "wrong_shape",
        )
    if isinstance(value, sp.Tuple):
        raise InvalidAnswer(
            f"Your answer is a tuple of {_entries(len(value))}, but {what} is expected (a single value).", "wrong_shape"
        )
    if isinstance(value, sp.core.relational.Relational):
        raise InvalidAnswer(
            "Your answer is an equation or inequality; give just the expression (the right-hand side).", "relational"
        )
    if isinstance(value, sp.logic.boolalg.Boolean):
        raise InvalidAnswer(f"Your answer is a logical value, but {what} is expected.", "wrong_type")
    if isinstance(value, sp.Lambda):
        raise InvalidAnswer(f"Your answer is a Lambda (a function), but {what} is expected: give the expression itself.", "wrong_type")
    if not isinstance(value, sp.Expr):
        raise InvalidAnswer(f"Your answer is a SymPy {type(value).__name__}, which is not {what}.", "wrong_type")
    return value


_UNEVALUATED_CLASSES: tuple[tuple[type, str], ...] = (
    (sp.Derivative, "a derivative"),
    (sp.Integral, "an integral"),
    (sp.Sum, "a sum"),
    (sp.Product, "a product"),
    (sp.Limit, "a limit"),
    (sp.Subs, "a substitution"),
)


def _check_expr(expr: sp.Expr, allowed: Mapping[str, sp.Symbol], question_symbols: Mapping[str, sp.Symbol]) -> sp.Expr:
    for cls, noun in _UNEVALUATED_CLASSES:
        if expr.has(cls):
            raise InvalidAnswer(
                f"Your answer contains {noun} that is not worked out ({cls.__name__}): evaluate it first "
                "(for example with .doit()) and give the result.",
                "unevaluated",
            )
    for r in expr.atoms(sp.Rational):
        if max(int(r.p).bit_length(), int(r.q).bit_length()) > MAX_NUMBER_BITS:
            raise InvalidAnswer("A number in your answer is too large to work with (over 30000 digits).", "too_large")
    if expr.has(sp.nan):
        raise InvalidAnswer("Your answer is NaN (not a number): something was undefined, like 0/0.", "nan")
    if expr.has(sp.zoo):
        raise InvalidAnswer(
            "Your answer contains zoo (complex infinity), which SymPy gives for a division by zero.", "infinite"
        )
    if expr.has(sp.oo) or expr.has(-sp.oo):
        raise InvalidAnswer("Your answer is infinite (it contains oo); the correct answer is finite.", "infinite")
    if expr.has(sp.Order):
        raise InvalidAnswer("Your answer contains an O(...) term; remove it.", "wrong_type")
    undef = sorted({str(f.func) for f in expr.atoms(AppliedUndef)})
    if undef:
        raise InvalidAnswer(
            f"Your answer uses the undefined function {', '.join(undef)}; write it out with the question's symbols.",
            "stray_symbol",
        )
    free = expr.free_symbols
    stray = sorted({s.name for s in free if s.name not in allowed})
    if stray:
        raise InvalidAnswer(stray_message(stray, question_symbols), "stray_symbol")
    mapping = {s: allowed[s.name] for s in free if allowed[s.name] is not s}
    if mapping:
        expr = expr.xreplace(mapping)
    if expr.is_number and expr.has(sp.I):
        try:
            val = complex(expr.evalf(30))
        except Exception:
            val = None
        if val is not None and abs(val.imag) > 1e-12 * max(1.0, abs(val)):
            raise InvalidAnswer(f"Your answer is a complex number ({_fmt_c(val)}); the answer is real.", "complex")
    return expr


def _fmt_c(v: complex) -> str:
    return f"{v.real:.4g}{v.imag:+.4g}i"


# ---------------------------------------------------------------------------
# True/False where a number is expected

BOOLEAN_NOTE = "True/False were read as 1/0."


def _is_boolean(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (bool, np.bool_))


def boolean_as_number(value: Any) -> tuple[Any, bool]:
    """``value`` with True/False (Python, NumPy, or a 0-d NumPy bool array) as the integer 1/0.

    Why: a question whose answer is 0 or 1 ("1 for yes, 0 for no") is naturally answered with a
    comparison, ``loss > 1``, which gives a bool.  Only number and array questions read bools this
    way (their callers decide); an expression is never a truth value.  Returns (value, converted).
    """
    import numpy as np

    try:
        converted = array_like(value)
    except InvalidAnswer:
        converted = None  # left for the reader to refuse, with its message
    if converted is not None and converted.ndim == 0 and converted.dtype == bool:
        value = converted
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype == bool:
        value = value.item()
    if _is_boolean(value):
        return int(bool(value)), True
    return value, False


def booleans_as_numbers(raw: Sequence[Any]) -> tuple[list[Any], bool]:
    """The raw entries of an array answer (see ``to_array``) with True/False entries as 1/0.

    Why: a 0/1 vector ("which learning rates diverge") is naturally written ``[False, True, ...]``
    or as a NumPy comparison ``np.array(losses) > 1``.  Returns (entries, whether any was converted);
    any other non-numeric entry is left for ``to_expression`` to refuse with its own message.
    """
    out: list[Any] = []
    converted = False
    for r in raw:
        r, c = boolean_as_number(r)
        out.append(r)
        converted = converted or c
    return out, converted


# ---------------------------------------------------------------------------
# arrays

def to_array(value: Any, symbols: Mapping[str, sp.Symbol], *, constants: Iterable[str] = ()) -> tuple[tuple[int, ...], list[Any]]:
    """Normalise an array-like answer to (shape, flat row-major list of raw entries).

    Entries are returned raw (not yet converted) so that the caller can name the
    entry that fails. A scalar gives shape ``()``. Raises InvalidAnswer for
    ragged, empty or unreadable containers.
    """
    import numpy as np
    from sympy.matrices import MatrixBase
    from sympy.tensor.array import NDimArray

    if value is None or value is Ellipsis:
        _to_sympy_scalar(value, symbols, "an array")
    if isinstance(value, str):
        allowed = dict(symbols)
        for c in constants:
            allowed.setdefault(c, sp.Symbol(c, real=True))
        value = parse_text(value, allowed, allow_arrays=True)
    converted = array_like(value)  # a tensor of PyTorch, JAX, ... is read as its NumPy array
    if converted is not None:
        value = converted
    if isinstance(value, MatrixBase):
        shape = tuple(int(n) for n in value.shape)
        if 0 in shape:
            raise InvalidAnswer("Your answer is an empty matrix.", "empty")
        return shape, list(value)
    if isinstance(value, NDimArray):
        shape = tuple(int(n) for n in value.shape)
        if 0 in shape or not shape:
            raise InvalidAnswer("Your answer is an empty array.", "empty")
        return shape, list(sp.flatten(value.tolist()))
    if isinstance(value, np.ndarray):
        if value.size == 0:
            raise InvalidAnswer(f"Your answer is an empty array (shape {tuple(value.shape)}).", "empty")
        if value.size > MAX_ENTRIES:
            raise InvalidAnswer(f"Your answer has {value.size} entries; at most {MAX_ENTRIES} are read.", "too_large")
        return tuple(int(n) for n in value.shape), list(value.reshape(-1).tolist()) if value.dtype != object else list(value.reshape(-1))
    if isinstance(value, sp.Tuple):
        value = list(value)
    if isinstance(value, (list, tuple)):
        return _nested_shape(value)
    return (), [value]


def _nested_shape(value: Sequence[Any]) -> tuple[tuple[int, ...], list[Any]]:
    import numpy as np
    from sympy.matrices import MatrixBase

    def is_seq(v: Any) -> bool:
        return isinstance(v, (list, tuple, sp.Tuple)) or (isinstance(v, np.ndarray) and v.ndim > 0) or isinstance(v, MatrixBase)

    if len(value) == 0:
        raise InvalidAnswer("Your answer is an empty list.", "empty")
    flat: list[Any] = []
    count = [0]

    def walk(v: Any, depth: int) -> tuple[int, ...]:
        if depth > 8:
            raise InvalidAnswer("Your answer is nested too deeply to be a vector or matrix.", "too_large")
        if isinstance(v, MatrixBase):
            v = v.tolist() if v.shape[1] != 1 or v.shape[0] == 0 else list(v)
        converted = array_like(v)  # a list of tensors
        if converted is not None:
            v = converted if converted.ndim else converted.item()
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if not is_seq(v):
            count[0] += 1
            if count[0] > MAX_ENTRIES:
                raise InvalidAnswer(f"Your answer has more than {MAX_ENTRIES} entries.", "too_large")
            flat.append(v)
            return ()
        items = list(v)
        if not items:
            raise InvalidAnswer("Your answer contains an empty list.", "empty")
        shapes = [walk(item, depth + 1) for item in items]
        if any(s != shapes[0] for s in shapes):
            lengths = [s[0] if s else 1 for s in shapes]
            raise InvalidAnswer(
                f"Your answer is ragged: its rows have different lengths ({', '.join(map(str, lengths))}).",
                "ragged",
            )
        return (len(items),) + shapes[0]

    shape = walk(value, 0)
    return shape, flat
