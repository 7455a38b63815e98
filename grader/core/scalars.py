"""The scalar kinds of ``compare``: expressions, antiderivatives (up to a constant) and numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from grader.core import mistakes as mk
from grader.core.answers import (
    BOOLEAN_NOTE,
    InvalidAnswer,
    array_like,
    boolean_as_number,
    canonical_symbols,
    parse_text,
    to_expression,
)
from grader.core.budget import Timeout, enforced
from grader.core.equivalence import (
    HUGE,
    Evidence,
    format_value,
)
from grader.core.shapes import SINGLE_NOTE, single_entry
from grader.core.verdict import Verdict

from grader.core.problem import (
    CONSTANT_NAME, CONSTANT_NAMES, CORRECT, Named, Options, Outcome, Problem, ce_details, ce_sentence,
    free_names, reference_expr, same_number, same_scalar, symbol_names, var_symbol,
)


EXACT_SLIP = (
    "Your answer is not exactly the correct one: the two differ by an amount too small to show at the points "
    "checked, but both are exact, so the difference is real. Check every coefficient and constant."
)


class ExpressionProblem(Problem):
    def __init__(self, expected: Any, var: Any, kind: str) -> None:
        e = reference_expr(expected)
        v = var_symbol(var)
        syms = set(e.free_symbols) | ({v} if v is not None else set())
        self.canon = canonical_symbols(syms)
        self.expected = e.xreplace({s: self.canon[s.name] for s in e.free_symbols})
        self.var = self.canon[v.name] if v is not None else None
        if self.var is None and len(self.canon) == 1:
            self.var = next(iter(self.canon.values()))
        self.kind = kind

    def normalise(self, value: Any) -> sp.Expr:
        if not self.canon:
            # the reference has no symbols and no var was named: any symbol is allowed (as real)
            return to_expression(value, self.canon, constants=symbol_names(value))
        return to_expression(value, self.canon)

    def normalise_reference_like(self, value: Any) -> sp.Expr:
        if isinstance(value, str):
            return parse_text(value, self.canon, allow_arrays=False)
        return self.normalise(value)

    def matches(self, value: Any, wrong: Any, opts: Options) -> bool:
        return same_scalar(value, wrong, opts, prove=False).equal is True

    def grade(self, answer: Any, opts: Options, named: list[Named]) -> Verdict:
        answer, single = single_entry(answer, opts.layout)  # a 1 x 1 matrix where a scalar is asked
        verdict = self._grade(answer, opts, named)
        return verdict.with_note(SINGLE_NOTE) if single and verdict.method != "invalid" else verdict

    def _grade(self, answer: Any, opts: Options, named: list[Named]) -> Verdict:
        a = self.normalise(answer)
        out = same_scalar(a, self.expected, opts)
        if out.equal:
            return Verdict.right(CORRECT, out.method)
        if out.equal is None:
            return Verdict.wrong(
                "Your answer could not be compared with the correct one at any sample point.", "numeric",
                reason="undetermined",
            )
        return self.explain_wrong(a, out, opts, named)

    def explain_wrong(self, a: sp.Expr, out: Outcome, opts: Options, named: list[Named]) -> Verdict:
        ev = out.evidence
        details = ce_details(ev)
        ce = ce_sentence(ev)
        try:
            m = self._match_named(a, named, opts)
            if m is not None:
                return Verdict.wrong(m.message, out.method, m.ident, **details)
            sub = opts.diagnosis()  # generic diagnoses stay within their share of the budget
            with enforced(sub.deadline):
                diag = self.diagnose(a, ev, sub)
        except Timeout:
            diag = None
        if diag is not None:
            ident, sentence = diag
            text = sentence + (" For example, " + ce[0].lower() + ce[1:] if ce else "")
            return Verdict.wrong(text, out.method, ident, **details)
        if not ce and out.method == "exact":
            return Verdict.wrong(EXACT_SLIP, out.method, "exact_slip", **details)
        return Verdict.wrong(("Not quite. " + ce) if ce else "Your answer is not correct.", out.method, **details)

    def expected_derivative(self) -> sp.Expr:
        """d(reference)/d(var), computed once per prepared reference (prepared references are cached)."""
        de = getattr(self, "_expected_derivative", None)
        if de is None:
            de = self._expected_derivative = sp.diff(self.expected, self.var)
        return de

    def diagnose(self, a: sp.Expr, ev: Evidence | None, opts: Options) -> mk.Diagnosis | None:
        if ev is not None and ev.points:
            d = mk.diagnose_values(ev.answer_values, ev.expected_values)
            if d is not None:
                return d
        if self.var is not None and not opts.deadline.expired():
            try:
                da = sp.diff(a, self.var)
                if da != 0 and same_scalar(da, self.expected, opts, prove=False).equal:
                    return (
                        "antiderivative_instead",
                        "The derivative of your answer is the correct answer: you gave the function (or an "
                        "antiderivative) instead of its derivative.",
                    )
                de = self.expected_derivative()
                if de != 0 and same_scalar(a, de, opts, prove=False).equal:
                    return (
                        "differentiated_once_more",
                        "Your answer is the derivative of the correct answer: you differentiated once too often.",
                    )
            except (InvalidAnswer, ValueError, TypeError):
                return None
        return None


class AntiderivativeProblem(ExpressionProblem):
    def __init__(self, expected: Any, var: Any) -> None:
        super().__init__(expected, var, "antiderivative")
        if self.var is None:
            raise ValueError("antiderivative questions need var= when the reference has several symbols")
        self.constants = tuple(c for c in CONSTANT_NAMES if c not in self.canon)
        self.integrand = sp.diff(self.expected, self.var)

    def normalise(self, value: Any) -> sp.Expr:
        extra = [n for n in symbol_names(value) if n not in self.canon and CONSTANT_NAME.match(n)]
        return to_expression(value, self.canon, constants=self.constants + tuple(extra))

    def normalise_reference_like(self, value: Any) -> sp.Expr:
        if isinstance(value, str):
            allowed = dict(self.canon)
            allowed.update({c: sp.Symbol(c, real=True) for c in self.constants})
            return parse_text(value, allowed, allow_arrays=False)
        return self.normalise(value)

    def matches(self, value: Any, wrong: Any, opts: Options) -> bool:
        return same_scalar(sp.diff(value, self.var), sp.diff(wrong, self.var), opts, prove=False).equal is True

    def _grade(self, answer: Any, opts: Options, named: list[Named]) -> Verdict:
        a = self.normalise(answer)
        da = sp.diff(a, self.var)
        out = same_scalar(da, self.integrand, opts)
        if out.equal:
            return Verdict.right(CORRECT, out.method)
        ev = out.evidence
        details = ce_details(ev)
        ce = ce_sentence(ev, "the derivative of your answer", "the integrand")
        try:
            m = self._match_named(a, named, opts)
            if m is not None:
                return Verdict.wrong(m.message, out.method, m.ident, **details)
            sub = opts.diagnosis()
            with enforced(sub.deadline):
                diag = self.diagnose_anti(a, da, ev, sub)
        except Timeout:
            diag = None
        if diag is not None:
            return Verdict.wrong(diag[1], out.method, diag[0], **details)
        text = "The derivative of your answer is not the integrand, so it is not an antiderivative."
        if ce:
            text += " " + ce
        return Verdict.wrong(text, out.method, **details)

    def diagnose_anti(self, a: sp.Expr, da: sp.Expr, ev: Evidence | None, opts: Options) -> mk.Diagnosis | None:
        stray = sorted(s.name for s in da.free_symbols if s.name in self.constants)
        if stray:
            return (
                "constant_misplaced",
                f"The constant {', '.join(stray)} must only be added at the end (F(x) + C); in your answer it "
                "changes the derivative.",
            )
        if ev is not None and ev.points:
            c = mk.constant_ratio(ev.answer_values, ev.expected_values)
            if c is not None:
                ident, sentence = mk.describe_factor(c)
                return ident, sentence.replace("the correct answer", "a correct antiderivative")
        d2 = getattr(self, "_integrand_derivative", None)
        if d2 is None:
            d2 = self._integrand_derivative = sp.diff(self.integrand, self.var)
        if same_scalar(a, d2, opts, prove=False).equal:
            return (
                "differentiated_instead",
                "You differentiated instead of integrating: your answer is the derivative of the integrand, "
                "not an antiderivative.",
            )
        if same_scalar(a, self.integrand, opts, prove=False).equal:
            return (
                "integrand_given",
                "Your answer is the integrand itself; find a function whose derivative is the integrand.",
            )
        return None


class NumberProblem(Problem):
    def __init__(self, expected: Any) -> None:
        converted = array_like(expected)
        if converted is not None:
            expected = converted
        if isinstance(expected, np.ndarray):
            expected = expected.item()
        expected, _ = boolean_as_number(expected)
        e = reference_expr(expected)
        if e.free_symbols:
            raise ValueError("a number reference cannot contain symbols")
        self.expected = e

    def normalise(self, value: Any) -> sp.Expr:
        try:
            return to_expression(value, {}, what="a number")
        except InvalidAnswer as exc:
            if exc.reason == "stray_symbol":
                names = sorted(s.name for s in free_names(value))
                which = ", ".join(names) if names else "a symbol"
                raise InvalidAnswer(
                    f"Your answer still contains {which}; the answer is a number.", "stray_symbol"
                ) from None
            raise

    def normalise_reference_like(self, value: Any) -> sp.Expr:
        return self.normalise(boolean_as_number(value)[0])

    def matches(self, value: Any, wrong: Any, opts: Options) -> bool:
        return same_number(value, wrong, opts).equal is True

    def grade(self, answer: Any, opts: Options, named: list[Named]) -> Verdict:
        answer, single = single_entry(answer, opts.layout)  # a 1 x 1 matrix where a number is asked
        answer, read_boolean = boolean_as_number(answer)  # "1 for yes": True is read as 1
        verdict = self._grade(answer, opts, named)
        if single and verdict.method != "invalid":
            verdict = verdict.with_note(SINGLE_NOTE)
        return verdict.with_note(BOOLEAN_NOTE) if read_boolean else verdict

    def _grade(self, answer: Any, opts: Options, named: list[Named]) -> Verdict:
        a = self.normalise(answer)
        out = same_number(a, self.expected, opts)
        if out.equal:
            return Verdict.right(CORRECT, out.method)
        shown = format_value(out.exact_values[0]) if out.exact_values else str(a)
        try:
            m = self._match_named(a, named, opts)
        except Timeout:
            m = None
        if m is not None:
            return Verdict.wrong(m.message, out.method, m.ident)
        av, ev = out.exact_values if out.exact_values else (None, None)
        if av is HUGE:
            return Verdict.wrong("Your answer is astronomically large; it is not correct.", out.method)
        diag = None
        try:
            if av is not None and ev is not None and ev != 0 and av != 0:  # 0 is no "factor of 0"
                ratio = float(av / ev)
                if abs(ratio - 1) > 1e-3:
                    c = ratio
                    # a whole factor a student could have slipped by (up to 100, as the public key names them);
                    # "off by a factor of 2621440" helps nobody
                    whole = abs(c - round(c)) < 1e-9 * max(1, abs(c)) or abs(1 / c - round(1 / c)) < 1e-9 * max(1, abs(1 / c))
                    if whole and max(abs(c), abs(1 / c)) <= 100.5:
                        diag = mk.describe_factor(c)
                else:
                    diag = (
                        "close",
                        f"Your answer {shown} is close but not within the required tolerance "
                        f"(relative {opts.rtol:g}): compute it more precisely (keep all digits, or exactly).",
                    )
        except (ZeroDivisionError, OverflowError, TypeError, ValueError):
            diag = None
        if diag is not None:
            ident, sentence = diag
            if ident == "close":
                return Verdict.wrong(sentence, out.method, ident)
            return Verdict.wrong(f"Your answer {shown} is not correct. {sentence}", out.method, ident)
        return Verdict.wrong(f"Your answer {shown} is not correct.", out.method)


