"""WCAG 2.1 AA for what students and instructors read: feedback pages, class reports, the course overview
and the verdict ``check`` shows, checked with axe-core in Debian's Chromium.

The pages are made the way a course makes them: one assignment (06_matrix_calculus: matrices, a function
question, display formulas) is released into a fresh course, the whole sample class (hostile and partial
students included: a monkeypatched ``check``, edited test cells, an endless loop, a crashing kernel, a file
that is not a notebook, blank and half-done notebooks) is graded by ``calcgrade autograde``'s path, nbgrader
makes the feedback pages and ``calcgrade report`` the report and the overview.  axe-core (vendored in
``tests/fixtures/axe/``, MPL-2.0, its licence beside it) runs its WCAG 2.0/2.1 A and AA rules on each page,
at a laptop's width (1280 px) and a phone's (390 px); no serious or critical violation may remain.  Beyond
what axe checks: the report fits both widths without sideways scrolling of the page, every plot has a text
alternative with numbers, every formula is MathML with a name, and a keyboard reaches every link and
scrolling box of the report.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser_support as lab  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AXE = Path(__file__).resolve().parent / "fixtures" / "axe" / "axe.min.js"
A = "06_matrix_calculus"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
WIDTHS = (1280, 390)

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from grader.course.demo import sampleclass
    from grader.course.grading import autograde
    from grader.course.release import publish
    from grader.course.report.pages import write_course_report

    root = tmp_path_factory.mktemp("a11y") / "course"
    root.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(ROOT / "solutions" / A, root / "solutions" / A)
    publish.release(root, A, validate=False)
    subs = [s for s in sampleclass.sample_class(root) if s.assignment == A]
    sampleclass.place(subs, root, "2026-11-20 17:00:00.000000 UTC")
    students = sorted({s.student for s in subs})
    run = autograde.autograde_assignment(root, A, students=students, workers=2)
    assert {r.student for r in run.results if not r.success} == {"invalid_json"}
    assert publish.generate_feedback(root, A)
    report = write_course_report(root, A)
    overview = write_course_report(root, None)
    feedback = sorted((root / "feedback").glob(f"*/{A}/*.html"))
    assert {p.parts[-3] for p in feedback} == set(students) - {"invalid_json"}
    return {"root": root, "feedback": feedback, "report": report, "overview": overview}


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the module (Playwright's sync API allows one at a time)."""
    if not lab.CHROMIUM.exists():
        pytest.skip(f"{lab.CHROMIUM} is missing")
    with lab.chromium_context(tmp_path_factory.mktemp("a11y-profile")) as context:
        context.set_default_timeout(60_000)
        yield context


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Any:
    """A tab that is offline, as a student opens a page: anything but the file itself fails."""
    page = chromium.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
               else route.abort())
    return page


