"""``compare``: does an answer equal the reference, and if not, why not?

The pipeline for one call:

1. infer the kind from the reference (unless given) and prepare the reference
   (instructor errors raise ``ValueError`` here, before any student input is read);
2. normalise the answer (``answers``): unreadable input becomes an "invalid" verdict;
3. decide equality: numeric evidence first, symbolic confirmation second
   (``equivalence``); exact arithmetic for exact numbers;
4. when wrong, explain: named mistakes first, then generic diagnoses (``mistakes``),
   then a counterexample.

Everything after step 1 runs under ``budget.enforced``: once the deadline passes,
Python code raises ``Timeout`` and the call returns what it knows. Symbolic
proof gets only a slice of the budget (``PROOF_SHARE``) so that the common case
stays fast; an equality it cannot confirm in time is reported as "numeric".
"""

from __future__ import annotations

import numbers
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from grader import mistakes as mk
from grader.answers import (
    BOOLEAN_NOTE,
    InvalidAnswer,
    boolean_as_number,
    canonical_symbols,
    describe_type,
    parse_text,
    to_array,
    to_expression,
)
from grader.budget import Deadline, Timeout, call_with_timeout, enforced
from grader.equivalence import (
    HUGE,
    UNDEFINED,
    Counterexample,
    Evidence,
    _precise,
    format_value,
    numeric_compare,
    prove_equal,
)
from grader.verdict import Verdict

__all__ = ["compare", "infer_kind", "KINDS", "CONSTANT_NAMES"]

KINDS = ("expression", "antiderivative", "number", "array", "function")
CONSTANT_NAMES = ("C", "c", "k", "K", "D", "C0", "C1", "C2", "C3", "c0", "c1", "c2", "k1", "k2", "const")
_CONSTANT_NAME = re.compile(r"^([CcKk]_?\d*|const\w*)$")  # further names read as integration constants
PROOF_SHARE = 0.04    # fraction of the timeout that symbolic confirmation may use
PROOF_MIN = 0.02      # ... but at least this many seconds when the budget allows
FLOAT_PROOF = 0.02    # seconds of proof for answers that contain floats
CORRECT = "Correct."


# ---------------------------------------------------------------------------
# public entry point

def compare(
    answer: Any,
    expected: Any,
    *,
    kind: str | None = None,
    var: Any = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    timeout: float = 2.0,
    mistakes: Mapping[str, Any] | None = None,
    inputs: Sequence[Any] | None = None,
) -> Verdict:
    """Grade ``answer`` against the reference ``expected``.

    kind: "expression", "antiderivative", "number", "array", "function" (None: inferred).
    var: the variable of an antiderivative (default: the only symbol of ``expected``).
    rtol, atol: |a - e| <= atol + rtol*|e| for numeric comparisons.
    timeout: seconds; the call returns within it on any input.
    mistakes: {id: (wrong answer, message)}; a matching answer gets that message and id.
    inputs: for "function": argument tuples to call both functions with (default: chosen by the grader).

    Never raises on student input; raises ValueError/TypeError when the reference
    or the options are unusable (an authoring error).
    """
    kind = infer_kind(expected) if kind is None else kind
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    rtol, atol, timeout = float(rtol), float(atol), float(timeout)
    if not (rtol >= 0 and atol >= 0 and timeout > 0):
        raise ValueError("rtol and atol must be >= 0 and timeout > 0")
    deadline = Deadline(max(0.005, timeout - min(0.03, 0.1 * timeout)))
    opts = _Options(kind, rtol, atol, timeout, deadline)
    try:
        # preparing the reference is inside the budget too (a huge reference is rebuilt per call);
        # its ValueError/TypeError (authoring errors) propagate
        with enforced(deadline):
            problem = _prepare(expected, kind, var, inputs)
            named = _prepare_mistakes(mistakes, problem, kind)
    except Timeout:
        return _timeout_verdict(timeout)
    try:
        # no warning may reach stderr (nbgrader scores a cell with stderr output 0)
        with enforced(deadline), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return problem.grade(answer, opts, named)
    except Timeout:
        return _timeout_verdict(timeout)
    except InvalidAnswer as exc:
        return Verdict.invalid(exc.message, exc.reason)
    except (RecursionError, MemoryError):
        return Verdict.invalid("Your answer is too large or too deeply nested to check.", "too_large")
    except Exception as exc:  # never raise on student input
        return Verdict.invalid(
            f"Your answer could not be checked ({type(exc).__name__}); please rewrite it in a simpler form.",
            "error",
        )


