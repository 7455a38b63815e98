"""check() in the notebook: verdicts, display forms, nbgrader's plain float, unanswered stubs."""

from __future__ import annotations

import re

import json
import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from fixtures import make_course

from grader.notebook.display import VERDICT_MIME
from grader.course.kernelrun import run_notebook
from grader.notebook.check import Deferred, check

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)


@pytest.fixture(scope="module")
def student_nb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_course.student_copy(tmp_path_factory.mktemp("nbcourse") / "course")


@pytest.fixture
def in_exercise(student_nb: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(student_nb.parent)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("CALCGRADE_RECORD", raising=False)
    return student_nb.parent


def test_correct_answer_shows_mark_points_and_the_html_root(in_exercise):
    r = check("chain_rule", 6 * x * (x**2 + 1) ** 2)
    assert r.correct and r.earned == 2.0 and r.key == "public"
    html = r._repr_html_()
    assert '<div class="calcgrade-verdict" data-qid="chain_rule" data-correct="true"' in html
    assert "2 / 2 points" in html and "Correct" in html
    assert "\\(" in html  # the answer in LaTeX
    assert repr(r).startswith("[chain_rule] Correct - 2 / 2 points")
    bundle = r._repr_mimebundle_()
    assert bundle[VERDICT_MIME]["status"] == "correct" and bundle[VERDICT_MIME]["points"] == 2.0


def test_named_mistake_gives_its_hint_and_a_plot_without_the_reference(in_exercise):
    r = check("chain_rule", 3 * (x**2 + 1) ** 2)
    assert not r.correct and r.earned == 0.0 and r.misconception == "forgot_inner_derivative"
    html = r._repr_html_()
    assert 'data-correct="false"' in html and "inner derivative" in html and "calcgrade-hint" in html
    assert r.plot_png and r.plot_png.startswith(b"\x89PNG")
    text = repr(r)
    assert "Not yet" in text and "Hint: Did you forget" in text and "0 / 2 points" in text


def test_wrong_expression_gives_the_correct_value_at_a_feedback_point_once(in_exercise):

    key = json.loads((in_exercise / "calcgrade_public.json").read_text())["questions"]["chain_rule"]
    fb, sample = key["feedback"], key["sample"]
    # 6x(x**2 + 1)**2 has three terms once expanded: two values, too few to fit its coefficients
    assert len(fb["points"]) == 2 and not [p for p in fb["points"] if p in sample]
    r = check("chain_rule", x**2)
    p0, v0 = fb["points"][0]["x"], fb["values"][0][0]
    want = f"Not quite. At x = {p0:.4g} your answer is {p0**2:.4g} but the correct value is {v0:.4g}."
    assert r.message == want
    assert r.counterexample == ""  # said once: the message already gives it
    text, page = repr(r), r._repr_html_()
    # the page's text: the plot's text alternative (alt, aria-label) says the values again, for screen readers
    shown = re.sub(r'\s(?:alt|aria-label|title)="[^"]*"', "", page)
    assert text.count(f"x = {p0:.4g}") == 1 and shown.count(f"x = {p0:.4g}") == 1
    # a named mistake keeps the author's words and gets the counterexample line, worded the same way
    r = check("chain_rule", 3 * (x**2 + 1) ** 2)
    assert r.counterexample == (f"At x = {p0:.4g} your answer is {3 * (p0**2 + 1) ** 2:.4g} "
                                f"but the correct value is {v0:.4g}.")


@pytest.mark.parametrize("stub", [Ellipsis, None])
def test_unanswered_stub_gets_not_answered_yet_and_zero(in_exercise, stub):
    r = check("closed_form", stub)
    assert r.status == "unanswered" and r.earned == 0.0 and r.message.startswith("Not answered yet")
    assert 'data-correct="unanswered"' in r._repr_html_()


def test_an_undefined_name_is_not_answered_yet_not_a_traceback(in_exercise):
    r = check("integral_x2", Deferred(lambda: undefined_answer_name))  # noqa: F821
    assert r.status == "unanswered" and "`undefined_answer_name` is not defined" in r.message


def test_an_error_while_computing_the_answer_is_a_verdict(in_exercise):
    r = check("sum_value", Deferred(lambda: 1 / 0))
    assert r.status == "wrong" and "ZeroDivisionError" in r.message


def test_hostile_text_is_refused_without_running(in_exercise, tmp_path):
    target = tmp_path / "owned"
    r = check("chain_rule", f"__import__('os').system('touch {target}')")
    assert not r.correct and not target.exists()


@pytest.mark.parametrize("value", [np, iter([1]), object(), {"a": 1}, "", float("nan"), sp.Eq(x, 1),
                                   sp.Derivative(x**2, x), [[1, 2], [3]]])
def test_check_never_raises_on_odd_values(in_exercise, value):
    r = check("chain_rule", value)
    assert r.status in ("wrong", "error", "unanswered") and r.earned == 0.0 and r.message


def test_function_questions_report_exceptions_and_endless_loops(in_exercise):
    r = check("mse", lambda a, b: 1 / 0)
    assert r.status == "wrong" and "ZeroDivisionError" in r.message

    def loop(a, b):
        while True:
            pass

    t = time.perf_counter()
    r = check("mse", loop)
    assert time.perf_counter() - t < 30  # endless otherwise; slack for a busy machine
    assert r.status == "wrong" and "did not finish" in r.message
    r = check("mse", 3.0)
    assert r.status == "wrong" and "Python function" in r.message
    good = check("mse", lambda a, b: float(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))
    assert good.correct and good.earned == 2.0


def test_gradient_descent_mistake_gets_a_loss_curve(in_exercise, monkeypatch):
    from grader.notebook import plots

    # the plot's budget protects a student's kernel; on a loaded test machine give it ample headroom
    monkeypatch.setattr(plots, "PLOT_TIMEOUT", 120.0)

    def ascent(lr):
        w, out = 0.0, []
        for _ in range(20):
            out.append((w - 3.0) ** 2)
            w = w + lr * 2 * (w - 3.0)
        return np.array(out)

    r = check("train", ascent)
    assert r.misconception == "ascent" and r.plot_png and r.plot_png.startswith(b"\x89PNG")


def test_unknown_question_or_missing_key_is_reported_not_raised(in_exercise, tmp_path, monkeypatch):
    r = check("no_such_question", 1)
    assert r.status == "error" and "no_such_question" in r.message
    monkeypatch.chdir(tmp_path)
    r = check("chain_rule", x)
    assert r.status == "error" and "calcgrade_public.json" in r.message


def test_under_nbgrader_check_returns_a_plain_float_and_uses_the_private_key(in_exercise, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    value = check("chain_rule", 6 * x * (x**2 + 1) ** 2)
    assert type(value) is float and value == 2.0
    assert type(check("chain_rule", 3 * (x**2 + 1) ** 2)) is float
    assert check("closed_form", ...) == 0.0
    assert capsys.readouterr().err == ""


def test_in_a_real_kernel_under_nbgrader_each_test_cell_ends_with_a_float_and_no_stderr(student_nb, tmp_path):
    # an empty matplotlib config dir: the first plot builds the font cache, which logs a warning
    nb = run_notebook(student_nb, env={"NBGRADER_EXECUTION": "autograde", "MPLCONFIGDIR": str(tmp_path)})
    seen = {}
    for cell in nb.cells:
        if not cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        kinds = [o.output_type for o in cell.outputs]
        assert "error" not in kinds, cell.source
        assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], cell.source
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert len(results) == 1
        score = float(results[0].data["text/plain"])  # what nbgrader reads
        verdict = next(o.data[VERDICT_MIME] for o in cell.outputs if o.output_type == "display_data")
        assert verdict["key"] == "private" and score == verdict["points"]
        seen[verdict["qid"]] = (verdict["status"], verdict["misconception"])
    assert seen == make_course.EXPECTED_STATUS


def test_in_a_real_kernel_without_nbgrader_the_public_key_gives_the_same_verdicts(student_nb):
    nb = run_notebook(student_nb, env={"NBGRADER_EXECUTION": ""})
    seen = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            assert o.output_type != "error", cell.source
            if o.output_type == "execute_result" and VERDICT_MIME in o.data:
                v = o.data[VERDICT_MIME]
                assert v["key"] == "public"
                assert f'data-qid="{v["qid"]}"' in o.data["text/html"]
                seen[v["qid"]] = (v["status"], v["misconception"])
    assert seen == make_course.EXPECTED_STATUS


@pytest.mark.parametrize("nbgrader", ["", "autograde"])
@pytest.mark.parametrize("value", [x**(10**10), (x + 1) ** 100000, sp.Integer(10) ** (10**5), "x^(10^10)"],
                         ids=["x^1e10", "(x+1)^1e5", "10^1e5", "text power"])
def test_pathological_answers_end_quickly_with_a_verdict(in_exercise, monkeypatch, value, nbgrader):
    monkeypatch.setenv("NBGRADER_EXECUTION", nbgrader)
    for qid in ("chain_rule", "integral_x2", "sum_value"):
        t = time.perf_counter()
        out = check(qid, value)
        assert time.perf_counter() - t < 30  # slack for a busy machine
        assert float(out) == 0.0


@pytest.mark.parametrize("source, deferred", [
    ('check("chain_rule", d_chain)', True),
    ('score = check("mse", make_model(2))', True),
    ('check(qid, d_chain)', False),           # not the test-cell form
    ('check("sum_value", 55)', False),        # a constant needs no deferral
    ('check("q", (y := 2))', False),          # not expressible in a lambda
])
def test_the_test_cell_rewrite_defers_only_test_cell_answers(source, deferred):
    import ast

    from grader.notebook.check import _DeferCheckArguments

    out = ast.unparse(_DeferCheckArguments().visit(ast.parse(source)))
    assert ("Deferred(lambda:" in out) is deferred
    compile(ast.fix_missing_locations(_DeferCheckArguments().visit(ast.parse(source))), "<cell>", "exec")


def test_a_deferred_answer_is_computed_once(in_exercise):
    calls = []

    def answer():
        calls.append(1)
        return 55

    assert check("sum_value", Deferred(answer)).correct and len(calls) == 1


# --- issue 16: what the student sees -------------------------------------------------------------------
def test_partial_credit_for_an_array_in_both_keys(in_exercise, monkeypatch):
    one_wrong = sp.Matrix([2 * x * y + 3 * y**2, x**2 + 6 * x * y + 1])
    r = check("gradient", one_wrong)
    assert r.status == "wrong" and r.earned == 1.0 and r.score == 0.5 and r.key == "public"
    assert r.mark() == "Partly right" and "1 / 2 points" in r._repr_html_()
    assert "Partial credit: 1 of 2 entries are right." in r.message
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # the private key: what nbgrader reads
    assert check("gradient", one_wrong) == 1.0
    monkeypatch.setenv("NBGRADER_EXECUTION", "")
    # all or nothing stays the default: the fixture's other questions and a wrong shape earn nothing
    assert check("gradient", sp.Matrix([x**2 + 6 * x * y + 1])).earned == 0.0


def test_hints_come_one_tier_at_a_time_and_record_how_many(in_exercise):
    from grader import hint
    from grader.notebook import hints

    hints._reset()
    first = hint("chain_rule")
    assert first.tier == 1 and first.tiers == 3
    assert repr(first).startswith("[chain_rule] Hint 1 of 3") and "Which function is inside which?" in repr(first)
    assert "The chain rule" not in repr(first)
    second, third, again = hint("chain_rule"), hint("chain_rule"), hint("chain_rule")
    assert (second.tier, third.tier, again.tier) == (2, 3, 3)
    page = third._repr_html_()
    assert page.count('class="calcgrade-hint-tier"') == 3 and "\\(f(u) = u^3\\)" in page  # math for MathJax
    assert "last hint" in repr(again)
    bundle = third._repr_mimebundle_()
    assert bundle[hints.HINT_MIME] == {"qid": "chain_rule", "tier": 3, "tiers": 3, "v": 1}
    # hints cost nothing: a correct answer still earns every point
    assert check("chain_rule", 6 * x * (x**2 + 1) ** 2).earned == 2.0
    none = hint("sum_value")
    assert none.tier == 0 and "no hints" in repr(none) and none._repr_mimebundle_()[hints.HINT_MIME]["tier"] == 0


def test_one_voice_no_internal_names_code_and_math_in_messages(in_exercise):
    r = check("chain_rule", sp.sin)
    assert "grader." not in r.message and "Unsupported" not in r.message and "sp.sin(x)" in r.message
    r = check("integral_x2", Deferred(lambda: undefined_answer_name, ("undefined_answer_name",)))  # noqa: F821
    assert "<code>undefined_answer_name</code>" in r._repr_html_() and "`" not in r._repr_html_()
    typed = check("chain_rule", "6*x*(x^2+1)^2")
    assert typed.correct and typed.answer_latex == sp.latex(6 * x * (x**2 + 1) ** 2)
    assert "\\(" in typed._repr_html_()

    def prints(y, yhat):
        print(float(np.mean((np.asarray(y) - np.asarray(yhat)) ** 2)))

    r = check("mse", prints)
    assert r.status == "wrong" and "prints its result instead of returning it" in r.message


def test_the_plot_marks_the_correct_values_at_the_feedback_points(in_exercise, monkeypatch):
    import io

    from matplotlib import image

    from grader.notebook import plots

    monkeypatch.setattr(plots, "PLOT_TIMEOUT", 120.0)
    r = check("chain_rule", 6 * x**2)
    pixels = image.imread(io.BytesIO(r.plot_png))[..., :3]
    green = np.all(np.abs(pixels - np.array([0x2E, 0x7D, 0x32]) / 255) < 0.08, axis=-1)
    assert green.sum() > 20  # the "correct value" circles (the public key draws no reference curve)


def test_in_a_real_kernel_a_stale_answer_is_not_graded(tmp_path):
    answers = dict(make_course.STUDENT_ANSWERS)
    # a correct value first, then the same name from a cell that raises: the old value must not count
    answers["ans_chain_rule"] = "d_chain = 6*x*(x**2 + 1)**2\nd_chain = sin(x)*(x**2 + 1)**2"
    answers["ans_sum_value"] = "total = 55\nwhile True:\n    pass"
    answers["ans_mse"] = ("def mse(y, yhat):\n    print(float(np.mean((np.asarray(y) - np.asarray(yhat))**2)))\n"
                          "from grader import hint\nhint('chain_rule')\nhint('chain_rule')")
    nb_path = make_course.student_copy(tmp_path / "course", answers)
    nb = run_notebook(nb_path, env={"NBGRADER_EXECUTION": ""}, cell_timeout=12)
    verdicts = {}
    hint_outputs = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if VERDICT_MIME in data:
                verdicts[data[VERDICT_MIME]["qid"]] = data[VERDICT_MIME]
            if "application/vnd.calcgrade.hint+json" in data:
                hint_outputs.append(data["application/vnd.calcgrade.hint+json"])
    chain = verdicts["chain_rule"]
    assert chain["points"] == 0.0
    assert chain["message"] == ("Your answer cell raised NameError: name 'sin' is not defined; fix it and run it "
                                "again.")
    loop = verdicts["sum_value"]
    assert loop["points"] == 0.0 and "stopped before it finished (an endless loop?)" in loop["message"]
    assert "returns None: it prints its result" in verdicts["mse"]["message"]
    # the number of hints seen is in the notebook, for the instructor's report: the cell's last call
    # is its output, and it counts the tier shown by the first call too
    assert [h for h in hint_outputs if h["qid"] == "chain_rule"] == [{"qid": "chain_rule", "tier": 2, "tiers": 3,
                                                                        "v": 1}]


@pytest.mark.parametrize("source, names", [
    ("d_chain = sin(x)*3", {"d_chain"}),
    ("a, (b, c) = 1, (2, 3)\nfor i in range(3):\n    t = i", {"a", "b", "c", "i", "t"}),
    ("def mse(y, yhat):\n    inner = 1\n    return inner", {"mse"}),
    ("import numpy as np\nfrom sympy import sin", {"np", "sin"}),
    ("d_chain = 3*(x**2 + 1)**2)\ngrad: list = []", {"d_chain", "grad"}),  # a SyntaxError: read by lines
])
def test_the_names_a_cell_assigns(source, names):
    from grader.notebook.check import assigned_names

    assert assigned_names(source) == names
