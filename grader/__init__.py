"""calcgrade: grading of calculus answers for machine-learning courses.

The public surface is deliberately small:

* ``compare(answer, expected, ...)`` decides whether an answer equals a reference
  and returns a ``Verdict`` (correct, score, message, misconception, method);
* ``check(question_id, value)`` is what a notebook test cell calls: it grades
  against the course's answer key and shows the feedback;
* ``question(question_id, reference, ...)`` declares a reference answer and its
  options inside an instructor's solution cell (it is stripped from releases);
* ``hint(question_id)`` shows the author's next tier of hints for a question (no points lost);
* ``variant(question_id)`` shows a variant question with the student's own numbers and returns them;
  ``practice(question_id)`` draws an ungraded practice variant; ``set_student(id)`` names the student.

Attributes are imported lazily so that ``import grader`` stays cheap in a kernel
and the comparison core never pulls in Jupyter or plotting code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["compare", "check", "question", "hint", "variant", "practice", "set_student", "Verdict"]
__version__ = "0.1.0"

_LAZY = {
    "compare": ("grader.core.comparison", "compare"),
    "Verdict": ("grader.core.verdict", "Verdict"),
    "check": ("grader.notebook.check", "check"),
    "question": ("grader.notebook.check", "question"),
    "hint": ("grader.notebook.hints", "hint"),
    "variant": ("grader.notebook.variants", "variant"),
    "practice": ("grader.notebook.variants", "practice"),
    "set_student": ("grader.notebook.student", "set_student"),
}

if TYPE_CHECKING:  # pragma: no cover
    from grader.core.comparison import compare
    from grader.notebook.check import check, question
    from grader.notebook.hints import hint
    from grader.core.verdict import Verdict


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'grader' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value