def axe_violations(page: Any, width: int) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations of the page loaded in ``page``, at ``width`` px."""
    page.set_viewport_size({"width": width, "height": 900})
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG_TAGS)
    return [{"rule": v["id"], "impact": v["impact"], "nodes": len(v["nodes"]),
             "where": [n["html"][:120] for n in v["nodes"][:3]]} for v in result["violations"]]


def _blocking(page: Any, path: Path) -> list[dict[str, Any]]:
    page.goto(path.as_uri())
    found = []
    for width in WIDTHS:
        found += [dict(v, width=width) for v in axe_violations(page, width) if v["impact"] in BLOCKING]
    return found


def _page_width(page: Any, path: Path, width: int) -> tuple[int, int]:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(path.as_uri())
    return tuple(page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"))


def test_axe_core_is_vendored_with_its_licence() -> None:
    assert AXE.is_file() and AXE.read_text(encoding="utf-8", errors="replace").startswith("/*! axe v4.")
    assert "Mozilla Public License" in (AXE.parent / "LICENSE").read_text(encoding="utf-8")


def test_feedback_pages_pass_wcag_aa(course: dict[str, Any], browser: Any) -> None:
    problems = {p.parts[-3]: _blocking(browser, p) for p in course["feedback"]}
    assert {s: v for s, v in problems.items() if v} == {}


def test_report_and_overview_pass_wcag_aa(course: dict[str, Any], browser: Any) -> None:
    assert _blocking(browser, course["report"]) == []
    assert _blocking(browser, course["overview"]) == []


def test_pages_fit_a_laptop_and_a_phone(course: dict[str, Any], browser: Any) -> None:
    """No sideways scrolling of the page itself: wide tables and formulas scroll inside their own box."""
    for path in (course["report"], course["overview"], *course["feedback"][:3]):
        for width in WIDTHS:
            scroll, client = _page_width(browser, path, width)
            assert scroll <= client, f"{path.name} is {scroll} px wide in a {width} px window"


def test_every_plot_has_words_and_numbers(course: dict[str, Any], browser: Any) -> None:
    pages = [course["report"], *course["feedback"]]
    plots = 0
    for path in pages:
        browser.goto(path.as_uri())
        for alt, caption in browser.eval_on_selector_all(
                "img", "els => els.map(i => [i.alt, i.closest('figure') ? "
                       "i.closest('figure').querySelector('figcaption').innerText : ''])"):
            plots += 1
            words = f"{alt} {caption}"
            assert len(words.split()) >= 8 and re.search(r"\d", words), (path.name, words)
    assert plots >= 4  # the report's two plots and a wrong function answer's, a student's wrong curve


def test_formulas_are_mathml_with_a_name(course: dict[str, Any], browser: Any) -> None:
    for path in (course["report"], *course["feedback"][:4]):
        browser.goto(path.as_uri())
        names = browser.eval_on_selector_all("math", "els => els.map(m => m.getAttribute('alttext') || '')")
        assert names and all(n.strip() for n in names), path.name
        assert "\\" not in " ".join(names)  # a spoken form, not LaTeX source
    text = course["report"].read_text(encoding="utf-8")
    assert "\\text{function" not in text and "fn:{" not in text  # function answers are drawn, not typeset


def test_report_is_usable_from_the_keyboard(course: dict[str, Any], browser: Any) -> None:
    """Tab reaches every link, every scrolling box and the student list's toggle, in reading order."""
    for path in (course["report"], course["overview"]):
        browser.set_viewport_size({"width": 390, "height": 900})
        browser.goto(path.as_uri())
        wanted = browser.evaluate(
            "() => Array.from(document.querySelectorAll('a[href], [tabindex=\"0\"], summary'))"
            ".filter(e => e.checkVisibility()).map((e, i) => (e.dataset.k = String(i)))")
        seen = []
        for _ in range(len(wanted) + 2):
            browser.keyboard.press("Tab")
            seen.append(browser.evaluate("() => document.activeElement.dataset.k || null"))
        reached = [k for k in seen if k is not None]
        assert set(wanted) <= set(reached), path.name
        first = [reached.index(k) for k in wanted]
        assert first == sorted(first), f"{path.name}: focus order differs from reading order"
        scrollers = browser.evaluate(
            "() => Array.from(document.querySelectorAll('*')).filter(e => e.scrollWidth > e.clientWidth + 1 && "
            "['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).map(e => e.tabIndex)")
        assert all(t >= 0 for t in scrollers), path.name  # a box that scrolls can be focused


def test_the_verdict_is_told_in_words_and_passes_axe(browser: Any) -> None:
    """What ``check`` shows in JupyterLab: the mark and points as text (the colour and icon only repeat
    them), in reading order mark, points, answer, message; the plot's alternative says what it shows."""
    from grader.notebook.display import CheckResult

    verdicts = [
        CheckResult("chain_rule", "wrong", 0, 2, "Did you forget the inner derivative, $2x$?", misconception="m",
                    answer_latex="3 (x^2+1)^2", answer_text="3*(x**2 + 1)**2",
                    counterexample="At x = -2.26 your answer is 111.9 but the correct value is -505.8.",
                    plot_png=b"\x89PNG", plot_text="Plot of your answer for x from -3 to 3. It differs from the "
                                                    "correct one everywhere shown (about 0.333 times)."),
        CheckResult("power_rule", "correct", 1, 1, "Correct."),
        CheckResult("closed_form", "unanswered", 0, 1, "Not answered yet: replace ... with your answer."),
        CheckResult("gradient", "wrong", 1, 2, "Partial credit: 1 of 2 entries are right."),
        CheckResult("mse", "error", 0, None, "This answer cannot be checked here: no key."),
    ]
    body = "".join(v._repr_html_() for v in verdicts)
    browser.set_content(f'<!DOCTYPE html><html lang="en"><head><title>verdicts</title></head>'
                        f'<body><main>{body}</main></body></html>')
    assert [v for v in axe_violations(browser, 1280) if v["impact"] in BLOCKING] == []
    groups = browser.eval_on_selector_all(".calcgrade-verdict", "els => els.map(e => [e.getAttribute('aria-label'), "
                                          "e.innerText.replace(/\\s+/g, ' ').trim()])")
    assert groups[0][0] == "Check of chain_rule: Not yet, 0 / 2 points"
    assert groups[1][0] == "Check of power_rule: Correct, 1 / 1 points"
    assert groups[3][0].startswith("Check of gradient: Partly right")
    text = groups[0][1]
    order = [text.index(s) for s in ("Not yet", "0 / 2 points", "Your answer", "inner derivative", "At x = -2.26")]
    assert order == sorted(order)
    hidden = browser.eval_on_selector_all(".calcgrade-mark span", "els => els.map(e => e.getAttribute('aria-hidden'))")
    assert hidden == ["true"] * len(verdicts)  # the icon is decoration; the mark is read
    assert browser.get_attribute(".calcgrade-plot img", "alt").startswith("Plot of your answer for x from -3 to 3")


