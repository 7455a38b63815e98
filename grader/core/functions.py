"""Function answers: a student's Python callable against the reference callable.

Why this shape: a function is right when it computes the right values, so both
are called on the same inputs, chosen by the grader (scalars of several signs
and scales, zero, NumPy arrays) or given by the question, and the results are
compared with the numeric tolerance. Each input is deep-copied per call, so a
function that mutates its arguments cannot affect the reference.

Student code runs through ``budget.call_with_timeout``: a daemon thread with a
line tracer stops Python-level infinite loops at the deadline; code blocked
inside C (``time.sleep``, a huge allocation) cannot be stopped without signals,
so we stop waiting, report a timeout, and that thread lingers until its C call
returns (documented limitation).
"""

from __future__ import annotations

import copy
import inspect
import numbers
import random
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp

from grader.core import mistakes as mk
from grader.core.answers import InvalidAnswer, array_like, describe_type
from grader.core.budget import Deadline, Timeout, call_with_timeout
from grader.core.problem import Named, Options, Problem
from grader.core.equivalence import format_pair
from grader.core.verdict import Verdict

__all__ = ["FunctionProblem", "default_inputs"]

_SCALARS = (0.5, -1.3, 2.7, 0.0, 1.9, -0.25, 7.5, -3.1, 0.01)


def _arity(fn: Callable[..., Any]) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    n = 0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            n += 1
        elif p.kind == p.VAR_POSITIONAL:
            return max(n, 1)
    return max(n, 1)


def default_inputs(reference: Callable[..., Any]) -> list[tuple[Any, ...]]:
    """Seeded inputs: scalars of several signs and scales, zero, and NumPy arrays."""
    n = _arity(reference)
    rng = random.Random(1729)
    out: list[tuple[Any, ...]] = []
    if n == 1:
        out += [(v,) for v in _SCALARS]
        out.append((np.array([0.5, -1.3, 2.7, 0.0, 1.9]),))
        out.append((np.array([[1.5, -0.5], [2.0, 0.25]]),))
    else:
        for _ in range(6):
            out.append(tuple(round(rng.uniform(-3, 3), 2) for _ in range(n)))
        out.append(tuple(0.0 for _ in range(n)))
        for size in (4, 7):
            out.append(tuple(np.round(np.array([rng.uniform(-3, 3) for _ in range(size)]), 2) for _ in range(n)))
    return out


def _prepare_input(arg: Any) -> tuple[Any, str]:
    """Turn instructor-given inputs into call arguments (sp.Lambda -> NumPy callable)."""
    if isinstance(arg, sp.Lambda):
        return _lambda_input(arg)
    return arg, _fmt_arg(arg)


@lru_cache(maxsize=256)
def _lambda_input(arg: sp.Lambda) -> tuple[Callable[..., Any], str]:
    # lambdify generates code from the instructor's (trusted) expression; cached, as it costs milliseconds
    fn = sp.lambdify(arg.variables, arg.expr, modules="numpy")
    return fn, f"the function {arg.variables[0] if len(arg.variables) == 1 else arg.variables} -> {arg.expr}"


def _fmt_arg(a: Any) -> str:
    if isinstance(a, np.ndarray):
        if a.size <= 5:
            return np.array2string(a, precision=4, separator=", ")
        return f"an array of shape {a.shape}"
    if isinstance(a, (list, tuple)):
        if len(a) <= 5 and all(isinstance(v, numbers.Number) for v in a):
            return "[" + ", ".join(_fmt_num(v) for v in a) + "]"
        return f"a {type(a).__name__} of {len(a)} items"
    if isinstance(a, numbers.Number):
        return _fmt_num(a)
    if callable(a):
        return getattr(a, "__name__", "a function")
    return describe_type(a)


