"""Grading against a public key entry: fingerprints in, the same kind of verdict out.

The public path reads the answer exactly like the grading core (``grader.core.answers.to_expression`` /
``to_array`` with the question's symbols, so an unreadable answer gets the same sentence), evaluates
it at the entry's sample points, and compares the quantised values with the stored salted hashes
(``grader.key.fingerprint``).  Diagnoses mirror the core's: named mistakes by their fingerprints; opposite
sign and constant factors by transforming the student's values; an added constant by hashed
differences; the derivative handed in for an antiderivative (and the reverse) by extra fingerprints.
A counterexample names a point, the student's value and the correct value there, at one of the few
feedback points whose reference values the entry holds (``grader.key.feedbackpoints``); never at a
fingerprint point, whose reference value stays hashed.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from grader.key import fingerprint as fpm
from grader.core.arrays import describe_shape, entry_label, partial_credit, unravel
from grader.key.wire import WireError, from_wire
from grader.key.feedbackpoints import feedback_counterexample, feedback_marks
from grader.key.publicvalues import (
    constant_names, core_messages, derivative_of, norm_shape, plain_array, read_scalar, symbols_of, values_at, verdict_class, wire_hash,
)

__all__ = ["grade_public", "FunctionJudge", "GENERIC_FACTORS"]

# integer factors (and their inverses) the core names for numbers: tested by transforming the answer
NUMBER_FACTORS: tuple[float, ...] = tuple(
    f for k in range(2, 101) for f in (float(k), -float(k), 1.0 / k, -1.0 / k)
) + (-1.0,)
GENERIC_FACTORS = NUMBER_FACTORS

# --- grading ----------------------------------------------------------------------------------------
PUBLIC_TIMEOUT = 2.0


def grade_public(value: Any, entry: Mapping[str, Any]) -> Any:
    """Mirror of the core's verdict for one answer, decided by fingerprints, within PUBLIC_TIMEOUT s."""
    from grader.core.budget import Deadline, Timeout, enforced

    try:
        with enforced(Deadline(PUBLIC_TIMEOUT)):
            return _grade_public(value, entry)
    except Timeout:
        return verdict_class()(
            False, 0.0,
            "Your answer could not be checked within the time limit: it may be extremely large or complicated. "
            "Simplify it and try again.", None, "timeout", {"reason": "timeout"},
        )


def _grade_public(value: Any, entry: Mapping[str, Any]) -> Any:
    symbols = symbols_of(entry)
    kind = entry["kind"]
    single = False
    if kind != "array":  # a 1 x 1 matrix where a scalar is asked: its entry, as the core reads it
        from grader.core.shapes import DEFAULT_LAYOUT, single_entry

        value, single = single_entry(value, entry.get("layout") or DEFAULT_LAYOUT)
    if single:
        from grader.core.shapes import SINGLE_NOTE

        verdict = _grade_public_value(value, entry, symbols, kind)
        return verdict.with_note(SINGLE_NOTE) if verdict.method != "invalid" else verdict
    return _grade_public_value(value, entry, symbols, kind)


def _grade_public_value(value: Any, entry: Mapping[str, Any], symbols: Mapping[str, sp.Symbol], kind: str) -> Any:
    from grader.core.answers import BOOLEAN_NOTE, InvalidAnswer, boolean_as_number

    Verdict = verdict_class()
    read_boolean = False
    if kind == "number":  # "1 for yes": True is read as 1, as the core does
        value, read_boolean = boolean_as_number(value)
    try:
        if kind == "array":
            return _grade_array(value, entry, symbols)
        expr = read_scalar(value, symbols, kind)
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