# --- in JupyterLab --------------------------------------------------------------------------------------
LAB_ASSIGNMENT = "02_derivatives"


def _course_id() -> str:
    match = re.search(r"""CourseDirectory\.course_id\s*=\s*["']([^"']+)["']""",
                      (ROOT / "nbgrader_config.py").read_text(encoding="utf-8"))
    assert match, "nbgrader_config.py sets no CourseDirectory.course_id"
    return match.group(1)


def test_in_jupyterlab_the_verdict_passes_axe_and_validate_is_reached_by_keyboard(tmp_path: Path,
                                                                               chromium: Any) -> None:
    """A student's JupyterLab: the verdict of a wrong answer (with its plot) passes axe's WCAG rules where
    it is shown, and a keyboard alone reaches nbgrader's Validate button from the notebook's toolbar and
    presses it (Validate's results dialog opens)."""
    root = tmp_path / "exercises"
    shutil.copytree(ROOT / "exercises" / LAB_ASSIGNMENT, root / LAB_ASSIGNMENT,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home = tmp_path / "jupyter-home"
    home.mkdir()
    lab.release_to_student_exchange(home, _course_id(), root / LAB_ASSIGNMENT)
    with lab.running_jupyterlab(root, home) as server:
        page = chromium.new_page()
        panel = lab.open_notebook(page, server, f"{LAB_ASSIGNMENT}/derivatives.ipynb")
        # the plot has a time budget that a loaded machine can exceed: this test gives it ample room
        lab.replace_cell_source(page, lab.code_cell_matching(panel, r"^\s*d_chain\s*="),
                                "import grader.notebook.plots as plots; plots.PLOT_TIMEOUT = 60\n"
                                "d_chain = 3*(x**2 + 1)**2")
        lab.run_all_cells(page)
        verdict = panel.locator('.jp-OutputArea .calcgrade-verdict[data-qid="chain_rule"]')
        verdict.wait_for(state="attached", timeout=120_000)
        lab.wait_kernel_idle(panel, 120_000)
        lab.scroll_to_center(verdict)
        assert verdict.get_attribute("aria-label") == "Check of chain_rule: Not yet, 0 / 2 points"
        alt = verdict.locator(".calcgrade-plot img").get_attribute("alt")
        assert alt.startswith("Plot of your answer for x from") and re.search(r"correct values? .*\d", alt), alt
        if not page.evaluate("() => typeof axe !== 'undefined'"):
            page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        result = page.evaluate("tags => axe.run({include: [['.calcgrade-verdict']]}, {runOnly: {type: 'tag', "
                               "values: tags}, resultTypes: ['violations']})", WCAG_TAGS)
        assert [(v["id"], v["impact"]) for v in result["violations"] if v["impact"] in BLOCKING] == []

        # the keyboard only: into the notebook's toolbar, then along it (JupyterLab's toolbars move focus
        # with the arrow keys, the ARIA toolbar pattern; Tab as well, for older ones)
        page.keyboard.press("Escape")
        panel.locator(".jp-Toolbar button, .jp-Toolbar [tabindex='0']").first.focus()
        here = "() => { const e = document.activeElement; return [!!e.closest('.validate-button'), " \
               "e.tagName + '.' + e.className + ' ' + (e.getAttribute('title') || e.innerText || '').slice(0, 30)] }"
        path = []
        for key in ["ArrowRight"] * 30 + ["Tab"] * 30:
            reached, where = page.evaluate(here)
            path.append(where)
            if reached:
                break
            page.keyboard.press(key)
        assert page.evaluate(here)[0], f"the keyboard never reached nbgrader's Validate button: {path}"
        page.keyboard.press("Enter")
        dialog = page.locator(".jp-Dialog")
        dialog.locator(".jp-Dialog-header").filter(has_text="Validation Results").wait_for(timeout=120_000)
        page.keyboard.press("Escape")