def _timeout_verdict(timeout: float) -> Verdict:
    return Verdict(
        False, 0.0,
        "Your answer could not be checked within the time limit: it may be extremely large or complicated. "
        "Simplify it and try again.",
        None, "timeout", {"reason": "timeout", "timeout": timeout},
    )


def infer_kind(expected: Any) -> str:
    """The kind implied by the reference's type."""
    from sympy.matrices import MatrixBase
    from sympy.tensor.array import NDimArray

    if isinstance(expected, (MatrixBase, NDimArray, list, tuple, sp.Tuple)):
        return "array"
    if isinstance(expected, np.ndarray):
        return "array" if expected.ndim > 0 else "number"
    if isinstance(expected, sp.Basic):
        if isinstance(expected, sp.Expr) and not expected.free_symbols:
            return "number"
        return "expression"
    if isinstance(expected, (numbers.Number, np.generic)):
        return "number"
    if isinstance(expected, str):
        return "expression"
    if callable(expected):
        return "function"
    raise TypeError(f"cannot infer the kind of a reference of type {type(expected).__name__}")


# ---------------------------------------------------------------------------
# shared machinery

@dataclass
class _Options:
    kind: str
    rtol: float
    atol: float
    timeout: float
    deadline: Deadline

    def proof_deadline(self, inexact: bool = False) -> Deadline:
        share = max(PROOF_MIN, PROOF_SHARE * self.timeout)
        if inexact:
            # an answer with floats is rarely *exactly* the reference: do not spend long proving it
            share = min(share, FLOAT_PROOF)
        return self.deadline.within(share)


@dataclass
class _Outcome:
    """Equality of two normalised scalars."""

    equal: bool | None  # None: could not be decided
    method: str
    evidence: Evidence | None = None
    exact_values: tuple[Any, Any] | None = None


def _is_exact(e: sp.Expr) -> bool:
    return not e.has(sp.Float)


def _same_scalar(a: sp.Expr, e: sp.Expr, opts: _Options, *, prove: bool = True) -> _Outcome:
    """Decide a == e for two normalised SymPy expressions."""
    if not a.free_symbols and not e.free_symbols:
        return _same_number(a, e, opts)
    if a == e:
        return _Outcome(True, "symbolic")
    ev = numeric_compare(a, e, rtol=opts.rtol, atol=opts.atol, deadline=opts.deadline)
    if ev.status == "different":
        return _Outcome(False, "numeric", ev)
    if ev.status == "undetermined":
        if prove and prove_equal(a, e, opts.proof_deadline()):
            return _Outcome(True, "symbolic", ev)
        return _Outcome(None, "numeric", ev)
    if prove and prove_equal(a, e, opts.proof_deadline(a.has(sp.Float) or e.has(sp.Float))):
        return _Outcome(True, "symbolic", ev)
    return _Outcome(True, "numeric", ev)


def _same_number(a: sp.Expr, e: sp.Expr, opts: _Options) -> _Outcome:
    if a == e:
        return _Outcome(True, "exact", exact_values=(a, e))
    av, ev = _precise(a, {}, 40), _precise(e, {}, 40)
    if ev is UNDEFINED or ev is HUGE:
        raise ValueError(f"the reference {e} is not a finite number")
    if av is UNDEFINED:
        raise InvalidAnswer("Your answer is undefined (not a finite number).", "undefined")
    if av is HUGE:
        return _Outcome(False, "numeric", exact_values=(HUGE, ev))
    ctx_imag = getattr(av, "imag", 0)
    if ctx_imag and abs(ctx_imag) > 1e-12 * max(1, abs(av)):
        raise InvalidAnswer(f"Your answer is a complex number ({format_value(av)}); the answer is real.", "complex")
    av = getattr(av, "real", av)
    ev = getattr(ev, "real", ev)
    if _is_exact(a) and _is_exact(e) and abs(av - ev) <= 1e-30 * max(1, abs(ev)):
        # equal to 40 digits: exact when SymPy confirms it, else "numeric"
        proven = prove_equal(a, e, opts.proof_deadline())
        return _Outcome(True, "exact" if proven else "numeric", exact_values=(av, ev))
    eq = abs(av - ev) <= opts.atol + opts.rtol * abs(ev)
    return _Outcome(bool(eq), "numeric", exact_values=(av, ev))


