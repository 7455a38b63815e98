"""``grade(wire_answer, entry)``: the verdict on a serialised answer, for a private or a public entry.

A pure function of its two arguments, so it runs in the student's kernel (self-check with the
public key) or in the trusted grader (the private key) alike.  Private entries are decided by the
grading core's ``compare``; public ones by fingerprints (``grader.key.publicgrade``).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np


from grader.key.wire import Unsupported, WireError, from_wire
from grader.key.entries import is_tag
from grader.key.answertext import answer_text
from grader.key.outputs import describe_args, output_matches, shape_text

__all__ = ["grade"]


def _verdict_cls() -> Any:
    from grader.core.verdict import Verdict

    return Verdict


def grade(answer: Any, entry: Mapping[str, Any]) -> Any:
    """The verdict on a serialised answer for one key entry (private or public). Never raises."""
    Verdict = _verdict_cls()
    if is_tag(answer, "error"):
        if answer.get("unanswered"):
            why = answer.get("message") or ""
            msg = "Not answered yet" + (f": {why}." if why else ".")
            return Verdict(False, 0.0, msg, None, "invalid", {"reason": "unanswered"})
        # an answer cell whose latest run raised (grader.notebook.check.answer_cell_error): said as such
        reason = "cell_error" if answer.get("cell_error") else "unreadable"
        return Verdict.invalid(_sentence(answer.get("message", "Your answer could not be read.")), reason)
    if isinstance(entry.get("variants"), Mapping):  # never a silent grade against some other variant
        return Verdict.invalid("This question gives every student their own numbers; it is graded against a "
                               "student's variant (grader.key.variants.key_for_student).", "internal")
    try:
        if entry.get("kind") == "function":
            return _grade_function(answer, entry)
        try:
            value = from_wire(answer)
        except WireError as exc:
            return Verdict.invalid(f"Your answer could not be read ({exc}).", "unreadable")
        if value is None or value is Ellipsis:
            return Verdict(False, 0.0, "Not answered yet.", None, "invalid", {"reason": "unanswered"})
        if isinstance(value, Unsupported):
            return Verdict.invalid(_unsupported_message(value, entry.get("kind")), "wrong_type")
        if "reference" in entry:
            return _grade_private(value, entry)
        from grader.key.publicgrade import grade_public

        return grade_public(value, entry)
    except Exception as exc:  # never raise on student input
        return Verdict.invalid(
            f"Your answer could not be checked ({exc.__class__.__name__}); try writing it differently.",
            "internal",
        )


_WANTED = {"expression": "an expression (e.g. 2*x*sp.cos(x))", "antiderivative": "an expression",
           "number": "a number", "array": "a list, a NumPy array or a SymPy Matrix"}


def _unsupported_message(value: Unsupported, kind: str | None) -> str:
    """What a value without a wire form is, in the student's words (never an internal class name)."""
    wanted = _WANTED.get(kind or "", "a value")
    if value.is_callable:
        return (f"Your answer is a function ({value.type_name}), but {wanted} is expected: give the value "
                "itself, e.g. sp.sin(x) rather than sp.sin.")
    return f"Your answer is a Python {value.type_name}, which cannot be checked: {wanted} is expected."


