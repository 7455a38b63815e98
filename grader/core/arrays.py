"""Array answers: gradients, Jacobians, Hessians, points and parameter vectors.

Why its own module: arrays add two concerns on top of scalar comparison, shapes
(a column vector and a flat vector of the same length are the same answer, with
a note) and naming the wrong entries. Entries are compared with the scalar
rules of ``comparison`` (exact numbers exactly, floats with tolerance,
expressions by sampling then proof). Messages count entries from 1 ("entry 2",
"row 1, column 2"); ``details["wrong_entries"]`` holds 0-based index lists
(``details["index_base"] == 0``) for programs.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import numpy as np
import sympy as sp

from grader.core import mistakes as mk
from grader.core.answers import BOOLEAN_NOTE, InvalidAnswer, booleans_as_numbers, canonical_symbols, to_array, to_expression
from grader.core.budget import Timeout, enforced
from grader.core.problem import (
    CORRECT,
    ce_details,
    expected_symbols_from_text,
    Named,
    Options,
    Outcome,
    Problem,
    reference_expr,
    same_entries,
    same_scalar,
    var_symbol,
)
from grader.core.equivalence import format_point, format_value
from grader.core.shapes import CONVENTION, align, mismatch_sentence
from grader.core.verdict import Verdict

__all__ = ["ArrayProblem", "entry_label", "describe_shape", "unravel", "partial_credit", "read_entries"]


def describe_shape(shape: tuple[int, ...]) -> str:
    if len(shape) == 0:
        return "a single value"
    if len(shape) == 1:
        return f"a vector of {shape[0]} entries"
    if len(shape) == 2:
        return f"a {shape[0]} x {shape[1]} matrix"
    return f"an array of shape {shape}"


def entry_label(index: tuple[int, ...]) -> str:
    """Student-facing, 1-based name of an entry."""
    if len(index) == 1:
        return f"entry {index[0] + 1}"
    if len(index) == 2:
        return f"entry ({index[0] + 1}, {index[1] + 1}) (row {index[0] + 1}, column {index[1] + 1})"
    return "entry (" + ", ".join(str(i + 1) for i in index) + ")"


def unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index tuple of a flat (row-major) position."""
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def partial_credit(verdict: Verdict, right: int, total: int) -> Verdict:
    """A wrong array answer of the right shape under ``partial=True``: ``right`` of ``total`` entries
    right earn that fraction of the points, and the message says so.  Both keys use it."""
    if verdict.correct or total <= 0 or right <= 0:
        return verdict
    return verdict.with_score(right / total, f"Partial credit: {right} of {total} entries are right.")


def _is_plain_number(v: Any) -> bool:
    return isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_))


def read_entries(shape: tuple[int, ...], raw: list[Any], symbols: Mapping[str, sp.Symbol]) -> list[sp.Expr]:
    """Each entry of an array answer as an expression over the question's symbols; an unreadable entry is
    refused with its position ("In row 2, column 1 (counting from 1): ..."), in both keys alike."""
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


