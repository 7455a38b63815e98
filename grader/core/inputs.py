"""Default inputs of function answers: where a reference function is called when a question names none.

Why a module of its own: choosing inputs is its own concern (scales, shapes, the reference's special
points), and ``functions`` only runs both functions on them. A sigmoid derivative a student sets to 0
for |z| > 8, a ReLU whose kink moved, a hinge at 0 instead of 1: fixed inputs a unit apart near the
origin miss all three; inputs at several scales and at the reference's own special points do not.
"""

from __future__ import annotations

import inspect
import random
import warnings
import weakref
from typing import Any, Callable

import numpy as np

from grader.core.budget import Deadline, Timeout, enforced

__all__ = ["default_inputs", "special_points", "cached_default_inputs", "warm_default_inputs"]


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


_SCALARS = (0.5, -1.3, 2.7, 0.0, 1.9, -0.25, 7.5, -3.1, 0.01)
# far out, both signs: saturating shortcuts (a sigmoid derivative set to 0 beyond |z| = 8), clipped
# tails and kinks far from the origin are what ML students write
_FAR = (10.0, -10.0, 13.0, -16.0, 20.0, -25.0, 40.0, -100.0, 1000.0)
# the scan of the reference (one argument): log-spaced magnitudes of both signs, and a fine grid near 0
_SCAN = np.unique(np.concatenate([
    -np.geomspace(1e-3, 1e3, 61), np.geomspace(1e-3, 1e3, 61), np.linspace(-12.0, 12.0, 97), [0.0],
]))
_KINK_GRIDS = (np.linspace(-12.0, 12.0, 97), np.linspace(-120.0, 120.0, 97))
MAX_SPECIAL = 8  # special points of the reference kept (each with a point either side) as scalar inputs


