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

import ast
import math
import numbers
import re
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
]

MAX_TEXT = 3000          # characters of a typed answer
MAX_DEPTH = 120          # nesting depth of a typed answer
MAX_NUMBER_BITS = 100_000  # an exact number larger than 2**100000 is refused
MAX_ENTRIES = 10_000     # entries of an array answer


class InvalidAnswer(Exception):
    """The answer cannot be read; ``message`` says why, in the student's terms."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


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
# safe parsing of typed answers

_FUNCTIONS: dict[str, Any] = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "acot": sp.acot,
    "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "atan2": sp.atan2, "arctan2": sp.atan2,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "asinh": sp.asinh, "acosh": sp.acosh, "atanh": sp.atanh,
    "arcsinh": sp.asinh, "arccosh": sp.acosh, "arctanh": sp.atanh,
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt, "cbrt": sp.cbrt,
    "log2": lambda a: sp.log(a, 2), "log10": lambda a: sp.log(a, 10),
    "Abs": sp.Abs, "abs": sp.Abs, "sign": sp.sign, "Max": sp.Max, "Min": sp.Min,
    "max": sp.Max, "min": sp.Min, "maximum": sp.Max, "minimum": sp.Min,
    "floor": sp.floor, "ceiling": sp.ceiling, "ceil": sp.ceiling,
    "Heaviside": sp.Heaviside, "heaviside": sp.Heaviside,
    "erf": sp.erf, "gamma": sp.gamma, "factorial": sp.factorial, "binomial": sp.binomial,
    "Rational": sp.Rational, "Integer": sp.Integer, "Float": sp.Float,
}
_INTEGER_ARG_FUNCS = {"factorial", "binomial", "gamma"}
_CONSTANTS: dict[str, Any] = {"pi": sp.pi, "E": sp.E, "e": sp.E}
_MODULE_ALIASES = {"sp", "sympy", "np", "numpy", "math"}
_UNEVALUATED = {
    "Derivative": "a derivative", "diff": "a derivative", "Integral": "an integral",
    "integrate": "an integral", "Sum": "a sum", "summation": "a sum", "Product": "a product",
    "Limit": "a limit", "limit": "a limit",
}
_MODULE_CONSTANTS = {"pi": sp.pi, "e": sp.E, "E": sp.E}


def parse_expression(text: str, symbols: Mapping[str, sp.Symbol]) -> sp.Expr:
    """Parse typed math into a SymPy expression over ``symbols``; raise InvalidAnswer.

    ``^`` means power; ``ln`` is ``log``; ``sp.``/``np.``/``math.`` prefixes of
    whitelisted functions are accepted. Nothing in ``text`` is executed.
    """
    value = parse_text(text, symbols, allow_arrays=False)
    assert isinstance(value, sp.Expr)
    return value


def parse_text(
    text: str,
    symbols: Mapping[str, sp.Symbol],
    *,
    allow_arrays: bool = True,
    question: Mapping[str, sp.Symbol] | None = None,
) -> Any:
    """Like ``parse_expression`` but a bracketed list gives nested Python lists.

    ``question``: the question's own symbols, named in messages (default: ``symbols``).
    """
    if not isinstance(text, str):
        raise InvalidAnswer("A typed answer must be a string.", "wrong_type")
    stripped = text.strip()
    if not stripped:
        raise InvalidAnswer("Your answer is an empty string: type an expression.", "unanswered")
    if stripped in ("...", "Ellipsis"):
        raise InvalidAnswer("This question is not answered yet: replace the ... with your answer.", "unanswered")
    if len(stripped) > MAX_TEXT:
        raise InvalidAnswer(
            f"Your answer is {len(stripped)} characters long; answers longer than {MAX_TEXT} are not read.",
            "too_large",
        )
    source = stripped.replace("^", "**").replace("\u2212", "-").replace("\u00d7", "*").replace("\u00b7", "*")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise InvalidAnswer(_syntax_hint(source, exc), "syntax") from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        raise InvalidAnswer("Your answer is too deeply nested or too large to read.", "too_large") from None
    builder = _Builder(symbols, allow_arrays, question if question is not None else symbols)
    try:
        return builder.build(tree.body, 0)
    except InvalidAnswer:
        raise
    except RecursionError:
        raise InvalidAnswer("Your answer is too deeply nested to read.", "too_large") from None
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError) as exc:
        raise InvalidAnswer(f"Your answer could not be read as mathematics ({type(exc).__name__}).", "syntax") from None


def _syntax_hint(source: str, exc: SyntaxError) -> str:
    if re.search(r"(?<![\w.])\d+(\.\d*)?(?![eE][+-]?\d)[A-Za-z_(]", source) or re.search(r"\)\s*[\w(]", source):
        return "Write products with *: for example 2*x and (x+1)*(x-1), not 2x or (x+1)(x-1)."
    if re.search(r"\b(sin|cos|tan|exp|log|ln|sqrt)\s+[\w(]", source):
        return "Put function arguments in parentheses: for example sin(x), not sin x."
    if source.count("(") != source.count(")"):
        return "Your answer has unbalanced parentheses."
    if re.search(r"[A-Za-z_]\w*\s+[A-Za-z_(\d]", source):
        return "Write products with *: for example x*y, not x y."
    return "Your answer is not a valid expression (check the operators and parentheses)."


class _Builder:
    def __init__(self, symbols: Mapping[str, sp.Symbol], allow_arrays: bool, question: Mapping[str, sp.Symbol]) -> None:
        self.symbols = dict(symbols)
        self.allow_arrays = allow_arrays
        self.question = question

    def build(self, node: ast.AST, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise InvalidAnswer("Your answer is too deeply nested to read.", "too_large")
        d = depth + 1
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp):
            operand = self.scalar(self.build(node.operand, d))
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return operand
            raise InvalidAnswer("Only +, -, *, /, ** (or ^) and functions are allowed in an answer.", "syntax")
        if isinstance(node, ast.BinOp):
            left = self.scalar(self.build(node.left, d))
            right = self.scalar(self.build(node.right, d))
            op = node.op
            if isinstance(op, ast.Add):
                return left + right
            if isinstance(op, ast.Sub):
                return left - right
            if isinstance(op, ast.Mult):
                return left * right
            if isinstance(op, ast.Div):
                if right == 0:
                    raise InvalidAnswer("Your answer divides by zero.", "undefined")
                return left / right
            if isinstance(op, (ast.Pow, ast.BitXor)):
                return safe_power(left, right)
            raise InvalidAnswer("Only +, -, *, /, ** (or ^) and functions are allowed in an answer.", "syntax")
        if isinstance(node, ast.Call):
            return self.call(node, d)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in _MODULE_ALIASES:
                if node.attr in _MODULE_CONSTANTS:
                    return _MODULE_CONSTANTS[node.attr]
            raise InvalidAnswer(
                "Only plain mathematics is read: numbers, the question's symbols, + - * / ** and functions like sin(x).",
                "forbidden",
            )
        if isinstance(node, (ast.List, ast.Tuple)):
            if not self.allow_arrays:
                raise InvalidAnswer("Give a single expression here, not a list.", "wrong_type")
            return [self.build(e, d) for e in node.elts]
        if isinstance(node, ast.Compare):
            raise InvalidAnswer(
                "Your answer is an equation or comparison; give just the expression (the right-hand side).",
                "relational",
            )
        raise InvalidAnswer(
            "Only plain mathematics is read: numbers, the question's symbols, + - * / ** and functions like sin(x).",
            "forbidden",
        )

    def scalar(self, value: Any) -> sp.Expr:
        if isinstance(value, list):
            raise InvalidAnswer("Lists cannot be used inside arithmetic; give each entry as an expression.", "syntax")
        return value

    def constant(self, value: Any) -> sp.Expr:
        if isinstance(value, bool) or value is None:
            raise InvalidAnswer(f"{value} is not a mathematical expression.", "wrong_type")
        if value is Ellipsis:
            raise InvalidAnswer("This question is not answered yet: replace the ... with your answer.", "unanswered")
        if isinstance(value, int):
            if value.bit_length() > MAX_NUMBER_BITS:
                raise InvalidAnswer("A number in your answer is too large to work with.", "too_large")
            return sp.Integer(value)
        if isinstance(value, float):
            if math.isinf(value):
                raise InvalidAnswer("A number in your answer is too large (it overflows to infinity).", "infinite")
            return sp.Float(value)
        if isinstance(value, complex):
            raise InvalidAnswer("Your answer contains an imaginary number (j); the answer is real.", "complex")
        raise InvalidAnswer("Text in quotes is not a mathematical expression.", "wrong_type")

    def name(self, ident: str) -> sp.Expr:
        if ident in self.symbols:
            return self.symbols[ident]
        if ident in _CONSTANTS:
            return _CONSTANTS[ident]
        if ident in ("oo", "inf", "infinity", "Infinity"):
            raise InvalidAnswer("Your answer is infinite; the answer is a finite expression.", "infinite")
        if ident in ("nan", "NaN"):
            raise InvalidAnswer("Your answer is NaN (not a number).", "nan")
        if ident in ("I", "j", "i"):
            raise InvalidAnswer("Your answer contains the imaginary unit; the answer is real.", "complex")
        if ident in _FUNCTIONS:
            raise InvalidAnswer(f"{ident} is a function: write it with an argument, like {ident}(x).", "syntax")
        raise InvalidAnswer(_stray_message([ident], self.question), "stray_symbol")

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        func = node.func
        name: str | None = None
        if isinstance(func, ast.Name):
            name = func.id
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in _MODULE_ALIASES:
            name = func.attr
        if name is None:
            if isinstance(func, (ast.Constant, ast.BinOp, ast.UnaryOp)):
                raise InvalidAnswer(
                    "Write products with *: for example 2*(x+1) and (x+1)*(x-1), not 2(x+1) or (x+1)(x-1).",
                    "syntax",
                )
            raise InvalidAnswer(
                "Only plain mathematics is read: numbers, the question's symbols, + - * / ** and functions like sin(x).",
                "forbidden",
            )
        if name in _UNEVALUATED:
            raise InvalidAnswer(
                f"Your answer is {_UNEVALUATED[name]} still to be worked out: evaluate it first and give the result.",
                "unevaluated",
            )
        if name not in _FUNCTIONS:
            if name in self.symbols:
                raise InvalidAnswer(
                    f"Write products with *: for example {name}*(x+1), not {name}(x+1).", "syntax"
                )
            raise InvalidAnswer(f"The function {name!r} is not allowed in an answer.", "forbidden")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise InvalidAnswer(f"Call {name} with plain arguments, like {name}(x).", "syntax")
        args = [self.scalar(self.build(a, depth)) for a in node.args]
        if not args or len(args) > 8:
            raise InvalidAnswer(f"{name} needs an argument, like {name}(x).", "syntax")
        if name in _INTEGER_ARG_FUNCS:
            for a in args:
                if a.is_number and a.is_real and abs(float(a)) > 1000:
                    raise InvalidAnswer(f"The argument of {name} is too large to work with.", "too_large")
        if name in ("Rational", "Integer", "Float") and not all(a.is_Number for a in args):
            raise InvalidAnswer(f"{name} takes numbers only.", "syntax")
        try:
            return _FUNCTIONS[name](*args)
        except TypeError:
            raise InvalidAnswer(f"{name} was given the wrong number of arguments.", "syntax") from None


def safe_power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """``base**exponent``, refusing exact numbers that would be astronomically large."""
    if base.is_Number and exponent.is_Number:
        try:
            b = abs(float(base)) if not base.is_Integer else abs(int(base))
            e = float(exponent)
        except (OverflowError, TypeError, ValueError):
            raise InvalidAnswer("A number in your answer is too large to work with.", "too_large") from None
        if b not in (0, 1) and abs(e) > 1:
            bits = abs(e) * (math.log2(b) if b > 0 else 0.0)
            if base.is_Integer and abs(bits) > MAX_NUMBER_BITS or abs(bits) > 1e6:
                raise InvalidAnswer("A number in your answer is too large to work with.", "too_large")
        if base == 0 and exponent.is_negative:
            raise InvalidAnswer("Your answer divides by zero (0 to a negative power).", "undefined")
    return base**exponent


def _stray_message(names: Sequence[str], symbols: Mapping[str, sp.Symbol]) -> str:
    known = sorted(symbols)
    used = ", ".join(known) if known else "no symbols"
    noun = "the symbol" if len(names) == 1 else "the symbols"
    return f"Your answer uses {noun} {', '.join(sorted(names))}, which this question does not use (it uses {used})."


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
        raise InvalidAnswer(_stray_message(stray, question_symbols), "stray_symbol")
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
