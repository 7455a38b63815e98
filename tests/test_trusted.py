"""The trusted grader: scores come only from the answer payload each restored test cell handed over.

Pure: a real private key (made by the key layer from references), real wire answers, a notebook as
nbgrader restores it, and an ``Execution`` as the sandboxed executor returns it; no kernel runs here.
"""

from __future__ import annotations

import copy
import json

import nbformat
import numpy as np
import pytest
import sympy as sp
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.course.sandbox.executor import Execution
from grader.course.grading.nbgrader_steps import answer_records
from grader.course.grading.trusted import (
    ANSWER_MIME, grade_execution, function_inputs, payload_problem, graded_cells_of,
)
from grader.key.entries import call_answer, make_question_record, unanswered_answer
from grader.key.wire import to_wire

x = sp.Symbol("x", real=True)


def _call(fn, args, timeout=2.0):
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the key layer turns this into an error result
        return "error", f"{type(exc).__name__}: {exc}"


def _entry(qid, reference, points, **kw):
    rec = make_question_record(qid, reference, kind=kw.pop("kind", None), var=kw.pop("var", None), rtol=1e-6,
                               atol=1e-9, mistakes=kw.pop("mistakes", None), inputs=kw.pop("inputs", None),
                               domain=None, plot=None, call=_call)
    rec["points"] = float(points)
    rec["notebook"] = "nb.ipynb"
    return rec


def _meta(**nbgrader):
    base = {"schema_version": 3, "locked": False, "solution": False, "grade": False, "task": False}
    base.update(nbgrader)
    return {"nbgrader": base}


KEY = {"format": "calcgrade-private-key/1", "assignment": "a1", "questions": {
    "chain": _entry("chain", 6 * x * (x**2 + 1)**2, 2, var=x, mistakes={
        "forgot_inner": (3 * (x**2 + 1)**2, "Did you forget the inner derivative?")}),
    "total": _entry("total", 55, 1),
    "square": _entry("square", lambda v: v * v, 3, kind="function", inputs=[1.0, 2.5, -3.0]),
}}

# cells: 0 setup, 1 md, 2 answer chain, 3 test chain, 4 answer total, 5 test total, 6 answer square, 7 test square
RESTORED = nbformat.validator.normalize(new_notebook(cells=[
    new_code_cell("import sympy as sp\nfrom grader import check", metadata=_meta(locked=True, grade_id="setup")),
    new_markdown_cell("Questions", metadata=_meta(locked=True, grade_id="md")),
    new_code_cell("d_chain = 6*x*(x**2+1)**2", metadata=_meta(solution=True, grade_id="ans_chain")),
    new_code_cell('check("chain", d_chain)', metadata=_meta(grade=True, locked=True, points=2, grade_id="test_chain")),
    new_code_cell("total = 55", metadata=_meta(solution=True, grade_id="ans_total")),
    new_code_cell('check("total", total)', metadata=_meta(grade=True, locked=True, points=1, grade_id="test_total")),
    new_code_cell("def square(v):\n    return v*v", metadata=_meta(solution=True, grade_id="ans_square")),
    new_code_cell('check("square", square)', metadata=_meta(grade=True, locked=True, points=3, grade_id="test_square")),
]))[1]
RESTORED = json.loads(json.dumps(RESTORED))


def payload(qid, answer):
    return {"qid": qid, "answer": answer, "v": 1}


def right_payloads():
    return {3: [payload("chain", to_wire(6 * x * (x**2 + 1)**2))], 5: [payload("total", 55)],
            7: [payload("square", call_answer(lambda v: v * v, KEY["questions"]["square"], call=_call))]}


def execution(payloads, *, notebook=None, stopped=None, stopped_at=None, timed_out=()):
    nb = copy.deepcopy(notebook or RESTORED)
    for index, items in payloads.items():
        nb["cells"][index]["outputs"] = [
            {"output_type": "display_data", "data": {ANSWER_MIME: p, "text/plain": "recorded"}, "metadata": {}}
            for p in items]
    return Execution(key="alice/a1/nb.ipynb", notebook=nb, payloads=payloads, stopped=stopped, stopped_at=stopped_at,
                     timed_out_cells=list(timed_out), sandboxed=True, seconds=0.1)


def grade(ex, restored=RESTORED):
    return grade_execution(ex, KEY, notebook_name="nb.ipynb", restored=restored)


