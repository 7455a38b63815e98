"""Robust evaluation of a SymPy expression at real points.

Two tiers: float64 on all sample points at once, through a small compiler from the SymPy tree to
NumPy complex128 operations (no ``lambdify``/``exec``, no per-call code generation); and mpmath
at 30 (then more) significant digits, per point, wherever float64 cannot be trusted (overflow,
``0*inf``, every apparent disagreement).  Guards refuse operations whose result would need
astronomically many digits: such a point "cannot be evaluated" rather than being computed.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy as sp

from grader.core.budget import Deadline, Timeout, enforced



# ---------------------------------------------------------------------------
# float64 tier: SymPy tree -> closure over NumPy complex arrays

class _Unsupported(Exception):
    pass


class _Huge(Exception):
    """The value needs astronomically many digits; it is treated as not evaluable."""


Env = Mapping[sp.Symbol, np.ndarray]
_NPFn = Callable[[Env], np.ndarray]


def _pz(z: Any) -> Any:
    """``z`` with every negative-zero imaginary part made +0.0 (``-0.0 + 0.0 == +0.0`` in IEEE 754).

    Why: the sample points are real, but complex128 arithmetic signs its zeros: ``3/(-2+0j)`` is
    ``-1.5-0j``, and ``sqrt(-1.5-0j)`` is ``-1.22j`` where the real-analysis value (SymPy's, mpmath's)
    is ``+1.22j``. Left alone, ``sqrt(k/m)*sqrt(m/k)`` comes out as 1 for k, m of opposite signs
    (it is -1 there), a false accept. Every argument of a function with a branch cut goes through here.
    """
    return z + 0j


def _real(z: np.ndarray) -> np.ndarray:
    return np.where(np.abs(z.imag) <= 1e-12 * np.abs(z.real) + 1e-300, z.real, np.nan)


def _np_unary(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[list[_NPFn]], _NPFn]:
    def make(args: list[_NPFn]) -> _NPFn:
        (a,) = args
        return lambda env: fn(a(env))

    return make


def _np_cut(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[list[_NPFn]], _NPFn]:
    """A function with a branch cut: its argument's signed zeros are normalised first (see ``_pz``)."""
    def make(args: list[_NPFn]) -> _NPFn:
        (a,) = args
        return lambda env: fn(_pz(a(env)))

    return make


def _np_real_unary(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[list[_NPFn]], _NPFn]:
    def make(args: list[_NPFn]) -> _NPFn:
        (a,) = args
        return lambda env: fn(_real(a(env))).astype(complex)

    return make


_vec_erf = np.frompyfunc(lambda t: math.erf(t) if t == t else math.nan, 1, 1)


def _safe_gamma(t: float) -> float:
    try:
        return math.gamma(t) if t == t else math.nan
    except (ValueError, OverflowError):
        return math.nan


_vec_gamma = np.frompyfunc(_safe_gamma, 1, 1)


def _heaviside(t: np.ndarray) -> np.ndarray:
    return np.where(t > 0, 1.0, np.where(t < 0, 0.0, 0.5))


