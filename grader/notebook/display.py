"""How a verdict looks in a notebook: rich HTML, plain text, and a machine-readable JSON form.

``CheckResult`` is what ``check()`` returns (or displays under nbgrader).  Its mime bundle holds:

* ``text/html``: ``<div class="calcgrade-verdict" data-qid=... data-correct="true|false|unanswered">``
  with the mark, the points, the student's answer in LaTeX, the message (the hint of a recognised
  mistake), the counterexample when the message does not already give it, and for a wrong
  function-shaped answer an inline PNG plot;
* ``text/plain``: the same, readable in a terminal or an exported notebook;
* ``application/vnd.calcgrade.verdict+json``: what ``calcgrade check`` collects.

One voice: a message is written once (the counterexample is not repeated under a message that gives
it), numbers are formatted like the grading core's messages, text in backticks is code and text in
``$...$`` is math (``\\(...\\)`` for the notebook's MathJax; the feedback page renders it offline).
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any, Mapping

from grader.key.answertext import AnswerText, answer_text
from grader.key.mediatypes import VERDICT_MIME

__all__ = ["CheckResult", "VERDICT_MIME", "message_html", "counterexample_sentence"]

_STYLE = (
    "border-left:4px solid {color};padding:6px 10px;margin:4px 0;background:{bg};"
    "font-family:var(--jp-content-font-family, sans-serif);"
)


class CheckResult:
    """The outcome of one ``check`` call, displayable in Jupyter."""

    def __init__(self, qid: str, status: str, earned: float, max_points: float | None, message: str,
                 *, misconception: str | None = None, method: str = "", answer_latex: str = "",
                 answer_text: str = "", counterexample: str = "", plot_png: bytes | None = None,
                 key: str = "", score: float = 0.0, plot_text: str = "") -> None:
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
        self.plot_text = plot_text      # the plot in words (its alternative text)
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
        shown = AnswerText() if unanswered else answer_text(value, entry=entry, limit=200)
        latex, text = shown.latex, shown.plain
        counter = counterexample_sentence(verdict.details or {}, verdict.message, entry.get("kind"))
        plot, plot_text = None, ""
        if status == "wrong" and verdict.method not in ("timeout", "invalid") and not verdict.score:
            try:
                from grader.notebook.plots import plot_with_text

                made = plot_with_text(entry, answer, verdict, value)
                if made:
                    plot, plot_text = made
            except Exception:
                plot, plot_text = None, ""
        return cls(qid, status, round(earned, 6), points, verdict.message, misconception=verdict.misconception,
                   method=verdict.method, answer_latex=latex, answer_text=text, counterexample=counter,
                   plot_png=plot, key="private" if "reference" in entry else "public", score=verdict.score,
                   plot_text=plot_text)

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
        if self.status == "wrong" and self.earned > 0:
            return "Partly right"
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
        # colours only repeat what the words say (the mark, the points); each has at least 4.5:1
        # contrast on its background, and the icon is hidden from screen readers (the mark is read)
        colors = {"correct": ("#2e7d32", "#edf7ed"), "wrong": ("#c62828", "#fdecea"),
                  "unanswered": ("#595959", "#f5f5f5"), "recorded": ("#1565c0", "#e8f0fe"),
                  "error": ("#a84300", "#fff4e5")}
        color, bg = colors[self.status]
        correct_attr = {"correct": "true", "unanswered": "unanswered"}.get(self.status, "false")
        icon = {"correct": "&#10004;", "wrong": "&#10008;", "unanswered": "&#9675;"}.get(self.status, "&#8226;")
        label = f"Check of {self.qid}: {self.mark()}" + (f", {self.points_text()}" if self.points_text() else "")
        parts = [
            f'<div class="calcgrade-verdict" data-qid="{html.escape(self.qid)}" data-correct="{correct_attr}" '
            f'role="group" aria-label="{html.escape(label)}" style="{_STYLE.format(color=color, bg=bg)}">',
            f'<div class="calcgrade-head"><strong class="calcgrade-mark" style="color:{color}">'
            f'<span aria-hidden="true">{icon}</span> {self.mark()}</strong>',
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
            parts.append(f'<div class="{cls}">{label}{message_html(self.message)}</div>')
        if self.counterexample:
            parts.append(f'<div class="calcgrade-counterexample">{message_html(self.counterexample)}</div>')
        if self.plot_png:
            b64 = base64.b64encode(self.plot_png).decode()
            alt = html.escape(self.plot_text or "Plot of your answer.", quote=True)
            parts.append(f'<div class="calcgrade-plot"><img alt="{alt}" '
                         f'src="data:image/png;base64,{b64}" style="max-width:100%;width:420px"/></div>')
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": repr(self), "text/html": self._repr_html_(), VERDICT_MIME: self.to_json()}


def _num(x: float) -> str:
    return f"{x:g}"


_CODE = re.compile(r"`([^`\n]+)`")
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)")


def message_html(text: str) -> str:
    """A message as HTML: escaped, `code` as <code>, $math$ as \\(math\\) (typeset by the notebook's
    MathJax, or rendered offline in the feedback page)."""
    out = html.escape(str(text), quote=False)
    out = _DISPLAY_MATH.sub(lambda m: "\\[" + m.group(1) + "\\]", out)
    out = _INLINE_MATH.sub(lambda m: "\\(" + m.group(1) + "\\)", out)
    return _CODE.sub(lambda m: "<code>" + m.group(1) + "</code>", out)


def counterexample_sentence(details: Mapping[str, Any], message: str = "", kind: str | None = None) -> str:
    """"At x = 0.902 your answer is 1.21 but the correct value is 2.42." for a verdict's counterexample,
    or "" when there is none, or when ``message`` already names that point (one voice).  Worded like
    the grading core's sentences for the question's kind (antiderivatives, array entries)."""
    from grader.core.arrays import entry_label
    from grader.core.equivalence import format_pair, format_value

    ce = details.get("counterexample")
    if not isinstance(ce, Mapping) or "input" in ce:
        return ""  # function questions name the input in the message already
    point = ce.get("point") or {}
    if not isinstance(point, Mapping) or not point:
        return ""
    try:
        where = ", ".join(f"{k} = {format_value(float(v))}" for k, v in sorted(point.items()))
    except (TypeError, ValueError):
        return ""
    if f"{where} " in message or f"{where}," in message or f"{where}." in message:
        return ""
    answer, expected = ce.get("answer"), ce.get("expected")
    subject, noun = "your answer", "the correct value"
    if kind == "antiderivative":
        subject, noun = "the derivative of your answer", "the integrand"
    wrong = details.get("wrong_entries")
    if wrong and isinstance(wrong[0], (list, tuple)):
        subject, noun = entry_label(tuple(int(i) for i in wrong[0])) + " (counting from 1)", "it should be"
    if answer is None and expected is None:
        return ""
    if answer is None:
        return f"At {where} {subject} is undefined, but {noun} is {format_value(expected)}.".replace(
            "it should be is", "it should be")
    try:
        a = float(answer)
    except (TypeError, ValueError):
        return ""
    if expected is None:
        return f"At {where} {subject} is {format_value(a)}, which is not the correct value."
    try:
        shown_a, shown_e = format_pair(a, float(expected))
    except (TypeError, ValueError):
        return ""
    return f"At {where} {subject} is {shown_a} but {noun} is {shown_e}.".replace("it should be is", "it should be")