def points(graded):
    return {q.qid: q.points for q in graded.questions}


def messages(graded):
    return {q.qid: q.message for q in graded.questions}


def test_right_answers_get_the_cells_points_and_a_trusted_display():
    graded = grade(execution(right_payloads()))
    assert points(graded) == {"chain": 2.0, "total": 1.0, "square": 3.0}
    assert graded.score == 6.0 and graded.max_score == 6.0
    out = graded.notebook["cells"][3]["outputs"]
    assert len(out) == 1 and out[0]["output_type"] == "display_data"
    assert 'data-correct="true"' in out[0]["data"]["text/html"] and "2 / 2 points" in out[0]["data"]["text/plain"]
    assert out[0]["data"]["application/vnd.calcgrade.verdict+json"]["trusted"] is True
    assert ANSWER_MIME not in json.dumps(graded.notebook)  # payloads are not echoed into the graded notebook
    nbformat.validate(nbformat.from_dict(graded.notebook))


def test_a_wrong_answer_gets_the_verdict_of_the_private_key():
    p = right_payloads()
    p[3] = [payload("chain", to_wire(3 * (x**2 + 1)**2))]
    p[5] = [payload("total", 54)]
    graded = grade(execution(p))
    assert points(graded) == {"chain": 0.0, "total": 0.0, "square": 3.0}
    assert "inner derivative" in messages(graded)["chain"]
    by_qid = {q.qid: q for q in graded.questions}
    assert by_qid["chain"].verdict["misconception"] == "forgot_inner" and by_qid["total"].status == "wrong"


def test_no_payload_two_payloads_another_question_or_garbage_give_zero_with_a_reason():
    p = right_payloads()
    del p[3]                                                   # nothing handed over
    p[5] = [payload("total", 55), payload("total", 55)]        # two answers
    p[7] = [payload("chain", to_wire(6 * x * (x**2 + 1)**2))]  # an answer to another question
    graded = grade(execution(p))
    assert points(graded) == {"chain": 0.0, "total": 0.0, "square": 0.0}
    m = messages(graded)
    assert "No answer was recorded" in m["chain"]
    assert "2 answers" in m["total"]
    assert "another question ('chain')" in m["square"]
    for garbage in ({"$": "no-such-tag"}, ["NotAFunction", "x"], {"$": "calls", "results": "x"}):
        p = right_payloads()
        p[3] = [payload("chain", garbage)]
        p[7] = [payload("square", garbage)]
        g = grade(execution(p))
        assert points(g)["chain"] == 0.0 and points(g)["square"] == 0.0, garbage
    for bad in ("not a dict", {"qid": "total", "answer": 55}, {"qid": 5, "answer": 55, "v": 1}, None):
        p = right_payloads()
        p[5] = [bad]
        assert points(grade(execution(p)))["total"] == 0.0, bad


def test_oversized_or_deeply_nested_payloads_are_refused_without_recursion():
    deep: object = 1
    for _ in range(100_000):
        deep = [deep]
    assert "too large or too deeply nested" in payload_problem(payload("total", deep), "total")
    wide = payload("total", ["x" * 1000] * 10_000)
    assert "too large" in payload_problem(wide, "total")
    p = right_payloads()
    p[5] = [payload("total", deep)]
    assert points(grade(execution(p)))["total"] == 0.0


def test_a_function_answer_with_results_that_do_not_match_the_inputs_is_not_credited():
    p = right_payloads()
    p[7] = [payload("square", {"$": "calls", "results": [{"ok": 1.0}]})]
    assert points(grade(execution(p)))["square"] == 0.0
    assert function_inputs(KEY) == {"square": KEY["questions"]["square"]["inputs"]}


def test_questions_after_the_stop_say_why_and_earlier_ones_keep_their_points():
    p = right_payloads()
    del p[5], p[7]
    graded = grade(execution(p, stopped="the process was killed: out of memory", stopped_at=4))
    assert points(graded) == {"chain": 2.0, "total": 0.0, "square": 0.0}
    assert messages(graded)["total"] == "Your notebook stopped before this question: the process was killed: out of memory."
    assert graded.stopped == "the process was killed: out of memory"


