"""Numeric evidence and symbolic proof that two expressions are equal as real functions.

Why this order: sampling is cheap and decides almost every case, and only
sampling can produce a counterexample a student understands ("at x = 0.731 your
answer is 1.21 but the correct value is 2.42"). Symbolic simplification is slow
and fails in both directions (true identities it cannot prove, timeouts), so it
only *confirms* an equality that the numbers already support.

Evaluation runs in two tiers:

* float64 on all sample points at once, through a small compiler from the SymPy
  tree to NumPy complex128 operations (no ``lambdify``/``exec`` and no per-call
  code generation, so a comparison costs well under a millisecond);
* mpmath at 30 (then 60) significant digits, per point, wherever float64 cannot
  be trusted: a non-finite value (overflow of ``(x+1)**100000``, ``0*inf``), and
  every apparent disagreement (which may be cancellation) before it is reported.
  Guards refuse operations whose result would need astronomically many digits
  (``exp`` of a huge argument, ``sin`` of ``x**(10**10)``): such a point is
  treated as "cannot be evaluated" rather than computed.

Symbols are sampled at seeded pseudo-random real points that are never integers,
spread over several scales (mostly in [-3, 3], some of magnitude 3..300, some
small), respecting assumptions (positive, negative, integer, nonzero).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence

import mpmath
import numpy as np
import sympy as sp

from grader.budget import Deadline, Timeout, enforced

# Modules that SymPy's simplify family imports lazily on first use. Importing them now means a
# deadline can never interrupt (and leave half-initialised) an import in the middle of a proof.
import sympy.assumptions.wrapper  # noqa: E402,F401
import sympy.combinatorics  # noqa: E402,F401
import sympy.physics.matrices  # noqa: E402,F401
import sympy.physics.units  # noqa: E402,F401
import sympy.sets.handlers.issubset  # noqa: E402,F401
import sympy.sets.setexpr  # noqa: E402,F401
import sympy.tensor.tensor  # noqa: E402,F401

__all__ = [
    "SEED",
    "sample_points",
    "evaluate",
    "evaluate_many",
    "Counterexample",
    "Evidence",
    "numeric_compare",
    "values_close",
    "prove_equal",
    "format_value",
    "format_point",
]

SEED = 20_260_421
N_POINTS = 14
MIN_VALID = 6


# ---------------------------------------------------------------------------
# sampling

def _nice(v: float) -> float:
    """Round to a short decimal that is not an integer (readable counterexamples)."""
    if v == 0:
        return 0.137
    mag = abs(v)
    r = float(f"{v:.3g}") if mag < 10 else round(v, 1)
    if r == int(r):
        step = 0.1 if mag >= 10 else 10 ** (math.floor(math.log10(mag)) - 1) if mag < 1 else 0.01
        r = r + step if r >= 0 else r - step
        r = float(f"{r:.4g}") if mag < 10 else round(r, 1)
    return r


def _draw(rng: random.Random, sym: sp.Symbol, i: int) -> float:
    slot = i % 7
    if sym.is_integer:
        if sym.is_positive:
            return float(rng.randint(1, 25))
        if sym.is_nonnegative:
            return float(rng.randint(0, 25))
        if sym.is_negative:
            return float(-rng.randint(1, 25))
        if sym.is_nonpositive:
            return float(-rng.randint(0, 25))
        v = rng.randint(-15, 15)
        return float(v if (v != 0 or not sym.is_nonzero) else 1)
    if sym.is_positive or sym.is_nonnegative or sym.is_negative or sym.is_nonpositive:
        if slot in (3, 6):
            mag = math.exp(rng.uniform(math.log(3.0), math.log(300.0)))
        elif slot == 5:
            mag = math.exp(rng.uniform(math.log(0.002), math.log(0.2)))
        else:
            mag = math.exp(rng.uniform(math.log(0.1), math.log(3.0)))
        mag = _nice(mag)
        return -mag if (sym.is_negative or sym.is_nonpositive) else mag
    if slot in (3, 6):
        v = rng.choice((-1.0, 1.0)) * math.exp(rng.uniform(math.log(3.0), math.log(300.0)))
    elif slot == 5:
        v = rng.choice((-1.0, 1.0)) * math.exp(rng.uniform(math.log(0.002), math.log(0.2)))
    else:
        v = rng.uniform(-3.0, 3.0)
    return _nice(v)


def sample_points(symbols: Iterable[sp.Symbol], n: int, seed: int = SEED) -> list[dict[sp.Symbol, float]]:
    """``n`` seeded sample points (dicts symbol -> float) that respect the symbols' assumptions.

    The same (symbol names and assumptions, n, seed) always give the same points.
    """
    syms = sorted(set(symbols), key=lambda s: s.name)
    rng = random.Random(seed)
    pts: list[dict[sp.Symbol, float]] = []
    for i in range(n):
        pts.append({s: _draw(rng, s, i) for s in syms})
    return pts


def _narrow_points(symbols: Sequence[sp.Symbol], n: int, seed: int) -> list[dict[sp.Symbol, float]]:
    """Extra points for references defined on a small domain (sqrt(1 - x**2), log(x - 50))."""
    rng = random.Random(seed)
    pts = []
    for i in range(n):
        pt = {}
        for s in symbols:
            if s.is_integer:
                pt[s] = _draw(rng, s, i)
                continue
            scale = (1.0, 0.3, 10.0, 100.0, 1000.0)[i % 5]
            v = _nice(rng.uniform(-scale, scale))
            if s.is_positive or s.is_nonnegative:
                v = abs(v)
            if s.is_negative or s.is_nonpositive:
                v = -abs(v)
            pt[s] = v
        pts.append(pt)
    return pts


# ---------------------------------------------------------------------------
# float64 tier: SymPy tree -> closure over NumPy complex arrays

class _Unsupported(Exception):
    pass


class _Huge(Exception):
    """The value needs astronomically many digits; it is treated as not evaluable."""


Env = Mapping[sp.Symbol, np.ndarray]
_NPFn = Callable[[Env], np.ndarray]


def _real(z: np.ndarray) -> np.ndarray:
    return np.where(np.abs(z.imag) <= 1e-12 * np.abs(z.real) + 1e-300, z.real, np.nan)


def _np_unary(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[list[_NPFn]], _NPFn]:
    def make(args: list[_NPFn]) -> _NPFn:
        (a,) = args
        return lambda env: fn(a(env))

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
    sp.asin: _np_unary(np.arcsin), sp.acos: _np_unary(np.arccos), sp.atan: _np_unary(np.arctan),
    sp.acot: _np_unary(lambda z: np.arctan(1 / z)),
    sp.sinh: _np_unary(np.sinh), sp.cosh: _np_unary(np.cosh), sp.tanh: _np_unary(np.tanh),
    sp.asinh: _np_unary(np.arcsinh), sp.acosh: _np_unary(np.arccosh), sp.atanh: _np_unary(np.arctanh),
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
            return lambda env: np.sqrt(base(env))
        if ex == -sp.S.Half:
            return lambda env: 1 / np.sqrt(base(env))
        if ex.is_Integer:
            n = int(ex)
            if abs(n) <= 64:
                if n >= 0:
                    return lambda env: base(env) ** n
                return lambda env: 1 / base(env) ** (-n)
            fn = float(n)
            return lambda env: np.power(base(env), fn)
        expo = _np_build(ex, d)
        return lambda env: np.power(base(env), expo(env))
    if isinstance(e, sp.log):
        if len(e.args) != 1:
            raise _Unsupported("log base")
        a = _np_build(e.args[0], d)
        return lambda env: np.log(a(env))
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


def _float_eval(expr: sp.Expr, symbols: Sequence[sp.Symbol], points: Sequence[Mapping[sp.Symbol, float]]) -> np.ndarray | None:
    """Values at all points as complex128 (nan where undefined); None if unsupported."""
    try:
        fn = _np_compile(expr)
    except (_Unsupported, RecursionError, TypeError, ValueError):
        return None
    env = {s: np.array([p[s] for p in points], dtype=complex) for s in symbols}
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


def _ctx(dps: int) -> Any:
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
        for a in e.args:
            total += _mp_eval(a, env, ctx, d)
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


def _precise(expr: sp.Expr, point: Mapping[sp.Symbol, float], dps: int) -> Any:
    """Value at ``point`` with ``dps`` digits: an mpmath number, or UNDEFINED / HUGE."""
    ctx = _ctx(dps)
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
            out = _float_eval(expr, syms, [pt])
            if out is not None and np.isfinite(out[0]):
                return complex(out[0])
            v = _precise(expr, pt, 30)
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
    out = _float_eval(expr, syms, pts)
    vals: list[Any] = []
    for i, p in enumerate(pts):
        if out is not None and np.isfinite(out[i]):
            vals.append(complex(out[i]))
        else:
            vals.append(_precise(expr, p, 30))
    return vals


# ---------------------------------------------------------------------------
# comparing values

def _is_mpc(v: Any) -> bool:
    # each mpmath context has its own number classes, so test by duck type
    return hasattr(v, "_mpc_")


def _is_real(v: Any) -> bool:
    if isinstance(v, complex):
        return abs(v.imag) <= 1e-9 * abs(v) + 1e-300
    if _is_mpc(v):
        return abs(v.imag) <= 1e-9 * abs(v)
    return True


def _re(v: Any) -> Any:
    if isinstance(v, complex) or _is_mpc(v):
        return v.real
    return v


def values_close(a: Any, e: Any, rtol: float, atol: float) -> bool:
    """|a - e| <= atol + rtol * |e| for complex or mpmath values."""
    if isinstance(a, complex) and isinstance(e, complex):
        return abs(a - e) <= atol + rtol * abs(e)
    ctx = _ctx(30)
    a_, e_ = ctx.mpmathify(a), ctx.mpmathify(e)
    return bool(abs(a_ - e_) <= atol + rtol * abs(e_))


def format_value(v: Any) -> str:
    """Short human form of a value (4 significant digits)."""
    if v is UNDEFINED or v is None:
        return "undefined"
    if v is HUGE:
        return "astronomically large"
    if (isinstance(v, complex) or _is_mpc(v)) and not _is_real(v):
        re_, im_ = v.real, v.imag
        return f"{_fmt_real(re_)} {'+' if im_ >= 0 else '-'} {_fmt_real(abs(im_))}i"
    return _fmt_real(_re(v))


def _fmt_real(r: Any) -> str:
    if isinstance(r, (int, float, np.floating)):
        r = float(r)
        if r == 0:
            return "0"
        if 1e-4 <= abs(r) < 1e6:
            s = f"{r:.4g}"
        else:
            s = f"{r:.3e}".replace("e+0", "e+").replace("e-0", "e-")
        return s
    if r == 0:
        return "0"
    s = mpmath.nstr(r, 4, min_fixed=-4, max_fixed=6)
    return s[:-2] if s.endswith(".0") else s


def format_pair(a: Any, e: Any) -> tuple[str, str]:
    """Format two values with just enough digits to show that they differ."""
    sa, se = format_value(a), format_value(e)
    if sa != se or a is e:
        return sa, se
    for digits in (6, 9, 12, 15):
        try:
            ra, re_ = _re(a), _re(e)
            if not (_is_real(a) and _is_real(e)):
                break
            sa = mpmath.nstr(mpmath.mpf(ra), digits)
            se = mpmath.nstr(mpmath.mpf(re_), digits)
        except Exception:
            break
        if sa != se:
            break
    return sa, se


def format_point(point: Mapping[sp.Symbol, float]) -> str:
    return ", ".join(f"{s.name} = {_fmt_real(float(v))}" for s, v in sorted(point.items(), key=lambda kv: kv[0].name))


@dataclass
class Counterexample:
    point: dict[sp.Symbol, float]
    answer: Any
    expected: Any
    reason: str  # "value" | "undefined" | "complex" | "huge"

    def to_dict(self) -> dict[str, Any]:
        def num(v: Any) -> Any:
            if v is UNDEFINED or v is None:
                return None
            if v is HUGE:
                return "huge"
            if _is_real(v):
                return float(_re(v))
            return {"re": float(v.real), "im": float(v.imag)}  # a complex value

        return {
            "point": {s.name: v for s, v in sorted(self.point.items(), key=lambda kv: kv[0].name)},
            "answer": num(self.answer),
            "expected": num(self.expected),
            "reason": self.reason,
        }

    def sentence(self, subject: str = "your answer", noun: str = "the correct value") -> str:
        where = f"at {format_point(self.point)} " if self.point else ""
        shown_a, exp = format_pair(self.answer, self.expected)
        if self.reason == "undefined":
            return f"{where}{subject} is undefined, but {noun} is {exp}".strip()
        if self.reason == "huge":
            return f"{where}{subject} is astronomically large, but {noun} is {exp}".strip()
        if self.reason == "complex":
            return f"{where}{subject} is not a real number ({format_value(self.answer)}), but {noun} is {exp}".strip()
        return f"{where}{subject} is {shown_a} but {noun} is {exp}".strip()


@dataclass
class Evidence:
    """Outcome of sampling two expressions."""

    status: str  # "equal" | "different" | "undetermined"
    points: list[dict[sp.Symbol, float]] = field(default_factory=list)
    answer_values: list[Any] = field(default_factory=list)
    expected_values: list[Any] = field(default_factory=list)
    counterexample: Counterexample | None = None


def _classify(a: Any, e: Any, rtol: float, atol: float) -> str | None:
    """None when equal at this point, else the reason they differ."""
    if a is UNDEFINED:
        return "undefined"
    if a is HUGE:
        return "huge"
    if not _is_real(a):
        return "complex"
    if values_close(_re(a), _re(e), rtol, atol):
        return None
    return "value"


def numeric_compare(
    answer: sp.Expr,
    expected: sp.Expr,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    seed: int = SEED,
    n: int = N_POINTS,
    deadline: Deadline | None = None,
) -> Evidence:
    """Compare two expressions at seeded points where ``expected`` is real and finite."""
    syms = sorted(answer.free_symbols | expected.free_symbols, key=lambda s: s.name)
    if not syms:
        batches: list[list[dict[sp.Symbol, float]]] = [[{}]]
    else:
        batches = [sample_points(syms, n, seed), _narrow_points(syms, 40, seed + 1)]
    points: list[dict[sp.Symbol, float]] = []
    e_vals: list[Any] = []
    for batch in batches:
        ev = _float_eval(expected, syms, batch)
        for i, p in enumerate(batch):
            v: Any = None
            if ev is not None and np.isfinite(ev[i]):
                v = complex(ev[i])
            else:
                v = _precise(expected, p, 30)
                if v is UNDEFINED or v is HUGE:
                    continue
            if not _is_real(v):
                continue
            points.append(p)
            e_vals.append(v)
        if len(points) >= MIN_VALID:
            break
        if deadline is not None and deadline.expired():
            raise Timeout
    if not points:
        return Evidence("undetermined")
    av = _float_eval(answer, syms, points)
    a_vals: list[Any] = []
    suspects: list[int] = []
    for i, p in enumerate(points):
        a: Any = complex(av[i]) if av is not None and np.isfinite(av[i]) else None
        e = e_vals[i]
        if a is None or not isinstance(e, complex):
            a = _precise(answer, p, 30)
            if not isinstance(e, complex) or a is UNDEFINED or a is HUGE:
                pass
        a_vals.append(a)
        if _classify(a, e, rtol, atol) is not None:
            suspects.append(i)
    if not suspects:
        return Evidence("equal", points, a_vals, e_vals)
    # confirm the disagreement at higher precision, nicest point first
    suspects.sort(key=lambda i: (sum(abs(math.log10(abs(v) + 1e-12)) for v in points[i].values()), i))
    for k, i in enumerate(suspects):
        if k >= 4 and deadline is not None and deadline.expired():
            raise Timeout
        p = points[i]
        e_hi = _stable_precise(expected, p)
        if e_hi is UNDEFINED or e_hi is HUGE or not _is_real(e_hi):
            continue
        a_hi = _stable_precise(answer, p)
        reason = _classify(a_hi, e_hi, rtol, atol)
        if reason is None:
            a_vals[i], e_vals[i] = a_hi, e_hi  # a float64 artefact (overflow, cancellation)
            continue
        return Evidence("different", points, a_vals, e_vals, Counterexample(dict(p), a_hi, e_hi, reason))
    return Evidence("equal", points, a_vals, e_vals)


def _stable_precise(expr: sp.Expr, point: Mapping[sp.Symbol, float]) -> Any:
    """Value at ``point`` at a precision where doubling the digits no longer changes it.

    Cancellation (cosh(x)**2 - sinh(x)**2 at x = 66) eats digits; the working
    precision is doubled (30, 60, 120, ... 480 digits) until two results agree.
    """
    prev = _precise(expr, point, 30)
    dps = 60
    while True:
        cur = _precise(expr, point, dps)
        if cur is UNDEFINED or cur is HUGE or prev is UNDEFINED or prev is HUGE:
            return cur
        if values_close(cur, prev, 1e-12, 0.0) or dps >= 480:
            return cur if values_close(cur, prev, 1e-12, 1e-300) or dps < 480 else UNDEFINED
        prev, dps = cur, dps * 2


# ---------------------------------------------------------------------------
# symbolic confirmation

MAX_PROOF_NODES = 600
MAX_EXPAND_DEGREE = 40


def _node_count(expr: sp.Basic, limit: int) -> int:
    n = 0
    for _ in sp.preorder_traversal(expr):
        n += 1
        if n > limit:
            break
    return n


def _expand_is_safe(expr: sp.Basic) -> bool:
    for p in expr.atoms(sp.Pow):
        if p.exp.is_Number and abs(p.exp) > MAX_EXPAND_DEGREE and not p.base.is_Atom:
            return False
        if p.exp.is_Number and abs(p.exp) > 10**6:
            return False
        if not p.exp.is_Number and p.exp.has(sp.Pow) and not p.base.is_Atom:
            return False
    return True


def _is_zero(expr: sp.Basic) -> bool:
    return expr == 0 or (expr.is_number and expr.is_zero is True)


def prove_equal(answer: sp.Expr, expected: sp.Expr, deadline: Deadline | None = None) -> bool | None:
    """True when SymPy proves ``answer == expected`` before ``deadline``; None otherwise.

    Cheap tactics first (structure, expand/cancel with size guards), then the
    simplify family; ``force=True`` variants are sound here because the symbols
    are real and numeric agreement on the reference's domain has been shown.
    """
    if answer == expected:
        return True
    try:
        with enforced(deadline):
            diff = answer - expected
            if _is_zero(diff):
                return True
            if _node_count(diff, MAX_PROOF_NODES) > MAX_PROOF_NODES:
                return None
            if not _expand_is_safe(diff):
                # simplify would expand (x+1)**100000 in a loop that no tracer can interrupt
                return None
            if diff.has(sp.Float):
                # 0.5*x**-0.5 - 1/(2*sqrt(x)): floats that are exactly short decimals become rationals
                diff = sp.nsimplify(diff, rational=True)
                if _is_zero(diff):
                    return True
            trig = diff.has(sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc)
            hyper = diff.has(sp.sinh, sp.cosh, sp.tanh, sp.exp)
            logs = diff.has(sp.log) or any(not p.exp.is_Integer for p in diff.atoms(sp.Pow))
            # cheapest first; measured on the benchmark corpus, the rewrite to exponentials settles most
            # trig, hyperbolic and sigmoid identities in 5-30 ms where simplify needs 30-130 ms
            tactics: list[Callable[[sp.Expr], sp.Expr]] = [lambda d: sp.expand(d)]
            if diff.is_rational_function():
                tactics.append(lambda d: sp.cancel(d))
            if trig:
                tactics.append(lambda d: sp.expand(sp.expand_trig(d)))
            if trig or hyper:
                tactics.append(lambda d: sp.factor_terms(sp.together(sp.expand(d.rewrite(sp.exp)))))
            if trig:
                tactics.append(lambda d: sp.fu(d))
            if logs:
                tactics.append(
                    lambda d: sp.expand(sp.powdenest(sp.expand_log(d, force=True), force=True), force=True)
                )
            if diff.has(sp.Abs, sp.sign, sp.Max, sp.Min, sp.Heaviside, sp.Piecewise):
                # ReLU-style answers: split into cases (Max(0, x) == (x + |x|)/2)
                tactics.append(lambda d: sp.piecewise_fold(d.rewrite(sp.Piecewise)).simplify())
            tactics += [
                lambda d: sp.simplify(d),
                lambda d: sp.simplify(sp.logcombine(sp.expand_log(d, force=True), force=True)),
                lambda d: sp.simplify(sp.powsimp(sp.powdenest(d, force=True), force=True)),
            ]
            for tactic in tactics:
                try:
                    if _is_zero(tactic(diff)):
                        return True
                except Timeout:
                    raise
                except Exception:
                    continue
    except Timeout:
        return None
    except RecursionError:
        return None
    return None
