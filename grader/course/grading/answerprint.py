"""Answer fingerprints and display text for the answer log (``grader.course.grading.answerlog``).

Fingerprints (``answer_fingerprint``), by kind of question:

* expression / number / array: the answer is read like the grading core reads it, evaluated at
  points derived deterministically from the key entry (its symbols and qid, the core's seeded
  sampler, kept where the reference is defined), each value quantised on a grid just below the
  entry's tolerance, and the resulting tokens hashed.  An antiderivative is fingerprinted by its
  derivative, so ``F`` and ``F + C`` agree.  Arrays add their shape.
* function: the outputs on the grader's inputs, quantised the same way; a failing call is a token.
* fixed fingerprints: ``"unanswered"`` (no answer, ``...``, ``None``) and ``"unreadable"`` (the
  answer could not be serialised or decoded).  An answer of the wrong type or with stray symbols
  is fingerprinted by its exact wire form (``"raw:..."``): still grouped when repeated verbatim.

Two values closer than the tolerance can still fall on both sides of a grid line and so get two
fingerprints; that only splits a group of near-equal answers, never merges different ones
(values further apart than one grid step always differ).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Mapping, Sequence

import sympy as sp

from grader.key.answertext import MAX_TEXT, wire_answer_text

__all__ = ["answer_fingerprint", "answer_text", "calls_text", "UNANSWERED", "UNREADABLE", "N_POINTS", "MAX_TEXT",
           "FUNCTION_PREFIX"]

UNANSWERED = "unanswered"
UNREADABLE = "unreadable"
N_POINTS = 8            # sample points per fingerprint (the core uses more to *decide*; 8 tell answers apart)


# --- fingerprints ----------------------------------------------------------------------------------
def _digest(tokens: Sequence[Any]) -> str:
    text = json.dumps(list(tokens), separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _raw(wire_answer: Any) -> str:
    """Exact fingerprint of a wire form (wrong types, stray symbols: grouped only when identical)."""
    try:
        return "raw:" + _digest([json.dumps(wire_answer, sort_keys=True, default=str)])
    except (TypeError, ValueError):
        return UNREADABLE


def _quantise(v: float, rtol: float, atol: float) -> str:
    """A real value as a token on a grid just below its tolerance (the public key's grid rule)."""
    if math.isnan(v):
        return "U"
    if math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    tol = atol + rtol * abs(v)
    if not math.isfinite(tol) or tol <= 0:
        tol = 1e-12
    e = math.floor(math.log10(tol))
    q = v / 10.0 ** e if e > -300 else v * 10.0 ** -e
    if not math.isfinite(q):
        return f"{v:.6e}"
    return f"{int(round(q))}e{e}"


def _value_token(v: Any, rtol: float, atol: float) -> str:
    """Token of one value from the core's evaluation (complex, mpmath number, UNDEFINED or HUGE)."""
    from grader.core import evaluation

    if v is evaluation.UNDEFINED or v is None:
        return "U"
    if v is evaluation.HUGE:
        return "H"
    try:
        z = complex(v)
    except (TypeError, ValueError, OverflowError):
        return "X" + str(v)[:40]
    if not (math.isfinite(z.real) and math.isfinite(z.imag)):
        try:
            import mpmath

            return "B" + mpmath.nstr(v, 8)
        except Exception:
            return "H"
    re_tok = _quantise(z.real, rtol, atol)
    if abs(z.imag) <= 1e-12 * max(1.0, abs(z.real)):
        return re_tok
    return re_tok + "|i" + _quantise(z.imag, rtol, atol)


_POINTS_CACHE: dict[str, tuple[dict[str, sp.Symbol], list[dict[sp.Symbol, float]], str | None]] = {}


def _entry_frame(entry: Mapping[str, Any]) -> tuple[dict[str, sp.Symbol], list[dict[sp.Symbol, float]], str | None]:
    """(canonical symbols by name, sample points, variable name) of a key entry, deterministic.

    Private entries give their symbols through the reference (and ``var``); public ones list them
    and carry their sample points.  Points come from the core's seeded sampler, seeded by the qid,
    kept where the reference is defined (topped up from narrow-range points, as the public key does).
    """
    cache_key = json.dumps([entry.get("qid"), entry.get("kind"), entry.get("reference"), entry.get("var"),
                            entry.get("symbols"), entry.get("sample")], sort_keys=True, default=str)
    hit = _POINTS_CACHE.get(cache_key)
    if hit is not None:
        return hit
    from grader.key import fingerprint as fpm
    from grader.key.publicvalues import derivative_of, read_array, read_scalar, reference_frame

    kind = entry.get("kind", "expression")
    var = entry.get("var")
    if "symbols" in entry and "reference" not in entry:  # a public entry
        symbols = {n: sp.Symbol(n, **a) for n, a in entry["symbols"]}
        var_name = var if isinstance(var, str) else None
        named = [{n: float(x) for n, x in p.items()} for p in entry.get("sample") or []]
    else:
        reference, symbols, var_name = reference_frame(entry)
        ordered = [symbols[n] for n in sorted(symbols)]
        if kind == "array":
            checked = [e for e in read_array(reference, symbols)[1] if e.free_symbols]
        else:
            ref = read_scalar(reference, symbols, kind)
            checked = [derivative_of(ref, var_name) if kind == "antiderivative" else ref]
            checked = [c for c in checked if c.free_symbols]

        def defined(p: Mapping[str, float]) -> bool:
            return all(fpm.eval_scalar(c, p) is not None for c in checked)

        named = (fpm.sample_for(ordered, N_POINTS, fpm.seed_for(str(entry.get("qid", ""))),
                                defined if checked else None) if symbols else [])
    points = [{symbols[n]: x for n, x in p.items() if n in symbols} for p in named[:N_POINTS]] or [{}]
    frame = (symbols, points, var_name)
    if len(_POINTS_CACHE) > 512:
        _POINTS_CACHE.clear()
    _POINTS_CACHE[cache_key] = frame
    return frame


def _expr_tokens(expr: sp.Expr, points: list[dict[sp.Symbol, float]], rtol: float, atol: float) -> list[str]:
    from grader.core.evaluation import evaluate_many

    if not expr.free_symbols:
        values = evaluate_many(expr, [{}])
        token = _value_token(values[0] if values else None, rtol, atol)
        return [token] * len(points)
    known = set(points[0]) if points else set()
    if not expr.free_symbols <= known:
        raise LookupError("symbols outside the question")
    return [_value_token(v, rtol, atol) for v in evaluate_many(expr, points)]


def _function_fingerprint(wire_answer: Any, rtol: float, atol: float) -> str:
    import numpy as np

    from grader.key.wire import WireError, from_wire

    tokens: list[Any] = ["function"]
    for r in wire_answer.get("results", []):
        if not isinstance(r, Mapping) or "ok" not in r:
            tokens.append("E:timeout" if isinstance(r, Mapping) and r.get("timeout") else "E")
            continue
        try:
            out = from_wire(r["ok"])
        except WireError:
            tokens.append("E:unreadable")
            continue
        try:
            arr = np.asarray(out, dtype=float)
        except (TypeError, ValueError):
            tokens.append(_raw(r["ok"]))
            continue
        shape = [int(n) for n in arr.shape]
        if len(shape) == 2 and 1 in shape:  # a column or row vector reads as a vector, as in grading
            shape = [max(shape)]
        tokens.append([shape, [_quantise(float(v), rtol, atol) for v in arr.reshape(-1)]])
    return "fn:" + _digest(tokens)


def answer_fingerprint(wire_answer: Any, entry: Mapping[str, Any]) -> str:
    """A canonical fingerprint of a serialised answer for one key entry; never raises.

    Equal answers written differently get the same fingerprint (see the module docstring).
    """
    from grader.key.entries import is_tag

    if is_tag(wire_answer, "error"):
        return UNANSWERED if wire_answer.get("unanswered") else UNREADABLE
    kind = entry.get("kind", "expression")
    rtol, atol = float(entry.get("rtol", 1e-6)), float(entry.get("atol", 1e-9))
    try:
        if is_tag(wire_answer, "calls"):
            return _function_fingerprint(wire_answer, rtol, atol)
        from grader.key.wire import WireError, from_wire

        try:
            value = from_wire(wire_answer)
        except WireError:
            return UNREADABLE
        if value is None or value is Ellipsis:
            return UNANSWERED
        if kind == "function":
            return _raw(wire_answer)
        return _value_fingerprint(value, wire_answer, entry, kind, rtol, atol)
    except Exception:  # never raise on student input: identical wire forms still group
        return _raw(wire_answer)


def _value_fingerprint(value: Any, wire_answer: Any, entry: Mapping[str, Any], kind: str,
                       rtol: float, atol: float) -> str:
    from grader.core.parsing import InvalidAnswer
    from grader.key.publicvalues import derivative_of, read_scalar

    try:
        symbols, points, var_name = _entry_frame(entry)
    except Exception:
        return _raw(wire_answer)
    try:
        if kind == "array":
            from grader.core.answers import booleans_as_numbers, to_array, to_expression

            shape, raw = to_array(value, symbols)
            raw, _ = booleans_as_numbers(raw)
            shape = tuple(shape)
            if len(shape) == 2 and 1 in shape:
                shape = (max(shape),)
            tokens: list[Any] = ["array", list(shape)]
            for item in raw:
                tokens.append(_expr_tokens(to_expression(item, symbols, what="an entry"), points, rtol, atol))
            return "arr:" + _digest(tokens)
        expr = read_scalar(value, symbols, kind)
        if kind == "antiderivative":  # F and F + C are the same answer
            expr = derivative_of(expr, var_name)
        return "val:" + _digest([_expr_tokens(expr, points, rtol, atol)])
    except InvalidAnswer as exc:
        return UNANSWERED if exc.reason == "unanswered" else _raw(wire_answer)
    except LookupError:
        return _raw(wire_answer)


# --- display text --------------------------------------------------------------------------------
def answer_text(wire_answer: Any) -> str:
    """The answer for display in the answer log and the report: a function's outputs as data
    (``calls_text``), anything else as ``grader.key.answertext``'s LaTeX (or its short text as
    ``\\text{...}``); "" when unanswered; never raises."""
    from grader.key.entries import is_tag

    if is_tag(wire_answer, "calls"):
        return calls_text(wire_answer)
    return wire_answer_text(wire_answer).as_latex


FUNCTION_PREFIX = "fn:"   # answer_text of a function answer: this prefix, then JSON (see calls_text)
FN_INPUTS = 4            # outputs kept for the first inputs only
FN_ENTRIES = 64          # entries kept per output


def calls_text(wire_answer: Mapping[str, Any]) -> str:
    """A function answer's outputs, for the report to draw against the key's: ``fn:`` then JSON
    ``{"outputs": [{"shape": [...], "values": [...]} | {"error": true} | {"text": "..."}]}``.

    Why data and not LaTeX: a list of output values typeset as math is unreadable; the report plots
    or tabulates them beside the correct outputs.  Values are rounded to 6 significant digits; the
    first ``FN_INPUTS`` outputs of at most ``FN_ENTRIES`` entries each are kept, so the text stays short.
    """
    import numpy as np

    from grader.key.wire import from_wire

    outputs: list[dict[str, Any]] = []
    for r in list(wire_answer.get("results", []))[:FN_INPUTS]:
        if not isinstance(r, Mapping) or "ok" not in r:
            outputs.append({"error": True})
            continue
        try:
            arr = np.asarray(from_wire(r["ok"]), dtype=float)
            values = [float(f"{v:.6g}") if math.isfinite(v) else None for v in arr.reshape(-1)[:FN_ENTRIES].tolist()]
            outputs.append({"shape": [int(n) for n in arr.shape], "values": values})
        except Exception:  # not numbers: a short text of what came back
            try:
                outputs.append({"text": str(from_wire(r["ok"]))[:80]})  # plain text, not LaTeX
            except Exception:
                outputs.append({"text": "?"})
    return FUNCTION_PREFIX + json.dumps({"outputs": outputs}, separators=(",", ":"), allow_nan=False)


