"""Bounded numbers for the wire form: every number that comes off the wire is validated here before any
SymPy, mpmath or NumPy constructor sees it.

A wire document comes from a process that ran student code, so its numbers are hostile data.  Three
rules keep decoding and every later step (comparison, display, answer log) finite:

* integers travel as decimal or ``0x`` hexadecimal text (or small JSON ints) with a bit cap;
* a SymPy Float travels as its exact binary form (sign, mantissa in hex, exponent, bit count) and is
  accepted only in mpmath's *normalised* form (odd mantissa, matching bit count) with a precision cap
  and an exponent cap: a denormal tuple is not a number mpmath's arithmetic is defined on;
* an expression that SymPy would evaluate exactly later (``3**(2**28)``, ``factorial(10**9)``,
  ``Derivative(f, (x, 10**9))``) is refused while decoding, from a conservative estimate of the size
  of the exact integers its evaluation can create (``ExactSize``);
* a power whose exponent is an integer or a rational number (a literal, or arithmetic on literals) is
  refused when the exponent's numerator or denominator is above ``MAX_EXPONENT``, whatever the base:
  a base that only looks symbolic (``x - x + 3``, ``sin(x)**2 + cos(x)**2``) becomes a number as soon as
  SymPy rebuilds or simplifies it, and no course answer needs such an exponent.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = ["Refused", "MAX_INT_BITS", "MAX_FLOAT_PREC", "MAX_FLOAT_EXP", "MAX_EXACT_BITS", "MAX_NAME_CHARS",
           "MAX_EXPONENT",
           "int_from_text", "small_int", "plain_int", "plain_float", "mpf_tuple", "checked_name", "ExactSize"]

MAX_INT_BITS = 400_000            # one integer on the wire (about 120 000 decimal digits)
MAX_FLOAT_PREC = 4_000            # bits of a SymPy Float (about 1 200 digits); SymPy's default is 53
MAX_FLOAT_EXP = 1 << 24           # binary exponent of a Float (|value| up to about 10**5000000)
MAX_EXACT_BITS = 1 << 22          # exact integers an answer's evaluation may create (~1.3 million digits)
MAX_NAME_CHARS = 200              # a symbol's or an undefined function's name
MAX_EXPONENT = 10_000             # numerator and denominator of an integer or rational exponent, whatever the base
_EXPONENT_MAG = math.log2(MAX_EXPONENT) + 2   # the same for an exponent known by bounds only (arithmetic on literals)

_INT_TEXT = re.compile(r"-?(?:0x[0-9a-f]+|[0-9]+)")
_NAME_BAD = re.compile(r"[\x00-\x1f\x7f<>&\"]")


class Refused(ValueError):
    """A number or name off the wire is malformed or too large (wire.from_wire turns it into WireError)."""


def _refuse(message: str) -> None:
    raise Refused(message)


def int_from_text(text: Any) -> int:
    """An integer from its wire text (decimal or ``0x`` hex, optional minus), within the bit cap."""
    if not isinstance(text, str) or len(text) > MAX_INT_BITS // 3 or not _INT_TEXT.fullmatch(text):
        _refuse("malformed integer")
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    if digits.startswith("0x"):
        if (len(digits) - 2) * 4 > MAX_INT_BITS + 4:
            _refuse("the number is too large to be checked")
        value = int(digits[2:], 16)
    else:
        if len(digits) > 4_300:   # Python's own limit for decimal text; the encoder sends hex beyond it
            _refuse("the number is too large to be checked")
        value = int(digits)
    if value.bit_length() > MAX_INT_BITS:
        _refuse("the number is too large to be checked")
    return -value if negative else value


def plain_int(value: Any) -> int:
    """A JSON integer (not a bool) within the bit cap."""
    if not isinstance(value, int) or isinstance(value, bool):
        _refuse("malformed integer")
    if value.bit_length() > MAX_INT_BITS:
        _refuse("the number is too large to be checked")
    return int(value)


def plain_float(value: Any, *, finite: bool = True) -> float:
    """A JSON number as a float; non-finite values only where the wire form tags them."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _refuse("malformed number")
    if isinstance(value, int) and value.bit_length() > 1024:
        _refuse("the number is too large to be checked")
    out = float(value)
    if finite and not math.isfinite(out):
        _refuse("malformed number")
    return out


