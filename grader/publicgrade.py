"""Grading against a public key entry: fingerprints in, the same kind of verdict out.

The public path reads the answer exactly like the grading core (``grader.answers.to_expression`` /
``to_array`` with the question's symbols, so an unreadable answer gets the same sentence), evaluates
it at the entry's sample points, and compares the quantised values with the stored salted hashes
(``grader.fingerprint``).  Diagnoses mirror the core's: named mistakes by their fingerprints; opposite
sign and constant factors by transforming the student's values; an added constant by hashed
differences; the derivative handed in for an antiderivative (and the reverse) by extra fingerprints.
Feedback never contains a reference value: a counterexample names the point and the student's value.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from grader import fingerprint as fpm
from grader.arrays import describe_shape, entry_label, unravel
from grader.wire import WireError, from_wire

__all__ = ["build_public_entry", "grade_public", "FunctionJudge", "GENERIC_FACTORS"]

# integer factors (and their inverses) the core names for numbers: tested by transforming the answer
NUMBER_FACTORS: tuple[float, ...] = tuple(
    f for k in range(2, 101) for f in (float(k), -float(k), 1.0 / k, -1.0 / k)
) + (-1.0,)
GENERIC_FACTORS = NUMBER_FACTORS


def _core_messages() -> Any:
    from grader import mistakes as mk

    return mk


def _verdict() -> Any:
    from grader.verdict import Verdict

    return Verdict


def _symbols_of(entry: Mapping[str, Any]) -> dict[str, sp.Symbol]:
    return {name: sp.Symbol(name, **assumptions) for name, assumptions in entry.get("symbols", [])}


def _assumption_dict(s: sp.Symbol) -> dict[str, bool]:
    from grader.wire import _assumptions

    return _assumptions(s)


# --- normalising answers (the core's readers) ---------------------------------------------------------
def _scalar(value: Any, symbols: Mapping[str, sp.Symbol], kind: str) -> sp.Expr:
    from grader.answers import to_expression

    what = "a number" if kind == "number" else "an expression"
    constants = _constants(symbols) if kind == "antiderivative" else ()
    return to_expression(value, symbols, constants=constants, what=what)


def _constant_names() -> tuple[str, ...]:
    from grader.comparison import CONSTANT_NAMES

    return tuple(CONSTANT_NAMES)


def _constants(symbols: Mapping[str, sp.Symbol]) -> tuple[str, ...]:
    return tuple(c for c in _constant_names() if c not in symbols)


def _array(value: Any, symbols: Mapping[str, sp.Symbol]) -> tuple[tuple[int, ...], list[sp.Expr]]:
    """A reference (or mistake) array as (shape, entries); True/False entries are 1/0, as in the core."""
    from grader.answers import booleans_as_numbers, to_array, to_expression

    shape, raw = to_array(value, symbols)
    raw, _ = booleans_as_numbers(raw)
    return shape, [to_expression(r, symbols, what="an entry") for r in raw]


def _values(expr: sp.Expr, points: Sequence[Mapping[str, float]]) -> list[float | None]:
    if not expr.free_symbols:
        v = fpm.eval_scalar(expr, {})
        return [v] * max(1, len(points))
    return [fpm.eval_scalar(expr, p) for p in points]


def _derivative(expr: sp.Expr, var: str | None) -> sp.Expr:
    syms = [s for s in expr.free_symbols if s.name == var]
    if not syms:
        return sp.Integer(0)
    return sp.diff(expr, syms[0])


# --- building ---------------------------------------------------------------------------------------
def build_public_entry(entry: Mapping[str, Any], assignment: str) -> dict[str, Any]:
    """The public entry of a private one: options, sample points, fingerprints, mistake messages."""
    from grader.answers import canonical_symbols

    qid = entry["qid"]
    salt = fpm.make_salt(assignment, qid)
    rtol, atol = float(entry["rtol"]), float(entry["atol"])
    pub: dict[str, Any] = {
        k: entry.get(k) for k in ("qid", "kind", "rtol", "atol", "domain", "plot", "points", "notebook")
        if k in entry
    }
    pub["salt"] = salt
    kind = entry["kind"]
    if kind == "function":
        pub["inputs"] = entry["inputs"]
        refs = [from_wire(r["ok"]) for r in entry["reference"]["results"]]
        pub["outputs"] = [_output_fp(salt, f"o{i}", out, rtol, atol) for i, out in enumerate(refs)]
        pub["mistakes"] = []
        for m in entry.get("mistakes", []):
            fps = []
            for i, r in enumerate(m["answer"].get("results", [])):
                fps.append(_output_fp(salt, f"m:{m['id']}:o{i}", from_wire(r["ok"]), rtol, atol)
                           if "ok" in r else {"t": "error"})
            pub["mistakes"].append({"id": m["id"], "message": m["message"], "outputs": fps})
        return pub

    reference = from_wire(entry["reference"])
    var = from_wire(entry["var"]) if entry.get("var") is not None else None
    if isinstance(var, str):  # question(..., var="x"): the symbol of that name
        var = sp.Symbol(var)
    free: set[sp.Symbol] = set()
    for item in _flat_items(reference):
        free |= getattr(item, "free_symbols", set())
    if isinstance(var, sp.Symbol) and var.name not in {s.name for s in free}:
        free.add(var)
    symbols = canonical_symbols(free)
    if var is None and len(symbols) == 1:
        var = next(iter(symbols.values()))
    var_name = var.name if isinstance(var, sp.Symbol) else None
    pub["symbols"] = [[n, _assumption_dict(symbols[n])] for n in sorted(symbols)]
    pub["var"] = var_name
    ordered = [symbols[n] for n in sorted(symbols)]
    if kind == "array":
        _, ref_entries = _array(reference, symbols)
        checked = [e for e in ref_entries if e.free_symbols]
    else:
        ref_expr = _scalar(reference, symbols, kind)
        checked = [_derivative(ref_expr, var_name) if kind == "antiderivative" else ref_expr]

    def defined(p: Mapping[str, float]) -> bool:
        return all(fpm.eval_scalar(e, p) is not None for e in checked)

    points = fpm.sample_for(ordered, fpm.N_POINTS, fpm.seed_for(qid), defined if checked else None)
    pub["sample"] = points if symbols else []
    pub["fp"] = _value_fp(salt, "r", reference, kind, symbols, points, var_name, rtol, atol)
    for fp in (pub["fp"].get("elems") or [pub["fp"]]):
        if fp["t"] == "expr" and sum(v is not None for v in fp["v"]) < 3:
            raise ValueError("the reference is real and finite at fewer than 3 sample points, so the public key "
                             "could not check it")
    if kind in ("expression", "antiderivative") and var_name is not None:
        alt_expr = _derivative(ref_expr, var_name)
        if kind == "antiderivative":  # the derivative of the integrand
            alt_expr = _derivative(alt_expr, var_name)
        pub["alt"] = fpm.scalar_fingerprint(salt, "alt", alt_expr, points, rtol, atol)
    pub["mistakes"] = []
    for m in entry.get("mistakes", []):
        wrong = from_wire(m["answer"])
        try:
            fp = _value_fp(salt, f"m:{m['id']}", wrong, kind, symbols, points, var_name, rtol, atol)
        except Exception:
            fp = None
        pub["mistakes"].append({"id": m["id"], "message": m["message"], "fp": fp})
    return pub


def _flat_items(value: Any) -> list[Any]:
    if isinstance(value, sp.MatrixBase):
        return list(value)
    if isinstance(value, np.ndarray):
        return list(value.reshape(-1))
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for v in value:
            out.extend(_flat_items(v))
        return out
    return [value]


def _value_fp(salt: str, path: str, value: Any, kind: str, symbols: Mapping[str, sp.Symbol],
              points: Sequence[Mapping[str, float]], var: str | None, rtol: float, atol: float) -> dict[str, Any]:
    if kind == "array":
        shape, elems = _array(value, symbols)
        numeric = all(not e.free_symbols for e in elems)
        vals = [fpm.eval_scalar(e, {}) for e in elems] if numeric else []
        # one grid for every numeric entry: the file must not tell zero entries from the others
        scale = max((abs(v) for v in vals if v is not None and math.isfinite(v)), default=0.0) or None
        out = {"t": "array", "shape": list(shape),
               "elems": [fpm.scalar_fingerprint(salt, f"{path}[{j}]", e, points, rtol, atol,
                                                scale if numeric else None)
                         for j, e in enumerate(elems)]}
        if numeric:
            # ratios between entries, relative to the first non-zero entry (whole-array factor diagnosis)
            base = next((j for j, v in enumerate(vals) if v is not None and v != 0), None)
            if base is not None:
                ratios = [None if v is None else v / vals[base] for v in vals]
                rscale = max((abs(r) for r in ratios if r is not None and math.isfinite(r)), default=0.0) or None
                out["q"] = [None if r is None else fpm.fingerprint_value(salt, f"{path}/{j}", r, 10 * rtol, 1e-12,
                                                                         rscale)
                            for j, r in enumerate(ratios)]
        return out
    expr = _scalar(value, symbols, kind)
    if kind == "antiderivative":
        expr = _derivative(expr, var)
    return fpm.scalar_fingerprint(salt, path, expr, points, rtol, atol)


def _output_fp(salt: str, path: str, out: Any, rtol: float, atol: float) -> dict[str, Any]:
    """Fingerprint of one numeric output of a function (a number or an array of numbers)."""
    try:
        arr = np.asarray(out, dtype=float)
    except (TypeError, ValueError):
        return {"t": "wire", "h": _wire_hash(salt, path, out)}
    flat = arr.reshape(-1)
    finite = [abs(float(v)) for v in flat if math.isfinite(float(v))]
    scale = (max(finite) or None) if finite and flat.size > 1 else None  # one grid per output array
    elems = []
    for j, v in enumerate(flat):
        v = float(v)
        # a non-finite output (a mistake's overflow, say) is stored as what it is
        elems.append(fpm.fingerprint_value(salt, f"{path}[{j}]", v, rtol, atol, scale)
                     if math.isfinite(v) else [repr(v)])
    return {"t": "out", "shape": list(_norm_shape(arr.shape)), "elems": elems}


def _wire_hash(salt: str, path: str, out: Any) -> str:
    """Exact fingerprint of a non-numeric output (a SymPy expression, a string): its canonical wire form."""
    import hashlib
    import json

    from grader.wire import to_wire

    text = json.dumps(to_wire(out), sort_keys=True)
    return fpm.value_hash(salt, path, int(hashlib.sha256(text.encode()).hexdigest()[:30], 16))


def _norm_shape(shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(n) for n in shape)
    if len(shape) == 2 and 1 in shape:
        return (max(shape),)
    return shape


# --- grading ----------------------------------------------------------------------------------------
PUBLIC_TIMEOUT = 2.0


def grade_public(value: Any, entry: Mapping[str, Any]) -> Any:
    """Mirror of the core's verdict for one answer, decided by fingerprints, within PUBLIC_TIMEOUT s."""
    from grader.budget import Deadline, Timeout, enforced

    try:
        with enforced(Deadline(PUBLIC_TIMEOUT)):
            return _grade_public(value, entry)
    except Timeout:
        return _verdict()(
            False, 0.0,
            "Your answer could not be checked within the time limit: it may be extremely large or complicated. "
            "Simplify it and try again.", None, "timeout", {"reason": "timeout"},
        )