def _scan(reference: Callable[..., Any], grid: np.ndarray = _SCAN) -> np.ndarray:
    """The reference's values on ``grid`` (NaN where it fails or is not a finite real scalar).

    One vectorised call when the reference takes arrays (and agrees with itself on a few scalars),
    else one call per point.
    """
    out = np.full(grid.size, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            v = np.asarray(reference(grid.copy()), dtype=float)
            if v.shape == grid.shape:
                probe = [0, grid.size // 3, grid.size - 1]
                same = all(np.allclose(float(np.asarray(reference(float(grid[i])), dtype=float).reshape(-1)[0]),
                                       v[i], rtol=1e-9, atol=0, equal_nan=True) for i in probe)
                if same:
                    return np.where(np.isfinite(v), v, np.nan)
        except Exception:
            pass
        for i, t in enumerate(grid):
            try:
                v = np.asarray(reference(float(t)), dtype=float)
            except Exception:
                continue
            if v.size == 1 and np.isfinite(v).all():
                out[i] = float(v.reshape(-1)[0])
    return out


def special_points(reference: Callable[..., Any], values: np.ndarray | None = None) -> list[float]:
    """Where a one-argument reference is special: its zeros, kinks and switches (a Piecewise or a max
    changes branch), and where it starts to saturate (becomes constant towards +-infinity).

    Why: a wrong answer hides exactly there (a ReLU with the kink moved, a hinge at 0 instead of 1,
    a clipped tail); seeded inputs a fixed distance apart rarely land on both sides of such a point.
    Found by scanning ``_SCAN`` (a trusted reference, called a few hundred times once per question).
    """
    f = _scan(reference) if values is None else values
    t = _SCAN
    pts: list[float] = []
    ok = np.isfinite(f)
    # zeros: sign changes, refined by bisection
    for i in np.nonzero(ok[:-1] & ok[1:] & (np.sign(f[:-1]) * np.sign(f[1:]) < 0))[0]:
        lo, hi, flo = float(t[i]), float(t[i + 1]), float(f[i])
        for _ in range(40):
            mid = (lo + hi) / 2
            try:
                fm = float(np.asarray(reference(mid), dtype=float).reshape(-1)[0])
            except Exception:
                break
            if not np.isfinite(fm):
                break
            if np.sign(fm) == np.sign(flo):
                lo, flo = mid, fm
            else:
                hi = mid
        pts.append((lo + hi) / 2)
    coarse: list[float] = []  # kinks seen on the coarse grid come last (zeros, fine kinks, saturation first)
    # kinks and switches: an isolated spike of the second difference on a uniform grid
    for grid in _KINK_GRIDS:
        g = _scan(reference, grid)
        d2 = np.abs(g[:-2] - 2 * g[1:-1] + g[2:])
        if d2.size < 8:
            continue
        padded = np.concatenate([np.full(3, np.nan), d2, np.full(3, np.nan)])
        base = np.fmax(padded[:-6], padded[6:])
        level = 1e-9 * (1 + np.nanmax(np.abs(g))) if np.isfinite(g).any() else np.inf
        with np.errstate(invalid="ignore"):
            spikes = np.nonzero((d2 > 8 * np.nan_to_num(base, nan=0.0)) & (d2 > level))[0]
        (pts if grid is _KINK_GRIDS[0] else coarse).extend(float(grid[i + 1]) for i in spikes)
    # saturation: the last point before the reference is constant all the way out, on each side
    for side in (t > 0, t < 0):
        idx = np.nonzero(side & ok)[0]
        if idx.size < 3:
            continue
        far = f[idx[-1]] if side[-1] else f[idx[0]]
        flat = np.abs(f[idx] - far) <= 1e-12 * (1 + abs(far))
        order = idx if side[-1] else idx[::-1]
        flat = flat if side[-1] else flat[::-1]
        k = len(order)
        while k > 0 and flat[k - 1]:
            k -= 1
        if 0 < k <= len(order) - 3:
            pts.append(float(t[order[k - 1]]))
            pts.append(float(t[order[k]]))
    out: list[float] = []
    for p in (pts + coarse)[:MAX_SPECIAL]:
        for q in (p, p - 1e-3 * (1 + abs(p)), p + 1e-3 * (1 + abs(p))):
            if all(abs(q - o) > 1e-9 * (1 + abs(q)) for o in out):
                out.append(float(q))
    return out


def default_inputs(reference: Callable[..., Any]) -> list[tuple[Any, ...]]:
    """Seeded inputs that cover the domain at several scales and shapes.

    One argument: scalars of both signs at small, unit and large magnitudes (up to 1000), the
    reference's own special points (``special_points``), a log-spaced vector of both signs (wherever
    the reference is finite), a batch of one, a square and a rectangular matrix. Several arguments:
    tuples of scalars at unit, small and large scales, and vectors of one, four and seven entries.
    A question may still name its inputs (``inputs=``).
    """
    n = _arity(reference)
    rng = random.Random(1729)
    out: list[tuple[Any, ...]] = []
    if n == 1:
        values = _scan(reference)
        finite = _SCAN[np.isfinite(values)]
        special = special_points(reference, values)
        scalars = list(_SCALARS) + list(_FAR) + [v for v in special if v not in _SCALARS and v not in _FAR]
        out += [(float(v),) for v in scalars]
        out.append((np.array([0.5, -1.3, 2.7, 0.0, 1.9]),))
        if finite.size:
            out.append((finite[:: max(1, finite.size // 60)].copy(),))   # log-spaced, both signs
        out.append((np.array([-0.75]),))                                 # a batch of one
        out.append((np.array([[1.5, -0.5], [2.0, 0.25]]),))              # square
        out.append((np.array([[0.3, -2.2, 9.0], [-11.0, 0.05, 4.0]]),))  # rectangular
    else:
        for _ in range(6):
            out.append(tuple(round(rng.uniform(-3, 3), 2) for _ in range(n)))
        out.append(tuple(0.0 for _ in range(n)))
        for scale in (0.01, 12.0, -40.0):
            out.append(tuple(round(scale * rng.uniform(0.5, 2.0) * rng.choice((-1, 1)), 4) for _ in range(n)))
        for size in (1, 4, 7):
            out.append(tuple(np.round(np.array([rng.uniform(-3, 3) for _ in range(size)]), 2) for _ in range(n)))
        out.append(tuple(np.round(np.array([rng.choice((-1, 1)) * 10 ** rng.uniform(-2, 2) for _ in range(6)]), 4)
                         for _ in range(n)))
    return out


_DEFAULTS: "weakref.WeakKeyDictionary[Any, list[tuple[Any, ...]]]" = weakref.WeakKeyDictionary()


def cached_default_inputs(reference: Callable[..., Any]) -> list[tuple[Any, ...]]:
    """``default_inputs`` once per reference object: scanning it costs milliseconds, and a class of
    students is graded against the same reference."""
    try:
        return _DEFAULTS[reference]
    except (KeyError, TypeError):
        pass
    found = default_inputs(reference)
    try:
        _DEFAULTS[reference] = found
    except TypeError:  # not weakly referenceable (a builtin): recomputed next time
        pass
    return found


def warm_default_inputs(reference: Callable[..., Any], seconds: float) -> None:
    """Compute a reference's default inputs ahead of a call, under their own bound.

    Why: scanning the (trusted) reference is preparation, not grading; inside a student's short
    timeout on a busy machine it could leave no time for the student's function.
    """
    try:
        with enforced(Deadline(seconds)), np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cached_default_inputs(reference)
    except Timeout:
        pass  # prepared again (and bounded) inside the call
    except Exception:
        pass  # the reference's own failure is reported by the preparation inside the call