def _ce(entry: Mapping[str, Any], vals: Sequence[float | None], bad: Sequence[int], subject: str,
        expr: sp.Expr | None = None, noun: str = "the correct value") -> tuple[str, dict[str, Any]]:
    """The counterexample sentence and details: at a feedback point with the correct value when the
    answer differs there (``expr``), else at the first fingerprint point it misses, without it."""
    points = entry.get("sample") or []
    if not bad or bad[0] >= len(points):
        return "", {}
    details: dict[str, Any] = {"mismatch_points": [dict(points[j]) for j in bad if j < len(points)]}
    found = feedback_counterexample(entry, expr) if expr is not None else None
    if found is not None:
        details["counterexample"] = found.details
        details["feedback_points"] = feedback_marks(entry)
        return found.sentence(subject, noun), details
    i = bad[0]
    v = vals[i] if i < len(vals) else None
    sentence = (f"At {_where(points[i])} {subject} is undefined, but the correct answer is defined there."
                if v is None else f"At {_where(points[i])} {subject} is {_fmt(v)}, which is not the correct value.")
    details["counterexample"] = {"point": dict(points[i]), "answer": v}
    return sentence, details


# Exact constants a tolerance cannot tell from the exact value: the private key decides such an answer
# by exact arithmetic (``grader.core.exactness``), which the fingerprints cannot do.
EXACT_STAKE_DIGITS = 1000      # a rational with a numerator or denominator beyond this (314159/100000)
EXACT_STAKE_MAGNITUDE = 1e-5   # a constant term this small next to 1 (exp(-20), 10**-7)
EXACT_AT_GRADING = (
    "Your answer agrees with the correct one at every point checked. It contains exact constants that a "
    "tolerance cannot judge (such as {what}), so the exact check at grading decides: make sure no "
    "constant is a rounded value."
)


def exact_stake(expr: sp.Expr) -> str | None:
    """The constant of an exact answer whose exactness only the private key can judge, or None.

    Why: within the tolerance, ``314159/100000*x`` and ``pi*x`` share every fingerprint, but the
    private key, holding the exact reference, rejects the first as an exact slip. The public key
    cannot know the reference exactly, so for answers where an exact slip is possible at all (long
    rationals, tiny constant terms) it says that grading decides instead of promising "Correct.".
    """
    if not isinstance(expr, sp.Basic) or not expr.free_symbols or expr.has(sp.Float):
        return None
    for atom in expr.atoms(sp.Rational):
        if max(abs(atom.p), abs(atom.q)) > EXACT_STAKE_DIGITS:
            return sp.sstr(atom)
    for term in sp.Add.make_args(sp.expand_mul(expr)) if expr.is_Add else ():
        coeff = term.as_independent(*expr.free_symbols)[0]
        if coeff.is_number and coeff != 0:
            try:
                if abs(complex(sp.N(coeff, 15))) < EXACT_STAKE_MAGNITUDE:
                    return sp.sstr(coeff)
            except (TypeError, ValueError):
                continue
    return None


def _right(exprs: Sequence[Any], notes: str = "") -> Any:
    """"Correct." -- or, for an exact answer whose exactness only grading can judge, said so."""
    Verdict = verdict_class()
    for e in exprs:
        what = exact_stake(e)
        if what is not None:
            return Verdict.right(EXACT_AT_GRADING.format(what=what) + notes, "numeric", exact_check="at grading")
    return Verdict.right("Correct." + notes, "numeric")


def _match_or_named(entry: Mapping[str, Any], vals: Sequence[float | None], what: str,
                    expr: sp.Expr | None = None, noun: str = "the correct value") -> tuple[Any, str, dict]:
    """The steps every scalar check starts with: a verdict when the values match the reference or a
    named mistake (else None), plus the counterexample sentence and details for what follows."""
    Verdict = verdict_class()
    ok, bad = fpm.match_scalar(entry["salt"], "r", entry["fp"], vals, *_tols(entry))
    if ok:
        return _right([expr] if expr is not None else []), "", {}
    ce, details = _ce(entry, vals, bad, what, expr, noun)
    m = _named(entry, vals)
    if m is not None:
        return Verdict.wrong(m["message"], "numeric", m["id"], **details), ce, details
    return None, ce, details