def _grade_public(value: Any, entry: Mapping[str, Any]) -> Any:
    from grader.answers import BOOLEAN_NOTE, InvalidAnswer, boolean_as_number

    Verdict = _verdict()
    symbols = _symbols_of(entry)
    kind = entry["kind"]
    read_boolean = False
    if kind == "number":  # "1 for yes": True is read as 1, as the core does
        value, read_boolean = boolean_as_number(value)
    try:
        if kind == "array":
            return _grade_array(value, entry, symbols)
        expr = _scalar(value, symbols, kind)
    except InvalidAnswer as exc:
        return Verdict.invalid(exc.message, exc.reason)
    if kind == "number":
        verdict = _grade_number(expr, entry)
        return verdict.with_note(BOOLEAN_NOTE) if read_boolean else verdict
    if kind == "antiderivative":
        return _grade_antiderivative(expr, entry)
    return _grade_expression(expr, entry)


def _tols(entry: Mapping[str, Any]) -> tuple[float, float]:
    """(rtol, atol) declared for the question: the public match applies them to the student's values."""
    return float(entry.get("rtol", 1e-6)), float(entry.get("atol", 1e-9))


def _named(entry: Mapping[str, Any], vals: Sequence[float | None], expr: sp.Expr | None = None) -> Any:
    salt = entry["salt"]
    for m in entry.get("mistakes", []):
        fp = m.get("fp")
        if not fp or fp.get("t") == "array":
            continue
        if expr is not None and fp["t"] == "num" and fpm.match_exact(salt, f"m:{m['id']}", fp, expr):
            return m
        # an exact answer that is not the exact mistake may still be within the tolerance of it (the core's rule)
        if fpm.match_scalar(salt, f"m:{m['id']}", fp, vals, *_tols(entry))[0]:
            return m
    return None