def _ce_sentence(ev: Evidence | None, subject: str = "your answer", noun: str = "the correct value") -> str:
    if ev is None or ev.counterexample is None:
        return ""
    s = ev.counterexample.sentence(subject, noun)
    return s[0].upper() + s[1:] + "."


def _ce_details(ev: Evidence | None) -> dict[str, Any]:
    if ev is None or ev.counterexample is None:
        return {}
    return {"counterexample": ev.counterexample.to_dict()}


@dataclass
class _Named:
    ident: str
    message: str
    value: Any  # normalised like the reference of the problem


def _prepare_mistakes(mistakes: Mapping[str, Any] | None, problem: "_Problem", kind: str) -> list[_Named]:
    out: list[_Named] = []
    if not mistakes:
        return out
    for ident, entry in mistakes.items():
        if isinstance(entry, (tuple, list)) and len(entry) == 2:
            wrong, message = entry
        else:
            raise ValueError(f"mistake {ident!r} must be a pair (wrong answer, message)")
        try:
            out.append(_Named(str(ident), str(message), problem.normalise_reference_like(wrong)))
        except (InvalidAnswer, ValueError, TypeError) as exc:
            raise ValueError(f"mistake {ident!r} cannot be used: {getattr(exc, 'message', exc)}") from None
    return out


# ---------------------------------------------------------------------------
# problems: one class per kind

class _Problem:
    def grade(self, answer: Any, opts: _Options, named: list[_Named]) -> Verdict:
        raise NotImplementedError

    def normalise_reference_like(self, value: Any) -> Any:
        raise NotImplementedError

    def _match_named(self, value: Any, named: list[_Named], opts: _Options) -> _Named | None:
        if not named:
            return None
        sub = _Options(opts.kind, opts.rtol, opts.atol, opts.timeout, opts.deadline)
        for m in named:
            try:
                if self.matches(value, m.value, sub):
                    return m
            except Timeout:
                raise
            except InvalidAnswer:
                continue
            except Exception:
                continue
        return None

    def matches(self, value: Any, wrong: Any, opts: _Options) -> bool:
        raise NotImplementedError


def _expected_symbols_from_text(text: str) -> dict[str, sp.Symbol]:
    import ast

    from grader.answers import _CONSTANTS, _FUNCTIONS

    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise ValueError(f"reference {text!r} is not valid") from None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return {n: sp.Symbol(n, real=True) for n in names if n not in _FUNCTIONS and n not in _CONSTANTS}


def _reference_expr(value: Any) -> sp.Expr:
    try:
        if isinstance(value, str):
            return parse_text(value, _expected_symbols_from_text(value), allow_arrays=False)
        if isinstance(value, sp.Basic):
            if not isinstance(value, sp.Expr):
                raise ValueError(f"reference {value!r} is not an expression")
            return value
        syms = {}
        return to_expression(value, syms)
    except InvalidAnswer as exc:
        raise ValueError(f"unusable reference: {exc.message}") from None


def _var_symbol(var: Any) -> sp.Symbol | None:
    if var is None:
        return None
    if isinstance(var, sp.Symbol):
        return var
    if isinstance(var, str):
        return sp.Symbol(var)
    raise TypeError("var must be a SymPy Symbol or a name")


