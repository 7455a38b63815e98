"""How a verdict looks in a notebook: rich HTML, plain text, and a machine-readable JSON form.

``CheckResult`` is what ``check()`` returns (or displays under nbgrader).  Its mime bundle holds:

* ``text/html``: ``<div class="calcgrade-verdict" data-qid=... data-correct="true|false|unanswered">``
  with the mark, the points, the student's answer in LaTeX, the message (the hint of a recognised
  mistake), the counterexample, and for a wrong function-shaped answer an inline PNG plot;
* ``text/plain``: the same, readable in a terminal or an exported notebook;
* ``application/vnd.calcgrade.verdict+json``: what ``calcgrade check`` collects.
"""

from __future__ import annotations

import base64
import html
from typing import Any, Mapping

__all__ = ["CheckResult", "VERDICT_MIME"]

VERDICT_MIME = "application/vnd.calcgrade.verdict+json"

_STYLE = (
    "border-left:4px solid {color};padding:6px 10px;margin:4px 0;background:{bg};"
    "font-family:var(--jp-content-font-family, sans-serif);"
)


class CheckResult:
    """The outcome of one ``check`` call, displayable in Jupyter."""

    def __init__(self, qid: str, status: str, earned: float, max_points: float | None, message: str,
                 *, misconception: str | None = None, method: str = "", answer_latex: str = "",
                 answer_text: str = "", counterexample: str = "", plot_png: bytes | None = None,
                 key: str = "", score: float = 0.0) -> None:
        self.qid = qid
        self.status = status            # "correct" | "wrong" | "unanswered" | "error"
        self.earned = float(earned)
        self.max_points = max_points
        self.message = message
        self.misconception = misconception
        self.method = method
        self.answer_latex = answer_latex
        self.answer_text = answer_text
        self.counterexample = counterexample
        self.plot_png = plot_png
        self.key = key
        self.score = float(score)
        self.elapsed = 0.0

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def build(cls, qid: str, entry: Mapping[str, Any], answer: Any, verdict: Any, *, value: Any = None) -> "CheckResult":
        points = float(entry.get("points", 1.0) or 0.0)
        unanswered = (verdict.details or {}).get("reason") == "unanswered"
        status = "correct" if verdict.correct else ("unanswered" if unanswered else "wrong")
        earned = float(verdict.score) * points if verdict.correct or verdict.score else 0.0
        latex, text = ("", "") if unanswered else _render_answer(value, entry)
        counter = _counterexample_text(verdict.details or {})
        plot = None
        if status == "wrong" and verdict.method not in ("timeout", "invalid"):
            try:
                from grader.notebook.plots import plot_for

                plot = plot_for(entry, answer, verdict, value)
            except Exception:
                plot = None
        return cls(qid, status, round(earned, 6), points, verdict.message, misconception=verdict.misconception,
                   method=verdict.method, answer_latex=latex, answer_text=text, counterexample=counter,
                   plot_png=plot, key="private" if "reference" in entry else "public", score=verdict.score)

    @classmethod
    def recorded(cls, qid: str) -> "CheckResult":
        return cls(qid, "recorded", 0.0, None, "Recorded for the answer key.")

    @classmethod
    def no_key(cls, qid: str, problem: str) -> "CheckResult":
        return cls(qid, "error", 0.0, None, f"This answer cannot be checked here: {problem}.")

    @classmethod
    def internal_error(cls, qid: str, exc: BaseException) -> "CheckResult":
        return cls(qid, "error", 0.0, None,
                   f"The checker could not grade this answer ({exc.__class__.__name__}); your work is not lost, "
                   "try running the cell again.")

    # -- forms --------------------------------------------------------------------------------------
    @property
    def correct(self) -> bool:
        return self.status == "correct"

    def mark(self) -> str:
        return {"correct": "Correct", "wrong": "Not yet", "unanswered": "Not answered yet",
                "recorded": "Recorded", "error": "Cannot check"}[self.status]

    def points_text(self) -> str:
        if self.max_points is None:
            return ""
        return f"{_num(self.earned)} / {_num(self.max_points)} points"

    def to_json(self) -> dict[str, Any]:
        return {
            "qid": self.qid, "status": self.status, "correct": self.correct, "score": self.score,
            "points": self.earned, "max_points": self.max_points, "message": self.message,
            "misconception": self.misconception, "method": self.method, "key": self.key,
            "elapsed": round(self.elapsed, 4),
        }

    def __float__(self) -> float:
        return float(self.earned)

    def __repr__(self) -> str:
        lines = [f"[{self.qid}] {self.mark()}" + (f" - {self.points_text()}" if self.points_text() else "")]
        if self.answer_text:
            lines.append(f"Your answer: {self.answer_text}")
        if self.message and self.status != "correct" or (self.status == "correct" and self.message not in ("Correct.", "")):
            lines.append(("Hint: " if self.misconception else "") + self.message)
        if self.counterexample:
            lines.append(self.counterexample)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colors = {"correct": ("#2e7d32", "#edf7ed"), "wrong": ("#c62828", "#fdecea"),
                  "unanswered": ("#757575", "#f5f5f5"), "recorded": ("#1565c0", "#e8f0fe"),
                  "error": ("#ef6c00", "#fff4e5")}
        color, bg = colors[self.status]
        correct_attr = {"correct": "true", "unanswered": "unanswered"}.get(self.status, "false")
        icon = {"correct": "&#10004;", "wrong": "&#10008;", "unanswered": "&#9675;"}.get(self.status, "&#8226;")
        parts = [
            f'<div class="calcgrade-verdict" data-qid="{html.escape(self.qid)}" data-correct="{correct_attr}" '
            f'style="{_STYLE.format(color=color, bg=bg)}">',
            f'<div class="calcgrade-head"><strong class="calcgrade-mark" style="color:{color}">{icon} '
            f'{self.mark()}</strong>',
        ]
        if self.points_text():
            parts.append(f' &middot; <span class="calcgrade-points">{self.points_text()}</span>')
        parts.append(f' &middot; <code class="calcgrade-qid">{html.escape(self.qid)}</code></div>')
        if self.answer_latex:
            parts.append(f'<div class="calcgrade-answer">Your answer: \\({html.escape(self.answer_latex)}\\)</div>')
        elif self.answer_text:
            parts.append(f'<div class="calcgrade-answer">Your answer: <code>{html.escape(self.answer_text)}</code></div>')
        if self.message and not (self.status == "correct" and self.message == "Correct."):
            cls = "calcgrade-message calcgrade-hint" if self.misconception else "calcgrade-message"
            label = "<strong>Hint:</strong> " if self.misconception else ""
            parts.append(f'<div class="{cls}">{label}{html.escape(self.message)}</div>')
        if self.counterexample:
            parts.append(f'<div class="calcgrade-counterexample">{html.escape(self.counterexample)}</div>')
        if self.plot_png:
            b64 = base64.b64encode(self.plot_png).decode()
            parts.append(f'<div class="calcgrade-plot"><img alt="plot of your answer" '
                         f'src="data:image/png;base64,{b64}" style="max-width:420px"/></div>')
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": repr(self), "text/html": self._repr_html_(), VERDICT_MIME: self.to_json()}