def _fmt(v: float | None) -> str:
    if v is None:
        return "undefined"
    if math.isinf(v):
        return "astronomically large" if v > 0 else "astronomically large and negative"
    return f"{v:.6g}"


def _where(point: Mapping[str, float]) -> str:
    return ", ".join(f"{k} = {v:.4g}" for k, v in point.items())


def _ce(entry: Mapping[str, Any], vals: Sequence[float | None], bad: Sequence[int], subject: str) -> tuple[str, dict[str, Any]]:
    points = entry.get("sample") or []
    if not bad or bad[0] >= len(points):
        return "", {}
    i = bad[0]
    v = vals[i] if i < len(vals) else None
    sentence = (f"At {_where(points[i])} {subject} is undefined, but the correct answer is defined there."
                if v is None else f"At {_where(points[i])} {subject} is {_fmt(v)}, which is not the correct value.")
    details = {"counterexample": {"point": dict(points[i]), "answer": v},
               "mismatch_points": [dict(points[j]) for j in bad if j < len(points)]}
    return sentence, details


def _match_or_named(entry: Mapping[str, Any], vals: Sequence[float | None], what: str) -> tuple[Any, str, dict]:
    """The steps every scalar check starts with: a verdict when the values match the reference or a
    named mistake (else None), plus the counterexample sentence and details for what follows."""
    Verdict = _verdict()
    ok, bad = fpm.match_scalar(entry["salt"], "r", entry["fp"], vals, *_tols(entry))
    if ok:
        return Verdict.right("Correct.", "numeric"), "", {}
    ce, details = _ce(entry, vals, bad, what)
    m = _named(entry, vals)
    if m is not None:
        return Verdict.wrong(m["message"], "numeric", m["id"], **details), ce, details
    return None, ce, details