def _grade_expression(expr: sp.Expr, entry: Mapping[str, Any]) -> Any:
    Verdict = verdict_class()
    mk = core_messages()
    salt, fp, points = entry["salt"], entry["fp"], entry.get("sample") or [{}]
    tols = _tols(entry)
    vals = values_at(expr, points)
    verdict, ce, details = _match_or_named(entry, vals, "your answer", expr)
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
        dvals = values_at(derivative_of(expr, var), points)
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


# the core names no factor c with |c - 1| <= 0.1 % (grader.core.mistakes.constant_ratio): a value just outside
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
    Verdict = verdict_class()
    salt, fp, points = entry["salt"], entry["fp"], entry.get("sample") or [{}]
    var = entry.get("var")
    tols = _tols(entry)
    d = derivative_of(expr, var)
    vals = values_at(d, points)
    verdict, ce, details = _match_or_named(entry, vals, "the derivative of your answer", d, "the integrand")
    if verdict is not None:
        return verdict
    consts = set(constant_names()) - {n for n, _ in entry.get("symbols", [])}
    stray = sorted(s.name for s in d.free_symbols if s.name in consts)
    if stray:
        return Verdict.wrong(
            f"The constant {', '.join(stray)} must only be added at the end (F(x) + C); in your answer it "
            "changes the derivative.", "numeric", "constant_misplaced", **details)
    raw = values_at(expr, points)
    if entry.get("alt") and fpm.match_scalar(salt, "alt", entry["alt"], raw, *tols)[0]:
        return Verdict.wrong("You differentiated instead of integrating: your answer is the derivative of the "
                             "integrand, not an antiderivative.", "numeric", "differentiated_instead", **details)
    if fpm.match_scalar(salt, "r", fp, raw, *tols)[0]:
        return Verdict.wrong("Your answer is the integrand itself; find a function whose derivative is the "
                             "integrand.", "numeric", "integrand_given", **details)
    if fpm.match_relation(salt, "r", fp, vals, "q", *tols) and not _factor_near_one(salt, fp, vals):
        ident, sentence = _factor_diagnosis(salt, "r", fp, vals, core_messages(), tols)
        return Verdict.wrong(sentence.replace("the correct answer", "a correct antiderivative"), "numeric", ident,
                             **details)
    text = "The derivative of your answer is not the integrand, so it is not an antiderivative."
    return Verdict.wrong(text + (" " + ce if ce else ""), "numeric", None, **details)


def _grade_number(expr: sp.Expr, entry: Mapping[str, Any]) -> Any:
    Verdict = verdict_class()
    mk = core_messages()
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
    from grader.core.answers import BOOLEAN_NOTE, booleans_as_numbers, to_array

    shape, raw = to_array(value, symbols)
    raw, read_booleans = booleans_as_numbers(raw)  # a 0/1 vector written with True/False, as in the core
    verdict = _grade_array_entries(tuple(shape), raw, entry, symbols)
    wrong = verdict.details.get("wrong_entries")
    if entry.get("partial") and wrong is not None and "reason" not in verdict.details:
        n = len(entry["fp"]["elems"])
        verdict = partial_credit(verdict, n - len(wrong), n)
    return verdict.with_note(BOOLEAN_NOTE) if read_booleans else verdict


