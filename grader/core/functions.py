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
import numbers
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp

from grader.core import mistakes as mk
from grader.core.answers import InvalidAnswer, array_like, describe_type
from grader.core.budget import Deadline, Timeout, call_with_timeout
from grader.core.problem import Named, Options, Problem
from grader.core.equivalence import format_pair
from grader.core.floateval import float_eval_columns
from grader.core.inputs import cached_default_inputs
from grader.core.shapes import align, mismatch_sentence
from grader.core.verdict import Verdict

__all__ = ["FunctionProblem"]

def _prepare_input(arg: Any) -> tuple[Any, str]:
    """Turn instructor-given inputs into call arguments (sp.Lambda -> NumPy callable)."""
    if isinstance(arg, sp.Lambda):
        return _lambda_input(arg)
    return arg, _fmt_arg(arg)


@lru_cache(maxsize=256)
def _lambda_input(arg: sp.Lambda) -> tuple[Callable[..., Any], str]:
    """An instructor's ``sp.Lambda`` input as a NumPy callable, through the grader's own compiler of
    SymPy trees (``floateval``): ``lambdify`` generated code per Lambda and cost ~40 ms cold."""
    variables, expr = tuple(arg.variables), arg.expr
    fallback: list[Callable[..., Any]] = []

    def fn(*values: Any) -> Any:
        try:
            arrays = [np.asarray(v, dtype=float) for v in values]
            shape = np.broadcast(*arrays).shape if arrays else ()
        except (TypeError, ValueError):
            arrays, shape = [], None
        if shape is not None and len(arrays) == len(variables):
            n = int(np.prod(shape)) if shape else 1
            columns = {s: np.broadcast_to(a, shape).reshape(-1) for s, a in zip(variables, arrays)}
            out = float_eval_columns(expr, columns, n)
            if out is not None and np.all(np.abs(out.imag) <= 1e-12 * (1 + np.abs(out.real))):
                real = out.real.reshape(shape)
                return float(real) if shape == () else real
        if not fallback:  # something the compiler does not take: SymPy's own code generation
            fallback.append(sp.lambdify(variables, expr, modules="numpy"))
        return fallback[0](*values)

    return fn, f"the function {variables[0] if len(variables) == 1 else variables} -> {expr}"


def _fmt_arg(a: Any) -> str:
    if isinstance(a, np.ndarray):
        if a.size <= 6 and a.ndim <= 2 and np.issubdtype(a.dtype, np.number):
            # np.array2string costs ~20 ms on a busy machine; labels are made for every input
            if a.ndim == 0:
                return _fmt_num(a.item())
            rows = a.tolist() if a.ndim == 2 else [a.tolist()]
            text = ", ".join("[" + ", ".join(_fmt_num(v) for v in row) + "]" for row in rows)
            return text if a.ndim == 1 else "[" + text + "]"
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
        raw = list(inputs) if inputs is not None else cached_default_inputs(reference)
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
        """Results of ``fn`` on every case: arrays, or a Verdict that ends grading.

        All cases run in one guarded thread (``call_with_timeout``), one after the other: a thread
        per case cost ~3 ms each, and the default inputs are some forty cases.
        """
        # stop student code a little before the overall deadline, so the verdict can still be written
        reserve = max(0.05, 0.15 * opts.timeout)
        calls = Deadline.at(opts.deadline.end - reserve, opts.deadline.clock)
        done: list[tuple[str, Any]] = []
        arguments = [args for args, _, _ in self.cases]

        def run_all() -> None:
            for args in arguments:
                a = copy.deepcopy(args)
                try:
                    value = fn(*a)
                except Timeout:
                    raise
                except BaseException as exc:  # student code may raise anything, SystemExit included
                    done.append(("error", exc))
                    return
                done.append(("ok", value))

        status, error = call_with_timeout(run_all, (), calls)
        k = len(done)
        if status == "timeout" or (status == "error" and k < len(self.cases)):
            where = _fmt_args(self.cases[min(k, len(self.cases) - 1)][1])
            raise _Stop(Verdict.wrong(
                f"Your function did not finish within the time limit on input {where} "
                "(is there an infinite loop?).", "timeout", "timeout", reason="timeout", input=where,
            ))
        if done and done[-1][0] == "error":
            value = done[-1][1]
            where = _fmt_args(self.cases[k - 1][1])
            text = str(value).strip().splitlines()[0][:160] if str(value).strip() else ""
            raise _Stop(Verdict.wrong(
                f"Your function raised {type(value).__name__}{': ' + text if text else ''} "
                f"when called with {where}.", "invalid", "exception", reason="exception", input=where,
            ))
        return [v for _, v in done]

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
            if align(a.shape, e.shape, opts.layout) == "note":
                a = a.reshape(e.shape)  # the same entries in an equivalent layout (shapes.align)
            else:
                sentence = mismatch_sentence(a.shape, e.shape, opts.layout, "your function's result")
                return sentence[0].lower() + sentence[1:].rstrip(".")
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
