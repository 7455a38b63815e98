"""The report page on hand-made records: self-contained, escaped, math drawn or shown as source."""

from __future__ import annotations

import base64
import re

from grader.course.grading.answerlog import AnswerRecord, answer_text
from grader.course.report.render import assignment_html, overview_html
from grader.course.report.stats import Failure, build_assignment_report, build_overview
from grader.key.wire import to_wire

HOSTILE = "<img src=x onerror=alert(1)>"


def rec(student: str, qid: str, correct: bool, fp: str, text: str, mistake: str | None = None) -> AnswerRecord:
    return AnswerRecord("a1", student, "nb.ipynb", qid, 1.0 if correct else 0.0, 1.0, correct, mistake, "numeric",
                        fp, text)


def _page() -> str:
    records = [
        rec("ann", "q1", True, "R", "x"),
        rec("bob", "q1", False, "W1", "2 x \\cos{\\left(x \\right)}", "sign"),
        rec("cy", "q1", False, "W2", "\\begin{cases} 1 & \\text{for}\\: x > 0 \\end{cases}"),
        rec("dee", "q1", False, "W3", answer_text(to_wire(HOSTILE))),
    ]
    report = build_assignment_report("a1", records, failed=[Failure("eve", HOSTILE)],
                                     mistake_messages={"q1": {"sign": "Mind the <sign>."}})
    return assignment_html(report)


def test_page_is_self_contained_and_escaped() -> None:
    page = _page()
    assert "<script" not in page.lower() and HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the failure reason, as text
    assert 'title="Mind the &lt;sign&gt;."' in page
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)
    assert refs and all(r.startswith("data:image/svg+xml;base64,") for r in refs)
    for r in refs:  # every picture is SVG that itself loads nothing
        svg = base64.b64decode(r.split(",", 1)[1]).decode()
        assert "<svg" in svg and "<script" not in svg and "href=\"http" not in svg


def test_math_is_drawn_or_shown_as_its_source() -> None:
    page = _page()
    assert 'alt="2 x \\cos{\\left(x \\right)}"' in page  # drawn by mathtext, LaTeX kept as alt text
    assert "<code>\\begin{cases} 1 &amp; \\text{for}\\: x &gt; 0 \\end{cases}</code>" in page  # mathtext cannot


def test_hints_column_only_when_hints_were_used() -> None:
    assert "hints used" not in _page()
    with_hints = [rec("ann", "q1", True, "R", "x"), rec("bob", "q1", False, "W", "y")]
    with_hints[1] = AnswerRecord(**{**with_hints[1].__dict__, "hints_used": 2})
    report = build_assignment_report("a1", with_hints)
    assert report.questions[0].hints_used == 2
    assert "<th class=num>hints used</th>" in assignment_html(report) and "<td class=num>2</td>" in assignment_html(report)


def test_overview_links_only_given_pages() -> None:
    a = build_assignment_report("a1", [rec("ann", "q1", True, "R", "x")], failed=[Failure("bob", "not JSON")])
    page = overview_html(build_overview([a]), {"a1": "a1.html"})
    assert '<a href="a1.html">a1</a>' in page and 'title="not JSON">failed<' in page
    assert "<a href" not in overview_html(build_overview([a]))