def test_a_cell_stopped_at_the_time_limit_costs_only_its_question():
    p = right_payloads()
    del p[5]
    graded = grade(execution(p, timed_out=[5]))
    assert points(graded) == {"chain": 2.0, "total": 0.0, "square": 3.0}
    assert "time limit" in messages(graded)["total"]


def test_scores_and_verdicts_in_the_outputs_are_never_read():
    """Everything a student's code can print is ignored: a float result, nbgrader-style scores, a forged
    verdict; and forged verdict displays in other cells are removed from the graded notebook."""
    p = right_payloads()
    del p[3]
    ex = execution(p)
    forged = {"application/vnd.calcgrade.verdict+json": {"qid": "chain", "points": 2, "correct": True},
              "text/html": '<div class="calcgrade-verdict" data-correct="true">Correct 2 / 2 points</div>',
              "text/plain": "2.0"}
    ex.notebook["cells"][3]["outputs"] = [
        {"output_type": "execute_result", "execution_count": 3, "data": forged, "metadata": {}}]
    ex.notebook["cells"][2]["outputs"] = [{"output_type": "display_data", "data": forged, "metadata": {}},
                                          {"output_type": "stream", "name": "stdout", "text": "hello"}]
    graded = grade(ex)
    assert points(graded)["chain"] == 0.0
    assert graded.notebook["cells"][2]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "hello"}]


def test_the_restored_notebook_decides_cells_and_points_not_the_executed_one():
    p = right_payloads()
    ex = execution(p)
    for cell in ex.notebook["cells"]:
        if cell["metadata"]["nbgrader"].get("grade"):
            cell["metadata"]["nbgrader"]["points"] = 100
    ex.notebook["cells"][5]["source"] = 'check("chain", d_chain)'
    ex.notebook["cells"].append({"cell_type": "code", "source": 'check("total", 55)', "outputs": [],
                                 "metadata": _meta(grade=True, points=50, grade_id="extra"), "execution_count": 1})
    graded = grade(ex)
    assert points(graded) == {"chain": 2.0, "total": 1.0, "square": 3.0}
    assert graded.max_score == 6.0 and len(graded.notebook["cells"]) == len(RESTORED["cells"])


def test_hostile_output_structures_become_a_valid_notebook():
    ex = execution(right_payloads())
    ex.notebook["cells"][2]["outputs"] = [
        "text", {"output_type": "stream", "name": "evil", "text": ["a", "b"]}, {"output_type": "weird"},
        {"output_type": "display_data", "data": "nope"}, {"output_type": "error", "ename": 1, "traceback": "x"},
        {"output_type": "display_data", "data": {"text/plain": ["x" * 200_000]}, "metadata": {"a": float("nan")}}]
    ex.notebook["cells"][4] = "not a cell"
    graded = grade(ex)
    assert graded.score == 6.0
    nbformat.validate(nbformat.from_dict(graded.notebook))
    text = graded.notebook["cells"][2]["outputs"][-1]["data"]["text/plain"]
    assert len(text) < 110_000 and text.endswith("(output truncated)")


def test_unanswered_is_zero_and_says_so():
    p = right_payloads()
    p[5] = [payload("total", unanswered_answer("`total` is not defined yet"))]
    graded = grade(execution(p))
    q = graded.by_grade_id()["test_total"]
    assert q.points == 0.0 and q.status == "unanswered" and "not defined yet" in q.message


def test_test_cells_and_question_ids_come_from_the_restored_source():
    cells = graded_cells_of(RESTORED)
    assert [(c.index, c.grade_id, c.points, c.qid) for c in cells] == [
        (3, "test_chain", 2.0, "chain"), (5, "test_total", 1.0, "total"), (7, "test_square", 3.0, "square")]


def test_an_assert_style_test_cell_is_left_for_manual_grading_at_zero():
    nb = copy.deepcopy(RESTORED)
    nb["cells"][5]["source"] = "assert total == 55"
    graded = grade(execution(right_payloads()), restored=nb)
    q = graded.by_grade_id()["test_total"]
    assert q.points == 0.0 and q.status == "manual" and "by hand" in q.message