_NP_FUNCS: dict[type, Callable[[list[_NPFn]], _NPFn]] = {
    sp.sin: _np_unary(np.sin), sp.cos: _np_unary(np.cos), sp.tan: _np_unary(np.tan),
    sp.cot: _np_unary(lambda z: 1 / np.tan(z)), sp.sec: _np_unary(lambda z: 1 / np.cos(z)),
    sp.csc: _np_unary(lambda z: 1 / np.sin(z)),
    sp.asin: _np_cut(np.arcsin), sp.acos: _np_cut(np.arccos), sp.atan: _np_cut(np.arctan),
    sp.acot: _np_cut(lambda z: np.arctan(_pz(1 / z))),
    sp.sinh: _np_unary(np.sinh), sp.cosh: _np_unary(np.cosh), sp.tanh: _np_unary(np.tanh),
    sp.asinh: _np_cut(np.arcsinh), sp.acosh: _np_cut(np.arccosh), sp.atanh: _np_cut(np.arctanh),
    sp.exp: _np_unary(np.exp),
    sp.Abs: _np_unary(lambda z: np.abs(z).astype(complex)),
    sp.sign: _np_real_unary(np.sign),
    sp.floor: _np_real_unary(np.floor), sp.ceiling: _np_real_unary(np.ceil),
    sp.Heaviside: _np_real_unary(_heaviside),
    sp.erf: _np_real_unary(lambda t: _vec_erf(t).astype(float)),
    sp.gamma: _np_real_unary(lambda t: _vec_gamma(t).astype(float)),
    sp.factorial: _np_real_unary(lambda t: _vec_gamma(t + 1).astype(float)),
    sp.re: _np_unary(lambda z: z.real.astype(complex)), sp.im: _np_unary(lambda z: z.imag.astype(complex)),
    sp.conjugate: _np_unary(np.conj),
}


def _np_compile(expr: sp.Basic) -> _NPFn:
    return _np_compile_cached(expr)


@lru_cache(maxsize=2048)
def _np_compile_cached(expr: sp.Basic) -> _NPFn:
    return _np_build(expr, 0)


def _np_build(e: sp.Basic, depth: int) -> _NPFn:
    if depth > 400:
        raise _Unsupported("too deep")
    d = depth + 1
    if e.is_Symbol:
        return lambda env, s=e: env[s]
    if e.is_Number or e.is_NumberSymbol or e is sp.I:
        try:
            c = complex(e)
        except (OverflowError, TypeError, ValueError):
            raise _Unsupported("number out of float range")
        if not (math.isfinite(c.real) and math.isfinite(c.imag)):
            raise _Unsupported("number out of float range")
        return lambda env, c=c: c
    if e.is_Add:
        parts = [_np_build(a, d) for a in e.args]

        def add(env: Env, parts: list[_NPFn] = parts) -> np.ndarray:
            total = parts[0](env)
            for p in parts[1:]:
                total = total + p(env)
            return total

        return add
    if e.is_Mul:
        parts = [_np_build(a, d) for a in e.args]

        def mul(env: Env, parts: list[_NPFn] = parts) -> np.ndarray:
            total = parts[0](env)
            for p in parts[1:]:
                total = total * p(env)
            return total

        return mul
    if e.is_Pow:
        base = _np_build(e.base, d)
        ex = e.exp
        if ex == sp.S.Half:
            return lambda env: np.sqrt(_pz(base(env)))
        if ex == -sp.S.Half:
            return lambda env: 1 / np.sqrt(_pz(base(env)))
        if ex.is_Integer:
            n = int(ex)
            if abs(n) <= 64:
                if n >= 0:
                    return lambda env: base(env) ** n
                return lambda env: 1 / base(env) ** (-n)
            fn = float(n)
            return lambda env: np.power(base(env), fn)
        expo = _np_build(ex, d)
        return lambda env: np.power(_pz(base(env)), expo(env))
    if isinstance(e, sp.log):
        if len(e.args) != 1:
            raise _Unsupported("log base")
        a = _np_build(e.args[0], d)
        return lambda env: np.log(_pz(a(env)))
    if isinstance(e, (sp.Max, sp.Min)):
        parts = [_np_build(a, d) for a in e.args]
        red = np.maximum if isinstance(e, sp.Max) else np.minimum

        def mm(env: Env) -> np.ndarray:
            vals = [_real(p(env)) for p in parts]
            out = vals[0]
            for v in vals[1:]:
                out = red(out, v)
            return out.astype(complex)

        return mm
    if isinstance(e, sp.atan2):
        y, x = (_np_build(a, d) for a in e.args)
        return lambda env: np.arctan2(_real(y(env)), _real(x(env))).astype(complex)
    if isinstance(e, sp.Piecewise):
        pieces = [(_np_build(ex_, d), _np_cond(c, d)) for ex_, c in e.args]

        def pw(env: Env) -> np.ndarray:
            out: np.ndarray | None = None
            taken: np.ndarray | None = None
            for val, cond in pieces:
                c = cond(env)
                v = val(env)
                if out is None:
                    shape = np.broadcast(v, c).shape
                    out = np.full(shape, np.nan, dtype=complex)
                    taken = np.zeros(shape, dtype=bool)
                sel = np.broadcast_to(c, out.shape) & ~taken
                out = np.where(sel, v, out)
                taken = taken | sel
            return out

        return pw
    fn = _NP_FUNCS.get(type(e))
    if fn is None:
        for klass, maker in _NP_FUNCS.items():
            if isinstance(e, klass):
                fn = maker
                break
    if fn is None or len(e.args) != 1:
        raise _Unsupported(type(e).__name__)
    return fn([_np_build(a, d) for a in e.args])