def small_int(value: Any, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _refuse(f"malformed {what}")
    return int(value)


def mpf_tuple(parts: Any, prec: Any) -> tuple[tuple[int, int, int, int], int]:
    """((sign, mantissa, exponent, bits), precision) of a Float, only in mpmath's normalised form."""
    if not isinstance(parts, list) or len(parts) != 4:
        _refuse("malformed Float")
    sign = small_int(parts[0], 0, 1, "Float")
    man_text = parts[1]
    if not isinstance(man_text, str) or not re.fullmatch(r"0x[0-9a-f]+", man_text) \
            or (len(man_text) - 2) * 4 > MAX_FLOAT_PREC + 4:
        _refuse("malformed Float")
    man = int(man_text, 16)
    exp = small_int(parts[2], -MAX_FLOAT_EXP, MAX_FLOAT_EXP, "Float")
    bc = small_int(parts[3], 0, MAX_FLOAT_PREC, "Float")
    precision = small_int(prec, 1, MAX_FLOAT_PREC, "Float precision")
    if man == 0:
        if (sign, exp, bc) != (0, 0, 0):   # zero has one form; nan and infinities travel as constants
            _refuse("malformed Float")
    elif man % 2 == 0 or bc != man.bit_length() or bc > precision:
        _refuse("malformed Float")
    return (sign, man, exp, bc), precision


def checked_name(name: Any) -> str:
    """A symbol's or function's name: text, bounded, no control characters or markup."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS or _NAME_BAD.search(name):
        _refuse("malformed symbol name")
    return name


# --- the size of exact evaluation -------------------------------------------------------------------
# SymPy evaluates some nodes exactly as soon as an expression is rebuilt (``xreplace``, ``subs``, ``doit``):
# a power with an integer exponent, factorial and gamma of an integer, binomial; and ``doit()`` repeats work
# as many times as a limit says (a derivative of order 10**9, a product over 10**9 terms).  Only numbers
# without symbols can make that explode, so magnitudes are tracked for symbol-free subtrees alone.
_FACTORIAL_LIKE = {"factorial", "gamma", "binomial"}
_REPEATS = {"Sum", "Product", "Derivative", "Integral", "Limit"}
_LEAF_BITS = 16                     # a symbol stands for a sample point the grader chooses (small)
_MAX_COUNT_MAG = 62                 # log2 of the largest exponent, factorial argument or repeat count


@dataclass(frozen=True)
class ExactSize:
    """Upper bounds for one decoded node: ``bits`` of the exact numbers evaluating it can create, and ``mag``,
    log2 of the absolute value of the numbers in it (what matters as an exponent, a factorial's argument or a
    count); ``exact`` when it holds no symbol (a power is evaluated exactly only then)."""

    bits: float
    mag: float
    exact: bool
    rational: bool = False                     # integer and rational literals and arithmetic on them alone
    den: float = 0.0                           # then: log2 bound of the denominator
    ratio: tuple[int, int] | None = None       # a literal's own numerator and denominator

    @staticmethod
    def of_int(value: int) -> "ExactSize":
        b = abs(value).bit_length() + 1
        return ExactSize(b, b, True, True, 0.0, (value, 1))

    @staticmethod
    def of_rational(p: int, q: int) -> "ExactSize":
        bp, bq = abs(p).bit_length() + 1, abs(q).bit_length()
        return ExactSize(bp + bq, max(1, bp - bq + 1), True, True, float(bq), (p, q))

    @staticmethod
    def of_float(exp: int, bc: int, prec: int) -> "ExactSize":
        return ExactSize(prec, max(1, exp + bc), True)

    @staticmethod
    def constant() -> "ExactSize":
        return ExactSize(2, 2, True)

    @staticmethod
    def symbol() -> "ExactSize":
        return ExactSize(_LEAF_BITS, 0, False)

    @staticmethod
    def combine(head: str, args: Iterable["ExactSize"]) -> "ExactSize":
        """The bound of ``head(*args)``; refuses (ValueError) when it exceeds MAX_EXACT_BITS."""
        args = list(args) or [ExactSize.constant()]
        exact = all(a.exact for a in args)
        total = sum(a.bits for a in args)
        rational = head in ("Add", "Mul", "Pow") and len(args) >= 2 and all(a.rational for a in args)
        if head == "Pow" and len(args) == 2:
            base, exponent = args
            _check_exponent(exponent)
            if exponent.exact:
                _count(exponent.mag, "a power")
            if exponent.exact and base.exact:
                times = 2.0 ** exponent.mag
                out = ExactSize(base.bits * times + exponent.bits, base.mag * times, True)
            else:
                # a symbolic power ((x + 1)**100000) is not expanded by rebuilding; a base that only looks
                # symbolic (x - x + 3) is left to the grading process's CPU budget
                out = ExactSize(total, max(base.mag, exponent.mag), False)
        elif head in _FACTORIAL_LIKE:
            top = max(a.mag for a in args)
            _count(top, head)
            grown = 2.0 ** top * (top + 1)
            out = ExactSize(total + grown, grown, exact)
        elif head in _REPEATS:
            body, limits = args[0], args[1:]
            top = max((a.mag for a in limits), default=0)
            _count(top, head)
            times = 2.0 ** top
            out = ExactSize(body.bits * times + total, body.mag * times, exact)
        elif head == "Mul":
            out = ExactSize(total, sum(a.mag for a in args), exact)
        else:  # Add, containers, other functions: sizes add up, magnitudes grow a little
            out = ExactSize(total, max(a.mag for a in args) + math.log2(len(args)) + 1, exact)
        if out.bits > MAX_EXACT_BITS or (out.exact and out.mag > MAX_EXACT_BITS):
            _refuse("the answer is too large to be checked (its exact value would have millions of digits)")
        if rational:
            if head == "Pow":   # p**(a/b): numerator and denominator swap or grow by the exponent's size
                den = (args[0].den + args[0].mag) * 2.0 ** args[1].mag
            else:
                den = sum(a.den for a in args)
            out = ExactSize(out.bits, out.mag, out.exact, True, den)
        return out


def _check_exponent(exponent: ExactSize) -> None:
    """Refuse an integer or rational exponent above MAX_EXPONENT (numerator or denominator), whatever the base."""
    if exponent.ratio is not None:
        p, q = exponent.ratio
        too_large = abs(p) > MAX_EXPONENT or q > MAX_EXPONENT
    else:
        too_large = exponent.rational and (exponent.mag > _EXPONENT_MAG or exponent.den > _EXPONENT_MAG)
    if too_large:
        _refuse(f"the answer contains a power whose exponent is too large to be checked (an integer or fraction "
                f"above {MAX_EXPONENT:,} in size)")


def _count(mag: float, what: str) -> None:
    if mag > _MAX_COUNT_MAG:
        _refuse(f"the answer contains {what} too large to be checked")