def test_answer_records_for_the_class_report():
    p = right_payloads()
    p[3] = [payload("chain", to_wire(3 * (x**2 + 1)**2))]
    graded = grade(execution(p))
    records = answer_records(graded, KEY, assignment="a1", student="alice", notebook="nb", hints={"chain": 2})
    assert [(r["qid"], r["points"], r["max_points"], r["correct"], r["misconception"], r["hints_used"])
            for r in records] == [("chain", 0.0, 2.0, False, "forgot_inner", 2), ("total", 1.0, 1.0, True, None, 0),
                                  ("square", 3.0, 3.0, True, None, 0)]
    assert records[0]["answer"] == to_wire(3 * (x**2 + 1)**2) and records[0]["entry"] is KEY["questions"]["chain"]
    assert {r["assignment"] for r in records} == {"a1"} and {r["student"] for r in records} == {"alice"}


def test_numpy_answers_round_trip_through_the_trusted_grader():
    key = {"questions": {"v": _entry("v", np.array([1.0, 2.0]), 2)}}
    nb = copy.deepcopy(RESTORED)
    nb["cells"][3]["source"] = 'check("v", vec)'
    ex = execution({3: [payload("v", to_wire(np.array([1.0, 2.0])))]}, notebook=nb)
    graded = grade_execution(ex, key, notebook_name="nb.ipynb", restored=nb)
    assert graded.by_grade_id()["test_chain"].points == 2.0


@pytest.mark.parametrize("stopped_at", [None, 3])
def test_a_stop_without_a_cell_index_stops_every_unanswered_question(stopped_at):
    graded = grade(execution({}, stopped="the notebook ran past its time limit (300 s)", stopped_at=stopped_at))
    assert graded.score == 0.0
    assert all(q.status == "stopped" for q in graded.questions)


def test_graded_answers_reach_the_answer_log(tmp_path):
    answerlog = pytest.importorskip("grader.course.grading.answerlog")
    from grader.course.grading.nbgrader_steps import record_answers

    p = right_payloads()
    p[3] = [payload("chain", to_wire(3 * (x**2 + 1)**2))]
    del p[5]
    graded = grade(execution(p))
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    records = answer_records(graded, KEY, assignment="a1", student="alice", notebook="nb", hints={"square": 1})
    assert record_answers(db, "a1", "alice", records) is True
    rows = {r.qid: r for r in answerlog.read_records(db, "a1")}
    assert set(rows) == {"chain", "total", "square"}
    assert rows["chain"].misconception == "forgot_inner" and rows["chain"].points == 0.0 and rows["chain"].answer_text
    assert rows["total"].answer_text == "" and not rows["total"].correct
    assert rows["square"].correct and rows["square"].points == 3.0 and rows["square"].hints_used == 1
    assert record_answers(db, "a1", "alice", records[:1]) and len(answerlog.read_records(db, "a1")) == 1


@pytest.mark.parametrize("plots", [False, True])
def test_a_plot_of_a_wrong_function_answer_only_when_asked(plots):
    p = right_payloads()
    p[7] = [payload("square", call_answer(lambda v: v + 1, KEY["questions"]["square"], call=_call))]
    graded = grade_execution(execution(p), KEY, notebook_name="nb.ipynb", restored=RESTORED, plots=plots)
    html = graded.notebook["cells"][7]["outputs"][0]["data"]["text/html"]
    assert graded.by_grade_id()["test_square"].points == 0.0 and 'data-correct="false"' in html
    assert ("calcgrade-plot" in html) is plots


def test_a_flood_of_events_is_bounded_and_applied_in_linear_time():
    """Issue 21, class 3: a job writing display/update events straight into its result file."""
    import time as _time

    from grader.course.sandbox.recorded import MAX_EVENTS, MAX_OUTPUT_TEXT, MAX_OUTPUTS, apply_events

    nb = {"cells": [{"cell_type": "code", "source": "", "outputs": []} for _ in range(3)]}
    shown = {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {},
             "transient": {"display_id": "d"}}
    events = [{"c": 0, "n": 1}]
    events += [{"c": 0, "o": shown} for _ in range(20_000)]
    events += [{"c": 0, "o": shown, "upd": "d"} for _ in range(20_000)]
    events += [{"c": 1, "o": {"output_type": "stream", "name": "stdout", "text": "y" * 1000}} for _ in range(20_000)]
    events += [{"c": 2, "o": {"output_type": "stream", "name": "stdout", "text": "never applied"}}]
    assert len(events) > MAX_EVENTS
    started = _time.monotonic()
    apply_events(nb, events)
    assert _time.monotonic() - started < 60     # generous: quadratic work here took hours
    assert len(nb["cells"][0]["outputs"]) == MAX_OUTPUTS
    text = nb["cells"][1]["outputs"][0]["text"]
    assert len(nb["cells"][1]["outputs"]) == 1 and len(text) <= MAX_OUTPUT_TEXT + 100 and text.endswith("(output truncated)")
    assert nb["cells"][2]["outputs"] == []      # past MAX_EVENTS nothing is read