def _grade_expression(expr: sp.Expr, entry: Mapping[str, Any]) -> Any:
    Verdict = _verdict()
    mk = _core_messages()
    salt, fp, points = entry["salt"], entry["fp"], entry.get("sample") or [{}]
    tols = _tols(entry)
    vals = _values(expr, points)
    verdict, ce, details = _match_or_named(entry, vals, "your answer")
    if verdict is not None:
        return verdict
    diag = None
    if fpm.match_relation(salt, "r", fp, vals, "q", *tols) and not _factor_near_one(salt, fp, vals):
        diag = _factor_diagnosis(salt, "r", fp, vals, mk, tols)
    elif fpm.match_relation(salt, "r", fp, vals, "d", *tols):
        diag = ("added_constant", "Your answer differs from the correct answer by a constant: check for a constant "
                "term that should not be there or is missing.")
    var = entry.get("var")
    if diag is None and var:
        dvals = _values(_derivative(expr, var), points)
        if not _all_zero(dvals) and fpm.match_scalar(salt, "r", fp, dvals, *tols)[0]:
            diag = ("antiderivative_instead", "The derivative of your answer is the correct answer: you gave the "
                    "function (or an antiderivative) instead of its derivative.")
        elif (entry.get("alt") and _alt_nonzero(entry["alt"])
              and fpm.match_scalar(salt, "alt", entry["alt"], vals, *tols)[0]):
            diag = ("differentiated_once_more", "Your answer is the derivative of the correct answer: you "
                    "differentiated once too often.")
    if diag is not None:
        text = diag[1] + (" For example, " + ce[0].lower() + ce[1:] if ce else "")
        return Verdict.wrong(text, "numeric", diag[0], **details)
    return Verdict.wrong(("Not quite. " + ce) if ce else "Your answer is not correct.", "numeric", None, **details)


def _all_zero(vals: Sequence[float | None]) -> bool:
    return all(v is not None and v == 0 for v in vals)


def _alt_nonzero(fp: Mapping[str, Any]) -> bool:
    return fp.get("t") != "num" or fp.get("v") is not None


# the core names no factor c with |c - 1| <= 0.1 % (grader.mistakes.constant_ratio): a value just outside
# the tolerance is "not quite", not "off by a factor"
NEAR_ONE = 1e-3


