"""The report as one self-contained HTML page (an assignment, or the course overview), from Jinja templates.

Why one file with nothing to load: an instructor opens it offline, forwards it, archives it.  The
page has no script, no external font or style sheet; plots are inline SVG ``data:`` URIs
(``report.plots``) with a text alternative in words and numbers, formulas are MathML with a spoken
name.  The templates (``templates/`` beside this module, autoescaped) hold the markup, one block
per section, so a section is added or changed without touching the others; this module turns the
report's numbers into what the templates print (formatted numbers, plots, formulas).  It is laid
out to be read in a minute, on a laptop or a phone: the class first, then the questions (hardest
visible at a glance), then the students who need help.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from markupsafe import Markup

from grader.course.report.functions import function_view, is_function_text
from grader.course.report.plots import (
    correct_rate_text, correct_rate_uri, function_text, function_uri, histogram_text, histogram_uri,
)
from grader.course.report.stats import TOP_MISTAKES, AssignmentReport, CourseOverview, QuestionStats, histogram

__all__ = ["assignment_html", "overview_html", "TEMPLATES"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env


def _num(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "–"
    return f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:.0f}"


def math_markup(latex: str) -> Markup:
    """A formula as MathML with its spoken name, or its source as code when it cannot be converted."""
    from grader.course.grading.feedbackhtml import latex_to_mathml

    mathml = latex_to_mathml(latex) if latex.strip() else None
    if mathml is None:
        return Markup('<code class="latex">{}</code>').format(latex)
    return Markup('<span class="math">{}</span>').format(Markup(mathml))  # latex_to_mathml escapes what it copies


def _wrong_answer(text: str, count: int, ref: Any) -> dict[str, Any]:
    if is_function_text(text):
        view = function_view(text, ref)
        return {"count": count, "kind": "function", "summary": view.summary, "columns": view.columns,
                "rows": view.rows, "plot": function_uri(view), "plot_text": function_text(view)}
    if not text:
        return {"count": count, "kind": "text", "text": "(no text)"}
    if text.startswith("unreadable"):
        return {"count": count, "kind": "text", "text": text}
    return {"count": count, "kind": "math", "math": math_markup(text), "long": len(text) > 60}


def _question(q: QuestionStats, messages: Mapping[str, str], refs: Mapping[str, Any]) -> dict[str, Any]:
    pct = 100.0 * q.correct_rate
    mistakes = [{"id": mid, "count": n, "pct": 100.0 * n / q.graded if q.graded else 0.0,
                 "message": messages.get(mid, "")} for mid, n in q.mistakes[:TOP_MISTAKES]]
    return {
        "qid": q.qid, "notebook": q.notebook, "points": q.points, "pct": pct,
        "level": "low" if pct < 50 else "mid" if pct < 75 else "high",
        "mean": q.mean_score, "disc": q.discrimination,
        "weak": q.discrimination is not None and q.discrimination < 0.2,
        "unanswered": q.unanswered, "hints": q.hints_used, "wrong": q.wrong, "graded": q.graded,
        "mistakes": mistakes, "more_mistakes": max(0, len(q.mistakes) - TOP_MISTAKES),
        "wrong_answers": [_wrong_answer(w.answer, w.count, refs.get(q.qid)) for w in q.wrong_answers],
    }


def _students(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"student": s.student, "total": s.total, "max": s.max_total, "missed": list(s.missed),
             "gradebook_only": s.source != "log"} for s in rows]


def assignment_html(report: AssignmentReport) -> str:
    """The whole page of one assignment."""
    figures = []
    if report.students:
        bins = histogram(report.totals, report.max_total)
        qids, rates = [q.qid for q in report.questions], [q.correct_rate for q in report.questions]
        figures = [
            {"uri": histogram_uri(report.totals, report.max_total, bins), "alt": "Histogram of the totals",
             "text": histogram_text(report.totals, report.max_total, bins)},
            {"uri": correct_rate_uri(qids, rates), "alt": "Bar chart of the % correct per question",
             "text": correct_rate_text(qids, rates)},
        ]
    cards = [("graded", str(report.submissions)), ("failed", str(len(report.failed))),
             ("mean", f"{_num(report.mean)} / {_num(report.max_total)}"),
             ("median", f"{_num(report.median)} / {_num(report.max_total)}"),
             (f"below {report.threshold:.0%}", str(len(report.below_threshold)))]
    refs = getattr(report, "functions", {}) or {}
    context = {
        "report": report,
        "title": f"calcgrade report: {report.assignment}",
        "cards": cards,
        "figures": figures,
        "questions": [_question(q, report.mistake_messages.get(q.qid, {}), refs) for q in report.questions],
        "hints_column": any(q.hints_used for q in report.questions),
        "below": _students(report.below_threshold),
        "everyone": _students(sorted(report.students, key=lambda s: s.student)),
        "threshold": f"{report.threshold:.0%}",
        "copying": list(getattr(report, "copying", None) or []),  # variant questions: right for another's numbers
    }
    return _env().get_template("assignment.html.j2").render(**context)


def overview_html(overview: CourseOverview, links: Mapping[str, str] | None = None) -> str:
    """The course overview page: assignments x students; ``links``: assignment -> its page (relative)."""
    links = links or {}
    failed = {(a, f.student): f.reason for a, fs in overview.failed.items() for f in fs}
    rows = []
    for s in overview.students:
        cells, total, any_graded = [], 0.0, False
        for a in overview.assignments:
            v = overview.totals.get((a, s))
            if v is None:
                cells.append({"failed": (a, s) in failed, "value": None})
            else:
                total += v
                any_graded = True
                cells.append({"failed": False, "value": v})
        rows.append({"student": s, "cells": cells, "total": total if any_graded else None})
    assignments = [{"name": a, "link": links.get(a), "mean": overview.mean(a), "max": overview.max_totals[a],
                    "graded": overview.count(a)} for a in overview.assignments]
    failures = [{"assignment": a, "student": s, "reason": r} for (a, s), r in sorted(failed.items())]
    return _env().get_template("overview.html.j2").render(
        title="calcgrade report: course overview", overview=overview, assignments=assignments, rows=rows,
        failures=failures)
