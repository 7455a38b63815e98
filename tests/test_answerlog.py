"""The answer log: fingerprints group equal answers written differently, and the table round-trips
on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

from grader.course.grading.answerlog import (
    UNANSWERED, UNREADABLE, AnswerRecord, answer_fingerprint, answer_text, read_records, write_records,
)
from grader.key.entries import error_answer, make_question_record, unanswered_answer
from grader.key.wire import to_wire

x = sp.Symbol("x", real=True)
xs = sp.Symbol("x")  # a student's symbol without assumptions


def _call(fn: Any, args: tuple, timeout: float) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the test's own functions
        return "error", repr(exc)


def entry(qid: str, reference: Any, **kw: Any) -> dict[str, Any]:
    return make_question_record(
        qid, reference, kind=kw.pop("kind", None), var=kw.pop("var", None), rtol=kw.pop("rtol", 1e-6),
        atol=kw.pop("atol", 1e-9), mistakes=kw.pop("mistakes", None), inputs=kw.pop("inputs", None),
        domain=None, plot=None, call=_call,
    )


def fp(value: Any, e: dict[str, Any]) -> str:
    return answer_fingerprint(to_wire(value), e)


# --- fingerprints ------------------------------------------------------------------------------------------
def test_equal_expressions_written_differently_share_a_fingerprint() -> None:
    e = entry("product_rule", x**2 * sp.cos(x) + 2 * x * sp.sin(x))
    ref = fp(x**2 * sp.cos(x) + 2 * x * sp.sin(x), e)
    assert fp(sp.sin(xs) * 2 * xs + sp.cos(xs) * xs * xs, e) == ref
    assert fp(sp.diff(xs**2 * sp.sin(xs), xs), e) == ref
    assert fp("2*x*sin(x) + x^2*cos(x)", e) == ref  # typed text is read like the core reads it
    assert fp(2 * x * sp.cos(x), e) != ref
    assert fp(2 * x * sp.cos(x), e) == fp(sp.cos(xs) * (xs + xs), e)
    assert ref.startswith("val:")


def test_numbers_group_by_value_within_tolerance() -> None:
    e = entry("half", sp.Rational(1, 2), kind="number", rtol=1e-6)
    assert fp(0.5, e) == fp(sp.Rational(1, 2), e) == fp(np.float64(0.5), e) == fp(sp.Integer(1) / 2, e)
    assert fp(sp.sin(sp.pi / 6), e) == fp(0.5, e)
    assert fp(0.5 * 1.001, e) != fp(0.5, e)
    assert fp(0.25, e) != fp(0.5, e)


def test_antiderivatives_group_whatever_the_constant() -> None:
    e = entry("integral", sp.sin(x), kind="antiderivative", var=x)
    c = sp.Symbol("C")
    assert fp(sp.sin(xs) + c, e) == fp(sp.sin(x), e) == fp(sp.sin(x) + 7, e)
    assert fp(-sp.sin(xs), e) != fp(sp.sin(x), e)


def test_arrays_group_across_containers_and_keep_their_shape() -> None:
    e = entry("grad", sp.Matrix([2 * x, 3]), kind="array")
    ref = fp(sp.Matrix([2 * x, 3]), e)
    assert fp([2 * xs, 3], e) == ref
    assert fp(sp.Matrix([[xs + xs], [sp.Integer(3)]]), e) == ref
    assert fp([2 * xs, 4], e) != ref
    assert fp([3, 2 * xs], e) != ref  # order matters
    numeric = entry("v", np.array([1.0, 2.0]), kind="array")
    assert fp(np.array([1.0, 2.0]), numeric) == fp([1, 2], numeric) == fp((sp.Integer(1), 2.0), numeric)
    assert fp(np.array([[1.0, 2.0]]), numeric) == fp([1, 2], numeric)  # a row vector reads as a vector
    assert fp(np.array([1.0, 2.0, 0.0]), numeric) != fp([1, 2], numeric)


def test_functions_group_by_their_outputs() -> None:
    e = entry("square", lambda t: t * t, kind="function", inputs=[1.5, -2.0, 3.25])
    ref = e["reference"]

    def calls(fn: Any) -> dict[str, Any]:
        from grader.key.entries import call_answer

        return call_answer(fn, e, call=_call)

    assert answer_fingerprint(calls(lambda t: t**2), e) == answer_fingerprint(ref, e)
    assert answer_fingerprint(calls(lambda t: float(np.square(t))), e) == answer_fingerprint(ref, e)
    wrong = answer_fingerprint(calls(lambda t: 2 * t), e)
    assert wrong != answer_fingerprint(ref, e) and wrong.startswith("fn:")
    assert answer_fingerprint(calls(lambda t: 2.0 * t), e) == wrong

    def failing(t: float) -> float:
        raise ZeroDivisionError

    assert answer_fingerprint(calls(failing), e) not in (wrong, answer_fingerprint(ref, e))


def test_unanswered_and_unreadable_answers_have_fixed_fingerprints() -> None:
    e = entry("q", x**2)
    assert answer_fingerprint(unanswered_answer(""), e) == UNANSWERED
    assert answer_fingerprint(unanswered_answer("`y` is not defined yet"), e) == UNANSWERED
    assert answer_fingerprint(to_wire(None), e) == UNANSWERED
    assert answer_fingerprint(to_wire(...), e) == UNANSWERED
    assert answer_fingerprint(error_answer("the value is too large to be checked"), e) == UNREADABLE
    assert answer_fingerprint({"$": "sym", "tree": ["NoSuchNode", 1]}, e) == UNREADABLE
    # a wrong type is grouped by its exact form, never raises
    assert answer_fingerprint(to_wire("hello"), e) == answer_fingerprint(to_wire("hello"), e)
    assert answer_fingerprint(to_wire("hello"), e).startswith("raw:")
    assert answer_fingerprint(to_wire(sp.Symbol("y") ** 2), e).startswith("raw:")  # a stray symbol


def test_answer_text_is_latex_or_short_text() -> None:
    assert answer_text(to_wire(2 * x * sp.cos(x**2))) == sp.latex(2 * x * sp.cos(x**2))
    assert answer_text(unanswered_answer("")) == ""
    assert answer_text(to_wire(None)) == ""
    assert answer_text(to_wire(3)) == "3"
    assert answer_text(error_answer("too big")) == "\\text{unreadable: too big}"
    assert answer_text(to_wire(np.array([1.0, 2.0]))) == "\\left[1, 2\\right]"
    assert answer_text(to_wire(sp.Matrix([[1, x], [2, 3]]))) == "\\left[\\left[1, x\\right], \\left[2, 3\\right]\\right]"
    long = answer_text(to_wire(sum(x**k for k in range(400))))  # too long to typeset: clipped text
    assert len(long) <= 400 and long.startswith("\\text{") and long.endswith("…}")


# --- the table ---------------------------------------------------------------------------------------------
def _records(assignment: str, student: str, n: int, correct: bool = True) -> list[AnswerRecord]:
    return [
        AnswerRecord(assignment, student, "nb.ipynb", f"q{i}", 1.0 if correct else 0.0, 1.0, correct,
                     None if correct else "sign_error", "symbolic", f"val:{i}", f"x^{{{i}}}", hints_used=i % 2)
        for i in range(n)
    ]


def _roundtrip(db_url: str) -> None:
    assert read_records(db_url) == []  # no table yet
    write_records(db_url, "a1", "alice", _records("a1", "alice", 3))
    write_records(db_url, "a1", "bob", _records("a1", "bob", 2, correct=False))
    write_records(db_url, "a2", "alice", _records("a2", "alice", 1))
    got = read_records(db_url, "a1")
    assert got == _records("a1", "alice", 3) + _records("a1", "bob", 2, correct=False)
    # regrading replaces that student's records of that assignment only
    write_records(db_url, "a1", "alice", _records("a1", "alice", 1, correct=False))
    assert read_records(db_url, "a1") == _records("a1", "alice", 1, correct=False) + _records("a1", "bob", 2, False)
    assert read_records(db_url, "a2") == _records("a2", "alice", 1)
    assert len(read_records(db_url)) == 4
    write_records(db_url, "a1", "bob", [])
    assert [r.student for r in read_records(db_url, "a1")] == ["alice"]
    with pytest.raises(ValueError):
        write_records(db_url, "a1", "alice", _records("a1", "bob", 1))


def test_records_roundtrip_in_sqlite_next_to_the_gradebook(tmp_path: Path) -> None:
    from nbgrader.api import Gradebook

    from grader.course.coursedir import scripts_on_path

    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with scripts_on_path(), Gradebook(db_url) as gb:  # nbgrader's gradebook; our table lives beside its tables
        gb.add_student("alice")
    _roundtrip(db_url)
    with Gradebook(db_url) as gb:
        assert [s.id for s in gb.students] == ["alice"]


# --- a real PostgreSQL server (conftest's pg_server) ---------------------------------------------------------------
@pytest.mark.slow
def test_records_roundtrip_in_postgresql(pg_server) -> None:
    _roundtrip(pg_server.create_database("answerlog_roundtrip"))


def test_make_record_scales_the_verdict_to_the_points() -> None:
    from grader.course.grading.answerlog import make_record
    from grader.key.grading import grade

    e = entry("power_rule", 10 * x**9, mistakes={"kept_exponent": (10 * x**10, "Lower the exponent.")})
    wire = to_wire(10 * xs**10)
    r = make_record(assignment="a", student="s", notebook="n.ipynb", qid="power_rule", wire_answer=wire, entry=e,
                    verdict=grade(wire, e), max_points=2.0)
    assert (r.points, r.max_points, r.correct, r.misconception) == (0.0, 2.0, False, "kept_exponent")
    assert r.fingerprint == fp(10 * x**10, e) and r.answer_text == "10 x^{10}"
    right = to_wire(sp.expand(10 * xs**9))
    r = make_record(assignment="a", student="s", notebook="n.ipynb", qid="power_rule", wire_answer=right, entry=e,
                    verdict=grade(right, e), max_points=2.0, hints_used=1)
    assert (r.points, r.correct, r.hints_used) == (2.0, True, 1)


def test_reading_a_missing_sqlite_gradebook_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "gradebook.db"
    assert read_records(f"sqlite:///{path}") == [] and not path.exists()