def _factor_near_one(salt: str, fp: Mapping[str, Any], vals: Sequence[float | None]) -> bool:
    """For an answer known to be c * reference: whether |c - 1| <= NEAR_ONE, judged at the base point
    (the answer within 0.1 % of the reference there).  Up to 5000 buckets on each side are tried: on
    the finest grids (rtol 1e-6) that still covers |c - 1| up to 5e-4."""
    base = fp.get("base")
    if fp.get("t") != "expr" or base is None or base >= len(vals) or vals[base] is None or fp["v"][base] is None:
        return False
    s = vals[base]
    return fpm.matches(salt, f"r@{base}", fp["v"][base], s, NEAR_ONE * abs(s), max_reach=5000)


SMALL_FACTORS: tuple[float, ...] = (-1.0,) + tuple(
    f for k in range(2, 11) for f in (float(k), -float(k), 1.0 / k, -1.0 / k)
)


def _factor_diagnosis(salt: str, path: str, fp: Mapping[str, Any], vals: Sequence[float | None],
                      mk: Any, tols: tuple[float, float]) -> tuple[str, str]:
    """Answer = c * reference (known from the hashed ratios).  A small c is named, as the core does;
    any other c stays unnamed, since naming it would give the reference value away."""
    for c in SMALL_FACTORS:
        if fpm.match_scalar(salt, path, fp, fpm.iter_values(vals, lambda s: s / c), *tols)[0]:
            return mk.describe_factor(c)
    return ("constant_factor", "Your answer is a constant multiple of the correct answer: check the constant "
            "factors (and the sign).")


def _grade_antiderivative(expr: sp.Expr, entry: Mapping[str, Any]) -> Any:
    Verdict = _verdict()
    salt, fp, points = entry["salt"], entry["fp"], entry.get("sample") or [{}]
    var = entry.get("var")
    tols = _tols(entry)
    d = _derivative(expr, var)
    vals = _values(d, points)
    verdict, ce, details = _match_or_named(entry, vals, "the derivative of your answer")
    if verdict is not None:
        return verdict
    consts = set(_constant_names()) - {n for n, _ in entry.get("symbols", [])}
    stray = sorted(s.name for s in d.free_symbols if s.name in consts)
    if stray:
        return Verdict.wrong(
            f"The constant {', '.join(stray)} must only be added at the end (F(x) + C); in your answer it "
            "changes the derivative.", "numeric", "constant_misplaced", **details)
    raw = _values(expr, points)
    if entry.get("alt") and fpm.match_scalar(salt, "alt", entry["alt"], raw, *tols)[0]:
        return Verdict.wrong("You differentiated instead of integrating: your answer is the derivative of the "
                             "integrand, not an antiderivative.", "numeric", "differentiated_instead", **details)
    if fpm.match_scalar(salt, "r", fp, raw, *tols)[0]:
        return Verdict.wrong("Your answer is the integrand itself; find a function whose derivative is the "
                             "integrand.", "numeric", "integrand_given", **details)
    if fpm.match_relation(salt, "r", fp, vals, "q", *tols) and not _factor_near_one(salt, fp, vals):
        ident, sentence = _factor_diagnosis(salt, "r", fp, vals, _core_messages(), tols)
        return Verdict.wrong(sentence.replace("the correct answer", "a correct antiderivative"), "numeric", ident,
                             **details)
    text = "The derivative of your answer is not the integrand, so it is not an antiderivative."
    return Verdict.wrong(text + (" " + ce if ce else ""), "numeric", None, **details)


def _grade_number(expr: sp.Expr, entry: Mapping[str, Any]) -> Any:
    Verdict = _verdict()
    mk = _core_messages()
    salt, fp = entry["salt"], entry["fp"]
    v = fpm.eval_scalar(expr, {})
    shown = _fmt(v) if v is not None else sp.sstr(expr)[:60]
    tols = _tols(entry)
    exact = fpm.match_exact(salt, "r", fp, expr)
    # an exact answer that is not the exact reference may still be within the tolerance (the core's rule)
    ok = bool(exact) or fpm.match_scalar(salt, "r", fp, [v], *tols)[0]
    if ok:
        return Verdict.right("Correct.", "exact" if exact else "numeric")
    m = _named(entry, [v], expr)
    if m is not None:
        return Verdict.wrong(m["message"], "numeric", m["id"])
    if v is None or math.isinf(v):
        return Verdict.wrong("Your answer is astronomically large; it is not correct.", "numeric")
    if fpm.match_close(salt, "r", fp, v):
        return Verdict.wrong(f"Your answer {shown} is close but not within the required tolerance (relative "
                             f"{entry['rtol']:g}): compute it more precisely (keep all digits, or exactly).",
                             "numeric", "close")
    if v != 0:
        for c in NUMBER_FACTORS:
            if fpm.match_scalar(salt, "r", fp, [v / c], *tols)[0]:
                ident, sentence = mk.describe_factor(c)
                return Verdict.wrong(f"Your answer {shown} is not correct. {sentence}", "numeric", ident)
    return Verdict.wrong(f"Your answer {shown} is not correct.", "numeric")


