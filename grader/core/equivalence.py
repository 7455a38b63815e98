"""Numeric evidence and symbolic proof that two expressions are equal as real functions.

Why this order: sampling is cheap and decides almost every case, and only
sampling can produce a counterexample a student understands ("at x = 0.731 your
answer is 1.21 but the correct value is 2.42"). Symbolic simplification is slow
and fails in both directions (true identities it cannot prove, timeouts), so it
only *confirms* an equality that the numbers already support.

Evaluation runs in two tiers:

* float64 on all sample points at once, through a small compiler from the SymPy
  tree to NumPy complex128 operations (no ``lambdify``/``exec`` and no per-call
  code generation, so a comparison costs well under a millisecond);
* mpmath at 30 (then 60) significant digits, per point, wherever float64 cannot
  be trusted: a non-finite value (overflow of ``(x+1)**100000``, ``0*inf``), and
  every apparent disagreement (which may be cancellation) before it is reported.
  Guards refuse operations whose result would need astronomically many digits
  (``exp`` of a huge argument, ``sin`` of ``x**(10**10)``): such a point is
  treated as "cannot be evaluated" rather than computed.

Symbols are sampled at seeded pseudo-random real points that are never integers,
spread over several scales (mostly in [-3, 3], some of magnitude 3..300, some
small), respecting assumptions (positive, negative, integer, nonzero).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import mpmath
import numpy as np
import sympy as sp

from grader.core.budget import Deadline, Timeout, enforced

# Modules that SymPy's simplify family imports lazily on first use. Importing them now means a
# deadline can never interrupt (and leave half-initialised) an import in the middle of a proof.
import sympy.assumptions.wrapper  # noqa: E402,F401
import sympy.combinatorics  # noqa: E402,F401
import sympy.physics.matrices  # noqa: E402,F401
import sympy.physics.units  # noqa: E402,F401
import sympy.sets.handlers.issubset  # noqa: E402,F401
import sympy.sets.setexpr  # noqa: E402,F401
import sympy.tensor.tensor  # noqa: E402,F401

from grader.core.evaluation import (
    HUGE, UNDEFINED, evaluate, evaluate_many, float_eval, mp_context, precise, precise_checked,
)
from grader.core.sampling import MIN_VALID, N_POINTS, SEED, narrow_points, sample_points

__all__ = [
    "SEED",
    "sample_points",
    "evaluate",
    "evaluate_many",
    "Counterexample",
    "Evidence",
    "UNSTABLE",
    "stable_value",
    "classify_values",
    "is_real_value",
    "numeric_compare",
    "values_close",
    "prove_equal",
    "format_value",
    "format_point",
]

# ---------------------------------------------------------------------------
# comparing values

def _is_mpc(v: Any) -> bool:
    # each mpmath context has its own number classes, so test by duck type
    return hasattr(v, "_mpc_")


def _is_real(v: Any) -> bool:
    if isinstance(v, complex):
        return abs(v.imag) <= 1e-9 * abs(v) + 1e-300
    if _is_mpc(v):
        return abs(v.imag) <= 1e-9 * abs(v)
    return True


def _re(v: Any) -> Any:
    if isinstance(v, complex) or _is_mpc(v):
        return v.real
    return v


def values_close(a: Any, e: Any, rtol: float, atol: float) -> bool:
    """|a - e| <= atol + rtol * |e| for complex or mpmath values."""
    if isinstance(a, complex) and isinstance(e, complex):
        return abs(a - e) <= atol + rtol * abs(e)
    ctx = mp_context(30)
    a_, e_ = ctx.mpmathify(a), ctx.mpmathify(e)
    return bool(abs(a_ - e_) <= atol + rtol * abs(e_))


def format_value(v: Any) -> str:
    """Short human form of a value (4 significant digits)."""
    if v is UNDEFINED or v is None:
        return "undefined"
    if v is HUGE:
        return "astronomically large"
    if (isinstance(v, complex) or _is_mpc(v)) and not _is_real(v):
        re_, im_ = v.real, v.imag
        return f"{_fmt_real(re_)} {'+' if im_ >= 0 else '-'} {_fmt_real(abs(im_))}i"
    return _fmt_real(_re(v))


def _fmt_real(r: Any) -> str:
    if isinstance(r, (int, float, np.floating)):
        r = float(r)
        if r == 0:
            return "0"
        if 1e-4 <= abs(r) < 1e6:
            s = f"{r:.4g}"
        else:
            s = f"{r:.3e}".replace("e+0", "e+").replace("e-0", "e-")
        return s
    if r == 0:
        return "0"
    s = mpmath.nstr(r, 4, min_fixed=-4, max_fixed=6)
    return s[:-2] if s.endswith(".0") else s


def format_pair(a: Any, e: Any) -> tuple[str, str]:
    """Format two values with just enough digits to show that they differ."""
    sa, se = format_value(a), format_value(e)
    if sa != se or a is e:
        return sa, se
    for digits in (6, 9, 12, 15):
        try:
            ra, re_ = _re(a), _re(e)
            if not (_is_real(a) and _is_real(e)):
                break
            sa = mpmath.nstr(mpmath.mpf(ra), digits)
            se = mpmath.nstr(mpmath.mpf(re_), digits)
        except Exception:
            break
        if sa != se:
            break
    return sa, se


def format_point(point: Mapping[sp.Symbol, float]) -> str:
    return ", ".join(f"{s.name} = {_fmt_real(float(v))}" for s, v in sorted(point.items(), key=lambda kv: kv[0].name))


@dataclass
class Counterexample:
    point: dict[sp.Symbol, float]
    answer: Any
    expected: Any
    reason: str  # "value" | "undefined" | "complex" | "huge"

    def to_dict(self) -> dict[str, Any]:
        def num(v: Any) -> Any:
            if v is UNDEFINED or v is None:
                return None
            if v is HUGE:
                return "huge"
            if _is_real(v):
                return float(_re(v))
            return {"re": float(v.real), "im": float(v.imag)}  # a complex value

        return {
            "point": {s.name: v for s, v in sorted(self.point.items(), key=lambda kv: kv[0].name)},
            "answer": num(self.answer),
            "expected": num(self.expected),
            "reason": self.reason,
        }

    def sentence(self, subject: str = "your answer", noun: str = "the correct value") -> str:
        where = f"at {format_point(self.point)} " if self.point else ""
        shown_a, exp = format_pair(self.answer, self.expected)
        if self.reason == "undefined":
            return f"{where}{subject} is undefined, but {noun} is {exp}".strip()
        if self.reason == "huge":
            return f"{where}{subject} is astronomically large, but {noun} is {exp}".strip()
        if self.reason == "complex":
            return f"{where}{subject} is not a real number ({format_value(self.answer)}), but {noun} is {exp}".strip()
        return f"{where}{subject} is {shown_a} but {noun} is {exp}".strip()


@dataclass
class Evidence:
    """Outcome of sampling two expressions."""

    status: str  # "equal" | "different" | "undetermined"
    points: list[dict[sp.Symbol, float]] = field(default_factory=list)
    answer_values: list[Any] = field(default_factory=list)
    expected_values: list[Any] = field(default_factory=list)
    counterexample: Counterexample | None = None


def _classify(a: Any, e: Any, rtol: float, atol: float) -> str | None:
    """None when equal at this point, else the reason they differ."""
    if a is UNDEFINED:
        return "undefined"
    if a is HUGE:
        return "huge"
    if not _is_real(a):
        return "complex"
    if values_close(_re(a), _re(e), rtol, atol):
        return None
    return "value"


def classify_values(a: Any, e: Any, rtol: float, atol: float) -> str | None:
    """None when the answer's value ``a`` equals the reference's real value ``e`` within the
    tolerance, else why not: "undefined", "huge", "complex" or "value" (a Counterexample's reason)."""
    return _classify(a, e, rtol, atol)


def is_real_value(v: Any) -> bool:
    """Whether a value from ``evaluate``/``stable_value`` is real (imaginary part negligible)."""
    return _is_real(v)


def numeric_compare(
    answer: sp.Expr,
    expected: sp.Expr,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    seed: int = SEED,
    n: int = N_POINTS,
    deadline: Deadline | None = None,
    patience: Deadline | None = None,
) -> Evidence:
    """Compare two expressions at seeded points where ``expected`` is real and finite.

    ``patience``: how long cancelling points may be re-evaluated beyond 60 digits (``stable_value``).
    """
    syms = sorted(answer.free_symbols | expected.free_symbols, key=lambda s: s.name)
    if not syms:
        batches: list[list[dict[sp.Symbol, float]]] = [[{}]]
    else:
        batches = [sample_points(syms, n, seed), narrow_points(syms, 40, seed + 1)]
    points: list[dict[sp.Symbol, float]] = []
    e_vals: list[Any] = []
    for batch in batches:
        ev = float_eval(expected, syms, batch)
        for i, p in enumerate(batch):
            v: Any = None
            if ev is not None and np.isfinite(ev[i]):
                v = complex(ev[i])
            else:
                v, cancelled = precise_checked(expected, p, 30)
                if v is UNDEFINED and cancelled:
                    v = stable_value(expected, p, deadline, patience)
                if v is UNDEFINED or v is HUGE or v is UNSTABLE:
                    continue
            if not _is_real(v):
                continue
            points.append(p)
            e_vals.append(v)
        if len(points) >= MIN_VALID:
            break
        if deadline is not None and deadline.expired():
            raise Timeout
    if not points:
        return Evidence("undetermined")
    av = float_eval(answer, syms, points)
    a_vals: list[Any] = []
    suspects: list[int] = []
    for i, p in enumerate(points):
        a: Any = complex(av[i]) if av is not None and np.isfinite(av[i]) else None
        e = e_vals[i]
        if a is None or not isinstance(e, complex):
            a = precise(answer, p, 30)
            if not isinstance(e, complex) or a is UNDEFINED or a is HUGE:
                pass
        a_vals.append(a)
        if _classify(a, e, rtol, atol) is not None:
            suspects.append(i)
    if not suspects:
        return Evidence("equal", points, a_vals, e_vals)
    # confirm the disagreement at higher precision, nicest point first
    suspects.sort(key=lambda i: (sum(abs(math.log10(abs(v) + 1e-12)) for v in points[i].values()), i))
    skipped = 0
    for k, i in enumerate(suspects):
        if k >= 4 and deadline is not None and deadline.expired():
            raise Timeout
        p = points[i]
        e_hi = stable_value(expected, p, deadline, patience)
        if e_hi is UNDEFINED or e_hi is HUGE or e_hi is UNSTABLE or not _is_real(e_hi):
            a_vals[i], skipped = UNDEFINED, skipped + 1
            continue
        a_hi = stable_value(answer, p, deadline, patience)
        if a_hi is UNSTABLE:
            # only a cancellation, however many digits: no counterexample, use the other points
            a_vals[i], skipped = UNDEFINED, skipped + 1
            continue
        reason = _classify(a_hi, e_hi, rtol, atol)
        if reason is None:
            a_vals[i], e_vals[i] = a_hi, e_hi  # a float64 artefact (overflow, cancellation)
            continue
        return Evidence("different", points, a_vals, e_vals, Counterexample(dict(p), a_hi, e_hi, reason))
    if skipped and len(points) - skipped < MIN_VALID:
        # too few points were really compared to call it equal
        return Evidence("undetermined", points, a_vals, e_vals)
    return Evidence("equal", points, a_vals, e_vals)


UNSTABLE = "unstable"  # no trustworthy value: digits cancel at every precision tried
MAX_DPS = 960


def stable_value(expr: sp.Expr, point: Mapping[sp.Symbol, float], deadline: Deadline | None = None,
                 patience: Deadline | None = None) -> Any:
    """Value at ``point`` at a precision where doubling the digits no longer changes it.

    Cancellation (``cosh(x) + sinh(x)`` at x = -66.5, ``1 - 1/(1 + exp(-z))`` at z = 192) eats
    digits, down to an exact 0 that a ``log`` or a division then finds undefined. The working
    precision is raised (30, 60, 240, MAX_DPS digits) until two defined results agree.
    Returns the value, UNDEFINED where the expression is undefined without any cancellation (a
    missing Piecewise branch), HUGE, or UNSTABLE when the digits never settle: a cancellation,
    never evidence against an answer. ``patience`` (a deadline, shared by the points of a call)
    bounds the work beyond 60 digits: once it has passed, such a point is UNSTABLE (skipped).
    """
    prev: Any = None
    dps = 30
    while True:
        cur, cancelled = precise_checked(expr, point, dps)
        if cur is HUGE:
            return HUGE
        if cur is UNDEFINED:
            if not cancelled:
                return UNDEFINED
            prev = None
        elif cancelled and cur == 0:
            # nonzero terms that cancel to an exact 0 (cosh(133)**2 - sinh(133)**2 at 30 and at 60
            # digits) agree with each other, not with the value: only more digits can tell
            prev = None
        elif prev is not None and values_close(cur, prev, 1e-12, 0.0):
            return cur
        else:
            prev = cur
        if dps >= MAX_DPS:
            return UNSTABLE
        if deadline is not None and deadline.expired():
            raise Timeout
        if dps >= 60 and patience is not None and patience.expired():
            return UNSTABLE
        dps = min(MAX_DPS, dps * (2 if dps < 60 else 4))


# ---------------------------------------------------------------------------
# symbolic confirmation

MAX_PROOF_NODES = 600
MAX_EXPAND_DEGREE = 40


def _node_count(expr: sp.Basic, limit: int) -> int:
    n = 0
    for _ in sp.preorder_traversal(expr):
        n += 1
        if n > limit:
            break
    return n


def _expand_is_safe(expr: sp.Basic) -> bool:
    for p in expr.atoms(sp.Pow):
        if p.exp.is_Number and abs(p.exp) > MAX_EXPAND_DEGREE and not p.base.is_Atom:
            return False
        if p.exp.is_Number and abs(p.exp) > 10**6:
            return False
        if not p.exp.is_Number and p.exp.has(sp.Pow) and not p.base.is_Atom:
            return False
    return True


def _is_zero(expr: sp.Basic) -> bool:
    return expr == 0 or (expr.is_number and expr.is_zero is True)


def prove_equal(answer: sp.Expr, expected: sp.Expr, deadline: Deadline | None = None) -> bool | None:
    """True when SymPy proves ``answer == expected`` before ``deadline``; None otherwise.

    Cheap tactics first (structure, expand/cancel with size guards), then the
    simplify family; ``force=True`` variants are sound here because the symbols
    are real and numeric agreement on the reference's domain has been shown.
    """
    if answer == expected:
        return True
    try:
        with enforced(deadline):
            diff = answer - expected
            if _is_zero(diff):
                return True
            if _node_count(diff, MAX_PROOF_NODES) > MAX_PROOF_NODES:
                return None
            if not _expand_is_safe(diff):
                # simplify would expand (x+1)**100000 in a loop that no tracer can interrupt
                return None
            if diff.has(sp.Float):
                # 0.5*x**-0.5 - 1/(2*sqrt(x)): floats that are exactly short decimals become rationals
                diff = sp.nsimplify(diff, rational=True)
                if _is_zero(diff):
                    return True
            trig = diff.has(sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc)
            hyper = diff.has(sp.sinh, sp.cosh, sp.tanh, sp.exp)
            logs = diff.has(sp.log) or any(not p.exp.is_Integer for p in diff.atoms(sp.Pow))
            # cheapest first; measured on the benchmark corpus, the rewrite to exponentials settles most
            # trig, hyperbolic and sigmoid identities in 5-30 ms where simplify needs 30-130 ms
            tactics: list[Callable[[sp.Expr], sp.Expr]] = [lambda d: sp.expand(d)]
            if diff.is_rational_function():
                tactics.append(lambda d: sp.cancel(d))
            if trig:
                tactics.append(lambda d: sp.expand(sp.expand_trig(d)))
            if trig or hyper:
                tactics.append(lambda d: sp.factor_terms(sp.together(sp.expand(d.rewrite(sp.exp)))))
            if trig:
                tactics.append(lambda d: sp.fu(d))
            if logs:
                tactics.append(
                    lambda d: sp.expand(sp.powdenest(sp.expand_log(d, force=True), force=True), force=True)
                )
            if diff.has(sp.Abs, sp.sign, sp.Max, sp.Min, sp.Heaviside, sp.Piecewise):
                # ReLU-style answers: split into cases (Max(0, x) == (x + |x|)/2)
                tactics.append(lambda d: sp.piecewise_fold(d.rewrite(sp.Piecewise)).simplify())
            tactics += [
                lambda d: sp.simplify(d),
                lambda d: sp.simplify(sp.logcombine(sp.expand_log(d, force=True), force=True)),
                lambda d: sp.simplify(sp.powsimp(sp.powdenest(d, force=True), force=True)),
            ]
            for tactic in tactics:
                try:
                    if _is_zero(tactic(diff)):
                        return True
                except Timeout:
                    raise
                except Exception:
                    continue
    except Timeout:
        return None
    except RecursionError:
        return None
    return None
