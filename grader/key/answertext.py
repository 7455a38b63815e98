"""A student's answer as text: the one formatting used wherever an answer is shown.

The notebook's verdict ("Your answer: ..."), the answer log and the class report (the most common wrong
answers), a release's question tests ("test 2 (a function giving 0.0, 1.5, ...)") and the function
messages of grading ("your function returned ...") all show an answer; they used four formatters that
disagreed on arrays, long answers and functions.  Here the rules live once:

* ``latex``: LaTeX that both MathJax (the notebook) and matplotlib's mathtext (the report's formula
  images) read, so no ``\\begin{matrix}`` environments: an array is a bracketed list of rows.  Empty when
  the answer has no formula (a function, a plain string, an answer too long to typeset);
* ``plain``: short text for a sentence or a terminal, never longer than ``limit`` characters;
* ``as_latex``: the LaTeX, else the plain text as ``\\text{...}`` (what the answer log stores).

Never raises: an answer is student data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import sympy as sp

__all__ = ["AnswerText", "answer_text", "wire_answer_text", "MAX_TEXT", "MAX_LATEX"]

MAX_TEXT = 400          # characters of plain text (and of ``as_latex``) kept
MAX_LATEX = 600         # longer LaTeX is not typeset (the plain text is shown instead)
MAX_ENTRIES = 64        # arrays and lists with more entries are shown as plain text only
_MORE = "…"


@dataclass(frozen=True)
class AnswerText:
    """An answer's LaTeX ("" when it has none) and short plain text ("" when there is no answer)."""

    latex: str = ""
    plain: str = ""

    @property
    def as_latex(self) -> str:
        """The LaTeX, else the plain text as ``\\text{...}`` ("" when there is no answer)."""
        if self.latex or not self.plain:
            return self.latex
        safe = self.plain.replace("\\", "/").replace("{", "(").replace("}", ")")
        return "\\text{" + _clip(safe, MAX_TEXT - len("\\text{}")) + "}"

    def __str__(self) -> str:
        return self.plain


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + _MORE


def _number_latex(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "\\text{" + str(bool(value)) + "}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}" if math.isfinite(float(value)) else "\\text{" + str(float(value)) + "}"
    if isinstance(value, sp.Basic):
        return sp.latex(value)
    raise TypeError


def _rows_latex(rows: list[list[Any]]) -> str:
    """Bracketed rows (``[a, b]`` for a vector): LaTeX without environments."""
    if len(rows) == 1 or all(len(r) == 1 for r in rows):
        return "\\left[" + ", ".join(_number_latex(v) for r in rows for v in r) + "\\right]"
    return "\\left[" + ", ".join("\\left[" + ", ".join(_number_latex(v) for v in r) + "\\right]"
                                 for r in rows) + "\\right]"


def _string_latex(text: str, entry: Mapping[str, Any] | None) -> str:
    """A typed answer ("2*x*cos(x)") as LaTeX, read with the question's symbols; "" when it is not one."""
    if not entry or entry.get("kind") not in ("expression", "antiderivative", "number") or len(text) > MAX_TEXT:
        return ""
    try:
        from grader.core.parsing import parse_expression

        symbols = {n: sp.Symbol(n, **a) for n, a in entry.get("symbols", [])} if entry.get("symbols") else {}
        if not symbols and entry.get("var") is not None:
            var = entry["var"]
            name = var if isinstance(var, str) else None
            if name is None:
                from grader.key.wire import from_wire

                name = getattr(from_wire(var), "name", None)
            if name:
                symbols = {name: sp.Symbol(name, real=True)}
        return sp.latex(parse_expression(text, symbols))
    except Exception:
        return ""


def _texts(value: Any, entry: Mapping[str, Any] | None) -> tuple[str, str]:
    if value is None or value is Ellipsis:
        return "", ""
    if isinstance(value, str):
        return _string_latex(value, entry), value
    if isinstance(value, (bool, np.bool_)):
        return "", str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        plain = value.item() if isinstance(value, np.generic) else value
        return _number_latex(value), repr(plain)
    if isinstance(value, (complex, np.complexfloating)):
        return "", str(complex(value))
    if isinstance(value, np.ndarray):
        plain = np.array2string(value, precision=6, threshold=20, separator=", ")
        if value.ndim in (1, 2) and value.size <= MAX_ENTRIES:
            rows = value.tolist() if value.ndim == 2 else [[v] for v in value.tolist()]
            return _rows_latex(rows), plain
        return "", plain
    if isinstance(value, sp.MatrixBase):
        plain = sp.sstr(value.tolist())
        return (_rows_latex(value.tolist()) if len(value) <= MAX_ENTRIES else ""), plain
    if isinstance(value, sp.Basic):
        return sp.latex(value), sp.sstr(value)
    if isinstance(value, (list, tuple)):
        plain = str(list(value) if isinstance(value, list) else tuple(value))
        if len(value) > MAX_ENTRIES:
            return "", plain
        inner = ", ".join(_texts(v, None)[0] or "\\text{?}" for v in value)
        return (f"\\left[{inner}\\right]" if isinstance(value, list) else f"\\left({inner}\\right)"), plain
    if callable(value):
        return "", f"the function {getattr(value, '__name__', 'function')}"
    return "", f"a value of type {type(value).__name__}"


def answer_text(value: Any, *, entry: Mapping[str, Any] | None = None, limit: int = MAX_TEXT) -> AnswerText:
    """The text of an answer value (a decoded wire answer, or the student's own object in a kernel).

    ``entry``: the question's key entry, to typeset a typed expression with the question's symbols.
    """
    try:
        latex, plain = _texts(value, entry)
    except Exception:
        latex, plain = "", f"a value of type {type(value).__name__}"
    if len(latex) > MAX_LATEX:
        latex = ""
    return AnswerText(latex, _clip(plain, limit))


def wire_answer_text(wire: Any, *, entry: Mapping[str, Any] | None = None, limit: int = MAX_TEXT) -> AnswerText:
    """``answer_text`` of a wire answer: decoded first; a function's answer is the outputs it gave on the
    key's inputs, an unreadable one says so, an unanswered one is empty."""
    from grader.key.entries import is_tag
    from grader.key.wire import from_wire

    if is_tag(wire, "error"):
        if wire.get("unanswered"):
            return AnswerText()
        return AnswerText("", _clip("unreadable: " + str(wire.get("message", "")), limit))
    if is_tag(wire, "calls"):
        results = list(wire.get("results", []))
        shown = [wire_answer_text(r["ok"], limit=24) if isinstance(r, Mapping) and "ok" in r else None
                 for r in results[:3]]
        more = len(results) > 3
        plain = "a function giving " + ", ".join(t.plain if t else "error" for t in shown) + (", " + _MORE if more else "")
        latex = "\\text{function: }" + ", ".join((t.latex or "\\text{?}") if t else "\\text{error}" for t in shown) \
            + (", \\ldots" if more else "")
        return AnswerText(latex if len(latex) <= MAX_LATEX else "", _clip(plain, limit))
    try:
        value = from_wire(wire)
    except Exception:
        try:
            return AnswerText("", _clip(json.dumps(wire, sort_keys=True), limit))
        except (TypeError, ValueError):
            return AnswerText("", "unreadable")
    return answer_text(value, entry=entry, limit=limit)