def _grade_array(value: Any, entry: Mapping[str, Any], symbols: Mapping[str, sp.Symbol]) -> Any:
    from grader.answers import BOOLEAN_NOTE, InvalidAnswer, booleans_as_numbers, to_array

    Verdict = _verdict()
    shape, raw = to_array(value, symbols)
    raw, read_booleans = booleans_as_numbers(raw)  # a 0/1 vector written with True/False, as in the core
    verdict = _grade_array_entries(tuple(shape), raw, entry, symbols)
    return verdict.with_note(BOOLEAN_NOTE) if read_booleans else verdict


def _grade_array_entries(shape: tuple[int, ...], raw: list[Any], entry: Mapping[str, Any],
                         symbols: Mapping[str, sp.Symbol]) -> Any:
    from grader.answers import InvalidAnswer

    Verdict = _verdict()
    salt, fp, points = entry["salt"], entry["fp"], entry.get("sample") or [{}]
    tols = _tols(entry)
    ref_shape = tuple(fp["shape"])
    if shape == ():
        return Verdict.wrong(f"Your answer is a single value, but {describe_shape(ref_shape)} is expected.",
                             "invalid", None, reason="wrong_shape")
    try:
        elems = _entries(shape, raw, symbols)
    except InvalidAnswer as exc:
        return Verdict.invalid(exc.message, exc.reason)
    vals = [_values(e, points) for e in elems]
    align = _align(tuple(shape), ref_shape)
    if align == "bad":
        return _wrong_shape(tuple(shape), elems, vals, entry)
    notes = " Note: you gave an array of shape {}; it was read as a vector.".format(tuple(shape)) if align == "note" else ""
    wrong = [j for j, v in enumerate(vals) if not _entry_ok(tols, salt, f"r[{j}]", fp["elems"][j], v, elems[j])]
    if not wrong:
        return Verdict.right("Correct." + notes, "numeric")
    details = {"wrong_entries": [list(unravel(j, ref_shape)) for j in wrong], "index_base": 0}
    m = _named_array(entry, tuple(shape), elems, vals)
    if m is not None:
        return Verdict.wrong(m["message"], "numeric", m["id"], **details)
    n = len(vals)
    if len(ref_shape) == 2 and ref_shape[0] == ref_shape[1] and ref_shape[0] > 1:
        r, c = ref_shape
        if all(_entry_ok(tols, salt, f"r[{j * c + i}]", fp["elems"][j * c + i], vals[i * c + j], elems[i * c + j])
               for i in range(r) for j in range(c)):
            return Verdict.wrong("Your matrix is the transpose of the correct one: rows and columns are swapped.",
                                 "numeric", "transposed", **details)
    if len(wrong) == 2:
        i, j = wrong
        if (_entry_ok(tols, salt, f"r[{j}]", fp["elems"][j], vals[i], elems[i])
                and _entry_ok(tols, salt, f"r[{i}]", fp["elems"][i], vals[j], elems[j])):
            li, lj = (entry_label(unravel(k, ref_shape)) for k in (i, j))
            return Verdict.wrong(f"Two entries are swapped: {li} and {lj} (counting from 1) are in each other's place.",
                                 "numeric", "swapped_components", **details)
    if len(wrong) == n and n > 1 and "q" in fp and all(not e.free_symbols for e in elems):
        svals = [v[0] for v in vals]
        base = next((j for j, v in enumerate(svals) if v is not None and v != 0), None)
        # ratios between entries were hashed on a grid for 10*rtol (see _value_fp): matched with that tolerance
        if base is not None and all(
            f is not None and s is not None
            and fpm.matches(salt, f"r/{j}", f, s / svals[base], 1e-12 + 10 * tols[0] * abs(s / svals[base]))
            for j, (f, s) in enumerate(zip(fp["q"], svals))
        ):
            ident, sentence = _array_factor(salt, fp, vals, elems, tols)
            return Verdict.wrong(sentence.replace("correct answer", "correct array"), "numeric", ident, **details)
    labels = [entry_label(unravel(k, ref_shape)) for k in wrong]
    if len(wrong) == 1:
        text = f"{labels[0][0].upper()}{labels[0][1:]} (counting from 1) is wrong; the other entries are right."
        return Verdict.wrong(text, "numeric", "one_wrong_entry", **details)
    shown = ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "")
    return Verdict.wrong(f"{len(wrong)} of {n} entries are wrong (counting from 1): {shown}.", "numeric", None,
                         **details)


