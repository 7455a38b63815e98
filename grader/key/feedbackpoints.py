"""Feedback points: the reference's values at a few points of the public key, for the student's eyes.

Why: a self-check that only says "at x = 0.902 your answer is 1.21, which is not the correct value"
leaves the student guessing; with the correct value there ("... but the correct value is 2.42") and
those values marked on the plot, the student can see how far off the answer is and in which way.

What it reveals: the reference's values at up to ``N_FEEDBACK`` points, chosen by their own seed and
apart from the fingerprint points (whose values stay hashed), rounded to three significant digits so
that the message shows them exactly.  Values must never let a student *fit* the answer: three values of
an affine function of two variables, or of a quadratic in one, pin it down.  So each checked
expression gets fewer values than it has unknown coefficients (``fit_limit``: its additive terms once
expanded, minus one); a single-term answer (``10*x**9``) gets none, and number questions and numeric
array entries get none either (their value is the answer).  An antiderivative's values are those of
the integrand, which the question states anyway, so it keeps all of them.  Points respect the
author's per-variable ``domain`` (``question(..., domain={"s": (0, 1)})``), so a correct value is never
shown at an impossible input such as a probability of 2.26.

Stored in a public entry as ``"feedback": {"points": [{name: value}], "values": [[v or None per point]
per checked expression]}``: one list for an expression (its values), an antiderivative (the
integrand's), and one per entry for an array (None for entries without a variable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import sympy as sp

from grader.key import fingerprint as fpm

__all__ = ["N_FEEDBACK", "FeedbackCounterexample", "build_feedback", "feedback_counterexample", "feedback_marks",
           "fit_limit", "variable_domains"]

N_FEEDBACK = 3
SEED_OFFSET = 104729   # feedback points are drawn with their own seed, apart from the fingerprint points


def _round3(v: float) -> float:
    return float(f"{v:.3g}") if v != 0 else 0.0


def fit_limit(expr: sp.Expr) -> int:
    """How many values of ``expr`` the public key may show: fewer than its unknown coefficients.

    Why: a student who guesses the form of the answer (affine, quadratic, c * x**9) fits its
    coefficients to the values shown; with fewer values than coefficients the fit is underdetermined.
    The coefficients are counted as the additive terms of the expanded expression (each a coefficient
    times a basis function the student would have to guess), so ``s - s**2`` allows 1 value, ``10*x**9``
    none."""
    try:
        terms = len(sp.Add.make_args(sp.expand(expr)))
    except Exception:  # an expression SymPy cannot expand: show nothing rather than too much
        return 0
    return max(0, min(N_FEEDBACK, terms - 1))


def variable_domains(domain: Any) -> dict[str, tuple[float, float]]:
    """The author's per-variable domains (``{"s": [0, 1]}``); a plain pair (the plot's window) is none."""
    if isinstance(domain, Mapping):
        return {str(k): (float(v[0]), float(v[1])) for k, v in domain.items()}
    return {}


def _in_domain(point: Mapping[str, float], domains: Mapping[str, tuple[float, float]]) -> bool:
    return all(lo <= point[n] <= hi for n, (lo, hi) in domains.items() if n in point)


def _domain_points(symbols: Sequence[sp.Symbol], n: int, seed: int,
                   domains: Mapping[str, tuple[float, float]]) -> list[dict[str, float]]:
    """Seeded points with every variable that has a domain drawn inside it (the others as the core draws)."""
    import random

    rng = random.Random(seed)
    out = []
    for p in fpm.sample_for(list(symbols), n, seed):
        q = dict(p)
        for name, (lo, hi) in domains.items():
            if name in q:
                q[name] = lo + (hi - lo) * (0.05 + 0.9 * rng.random())
        out.append(q)
    return out


def build_feedback(checked: Sequence[sp.Expr | None], symbols: Sequence[sp.Symbol], qid: str,
                   avoid: Sequence[Mapping[str, float]], *, kind: str = "expression",
                   domain: Any = None) -> dict[str, Any] | None:
    """The feedback points and the values of each ``checked`` expression there (None: no values for
    that one, e.g. a constant array entry, or a point beyond its ``fit_limit``); None when nothing
    may be shown."""
    domains = variable_domains(domain)
    exprs = [e for e in checked if e is not None and e.free_symbols]
    if not exprs or not symbols:
        return None
    limits = [0 if e is None or not e.free_symbols else (N_FEEDBACK if kind == "antiderivative" else fit_limit(e))
              for e in checked]
    wanted = max(limits)
    if wanted == 0:
        return None

    def defined(p: Mapping[str, float]) -> bool:
        return _in_domain(p, domains) and all(fpm.eval_scalar(e, p) is not None for e in exprs)

    taken = {tuple(sorted(p.items())) for p in avoid}
    seed = fpm.seed_for(qid) + SEED_OFFSET
    candidates = (_domain_points(symbols, 8 * N_FEEDBACK, seed, domains) if domains
                  else fpm.sample_for(list(symbols), 4 * N_FEEDBACK, seed, defined))
    points: list[dict[str, float]] = []
    for p in candidates:
        q = {name: _round3(v) for name, v in p.items()}
        key = tuple(sorted(q.items()))
        if key in taken or not defined(q):
            continue
        taken.add(key)
        points.append(q)
        if len(points) == wanted:
            break
    if not points:
        return None
    values = [None if e is None or not e.free_symbols or limit == 0
              else [fpm.eval_scalar(e, p) if j < limit else None for j, p in enumerate(points)]
              for e, limit in zip(checked, limits)]
    return {"points": points, "values": values}


def _differs(s: float | None, r: float, rtol: float, atol: float) -> bool:
    if s is None or not math.isfinite(s):
        return True
    return abs(s - r) > atol + rtol * max(abs(r), abs(s))


@dataclass
class FeedbackCounterexample:
    """Where an answer differs from the reference at a feedback point, formatted like the core's."""

    where: str                 # "x = 0.902, y = 1.5"
    answer: str                # the student's value there ("undefined" when it is not defined)
    expected: str              # the correct value there
    details: dict[str, Any] = field(default_factory=dict)   # {"point", "answer", "expected"}

    def sentence(self, subject: str = "your answer", noun: str = "the correct value") -> str:
        """"At x = 0.902 your answer is 1.21 but the correct value is 2.42." """
        if self.details.get("answer") is None:
            return f"At {self.where} {subject} is undefined, but {noun} is {self.expected}."
        return f"At {self.where} {subject} is {self.answer} but {noun} is {self.expected}."


