"""Robust evaluation of a SymPy expression at real points.

Two tiers: float64 on all sample points at once, through a small compiler from the SymPy tree to
NumPy complex128 operations (``floateval``: no ``lambdify``/``exec``, no per-call code generation); and mpmath
at 30 (then more) significant digits, per point, wherever float64 cannot be trusted (overflow,
``0*inf``, every apparent disagreement).  Guards refuse operations whose result would need
astronomically many digits: such a point "cannot be evaluated" rather than being computed.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Mapping, Sequence

import mpmath
import numpy as np
import sympy as sp

from grader.core.budget import Deadline, Timeout, enforced
from grader.core.floateval import Unsupported as _Unsupported
from grader.core.floateval import float_eval, float_eval_columns

__all__ = [
    "float_eval", "float_eval_columns", "mp_context", "precise", "precise_checked", "evaluate",
    "evaluate_many", "UNDEFINED", "HUGE",
]


class _Huge(Exception):
    """The value needs astronomically many digits; it is treated as not evaluable."""


# ---------------------------------------------------------------------------
# arbitrary-precision tier

_local = threading.local()


def mp_context(dps: int) -> Any:
    """A per-thread mpmath context (mpmath's global one is shared by all threads)."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        ctx = mpmath.MPContext()
        _local.ctx = ctx
    ctx.dps = dps
    return ctx


def _mp_eval(e: sp.Basic, env: Mapping[sp.Symbol, Any], ctx: Any, depth: int = 0) -> Any:
    if depth > 400:
        raise _Unsupported("too deep")
    d = depth + 1
    if e.is_Symbol:
        return env[e]
    if e.is_Integer:
        return ctx.mpf(int(e))
    if e.is_Rational:
        return ctx.mpf(int(e.p)) / int(e.q)
    if e.is_Float:
        return ctx.make_mpf(e._as_mpf_val(ctx.prec))
    if e is sp.pi:
        return +ctx.pi
    if e is sp.E:
        return +ctx.e
    if e is sp.I:
        return ctx.mpc(0, 1)
    if e.is_NumberSymbol or (e.is_number and not e.free_symbols and e.is_Atom):
        return ctx.mpf(str(sp.N(e, ctx.dps + 5)))
    if e.is_Add:
        total = ctx.mpf(0)
        nonzero = False
        for a in e.args:
            term = _mp_eval(a, env, ctx, d)
            nonzero = nonzero or term != 0
            total += term
        if nonzero and total == 0:
            _local.cancelled = True  # non-zero terms summed to exactly 0: digits ran out
        return total
    if e.is_Mul:
        total = ctx.mpf(1)
        for a in e.args:
            total *= _mp_eval(a, env, ctx, d)
        return total
    if e.is_Pow:
        b = _mp_eval(e.base, env, ctx, d)
        if e.exp.is_Integer:
            n = int(e.exp)
            if b == 0 and n < 0:
                raise ZeroDivisionError
            return ctx.power(b, n)
        x = _mp_eval(e.exp, env, ctx, d)
        if b == 0:
            if ctx.re(x) > 0:
                return ctx.mpf(0)
            raise ZeroDivisionError
        _guard_exp(ctx, x * ctx.log(b))
        return ctx.power(b, x)
    if isinstance(e, sp.Piecewise):
        for val, cond in e.args:
            if _mp_cond(cond, env, ctx, d):
                return _mp_eval(val, env, ctx, d)
        raise ValueError("undefined piece")
    args = [_mp_eval(a, env, ctx, d) for a in e.args]
    name = type(e).__name__
    if isinstance(e, sp.exp):
        _guard_exp(ctx, args[0])
        return ctx.exp(args[0])
    if isinstance(e, (sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc, sp.sinh, sp.cosh, sp.tanh,
                      sp.sech, sp.csch, sp.coth)):
        if ctx.mag(args[0]) > 64:
            raise _Huge
        fn = {"sin": ctx.sin, "cos": ctx.cos, "tan": ctx.tan, "cot": ctx.cot, "sec": ctx.sec, "csc": ctx.csc,
              "sinh": ctx.sinh, "cosh": ctx.cosh, "tanh": ctx.tanh,
              "sech": ctx.sech, "csch": ctx.csch, "coth": ctx.coth}[name]
        if name in ("sinh", "cosh", "sech", "csch"):
            _guard_exp(ctx, args[0])
        return fn(args[0])
    simple = {
        "log": ctx.log, "asin": ctx.asin, "acos": ctx.acos, "atan": ctx.atan, "acot": ctx.acot,
        "asinh": ctx.asinh, "acosh": ctx.acosh, "atanh": ctx.atanh, "erf": ctx.erf,
        "conjugate": ctx.conj, "re": ctx.re, "im": ctx.im,
    }
    if name in simple and len(args) == 1:
        return simple[name](args[0])
    if name == "Abs":
        return ctx.mpf(abs(args[0]))
    if name in ("gamma", "factorial"):
        t = _mp_realpart(ctx, args[0]) + (1 if name == "factorial" else 0)
        if abs(t) > 1e6:
            raise _Huge
        return ctx.gamma(t)
    if name == "sign":
        t = _mp_realpart(ctx, args[0])
        return ctx.mpf(ctx.sign(t))
    if name == "floor":
        return ctx.floor(_mp_realpart(ctx, args[0]))
    if name == "ceiling":
        return ctx.ceil(_mp_realpart(ctx, args[0]))
    if name == "Heaviside":
        t = _mp_realpart(ctx, args[0])
        return ctx.mpf(1) if t > 0 else ctx.mpf(0) if t < 0 else ctx.mpf(0.5)
    if name in ("Max", "Min"):
        vals = [_mp_realpart(ctx, a) for a in args]
        return max(vals) if name == "Max" else min(vals)
    if name == "atan2":
        return ctx.atan2(_mp_realpart(ctx, args[0]), _mp_realpart(ctx, args[1]))
    if name == "binomial":
        return ctx.binomial(_mp_realpart(ctx, args[0]), _mp_realpart(ctx, args[1]))
    raise _Unsupported(name)


def _mp_realpart(ctx: Any, v: Any) -> Any:
    if isinstance(v, ctx.mpc):
        if abs(v.imag) > 1e-20 * (1 + abs(v.real)):
            raise ValueError("non-real argument")
        return v.real
    return v


def _guard_exp(ctx: Any, z: Any) -> None:
    r = ctx.re(z)
    if r != 0 and ctx.mag(r) > 40:
        raise _Huge


def _mp_cond(c: sp.Basic, env: Mapping[sp.Symbol, Any], ctx: Any, depth: int) -> bool:
    if c is sp.true:
        return True
    if c is sp.false:
        return False
    if isinstance(c, sp.core.relational.Relational):
        lhs = _mp_realpart(ctx, _mp_eval(c.lhs, env, ctx, depth))
        rhs = _mp_realpart(ctx, _mp_eval(c.rhs, env, ctx, depth))
        return {"<": lhs < rhs, "<=": lhs <= rhs, ">": lhs > rhs, ">=": lhs >= rhs,
                "==": lhs == rhs, "!=": lhs != rhs}[c.rel_op]
    if isinstance(c, sp.And):
        return all(_mp_cond(a, env, ctx, depth + 1) for a in c.args)
    if isinstance(c, sp.Or):
        return any(_mp_cond(a, env, ctx, depth + 1) for a in c.args)
    if isinstance(c, sp.Not):
        return not _mp_cond(c.args[0], env, ctx, depth + 1)
    raise _Unsupported("condition")


UNDEFINED = "undefined"
HUGE = "huge"


def precise(expr: sp.Expr, point: Mapping[sp.Symbol, float], dps: int) -> Any:
    """Value at ``point`` with ``dps`` digits: an mpmath number, or UNDEFINED / HUGE."""
    return precise_checked(expr, point, dps)[0]


def precise_checked(expr: sp.Expr, point: Mapping[sp.Symbol, float], dps: int) -> tuple[Any, bool]:
    """``(precise(expr, point, dps), cancelled)``: ``cancelled`` tells that a sum of non-zero terms
    came out exactly 0 on the way, so an UNDEFINED (``log(1 - 1/(1 + exp(-200)))``) may be an
    artefact of too few digits rather than a point where the expression is undefined."""
    _local.cancelled = False
    v = _precise(expr, point, dps)
    return v, bool(getattr(_local, "cancelled", False))


def _precise(expr: sp.Expr, point: Mapping[sp.Symbol, float], dps: int) -> Any:
    ctx = mp_context(dps)
    env = {s: ctx.mpf(v) for s, v in point.items()}
    try:
        v = _mp_eval(expr, env, ctx)
    except _Huge:
        return HUGE
    except _Unsupported:
        try:
            v = sp.N(expr.xreplace({s: sp.Float(val, 30) for s, val in point.items()}), dps)
            v = ctx.mpmathify(complex(v)) if not v.is_real else ctx.mpf(str(v))
        except Timeout:
            raise
        except Exception:
            return UNDEFINED
    except (ZeroDivisionError, ValueError, OverflowError, TypeError, ArithmeticError):
        return UNDEFINED
    except RecursionError:
        return UNDEFINED
    if not ctx.isfinite(v):
        return UNDEFINED
    return v


# ---------------------------------------------------------------------------
# single-point evaluation (public, reused by the answer key)

def evaluate(expr: sp.Expr, point: Mapping[sp.Symbol, float], *, deadline: Deadline | None = None) -> complex | None:
    """Value of ``expr`` at ``point`` as a complex number, or None where undefined.

    float64 first; mpmath when float64 overflows or gives NaN. Values beyond the
    float range come back with infinite components. Symbols are matched by name.
    """
    expr = sp.sympify(expr) if not isinstance(expr, sp.Basic) else expr
    by_name = {s.name: v for s, v in point.items()}
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    if any(s.name not in by_name for s in syms):
        return None
    pt = {s: float(by_name[s.name]) for s in syms}
    try:
        with enforced(deadline):
            out = float_eval(expr, syms, [pt])
            if out is not None and np.isfinite(out[0]):
                return complex(out[0])
            v = precise(expr, pt, 30)
    except Timeout:
        return None
    if v is UNDEFINED:
        return None
    if v is HUGE:
        return complex(math.inf, 0.0)
    return complex(v)


def evaluate_many(expr: sp.Expr, points: Sequence[Mapping[sp.Symbol, float]]) -> list[Any]:
    """Values at many points: complex, an mpmath number (outside float range), UNDEFINED or HUGE."""
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    pts = [{s: p[s] for s in syms} for p in points]
    if not pts:
        return []
    out = float_eval(expr, syms, pts)
    vals: list[Any] = []
    for i, p in enumerate(pts):
        if out is not None and np.isfinite(out[i]):
            vals.append(complex(out[i]))
        else:
            vals.append(precise(expr, p, 30))
    return vals