def _array_factor(salt: str, fp: Mapping[str, Any], vals: list[list[float | None]],
                  elems: list[sp.Expr], tols: tuple[float, float]) -> tuple[str, str]:
    mk = _core_messages()
    for c in SMALL_FACTORS:
        if all(_entry_ok(tols, salt, f"r[{j}]", fp["elems"][j], fpm.iter_values(v, lambda s: s / c), sp.Float(0.5))
               for j, v in enumerate(vals)):
            return mk.describe_factor(c)
    return ("constant_factor", "Your answer is a constant multiple of the correct answer: check the constant "
            "factors (and the sign).")


def _entry_ok(tols: tuple[float, float], salt: str, path: str, fp: Mapping[str, Any],
              vals: Sequence[float | None], expr: sp.Expr) -> bool:
    """One entry: equal to the exact reference entry, or within the declared tolerance of it (per entry,
    ``atol + rtol*|s_j|``, like the core; on the array's grid, see ``grader.fingerprint``)."""
    if fp["t"] == "num" and fpm.match_exact(salt, path, fp, expr):
        return True
    return fpm.match_scalar(salt, path, fp, vals, *tols)[0]


def _entries(shape: tuple[int, ...], raw: list[Any], symbols: Mapping[str, sp.Symbol]) -> list[sp.Expr]:
    from grader.answers import InvalidAnswer, to_expression

    out = []
    for k, r in enumerate(raw):
        try:
            out.append(to_expression(r, symbols, what="an entry"))
        except InvalidAnswer as exc:
            label = entry_label(unravel(k, shape)) if shape else "your answer"
            msg = exc.message
            if msg.startswith("Your answer"):
                msg = "it" + msg[len("Your answer"):]
            raise InvalidAnswer(f"In {label} (counting from 1): {msg}", exc.reason) from None
    return out


def _align(shape: tuple[int, ...], ref: tuple[int, ...]) -> str | None:
    if shape == ref:
        return None
    flat_e = len(ref) == 1 or (len(ref) == 2 and 1 in ref)
    flat_a = len(shape) == 1 or (len(shape) == 2 and 1 in shape)
    if flat_e and flat_a and int(np.prod(ref)) == int(np.prod(shape)):
        if len(ref) == 2 and len(shape) == 2:
            return "bad"
        return "note"
    return "bad"


def _named_array(entry: Mapping[str, Any], shape: tuple[int, ...], elems: list[sp.Expr],
                 vals: list[list[float | None]]) -> Any:
    salt, tols = entry["salt"], _tols(entry)
    for m in entry.get("mistakes", []):
        mf = m.get("fp")
        if not mf or mf.get("t") != "array":
            continue
        mshape = tuple(mf["shape"])
        if shape != mshape and not (int(np.prod(shape)) == int(np.prod(mshape)) and (len(shape) == 1 or len(mshape) == 1)):
            continue
        if len(mf["elems"]) == len(vals) and all(
            _entry_ok(tols, salt, f"m:{m['id']}[{j}]", f, v, e) for j, (f, v, e) in enumerate(zip(mf["elems"], vals, elems))
        ):
            return m
    return None


