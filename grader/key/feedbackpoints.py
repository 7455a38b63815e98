"""Feedback points: the reference's values at a few points of the public key, for the student's eyes.

Why: a self-check that only says "at x = 0.902 your answer is 1.21, which is not the correct value"
leaves the student guessing; with the correct value there ("... but the correct value is 2.42") and
those values marked on the plot, the student can see how far off the answer is and in which way.

What it reveals: the reference's values at ``N_FEEDBACK`` points, chosen by their own seed and apart
from the fingerprint points (whose values stay hashed), rounded to three significant digits so that
the message shows them exactly.  A few values of a function do not give its formula away; number
questions and numeric array entries get none (their value is the answer).

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

__all__ = ["N_FEEDBACK", "FeedbackCounterexample", "build_feedback", "feedback_counterexample", "feedback_marks"]

N_FEEDBACK = 3
SEED_OFFSET = 104729   # feedback points are drawn with their own seed, apart from the fingerprint points


def _round3(v: float) -> float:
    return float(f"{v:.3g}") if v != 0 else 0.0


def build_feedback(checked: Sequence[sp.Expr | None], symbols: Sequence[sp.Symbol], qid: str,
                   avoid: Sequence[Mapping[str, float]]) -> dict[str, Any] | None:
    """The feedback points and the values of each ``checked`` expression there (None: no values for
    that one, e.g. a constant array entry); None when nothing has a variable."""
    exprs = [e for e in checked if e is not None and e.free_symbols]
    if not exprs or not symbols:
        return None

    def defined(p: Mapping[str, float]) -> bool:
        return all(fpm.eval_scalar(e, p) is not None for e in exprs)

    taken = {tuple(sorted(p.items())) for p in avoid}
    points: list[dict[str, float]] = []
    for p in fpm.sample_for(list(symbols), 4 * N_FEEDBACK, fpm.seed_for(qid) + SEED_OFFSET, defined):
        q = {name: _round3(v) for name, v in p.items()}
        key = tuple(sorted(q.items()))
        if key in taken or not defined(q):
            continue
        taken.add(key)
        points.append(q)
        if len(points) == N_FEEDBACK:
            break
    if not points:
        return None
    values = [None if e is None or not e.free_symbols else [fpm.eval_scalar(e, p) for p in points]
              for e in checked]
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