class ArrayProblem(Problem):
    def __init__(self, expected: Any, var: Any) -> None:
        if isinstance(expected, str):
            shape, raw = to_array(expected, expected_symbols_from_text(expected))
        else:
            try:
                shape, raw = to_array(expected, {})
            except InvalidAnswer as exc:
                raise ValueError(f"unusable array reference: {exc.message}") from None
        if shape == ():
            raise ValueError("an array reference needs at least one dimension")
        raw, _ = booleans_as_numbers(raw)  # a 0/1 reference written as a comparison
        entries = [reference_expr(r) for r in raw]
        v = var_symbol(var)
        syms: set[sp.Symbol] = set().union(*(e.free_symbols for e in entries)) | ({v} if v is not None else set())
        self.canon = canonical_symbols(syms)
        self.shape = shape
        self.entries = [e.xreplace({s: self.canon[s.name] for s in e.free_symbols}) for e in entries]
        self.numeric = all(_is_plain_number(r) for r in raw)
        self.raw_numbers = np.array([float(r) for r in raw]) if self.numeric else None

    # -- normalisation -------------------------------------------------------
    def _read(self, value: Any) -> tuple[tuple[int, ...], list[Any]]:
        return to_array(value, self.canon)

    def _entries(self, shape: tuple[int, ...], raw: list[Any]) -> list[sp.Expr]:
        return read_entries(shape, raw, self.canon)

    def normalise_reference_like(self, value: Any) -> tuple[tuple[int, ...], list[sp.Expr]]:
        shape, raw = self._read(value)
        raw, _ = booleans_as_numbers(raw)
        return shape, self._entries(shape, raw)

    def _align(self, shape: tuple[int, ...], layout: str) -> str | None:
        """None if shapes are equal, "note" when equivalent under the layout, else "bad" (``shapes.align``)."""
        return align(shape, self.shape, layout)

    # -- comparison ----------------------------------------------------------
    def matches(self, value: Any, wrong: Any, opts: Options) -> bool:
        shape_a, ent_a = value
        shape_w, ent_w = wrong
        if shape_a != shape_w and not (int(np.prod(shape_a)) == int(np.prod(shape_w)) and
                                       (len(shape_a) == 1 or len(shape_w) == 1)):
            return False
        return all(same_scalar(a, w, opts, prove=False).equal is True for a, w in zip(ent_a, ent_w))

    def grade(self, answer: Any, opts: Options, named: list[Named]) -> Verdict:
        shape, raw = self._read(answer)
        raw, read_booleans = booleans_as_numbers(raw)
        if not read_booleans:
            return self._grade(shape, raw, opts, named)
        try:
            verdict = self._grade(shape, raw, opts, named)
        except InvalidAnswer as exc:  # another entry is unreadable: that is the message
            verdict = Verdict.invalid(exc.message, exc.reason)
        return verdict.with_note(BOOLEAN_NOTE)

    def _grade(self, shape: tuple[int, ...], raw: list[Any], opts: Options, named: list[Named]) -> Verdict:
        if shape == ():
            return Verdict.wrong(
                f"Your answer is a single value, but {describe_shape(self.shape)} is expected.", "invalid",
                None, reason="wrong_shape", shape=[], expected_shape=list(self.shape),
            )
        alignment = self._align(shape, opts.layout)
        notes: list[str] = []
        if alignment == "note":
            notes.append(
                f"you gave an array of shape {shape}; it was read as {describe_shape((int(np.prod(shape)),))}"
                f" (the expected shape is {self.shape})."
            )
        elif alignment == "bad":
            return self._wrong_shape(shape, raw, opts, named)
        if self.numeric and all(_is_plain_number(r) for r in raw):
            outcomes = self._fast_numeric(raw, opts)
            ent_a = None
        else:
            ent_a = self._entries(shape, raw)
            outcomes = same_entries(ent_a, self.entries, opts)  # one proof budget for the whole array
        wrong = [k for k, o in enumerate(outcomes) if not o.equal]
        methods = {o.method for o in outcomes}
        method = "numeric" if "numeric" in methods else "symbolic" if "symbolic" in methods else "exact"
        if not wrong:
            msg = CORRECT + (" Note: " + notes[0] if notes else "")
            return Verdict.right(msg, method, **({"notes": notes} if notes else {}))
        if ent_a is None:
            ent_a = self._entries(shape, raw)
        verdict = self._explain(shape, ent_a, outcomes, wrong, method, opts, named, notes)
        return partial_credit(verdict, len(outcomes) - len(wrong), len(outcomes)) if opts.partial else verdict

    def _fast_numeric(self, raw: list[Any], opts: Options) -> list[Outcome]:
        a = np.array([float(r) for r in raw])
        for k, v in enumerate(a):
            if math.isnan(v):
                raise InvalidAnswer(
                    f"In {entry_label(unravel(k, self.shape))} (counting from 1): it is NaN (not a number).", "nan"
                )
            if math.isinf(v):
                raise InvalidAnswer(
                    f"In {entry_label(unravel(k, self.shape))} (counting from 1): it is infinite.", "infinite"
                )
        e = self.raw_numbers
        assert e is not None
        ok = np.abs(a - e) <= opts.atol + opts.rtol * np.abs(e)
        exact = all(isinstance(r, (int, np.integer)) for r in raw)
        return [Outcome(bool(x), "exact" if exact else "numeric") for x in ok]

    # -- explanations ----------------------------------------------------------
    def _explain(
        self,
        shape: tuple[int, ...],
        ent_a: list[sp.Expr],
        outcomes: list[Outcome],
        wrong: list[int],
        method: str,
        opts: Options,
        named: list[Named],
        notes: list[str],
    ) -> Verdict:
        idx = [unravel(k, self.shape) for k in wrong]
        details: dict[str, Any] = {"wrong_entries": [list(i) for i in idx], "index_base": 0}
        if notes:
            details["notes"] = notes
        first_ev = next((outcomes[k].evidence for k in wrong if outcomes[k].evidence is not None), None)
        details.update(ce_details(first_ev))
        try:
            m = self._match_named((shape, ent_a), named, opts)
            if m is not None:
                return Verdict.wrong(m.message, method, m.ident, **details)
            sub = opts.diagnosis()  # within the call's work budget
            with enforced(sub.deadline):
                diag = self._diagnose(ent_a, wrong, sub)
        except Timeout:
            diag = None
        if diag is not None:
            return Verdict.wrong(diag[1], method, diag[0], **details)
        labels = [entry_label(i) for i in idx]
        if len(wrong) == 1:
            text = f"{labels[0][0].upper()}{labels[0][1:]} (counting from 1) is wrong; the other entries are right."
            ev = outcomes[wrong[0]].evidence
            if ev is not None and ev.counterexample is not None:
                ce = ev.counterexample
                text += f" At {format_point(ce.point)} it is {format_value(ce.answer)} but should be {format_value(ce.expected)}."
            return Verdict.wrong(text, method, "one_wrong_entry", **details)
        shown = ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "")
        text = f"{len(wrong)} of {len(ent_a)} entries are wrong (counting from 1): {shown}."
        return Verdict.wrong(text, method, None, **details)

    def _eq(self, a: sp.Expr, e: sp.Expr, opts: Options) -> bool:
        return same_scalar(a, e, opts, prove=False).equal is True

    def _diagnose(self, ent_a: list[sp.Expr], wrong: list[int], opts: Options) -> mk.Diagnosis | None:
        n = len(self.entries)
        # transposed matrix
        if len(self.shape) == 2 and self.shape[0] == self.shape[1] and self.shape[0] > 1:
            r, c = self.shape
            if all(self._eq(ent_a[i * c + j], self.entries[j * c + i], opts) for i in range(r) for j in range(c)):
                return ("transposed", "Your matrix is the transpose of the correct one: rows and columns are swapped.")
        # two components swapped
        pair = mk.swapped_pair(wrong, lambda i, j: self._eq(ent_a[i], self.entries[j], opts))
        if pair is not None:
            i, j = (entry_label(unravel(k, self.shape)) for k in pair)
            return ("swapped_components", f"Two entries are swapped: {i} and {j} (counting from 1) are in each other's place.")
        # whole array off by a factor / sign
        if len(wrong) == n and n > 1:
            ratios = []
            for a, e in zip(ent_a, self.entries):
                if a.free_symbols or e.free_symbols:
                    return None
                try:
                    fa, fe = float(a), float(e)
                except (TypeError, ValueError):
                    return None
                if fe == 0:
                    if fa != 0:
                        return None
                    continue
                ratios.append(fa / fe)
            if ratios and all(abs(r - ratios[0]) <= 1e-6 * abs(ratios[0]) for r in ratios):
                ident, sentence = mk.describe_factor(ratios[0])
                return ident, sentence.replace("correct answer", "correct array")
        return None

    def _wrong_shape(self, shape: tuple[int, ...], raw: list[Any], opts: Options, named: list[Named]) -> Verdict:
        details = {"reason": "wrong_shape", "shape": list(shape), "expected_shape": list(self.shape)}
        n_e, n_a = len(self.entries), len(raw)
        try:
            ent_a = self._entries(shape, raw)
        except InvalidAnswer as exc:
            return Verdict.wrong(exc.message, "invalid", None, **details)
        try:
            m = self._match_named((shape, ent_a), named, opts)
            if m is not None:
                return Verdict.wrong(m.message, "numeric", m.ident, **details)
            # a transposed (non-square) matrix or a row given for a column
            if len(shape) == 2 and len(self.shape) == 2 and shape == self.shape[::-1]:
                r, c = self.shape
                if all(self._eq(ent_a[j * r + i], self.entries[i * c + j], opts) for i in range(r) for j in range(c)):
                    rule = f" ({CONVENTION})" if 1 in shape and opts.layout == "convention" else ""
                    return Verdict.wrong(
                        f"Your answer is the transpose of the correct one: it has shape {shape}, the correct one "
                        f"{self.shape}{rule}.",
                        "numeric", "transposed", **details,
                    )
            # a missing component
            if n_a == n_e - 1 and (len(shape) == 1 or 1 in shape) and (len(self.shape) == 1 or 1 in self.shape):
                for skip in range(n_e):
                    rest = self.entries[:skip] + self.entries[skip + 1:]
                    if all(self._eq(a, e, opts) for a, e in zip(ent_a, rest)):
                        return Verdict.wrong(
                            f"A component is missing: your answer has {n_a} {'entry' if n_a == 1 else 'entries'} but {n_e} are expected "
                            f"({entry_label((skip,))}, counting from 1, is missing).",
                            "numeric", "missing_component", **details,
                        )
        except Timeout:
            pass
        if n_a < n_e and (len(shape) == 1 or 1 in shape):
            return Verdict.wrong(
                f"Your answer has {n_a} {'entry' if n_a == 1 else 'entries'}, but {describe_shape(self.shape)} is expected: "
                "a component is missing.",
                "invalid", "missing_component", **details,
            )
        return Verdict.wrong(mismatch_sentence(shape, self.shape, opts.layout), "invalid", None, **details)