class _ExpressionProblem(_Problem):
    def __init__(self, expected: Any, var: Any, kind: str) -> None:
        e = _reference_expr(expected)
        v = _var_symbol(var)
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
            return to_expression(value, self.canon, constants=_symbol_names(value))
        return to_expression(value, self.canon)

    def normalise_reference_like(self, value: Any) -> sp.Expr:
        if isinstance(value, str):
            return parse_text(value, self.canon, allow_arrays=False)
        return self.normalise(value)

    def matches(self, value: Any, wrong: Any, opts: _Options) -> bool:
        return _same_scalar(value, wrong, opts, prove=False).equal is True

    def grade(self, answer: Any, opts: _Options, named: list[_Named]) -> Verdict:
        a = self.normalise(answer)
        out = _same_scalar(a, self.expected, opts)
        if out.equal:
            return Verdict.right(CORRECT, out.method)
        if out.equal is None:
            return Verdict.wrong(
                "Your answer could not be compared with the correct one at any sample point.", "numeric",
                reason="undetermined",
            )
        return self.explain_wrong(a, out, opts, named)

    def explain_wrong(self, a: sp.Expr, out: _Outcome, opts: _Options, named: list[_Named]) -> Verdict:
        ev = out.evidence
        details = _ce_details(ev)
        ce = _ce_sentence(ev)
        try:
            m = self._match_named(a, named, opts)
            if m is not None:
                return Verdict.wrong(m.message, out.method, m.ident, **details)
            diag = self.diagnose(a, ev, opts)
        except Timeout:
            diag = None
        if diag is not None:
            ident, sentence = diag
            text = sentence + (" For example, " + ce[0].lower() + ce[1:] if ce else "")
            return Verdict.wrong(text, out.method, ident, **details)
        return Verdict.wrong(("Not quite. " + ce) if ce else "Your answer is not correct.", out.method, **details)

    def diagnose(self, a: sp.Expr, ev: Evidence | None, opts: _Options) -> mk.Diagnosis | None:
        if ev is not None and ev.points:
            d = mk.diagnose_values(ev.answer_values, ev.expected_values)
            if d is not None:
                return d
        if self.var is not None and not opts.deadline.expired():
            try:
                da = sp.diff(a, self.var)
                if da != 0 and _same_scalar(da, self.expected, opts, prove=False).equal:
                    return (
                        "antiderivative_instead",
                        "The derivative of your answer is the correct answer: you gave the function (or an "
                        "antiderivative) instead of its derivative.",
                    )
                de = sp.diff(self.expected, self.var)
                if de != 0 and _same_scalar(a, de, opts, prove=False).equal:
                    return (
                        "differentiated_once_more",
                        "Your answer is the derivative of the correct answer: you differentiated once too often.",
                    )
            except (InvalidAnswer, ValueError, TypeError):
                return None
        return None


class _AntiderivativeProblem(_ExpressionProblem):
    def __init__(self, expected: Any, var: Any) -> None:
        super().__init__(expected, var, "antiderivative")
        if self.var is None:
            raise ValueError("antiderivative questions need var= when the reference has several symbols")
        self.constants = tuple(c for c in CONSTANT_NAMES if c not in self.canon)
        self.integrand = sp.diff(self.expected, self.var)

    def normalise(self, value: Any) -> sp.Expr:
        extra = [n for n in _symbol_names(value) if n not in self.canon and _CONSTANT_NAME.match(n)]
        return to_expression(value, self.canon, constants=self.constants + tuple(extra))

    def normalise_reference_like(self, value: Any) -> sp.Expr:
        if isinstance(value, str):
            allowed = dict(self.canon)
            allowed.update({c: sp.Symbol(c, real=True) for c in self.constants})
            return parse_text(value, allowed, allow_arrays=False)
        return self.normalise(value)

    def matches(self, value: Any, wrong: Any, opts: _Options) -> bool:
        return _same_scalar(sp.diff(value, self.var), sp.diff(wrong, self.var), opts, prove=False).equal is True

    def grade(self, answer: Any, opts: _Options, named: list[_Named]) -> Verdict:
        a = self.normalise(answer)
        da = sp.diff(a, self.var)
        out = _same_scalar(da, self.integrand, opts)
        if out.equal:
            return Verdict.right(CORRECT, out.method)
        ev = out.evidence
        details = _ce_details(ev)
        ce = _ce_sentence(ev, "the derivative of your answer", "the integrand")
        try:
            m = self._match_named(a, named, opts)
            if m is not None:
                return Verdict.wrong(m.message, out.method, m.ident, **details)
            diag = self.diagnose_anti(a, da, ev, opts)
        except Timeout:
            diag = None
        if diag is not None:
            return Verdict.wrong(diag[1], out.method, diag[0], **details)
        text = "The derivative of your answer is not the integrand, so it is not an antiderivative."
        if ce:
            text += " " + ce
        return Verdict.wrong(text, out.method, **details)

    def diagnose_anti(self, a: sp.Expr, da: sp.Expr, ev: Evidence | None, opts: _Options) -> mk.Diagnosis | None:
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
        if _same_scalar(a, sp.diff(self.integrand, self.var), opts, prove=False).equal:
            return (
                "differentiated_instead",
                "You differentiated instead of integrating: your answer is the derivative of the integrand, "
                "not an antiderivative.",
            )
        if _same_scalar(a, self.integrand, opts, prove=False).equal:
            return (
                "integrand_given",
                "Your answer is the integrand itself; find a function whose derivative is the integrand.",
            )
        return None


