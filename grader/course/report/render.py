"""The report as one self-contained HTML page (an assignment, or the course overview).

Why one file with nothing to load: an instructor opens it offline, forwards it, archives it.  The
page has no script, no external font or style sheet, and every picture (plots, formulas) is an
inline ``data:`` URI (``reportplots``).  A formula mathtext cannot draw is shown as its LaTeX
source.  It is laid out to be read in a minute: the class first, then the questions (hardest
visible at a glance), then the students who need help.
"""

from __future__ import annotations

import html
from typing import Iterable, Mapping

from grader.course.report.plots import correct_rate_uri, histogram_uri, math_uri
from grader.course.report.stats import AssignmentReport, CourseOverview, QuestionStats, TOP_MISTAKES, histogram

__all__ = ["assignment_html", "overview_html"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d2330;
 margin:0;background:#f6f7f9}
main{max-width:1320px;margin:0 auto;padding:18px 22px 40px}
h1{font-size:22px;margin:6px 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #dde1e7;
 padding-bottom:4px}
.sub{color:#5b6475;margin:0 0 14px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{color:#5b6475;font-size:12px}
.plots{display:flex;flex-wrap:wrap;gap:14px;margin-top:12px}
.plots img{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:6px;max-width:100%}
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e7;width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #eceff3;text-align:left;vertical-align:top}
th{background:#eef1f5;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:#434b5a}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bar{display:inline-block;height:8px;background:#55a868;border-radius:2px;vertical-align:middle;margin-left:4px}
.low .bar{background:#c44e52}.mid .bar{background:#dd8452}
.weak{color:#b3261e;font-weight:600}
ul.m{margin:0;padding-left:16px}ul.m li{margin:0 0 2px}
.wa{display:flex;align-items:center;gap:6px;margin:0 0 4px}
.wa img{vertical-align:middle;max-width:340px;height:auto}
.count{background:#eef1f5;border-radius:9px;padding:0 7px;font-size:12px;white-space:nowrap}
code{font-size:12px;background:#f1f3f6;padding:1px 4px;border-radius:3px}
.note{background:#fff8e1;border:1px solid #f0d98a;border-radius:6px;padding:8px 12px;margin:10px 0}
.muted{color:#7a8291}
details summary{cursor:pointer;color:#34495e;margin:8px 0}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "–"
    return f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:.0f}"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body><main>\n{body}\n</main></body></html>\n"
    )


def _math(latex: str) -> str:
    uri = math_uri(latex)
    if uri is None:
        return f"<code>{_e(latex)}</code>"
    return f"<img src=\"{uri}\" alt=\"{_e(latex)}\" title=\"{_e(latex)}\">"


def _rate_cell(rate: float) -> str:
    pct = 100.0 * rate
    cls = "low" if pct < 50 else "mid" if pct < 75 else ""
    return (f"<td class=\"num {cls}\">{pct:.0f}%<span class=\"bar\" style=\"width:{pct * 0.5:.0f}px\"></span>"
            "</td>")


def _mistakes_cell(q: QuestionStats, messages: dict[str, str]) -> str:
    if not q.mistakes:
        return "<td class=\"muted\">–</td>"
    items = []
    for mid, n in q.mistakes[:TOP_MISTAKES]:
        pct = 100.0 * n / q.graded if q.graded else 0.0
        msg = messages.get(mid, "")
        title = f" title=\"{_e(msg)}\"" if msg else ""
        named = "" if msg else " <span class=\"muted\">(diagnosis)</span>"
        items.append(f"<li{title}><code>{_e(mid)}</code>{named} {n} ({pct:.0f}%)</li>")
    more = len(q.mistakes) - TOP_MISTAKES
    if more > 0:
        items.append(f"<li class=\"muted\">and {more} more</li>")
    return f"<td><ul class=\"m\">{''.join(items)}</ul></td>"


def _wrong_cell(q: QuestionStats) -> str:
    if not q.wrong_answers:
        return "<td class=\"muted\">–</td>"
    rows = [f"<div class=\"wa\"><span class=\"count\">×{w.count}</span>{_math(w.answer) if w.answer else '<span class=muted>(no text)</span>'}</div>"
            for w in q.wrong_answers]
    return "<td>" + "".join(rows) + "</td>"


def _questions_table(report: AssignmentReport) -> str:
    hints = any(q.hints_used for q in report.questions)  # a column only when students used hints
    head = ("<tr><th>question</th><th class=num>points</th><th class=num>% correct</th>"
            "<th class=num>mean score</th><th class=num title=\"correlation of the question's score with the "
            "rest of the total\">discrimination</th><th class=num>unanswered</th>"
            + ("<th class=num>hints used</th>" if hints else "") +
            "<th>most common mistakes</th><th>most frequent wrong answers</th></tr>")
    rows = []
    for q in report.questions:
        disc = q.discrimination
        disc_cls = " weak" if disc is not None and disc < 0.2 else ""
        hint_cell = f"<td class=num>{q.hints_used}</td>" if hints else ""
        rows.append(
            f"<tr><td><b>{_e(q.qid)}</b><br><span class=muted>{_e(q.notebook)}</span></td>"
            f"<td class=num>{_num(q.points)}</td>{_rate_cell(q.correct_rate)}"
            f"<td class=num>{_num(q.mean_score)}</td><td class=\"num{disc_cls}\">{_num(disc)}</td>"
            f"<td class=num>{q.unanswered}</td>{hint_cell}"
            f"{_mistakes_cell(q, report.mistake_messages.get(q.qid, {}))}{_wrong_cell(q)}</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _students_table(rows: Iterable, max_total: float, with_missed: bool) -> str:
    head = "<tr><th>student</th><th class=num>total</th>" + ("<th>questions missed</th>" if with_missed else "") + "</tr>"
    body = []
    for s in rows:
        missed = f"<td>{_e(', '.join(s.missed)) or '–'}</td>" if with_missed else ""
        src = " <span class=muted>(gradebook only)</span>" if s.source != "log" else ""
        body.append(f"<tr><td>{_e(s.student)}{src}</td><td class=num>{_num(s.total)} / {_num(max_total)}</td>{missed}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


# --- issue 23: answers right for another student's numbers (kept apart from the page's template) -------------
def _copying_block(report: AssignmentReport) -> str:
    """The list of likely copies (variant questions), or nothing when the assignment has none."""
    flags = getattr(report, "copying", None) or []
    if not flags:
        return ""
    items = "".join(f"<li><b>{_e(f.student)}</b>: the answer to <code>{_e(f.qid)}</code> is wrong for their own "
                    f"numbers but right for the numbers of <b>{_e(', '.join(f.sources))}</b></li>" for f in flags)
    return (f"<section class=copying aria-labelledby=copying-h><h2 id=copying-h>Possible copying ({len(flags)})</h2>"
            f"<p class=muted>Every student has their own numbers in variant questions.</p><ul>{items}</ul></section>")


def assignment_html(report: AssignmentReport) -> str:
    """The whole page of one assignment."""
    parts = [f"<h1>{_e(report.assignment)}: what the class got wrong</h1>",
             f"<p class=sub>{report.submissions} submission(s) graded, {len(report.questions)} questions, "
             f"{_num(report.max_total)} points. Every figure comes from the trusted grader's verdicts.</p>"]
    parts += [f"<div class=note>{_e(n)}</div>" for n in report.notes]
    cards = [("graded", str(report.submissions)), ("failed", str(len(report.failed))),
             ("mean", f"{_num(report.mean)} / {_num(report.max_total)}"),
             ("median", f"{_num(report.median)} / {_num(report.max_total)}"),
             (f"below {report.threshold:.0%}", str(len(report.below_threshold)))]
    parts.append("<h2>The class</h2><div class=cards>" +
                 "".join(f"<div class=card><b>{_e(v)}</b><span>{_e(k)}</span></div>" for k, v in cards) + "</div>")
    if report.failed:
        parts.append("<p><b>Submissions that could not be graded:</b></p><ul>" +
                     "".join(f"<li><b>{_e(f.student)}</b>: {_e(f.reason)}</li>" for f in report.failed) + "</ul>")
    if report.students:
        hist = histogram_uri(report.totals, report.max_total, histogram(report.totals, report.max_total))
        rates = correct_rate_uri([q.qid for q in report.questions], [q.correct_rate for q in report.questions])
        parts.append(f"<div class=plots><img src=\"{hist}\" alt=\"score distribution\">"
                     f"<img src=\"{rates}\" alt=\"% correct per question\"></div>")
    parts.append("<h2>Questions</h2>" + _questions_table(report))
    parts.append("<p class=muted>Discrimination below 0.2 (in red) means the question does not separate "
                 "strong from weak submissions: check its wording and its key. Hover a mistake for the "
                 "message students saw.</p>")
    parts.append(_copying_block(report))
    below = report.below_threshold
    parts.append(f"<h2>Students below {report.threshold:.0%} of the points ({len(below)})</h2>")
    parts.append(_students_table(below, report.max_total, True) if below else "<p class=muted>None.</p>")
    if report.students:
        parts.append("<details><summary>All students</summary>" +
                     _students_table(sorted(report.students, key=lambda s: s.student), report.max_total, True) +
                     "</details>")
    return _page(f"calcgrade report: {report.assignment}", "\n".join(parts))


def overview_html(overview: CourseOverview, links: Mapping[str, str] | None = None) -> str:
    """The course overview page: assignments x students; ``links``: assignment -> its page (relative)."""
    a_names = overview.assignments
    links = links or {}

    def name(a: str) -> str:
        return f"<a href=\"{_e(links[a])}\">{_e(a)}</a>" if a in links else _e(a)

    head = "<tr><th>student</th>" + "".join(f"<th class=num>{name(a)}</th>" for a in a_names) + "<th class=num>total</th></tr>"
    failed = {(a, f.student): f.reason for a, fs in overview.failed.items() for f in fs}
    rows = []
    for s in overview.students:
        cells, total, any_graded = [], 0.0, False
        for a in a_names:
            v = overview.totals.get((a, s))
            if v is None:
                reason = failed.get((a, s))
                cells.append(f"<td class=\"num weak\" title=\"{_e(reason)}\">failed</td>" if reason
                             else "<td class=\"num muted\">–</td>")
            else:
                total += v
                any_graded = True
                cells.append(f"<td class=num>{_num(v)}</td>")
        rows.append(f"<tr><td>{_e(s)}</td>{''.join(cells)}<td class=num><b>{_num(total if any_graded else None)}</b></td></tr>")
    foot = ("<tr><th>mean</th>" + "".join(f"<th class=num>{_num(overview.mean(a))}</th>" for a in a_names) +
            "<th></th></tr><tr><th>max</th>" +
            "".join(f"<th class=num>{_num(overview.max_totals[a])}</th>" for a in a_names) + "<th></th></tr>"
            "<tr><th>graded</th>" + "".join(f"<th class=num>{overview.count(a)}</th>" for a in a_names) + "<th></th></tr>")
    body = [f"<h1>Course overview</h1><p class=sub>{len(a_names)} assignment(s), {len(overview.students)} "
            "student(s). Points per assignment; run <code>calcgrade report ASSIGNMENT</code> for one "
            "assignment's questions, mistakes and wrong answers.</p>",
            f"<table>{head}{''.join(rows)}{foot}</table>"]
    return _page("calcgrade report: course overview", "\n".join(body))
