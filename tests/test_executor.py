"""The sandboxed executor's API: answers handed over, outputs like nbclient, faults that cost only their cell.

Real bubblewrap sandboxes and real processes (one warm pool shared by the session, see
tests/executor_support.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import executor_support as es
from grader.course.sandbox.executor import Execution, ExecutorPool, Job, Limits, sandbox_available
from grader.notebook import capture

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "02_derivatives"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sandbox_available()[0], reason=sandbox_available()[1])]


def _inputs() -> dict[str, list]:
    key = json.loads((ROOT / "solutions" / ASSIGNMENT / "calcgrade_public.json").read_text())
    return {q: e["inputs"] for q, e in key["questions"].items() if e.get("kind") == "function"}


def _variants() -> dict[str, dict]:
    """alice's numbers of the variant questions (what the trusted side hands a job, docs/VARIANTS.md)."""
    from grader.key.variants import params_for_student

    return params_for_student(json.loads((ROOT / "solutions" / ASSIGNMENT / "calcgrade_public.json").read_text()), "alice")


def _payloads_in_process(nb: dict[str, Any], inputs: dict[str, list], monkeypatch: pytest.MonkeyPatch
                         ) -> dict[str, dict]:
    """What check() emits for every question when this process is in grading mode (no sandbox)."""
    import IPython.display

    shown: dict[str, dict] = {}

    def display(obj: Any, raw: bool = False, **_: Any) -> None:
        payload = obj[capture.ANSWER_MIME]
        shown[payload["qid"]] = json.loads(json.dumps(payload))

    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.chdir(ROOT / "solutions" / ASSIGNMENT)
    capture.configure(inputs, _variants())
    try:
        namespace: dict[str, Any] = {}
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), "<cell>", "exec"), namespace)
    finally:
        capture.deconfigure()
    return shown


def _canonical(payload: dict) -> dict:
    """The payload with its answer decoded and encoded again here (one process, one argument order)."""
    from grader.key.wire import from_wire, to_wire

    answer = payload["answer"]
    if isinstance(answer, dict) and answer.get("$") == "calls":
        return payload
    return {**payload, "answer": to_wire(from_wire(answer))}


def test_honest_notebook_hands_over_the_wire_answers_check_produces(monkeypatch):
    nb = json.loads((ROOT / "solutions" / ASSIGNMENT / "derivatives.ipynb").read_text())
    inputs = _inputs()
    ex = es.pool().run(Job(f"alice/{ASSIGNMENT}/derivatives.ipynb", nb, {}, inputs, Limits(), _variants()))
    assert ex.stopped is None and ex.sandboxed and ex.timed_out_cells == []
    expected = _payloads_in_process(nb, inputs, monkeypatch)
    got = {p["qid"]: p for ps in ex.payloads.values() for p in ps}
    assert len(expected) == 14 and got.keys() == expected.keys()
    for qid in expected:
        # the same value; SymPy may order the arguments of a sum differently in another process
        assert _canonical(got[qid]) == _canonical(expected[qid]), qid
    # each payload sits in the test cell that calls check() for it, and only there
    for index, payloads in ex.payloads.items():
        source = "".join(nb["cells"][index]["source"])
        assert [p["qid"] for p in payloads] == [p["qid"] for p in payloads if f'check("{p["qid"]}"' in source]
        assert all(p["v"] == 1 for p in payloads)
    # function questions were called on the job's inputs
    calls = got["relu_derivative"]["answer"]
    assert calls["$"] == "calls" and len(calls["results"]) == len(inputs["relu_derivative"])
    # nothing of a verdict: no verdict MIME anywhere, the test cell shows "recorded for grading"
    dumped = json.dumps(ex.notebook)
    assert "application/vnd.calcgrade.verdict+json" not in dumped
    assert "Answer to power_rule recorded for grading." in dumped


def test_outputs_are_recorded_like_nbclient():
    ex = es.pool().run(es.job(
        "bob/a/n.ipynb",
        "import sys\nprint('one'); print('two')\n_ = sys.stderr.write('warn\\n')",
        "from IPython.display import display, HTML, clear_output\ndisplay(HTML('<b>x</b>'))\n6 * 7",
        "clear_output()\nprint('after clear')",
        "%time y = 2\n1/0",
        "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0]);",
        "y + 40",
    ))
    assert ex.stopped is None
    cells = ex.notebook["cells"]
    assert cells[0]["cell_type"] == "markdown" and "outputs" not in cells[0]
    out1 = cells[1]["outputs"]
    assert [o["output_type"] for o in out1] == ["stream", "stream"]
    assert out1[0] == {"output_type": "stream", "name": "stdout", "text": "one\ntwo\n"}
    assert out1[1]["name"] == "stderr" and out1[1]["text"] == "warn\n"
    out2 = cells[2]["outputs"]
    assert out2[0]["output_type"] == "display_data" and out2[0]["data"]["text/html"] == "<b>x</b>"
    assert out2[1]["output_type"] == "execute_result" and out2[1]["data"]["text/plain"] == "42"
    assert out2[1]["execution_count"] == cells[2]["execution_count"] == 2
    assert [o["output_type"] for o in cells[3]["outputs"]] == ["stream"]
    err = cells[4]["outputs"][-1]
    assert err["output_type"] == "error" and err["ename"] == "ZeroDivisionError"
    assert "Wall time" in es.texts(ex, 4)  # the %time magic ran
    assert any("image/png" in o.get("data", {}) for o in cells[5]["outputs"])  # inline plot
    assert cells[6]["outputs"][0]["data"]["text/plain"] == "42"  # an error does not stop the notebook
    assert [c["execution_count"] for c in cells[1:]] == [1, 2, 3, 4, 5, 6]


