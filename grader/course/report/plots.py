"""The report's pictures: matplotlib plots and math, as ``data:`` URIs the page carries inline.

Why SVG data URIs: the page must work offline and alone (mailed, opened from a USB stick), so it
can load nothing; SVG keeps plots and formulas sharp at any zoom.  Math is drawn by matplotlib's
mathtext (the subset of LaTeX that ``sympy.latex`` produces for the course's answers) with glyphs
as paths, so no font and no MathJax is needed.  Everything is deterministic: fixed hash salt, no
date in the file.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from typing import Sequence

__all__ = ["math_uri", "histogram_uri", "correct_rate_uri", "svg_uri"]

FONT_SIZE = 13
_RC = {"svg.hashsalt": "calcgrade-report", "svg.fonttype": "path", "font.size": 10}


def svg_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def _save(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight",  # type: ignore[attr-defined]
                pad_inches=0.02, transparent=True)
    return buf.getvalue()


@lru_cache(maxsize=2048)
def math_uri(latex: str) -> str | None:
    """The formula ``latex`` drawn as an SVG data URI, or None when mathtext cannot read it."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    text = latex.strip()
    if not text:
        return None
    text = f"${text}$"
    prop = FontProperties(size=FONT_SIZE)
    try:
        with matplotlib.rc_context(_RC):
            width, height, depth, _, _ = MathTextParser("path").parse(text, dpi=72, prop=prop)
            fig = Figure(figsize=(max(width, 1) / 72.0, max(height, 1) / 72.0))
            fig.text(0, depth / max(height, 1), text, fontproperties=prop)
            return svg_uri(_save(fig))
    except Exception:  # mathtext does not read every LaTeX construct: the caller shows the source
        return None


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
        ax.bar(lows, counts, width=widths, align="edge", color="#4c72b0", edgecolor="white")
        ax.set_xlim(0, max(max_total, 1e-9))
        ax.set_xlabel("total points")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_title(f"Score distribution ({len(totals)} graded)", fontsize=10)
        return svg_uri(_save(fig))


def correct_rate_uri(qids: Sequence[str], rates: Sequence[float]) -> str:
    """% correct per question, as horizontal bars in notebook order (hardest stand out short)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(5.2, 0.8 + 0.24 * max(1, len(qids))))
        ax = fig.add_subplot()
        ys = list(range(len(qids)))
        pct = [100.0 * r for r in rates]
        colors = ["#c44e52" if p < 50 else "#dd8452" if p < 75 else "#55a868" for p in pct]
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
