"""When both sides are exact, numeric agreement is not enough: exact differences and witnesses.

Why: sampling judges with a relative tolerance, and relative to a large value a small exact slip
is invisible. An expanded degree-13 polynomial whose constant term is off by 1 agrees to 1e-19 at
every sample point far from its roots, yet it is wrong, and visibly so near a root of the
reference, where the tolerance shrinks to ``atol``. So when both the answer and the reference are
exact (no floats) and the proof could not confirm an equality that the numbers support:

* ``exact_difference``: if ``answer - reference`` is a rational function of the symbols, cancelling
  it is cheap and decisive (zero, or not zero);
* ``witness``: a point near the reference's zeros (found by bisection along each variable), near
  the minima of its magnitude, or far out (where a higher degree wins), at which the two differ
  beyond the tolerance, confirmed at a precision where the digits have settled (``stable_value``),
  so a cancellation is never taken for a difference.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.polys.fields import sfield

from grader.core.budget import Deadline, Timeout, enforced
from grader.core.equivalence import (
    MAX_EXPAND_DEGREE,
    UNSTABLE,
    Counterexample,
    classify_values as classify,
    is_real_value,
    stable_value,
)
from grader.core.evaluation import HUGE, UNDEFINED, float_eval_columns, precise

__all__ = ["exact_difference", "exact_witness", "witness", "MAX_RATIONAL_NODES"]

MAX_RATIONAL_NODES = 2000
MAX_WITNESS_CANDIDATES = 14
_BISECT_STEPS = 42  # an interval of the line shrunk 4e12 times: float64 precision near the root
MAX_LINES = 3  # variables varied one at a time (the others stay at the base point)


def exact_difference(answer: sp.Expr, expected: sp.Expr, deadline: Deadline | None,
                     points: Sequence[Mapping[sp.Symbol, float]] = ()) -> bool | None:
    """True when ``answer - expected`` is exactly 0, False only with an exact witness (a point where
    the difference is, exactly, a nonzero number: ``exact_witness``), None when neither is found
    cheaply (not a rational function of the symbols, too large, no time).

    Why a witness and not "the cancelled numerator is not 0": SymPy's ``cancel`` can leave an
    unevaluated ``-1/2 + 1/2`` for real symbols, and a nonzero-looking numerator rejected correct
    answers (``2*x**2 + 2*x + 1/2`` for ``(2*x + 1)**2/2``). Zero is proven on a polynomial over
    the rationals (``Poly.is_zero``, exact); nonzero is shown by evaluation, never by the look of
    a result. ``points``: sample points where the reference is real (to place the witness search).
    """
    syms = sorted(answer.free_symbols | expected.free_symbols, key=lambda s: s.name)
    if not syms:
        return None
    try:
        with enforced(deadline):
            diff = answer - expected
            if diff == 0:
                return True
            if diff.has(sp.Float) or not diff.is_rational_function(*syms):
                return None
            if _too_large(diff):
                return None
            identity = _identity_test(diff, syms)
            if identity is not None:
                return identity
            if _numerator_is_zero(diff, syms):
                return True
            return False if exact_witness(answer, expected, points, deadline) is not None else None
    except Timeout:
        return None
    except (RecursionError, MemoryError, TypeError, ValueError, ZeroDivisionError, sp.PolynomialError):
        return None


class _NotRational(Exception):
    pass


MAX_FRACTION_POWER = 64  # larger integer powers are left to sfield (the numbers would grow too long)
IDENTITY_POINTS = 3


def _fraction_value(e: sp.Expr, point: Mapping[sp.Symbol, Fraction]) -> Fraction:
    """``e`` at a rational point in exact ``Fraction`` arithmetic (microseconds per node), for
    expressions built from symbols, rationals, +, * and integer powers only."""
    if e.is_Symbol:
        return point[e]
    if e.is_Rational:
        return Fraction(int(e.p), int(e.q))
    if e.is_Add:
        total = Fraction(0)
        for a in e.args:
            total += _fraction_value(a, point)
        return total
    if e.is_Mul:
        total = Fraction(1)
        for a in e.args:
            total *= _fraction_value(a, point)
        return total
    if e.is_Pow and e.exp.is_Integer and abs(int(e.exp)) <= MAX_FRACTION_POWER:
        return _fraction_value(e.base, point) ** int(e.exp)
    raise _NotRational


def _identity_test(diff: sp.Expr, syms: Sequence[sp.Symbol]) -> bool | None:
    """For a rational function with rational coefficients: False when it is nonzero at a rational point
    (an exact witness), True when it vanishes at IDENTITY_POINTS random rational points, None when it is
    not of that form (an irrational constant, a large power) or undefined at every point tried.

    Why this is a proof in practice: a nonzero numerator of degree d vanishes at a random point of
    S**n with probability at most d/|S| (Schwartz-Zippel); with coordinates drawn from about 2**62
    rationals and three independent points, a false "equal" has probability below (d/2**62)**3. It
    replaces bringing matrices of rational functions of a symbolic inverse to one fraction (tens of
    milliseconds per entry) by exact arithmetic on numbers (well under a millisecond).
    """
    rng = random.Random(0x5EED ^ len(syms))
    found = 0
    for _ in range(3 * IDENTITY_POINTS):
        point = {s: Fraction(rng.randint(-2**31, 2**31), rng.randint(1, 2**31)) for s in syms}
        for s in syms:
            if s.is_integer:
                point[s] = Fraction(rng.randint(1, 2**20))
            if (s.is_positive or s.is_nonnegative) and point[s] < 0 or (s.is_negative or s.is_nonpositive) and point[s] > 0:
                point[s] = -point[s]
        try:
            v = _fraction_value(diff, point)
        except _NotRational:
            return None
        except ZeroDivisionError:
            continue  # a pole of one side: another point
        if v != 0:
            return False
        found += 1
        if found >= IDENTITY_POINTS:
            return True
    return None


def _numerator_is_zero(diff: sp.Expr, syms: Sequence[sp.Symbol]) -> bool:
    """Whether a rational function of ``syms`` is the zero element of its field of fractions.

    ``sfield`` brings it to one reduced fraction in sparse polynomial arithmetic (5-15 ms for the entries
    of a gradient of tr(A X^-1 B), where ``together`` + ``Poly`` took 10-70 ms and ran out of budget).
    """
    _field, f = sfield(diff)
    if not f:
        return True
    domain = getattr(f.field, "domain", None)
    if domain is not None and (domain.is_EX or domain.is_EXRAW):
        # coefficients such as sqrt(2)*sqrt(3) - sqrt(6) may hide a zero: simplify each one
        return all(sp.simplify(domain.to_sympy(c)) == 0 for c in f.numer.coeffs())
    return False


# rational coordinates for an exact witness: small denominators, both signs, several scales
_RATIONALS = [sp.Rational(n, d) for n, d in (
    (1, 3), (-2, 7), (5, 11), (-7, 5), (13, 6), (-17, 9), (3, 13), (29, 4), (-41, 10), (1, 17), (-89, 3), (101, 7),
)]


def _rational_points(syms: Sequence[sp.Symbol], points: Sequence[Mapping[sp.Symbol, float]],
                     n: int) -> list[dict[sp.Symbol, sp.Rational]]:
    """Rational points respecting the symbols' assumptions: sample points rounded to a small
    denominator first (the reference is real there), then fixed rationals."""
    out: list[dict[sp.Symbol, sp.Rational]] = []
    for p in points[:n]:
        try:
            q = {s: (sp.Integer(round(p[s])) if s.is_integer
                     else sp.Rational(Fraction(float(p[s])).limit_denominator(97))) for s in syms}
        except (KeyError, ValueError, OverflowError):
            continue
        out.append(q)
    for k in range(n):
        q = {}
        for j, s in enumerate(syms):
            r = _RATIONALS[(k + 5 * j) % len(_RATIONALS)]
            if s.is_integer:
                r = sp.Integer(int(r.p) % 7 + 1)
            if s.is_positive or s.is_nonnegative:
                r = abs(r)
            elif s.is_negative or s.is_nonpositive:
                r = -abs(r)
            q[s] = r
        out.append(q)
    return out


def _exact_value(expr: sp.Expr, point: Mapping[sp.Symbol, sp.Rational]) -> sp.Expr | None:
    """``expr`` at a rational point, as an exact SymPy number; None where it is undefined or not real."""
    v = expr.xreplace(dict(point))
    if v.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or v.free_symbols:
        return None
    if v.is_Rational:
        return v
    if v.is_real is False:
        return None
    return v


def _certified_nonzero(d: sp.Expr) -> bool:
    """Whether the exact number ``d`` is certainly not 0: a nonzero rational, or a number SymPy's
    ``evalf`` gets to 30 certified digits (``strict``: it raises rather than guess) that is not 0."""
    if d.is_Rational:
        return d != 0
    if d.is_zero is True:
        return False
    try:
        v = sp.N(d, 30, strict=True)
    except Exception:  # PrecisionExhausted and friends: no certificate
        return False
    return v.is_Number and v.is_real is not False and v != 0 and v.is_comparable is True


def _differs_at(answer: sp.Expr, expected: sp.Expr, q: Mapping[sp.Symbol, sp.Rational]) -> bool:
    """A cheap screen (mpmath, 30 digits): whether the two sides may differ at ``q`` at all. Exact
    evaluation costs 10-60 ms on transcendental answers; a correct answer is equal to all digits."""
    point = {s: float(v) for s, v in q.items()}
    a, e = precise(answer, point, 30), precise(expected, point, 30)
    if a is UNDEFINED or e is UNDEFINED or a is HUGE or e is HUGE:
        return True  # no screen: the exact evaluation decides
    try:
        return bool(abs(a - e) > 1e-20 * (1 + abs(e)))
    except TypeError:
        return True


def exact_witness(answer: sp.Expr, expected: sp.Expr, points: Sequence[Mapping[sp.Symbol, float]] = (),
                  deadline: Deadline | None = None, n: int = 3) -> dict[sp.Symbol, sp.Rational] | None:
    """A rational point where both sides are exact real numbers that certainly differ, or None.

    This is the only evidence an "exact slip" verdict may rest on: the numbers agree within the
    tolerance everywhere they were sampled, so only an exact computation can show a difference.
    """
    syms = sorted(answer.free_symbols | expected.free_symbols, key=lambda s: s.name)
    if not syms or answer.has(sp.Float) or expected.has(sp.Float):
        return None
    try:
        with enforced(deadline):
            for q in _rational_points(syms, points, n):
                if not _differs_at(answer, expected, q):
                    continue  # equal to 25 digits there: no witness at this point, skip the exact work
                e = _exact_value(expected, q)
                if e is None:
                    continue
                a = _exact_value(answer, q)
                if a is None:
                    continue
                if _certified_nonzero(a - e):
                    return q
    except Timeout:
        return None
    except (RecursionError, MemoryError, TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return None


def _too_large(diff: sp.Expr) -> bool:
    n = 0
    for node in sp.preorder_traversal(diff):
        n += 1
        if n > MAX_RATIONAL_NODES:
            return True
        if node.is_Pow and node.exp.is_Integer and abs(int(node.exp)) > MAX_EXPAND_DEGREE and not node.base.is_Atom:
            return True
    return False


_NEAR = np.linspace(-3.0, 3.0, 241)
_FAR = np.geomspace(3.0, 300.0, 80)
_OUT = np.array([1e3, 3e3, 1e4, 1e5, 1e6])
_LINE = np.sort(np.concatenate([-_FAR, _NEAR[(_NEAR != 0) & (np.abs(_NEAR) < 3.0)], _FAR, _OUT, -_OUT]))
_LINES = {"any": _LINE, "positive": _LINE[_LINE > 0], "negative": _LINE[_LINE < 0]}


def _line(sym: sp.Symbol) -> np.ndarray:
    """Values of one variable along which the reference's zeros are looked for (computed once)."""
    if sym.is_positive or sym.is_nonnegative:
        return _LINES["positive"]
    if sym.is_negative or sym.is_nonpositive:
        return _LINES["negative"]
    return _LINES["any"]


