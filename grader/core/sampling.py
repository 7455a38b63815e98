"""Where answers are evaluated: seeded pseudo-random real sample points.

Points are never integers, spread over several scales (mostly in [-3, 3], some of magnitude
3..300, some small) and respect assumptions (positive, negative, integer, nonzero), so that a
wrong answer which happens to agree at "nice" numbers is still caught.

Real points carry full-precision random mantissas (53 bits), not short decimals: a point on a
decimal grid (x = 2.01) is a point where ``sin(100000*pi*x)`` vanishes, so an adversarial answer
``x**2 + sin(100000*pi*x)/1000`` would agree with ``x**2`` at every such point.  Messages show the
points rounded to a few digits; ``details`` keep the exact floats.
"""

from __future__ import annotations

import math
import random
from typing import Iterable, Sequence

import sympy as sp




SEED = 20_260_421
N_POINTS = 14
MIN_VALID = 6

# ---------------------------------------------------------------------------
# sampling

def _full(v: float) -> float:
    """``v`` as drawn (a full 53-bit mantissa), nudged off an integer or zero in the rare exact case.

    Why not round for readability: every short decimal is a point of a grid, and an answer can be
    built to vanish on a grid (``sin(10**k*pi*x)``); random mantissas leave no such structure.
    """
    if v == 0:
        return 0.1370917242318725
    if v == int(v):
        return math.nextafter(v, math.inf)
    return v


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
        mag = _full(mag)
        return -mag if (sym.is_negative or sym.is_nonpositive) else mag
    if slot in (3, 6):
        v = rng.choice((-1.0, 1.0)) * math.exp(rng.uniform(math.log(3.0), math.log(300.0)))
    elif slot == 5:
        v = rng.choice((-1.0, 1.0)) * math.exp(rng.uniform(math.log(0.002), math.log(0.2)))
    else:
        v = rng.uniform(-3.0, 3.0)
    return _full(v)


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


def narrow_points(symbols: Sequence[sp.Symbol], n: int, seed: int) -> list[dict[sp.Symbol, float]]:
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
            v = _full(rng.uniform(-scale, scale))
            if s.is_positive or s.is_nonnegative:
                v = abs(v)
            if s.is_negative or s.is_nonpositive:
                v = -abs(v)
            pt[s] = v
        pts.append(pt)
    return pts