def _grade_array_entries(shape: tuple[int, ...], raw: list[Any], entry: Mapping[str, Any],
                         symbols: Mapping[str, sp.Symbol]) -> Any:
    from grader.core.answers import InvalidAnswer

    Verdict = verdict_class()
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
    vals = [values_at(e, points) for e in elems]
    align = _align(tuple(shape), ref_shape, entry.get("layout"))
    if align == "bad":
        return _wrong_shape(tuple(shape), elems, vals, entry)
    notes = " Note: you gave an array of shape {}; it was read as a vector.".format(tuple(shape)) if align == "note" else ""
    wrong = [j for j, v in enumerate(vals) if not _entry_ok(tols, salt, f"r[{j}]", fp["elems"][j], v, elems[j])]
    if not wrong:
        return _right(elems, notes)
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
        # ratios between entries were hashed on a grid for 10*rtol (see value_fp): matched with that tolerance
        if base is not None and all(
            f is not None and s is not None
            and fpm.matches(salt, f"r/{j}", f, s / svals[base], 1e-12 + 10 * tols[0] * abs(s / svals[base]))
            for j, (f, s) in enumerate(zip(fp["q"], svals))
        ):
            ident, sentence = _array_factor(salt, fp, vals, elems, tols)
            return Verdict.wrong(sentence.replace("correct answer", "correct array"), "numeric", ident, **details)
    labels = [entry_label(unravel(k, ref_shape)) for k in wrong]
    found = feedback_counterexample(entry, elems[wrong[0]], wrong[0])
    if found is not None:  # the first wrong entry at a feedback point, with its correct value (as the core)
        details["counterexample"] = found.details
    if len(wrong) == 1:
        text = f"{labels[0][0].upper()}{labels[0][1:]} (counting from 1) is wrong; the other entries are right."
        if found is not None:
            text += f" At {found.where} it is {found.answer} but should be {found.expected}."
        return Verdict.wrong(text, "numeric", "one_wrong_entry", **details)
    shown = ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "")
    return Verdict.wrong(f"{len(wrong)} of {n} entries are wrong (counting from 1): {shown}.", "numeric", None,
                         **details)


def _array_factor(salt: str, fp: Mapping[str, Any], vals: list[list[float | None]],
                  elems: list[sp.Expr], tols: tuple[float, float]) -> tuple[str, str]:
    mk = core_messages()
    for c in SMALL_FACTORS:
        if all(_entry_ok(tols, salt, f"r[{j}]", fp["elems"][j], fpm.iter_values(v, lambda s: s / c), sp.Float(0.5))
               for j, v in enumerate(vals)):
            return mk.describe_factor(c)
    return ("constant_factor", "Your answer is a constant multiple of the correct answer: check the constant "
            "factors (and the sign).")


def _entry_ok(tols: tuple[float, float], salt: str, path: str, fp: Mapping[str, Any],
              vals: Sequence[float | None], expr: sp.Expr) -> bool:
    """One entry: equal to the exact reference entry, or within the declared tolerance of it (per entry,
    ``atol + rtol*|s_j|``, like the core; on the array's grid, see ``grader.key.fingerprint``)."""
    if fp["t"] == "num" and fpm.match_exact(salt, path, fp, expr):
        return True
    return fpm.match_scalar(salt, path, fp, vals, *tols)[0]


def _entries(shape: tuple[int, ...], raw: list[Any], symbols: Mapping[str, sp.Symbol]) -> list[sp.Expr]:
    from grader.core.arrays import read_entries  # read exactly as the core reads them

    return read_entries(shape, raw, symbols)