def _real_part(vals: np.ndarray | None, n: int) -> np.ndarray:
    if vals is None:
        return np.full(n, np.nan)
    ok = np.isfinite(vals) & (np.abs(vals.imag) <= 1e-12 * np.abs(vals.real) + 1e-300)
    return np.where(ok, vals.real, np.nan)


def _candidates(
    answer: sp.Expr, expected: sp.Expr, syms: Sequence[sp.Symbol], base: Mapping[sp.Symbol, float],
    rtol: float, atol: float,
) -> list[dict[sp.Symbol, float]]:
    """Points worth a precise look: the reference's zeros, minima of |reference|, float disagreements."""
    roots: list[dict[sp.Symbol, float]] = []
    minima: list[dict[sp.Symbol, float]] = []
    flagged: list[tuple[float, dict[sp.Symbol, float]]] = []
    with np.errstate(all="ignore"):
        for v in [s for s in syms if not s.is_integer][:MAX_LINES]:
            ts = _line(v)
            if ts.size < 3:
                continue
            e = _real_part(_eval_line(expected, syms, base, v, ts), ts.size)
            a = _real_part(_eval_line(answer, syms, base, v, ts), ts.size)
            # sign changes of the reference: bisect all intervals at once
            lo_i = np.nonzero(np.isfinite(e[:-1]) & np.isfinite(e[1:]) & (np.sign(e[:-1]) * np.sign(e[1:]) < 0))[0]
            lo, hi = ts[lo_i].copy(), ts[lo_i + 1].copy()
            f_lo = e[lo_i].copy()
            env_base = dict(base)
            for _ in range(_BISECT_STEPS if lo.size else 0):
                mid = (lo + hi) / 2
                fm = _real_part(_eval_line(expected, syms, env_base, v, mid), mid.size)
                left = np.sign(fm) == np.sign(f_lo)
                lo = np.where(left, mid, lo)
                f_lo = np.where(left, fm, f_lo)
                hi = np.where(left, hi, mid)
            for r in (lo + hi) / 2:
                roots.append({**base, v: float(r)})
            # local minima of |reference| that are not sign changes (x**2 + 1e-3, a double root)
            mag = np.abs(e)
            inner = mag[1:-1]
            low = np.nonzero(np.isfinite(inner) & (inner <= mag[:-2]) & (inner <= mag[2:]))[0] + 1
            for i in low[np.argsort(mag[low])][:4]:  # the deepest minima first
                minima.append({**base, v: float(ts[i])})
            # where float64 already sees a difference (confirmed, or dismissed, below)
            tol = atol + rtol * np.abs(e)
            gap = np.abs(a - e) / tol
            for i in np.argsort(-np.nan_to_num(gap, nan=-1.0))[:4]:
                if np.isfinite(gap[i]) and gap[i] > 1:
                    flagged.append((float(gap[i]), {**base, v: float(ts[i])}))
    flagged.sort(key=lambda g: -g[0])
    ordered = roots[:6] + [p for _, p in flagged] + roots[6:] + minima
    return ordered[:MAX_WITNESS_CANDIDATES]