class _NumberProblem(_Problem):
    def __init__(self, expected: Any) -> None:
        if isinstance(expected, np.ndarray):
            expected = expected.item()
        expected, _ = boolean_as_number(expected)
        e = _reference_expr(expected)
        if e.free_symbols:
            raise ValueError("a number reference cannot contain symbols")
        self.expected = e

    def normalise(self, value: Any) -> sp.Expr:
        try:
            return to_expression(value, {}, what="a number")
        except InvalidAnswer as exc:
            if exc.reason == "stray_symbol":
                names = sorted(s.name for s in _free_names(value))
                which = ", ".join(names) if names else "a symbol"
                raise InvalidAnswer(
                    f"Your answer still contains {which}; the answer is a number.", "stray_symbol"
                ) from None
            raise

    def normalise_reference_like(self, value: Any) -> sp.Expr:
        return self.normalise(boolean_as_number(value)[0])

    def matches(self, value: Any, wrong: Any, opts: _Options) -> bool:
        return _same_number(value, wrong, opts).equal is True

    def grade(self, answer: Any, opts: _Options, named: list[_Named]) -> Verdict:
        answer, read_boolean = boolean_as_number(answer)  # "1 for yes": True is read as 1
        verdict = self._grade(answer, opts, named)
        return verdict.with_note(BOOLEAN_NOTE) if read_boolean else verdict

    def _grade(self, answer: Any, opts: _Options, named: list[_Named]) -> Verdict:
        a = self.normalise(answer)
        out = _same_number(a, self.expected, opts)
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
                    if abs(c - round(c)) < 1e-9 * max(1, abs(c)) or abs(1 / c - round(1 / c)) < 1e-9 * max(1, abs(1 / c)):
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


def _symbol_names(value: Any) -> list[str]:
    return sorted(s.name for s in _free_names(value))


def _free_names(value: Any) -> set[sp.Symbol]:
    if isinstance(value, sp.Basic):
        return set(value.free_symbols)
    if isinstance(value, str):
        import ast
        import re

        try:
            tree = ast.parse(value.replace("^", "**"), mode="eval")
        except SyntaxError:
            return set()
        from grader.answers import _CONSTANTS, _FUNCTIONS

        return {sp.Symbol(n.id) for n in ast.walk(tree) if isinstance(n, ast.Name)
                and n.id not in _FUNCTIONS and n.id not in _CONSTANTS}
    return set()


def _prepare(expected: Any, kind: str, var: Any, inputs: Sequence[Any] | None) -> _Problem:
    if kind == "expression":
        return _ExpressionProblem(expected, var, "expression")
    if kind == "antiderivative":
        return _AntiderivativeProblem(expected, var)
    if kind == "number":
        return _NumberProblem(expected)
    if kind == "array":
        from grader.arrays import ArrayProblem

        return ArrayProblem(expected, var)
    from grader.functions import FunctionProblem

    return FunctionProblem(expected, inputs)