def _num(x: float) -> str:
    return f"{x:g}"


def _counterexample_text(details: Mapping[str, Any]) -> str:
    ce = details.get("counterexample")
    if not isinstance(ce, Mapping):
        return ""
    if "input" in ce:
        return ""  # function questions name the input in the message already
    point = ce.get("point") or {}
    if not point:
        return ""
    where = ", ".join(f"{k} = {_short_float(v)}" for k, v in point.items())
    parts = [f"Counterexample: at {where}"]
    if "answer" in ce:
        parts.append(f"your answer is {_short_float(ce['answer'])}")
    if "expected" in ce:
        parts.append(f"but the correct value is {_short_float(ce['expected'])}")
    return parts[0] + (" " + " ".join(parts[1:]) if len(parts) > 1 else "") + "."


def _short_float(v: Any) -> str:
    try:
        return f"{float(v):.6g}"
    except (TypeError, ValueError):
        return str(v)


def _render_answer(value: Any, entry: Mapping[str, Any]) -> tuple[str, str]:
    """(LaTeX, plain text) of the student's answer, short; ("", "") when it has no useful form."""
    import numpy as np
    import sympy as sp

    try:
        if value is None or value is Ellipsis:
            return "", ""
        if entry.get("kind") == "function" and callable(value):
            name = getattr(value, "__name__", "function")
            return "", f"the function {name}"
        if isinstance(value, str):
            return "", value[:200]
        if isinstance(value, np.ndarray):
            text = np.array2string(value, precision=6, threshold=20, separator=", ")
            if value.ndim <= 2 and value.size <= 36:
                return sp.latex(sp.Matrix(value.tolist() if value.ndim == 2 else [list(value)]).applyfunc(
                    lambda v: sp.Float(v, 6) if isinstance(v, float) else v)), text
            return "", text
        if isinstance(value, (list, tuple)) and len(value) <= 36:
            try:
                return sp.latex(sp.Matrix(value if value and isinstance(value[0], (list, tuple)) else [list(value)])), str(value)
            except Exception:
                return "", str(value)[:200]
        if isinstance(value, (sp.Basic, sp.MatrixBase)):
            latex = sp.latex(value)
            text = sp.sstr(value)
            if len(latex) > 600:
                latex = ""
            return latex, text[:200] + ("..." if len(text) > 200 else "")
        if isinstance(value, (bool, np.bool_)):
            return "", str(bool(value))
        if isinstance(value, (int, float, np.number)):
            plain = value.item() if isinstance(value, np.generic) else value
            if isinstance(plain, complex):
                return "", str(plain)
            return sp.latex(sp.sympify(plain)), repr(plain)
        return "", type(value).__name__
    except Exception:
        return "", ""