def _wrong_shape(shape: tuple[int, ...], elems: list[sp.Expr], vals: list[list[float | None]],
                 entry: Mapping[str, Any]) -> Any:
    Verdict = _verdict()
    salt, fp, tols = entry["salt"], entry["fp"], _tols(entry)
    ref_shape = tuple(fp["shape"])
    details = {"reason": "wrong_shape", "shape": list(shape), "expected_shape": list(ref_shape)}
    n_e, n_a = len(fp["elems"]), len(elems)
    m = _named_array(entry, shape, elems, vals)
    if m is not None:
        return Verdict.wrong(m["message"], "numeric", m["id"], **details)
    if len(shape) == 2 and len(ref_shape) == 2 and shape == ref_shape[::-1]:
        r, c = ref_shape
        if all(_entry_ok(tols, salt, f"r[{i * c + j}]", fp["elems"][i * c + j], vals[j * r + i], elems[j * r + i])
               for i in range(r) for j in range(c)):
            return Verdict.wrong(
                f"Your answer is the transpose of the correct one: it has shape {shape}, the correct one {ref_shape}.",
                "numeric", "transposed", **details)
    vec_a = len(shape) == 1 or 1 in shape
    vec_e = len(ref_shape) == 1 or 1 in ref_shape
    if n_a == n_e - 1 and vec_a and vec_e:
        for skip in range(n_e):
            rest = [j for j in range(n_e) if j != skip]
            if all(_entry_ok(tols, salt, f"r[{j}]", fp["elems"][j], v, e) for j, v, e in zip(rest, vals, elems)):
                return Verdict.wrong(
                    f"A component is missing: your answer has {n_a} entries but {n_e} are expected "
                    f"({entry_label((skip,))}, counting from 1, is missing).", "numeric", "missing_component",
                    **details)
    if n_a < n_e and vec_a:
        return Verdict.wrong(
            f"Your answer has {n_a} entries, but {describe_shape(ref_shape)} is expected: a component is missing.",
            "invalid", "missing_component", **details)
    return Verdict.wrong(
        f"Your answer has shape {shape} ({describe_shape(shape)}), but {describe_shape(ref_shape)} "
        f"(shape {ref_shape}) is expected.", "invalid", None, **details)


# --- function questions --------------------------------------------------------------------------------
class FunctionJudge:
    """Compares a student's function outputs with the public fingerprints of the reference outputs."""

    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.entry = entry
        self.salt = entry["salt"]

    def _match(self, path: str, fp: Mapping[str, Any], out: Any) -> str | None:
        """None when ``out`` matches ``fp``; else a short reason ('shape' or 'value')."""
        if fp.get("t") == "error":
            return "value"
        if fp.get("t") in ("wire", "opaque"):
            try:
                return None if fp.get("h") == _wire_hash(self.salt, path, out) else "value"
            except Exception:
                return "value"
        try:
            arr = np.asarray(out, dtype=float)
        except (TypeError, ValueError):
            return "type"
        if isinstance(out, (bool, np.bool_)) or out is None:
            return "type"
        if _norm_shape(arr.shape) != tuple(fp["shape"]):
            return "shape"
        for j, (f, v) in enumerate(zip(fp["elems"], arr.reshape(-1))):
            v = float(v)
            if len(f) == 1:
                if repr(v) != f[0]:
                    return "value"
                continue
            # per output entry, the private rule atol + rtol*|v| (on the output's grid, see grader.fingerprint)
            if not fpm.matches(self.salt, f"{path}[{j}]", f, v, fpm.tolerance(v, *_tols(self.entry))):
                return "value"
        return None

    def problem(self, i: int, out: Any) -> str | None:
        from grader.key import _describe_args, _shape_text, _short

        fp = self.entry["outputs"][i]
        where = _describe_args(self.entry["inputs"][i])
        if out is None:
            return f"On the input {where} your function returned None."
        why = self._match(f"o{i}", fp, out)
        if why is None:
            return None
        if why == "type":
            return f"On the input {where} your function returned {_shape_text(out)}, not a number or an array."
        if why == "shape":
            shape = tuple(fp["shape"])
            want = "a single number" if shape == () else f"an array of shape {shape}"
            return f"On the input {where} your function returned {_shape_text(out)}, but {want} is expected."
        return f"On the input {where} your function returned {_short(out)}, which is not right."

    def is_mistake(self, mistake: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> bool:
        outs = mistake.get("outputs", [])
        if len(outs) != len(results):
            return False
        for i, (r, f) in enumerate(zip(results, outs)):
            if ("ok" in r) != (f.get("t") != "error"):
                return False
            if "ok" in r:
                try:
                    out = from_wire(r["ok"])
                except WireError:
                    return False
                if self._match(f"m:{mistake['id']}:o{i}", f, out) is not None:
                    return False
        return True
