"""Explaining a wrong answer: named mistakes of a question, then generic diagnoses.

Why separate: the comparison decides *whether* an answer is right; this module
decides *what went wrong* in terms a student recognises. Named mistakes (written
by the instructor next to the reference) take precedence; the generic diagnoses
below need no authoring and cover the classic slips of a calculus course.

Generic diagnoses work on the sampled values the comparison already computed,
so they cost microseconds:

* constant factor: answer / reference is the same number c != 1 at every point
  ("off by a factor of 2"), c = -1 being "opposite sign";
* added constant: answer - reference is the same non-zero number everywhere;
* derivative/antiderivative swaps (checked by the caller, which knows ``var``);
* arrays: two components swapped, matrix transposed, one wrong entry, a missing
  component.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

import mpmath

__all__ = [
    "Diagnosis",
    "constant_ratio",
    "constant_offset",
    "describe_factor",
    "diagnose_values",
    "swapped_pair",
]

Diagnosis = tuple[str, str]  # (misconception id, sentence)


def _as_real(v: Any) -> float | None:
    try:
        if isinstance(v, complex):
            if abs(v.imag) > 1e-9 * abs(v):
                return None
            return v.real
        if isinstance(v, (mpmath.mpf, mpmath.mpc)) or hasattr(v, "_mpf_") or hasattr(v, "_mpc_"):
            c = complex(v)
            if abs(c.imag) > 1e-9 * abs(c):
                return None
            r = c.real
            return r if abs(r) != float("inf") else None
        if isinstance(v, (int, float)):
            return float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def _pairs(answer_values: Sequence[Any], expected_values: Sequence[Any]) -> list[tuple[float, float]]:
    out = []
    for a, e in zip(answer_values, expected_values):
        ra, re_ = _as_real(a), _as_real(e)
        if ra is None or re_ is None or ra != ra or re_ != re_:
            continue
        out.append((ra, re_))
    return out


def constant_ratio(answer_values: Sequence[Any], expected_values: Sequence[Any], rtol: float = 1e-6) -> float | None:
    """The constant c with answer = c * expected at every sampled point, if there is one (c != 1)."""
    pairs = [(a, e) for a, e in _pairs(answer_values, expected_values) if abs(e) > 1e-12]
    if len(pairs) < 2 and not (len(pairs) == 1 and len(answer_values) == 1):
        return None
    ratios = [a / e for a, e in pairs]
    c = ratios[0]
    if c == 0 or abs(c - 1) <= 1e-3:
        return None
    if all(abs(r - c) <= max(rtol, 1e-9) * abs(c) * 10 for r in ratios):
        return c
    return None


def constant_offset(answer_values: Sequence[Any], expected_values: Sequence[Any], rtol: float = 1e-6) -> float | None:
    """The constant d with answer = expected + d at every sampled point, if there is one (d != 0)."""
    pairs = _pairs(answer_values, expected_values)
    if len(pairs) < 3:
        return None
    diffs = [a - e for a, e in pairs]
    d = diffs[0]
    scale = max(1.0, max(abs(e) for _, e in pairs))
    if abs(d) <= 1e-9 * scale:
        return None
    if all(abs(x - d) <= 1e-7 * scale + rtol * abs(d) for x in diffs):
        return d
    return None


def _nice_number(c: float) -> str:
    frac = Fraction(c).limit_denominator(12)
    if frac.denominator != 1 and abs(float(frac) - c) <= 1e-9 * max(1.0, abs(c)):
        return f"{frac.numerator}/{frac.denominator}"
    if abs(round(c) - c) <= 1e-9 * max(1.0, abs(c)):
        return str(int(round(c)))
    return f"{c:.4g}"


def describe_factor(c: float) -> Diagnosis:
    """Sentence for answer = c * correct."""
    if abs(c + 1) <= 1e-6:
        return ("opposite_sign", "Your answer has the opposite sign of the correct answer (check a minus sign).")
    shown = _nice_number(c)
    if 0.99 < c < 1.01:
        return (
            "close",
            f"Your answer is close to the correct one but not equal: it is {abs(c - 1) * 100:.2g} % "
            f"{'too large' if c > 1 else 'too small'} (compute it exactly or keep more digits).",
        )
    if c < 0:
        return (
            "constant_factor",
            f"Your answer is {shown} times the correct answer: the sign is wrong and it is off by a factor of "
            f"{_nice_number(-c)}.",
        )
    return ("constant_factor", f"Your answer is off by a factor of {shown} (it is {shown} times the correct answer).")


def describe_offset(d: float) -> Diagnosis:
    return (
        "added_constant",
        f"Your answer differs from the correct answer by a constant ({_nice_number(d)} everywhere): "
        "check for a constant term that should not be there or is missing.",
    )


def diagnose_values(answer_values: Sequence[Any], expected_values: Sequence[Any], *, offsets: bool = True) -> Diagnosis | None:
    """Factor, sign or added-constant diagnosis from values sampled at the same points."""
    c = constant_ratio(answer_values, expected_values)
    if c is not None:
        return describe_factor(c)
    if offsets:
        d = constant_offset(answer_values, expected_values)
        if d is not None:
            return describe_offset(d)
    return None


def swapped_pair(wrong: Sequence[int], equal_to: Any) -> tuple[int, int] | None:
    """If exactly two entries i, j are wrong and answer[i] == expected[j] and vice versa, return (i, j).

    ``equal_to(i, j)`` tells whether answer entry i equals expected entry j.
    """
    if len(wrong) != 2:
        return None
    i, j = wrong
    if equal_to(i, j) and equal_to(j, i):
        return (i, j)
    return None