def test_os_exit_mid_notebook_keeps_the_payloads_before_it():
    ex = es.pool().run(es.job(
        "carol/a/n.ipynb",
        "from grader import check\nd = 3",
        "check('first', d)",
        "import os; os._exit(7)",
        "check('second', d)",
    ))
    assert ex.payloads == {2: [{"qid": "first", "answer": 3, "v": 1}]}
    assert ex.stopped is not None and "exit status 7" in ex.stopped
    assert ex.stopped_at == 3
    assert ex.notebook["cells"][4]["outputs"] == []  # not run: no outputs


def test_segfault_keeps_earlier_payloads_and_says_so():
    ex = es.pool().run(es.job(
        "dave/a/n.ipynb",
        "from grader import check\ncheck('q', 1.5)",
        "import ctypes; ctypes.string_at(0)",
        "check('later', 2)",
    ))
    assert [p["qid"] for ps in ex.payloads.values() for p in ps] == ["q"]
    assert "segmentation fault" in ex.stopped and ex.stopped_at == 2


def test_endless_loop_loses_only_its_cell():
    ex = es.pool().run(es.job(
        "erin/a/n.ipynb",
        "from grader import check\ncheck('before', 1)",
        "while True:\n    pass",
        "check('after', 2)",
        limits=Limits(cell_timeout=1.0, notebook_timeout=60),
    ))
    assert ex.stopped is None and ex.timed_out_cells == [2]
    assert es.errors(ex, 2) == ["KeyboardInterrupt"]
    assert sorted(p["qid"] for ps in ex.payloads.values() for p in ps) == ["after", "before"]


def test_a_cell_that_ignores_the_interrupt_is_killed_and_reported():
    ex = es.pool().run(es.job(
        "frank/a/n.ipynb",
        "from grader import check\ncheck('kept', 1)",
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
        "check('lost', 2)",
        limits=Limits(cell_timeout=1.0, notebook_timeout=60),
    ))
    assert ex.timed_out_cells == [2] and ex.stopped_at == 2
    assert "did not stop" in ex.stopped
    assert [p["qid"] for ps in ex.payloads.values() for p in ps] == ["kept"]


def test_notebook_wall_time_stops_the_run():
    ex = es.pool().run(es.job(
        "gina/a/n.ipynb",
        "import time\nfor _ in range(4):\n    time.sleep(0.5)",
        "import time\nfor _ in range(4):\n    time.sleep(0.5)",
        "print('never')",
        limits=Limits(cell_timeout=5.0, notebook_timeout=1.5),
    ))
    assert ex.stopped is not None and "time limit (1.5 s)" in ex.stopped
    assert ex.stopped_at in (1, 2) and es.texts(ex, 3) == ""


@pytest.mark.parametrize("bad", [[], {"cells": "not a list"}, {"cells": [1, 2]}, {"nbformat": 4}])
def test_a_bad_notebook_gives_an_execution_with_stopped_never_an_exception(bad):
    ex = es.pool().run(Job("hal/a/n.ipynb", bad, {}, {}))
    assert isinstance(ex, Execution) and ex.stopped and "notebook" in ex.stopped
    assert ex.payloads == {} and ex.stopped_at is None


def test_map_runs_good_and_bad_jobs_as_completed():
    jobs = [es.job(f"s{i}/a/n.ipynb", "from grader import check", f"check('q', {i})") for i in range(3)]
    jobs.insert(1, Job("broken/a/n.ipynb", {"cells": None}, {}, {}))
    results = {ex.key: ex for ex in es.pool().map(jobs)}
    assert set(results) == {j.key for j in jobs}
    assert results["broken/a/n.ipynb"].stopped
    for i in range(3):
        assert results[f"s{i}/a/n.ipynb"].payloads == {2: [{"qid": "q", "answer": i, "v": 1}]}


