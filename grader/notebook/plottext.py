"""The words of a verdict's plot: what the picture shows, for a reader who cannot see it.

Why: the plot of a wrong answer (``grader.notebook.plots``) is feedback; a student using a screen
reader, or reading an exported notebook as text, gets the same facts as sentences with numbers:
where the curves agree and where they differ (and by how much), and the correct values at the
marked points.  Each function takes the very arrays the plot draws.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["curve_text", "outputs_text", "loss_text", "num"]


def num(v: float) -> str:
    """3 significant digits, a plain minus sign (screen readers read "-2.3" as "minus 2.3")."""
    if not np.isfinite(v):
        return "undefined"
    text = f"{float(v):.3g}"
    return "0" if text == "-0" else text


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = np.isfinite(a) & np.isfinite(b)
    out = np.zeros(a.shape, dtype=bool)
    out[both] = np.abs(a[both] - b[both]) <= 1e-3 * np.maximum(1.0, np.abs(b[both]))
    out[~np.isfinite(a) & ~np.isfinite(b)] = True
    return out


def _runs(xs: np.ndarray, mask: np.ndarray) -> list[tuple[bool, float, float]]:
    """Maximal runs of equal mask values, as (value, first x, last x)."""
    runs: list[tuple[bool, float, float]] = []
    start = 0
    for i in range(1, len(xs) + 1):
        if i == len(xs) or mask[i] != mask[start]:
            runs.append((bool(mask[start]), float(xs[start]), float(xs[i - 1])))
            start = i
    return runs


def _where(var: str, lo: float, hi: float, x_lo: float, x_hi: float) -> str:
    if lo <= x_lo and hi >= x_hi:
        return "everywhere shown"
    if lo <= x_lo:
        return f"for {var} < {num(hi)}"
    if hi >= x_hi:
        return f"for {var} > {num(lo)}"
    return f"for {var} between {num(lo)} and {num(hi)}"


def _how(ys: np.ndarray, rs: np.ndarray) -> str:
    """"by a factor of about 2" or "by about 1.5" when the difference is that simple, else ""."""
    ok = np.isfinite(ys) & np.isfinite(rs) & (np.abs(rs) > 1e-9)
    if ok.sum() >= 3:
        ratio = ys[ok] / rs[ok]
        if np.std(ratio) <= 0.02 * max(1.0, abs(float(np.mean(ratio)))):
            return f" (yours is about {num(float(np.mean(ratio)))} times the correct value)"
    ok = np.isfinite(ys) & np.isfinite(rs)
    if ok.sum() >= 3:
        diff = ys[ok] - rs[ok]
        if np.std(diff) <= 0.02 * max(1.0, abs(float(np.mean(diff)))):
            return f" (yours is off by about {num(float(np.mean(diff)))})"
    return ""


def curve_text(var: str, xs: np.ndarray, ys: np.ndarray, ref: np.ndarray | None,
               crosses: Sequence[tuple[float, float]], correct: Sequence[tuple[float, float]],
               subject: str = "your answer", noun: str = "the correct one") -> str:
    """A curve plot in words: the range drawn, agreement with the reference curve when it is drawn,
    the points marked as wrong and the correct values marked."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    x_lo, x_hi = float(xs[0]), float(xs[-1])
    parts = [f"Plot of {subject} for {var} from {num(x_lo)} to {num(x_hi)}."]
    if ref is not None:
        ref = np.asarray(ref, dtype=float)
        same = _close(ys, ref)
        for ok, lo, hi in _runs(xs, same):  # curves that cross agree on a sliver: that is no agreement
            if ok and hi - lo < 0.05 * (x_hi - x_lo):
                same[(xs >= lo) & (xs <= hi)] = False
        runs = _runs(xs, same)
        agree = [_where(var, lo, hi, x_lo, x_hi) for ok, lo, hi in runs if ok and hi > lo]
        differ = [(lo, hi) for ok, lo, hi in runs if not ok]
        if not differ:
            parts.append(f"It agrees with {noun} everywhere shown.")
        else:
            mask = ~same
            how = _how(ys[mask], ref[mask])
            where = "; ".join(_where(var, lo, hi, x_lo, x_hi) for lo, hi in differ[:3])
            parts.append((f"It agrees with {noun} {', '.join(agree[:3])} and differs {where}{how}."
                          if agree else f"It differs from {noun} {where}{how}."))
    if crosses:
        parts.append("It disagrees at " + ", ".join(f"{var} = {num(x)} (yours {num(y)})" for x, y in crosses[:3]) + ".")
    if correct:
        parts.append("The correct values are " + ", ".join(f"{num(y)} at {var} = {num(x)}" for x, y in correct[:4]) + ".")
    return " ".join(parts)


def outputs_text(xs: Sequence[float], ys: Sequence[float], ref: Sequence[float] | None) -> str:
    """A plot of a function's outputs at the grader's inputs, in words: each input with both outputs."""
    pairs = []
    for i, x in enumerate(xs[:8]):
        right = f", correct {num(ref[i])}" if ref is not None else ""
        pairs.append(f"x = {num(x)}: yours {num(ys[i])}{right}")
    more = f" (first 8 of {len(xs)})" if len(xs) > 8 else ""
    return f"Plot of your function's outputs at the grader's inputs{more}: " + "; ".join(pairs) + "."


def loss_text(curve: Sequence[float], ref: Sequence[float] | None) -> str:
    """A loss curve in words: its length and where it starts and ends, and the reference run's."""
    c = np.asarray(curve, dtype=float)
    text = f"Plot of your loss curve over {c.size} steps, from {num(c[0])} to {num(c[-1])}"
    if ref is not None and len(ref):
        r = np.asarray(ref, dtype=float)
        text += f"; the reference run goes from {num(r[0])} to {num(r[-1])} over {r.size} steps"
    return text + "."