def _np_cond(c: sp.Basic, depth: int) -> Callable[[Env], np.ndarray]:
    if c is sp.true:
        return lambda env: np.bool_(True)
    if c is sp.false:
        return lambda env: np.bool_(False)
    if isinstance(c, sp.core.relational.Relational):
        lhs, rhs = _np_build(c.lhs, depth), _np_build(c.rhs, depth)
        ops = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
               "==": np.equal, "!=": np.not_equal}
        op = ops.get(c.rel_op)
        if op is None:
            raise _Unsupported("relation")
        return lambda env: op(_real(lhs(env)), _real(rhs(env)))
    if isinstance(c, (sp.And, sp.Or)):
        parts = [_np_cond(a, depth + 1) for a in c.args]
        red = np.logical_and if isinstance(c, sp.And) else np.logical_or

        def both(env: Env) -> np.ndarray:
            out = parts[0](env)
            for p in parts[1:]:
                out = red(out, p(env))
            return out

        return both
    if isinstance(c, sp.Not):
        inner = _np_cond(c.args[0], depth + 1)
        return lambda env: np.logical_not(inner(env))
    raise _Unsupported("condition")


def float_eval(expr: sp.Expr, symbols: Sequence[sp.Symbol], points: Sequence[Mapping[sp.Symbol, float]]) -> np.ndarray | None:
    """Values at all points as complex128 (nan where undefined); None if unsupported."""
    env = {s: np.array([p[s] for p in points], dtype=complex) for s in symbols}
    return float_eval_columns(expr, env, len(points))


def float_eval_columns(expr: sp.Expr, columns: Mapping[sp.Symbol, np.ndarray], n: int) -> np.ndarray | None:
    """``float_eval`` with the points given as one array of values per symbol (``n`` points)."""
    try:
        fn = _np_compile(expr)
    except (_Unsupported, RecursionError, TypeError, ValueError):
        return None
    env = {s: np.asarray(c, dtype=complex) for s, c in columns.items()}
    points = range(n)
    with np.errstate(all="ignore"):
        try:
            out = fn(env)
        except (_Unsupported, TypeError, ValueError, ZeroDivisionError, OverflowError, FloatingPointError):
            return None
    out = np.asarray(out, dtype=complex)
    if out.shape != (len(points),):
        out = np.broadcast_to(out, (len(points),)).copy()
    return out


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


HUGE_BITS = 10**7  # |log2(value)| beyond which arguments of exp/sin/... are refused


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
    if isinstance(e, (sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc, sp.sinh, sp.cosh, sp.tanh)):
        if ctx.mag(args[0]) > 64:
            raise _Huge
        fn = {"sin": ctx.sin, "cos": ctx.cos, "tan": ctx.tan, "cot": ctx.cot, "sec": ctx.sec, "csc": ctx.csc,
              "sinh": ctx.sinh, "cosh": ctx.cosh, "tanh": ctx.tanh}[name]
        if name in ("sinh", "cosh"):
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


