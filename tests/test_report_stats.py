"""The report's statistics as pure functions of hand-made answer records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.course.grading.answerlog import UNANSWERED, AnswerRecord
from grader.course.report.stats import (
    Failure, assignment_json, build_assignment_report, build_overview, histogram, overview_json, pearson,
)


def rec(student: str, qid: str, points: float, max_points: float, correct: bool, fp: str,
        text: str = "", mistake: str | None = None, assignment: str = "a") -> AnswerRecord:
    return AnswerRecord(assignment, student, "nb.ipynb", qid, points, max_points, correct, mistake,
                        "symbolic", fp, text)


RECORDS = [
    rec("alice", "q1", 1, 1, True, "R1", "x"), rec("alice", "q2", 2, 2, True, "R2", "y"),
    rec("bob", "q1", 0, 1, False, "F1", "-x", "sign"), rec("bob", "q2", 2, 2, True, "R2", "y"),
    rec("carol", "q1", 0, 1, False, "F1", "- x", "sign"), rec("carol", "q2", 0, 2, False, "G", "z"),
    rec("dave", "q1", 0, 1, False, UNANSWERED),  # and no record of q2 at all
]


@pytest.fixture
def report():
    return build_assignment_report("a", RECORDS, failed=[Failure("erin", "not valid JSON")],
                                   mistake_messages={"q1": {"sign": "Check the sign."}})


def test_question_rows(report) -> None:
    q1, q2 = report.questions
    assert (q1.qid, q1.points, q1.graded, q1.correct, q1.unanswered, q1.wrong) == ("q1", 1, 4, 1, 1, 2)
    assert q1.correct_rate == 0.25 and q1.mean_score == 0.25
    assert q1.mistakes == (("sign", 2),)
    assert [(w.fingerprint, w.count) for w in q1.wrong_answers] == [("F1", 2)]
    assert q1.wrong_answers[0].answer == "-x"  # of equal counts, the shortest spelling shows
    assert (q2.points, q2.correct, q2.unanswered, q2.wrong, q2.mistakes) == (2, 2, 1, 1, ())
    assert q2.correct_rate == 0.5 and q2.mean_score == 1.0
    assert [(w.answer, w.count) for w in q2.wrong_answers] == [("z", 1)]


def test_discrimination_is_the_correlation_with_the_rest_of_the_total(report) -> None:
    q1, q2 = report.questions
    # students in order alice, bob, carol, dave
    assert q1.discrimination == pytest.approx(np.corrcoef([1, 0, 0, 0], [2, 2, 0, 0])[0, 1])
    assert q2.discrimination == pytest.approx(np.corrcoef([2, 2, 0, 0], [1, 0, 0, 0])[0, 1])
    everyone_right = [rec(s, "q", 1, 1, True, "R") for s in "abc"] + [rec(s, "p", i, 2, i == 2, "P") for s, i in
                                                                     zip("abc", (0, 1, 2))]
    rep = build_assignment_report("a", everyone_right)
    assert rep.questions[0].discrimination is None  # no variance: undefined, not 0 or nan
    assert rep.questions[1].discrimination is None  # the rest of the total has no variance


def test_class_and_students(report) -> None:
    assert report.submissions == 4 and report.max_total == 3
    assert report.mean == 1.25 and report.median == 1.0
    assert [(s.student, s.total) for s in report.students] == [("alice", 3), ("bob", 2), ("carol", 0), ("dave", 0)]
    assert [(s.student, s.missed) for s in report.below_threshold] == [("carol", ("q1", "q2")), ("dave", ("q1", "q2"))]
    assert report.students[1].missed == ("q1",)
    assert [f.student for f in report.failed] == ["erin"]


def test_pearson_and_histogram() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(np.corrcoef([1, 2, 3, 4], [1, 3, 2, 4])[0, 1])
    assert pearson([1], [1]) is None and pearson([1, 1], [0, 5]) is None
    assert histogram([0, 0, 2, 3], 3, bins=3) == [(0, 1, 2), (1, 2, 0), (2, 3, 2)]
    assert sum(n for *_, n in histogram([0.5, 9.99, 10, 3], 10)) == 4


def test_top_three_wrong_answers_in_order() -> None:
    rows = [rec(f"s{i}", "q", 0, 1, False, fp, fp.lower()) for i, fp in enumerate("AAAABBBCCDDE")]
    rows += [rec("t1", "q", 1, 1, True, "R", "r"), rec("t2", "q", 0, 1, False, UNANSWERED)]
    q = build_assignment_report("a", rows).questions[0]
    assert [(w.answer, w.count) for w in q.wrong_answers] == [("a", 4), ("b", 3), ("c", 2)]  # c and d tie: by text
    assert q.wrong == 12 and q.unanswered == 1


def test_declared_order_and_points_give_rows_to_unanswered_questions() -> None:
    rep = build_assignment_report("a", RECORDS, order=[("nb.ipynb", "q0"), ("nb.ipynb", "q2"), ("nb.ipynb", "q1")],
                                  max_points={"q0": 4.0})
    assert [q.qid for q in rep.questions] == ["q0", "q2", "q1"]
    assert rep.questions[0].points == 4.0 and rep.questions[0].correct_rate == 0 and rep.questions[0].unanswered == 4
    assert rep.max_total == 7


def test_json_has_the_fields_the_issue_lists(report) -> None:
    doc = json.loads(json.dumps(assignment_json(report)))
    assert doc["assignment"] == "a" and doc["submissions"] == 4
    assert doc["failed"] == [{"student": "erin", "reason": "not valid JSON"}]
    q1 = doc["questions"][0]
    assert {"qid", "points", "correct_rate", "mean_score", "discrimination", "mistakes", "wrong_answers"} <= set(q1)
    assert q1["mistakes"] == {"sign": 2} and q1["wrong_answers"][0] == {"answer": "-x", "count": 2, "fingerprint": "F1"}
    assert doc["students"][0] == {"student": "alice", "total": 3, "max": 3, "missed": [], "below_threshold": False,
                                  "source": "log"}


def test_course_overview() -> None:
    a = build_assignment_report("a", RECORDS, failed=[Failure("erin", "x")])
    b = build_assignment_report("b", [rec("alice", "p", 5, 5, True, "R", assignment="b")])
    ov = build_overview([a, b])
    assert ov.students == ["alice", "bob", "carol", "dave", "erin"]
    assert ov.totals[("b", "alice")] == 5 and ("b", "bob") not in ov.totals
    assert ov.mean("a") == 1.25 and ov.count("b") == 1
    doc = overview_json(ov)
    assert doc["students"][0] == {"student": "alice", "totals": {"a": 3, "b": 5}}
    assert doc["assignments"][0]["failed"] == [{"student": "erin", "reason": "x"}]
