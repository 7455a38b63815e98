"""Safe parsing of typed answers: text becomes SymPy without executing anything.

Python's ``ast`` turns the text into a syntax tree, and only a whitelist of node types,
function names and the question's symbols is translated into SymPy objects.  ``eval``,
``sympify`` and ``parse_expr`` never see the text.  Unreadable input raises ``InvalidAnswer``
with a sentence in the student's terms.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Mapping, Sequence

import sympy as sp

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
# safe parsing of typed answers

FUNCTIONS: dict[str, Any] = {
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
CONSTANTS: dict[str, Any] = {"pi": sp.pi, "E": sp.E, "e": sp.E}
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
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        if ident in ("oo", "inf", "infinity", "Infinity"):
            raise InvalidAnswer("Your answer is infinite; the answer is a finite expression.", "infinite")
        if ident in ("nan", "NaN"):
            raise InvalidAnswer("Your answer is NaN (not a number).", "nan")
        if ident in ("I", "j", "i"):
            raise InvalidAnswer("Your answer contains the imaginary unit; the answer is real.", "complex")
        if ident in FUNCTIONS:
            raise InvalidAnswer(f"{ident} is a function: write it with an argument, like {ident}(x).", "syntax")
        raise InvalidAnswer(stray_message([ident], self.question), "stray_symbol")

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
        if name not in FUNCTIONS:
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
            return FUNCTIONS[name](*args)
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


def stray_message(names: Sequence[str], symbols: Mapping[str, sp.Symbol]) -> str:
    known = sorted(symbols)
    used = ", ".join(known) if known else "no symbols"
    noun = "the symbol" if len(names) == 1 else "the symbols"
    return f"Your answer uses {noun} {', '.join(sorted(names))}, which this question does not use (it uses {used})."


