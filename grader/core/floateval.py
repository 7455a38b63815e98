"""The float64 tier of evaluation: a small compiler from a SymPy tree to NumPy complex128 operations.

Why: evaluating an expression at all sample points at once must cost well under a millisecond, without
``lambdify``/``exec`` (no code generation from student input). Every argument of a function with a
branch cut has its negative-zero imaginary parts made +0.0 first (``_pz``), so a real expression
evaluated in complex arithmetic takes the same branch as in real analysis. Used by ``evaluation``
(which adds the mpmath tier) and ``exactness`` (values along lines).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

__all__ = ["Unsupported", "float_eval", "float_eval_columns"]


class Unsupported(Exception):
    """An expression (or part) that a tier of evaluation does not handle; the next tier is tried."""


_Unsupported = Unsupported


# ---------------------------------------------------------------------------
# float64 tier: SymPy tree -> closure over NumPy complex arrays

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
    sp.sech: _np_unary(lambda z: 1 / np.cosh(z)), sp.csch: _np_unary(lambda z: 1 / np.sinh(z)),
    sp.coth: _np_unary(lambda z: 1 / np.tanh(z)),
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