def _align(shape: tuple[int, ...], ref: tuple[int, ...], layout: str | None = None) -> str | None:
    """The core's shape policy (``grader.core.shapes.align``) under the question's layout."""
    from grader.core.shapes import DEFAULT_LAYOUT, align

    return align(shape, ref, layout or DEFAULT_LAYOUT)


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
    Verdict = verdict_class()
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
            from grader.core.shapes import CONVENTION

            rule = f" ({CONVENTION})" if 1 in shape and (entry.get("layout") or "convention") == "convention" else ""
            return Verdict.wrong(
                f"Your answer is the transpose of the correct one: it has shape {shape}, the correct one "
                f"{ref_shape}{rule}.", "numeric", "transposed", **details)
    vec_a = len(shape) == 1 or 1 in shape
    vec_e = len(ref_shape) == 1 or 1 in ref_shape
    if n_a == n_e - 1 and vec_a and vec_e:
        for skip in range(n_e):
            rest = [j for j in range(n_e) if j != skip]
            if all(_entry_ok(tols, salt, f"r[{j}]", fp["elems"][j], v, e) for j, v, e in zip(rest, vals, elems)):
                return Verdict.wrong(
                    f"A component is missing: your answer has {n_a} {'entry' if n_a == 1 else 'entries'} but {n_e} are expected "
                    f"({entry_label((skip,))}, counting from 1, is missing).", "numeric", "missing_component",
                    **details)
    if n_a < n_e and vec_a:
        return Verdict.wrong(
            f"Your answer has {n_a} {'entry' if n_a == 1 else 'entries'}, but {describe_shape(ref_shape)} is expected: "
            "a component is missing.",
            "invalid", "missing_component", **details)
    from grader.core.shapes import DEFAULT_LAYOUT, mismatch_sentence

    return Verdict.wrong(mismatch_sentence(shape, ref_shape, entry.get("layout") or DEFAULT_LAYOUT), "invalid",
                         None, **details)


# --- function questions --------------------------------------------------------------------------------
class FunctionJudge:
    """Compares a student's function outputs with the public fingerprints of the reference outputs."""

    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.entry = entry
        self.salt = entry["salt"]
        # a row or column result checked against a fingerprint without the reference's own shape: the
        # orientation is left to grading (said in the verdict), never promised
        self.orientation_deferred = False

    def _match(self, path: str, fp: Mapping[str, Any], out: Any) -> str | None:
        """None when ``out`` matches ``fp``; else a short reason ('shape' or 'value')."""
        if fp.get("t") == "error":
            return "value"
        if fp.get("t") in ("wire", "opaque"):
            try:
                return None if fp.get("h") == wire_hash(self.salt, path, out) else "value"
            except Exception:
                return "value"
        out = plain_array(out)  # a tensor of PyTorch or JAX is read as its NumPy array
        try:
            arr = np.asarray(out, dtype=float)
        except (TypeError, ValueError):
            return "type"
        if isinstance(out, (bool, np.bool_)) or out is None:
            return "type"
        if "s" in fp:  # the output's own shape: the core's shape policy applies (grader.core.shapes)
            from grader.core.shapes import DEFAULT_LAYOUT, align

            if align(tuple(arr.shape), tuple(fp["s"]), self.entry.get("layout") or DEFAULT_LAYOUT) == "bad":
                return "shape"
        elif norm_shape(arr.shape) != tuple(fp["shape"]):
            return "shape"
        elif arr.ndim == 2 and 1 in arr.shape and arr.size > 1:
            self.orientation_deferred = True
        for j, (f, v) in enumerate(zip(fp["elems"], arr.reshape(-1))):
            v = float(v)
            if len(f) == 1:
                if repr(v) != f[0]:
                    return "value"
                continue
            # per output entry, the private rule atol + rtol*|v| (on the output's grid, see grader.key.fingerprint)
            if not fpm.matches(self.salt, f"{path}[{j}]", f, v, fpm.tolerance(v, *_tols(self.entry))):
                return "value"
        return None

    def problem(self, i: int, out: Any) -> str | None:
        from grader.key.answertext import answer_text
        from grader.key.outputs import describe_args, shape_text

        fp = self.entry["outputs"][i]
        where = describe_args(self.entry["inputs"][i])
        if out is None:
            return f"On the input {where} your function returned None."
        why = self._match(f"o{i}", fp, out)
        if why is None:
            return None
        if why == "type":
            return f"On the input {where} your function returned {shape_text(out)}, not a number or an array."
        if why == "shape":
            shape = tuple(fp["shape"])
            want = "a single number" if shape == () else f"an array of shape {shape}"
            return f"On the input {where} your function returned {shape_text(out)}, but {want} is expected."
        return f"On the input {where} your function returned {answer_text(out, limit=80)}, which is not right."

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