def feedback_counterexample(entry: Mapping[str, Any], expr: sp.Expr, index: int = 0
                            ) -> FeedbackCounterexample | None:
    """The first feedback point where ``expr`` (the student's answer, its derivative for an
    antiderivative, or entry ``index`` of an array) differs from the reference, else None."""
    from grader.core.equivalence import format_pair, format_value

    fb = entry.get("feedback") or {}
    points = fb.get("points") or []
    values = fb.get("values") or []
    if index >= len(values) or not values[index]:
        return None
    rtol, atol = float(entry.get("rtol", 1e-6)), float(entry.get("atol", 1e-9))
    for point, ref in zip(points, values[index]):
        if ref is None:
            continue
        s = fpm.eval_scalar(expr, point)
        if not _differs(s, ref, rtol, atol):
            continue
        where = ", ".join(f"{k} = {format_value(float(v))}" for k, v in sorted(point.items()))
        shown_s, shown_r = format_pair(s, ref) if s is not None else ("undefined", format_value(ref))
        return FeedbackCounterexample(where, shown_s, shown_r, {"point": dict(point), "answer": s, "expected": ref})
    return None


def feedback_marks(entry: Mapping[str, Any], index: int = 0) -> list[dict[str, Any]]:
    """The feedback points with the correct value at each (for the plot): [{"point", "expected"}]."""
    fb = entry.get("feedback") or {}
    values = fb.get("values") or []
    if index >= len(values) or not values[index]:
        return []
    return [{"point": dict(p), "expected": v} for p, v in zip(fb.get("points") or [], values[index])
            if v is not None]
