"""Question tests: a slip in a reference answer is caught at release, not by the students.

Modelled on STACK's question tests.  Next to ``question(...)`` an author lists test answers with
the verdict each must get (``tests=[("6*x*(x**2 + 1)**2", True), ("3*(x**2 + 1)**2",
"forgot_inner_derivative"), ("x", False)]``); the key builder runs every test against the private
*and* the public entry and refuses the key on any mismatch.  Even without declared tests, a
reference equal to one of its own named mistakes, or two named mistakes equal to each other, is
refused: either makes a diagnosis meaningless.
"""

from __future__ import annotations

from typing import Any, Mapping

from grader.key import grading, variants
from grader.key.answertext import wire_answer_text

__all__ = ["expectation_text", "declared_test_problems", "mistake_problems", "question_problems"]


def expectation_text(expect: bool | str) -> str:
    if expect is True:
        return "correct"
    if expect is False:
        return "wrong"
    return f"the named mistake {expect!r}"


def _verdict_text(v: Any) -> str:
    if v.correct:
        return "correct"
    if v.misconception:
        return f"wrong, recognised as {v.misconception!r}"
    return "wrong"


def _meets(v: Any, expect: bool | str) -> bool:
    if expect is True:
        return bool(v.correct) and float(v.score) >= 1.0
    if expect is False:
        return not v.correct
    return (not v.correct) and v.misconception == expect


def declared_test_problems(qid: str, private: Mapping[str, Any], public: Mapping[str, Any] | None) -> list[str]:
    """Mismatches of the declared question tests, against both keys, one sentence each."""
    problems: list[str] = []
    named = {m["id"] for m in private.get("mistakes", [])}
    for number, test in enumerate(private.get("tests", []), start=1):
        expect, answer = test.get("expect"), test.get("answer")
        label = f"question {qid!r}, test {number} ({wire_answer_text(answer, limit=80).plain})"
        if isinstance(expect, str) and expect not in named:
            problems.append(f"{label}: expects the named mistake {expect!r}, but the question names "
                            f"{', '.join(sorted(named)) or 'no mistakes'}")
            continue
        for which, entry in (("private", private), ("public", public)):
            if entry is None:
                continue
            verdict = grading.grade(answer, entry)
            if not _meets(verdict, expect):  # once more: per-evaluation deadlines can trip on a loaded machine
                verdict = grading.grade(answer, entry)
            if not _meets(verdict, expect):
                problems.append(f"{label}: should be {expectation_text(expect)}, the {which} key says "
                                f"{_verdict_text(verdict)}")
                break  # one sentence per test is enough; the other key says the same or worse
    return problems


def mistake_problems(qid: str, private: Mapping[str, Any]) -> list[str]:
    """A named mistake the reference itself equals, or two named mistakes that are the same answer."""
    problems: list[str] = []
    ids = [m["id"] for m in private.get("mistakes", [])]
    for mistake in private.get("mistakes", []):
        verdict = grading.grade(mistake["answer"], private)
        if verdict.correct:
            problems.append(f"question {qid!r}: the reference equals its own named mistake {mistake['id']!r} "
                            "(a slip in the reference, or in the mistake)")
        elif verdict.misconception in ids and verdict.misconception != mistake["id"]:
            problems.append(f"question {qid!r}: the named mistakes {verdict.misconception!r} and "
                            f"{mistake['id']!r} are the same answer")
    return problems


def question_problems(qid: str, private: Mapping[str, Any], public: Mapping[str, Any] | None) -> list[str]:
    """Everything the question tests find wrong with one question (empty: it may be released).

    A variant question is tested on every variant of its graded and practice pools (each a few
    milliseconds: pools are at most ``grader.key.variants.MAX_POOL``); a problem names the variant's
    parameters, so the author sees which numbers break the question."""
    if variants.is_variant(private):
        problems: list[str] = []
        for practice in (False, True):
            for index, v in enumerate(variants.variants_of(private, practice=practice)):
                label = variants.variant_label(variants.read_params(v.get("params") or {}))
                pool = "practice" if practice else "graded"
                concrete = variants.resolve(private, index, practice=practice)
                shown = variants.resolve(public, index, practice=practice) if variants.is_variant(public) else None
                problems += [f"{p} (in the {pool} variant {label})" for p in question_problems(qid, concrete, shown)]
        return problems
    structural = mistake_problems(qid, private)
    return structural + declared_test_problems(qid, private, public)