def _fmt_num(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f"{f:.4g}"


def _fmt_args(labels: Sequence[str]) -> str:
    return labels[0] if len(labels) == 1 else "(" + ", ".join(labels) + ")"


class _Bad(Exception):
    def __init__(self, message: str, ident: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ident = ident


def _numeric(value: Any) -> np.ndarray:
    """A result as a float array, or raise _Bad with the reason."""
    if value is None:
        raise _Bad("returned None (did you forget the return statement?)", "returned_none")
    try:
        converted = array_like(value)  # a tensor of PyTorch, JAX, ... (detached first)
    except InvalidAnswer:
        raise _Bad(f"returned {describe_type(value)}, which could not be read as an array", "wrong_type") from None
    if converted is not None:
        value = converted.item() if converted.ndim == 0 else converted
    if isinstance(value, (bool, np.bool_)):
        raise _Bad(f"returned {value}, a True/False value, not a number", "wrong_type")
    if callable(value) and not isinstance(value, (np.ndarray, sp.Basic)):
        raise _Bad("returned a function instead of a value", "wrong_type")
    if isinstance(value, sp.MatrixBase):
        value = np.array(value.tolist())
    if isinstance(value, sp.Basic):
        if getattr(value, "free_symbols", None):
            raise _Bad("returned a symbolic expression instead of a number", "wrong_type")
        try:
            value = complex(value)
        except (TypeError, ValueError):
            raise _Bad("returned something that is not a number", "wrong_type") from None
    try:
        arr = np.asarray(value)
        if arr.dtype == object:
            arr = np.asarray(value, dtype=complex)
        if not (np.issubdtype(arr.dtype, np.number)):
            raise _Bad(f"returned {describe_type(value)}, which is not a number", "wrong_type")
    except _Bad:
        raise
    except Exception:
        raise _Bad(f"returned {describe_type(value)}, which is not a number or an array of numbers", "wrong_type") from None
    if np.iscomplexobj(arr):
        if np.any(np.abs(arr.imag) > 1e-12 * (1 + np.abs(arr.real))):
            raise _Bad("returned a complex number", "complex")
        arr = arr.real
    return arr.astype(float)


class FunctionProblem(Problem):
    def __init__(self, reference: Any, inputs: Sequence[Any] | None) -> None:
        if not callable(reference) or isinstance(reference, sp.Basic):
            raise TypeError("a function question needs a callable reference")
        self.reference = reference
        raw = list(inputs) if inputs is not None else default_inputs(reference)
        cases: list[tuple[tuple[Any, ...], list[str], np.ndarray]] = []
        for item in raw:
            args = item if isinstance(item, tuple) else (item,)
            prepared = [_prepare_input(a) for a in args]
            call_args = tuple(p[0] for p in prepared)
            labels = [p[1] for p in prepared]
            try:
                with np.errstate(all="ignore"):
                    res = _numeric(reference(*copy.deepcopy(call_args)))
            except Exception:
                if inputs is not None:
                    raise ValueError(f"the reference function fails on input {_fmt_args(labels)}") from None
                continue
            if not np.all(np.isfinite(res)):
                if inputs is not None:
                    raise ValueError(f"the reference function gives a non-finite result on {_fmt_args(labels)}")
                continue
            cases.append((call_args, labels, res))
        if not cases:
            raise ValueError("the reference function accepts none of the grader's inputs; pass inputs=")
        self.cases = cases

    def normalise_reference_like(self, value: Any) -> Any:
        if not callable(value):
            raise ValueError("a named mistake of a function question must be a function")
        return value

    def _run(self, fn: Callable[..., Any], opts: Options) -> list[Any]:
        """Results of ``fn`` on every case: arrays, or a Verdict that ends grading."""
        results: list[Any] = []
        # stop student code a little before the overall deadline, so the verdict can still be written
        reserve = max(0.05, 0.15 * opts.timeout)
        calls = Deadline.at(opts.deadline.end - reserve, opts.deadline.clock)
        for args, labels, _ in self.cases:
            status, value = call_with_timeout(fn, copy.deepcopy(args), calls)
            where = _fmt_args(labels)
            if status == "timeout":
                raise _Stop(Verdict.wrong(
                    f"Your function did not finish within the time limit on input {where} "
                    "(is there an infinite loop?).", "timeout", "timeout", reason="timeout", input=where,
                ))
            if status == "error":
                text = str(value).strip().splitlines()[0][:160] if str(value).strip() else ""
                raise _Stop(Verdict.wrong(
                    f"Your function raised {type(value).__name__}{': ' + text if text else ''} "
                    f"when called with {where}.", "invalid", "exception", reason="exception", input=where,
                ))
            results.append(value)
        return results

    def matches(self, value: Any, wrong: Any, opts: Options) -> bool:
        answers = value
        try:
            wrong_results = [_numeric(wrong(*copy.deepcopy(args))) for args, _, _ in self.cases]
        except Exception:
            return False
        for a, w in zip(answers, wrong_results):
            if a is None or a.shape != w.shape:
                return False
            if not np.all(np.abs(a - w) <= opts.atol + opts.rtol * np.abs(w)):
                return False
        return True

    def grade(self, answer: Any, opts: Options, named: list[Named]) -> Verdict:
        if answer is None or answer is Ellipsis:
            raise InvalidAnswer(
                "This question is not answered yet: define the function." if answer is Ellipsis else
                "Not answered yet: your answer is None instead of a function.", "unanswered")
        if not callable(answer) or isinstance(answer, (sp.Basic, np.ndarray)):
            raise InvalidAnswer(
                f"Your answer is {describe_type(answer)}, but a Python function is expected (def f(...): ...).",
                "wrong_type",
            )
        try:
            raw = self._run(answer, opts)
        except _Stop as stop:
            return stop.verdict
        converted: list[np.ndarray | None] = []
        first_bad: tuple[int, str, str | None] | None = None
        for k, ((args, labels, expected), value) in enumerate(zip(self.cases, raw)):
            try:
                arr = _numeric(value)
            except _Bad as bad:
                converted.append(None)
                if first_bad is None:
                    first_bad = (k, f"On input {_fmt_args(labels)} your function {bad.message}.", bad.ident)
                continue
            converted.append(arr)
            if first_bad is not None:
                continue
            reason = self._differs(arr, expected, opts)
            if reason is not None:
                first_bad = (k, f"On input {_fmt_args(labels)} {reason}.", None)
        if first_bad is None:
            return Verdict.right("Correct.", "numeric", inputs=len(self.cases))
        k, text, ident = first_bad
        details = {"input": _fmt_args(self.cases[k][1])}
        try:
            m = self._match_named(converted, named, opts)
        except Timeout:
            m = None
        if m is not None:
            return Verdict.wrong(m.message, "numeric", m.ident, **details)
        if ident is None:
            a_vals, e_vals = [], []
            for arr, (_, _, exp) in zip(converted, self.cases):
                if arr is not None and arr.shape == exp.shape:
                    a_vals += [complex(v) for v in arr.reshape(-1)]
                    e_vals += [complex(v) for v in exp.reshape(-1)]
            diag = mk.diagnose_values(a_vals, e_vals)
            if diag is not None:
                return Verdict.wrong(diag[1].replace("Your answer", "Your function's result").replace(
                    "the correct answer", "the correct result") + " " + text, "numeric", diag[0], **details)
        return Verdict.wrong(text, "numeric" if ident is None else "invalid", ident, **details)

    @staticmethod
    def _differs(a: np.ndarray, e: np.ndarray, opts: Options) -> str | None:
        if a.shape != e.shape:
            if a.size == e.size and (a.ndim <= 1 or 1 in a.shape) and (e.ndim <= 1 or 1 in e.shape):
                a = a.reshape(e.shape)
            else:
                return (f"your function returns shape {a.shape} but the correct result has shape {e.shape}"
                        if a.ndim or e.ndim else None)
        nan = np.isnan(a)
        if np.any(nan):
            return "your function returns NaN (not a number) where the correct result is finite"
        if np.any(np.isinf(a)):
            return "your function returns an infinite value where the correct result is finite"
        ok = np.abs(a - e) <= opts.atol + opts.rtol * np.abs(e)
        if np.all(ok):
            return None
        if a.ndim == 0:
            sa, se = format_pair(complex(float(a)), complex(float(e)))
            return f"your function returns {sa} but the correct result is {se}"
        bad = int(np.flatnonzero(~ok.reshape(-1))[0])
        idx = np.unravel_index(bad, a.shape)
        where = ", ".join(str(i + 1) for i in idx)
        sa, se = format_pair(complex(float(a.reshape(-1)[bad])), complex(float(e.reshape(-1)[bad])))
        return f"entry {where} (counting from 1) of your function's result is {sa} but should be {se}"


class _Stop(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict
