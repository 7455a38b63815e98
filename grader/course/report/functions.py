"""Wrong answers to function questions, as the report shows them: outputs beside the correct ones.

Why: a function answer is a list of output values on the grader's inputs; typeset as math it is
unreadable ("\\text{function: }\\left[\\left[0.25, ...").  The answer log keeps those outputs as data
(``answerprint.calls_text``) and the private key keeps the inputs and the correct outputs, so the
report can say in words where the student's function goes wrong, tabulate a few values, and plot
the student's outputs against the correct ones.  Everything here is plain data for the template
and the plot; nothing is drawn or escaped here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from grader.course.grading.answerprint import FUNCTION_PREFIX

__all__ = ["FunctionReference", "FunctionView", "function_references", "load_references", "function_view",
           "is_function_text", "fmt"]

TABLE_ROWS = 6     # values listed per wrong answer


@dataclass(frozen=True)
class FunctionReference:
    """A function question's inputs (None where not a single number) and correct outputs (flattened)."""

    scalar_inputs: tuple[float | None, ...]
    outputs: tuple[tuple[float | None, ...], ...]
    shapes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class FunctionView:
    """What the page shows for one wrong function answer."""

    summary: str                                  # one sentence, words and numbers
    columns: tuple[str, str, str]                 # table head: (input or entry, yours, correct)
    rows: tuple[tuple[str, str, str], ...]
    xs: tuple[float, ...] = ()                    # plot: x values, the student's and the correct y values
    yours: tuple[float | None, ...] = ()
    correct: tuple[float | None, ...] = ()
    x_label: str = ""


def fmt(v: float | None) -> str:
    """A value as the report prints it: 3 significant digits, a real minus sign."""
    if v is None or not math.isfinite(v):
        return "undefined"
    text = f"{v:.3g}"
    return text.replace("-", "\u2212")


def _flat(value: Any) -> tuple[tuple[float | None, ...], tuple[int, ...]] | None:
    import numpy as np

    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return tuple(float(v) if math.isfinite(v) else None for v in arr.reshape(-1).tolist()), tuple(arr.shape)


def function_references(key: Mapping[str, Any]) -> dict[str, FunctionReference]:
    """qid -> reference of every function question of a private key (entries that cannot be read are left out)."""
    from grader.key.wire import from_wire

    out: dict[str, FunctionReference] = {}
    for qid, entry in (key.get("questions") or {}).items():
        if entry.get("kind") != "function":
            continue
        try:
            scalars: list[float | None] = []
            for wire in entry.get("inputs", []):
                args = from_wire(wire)
                one = isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], (int, float))
                scalars.append(float(args[0]) if one else None)
            outs, shapes = [], []
            for r in entry["reference"]["results"]:
                flat = _flat(from_wire(r["ok"]))
                if flat is None:
                    raise ValueError("not numbers")
                outs.append(flat[0])
                shapes.append(flat[1])
        except Exception:  # a key without numeric outputs: the page shows the answer's own text
            continue
        out[qid] = FunctionReference(tuple(scalars), tuple(outs), tuple(shapes))
    return out


def load_references(course_root: Path, assignment: str) -> dict[str, FunctionReference]:
    """The function references of an assignment's private key; {} without a readable key."""
    from grader.key import files

    path = files.private_key_path(Path(course_root), assignment)
    if not path.is_file():
        return {}
    try:
        return function_references(files.load_key(path))
    except (OSError, ValueError):
        return {}


def _outputs(text: str) -> list[dict[str, Any]] | None:
    if not text.startswith(FUNCTION_PREFIX):
        return None
    try:
        doc = json.loads(text[len(FUNCTION_PREFIX):])
        outputs = doc["outputs"]
        return [o for o in outputs if isinstance(o, dict)] if isinstance(outputs, list) else None
    except (ValueError, KeyError, TypeError):
        return None


def is_function_text(text: str) -> bool:
    """Whether an answer text is a function's outputs (new form) or the older LaTeX list of them."""
    return text.startswith(FUNCTION_PREFIX) or text.startswith("\\text{function: }")