def _eval_line(expr: sp.Expr, syms: Sequence[sp.Symbol], fixed: Mapping[sp.Symbol, float], v: sp.Symbol,
               ts: np.ndarray) -> np.ndarray | None:
    """Values of ``expr`` where ``v`` runs over ``ts`` and the other symbols stay at ``fixed``."""
    columns = {s: (ts if s is v else np.full(ts.size, fixed[s])) for s in syms}
    return float_eval_columns(expr, columns, ts.size)


def witness(
    answer: sp.Expr, expected: sp.Expr, rtol: float, atol: float, base: Mapping[sp.Symbol, float] | None,
    deadline: Deadline | None,
) -> Counterexample | None:
    """A point where ``answer`` and ``expected`` differ beyond the tolerance, or None (none found in time).

    ``base`` fixes the other variables while one is varied (a sample point where the reference is defined).
    """
    syms = sorted(answer.free_symbols | expected.free_symbols, key=lambda s: s.name)
    if not syms:
        return None
    start = {s: float((base or {}).get(s, 0.5 + 0.1 * k)) for k, s in enumerate(syms)}
    try:
        with enforced(deadline):
            for p in _candidates(answer, expected, syms, start, rtol, atol):
                e_hi = stable_value(expected, p, deadline)
                if e_hi is UNDEFINED or e_hi is HUGE or e_hi is UNSTABLE or not is_real_value(e_hi):
                    continue
                a_hi = stable_value(answer, p, deadline)
                if a_hi is UNSTABLE:
                    continue
                reason = classify(a_hi, e_hi, rtol, atol)
                if reason is not None:
                    return Counterexample(dict(p), a_hi, e_hi, reason)
    except Timeout:
        return None
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError, ZeroDivisionError):
        return None
    return None
