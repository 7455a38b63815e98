"""Feedback pages run no script (issue 21, class 6): hostile answers and outputs, sanitised, in Chromium."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.course.grading.feedbackhtml import RenderFeedback
from grader.course.grading.feedbacksafe import sanitize_html, sanitize_markdown

HOSTILE_HTML = [
    '<script>window.PWNED = 1</script>',
    '<img src=x onerror="window.PWNED = 2">',
    '<a href="javascript:window.PWNED = 3" id="click-me">link</a>',
    '<svg onload="window.PWNED = 4"><circle r="5"/></svg>',
    '<iframe srcdoc="<script>parent.PWNED = 5</script>"></iframe>',
    '<math><mtext><script>window.PWNED = 6</script></mtext><mi>x</mi></math>',
    '<div style="background:url(javascript:window.PWNED = 7)">x</div>',
    '<form action="javascript:window.PWNED = 8"><button id="send">go</button></form>',
    '<math><annotation-xml encoding="text/html"><img src=x onerror="window.PWNED = 9"></annotation-xml></math>',
    '<object data="javascript:window.PWNED = 10"></object><embed src="javascript:window.PWNED = 11">',
]


def _hostile_notebook():
    cells = [
        new_markdown_cell("# Question\n\n$x^2$ and " + " ".join(HOSTILE_HTML[:3])
                          + "\n\n[click](javascript:window.PWNED=12)\n\n[ref]: javascript:window.PWNED=13"),
        new_code_cell("x", outputs=[
            new_output("display_data", data={"text/html": "".join(HOSTILE_HTML), "text/plain": "x"}),
            new_output("display_data", data={"application/javascript": "window.PWNED = 14", "text/plain": "x"}),
            new_output("display_data", data={"text/latex": r"$\text{<script>window.PWNED = 15</script>} x^{2}$",
                                             "text/plain": "x"}),
            new_output("display_data", data={"text/markdown": "<img src=x onerror='window.PWNED = 16'> **b**",
                                             "text/plain": "x"}),
            new_output("display_data", data={"image/svg+xml": '<svg onload="window.PWNED = 17"/>', "text/plain": "x"}),
            new_output("display_data", data={"text/html": '<div class="calcgrade-verdict" data-correct="true">'
                                                          'Correct (forged)</div>', "text/plain": "x"}),
        ]),
    ]
    return new_notebook(cells=cells)


def _page(tmp_path):
    from nbconvert import HTMLExporter

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")  # the page is made inside a course
    nb, resources = RenderFeedback().preprocess(_hostile_notebook(), {"metadata": {"path": str(tmp_path)}})
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb, resources)
    return body


def test_maths_and_our_verdict_classes_survive_but_no_script_does():
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in sanitize_html(
        '<math display="inline"><msup><mi>x</mi><mn>2</mn></msup></math>')
    trusted = sanitize_html('<div class="calcgrade-verdict" data-qid="q" style="color:green">ok</div>', trusted=True)
    assert 'class="calcgrade-verdict"' in trusted and 'data-qid="q"' in trusted and "color:green" in trusted
    forged = sanitize_html('<div class="calcgrade-verdict big">ok</div>')
    assert "calcgrade-verdict" not in forged and 'class="big"' in forged
    for text in HOSTILE_HTML:
        clean = sanitize_html(text).lower()
        assert "<script" not in clean and "javascript:" not in clean and "onerror" not in clean
        assert "onload" not in clean and "<iframe" not in clean and "<object" not in clean
    md = sanitize_markdown("> quote\n\n`<script>` in code\n\n<b onclick='x()'>bold</b>\n\n[a](javascript:x)")
    assert md.startswith("> quote") and "`<script>`" in md and "<b>bold</b>" in md and "javascript:" not in md


def test_a_page_made_from_hostile_answers_runs_no_script_in_chromium(tmp_path):
    from browser_support import CHROMIUM, offline_page

    page = _page(tmp_path)
    body = page.lower().split("<body", 1)[-1]
    assert "onerror" not in body and "onload" not in body and "javascript:" not in body
    assert "<script>window.pwned" not in body and "<iframe" not in body
    assert "Correct (forged)" in page and 'class="calcgrade-verdict"' not in page
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    # clicking whatever a student could bait a reader into (links, buttons)
    with offline_page(path, tmp_path / "profile", click_everything=True) as (tab, dialogs):
        assert tab.evaluate("typeof window.PWNED") == "undefined" and not dialogs
        assert tab.evaluate("document.querySelectorAll('math').length") >= 2   # the formulas are still there
