"""``variant(qid)``, ``practice(qid)`` and ``set_student(id)``: a student's own numbers in the kernel.

``variant("qid")`` shows the question's statement with the student's numbers and returns them
(``my = variant("sum_of_squares")``, then ``my.b``).  Which variant a student gets is a pure function of
(course, assignment, question, student id, seed): ``grader.key.variants.variant_index``.

Where the student id comes from, first found wins (``grader.notebook.student``):

1. grading: the sandboxed run of a submission gets its variants from the trusted grader (the gradebook's
   student, the ``submitted/<student>/`` folder), handed over by the executor before any student cell runs;
   nothing the notebook says is asked;
2. a kernel started by stock nbgrader without calcgrade's sandbox (``NBGRADER_EXECUTION=autograde``):
   the student folder the kernel runs in (``autograded/<student>/<assignment>/``);
3. ``set_student("id")`` called in this kernel (a student working alone, or an instructor trying ids);
4. the environment variable ``CALCGRADE_STUDENT``;
5. ``JUPYTERHUB_USER`` (JupyterHub, where nbgrader's exchange records the same name);
6. the login name of the account running the kernel, which is what nbgrader's exchange records as the
   student id outside JupyterHub (``nbgrader submit``).

Whatever a kernel is told only changes what that kernel shows and self-checks: the trusted grader grades
the variant of the gradebook's student.  A student who copies a classmate's answers therefore answers
the classmate's numbers and loses the points.

``practice("qid")`` draws a fresh variant from the practice pool, which the key builder keeps apart from
the graded pool, shows it, and ``practice("qid", answer)`` (or ``.check(answer)`` on what it returned)
checks an answer to it on the spot with the public key's fingerprints: as often as one likes.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Mapping

from grader.key import variants as kv
from grader.notebook.student import STUDENT_ENV, entry_for_check, set_student, student_id

__all__ = ["variant", "practice", "set_student", "student_id", "entry_for_check", "Practice", "STUDENT_ENV"]

_PRACTICE: dict[str, "Practice"] = {}
_RNG = random.Random()


def _show(markdown: str) -> None:
    try:
        from IPython.display import Markdown, display

        display(Markdown(markdown))
    except Exception:
        pass


def _numbers_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"${k} = {_latex(v)}$" for k, v in params.items())


def _latex(value: Any) -> str:
    try:
        import sympy as sp

        return str(value) if isinstance(value, (int, str)) else sp.latex(value)
    except Exception:
        return str(value)


def variant(qid: str, **fixed: Any) -> kv.Params:
    """Show question ``qid`` with this student's numbers and return them (``p.n`` or ``p["n"]``).

    ``fixed``: numbers written in by hand (``calcgrade variant --solution`` writes them); they change what
    this kernel computes, not which variant is graded.
    """
    qid = str(qid)
    if fixed:
        params, statement = kv.Params(fixed), ""
    else:
        params, statement = _own(qid)
    if statement:
        _show(statement)
    elif params:
        whose = "the numbers written in here" if fixed else "your numbers"
        _show(f"**{qid}**, {whose}: {_numbers_text(params)}")
    return params


def _own(qid: str) -> tuple[kv.Params, str]:
    from grader.notebook import capture

    if capture.active():  # grading: the trusted grader's choice, nothing else
        given = capture.variant_for(qid) or {}
        return kv.read_params(given.get("params") or {}), str(given.get("statement") or "")
    from grader.notebook.check import RECORD_ENV, recorded_entry

    if os.environ.get(RECORD_ENV):
        entry = recorded_entry(qid)
        if kv.is_variant(entry):
            concrete = kv.resolve(entry, 0)
            return kv.read_params(concrete["variant"]["params"]), concrete["variant"]["statement"]
        return kv.Params(), ""
    concrete, problem = _live_entry(qid)
    if concrete is None:
        _show(f"*{qid}: {problem}*")
        return kv.Params(), ""
    v = concrete.get("variant") or {}
    return kv.read_params(v.get("params") or {}), str(v.get("statement") or "")


def _live_entry(qid: str) -> tuple[dict[str, Any] | None, str]:
    from grader.key import files

    key, source, problem = files.find_key_for_check(Path.cwd())
    if key is None:
        return None, problem
    entry = entry_for_check(key, qid)
    if entry is None:
        return None, f"the answer key ({source}) has no question {qid!r}"
    if "variant" not in entry:
        return None, f"question {qid!r} has the same numbers for everyone"
    return entry, ""


class Practice:
    """One practice variant: shown on creation, ``.check(answer)`` grades an answer to it."""

    def __init__(self, qid: str, entry: Mapping[str, Any] | None, problem: str = "") -> None:
        self.qid = qid
        self.entry = entry
        self.problem = problem
        v = (entry or {}).get("variant") or {}
        self.params = kv.read_params(v.get("params") or {})
        self.statement = str(v.get("statement") or "")

    def _repr_markdown_(self) -> str:
        if self.problem:
            return f"*{self.qid}: {self.problem}*"
        body = self.statement or f"Your numbers: {_numbers_text(self.params)}"
        return (f"**Practice: {self.qid}** (not graded)\n\n{body}\n\n"
                f"Check an answer with `practice(\"{self.qid}\", answer)`; `practice(\"{self.qid}\")` gives new numbers.")

    def __repr__(self) -> str:
        return self.problem or f"Practice {self.qid}: {kv.variant_label(self.params)}"

    def check(self, value: Any) -> Any:
        """Grade ``value`` as the answer to this practice variant (public key, nothing recorded)."""
        from grader.key import grading
        from grader.notebook.check import answer_to_wire
        from grader.notebook.display import CheckResult

        if self.entry is None:
            return CheckResult.no_key(self.qid, self.problem or "no practice variant")
        answer = answer_to_wire(value, self.entry)
        verdict = grading.grade(answer, self.entry)
        return CheckResult.build(self.qid, dict(self.entry, points=1.0), answer, verdict, value=value)


def practice(qid: str, *answer: Any) -> Any:
    """``practice("qid")``: a fresh practice variant of question ``qid`` (shown); ``practice("qid", value)``:
    the verdict on ``value`` as the answer to the latest one (a first call draws one)."""
    qid = str(qid)
    if answer:
        current = _PRACTICE.get(qid) or _draw(qid)
        _PRACTICE[qid] = current
        return current.check(answer[0])
    current = _draw(qid)
    _PRACTICE[qid] = current
    return current


def _draw(qid: str) -> Practice:
    from grader.key import files

    key, source, problem = files.find_key_for_check(Path.cwd())
    if key is None:
        return Practice(qid, None, problem)
    entry = (key.get("questions") or {}).get(qid)
    if entry is None:
        return Practice(qid, None, f"the answer key ({source}) has no question {qid!r}")
    pool = kv.variants_of(entry, practice=True) if kv.is_variant(entry) else []
    if not pool:
        return Practice(qid, None, "this question has no practice variants (its numbers are the same for everyone)")
    last = _PRACTICE.get(qid)
    choices = [i for i in range(len(pool)) if last is None or len(pool) == 1
               or i != (last.entry or {}).get("variant", {}).get("index")]
    return Practice(qid, kv.resolve(entry, _RNG.choice(choices), practice=True))
