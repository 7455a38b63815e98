"""The report page on hand-made records: self-contained, escaped, formulas as MathML, function answers drawn."""

from __future__ import annotations

import base64
import re

import numpy as np

from grader.course.grading.answerlog import AnswerRecord, answer_text
from grader.course.report.functions import FunctionReference, function_view
from grader.course.report.render import assignment_html, overview_html
from grader.course.report.stats import Failure, build_assignment_report, build_overview
from grader.key.wire import to_wire

HOSTILE = "<img src=x onerror=alert(1)>"


def rec(student: str, qid: str, correct: bool, fp: str, text: str, mistake: str | None = None) -> AnswerRecord:
    return AnswerRecord("a1", student, "nb.ipynb", qid, 1.0 if correct else 0.0, 1.0, correct, mistake, "numeric",
                        fp, text)


def calls(*outputs: object) -> dict:
    return {"$": "calls", "results": [{"ok": to_wire(o)} if o is not None else {"error": "it raised"} for o in outputs]}


def _page() -> str:
    records = [
        rec("ann", "q1", True, "R", "x"),
        rec("bob", "q1", False, "W1", "2 x \\cos{\\left(x \\right)}", "sign"),
        rec("cy", "q1", False, "W2", "\\frac{1}{"),
        rec("dee", "q1", False, "W3", answer_text(to_wire(HOSTILE))),
    ]
    report = build_assignment_report("a1", records, failed=[Failure("eve", HOSTILE)],
                                     mistake_messages={"q1": {"sign": "Mind the <sign>."}})
    return assignment_html(report)


def test_page_is_self_contained_and_escaped() -> None:
    page = _page()
    assert "<script" not in page.lower() and HOSTILE not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the failure reason, as text
    assert "Students saw: Mind the &lt;sign&gt;." in page  # the message is shown, not hidden in a tooltip
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page)
    pictures = [r for r in refs if not r.startswith("#")]
    assert pictures and all(r.startswith("data:image/svg+xml;base64,") for r in pictures)
    for r in pictures:  # every picture is SVG that itself loads nothing
        svg = base64.b64decode(r.split(",", 1)[1]).decode()
        assert "<svg" in svg and "<script" not in svg and "href=\"http" not in svg
    assert re.search(r'<html lang="en">', page) and '<meta name="viewport"' in page
    assert "<main" in page and "<nav" in page


def test_formulas_are_mathml_with_a_spoken_name_or_their_source() -> None:
    page = _page()
    assert '<math alttext="2 x cos(x)" aria-label="2 x cos(x)"' in page
    assert '<code class="latex">\\frac{1}{</code>' in page  # latex2mathml cannot read it: shown as source


def test_plots_have_their_figures_in_words() -> None:
    page = _page()
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S)
    assert captions[0].startswith("Totals of 4 graded submissions out of 1 points, from 0 to 1: 3 between 0 and 0.1")
    assert captions[1] == "Hardest: q1 (25% correct). In notebook order: q1 25%."


def test_wide_tables_scroll_in_a_focusable_named_box() -> None:
    page = _page()
    boxes = re.findall(r'<div class="table-box" tabindex="0" role="region" aria-label="([^"]+)">', page)
    assert boxes == ["Questions at a glance", "Students below 50%", "All students"]
    assert '<th scope="col" class="num">% correct</th>' in page and "<th></th>" not in page


def test_hints_column_only_when_hints_were_used() -> None:
    assert "hints used" not in _page()
    with_hints = [rec("ann", "q1", True, "R", "x"), rec("bob", "q1", False, "W", "y")]
    with_hints[1] = AnswerRecord(**{**with_hints[1].__dict__, "hints_used": 2})
    report = build_assignment_report("a1", with_hints)
    assert report.questions[0].hints_used == 2
    page = assignment_html(report)
    assert '<th scope="col" class="num">hints used</th>' in page and '<td class="num">2</td>' in page


def test_a_wrong_function_answer_is_a_sentence_a_table_and_a_plot() -> None:
    ref = FunctionReference((-1.0, 0.5, 2.0), ((1.0,), (0.25,), (4.0,)), ((), (), ()))
    doubled = answer_text(calls(2.0, 0.5, 8.0))
    assert doubled.startswith("fn:") and "\\text" not in doubled
    view = function_view(doubled, ref)
    assert view.summary == "Differs from the correct function at 3 of 3 inputs; at x = −1 yours is 2, the correct value 1."
    assert view.rows == (("−1", "2", "1"), ("0.5", "0.5", "0.25"), ("2", "8", "4"))

    vec = FunctionReference((None, None), ((1.0, 2.0, 3.0), (0.0, 0.0, 0.0)), ((3,), (3,)))
    arrays = function_view(answer_text(calls(np.array([1.0, 2.0, 3.0]), np.array([0.0, -5.0, 0.0]))), vec)
    assert arrays.summary == ("On input 2 of 2, 1 of 3 output entries differ; the largest difference is at entry 2: "
                              "yours −5, correct 0.")
    assert arrays.rows == (("2", "−5", "0"),) and arrays.x_label == "output entry (input 2)"
    assert function_view(answer_text(calls(None, None)), vec).summary == "Raises an error on input 1 of 2."
    assert function_view(answer_text(calls("three", "x")), vec).summary == (
        "On input 1 it returns three; the correct output has shape (3,).")  # plain text, never LaTeX
    old = function_view("\\text{function: }\\left[1, 2\\right]", vec)
    assert "older form" in old.summary and not old.rows

    records = [rec("ann", "f", True, "R", answer_text(calls(1.0, 0.25, 4.0))), rec("bob", "f", False, "W", doubled)]
    report = build_assignment_report("a1", records)
    report.functions = {"f": ref}
    page = assignment_html(report)
    assert "fn:" not in page and "\\text" not in page
    assert "Differs from the correct function at 3 of 3 inputs" in page
    assert re.search(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="Plot of your values \(crosses\) against the '
                     r'correct ones \(circles\), at x = −1: 2 vs 1; 0.5: 0.5 vs 0.25; 2: 8 vs 4\."', page)
    assert '<th scope="col">x</th><th scope="col" class="num">yours</th><th scope="col" class="num">correct</th>' in page


def test_overview_links_only_given_pages_and_lists_failures_in_words() -> None:
    a = build_assignment_report("a1", [rec("ann", "q1", True, "R", "x")], failed=[Failure("bob", "not JSON")])
    page = overview_html(build_overview([a]), {"a1": "a1.html"})
    assert '<a href="a1.html">a1</a>' in page and '<td class="num warn">failed</td>' in page
    assert "<li><b>bob</b>, a1: not JSON</li>" in page
    assert "<th></th>" not in page and '<th scope="row">mean</th>' in page
    assert "<a href" not in overview_html(build_overview([a]))