def _differs(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return abs(a - b) > 2e-5 * max(1.0, abs(b))   # the log keeps 6 significant digits


def _values(o: Mapping[str, Any]) -> list[float | None] | None:
    vals = o.get("values")
    if not isinstance(vals, list):
        return None
    return [float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None for v in vals]


def function_view(text: str, ref: FunctionReference | None) -> FunctionView:
    """The summary, table and plot data of one wrong function answer (``text``: its answer_text)."""
    outputs = _outputs(text)
    if outputs is None:
        return FunctionView("A function; its outputs were logged in an older form: grade again to see them.",
                            ("input", "yours", "correct"), ())
    if ref is None:
        rows = tuple((str(i + 1), _output_text(o), "") for i, o in enumerate(outputs))
        return FunctionView(f"A function; its outputs on the first {len(outputs)} inputs are listed.",
                            ("input", "yours", "correct"), rows)
    n = min(len(outputs), len(ref.outputs))
    if ref.scalar_inputs and all(x is not None for x in ref.scalar_inputs[:n]):
        return _scalar_view(outputs[:n], ref)
    return _entries_view(outputs[:n], ref)


def _output_text(o: Mapping[str, Any]) -> str:
    if o.get("error"):
        return "error"
    vals = _values(o)
    if vals is None:
        return str(o.get("text", "?"))
    shown = ", ".join(fmt(v) for v in vals[:4]) + (", …" if len(vals) > 4 else "")
    return shown if len(vals) == 1 else f"[{shown}]"


def _scalar_view(outputs: Sequence[Mapping[str, Any]], ref: FunctionReference) -> FunctionView:
    xs = [float(x) for x in ref.scalar_inputs[:len(outputs)] if x is not None]
    yours: list[float | None] = []
    for o in outputs:
        vals = _values(o)
        yours.append(vals[0] if vals and len(vals) == 1 else None)
    correct = [out[0] if len(out) == 1 else None for out in ref.outputs[:len(outputs)]]
    wrong = [i for i in range(len(xs)) if _differs(yours[i], correct[i])]
    if wrong:
        i = wrong[0]
        first = f"at x = {fmt(xs[i])} yours is {fmt(yours[i])}, the correct value {fmt(correct[i])}"
        summary = f"Differs from the correct function at {len(wrong)} of {len(xs)} inputs; {first}."
    else:
        summary = f"Agrees with the correct function at the {len(xs)} inputs shown (it differs elsewhere)."
    order = sorted(range(len(xs)), key=lambda k: (k not in wrong, k))[:TABLE_ROWS]
    rows = tuple((fmt(xs[k]), fmt(yours[k]), fmt(correct[k])) for k in sorted(order, key=lambda k: xs[k]))
    return FunctionView(summary, ("x", "yours", "correct"), rows, tuple(xs), tuple(yours), tuple(correct), "x")


def _entry_label(shape: tuple[int, ...]) -> Any:
    """Flat index -> "3" for a vector, "(1, 3)" (row, column, from 1) for a matrix."""
    def label(k: int) -> str:
        if len(shape) < 2:
            return str(k + 1)
        import numpy as np

        return "(" + ", ".join(str(int(i) + 1) for i in np.unravel_index(k, shape)) + ")"
    return label


def _entries_view(outputs: Sequence[Mapping[str, Any]], ref: FunctionReference) -> FunctionView:
    """Array outputs: the first input where they differ, entry by entry."""
    for i, o in enumerate(outputs):
        want = list(ref.outputs[i])
        if o.get("error"):
            return FunctionView(f"Raises an error on input {i + 1} of {len(ref.outputs)}.",
                                ("entry", "yours", "correct"), ())
        got = _values(o)
        shape = o.get("shape")
        if got is None or (isinstance(shape, list) and tuple(shape) != ref.shapes[i]
                           and math.prod(shape or [1]) != len(want)):
            what = o.get("text") or f"an array of shape {tuple(shape) if isinstance(shape, list) else '?'}"
            return FunctionView(f"On input {i + 1} it returns {what}; the correct output has shape "
                                f"{ref.shapes[i]}.", ("entry", "yours", "correct"), ())
        got = got[:len(want)]
        wrong = [k for k in range(len(got)) if _differs(got[k], want[k])]
        if not wrong:
            continue
        worst = max(wrong, key=lambda k: abs((got[k] or 0.0) - (want[k] or 0.0)))
        label = _entry_label(ref.shapes[i])
        summary = (f"On input {i + 1} of {len(ref.outputs)}, {len(wrong)} of {len(want)} output entries differ; "
                   f"the largest difference is at entry {label(worst)}: yours {fmt(got[worst])}, "
                   f"correct {fmt(want[worst])}.")
        rows = tuple((label(k), fmt(got[k]), fmt(want[k])) for k in wrong[:TABLE_ROWS])
        xs = tuple(float(k + 1) for k in range(len(got)))
        flat = "row by row" if len(ref.shapes[i]) > 1 else ""
        return FunctionView(summary, ("entry", "yours", "correct"), rows, xs, tuple(got), tuple(want[:len(got)]),
                            f"output entry (input {i + 1}{', ' + flat if flat else ''})")
    return FunctionView(f"Agrees with the correct outputs on the first {len(outputs)} inputs (it differs on a later one).",
                        ("entry", "yours", "correct"), ())
