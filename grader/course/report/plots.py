"""The report's plots as ``data:`` URIs the page carries inline, each with its text alternative.

Why SVG data URIs: the page must work offline and alone (mailed, opened from a USB stick), so it
can load nothing; SVG keeps plots sharp at any zoom.  Why a text alternative per plot: a reader
who cannot see the picture (a screen reader, a text-only mail client) gets the same figures in
words and numbers; ``*_text`` functions write those sentences from the same data the plot draws.
Everything is deterministic: fixed hash salt, no date in the file.  Formulas are not drawn here:
the page writes them as MathML (``grader.course.grading.feedbackhtml.latex_to_mathml``).
"""

from __future__ import annotations

import base64
import io
import math
from typing import Sequence

from grader.course.report.functions import FunctionView, fmt

__all__ = ["histogram_uri", "histogram_text", "correct_rate_uri", "correct_rate_text", "function_uri",
           "function_text", "svg_uri"]

_RC = {"svg.hashsalt": "calcgrade-report", "svg.fonttype": "path", "font.size": 10}
YOURS, CORRECT = "#b3261e", "#1b6e20"   # the student's and the correct values (also told apart by marker)


def svg_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _save(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight",  # type: ignore[attr-defined]
                pad_inches=0.02, transparent=False, facecolor="white")
    return buf.getvalue()


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def histogram_uri(totals: Sequence[float], max_total: float, bins: Sequence[tuple[float, float, int]]) -> str:
    """Score distribution: how many students per band of the total."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(5.2, 2.8))
        ax = fig.add_subplot()
        lows = [lo for lo, _, _ in bins]
        widths = [hi - lo for lo, hi, _ in bins]
        counts = [n for _, _, n in bins]
        ax.bar(lows, counts, width=widths, align="edge", color="#3a5f9e", edgecolor="white")
        ax.set_xlim(0, max(max_total, 1e-9))
        ax.set_xlabel("total points")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title(f"Score distribution ({len(totals)} graded)", fontsize=10)
        return svg_uri(_save(fig))


def histogram_text(totals: Sequence[float], max_total: float, bins: Sequence[tuple[float, float, int]]) -> str:
    """The histogram in words: the bands that hold students, lowest first, and the spread."""
    if not totals:
        return "No graded submission yet."
    held = [f"{n} between {_num(lo)} and {_num(hi)}" for lo, hi, n in bins if n]
    empty = sum(1 for _, _, n in bins if not n)
    return (f"Totals of {len(totals)} graded submissions out of {_num(max_total)} points, from {_num(min(totals))} "
            f"to {_num(max(totals))}: " + "; ".join(held) + "."
            + (f" {empty} of the {len(bins)} bands hold nobody." if empty else ""))


def correct_rate_uri(qids: Sequence[str], rates: Sequence[float]) -> str:
    """% correct per question, as horizontal bars in notebook order (hardest stand out short)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(5.2, 0.8 + 0.24 * max(1, len(qids))))
        ax = fig.add_subplot()
        ys = list(range(len(qids)))
        pct = [100.0 * r for r in rates]
        colors = ["#b3261e" if p < 50 else "#a35200" if p < 75 else "#1b6e20" for p in pct]
        ax.barh(ys, pct, color=colors)
        ax.set_yticks(ys, labels=list(qids), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% correct")
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title("% correct per question", fontsize=10)
        for y, p in zip(ys, pct):
            ax.text(min(p + 1, 92), y, f"{p:.0f}%", va="center", fontsize=7)
        return svg_uri(_save(fig))


def correct_rate_text(qids: Sequence[str], rates: Sequence[float]) -> str:
    """The bars in words: every question's % correct in notebook order, the hardest named first."""
    if not qids:
        return "No question."
    pct = [round(100.0 * r) for r in rates]
    low = min(pct)
    hardest = [q for q, p in zip(qids, pct) if p == low]
    return (f"Hardest: {', '.join(hardest)} ({low}% correct). In notebook order: "
            + "; ".join(f"{q} {p}%" for q, p in zip(qids, pct)) + ".")


def function_uri(view: FunctionView) -> str | None:
    """A small plot of a wrong function answer: its outputs (crosses) against the correct ones
    (circles); None when there is nothing to plot."""
    points = [(x, y, c) for x, y, c in zip(view.xs, view.yours, view.correct)]
    if len(points) < 2:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    def finite(v: float | None) -> float:
        return v if v is not None and math.isfinite(v) else math.nan

    xs = [p[0] for p in points]
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(3.4, 1.9))
        ax = fig.add_subplot()
        ax.plot(xs, [finite(p[2]) for p in points], "o--", color=CORRECT, markerfacecolor="none", markersize=5,
                linewidth=1, label="correct")
        ax.plot(xs, [finite(p[1]) for p in points], "x-", color=YOURS, markersize=5, linewidth=1, label="yours")
        ax.set_xlabel(view.x_label, fontsize=8)
        ax.tick_params(labelsize=7)
        if view.x_label.startswith("output entry"):
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, frameon=False)
        return svg_uri(_save(fig))


def function_text(view: FunctionView) -> str:
    """The plot of ``function_uri`` in words (its alternative text; the summary sentence is printed
    beside it): every plotted pair of values, the student's first."""
    pairs = [f"{fmt(x) if view.x_label == 'x' else int(x)}: {fmt(y)} vs {fmt(c)}"
             for x, y, c in zip(view.xs, view.yours, view.correct)][:16]
    if not pairs:
        return ""
    what = "at x = " if view.x_label == "x" else f"by {view.x_label}, "
    more = f" (first {len(pairs)} of {len(view.xs)})" if len(view.xs) > len(pairs) else ""
    return f"Plot of your values (crosses) against the correct ones (circles){more}, {what}" + "; ".join(pairs) + "."