def test_one_clean_up_bounds_every_untrusted_output():
    from grader.course.sandbox.recorded import MAX_OUTPUT_TEXT, clean_output

    deep: list = []
    for _ in range(5000):
        deep = [deep]
    out = clean_output({"output_type": "display_data", "data": {"text/plain": "z" * (3 * MAX_OUTPUT_TEXT),
                        "application/json": deep, "text/html": ["<b>", 5]}, "metadata": {"m": deep}})
    assert len(out["data"]["text/plain"]) < MAX_OUTPUT_TEXT + 100
    assert "application/json" not in out["data"] and "text/html" not in out["data"] and out["metadata"] == {}
    err = clean_output({"output_type": "error", "ename": "E" * 10_000, "evalue": None, "traceback": ["t"] * 10_000})
    assert len(err["ename"]) < 300 and err["evalue"] == "" and len(err["traceback"]) == 100


# --- one hard budget per notebook (issue 21, class 3) ------------------------------------------------------
def test_grading_runs_in_its_own_process_and_gives_what_grading_inline_gives():


    from grader.course.grading.gradingprocess import grade_within_budget

    ex = execution(right_payloads())
    inline = grade_execution(ex, KEY, notebook_name="nb.ipynb", restored=RESTORED)
    apart = grade_within_budget(ex, KEY, notebook_name="nb.ipynb", restored=RESTORED, budget=60)
    assert apart.score == inline.score == 6.0
    assert [(q.grade_id, q.points, q.status, q.message) for q in apart.questions] == \
        [(q.grade_id, q.points, q.status, q.message) for q in inline.questions]
    assert all(q.fingerprint and q.answer_text is not None for q in apart.questions)   # the answer log's fields


def test_a_notebook_over_its_budget_gets_zero_with_the_reason_and_the_next_one_is_graded():
    """Work the decoder cannot refuse (a big but legal answer) still cannot run past the notebook's budget."""
    import time as _time

    from grader.course.grading.gradingprocess import grade_within_budget

    k = sp.Symbol("k")
    heavy = sp.Add(*[sp.sin(x + k * i) * sp.exp(x / (i + 1)) for i in range(4000)], evaluate=False)
    slow = right_payloads()
    slow[3] = [payload("chain", to_wire(heavy))]
    started = _time.monotonic()
    graded = grade_within_budget(execution(slow), KEY, notebook_name="nb.ipynb", restored=RESTORED, budget=1)
    assert _time.monotonic() - started < 120          # generous: the CPU limit is 1 s, the wall backstop 34 s
    assert graded.score == 0 and all(q.status == "invalid" for q in graded.questions)
    assert all("budget" in q.message for q in graded.questions)
    assert "budget" in json.dumps(graded.notebook["cells"][3]["outputs"])
    honest = grade_within_budget(execution(right_payloads()), KEY, notebook_name="nb.ipynb", restored=RESTORED,
                                 budget=60)
    assert honest.score == 6.0


def test_a_wrong_answer_graded_without_plots_leaves_matplotlib_unimported():
    """Autograded feedback draws no plot (``plots=False``), so grading a wrong answer must not import
    matplotlib: in the grading process that was half a second of CPU on the first wrong answer of every
    class, while the first results were awaited.  A fresh interpreter grades wrong answers of this module's
    key; the verdicts are checked too, so that the test cannot pass on answers that were never judged wrong."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import sys
from tests import test_trusted as t
from grader.key.wire import to_wire
graded = t.grade(t.execution({3: [t.payload("chain", to_wire(3 * (t.x**2 + 1)**2))], 5: [t.payload("total", 54)]}))
print(" ".join(f"{q.qid}={q.status}" for q in graded.questions), "matplotlib" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=str(Path(__file__).resolve().parent.parent))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["chain=wrong", "total=wrong", "square=missing", "False"]
