"""What a student reads after grading: nbgrader's real feedback page and nbgrader's Validate.

One small course (the fixture's assignment under the course's own nbgrader_config.py) is released,
one submission is autograded and its feedback generated with nbgrader; the page must show every
formula as MathML without loading anything, name each test cell by its question, carry no score echo,
and keep our verdicts (partial credit included).  Validate must list our verdicts for the cells that
fall short, not "Partial credit; passed some but not all of the tests".
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from fixtures import make_course

from grader.course.coursedir import nbgrader_api, scripts_on_path
from grader.course.grading.feedbackhtml import latex_to_mathml, render_html_math, render_markdown_math
from grader.course.release.keybuild import build_keys

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = make_course.ASSIGNMENT
STUDENT = "alice"
ANSWERS = dict(make_course.STUDENT_ANSWERS)
ANSWERS["ans_chain_rule"] = "d_chain = 3*(x**2 + 1)**2\nd_chain"           # a mistake, shown as SymPy's LaTeX
ANSWERS["ans_gradient"] = "grad_f = sp.Matrix([2*x*y + 3*y**2, x**2 + 6*x*y + 1])"  # 1 of 2 entries right


def _student_notebook(released: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(str(released), as_version=4)
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in ANSWERS:
            if ANSWERS[gid] is None:
                continue
            cell.source = ANSWERS[gid]
        cells.append(cell)
        if gid == "ans_chain_rule":
            cells.append(new_code_cell('from grader import hint\nhint("chain_rule")\nhint("chain_rule")'))
            cells.append(new_markdown_cell("My note: $$\\frac{d}{dx}\\left(x^2+1\\right)^3$$ and `$not math$`."))
    nb.cells = cells
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("feedback") / "course"
    root.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(make_course.COURSE / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns("calcgrade_public.json"))
    build_keys(root, ASSIGNMENT)
    api = nbgrader_api(root)
    with scripts_on_path():
        assert api.generate_assignment(ASSIGNMENT, force=True, create=True)["success"]
    released = root / "exercises" / ASSIGNMENT / "basics.ipynb"
    submitted = root / "submitted" / STUDENT / ASSIGNMENT
    submitted.mkdir(parents=True)
    nbformat.write(_student_notebook(released), str(submitted / "basics.ipynb"))
    with scripts_on_path():
        graded = api.autograde(ASSIGNMENT, STUDENT, force=True, create=True)
        assert graded["success"], graded.get("log", "")[-2000:]
        made = api.generate_feedback(ASSIGNMENT, STUDENT, force=True)
        assert made["success"], made.get("log", "")[-2000:]
    return root


@pytest.fixture(scope="module")
def page(course: Path) -> str:
    return (course / "feedback" / STUDENT / ASSIGNMENT / "basics.html").read_text(encoding="utf-8")


def _body_text(page: str) -> str:
    body = page[page.index("<body"):]
    return re.sub(r"<style.*?</style>|<script.*?</script>", "", body, flags=re.S)


pytestmark = pytest.mark.slow


def test_every_formula_is_mathml_and_no_script_is_loaded(page):
    body = _body_text(page)
    assert page.count("<math ") >= 10
    assert "$$" not in body and "\\(" not in body and "\\[" not in body and "\\frac" not in body
    assert "mathjax" not in page.lower() and "cdnjs" not in page and "<script src=" not in page
    # the markdown formulas, SymPy's LaTeX output and the answer in the verdict are all rendered
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in page                          # $(x^2+1)^3$ in the text
    assert re.search(r'<span class="calcgrade-math"[^>]*>\s*<math[^>]*display="block"', page)  # SymPy's output
    # code stays code: a dollar sign in backticks is not math
    assert "<code>$not math$</code>" in page


def test_the_score_index_names_questions_and_the_score_echo_is_gone(page):
    index = re.findall(r'<li><a href="#(test_\w+)">([^<]+)</a> \(Score: ([\d.]+) / ([\d.]+)\)', page)
    labels = {gid: (label, float(score)) for gid, label, score, _ in index}
    assert "Test cell" not in page
    assert labels["test_chain_rule"] == ("Question chain_rule: Chain rule", 0.0)
    assert labels["test_gradient"] == ("Question gradient: Gradient", 1.0)  # partial credit: 1 of 2 entries
    assert labels["test_sum_value"][1] == 1.0
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", _body_text(page))).split())
    assert not re.search(r"Out\[\d+\]: (?:0|1|2|0\.5|1\.0|2\.0|0\.0)(?: |$)", text)  # no "Out[n]: 0.0"


def test_the_verdicts_hints_and_partial_credit_reach_the_page(page):
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", _body_text(page))).split())
    assert "Did you forget to multiply by the inner derivative, 2x?" in text
    assert "Partly right" in text and "Partial credit: 1 of 2 entries are right." in text
    assert "Hint 2 of 3" in text and "Which function is inside which?" in text


def test_the_autograded_notebook_keeps_the_hint_count(course):
    from grader.notebook.hints import hints_used

    nb = nbformat.read(str(course / "autograded" / STUDENT / ASSIGNMENT / "basics.ipynb"), as_version=4)
    seen = [o["data"]["application/vnd.calcgrade.hint+json"] for c in nb.cells if c.cell_type == "code"
            for o in c.outputs if "application/vnd.calcgrade.hint+json" in o.get("data", {})]
    assert seen == [{"qid": "chain_rule", "tier": 2, "tiers": 3, "v": 1}]
    assert hints_used(nb) == {"chain_rule": 2} and hints_used(dict(nb)) == {"chain_rule": 2}
    forged = {"cells": [{"outputs": [{"data": {"application/vnd.calcgrade.hint+json": {"qid": "q", "tier": "9"}}}]}]}
    assert hints_used(forged) == {}


def test_validate_lists_our_verdicts(course, tmp_path):
    from nbgrader.validator import Validator
    from traitlets.config import Config

    folder = tmp_path / "student"
    shutil.copytree(course / "submitted" / STUDENT / ASSIGNMENT, folder)
    shutil.copy2(course / "exercises" / ASSIGNMENT / "calcgrade_public.json", folder)  # a student's copy
    results = Validator(config=Config()).validate(str(folder / "basics.ipynb"))
    failed = {re.search(r'check\("(\w+)"', f["source"]).group(1): f["raw_error"] for f in results["failed"]}
    assert set(failed) == {"chain_rule", "closed_form", "integral_x2", "gradient", "mse", "train"}
    assert all("Partial credit; passed some" not in e for e in failed.values())
    assert failed["chain_rule"].startswith("[chain_rule] Not yet - 0 / 2 points")
    assert "Did you forget to multiply by the inner derivative, 2x?" in failed["chain_rule"]
    assert failed["gradient"].startswith("[gradient] Partly right - 1 / 2 points")
    assert "Not answered yet" in failed["closed_form"]


# --- the renderer on its own (no nbgrader) -------------------------------------------------------------
def test_math_in_html_outputs_is_rendered_but_code_is_left_alone():
    out = render_html_math('<div>Your answer: \\(2 x \\cos{\\left(x \\right)}\\) costs $5 and $6; '
                           '<code>\\(x\\)</code> x &lt; \\(a &lt; b\\)</div>')
    assert out.count("<math ") == 2 and "<code>\\(x\\)</code>" in out and "costs $5 and $6" in out
    assert "<mo>&#x0003C;</mo>" in out or "&lt;" in out.split("<math")[2]


def test_markdown_math_keeps_fenced_code_and_unknown_commands_stay_readable():
    src = "Text $x^2$.\n\n```python\ny = '$a$'\n```\n"
    out = render_markdown_math(src)
    assert out.count("<math ") == 1 and "y = '$a$'" in out
    assert latex_to_mathml("") is None


@pytest.mark.browser
def test_in_chromium_the_feedback_page_shows_typeset_math_offline(course, tmp_path):
    """The page as a student opens it: no network, formulas laid out as math (MathML), no raw LaTeX."""
    from browser_support import CHROMIUM, chromium_context

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    page_path = course / "feedback" / STUDENT / ASSIGNMENT / "basics.html"
    with chromium_context(tmp_path / "profile") as context:
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                      else route.abort())  # offline: anything but the file itself fails
        page = context.new_page()
        page.goto(page_path.as_uri())
        text = page.inner_text("body")
        assert "$$" not in text and "\\(" not in text and "\\frac" not in text
        sizes = page.eval_on_selector_all(
            "math", "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })")
        assert len(sizes) >= 10 and all(w > 0 and h > 0 for w, h in sizes)
        # a fraction is laid out as one: numerator above denominator
        frac = page.eval_on_selector(
            "mfrac", "f => [f.children[0].getBoundingClientRect().bottom, f.children[1].getBoundingClientRect().top]")
        assert frac[0] <= frac[1] + 1
