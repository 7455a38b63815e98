"""The numbers of ``calcgrade report``: pure functions of answer records, no files, no database.

Why pure: every figure on the instructor's page (and in ``--json``) must be exactly what the graded
answers imply, so it is computed here from ``AnswerRecord`` values alone and tested on hand-made
records; gathering the records (answer log, gradebook, submitted folders) and drawing the page
live elsewhere (``report.data``, ``report.render``, ``report.plots``).

Conventions:

* a *graded* student has at least one record of the assignment; a question without a record for a
  graded student counts as unanswered, 0 points;
* ``correct_rate`` is the fraction of graded students whose answer was accepted (0..1);
  ``mean_score`` is in points;
* ``discrimination`` is Pearson's correlation between the question's score and the rest of the
  total (the total minus that question), over graded students; None when either has no variance;
* ``mistakes`` counts the misconception ids of wrong answers (named mistakes of the key and the
  core's generic diagnoses alike), most frequent first;
* ``wrong_answers`` groups wrong, answered answers by fingerprint; the three most frequent groups
  are kept, each shown by its most frequent display text.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from grader.course.grading.answerlog import UNANSWERED, UNREADABLE, AnswerRecord

__all__ = [
    "WrongAnswer", "QuestionStats", "StudentRow", "Failure", "AssignmentReport", "CourseOverview",
    "pearson", "question_order", "build_assignment_report", "build_overview", "histogram",
    "assignment_json", "overview_json", "DEFAULT_THRESHOLD", "TOP_WRONG", "CopyFlag", "copy_flags",
]

DEFAULT_THRESHOLD = 0.5   # students below this fraction of the maximum total are listed
TOP_WRONG = 3             # distinct wrong answers shown per question
TOP_MISTAKES = 5          # named mistakes shown per question on the page (the JSON has all)


@dataclass(frozen=True)
class WrongAnswer:
    fingerprint: str
    answer: str           # display text (LaTeX or short text)
    count: int


@dataclass(frozen=True)
class QuestionStats:
    qid: str
    notebook: str
    points: float
    graded: int           # graded students (the denominator of every rate)
    correct: int
    unanswered: int
    mean_score: float
    discrimination: float | None
    mistakes: tuple[tuple[str, int], ...]      # (misconception id, count), most frequent first
    wrong_answers: tuple[WrongAnswer, ...]     # at most TOP_WRONG
    wrong: int                                 # answered and not accepted
    hints_used: int = 0                        # hints shown, summed over students

    @property
    def correct_rate(self) -> float:
        return self.correct / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class StudentRow:
    student: str
    total: float
    max_total: float
    missed: tuple[str, ...]   # questions not answered correctly, in question order
    source: str = "log"       # "log" (trusted grading) or "gradebook" (nbgrader's scores only)


@dataclass(frozen=True)
class Failure:
    student: str
    reason: str


@dataclass
class AssignmentReport:
    assignment: str
    questions: list[QuestionStats]
    students: list[StudentRow]
    failed: list[Failure]
    max_total: float
    threshold: float
    mistake_messages: dict[str, dict[str, str]] = field(default_factory=dict)  # qid -> id -> message
    notes: list[str] = field(default_factory=list)
    functions: dict[str, Any] = field(default_factory=dict)  # qid -> FunctionReference (report.functions)
    copying: list["CopyFlag"] = field(default_factory=list)   # issue 23: answers right for another's numbers

    @property
    def submissions(self) -> int:
        return len(self.students)

    @property
    def totals(self) -> list[float]:
        return [s.total for s in self.students]

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.totals) if self.students else None

    @property
    def median(self) -> float | None:
        return float(statistics.median(self.totals)) if self.students else None

    @property
    def below_threshold(self) -> list[StudentRow]:
        """Students whose total is under ``threshold`` times the maximum, lowest first."""
        limit = self.threshold * self.max_total
        return sorted((s for s in self.students if s.total < limit - 1e-9), key=lambda s: (s.total, s.student))


# --- small statistics ---------------------------------------------------------------------------------
def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's correlation of two equally long samples; None when undefined (n < 2, no variance)."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxy = sum((a - mx) * (b - my) for a, b in zip(xs, ys))
    sxx = sum((a - mx) ** 2 for a in xs)
    syy = sum((b - my) ** 2 for b in ys)
    if sxx <= 1e-12 * max(1.0, mx * mx) * len(xs) or syy <= 1e-12 * max(1.0, my * my) * len(ys):
        return None
    r = sxy / math.sqrt(sxx * syy)
    return max(-1.0, min(1.0, r))


def histogram(values: Sequence[float], max_value: float, bins: int = 10) -> list[tuple[float, float, int]]:
    """(low, high, count) over [0, max_value] in ``bins`` equal bins; the top bin includes max_value."""
    if max_value <= 0:
        return [(0.0, 0.0, len(values))]
    width = max_value / bins
    counts = [0] * bins
    for v in values:
        i = int(v // width) if v < max_value else bins - 1
        counts[max(0, min(bins - 1, i))] += 1
    return [(i * width, (i + 1) * width, counts[i]) for i in range(bins)]


# --- one assignment -----------------------------------------------------------------------------------
def question_order(records: Iterable[AnswerRecord]) -> list[tuple[str, str]]:
    """(notebook, qid) in the order the graders wrote them (notebook order), first seen first."""
    seen: dict[tuple[str, str], None] = {}
    for r in records:
        seen.setdefault((r.notebook, r.qid), None)
    return list(seen)


def _wrong_answers(answers: Sequence[AnswerRecord]) -> tuple[list[WrongAnswer], int]:
    groups: dict[str, list[AnswerRecord]] = {}
    for r in answers:
        if r.correct or r.fingerprint in (UNANSWERED, UNREADABLE, ""):
            continue
        groups.setdefault(r.fingerprint, []).append(r)
    ranked = []
    for fp, members in groups.items():
        texts = Counter(m.answer_text for m in members)
        text = min(texts, key=lambda t: (-texts[t], len(t), t))  # the most frequent spelling, then shortest
        ranked.append(WrongAnswer(fp, text, len(members)))
    ranked.sort(key=lambda w: (-w.count, w.answer, w.fingerprint))
    return ranked, sum(w.count for w in ranked)


def _question(qid: str, notebook: str, by_student: Mapping[str, AnswerRecord], students: Sequence[str],
              totals: Mapping[str, float], points: float | None) -> QuestionStats:
    rows = [by_student.get(s) for s in students]
    present = [r for r in rows if r is not None]
    if points is None:
        points = max((r.max_points for r in present), default=0.0)
    scores = [r.points if r is not None else 0.0 for r in rows]
    correct = sum(1 for r in present if r.correct)
    unanswered = sum(1 for r in rows if r is None or r.fingerprint == UNANSWERED)
    mistakes = Counter(r.misconception for r in present if not r.correct and r.misconception)
    wrong_groups, _ = _wrong_answers(present)
    wrong = sum(1 for r in present if not r.correct and r.fingerprint != UNANSWERED)
    rest = [totals[s] - sc for s, sc in zip(students, scores)]
    return QuestionStats(
        qid=qid, notebook=notebook, points=points, graded=len(students), correct=correct, unanswered=unanswered,
        mean_score=statistics.fmean(scores) if scores else 0.0,
        discrimination=pearson(scores, rest),
        mistakes=tuple(sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))),
        wrong_answers=tuple(wrong_groups[:TOP_WRONG]), wrong=wrong, hints_used=sum(r.hints_used for r in present),
    )


# --- variant questions: an answer right for another student's numbers (issue 23) -----------------------------
@dataclass(frozen=True)
class CopyFlag:
    """``student``'s answer to variant question ``qid`` is wrong for their own numbers but equal (same answer
    fingerprint) to the accepted answer of ``sources``, who have other numbers: a likely copy."""

    qid: str
    student: str
    sources: tuple[str, ...]


def copy_flags(records: Iterable[AnswerRecord], variant_qids: Iterable[str]) -> list[CopyFlag]:
    """Every likely copy among the records of variant questions.

    Why fingerprints suffice: an answer the grader accepted for one student and rejected for another is
    the same answer judged against two different variants, so equal fingerprints of a right and a wrong
    answer to a variant question mean the wrong one answers someone else's numbers.  One pass per question
    (a dictionary of accepted fingerprints), so a class of hundreds costs nothing noticeable."""
    wanted = set(variant_qids)
    right: dict[tuple[str, str], set[str]] = {}
    latest: dict[tuple[str, str], AnswerRecord] = {}
    for r in records:
        if r.qid in wanted:
            latest[(r.qid, r.student)] = r
    for r in latest.values():
        if r.correct and r.fingerprint not in (UNANSWERED, UNREADABLE, ""):
            right.setdefault((r.qid, r.fingerprint), set()).add(r.student)
    flags = []
    for (qid, student), r in sorted(latest.items()):
        if r.correct:
            continue
        sources = sorted(right.get((qid, r.fingerprint), set()) - {student})
        if sources:
            flags.append(CopyFlag(qid, student, tuple(sources)))
    return flags


def build_assignment_report(
    assignment: str,
    records: Iterable[AnswerRecord],
    *,
    failed: Sequence[Failure] = (),
    order: Sequence[tuple[str, str]] | None = None,
    max_points: Mapping[str, float] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    sources: Mapping[str, str] | None = None,
    mistake_messages: Mapping[str, Mapping[str, str]] | None = None,
    variant_qids: Iterable[str] = (),
) -> AssignmentReport:
    """Every figure of one assignment's report, from its answer records.

    ``order``: (notebook, qid) pairs in notebook order (questions nobody answered still get a row);
    default: the order of the records.  ``max_points``: qid -> points, when known from the key.
    ``sources``: student -> "log" | "gradebook" (where that student's records came from).
    """
    records = [r for r in records if r.assignment == assignment]
    order = list(order) if order else []
    for pair in question_order(records):
        if pair not in order and pair[1] not in {q for _, q in order}:
            order.append(pair)
    by_question: dict[str, dict[str, AnswerRecord]] = {}
    for r in records:
        by_question.setdefault(r.qid, {})[r.student] = r  # a later record of the same answer wins
    students = sorted({r.student for r in records})
    totals = {s: 0.0 for s in students}
    for qid, answers in by_question.items():
        for s, r in answers.items():
            totals[s] += r.points
    known = dict(max_points or {})
    questions = [_question(qid, nb, by_question.get(qid, {}), students, totals,
                           float(known[qid]) if qid in known else None) for nb, qid in order]
    max_total = sum(q.points for q in questions)
    rows = []
    for s in students:
        missed = tuple(q.qid for q in questions if not (by_question.get(q.qid, {}).get(s)
                                                      and by_question[q.qid][s].correct))
        rows.append(StudentRow(s, totals[s], max_total, missed, (sources or {}).get(s, "log")))
    return AssignmentReport(
        assignment=assignment, questions=questions, students=rows,
        failed=sorted(failed, key=lambda f: f.student), max_total=max_total, threshold=threshold,
        mistake_messages={q: dict(m) for q, m in (mistake_messages or {}).items()},
        copying=copy_flags(records, variant_qids),
    )


def assignment_json(report: AssignmentReport) -> dict[str, Any]:
    """The ``--json`` document of one assignment (the fields issue 13 lists, and a few more)."""
    return {
        "assignment": report.assignment,
        "submissions": report.submissions,
        "failed": [{"student": f.student, "reason": f.reason} for f in report.failed],
        "max_total": report.max_total,
        "mean": report.mean,
        "median": report.median,
        "threshold": report.threshold,
        "histogram": [{"low": round(lo, 9), "high": round(hi, 9), "count": n} for lo, hi, n in histogram(report.totals, report.max_total)],
        "questions": [
            {
                "qid": q.qid, "notebook": q.notebook, "points": q.points, "graded": q.graded,
                "correct_rate": q.correct_rate, "mean_score": q.mean_score, "discrimination": q.discrimination,
                "unanswered": q.unanswered, "wrong": q.wrong, "hints_used": q.hints_used,
                "mistakes": {mid: n for mid, n in q.mistakes},
                "wrong_answers": [{"answer": w.answer, "count": w.count, "fingerprint": w.fingerprint}
                                  for w in q.wrong_answers],
            }
            for q in report.questions
        ],
        "students": [
            {"student": s.student, "total": s.total, "max": s.max_total, "missed": list(s.missed),
             "below_threshold": s in report.below_threshold, "source": s.source}
            for s in report.students
        ],
        "notes": list(report.notes),
        "copying": [{"qid": f.qid, "student": f.student, "right_for": list(f.sources)} for f in report.copying],
    }


# --- the course: assignments x students --------------------------------------------------------------------
@dataclass
class CourseOverview:
    assignments: list[str]
    students: list[str]
    totals: dict[tuple[str, str], float]      # (assignment, student) -> total; absent: no graded submission
    max_totals: dict[str, float]
    failed: dict[str, list[Failure]] = field(default_factory=dict)

    def mean(self, assignment: str) -> float | None:
        vals = [v for (a, _), v in self.totals.items() if a == assignment]
        return statistics.fmean(vals) if vals else None

    def count(self, assignment: str) -> int:
        return sum(1 for (a, _) in self.totals if a == assignment)


def build_overview(reports: Sequence[AssignmentReport]) -> CourseOverview:
    """The course overview from each assignment's report."""
    totals: dict[tuple[str, str], float] = {}
    for rep in reports:
        for s in rep.students:
            totals[(rep.assignment, s.student)] = s.total
    students = sorted({s for _, s in totals} | {f.student for rep in reports for f in rep.failed})
    return CourseOverview(
        assignments=[r.assignment for r in reports], students=students, totals=totals,
        max_totals={r.assignment: r.max_total for r in reports},
        failed={r.assignment: list(r.failed) for r in reports},
    )


def overview_json(overview: CourseOverview) -> dict[str, Any]:
    return {
        "assignments": [
            {"assignment": a, "max_total": overview.max_totals[a], "submissions": overview.count(a),
             "mean": overview.mean(a),
             "failed": [{"student": f.student, "reason": f.reason} for f in overview.failed.get(a, [])]}
            for a in overview.assignments
        ],
        "students": [
            {"student": s, "totals": {a: overview.totals.get((a, s)) for a in overview.assignments}}
            for s in overview.students
        ],
    }
