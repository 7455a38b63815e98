"""``calcgrade report`` end to end on the sample class: the numbers are exactly what its profiles imply.

One assignment (02_derivatives) is released into a fresh course, the sample class is placed and graded
by ``calcgrade autograde``'s path (sandboxed execution, trusted grading into the gradebook and the answer
log); two extra students exist only in nbgrader's
gradebook (one scored, one whose autograde failed), so the gradebook path is exercised too.  The expected figures are derived from the
sample class's own profile rules (``Submission.expected`` and the named mistakes of each question),
never typed in.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import numpy as np
import pytest

from grader import cli
from grader.course import coursedir
from grader.course.grading import autograde
from grader.key.variants import student_variant
from grader.course.demo import sampleclass
from grader.course.grading.answerlog import answer_fingerprint, read_records
from grader.course.report.data import gradebook_url
from grader.key import files

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
A = "02_derivatives"
NBGRADER_ONLY = "zz_nbgrader_only"  # a copy of "perfect", graded by stock nbgrader (no answer log)
NBGRADER_CRASH = "zz_nbgrader_crash"  # a copy of "kernel_crash": stock nbgrader fails on it, no score


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, make_released_course) -> dict:
    root = make_released_course(tmp_path_factory.mktemp("report") / "course", A)
    subs = [s for s in sampleclass.sample_class(root) if s.assignment == A]
    sampleclass.place(subs, root, "2026-11-20 17:00:00.000000 UTC")
    perfect = next(s for s in subs if s.student == "perfect")
    crash = next(s for s in subs if s.student == "kernel_crash")
    clone = sampleclass.Submission(NBGRADER_ONLY, A, perfect.notebook, perfect.content, dict(perfect.expected),
                                   points=dict(perfect.points))
    crashed = sampleclass.Submission(NBGRADER_CRASH, A, crash.notebook, crash.content, {}, points=dict(crash.points))
    sampleclass.place([clone, crashed], root, "2026-11-20 17:00:00.000000 UTC")
    db_url = gradebook_url(root)
    _nbgrader_scores(db_url, {NBGRADER_ONLY: True, NBGRADER_CRASH: False})
    students = sorted({s.student for s in subs})
    graded = autograde.autograde_assignment(root, A, students=students, workers=2).results
    key = files.load_key(files.private_key_path(root, A))
    solution = sampleclass.questions_of(__import__("nbformat").read(str(root / "solutions" / A / perfect.notebook), 4))
    return {"root": root, "subs": subs + [clone, crashed], "graded": graded, "key": key, "questions": solution, "db": db_url}


def _nbgrader_scores(db_url: str, outcomes: dict[str, bool]) -> None:
    """Record in nbgrader's gradebook what its autograde leaves: full auto scores for a graded
    submission, no score at all (auto_score None) for one whose run failed.  (The demo's test runs
    the real nbgrader autograde before its report; here the gradebook API is enough and quick.)"""
    import warnings

    from nbgrader.api import Gradebook

    with warnings.catch_warnings(), coursedir.scripts_on_path(), Gradebook(db_url) as gb:
        warnings.simplefilter("ignore")  # nbgrader's add_submission trips SQLAlchemy 2's autoflush notices
        for student, success in outcomes.items():
            gb.update_or_create_student(student)
            submission = gb.add_submission(A, student)
            for nb in submission.notebooks:
                for grade in nb.grades:
                    grade.auto_score = grade.max_score if success else None
            gb.db.commit()


def _report_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()
    assert cli.main(["report", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_report_numbers_are_those_the_profiles_imply(course: dict, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _report_json(capsys, A, "--course-root", str(course["root"]))
    subs = {s.student: s for s in course["subs"]}
    failed = {g.student for g in course["graded"] if not g.success}
    assert failed == {"invalid_json"}
    failed.add(NBGRADER_CRASH)
    graded = sorted(s for s in subs if s not in failed)
    assert doc["assignment"] == A and doc["submissions"] == len(graded)
    assert [f["student"] for f in doc["failed"]] == ["invalid_json", NBGRADER_CRASH]
    assert "not valid JSON" in doc["failed"][0]["reason"] and "grading failed" in doc["failed"][1]["reason"]

    totals = {s: sum(subs[s].expected.values()) for s in graded}
    assert {r["student"]: r["total"] for r in doc["students"]} == pytest.approx(totals)
    assert {r["student"]: r["source"] for r in doc["students"]}[NBGRADER_ONLY] == "gradebook"
    assert any(NBGRADER_ONLY in note for note in doc["notes"])
    assert doc["max_total"] == sum(q.points for q in course["questions"])
    assert doc["mean"] == pytest.approx(statistics.fmean(totals.values()))
    assert doc["median"] == pytest.approx(statistics.median(totals.values()))
    below = sorted(s for s, t in totals.items() if t < 0.5 * doc["max_total"])
    assert sorted(r["student"] for r in doc["students"] if r["below_threshold"]) == below

    rows = {q["qid"]: q for q in doc["questions"]}
    assert [q["qid"] for q in doc["questions"]] == [q.qid for q in course["questions"]]  # notebook order
    mistake_profiles = sorted(s for s in subs if s.startswith("mistakes_"))
    most = max(len(q.mistakes) for q in course["questions"])  # one mistakes_* student per named mistake's rank
    assert mistake_profiles == [f"mistakes_{chr(ord('a') + r)}" for r in range(most)]
    for q in course["questions"]:
        row = rows[q.qid]
        scores = [subs[s].expected[q.qid] for s in graded]
        assert row["points"] == q.points
        assert row["correct_rate"] == pytest.approx(sum(sc == q.points for sc in scores) / len(graded)), q.qid
        assert row["mean_score"] == pytest.approx(statistics.fmean(scores)), q.qid
        rest = [totals[s] - sc for s, sc in zip(graded, scores)]
        assert row["discrimination"] == pytest.approx(np.corrcoef(scores, rest)[0, 1]), q.qid
        # each named mistake: exactly the mistakes_* students who made it
        named = {mid for mid, _ in q.mistakes}
        expected = {mid: sum(1 for r, (m, _) in enumerate(q.mistakes) if m == mid and
                             f"mistakes_{chr(ord('a') + r)}" in graded) for mid in named}
        assert {m: n for m, n in row["mistakes"].items() if m in named} == expected, q.qid
        # the wrong answers of the mistakes_* students are listed, grouped by value, once each
        listed = {w["fingerprint"]: w["count"] for w in row["wrong_answers"]}
        assert len(row["wrong_answers"]) <= 3
        for r, (mid, _) in enumerate(q.mistakes):  # a variant question: each made with that student's numbers
            entry = student_variant(course["key"], q.qid, f"mistakes_{chr(ord('a') + r)}")
            m = next(m for m in entry["mistakes"] if m["id"] == mid)
            assert listed.get(answer_fingerprint(m["answer"], entry)) == 1, (q.qid, m["id"])


@pytest.mark.slow
def test_log_rows_carry_verdicts_and_answer_text(course: dict) -> None:
    records = {(r.student, r.qid): r for r in read_records(course["db"], A)}
    assert NBGRADER_ONLY not in {s for s, _ in records}  # stock nbgrader wrote no answer log
    power = records[("mistakes_a", "power_rule")]
    assert (power.correct, power.points, power.misconception) == (False, 0.0, "kept_exponent")
    assert power.answer_text == "10 x^{10}"
    assert records[("perfect", "power_rule")].fingerprint == answer_fingerprint(
        course["key"]["questions"]["power_rule"]["reference"], course["key"]["questions"]["power_rule"])
    assert records[("blank", "power_rule")].fingerprint == "unanswered"
    assert records[("blank", "power_rule")].answer_text == ""


@pytest.mark.slow
def test_page_overview_and_errors(course: dict, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = course["root"]
    out = tmp_path / "r.html"
    capsys.readouterr()
    assert cli.main(["report", A, "--course-root", str(root), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    sources = [s for s in re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page) if not s.startswith("#")]
    assert sources and all(s.startswith("data:image/svg+xml;base64,") for s in sources)  # links within the page aside
    for q in course["questions"]:
        assert f"<b>{q.qid}</b>" in page
    assert "invalid_json" in page and "kept_exponent" in page

    ov = _report_json(capsys, "--course-root", str(root))
    by_student = {s["student"]: s["totals"][A] for s in ov["students"]}
    assert by_student["perfect"] == sum(q.points for q in course["questions"]) and by_student["invalid_json"] is None
    assert ov["assignments"][0]["failed"][0]["student"] == "invalid_json"

    from grader.course.report.pages import write_course_report

    page_path = write_course_report(root, A, None)
    overview = write_course_report(root, None, None)
    assert page_path == root / "reports" / f"{A}.html" and page_path.is_file()
    assert f'href="{A}.html"' in overview.read_text(encoding="utf-8")  # the overview links the page beside it

    capsys.readouterr()
    assert cli.main(["report", "99_nothing", "--course-root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("calcgrade report: no assignment '99_nothing'") and "Traceback" not in err
    assert cli.main(["report", A, "--course-root", str(tmp_path)]) == 2
    assert "no nbgrader_config.py" in capsys.readouterr().err
    assert cli.main(["report", A, "--course-root", str(root), "--threshold", "3"]) == 2


@pytest.mark.slow
@pytest.mark.browser
def test_page_opens_offline_in_chromium(course: dict) -> None:
    import browser_support as lab

    if not lab.CHROMIUM.exists():
        pytest.skip(f"{lab.CHROMIUM} is missing")
    from grader.course.report.pages import write_course_report

    page_path = write_course_report(course["root"], A, None)
    overview = write_course_report(course["root"], None, None)
    ARTIFACTS.mkdir(exist_ok=True)
    with lab.chromium_context(course["root"].parent / "chromium-profile") as context:
        context.set_default_timeout(30_000)
        page = context.pages[0] if context.pages else context.new_page()
        failed: list[str] = []
        errors: list[str] = []
        requests: list[str] = []
        page.on("requestfailed", lambda r: failed.append(r.url[:120]))
        page.on("request", lambda r: requests.append(r.url[:60]))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for path, shot in ((page_path, f"report_{A}.png"), (overview, "report_course.png")):
            page.goto(path.as_uri(), wait_until="load")
            broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                                   ".map(i => i.alt)")
            assert broken == [], broken
            page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        assert page.locator("table tr").count() > 5
        assert failed == [] and errors == []
        assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert (ARTIFACTS / f"report_{A}.png").stat().st_size > 10_000