def test_submission_files_are_in_the_working_folder():
    ex = es.pool().run(es.job(
        "ivy/a/data.ipynb",
        "print(open('data/points.csv').read().strip())",
        "import os; print(sorted(os.listdir('.')))",
        "import helper; print(helper.VALUE)",
        files={"data/points.csv": b"1,2\n3,4\n", "../escape.txt": b"no", "helper.py": b"VALUE = 41 + 1\n"},
    ))
    assert es.texts(ex, 1) == "1,2\n3,4\n"
    assert es.texts(ex, 2).strip() == "['data', 'data.ipynb', 'helper.py']"
    assert es.texts(ex, 3).strip() == "42"  # the notebook's folder is importable, as in a kernel


def test_grading_mode_in_process_reads_no_key_and_computes_no_verdict(monkeypatch):
    """check() in grading mode: the key finder and grade() are never reached."""
    import IPython.display

    from grader.key import files, grading
    from grader.notebook.check import Deferred, check

    def forbidden(*a: Any, **k: Any) -> Any:
        raise AssertionError("grading mode touched the key or computed a verdict")

    monkeypatch.setattr(files, "find_key_for_check", forbidden)
    monkeypatch.setattr(grading, "grade", forbidden)
    shown: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False, **k: shown.append(obj))
    capture.configure({"f": [{"$": "tuple", "items": [2.0]}]})
    try:
        assert check("q", 1.5) is None
        assert check("f", lambda t: t * t) is None
        assert check("u", Deferred(lambda: undefined_name)) is None  # noqa: F821
    finally:
        capture.deconfigure()
    answers = [s[capture.ANSWER_MIME] for s in shown]
    assert answers[0] == {"qid": "q", "answer": 1.5, "v": 1}
    assert answers[1]["answer"] == {"$": "calls", "results": [{"ok": 4.0}]}
    assert answers[2]["answer"]["$"] == "error" and answers[2]["answer"]["unanswered"] is True
    assert shown[0]["text/plain"] == "Answer to q recorded for grading."


def test_grading_mode_reads_no_key_in_the_sandbox():
    """A private key placed where the old code found it (course root above the notebook) is not read."""
    key = {"format": "calcgrade-private-key/1", "assignment": "a",
           "questions": {"q": {"kind": "number", "reference": 99.0, "points": 1}}}
    ex = es.pool().run(es.job(
        "jack/a/n.ipynb",
        "from grader import check\nimport os\nos.environ['NBGRADER_EXECUTION'] = 'autograde'",
        "check('q', 1.0)",
        "import sys\nfrom grader.key import files\nprint(len(files._CACHE), "
        "'grader.key.grading' in sys.modules)",
        files={"nbgrader_config.py": b"c = get_config()\n",
               ".calcgrade/keys/a.json": json.dumps(key).encode(),
               "calcgrade_public.json": json.dumps(key).encode()},
    ))
    assert ex.payloads == {2: [{"qid": "q", "answer": 1.0, "v": 1}]}
    assert es.texts(ex, 3).split() == ["0", "False"]
    assert "verdict+json" not in json.dumps(ex.notebook)


def test_without_the_sandbox_the_pool_still_hands_over_answers_and_says_so():
    with ExecutorPool(1, sandbox=False) as plain:
        ex = plain.run(es.job("kim/a/n.ipynb", "from grader import check\ncheck('q', 2.5)"))
    assert ex.sandboxed is False and ex.payloads == {1: [{"qid": "q", "answer": 2.5, "v": 1}]}


def test_a_stale_answer_is_handed_over_as_an_error_when_check_tracks_cell_errors(monkeypatch):
    """With check()'s answer_cell_error (feedback branch), a value from an older run is not handed over."""
    import IPython.display

    from grader.notebook import check as check_module
    from grader.notebook.check import Deferred

    errors = {"d_chain": "NameError: name 'sin' is not defined"}
    monkeypatch.setattr(check_module, "answer_cell_error", errors.get, raising=False)
    shown: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False, **k: shown.append(obj))
    d_chain = 5  # the value the cell held before its latest run raised
    capture.configure({})
    try:
        check_module.check("chain_rule", Deferred(lambda: d_chain))
        check_module.check("other", Deferred(lambda: 2.0))
    finally:
        capture.deconfigure()
    stale, fresh = (s[capture.ANSWER_MIME] for s in shown)
    assert stale["notes"] == {"cell_error": "NameError: name 'sin' is not defined"}
    assert stale["answer"]["$"] == "error" and "NameError" in stale["answer"]["message"]
    assert fresh == {"qid": "other", "answer": 2.0, "v": 1}


def test_an_executor_that_died_between_jobs_is_replaced_without_blaming_the_next_job():
    pool = es.pool()
    worker = pool._workers[0]
    worker.proc.kill()
    worker.proc.wait(timeout=10)
    ex = pool.run(es.job("lee/a/n.ipynb", "from grader import check\ncheck('q', 3)"))
    assert ex.stopped is None and ex.payloads == {1: [{"qid": "q", "answer": 3, "v": 1}]}
