"""The answer key: entries, key files, and ``grade(wire_answer, entry)``.

A key is a JSON document ``{"format", "assignment", "questions": {qid: entry}}``.

* A *private* entry holds the reference in wire form (``"reference"``), its options (kind, var,
  rtol, atol, domain, plot), the named mistakes with their wire answers and messages, and for a
  function question the grader's inputs and the reference outputs.  It lives in
  ``<course root>/.calcgrade/keys/<assignment>.json``, outside every released folder.
* A *public* entry holds the same options but only seeded fingerprints (``grader.fingerprint``)
  of the reference and of each named mistake, plus the sample points and the function inputs.
  It ships as ``solutions/<assignment>/calcgrade_public.json`` (nbgrader copies it to exercises/).

``grade(answer, entry)`` is a pure function of the serialised answer and the entry, so it can run
in the student's kernel (``check``) or in a separate trusted process; both kinds of entry go through
it.  Private entries are decided by the grading core's ``compare``; public ones by fingerprints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from grader.wire import WireError, from_wire, to_wire

__all__ = [
    "PUBLIC_KEY_NAME", "PRIVATE_KEY_ENV", "KEY_DIR", "grade", "make_question_record", "public_entry",
    "load_key", "dump_key", "private_key_path", "public_key_path", "find_course_root",
    "find_key_for_check", "unanswered_answer", "error_answer", "call_answer", "KIND_NAMES",
]

PUBLIC_KEY_NAME = "calcgrade_public.json"
PRIVATE_KEY_ENV = "CALCGRADE_PRIVATE_KEY"
KEY_DIR = Path(".calcgrade") / "keys"
PRIVATE_FORMAT = "calcgrade-private-key/1"
PUBLIC_FORMAT = "calcgrade-public-key/1"
KIND_NAMES = ("expression", "antiderivative", "number", "array", "function")
# extra symbols an antiderivative may carry (the integration constant)
CONSTANT_NAMES = ("C", "c", "K", "k", "C1", "C_1", "C0", "C_0")
CALL_BUDGET = 6.0


# --- answers in wire form that are not values -------------------------------------------------------
def unanswered_answer(why: str = "") -> dict[str, Any]:
    return {"$": "error", "unanswered": True, "message": why}


def error_answer(message: str) -> dict[str, Any]:
    return {"$": "error", "unanswered": False, "message": message}


def _is_tag(answer: Any, tag: str) -> bool:
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
    domain: Sequence[float] | None, plot: str | None, call: Callable[..., tuple[str, Any]],
) -> dict[str, Any]:
    """The private entry of one question (without points), from the arguments of ``question()``."""
    kind = kind or infer_kind(reference)
    if kind not in KIND_NAMES:
        raise ValueError(f"question {qid!r}: unknown kind {kind!r} (one of {', '.join(KIND_NAMES)})")
    rec: dict[str, Any] = {
        "qid": qid, "kind": kind, "rtol": float(rtol), "atol": float(atol),
        "var": None if var is None else to_wire(var),
        "domain": None if domain is None else [float(domain[0]), float(domain[1])],
        "plot": plot, "mistakes": [],
    }
    if kind == "function":
        if not inputs:
            raise ValueError(f"question {qid!r}: a function question needs inputs=[...]")
        rec["inputs"] = [to_wire(a if isinstance(a, tuple) else (a,)) for a in inputs]
        rec["reference"] = call_answer(reference, rec, call=call)
        if not _is_tag(rec["reference"], "calls") or any("error" in r for r in rec["reference"]["results"]):
            raise ValueError(f"question {qid!r}: the reference function fails on the grader's inputs: "
                             f"{json.dumps(rec['reference'])[:300]}")
    else:
        rec["reference"] = to_wire(reference)
    for mid, pair in (mistakes or {}).items():
        wrong, message = pair
        answer = call_answer(wrong, rec, call=call) if kind == "function" else to_wire(wrong)
        rec["mistakes"].append({"id": str(mid), "message": str(message), "answer": answer})
    return rec


# --- grading ----------------------------------------------------------------------------------------
def _verdict_cls() -> Any:
    from grader.verdict import Verdict

    return Verdict


def grade(answer: Any, entry: Mapping[str, Any]) -> Any:
    """The verdict on a serialised answer for one key entry (private or public). Never raises."""
    Verdict = _verdict_cls()
    if _is_tag(answer, "error"):
        if answer.get("unanswered"):
            why = answer.get("message") or ""
            msg = "Not answered yet" + (f": {why}." if why else ".")
            return Verdict(False, 0.0, msg, None, "invalid", {"reason": "unanswered"})
        return Verdict.invalid(_sentence(answer.get("message", "Your answer could not be read.")), "unreadable")
    try:
        if entry.get("kind") == "function":
            return _grade_function(answer, entry)
        try:
            value = from_wire(answer)
        except WireError as exc:
            return Verdict.invalid(f"Your answer could not be read ({exc}).", "unreadable")
        if value is None or value is Ellipsis:
            return Verdict(False, 0.0, "Not answered yet.", None, "invalid", {"reason": "unanswered"})
        if "reference" in entry:
            return _grade_private(value, entry)
        from grader.publicgrade import grade_public

        return grade_public(value, entry)
    except Exception as exc:  # never raise on student input
        return Verdict.invalid(
            f"Your answer could not be checked ({exc.__class__.__name__}); try writing it differently.",
            "internal",
        )


def _sentence(text: str) -> str:
    text = str(text).strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _decode_mistakes(entry: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    return {m["id"]: (from_wire(m["answer"]), m["message"]) for m in entry.get("mistakes", [])}


def _grade_private(value: Any, entry: Mapping[str, Any]) -> Any:
    from grader.comparison import compare

    reference = from_wire(entry["reference"])
    var = from_wire(entry["var"]) if entry.get("var") is not None else None
    return compare(
        value, reference, kind=entry["kind"], var=var, rtol=entry["rtol"], atol=entry["atol"],
        mistakes=_decode_mistakes(entry) or None,
    )


# --- function questions: outputs vs reference outputs -------------------------------------------------
def _describe_args(wire_args: Any) -> str:
    try:
        args = from_wire(wire_args)
    except WireError:
        return "(...)"
    if not isinstance(args, tuple):
        args = (args,)
    parts = []
    for a in args:
        if isinstance(a, sp.Lambda):
            parts.append(f"f({', '.join(map(str, a.variables))}) = {a.expr}")
        elif isinstance(a, np.ndarray):
            parts.append(np.array2string(a, precision=4, threshold=8, separator=", "))
        else:
            text = repr(a)
            parts.append(text if len(text) < 60 else text[:57] + "...")
    return "(" + ", ".join(parts) + ")"


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=6, threshold=8, separator=", ")
    text = str(value)
    return text if len(text) < 80 else text[:77] + "..."


def numeric_array(v: Any) -> np.ndarray | None:
    """``v`` as a float array when it is plain numbers (no SymPy symbols, no bools), else None."""
    if isinstance(v, (bool, np.bool_, str)) or v is None:
        return None
    try:
        arr = np.asarray(v if not isinstance(v, sp.MatrixBase) else v.tolist(), dtype=float)
    except (TypeError, ValueError):
        return None
    return arr


def output_matches(out: Any, ref: Any, entry: Mapping[str, Any]) -> bool:
    """Private comparison of one output with one reference output.

    Plain numbers and arrays of numbers: |a - e| <= atol + rtol*|e| entry by entry (the core's rule
    for plain numbers), non-finite values equal only to the same non-finite value.  Anything else
    (SymPy results) goes to the core's ``compare``.
    """
    a, e = numeric_array(out), numeric_array(ref)
    if a is not None and e is not None:
        if _norm(a.shape) != _norm(e.shape):
            return False
        a, e = a.reshape(-1), e.reshape(-1)
        fin = np.isfinite(e)
        if not np.array_equal(np.isfinite(a), fin):
            return False
        same_nonfinite = np.all((a[~fin] == e[~fin]) | (np.isnan(a[~fin]) & np.isnan(e[~fin])))
        with np.errstate(all="ignore"):
            close = np.abs(a[fin] - e[fin]) <= entry["atol"] + entry["rtol"] * np.abs(e[fin])
        return bool(same_nonfinite and np.all(close))
    from grader.comparison import compare

    try:
        return bool(compare(out, ref, rtol=entry["rtol"], atol=entry["atol"]).correct)
    except (ValueError, TypeError):
        return False


def _norm(shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(int(n) for n in shape)
    return (max(shape),) if len(shape) == 2 and 1 in shape else shape


def _grade_function(answer: Any, entry: Mapping[str, Any]) -> Any:
    Verdict = _verdict_cls()
    if not _is_tag(answer, "calls"):
        return Verdict.invalid("This question asks for a Python function (def ...).", "wrong_type")
    results = answer.get("results", [])
    inputs = entry.get("inputs", [])
    if len(results) != len(inputs):
        return Verdict.invalid("Your function's results do not match the grader's inputs.", "unreadable")
    if "reference" in entry:
        judge: Any = _PrivateFunctionJudge(entry)
    else:
        from grader.publicgrade import FunctionJudge

        judge = FunctionJudge(entry)
    first_bad: tuple[int, str] | None = None
    for i, r in enumerate(results):
        if "error" in r:
            if first_bad is None:
                first_bad = (i, f"On the input {_describe_args(inputs[i])} your function failed: {r['error']}.")
            continue
        try:
            out = from_wire(r["ok"])
        except WireError:
            out = None
        problem = judge.problem(i, out)
        if problem and first_bad is None:
            first_bad = (i, problem)
    if first_bad is None:
        return Verdict.right(f"Your function gives the right result on all {len(inputs)} test inputs.", "numeric")
    for mistake in entry.get("mistakes", []):
        if judge.is_mistake(mistake, results):
            return Verdict.wrong(mistake["message"], "numeric", mistake["id"], failed_input=first_bad[0])
    i, message = first_bad
    return Verdict.wrong(message, "numeric", None, failed_input=i,
                         counterexample={"input": _describe_args(inputs[i])})


class _PrivateFunctionJudge:
    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.entry = entry
        self.refs = [from_wire(r["ok"]) for r in entry["reference"]["results"]]

    def problem(self, i: int, out: Any) -> str | None:
        ref = self.refs[i]
        if out is None:
            return f"On the input {_describe_args(self.entry['inputs'][i])} your function returned None."
        if _shape_of(out) != _shape_of(ref):
            return (f"On the input {_describe_args(self.entry['inputs'][i])} your function returned "
                    f"{_shape_text(out)}, but {_shape_text(ref)} is expected.")
        if output_matches(out, ref, self.entry):
            return None
        return (f"On the input {_describe_args(self.entry['inputs'][i])} your function returned "
                f"{_short(out)}, but the correct result is {_short(ref)}.")

    def is_mistake(self, mistake: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> bool:
        m = mistake["answer"]
        if not _is_tag(m, "calls"):
            return False
        for r, mr in zip(results, m["results"]):
            if ("ok" in r) != ("ok" in mr):
                return False
            if "ok" in r:
                a, b = from_wire(r["ok"]), from_wire(mr["ok"])
                if _shape_of(a) != _shape_of(b) or not output_matches(a, b, self.entry):
                    return False
        return True


def _shape_of(v: Any) -> tuple[int, ...] | None:
    """The shape of an output, () for a scalar, None when it is not numeric-like."""
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, float, np.number, sp.Expr)) and not isinstance(v, sp.MatrixBase):
        return ()
    if isinstance(v, (list, tuple, np.ndarray, sp.MatrixBase)):
        try:
            arr = np.asarray(v if not isinstance(v, sp.MatrixBase) else v.tolist(), dtype=object)
            shape = tuple(arr.shape)
            return tuple(n for n in shape) if not (len(shape) == 2 and 1 in shape) else (max(shape),)
        except Exception:
            return None
    return None


def _shape_text(v: Any) -> str:
    shape = _shape_of(v)
    if shape is None:
        return f"a {type(v).__name__}"
    if shape == ():
        return "a single number"
    return f"an array of shape {shape}"


# --- building public entries --------------------------------------------------------------------------
def public_entry(entry: Mapping[str, Any], assignment: str) -> dict[str, Any]:
    from grader.publicgrade import build_public_entry

    return build_public_entry(entry, assignment)


# --- key files ----------------------------------------------------------------------------------------
def dump_key(key: Mapping[str, Any]) -> str:
    """Canonical JSON text of a key (sorted keys, stable floats): the same key gives the same bytes."""
    return json.dumps(key, sort_keys=True, indent=1, ensure_ascii=True, allow_nan=False) + "\n"


def load_key(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        key = json.load(fh)
    if not isinstance(key, dict) or not isinstance(key.get("questions"), dict):
        raise ValueError(f"{path} is not a calcgrade key")
    return key


def private_key_path(course_root: Path, assignment: str) -> Path:
    return Path(course_root) / KEY_DIR / f"{assignment}.json"


def public_key_path(course_root: Path, assignment: str) -> Path:
    return Path(course_root) / "solutions" / assignment / PUBLIC_KEY_NAME


def find_course_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding nbgrader_config.py."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "nbgrader_config.py").is_file():
            return folder
    return None


_CACHE: dict[str, tuple[float, dict[str, Any]]] = {}


def _cached_load(path: Path) -> dict[str, Any]:
    mtime = path.stat().st_mtime
    hit = _CACHE.get(str(path))
    if hit and hit[0] == mtime:
        return hit[1]
    key = load_key(path)
    _CACHE[str(path)] = (mtime, key)
    return key


def find_key_for_check(cwd: Path) -> tuple[dict[str, Any] | None, str, str]:
    """(key, where it came from, problem) for ``check`` running in folder ``cwd``.

    Under nbgrader (``NBGRADER_EXECUTION`` set) the private key: ``$CALCGRADE_PRIVATE_KEY`` (a key
    file, or a folder of ``<assignment>.json``), else ``<course root>/.calcgrade/keys/<assignment>.json``
    with the course root found by walking up to nbgrader_config.py and the assignment being the name
    of the notebook's folder.  Otherwise, or when no private key is found, the public key next to the
    notebook.
    """
    cwd = Path(cwd)
    assignment = cwd.resolve().name
    if os.environ.get("NBGRADER_EXECUTION"):
        candidates: list[Path] = []
        env = os.environ.get(PRIVATE_KEY_ENV)
        if env:
            p = Path(env)
            candidates.append(p / f"{assignment}.json" if p.is_dir() else p)
        root = find_course_root(cwd)
        if root is not None:
            candidates.append(private_key_path(root, assignment))
        for p in candidates:
            if p.is_file():
                try:
                    return _cached_load(p), str(p), ""
                except (OSError, ValueError) as exc:
                    return None, str(p), f"the private key {p} cannot be read ({exc})"
    public = cwd / PUBLIC_KEY_NAME
    if public.is_file():
        try:
            return _cached_load(public), PUBLIC_KEY_NAME, ""
        except (OSError, ValueError) as exc:
            return None, str(public), f"the answer key {PUBLIC_KEY_NAME} cannot be read ({exc})"
    return None, "", f"no answer key ({PUBLIC_KEY_NAME}) was found next to this notebook"


def is_private(entry: Mapping[str, Any]) -> bool:
    """Whether a key entry holds the reference (private) or only fingerprints (public)."""
    return "reference" in entry
