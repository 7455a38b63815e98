"""Key entries: what ``question()`` records, and the wire answers that are not values.

The key as a whole (see ``grader.key.files``):

A key is a JSON document ``{"format", "assignment", "questions": {qid: entry}}``.

* A *private* entry holds the reference in wire form (``"reference"``), its options (kind, var,
  rtol, atol, domain, plot), the named mistakes with their wire answers and messages, and for a
  function question the grader's inputs and the reference outputs.  It lives in
  ``<course root>/.calcgrade/keys/<assignment>.json``, outside every released folder.
* A *public* entry holds the same options but only seeded fingerprints (``grader.key.fingerprint``)
  of the reference and of each named mistake, plus the sample points and the function inputs.
  It ships as ``solutions/<assignment>/calcgrade_public.json`` (nbgrader copies it to exercises/).

``grade(answer, entry)`` is a pure function of the serialised answer and the entry, so it can run
in the student's kernel (``check``) or in a separate trusted process; both kinds of entry go through
it.  Private entries are decided by the grading core's ``compare``; public ones by fingerprints.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from grader.key.wire import WireError, from_wire, to_wire


__all__ = [
    "make_question_record", "unanswered_answer", "error_answer", "call_answer", "is_tag", "infer_kind",
    "KIND_NAMES", "CONSTANT_NAMES",
]

KIND_NAMES = ("expression", "antiderivative", "number", "array", "function")
# extra symbols an antiderivative may carry (the integration constant)
CONSTANT_NAMES = ("C", "c", "K", "k", "C1", "C_1", "C0", "C_0")
CALL_BUDGET = 6.0


# --- answers in wire form that are not values -------------------------------------------------------
def unanswered_answer(why: str = "") -> dict[str, Any]:
    return {"$": "error", "unanswered": True, "message": why}


def error_answer(message: str) -> dict[str, Any]:
    return {"$": "error", "unanswered": False, "message": message}


def is_tag(answer: Any, tag: str) -> bool:
    return isinstance(answer, dict) and answer.get("$") == tag


# --- function questions: calling on the grader's inputs ---------------------------------------------
def _prepare_args(wire_args: Any) -> tuple:
    args = from_wire(wire_args)
    if not isinstance(args, tuple):
        args = (args,)
    out = []
    for a in args:
        if isinstance(a, sp.Lambda):
            out.append(_lambda_callable(a))
        elif isinstance(a, np.ndarray):
            out.append(a.copy())
        else:
            out.append(a)
    return tuple(out)


def _lambda_callable(lam: sp.Lambda) -> Callable[..., Any]:
    """``sp.Lambda(x, expr)`` -> a NumPy callable of its arguments (what a student's code expects)."""
    f = sp.lambdify(lam.variables, lam.expr, modules="numpy")

    def call(*a: Any) -> Any:
        with np.errstate(all="ignore"):
            return f(*a)

    call.__name__ = "f"
    return call


def call_answer(fn: Any, entry: Mapping[str, Any], *, call: Callable[..., tuple[str, Any]]) -> Any:
    """Call the student's ``fn`` on every input of ``entry``; the wire form of the results."""
    if fn is None or fn is Ellipsis:
        return unanswered_answer("")
    if not callable(fn) or isinstance(fn, sp.Basic):
        return error_answer(
            f"This question asks for a Python function (def ...), but your answer is a {type(fn).__name__}."
        )
    import time

    results: list[Any] = []
    budget_end = time.monotonic() + CALL_BUDGET
    for wire_args in entry.get("inputs", []):
        left = budget_end - time.monotonic()
        if left <= 0:
            results.append({"error": "not run: earlier calls used up the time allowed", "timeout": True})
            continue
        try:
            args = _prepare_args(wire_args)
        except WireError as exc:  # a broken key, not the student's fault
            results.append({"error": f"the key's input could not be read ({exc})"})
            continue
        status, out = call(fn, args, min(2.0, left))
        if status == "timeout":
            results.append({"error": "it did not finish within the time allowed (an endless loop?)", "timeout": True})
            budget_end = time.monotonic()  # one endless loop is enough: the other inputs are not run
        elif status == "error":
            results.append({"error": f"it raised {out}"})
        else:
            try:
                results.append({"ok": to_wire(out)})
            except (WireError, RecursionError) as exc:
                results.append({"error": f"its result could not be read ({exc})"})
    if results and all(_is_none_result(r) for r in results):
        return unanswered_answer("your function returns nothing yet (None)")
    return {"$": "calls", "results": results}


def _is_none_result(r: Mapping[str, Any]) -> bool:
    ok = r.get("ok")
    return isinstance(ok, dict) and ok.get("$") in ("none", "ellipsis")


def _domain_wire(domain: Any) -> Any:
    """``(lo, hi)``: the plot's window for the variable; ``{"s": (0, 1), ...}``: where each named variable
    lives (a probability, a label), so feedback points and plots stay inside it."""
    if domain is None:
        return None
    if isinstance(domain, Mapping):
        return {str(getattr(k, "name", k)): [float(v[0]), float(v[1])] for k, v in domain.items()}
    return [float(domain[0]), float(domain[1])]


# --- records made by question() while the solutions run ---------------------------------------------
def infer_kind(reference: Any) -> str:
    if callable(reference) and not isinstance(reference, sp.Basic):
        return "function"
    if isinstance(reference, (list, tuple, np.ndarray, sp.MatrixBase, sp.NDimArray)):
        return "array"
    if isinstance(reference, sp.Basic) and getattr(reference, "free_symbols", None):
        return "expression"
    return "number"


def make_question_record(
    qid: str, reference: Any, *, kind: str | None, var: Any, rtol: float, atol: float,
    mistakes: Mapping[str, tuple[Any, str]] | None, inputs: Sequence[Any] | None,
    domain: Sequence[float] | Mapping[Any, Sequence[float]] | None, plot: str | None, call: Callable[..., tuple[str, Any]],
    tests: Sequence[tuple[Any, bool | str]] | None = None, hints: Sequence[str] | None = None,
    partial: bool = False, layout: str | None = None,
) -> dict[str, Any]:
    """The private entry of one question (without points), from the arguments of ``question()``.

    ``tests``: question tests, pairs (answer, expected verdict) where the verdict is True (correct),
    False (wrong) or a named mistake's id; stored in wire form (function answers as their outputs on
    the grader's inputs) and run against both keys when the assignment is released.
    ``hints``: tiers of hints, shown one at a time by ``hint(qid)``; public (they give no answer away).
    ``partial``: array answers earn the fraction of right entries instead of all or nothing.
    ``layout``: the shape policy of array answers (``grader.core.shapes.LAYOUTS``); the course's convention
    when not given.
    Fields appear only when given, so keys of questions without them do not change.
    """
    kind = kind or infer_kind(reference)
    if kind not in KIND_NAMES:
        raise ValueError(f"question {qid!r}: unknown kind {kind!r} (one of {', '.join(KIND_NAMES)})")
    rec: dict[str, Any] = {
        "qid": qid, "kind": kind, "rtol": float(rtol), "atol": float(atol),
        "var": None if var is None else to_wire(var),
        "domain": _domain_wire(domain),
        "plot": plot, "mistakes": [],
    }
    if layout is not None:
        from grader.core.shapes import check_layout

        rec["layout"] = check_layout(layout)
    if kind == "function":
        if not inputs:
            raise ValueError(f"question {qid!r}: a function question needs inputs=[...]")
        rec["inputs"] = [to_wire(a if isinstance(a, tuple) else (a,)) for a in inputs]
        rec["reference"] = call_answer(reference, rec, call=call)
        if not is_tag(rec["reference"], "calls") or any("error" in r for r in rec["reference"]["results"]):
            raise ValueError(f"question {qid!r}: the reference function fails on the grader's inputs: "
                             f"{json.dumps(rec['reference'])[:300]}")
    else:
        rec["reference"] = to_wire(reference)
    for mid, pair in (mistakes or {}).items():
        wrong, message = pair
        answer = call_answer(wrong, rec, call=call) if kind == "function" else to_wire(wrong)
        rec["mistakes"].append({"id": str(mid), "message": str(message), "answer": answer})
    if tests:
        rec["tests"] = []
        for pair in tests:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[1], (bool, str))):
                raise ValueError(f"question {qid!r}: each test is a pair (answer, True | False | mistake id)")
            answer, expect = pair
            wire = call_answer(answer, rec, call=call) if kind == "function" else to_wire(answer)
            rec["tests"].append({"answer": wire, "expect": expect})
    if hints:
        rec["hints"] = [str(h) for h in hints]
    if partial:
        rec["partial"] = True
    return rec

