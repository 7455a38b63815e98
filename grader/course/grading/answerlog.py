"""The answer log: one row per graded answer, kept beside the gradebook for ``calcgrade report``.

Why a log of its own: nbgrader's gradebook keeps a score per test cell, but an instructor asks
*which* mistakes the class made and *which* wrong answers repeat.  The trusted grader therefore
stores, for every graded answer, the verdict (correct, points, named mistake, method) and a
canonical *fingerprint* of the answer, so that equal answers written differently (``2*x*cos(x**2)``
and ``cos(x**2)*x*2``; ``0.5`` and ``1/2``; two functions with the same outputs) fall into one group.

The rows live in the table ``calcgrade_answers`` of the gradebook database itself (SQLAlchemy Core,
so SQLite and PostgreSQL alike; created when first written).  It is an instructor's table: nothing
in it is ever released to students.

Fingerprints and display text: ``grader.course.grading.answerprint`` (re-exported here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

from grader.course.gradebook import sqlite_file_missing

__all__ = [
    "AnswerRecord", "answer_fingerprint", "answer_text", "make_record", "write_records", "replace_records",
    "read_records",
    "sqlite_file_missing", "TABLE_NAME", "UNANSWERED", "UNREADABLE",
]

TABLE_NAME = "calcgrade_answers"
# answerprint's names, re-exported; it needs SymPy, which the process writing the log does not otherwise import
# (the grading process computes each answer's fingerprint and text): loaded on first use
_FROM_ANSWERPRINT = ("UNANSWERED", "UNREADABLE", "answer_fingerprint", "answer_text")


def __getattr__(name: str) -> Any:
    if name in _FROM_ANSWERPRINT:
        from grader.course.grading import answerprint

        return getattr(answerprint, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class AnswerRecord:
    """One graded answer of one student, as the report needs it (see the module docstring)."""

    assignment: str
    student: str
    notebook: str
    qid: str
    points: float
    max_points: float
    correct: bool
    misconception: str | None
    method: str
    fingerprint: str      # canonical: equal answers written differently get the same fingerprint
    answer_text: str      # the answer as LaTeX (or short text) for display; "" when unanswered
    hints_used: int = 0


def make_record(*, assignment: str, student: str, notebook: str, qid: str, wire_answer: Any,
                entry: Mapping[str, Any], verdict: Any, max_points: float, hints_used: int = 0) -> AnswerRecord:
    """The record of one graded answer: the verdict (a ``grader.core.verdict.Verdict``) scaled to the
    question's points, with the answer's fingerprint and display text.  What a grader writes per answer."""
    from grader.course.grading.answerprint import answer_fingerprint, answer_text

    return AnswerRecord(
        assignment=assignment, student=student, notebook=notebook, qid=qid,
        points=round(float(verdict.score) * float(max_points), 9), max_points=float(max_points),
        correct=bool(verdict.correct), misconception=verdict.misconception, method=str(verdict.method),
        fingerprint=answer_fingerprint(wire_answer, entry), answer_text=answer_text(wire_answer),
        hints_used=int(hints_used),
    )


# --- the table -----------------------------------------------------------------------------------
def _table() -> Any:
    import sqlalchemy as sa

    global _TABLE
    if _TABLE is None:
        meta = sa.MetaData()
        _TABLE = sa.Table(
            TABLE_NAME, meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("assignment", sa.String(255), nullable=False),
            sa.Column("student", sa.String(255), nullable=False),
            sa.Column("notebook", sa.String(255), nullable=False),
            sa.Column("qid", sa.String(255), nullable=False),
            sa.Column("points", sa.Float, nullable=False),
            sa.Column("max_points", sa.Float, nullable=False),
            sa.Column("correct", sa.Boolean, nullable=False),
            sa.Column("misconception", sa.String(255), nullable=True),
            sa.Column("method", sa.String(64), nullable=False),
            sa.Column("fingerprint", sa.String(255), nullable=False),
            sa.Column("answer_text", sa.Text, nullable=False),
            sa.Column("hints_used", sa.Integer, nullable=False, default=0),
            sa.Index("ix_calcgrade_answers_assignment_student", "assignment", "student"),
        )
    return _TABLE


_TABLE: Any = None


def _engine(db_url: str) -> Any:
    import sqlalchemy as sa

    if db_url.startswith("sqlite"):
        return sa.create_engine(db_url, connect_args={"timeout": 60})
    return sa.create_engine(db_url)


def write_records(db_url: str, assignment: str, student: str, records: Sequence[AnswerRecord]) -> None:
    """Replace ``student``'s records of ``assignment`` with ``records``, in one transaction of their own.

    The table is created if missing.  Every record must belong to that assignment and student.
    """
    engine = _engine(db_url)
    try:
        with engine.begin() as conn:
            replace_records(conn, assignment, student, records)
    finally:
        engine.dispose()


def replace_records(connection: Any, assignment: str, student: str, records: Sequence[AnswerRecord]) -> None:
    """``write_records`` inside the caller's transaction (a SQLAlchemy connection or session, e.g. an open
    gradebook's ``db``): the grader commits a notebook's grades and its answers at once.  Creates the table
    if missing; commits nothing."""
    for r in records:
        if r.assignment != assignment or r.student != student:
            raise ValueError(f"a record of {r.student}/{r.assignment} was given for {student}/{assignment}")
    table = _table()
    bind = connection.connection() if hasattr(connection, "get_bind") else connection  # a session: its connection
    table.create(bind=bind, checkfirst=True)
    bind.execute(table.delete().where(table.c.assignment == assignment, table.c.student == student))
    if records:
        bind.execute(table.insert(), [_row(r) for r in records])


def _row(r: AnswerRecord) -> dict[str, Any]:
    row = asdict(r)
    row["points"] = float(r.points)
    row["max_points"] = float(r.max_points)
    row["correct"] = bool(r.correct)
    row["hints_used"] = int(r.hints_used)
    return row


def read_records(db_url: str, assignment: str | None = None) -> list[AnswerRecord]:
    """Every record (of ``assignment`` when given), in the order written; [] when there is no table yet
    (a missing SQLite file is not created)."""
    import sqlalchemy as sa

    if sqlite_file_missing(db_url):
        return []
    table = _table()
    engine = _engine(db_url)
    try:
        if not sa.inspect(engine).has_table(TABLE_NAME):
            return []
        query = sa.select(table).order_by(table.c.assignment, table.c.student, table.c.id)
        if assignment is not None:
            query = query.where(table.c.assignment == assignment)
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
    finally:
        engine.dispose()
    return [
        AnswerRecord(
            assignment=row["assignment"], student=row["student"], notebook=row["notebook"], qid=row["qid"],
            points=float(row["points"]), max_points=float(row["max_points"]), correct=bool(row["correct"]),
            misconception=row["misconception"], method=row["method"], fingerprint=row["fingerprint"],
            answer_text=row["answer_text"], hints_used=int(row["hints_used"] or 0),
        )
        for row in rows
    ]