def _sentence(text: str) -> str:
    text = str(text).strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _decode_mistakes(entry: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    return {m["id"]: (from_wire(m["answer"]), m["message"]) for m in entry.get("mistakes", [])}


def _grade_private(value: Any, entry: Mapping[str, Any]) -> Any:
    from grader.core.comparison import compare

    reference = from_wire(entry["reference"])
    var = from_wire(entry["var"]) if entry.get("var") is not None else None
    return compare(
        value, reference, kind=entry["kind"], var=var, rtol=entry["rtol"], atol=entry["atol"],
        mistakes=_decode_mistakes(entry) or None, partial=bool(entry.get("partial")), layout=entry.get("layout"),
    )



def _grade_function(answer: Any, entry: Mapping[str, Any]) -> Any:
    Verdict = _verdict_cls()
    if not is_tag(answer, "calls"):
        return Verdict.invalid("This question asks for a Python function (def ...).", "wrong_type")
    results = answer.get("results", [])
    inputs = entry.get("inputs", [])
    if len(results) != len(inputs):
        return Verdict.invalid("Your function's results do not match the grader's inputs.", "unreadable")
    if "reference" in entry:
        judge: Any = _PrivateFunctionJudge(entry)
    else:
        from grader.key.publicgrade import FunctionJudge

        judge = FunctionJudge(entry)
    first_bad: tuple[int, str] | None = None
    for i, r in enumerate(results):
        if "error" in r:
            if first_bad is None:
                first_bad = (i, f"On the input {describe_args(inputs[i])} your function failed: {r['error']}.")
            continue
        try:
            out = from_wire(r["ok"])
        except WireError:
            out = None
        problem = judge.problem(i, out)
        if problem and first_bad is None:
            first_bad = (i, problem)
    if first_bad is None:
        text = f"Your function gives the right result on all {len(inputs)} test inputs."
        if getattr(judge, "orientation_deferred", False):
            from grader.core.shapes import CONVENTION

            return Verdict.right(text + " Whether a row or a column is expected is checked at grading ("
                                 + CONVENTION + ").", "numeric", exact_check="at grading")
        return Verdict.right(text, "numeric")
    for mistake in entry.get("mistakes", []):
        if judge.is_mistake(mistake, results):
            return Verdict.wrong(mistake["message"], "numeric", mistake["id"], failed_input=first_bad[0])
    i, message = first_bad
    return Verdict.wrong(message, "numeric", None, failed_input=i,
                         counterexample={"input": describe_args(inputs[i])})


def fit_layout(out: Any, ref: Any, layout: str | None) -> tuple[Any, str]:
    """(the output, "") when its shape is the reference's or equivalent under the question's layout
    (``grader.core.shapes``; then read in the reference's shape), else (out, why it is refused)."""
    from grader.core.shapes import DEFAULT_LAYOUT, align, mismatch_sentence, value_shape

    a, e = value_shape(out), value_shape(ref)
    if a == e:
        return out, ""
    if a is None or e is None:
        return out, f"your function returned {shape_text(out)}, but {shape_text(ref)} is expected."
    how = align(a, e, layout or DEFAULT_LAYOUT)
    if how == "note":
        try:
            arr = np.asarray(out, dtype=float)
            return (float(arr.reshape(-1)[0]) if e == () else arr.reshape(e)), ""
        except (TypeError, ValueError):
            return out, f"your function returned {shape_text(out)}, but {shape_text(ref)} is expected."
    sentence = mismatch_sentence(a, e, layout or DEFAULT_LAYOUT, "your function's result")
    return out, sentence[0].lower() + sentence[1:]


class _PrivateFunctionJudge:
    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.entry = entry
        self.refs = [from_wire(r["ok"]) for r in entry["reference"]["results"]]

    def problem(self, i: int, out: Any) -> str | None:
        ref = self.refs[i]
        if out is None:
            return f"On the input {describe_args(self.entry['inputs'][i])} your function returned None."
        out, refused = fit_layout(out, ref, self.entry.get("layout"))
        if refused:
            return f"On the input {describe_args(self.entry['inputs'][i])} {refused}"
        if output_matches(out, ref, self.entry):
            return None
        return (f"On the input {describe_args(self.entry['inputs'][i])} your function returned "
                f"{answer_text(out, limit=80)}, but the correct result is {answer_text(ref, limit=80)}.")

    def is_mistake(self, mistake: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> bool:
        m = mistake["answer"]
        if not is_tag(m, "calls"):
            return False
        for r, mr in zip(results, m["results"]):
            if ("ok" in r) != ("ok" in mr):
                return False
            if "ok" in r:
                a, b = from_wire(r["ok"]), from_wire(mr["ok"])
                a, refused = fit_layout(a, b, self.entry.get("layout"))
                if refused or not output_matches(a, b, self.entry):
                    return False
        return True


