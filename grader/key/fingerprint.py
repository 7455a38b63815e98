"""Public-key fingerprints: decide correctness without shipping the reference answer.

Why this shape: a self-learner's notebook must tell right from wrong, and recognise the named
mistakes, offline, yet the file it reads must not contain the answers.  A reference is therefore
stored only as *salted hashes of quantised values*:

* a scalar expression is evaluated at seeded sample points (the points are stored: they are inputs,
  not answers); an antiderivative by its derivative, a number by its value, an array entry by entry,
  a function by its outputs on the grader's inputs;
* each value ``v`` is quantised on a grid whose step is a power of ten just below the tolerance
  ``atol + rtol*|v|`` (the exponent is stored: it only reveals the order of magnitude), and
  ``blake2b(salt, path, bucket)`` is stored;
* a student's value ``s`` matches when one of the buckets that the interval ``s ± tol_s`` touches
  hashes equal, where ``tol_s = atol + rtol*|s|`` is the declared tolerance computed from the
  student's own value (the reference is not known here; ``rtol*|s|`` and the private key's
  ``rtol*|ref|`` differ by ``rtol`` times the error, a negligible amount).  Every value the private
  key accepts is therefore accepted (no public false reject: the public key is never stricter than
  the declared tolerance), and a value is accepted only when it is within ``tol_s`` plus one grid
  step of the reference.  The step lies between a tenth of the tolerance and the tolerance, so the
  public check is looser by at most one step: 1.5 tolerances off is always rejected when the
  tolerance is at least twice the step (its leading digit is 2 or more), and 2 tolerances off always.
  Knowing only the reference's bucket, no rule can be exact both ways; this one errs towards
  accepting, because a self-check must not reject what the grade will accept.  See ``matches``;
* entries of a numeric array (and of a function's output array) share one grid set by the array's
  largest magnitude, while their tolerance stays per entry (``atol + rtol*|s_j|``, the private
  core's rule): an entry much smaller than the largest one is thus judged to within one grid step
  of the array (``<= atol + rtol*max|ref|``), looser than its own tolerance.  The grid cannot be finer
  without telling zero entries from the others in the file (see ``fingerprint_value``);
* named mistakes are fingerprinted the same way, so their targeted message is given; generic
  diagnoses work by transforming the student's values (``-s``, ``s/2``, ``2s``, ...) and re-testing,
  and an added constant by hashing differences between sample points.

Limitation (documented, inherent to any self-check): the check is an oracle, so an answer can be
brute-forced by trying candidates, and a reference that is a small integer can be found by
enumerating buckets offline.  The public key only removes reading the answer off the file; grading
uses the private key.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from typing import Any, Iterable, Mapping, Sequence

import sympy as sp

__all__ = [
    "N_POINTS", "make_salt", "quantum_exponent", "value_hash", "matches", "sample_for",
    "eval_scalar", "scalar_fingerprint", "match_scalar", "tolerance", "MAX_REACH",
]

N_POINTS = 10
HASH_BYTES = 10


def make_salt(assignment: str, qid: str) -> str:
    """Deterministic per-question salt (the public key must be reproducible byte for byte)."""
    return hashlib.sha256(f"calcgrade-public/1:{assignment}:{qid}".encode()).hexdigest()[:24]


def quantum_exponent(v: float, rtol: float, atol: float) -> int:
    tol = atol + rtol * abs(v)
    if not math.isfinite(tol) or tol <= 0:
        tol = 1e-12
    return math.floor(math.log10(tol))


def _bucket(v: float, exponent: int) -> int | None:
    if not math.isfinite(v):
        return None
    try:
        q = v / (10.0 ** exponent) if exponent > -300 else v * (10.0 ** -exponent)
        if not math.isfinite(q):
            return None
        return int(round(q))
    except (OverflowError, ValueError):
        return None


def value_hash(salt: str, path: str, bucket: int) -> str:
    h = hashlib.blake2b(digest_size=HASH_BYTES, key=salt.encode()[:64])
    h.update(f"{path}|{bucket}".encode())
    return h.hexdigest()


def fingerprint_value(salt: str, path: str, v: float, rtol: float, atol: float,
                      scale: float | None = None) -> list[Any]:
    """[exponent, hash] of one finite real value.

    ``scale`` (the largest magnitude among the entries of the same array or output) sets the grid
    instead of ``|v|``: every entry of an array then shares one exponent, so the stored exponents do
    not tell a zero entry from a one (a 0/1 answer would otherwise be readable off the file).  The
    tolerance becomes norm-wise, ``atol + rtol * max|ref|``, the usual criterion for vectors.
    """
    e = quantum_exponent(v if scale is None else scale, rtol, atol)
    b = _bucket(v, e)
    assert b is not None
    return [e, value_hash(salt, path, b)]


# at most this many buckets on either side of the student's own are hashed for one value: a
# correct value never needs more than ~10 (the grid step is at least a tenth of the tolerance)
MAX_REACH = 50


def tolerance(s: float, rtol: float, atol: float) -> float:
    """The declared tolerance ``atol + rtol*|s|`` taken at the student's value ``s``."""
    return float(atol) + float(rtol) * abs(float(s))


def matches(salt: str, path: str, fp: Sequence[Any], s: float | None, tol: float | None = None,
            max_reach: int = MAX_REACH) -> bool:
    """Whether the student's value ``s`` hits the fingerprint ``[exponent, hash]``.

    With ``tol`` (an absolute tolerance, ``tolerance(s, rtol, atol)``), every bucket that the
    interval ``[s - tol, s + tol]`` reaches is tried (at most ``max_reach`` on each side): the
    reference ``r`` is accepted when ``|r - s| <= tol`` and rejected when ``|r - s| >= tol + step``;
    in between it depends on where ``r`` and ``s -/+ tol`` lie in their buckets.  Rounding is
    monotonic, so the buckets of the interval's ends bound the bucket of every value inside it, and
    the bucket of ``r`` can only be one of them when ``r`` is less than a step outside the interval.
    Without ``tol``: the student's bucket and its two neighbours (the grid's own rule, for stored
    values without a declared tolerance).
    """
    if s is None or not isinstance(s, (int, float)) or not math.isfinite(s):
        return False
    e, h = int(fp[0]), fp[1]
    s = float(s)
    b = _bucket(s, e)
    if b is None:
        return False
    if tol is None or not math.isfinite(tol) or tol < 0:
        lo, hi = b - 1, b + 1
    else:
        lo_b, hi_b = _bucket(s - tol, e), _bucket(s + tol, e)
        lo = b - max_reach if lo_b is None else max(lo_b, b - max_reach)
        hi = b + max_reach if hi_b is None else min(hi_b, b + max_reach)
    if value_hash(salt, path, b) == h:
        return True
    for d in range(1, max(b - lo, hi - b) + 1):  # nearest buckets first
        if b - d >= lo and value_hash(salt, path, b - d) == h:
            return True
        if b + d <= hi and value_hash(salt, path, b + d) == h:
            return True
    return False


def _tol(s: Any, rtol: float | None, atol: float | None) -> float | None:
    if rtol is None or atol is None or s is None or isinstance(s, bool) or not isinstance(s, (int, float)):
        return None
    return tolerance(s, rtol, atol) if math.isfinite(s) else None


# --- evaluation -------------------------------------------------------------------------------------
def sample_for(symbols: Sequence[sp.Symbol], n: int, seed: int,
               defined: Any = None) -> list[dict[str, float]]:
    """Seeded sample points (name -> value) from the grading core's sampler.

    With ``defined`` (a predicate on a point), only points where it holds are kept, topped up from the
    core's narrow-range points when too few remain (references with a small domain).
    """
    if not symbols:
        return [{}]
    from grader.core.equivalence import sample_points

    syms = list(symbols)
    pts = [{s.name: float(p[s]) for s in syms} for p in sample_points(syms, n, seed)]
    if defined is None:
        return pts
    kept = [p for p in pts if defined(p)]
    if len(kept) < max(4, n // 2):
        try:
            from grader.core.equivalence import narrow_points
        except ImportError:
            return kept
        for p in narrow_points(syms, 40, seed + 1):
            q = {s.name: float(p[s]) for s in syms}
            if defined(q):
                kept.append(q)
            if len(kept) >= n:
                break
    return kept


def eval_scalar(expr: sp.Expr, point: Mapping[str, float]) -> float | None:
    """A real value of ``expr`` at ``point`` (names -> floats), or None where undefined/complex."""
    subs = {s: point[s.name] for s in expr.free_symbols if s.name in point}
    if len(subs) != len(expr.free_symbols):
        return None
    from grader.core.budget import Deadline, Timeout
    from grader.core.equivalence import evaluate

    try:
        # a second of this thread's CPU time, not of the wall clock: a fingerprint (and so a verdict of the
        # public key) must not depend on how busy the machine is that builds or checks it
        val = evaluate(expr, subs, deadline=Deadline.cpu(1.0))
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit, Timeout)):
            raise  # the caller's overall time budget is over
        return None
    if val is None:
        return None
    try:
        val = complex(val)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isnan(val.real) or math.isnan(val.imag):
        return None
    if math.isinf(val.real) and not math.isinf(val.imag):
        return val.real  # beyond the float range: astronomically large, not undefined
    if not (math.isfinite(val.real) and math.isfinite(val.imag)):
        return None
    if abs(val.imag) > 1e-9 * max(1.0, abs(val.real)):
        return None
    return val.real


def _exact_bucket(expr: sp.Expr, scale: float | None = None) -> tuple[int, int] | None:
    """(exponent, bucket) of an exact number at 25 significant digits (of ``scale`` if given), or None."""
    try:
        v = sp.N(expr, 45)
        if not v.is_real or not v.is_finite:
            return None
        if scale is not None and scale > 0:
            e = int(math.floor(math.log10(scale))) - 25
            return e, int(sp.floor(v / sp.Integer(10) ** e + sp.Rational(1, 2)))
        if v == 0:
            return (-60, 0)
        e = int(sp.floor(sp.log(abs(v), 10))) - 25
        return e, int(sp.floor(v / sp.Integer(10) ** e + sp.Rational(1, 2)))
    except Exception:
        return None


def is_exact(expr: sp.Expr) -> bool:
    return not expr.free_symbols and not expr.has(sp.Float)


def _base_index(vals: Sequence[float | None]) -> int | None:
    return next((i for i, v in enumerate(vals) if v is not None and abs(v) > 1e-12), None)


def relation_hashes(salt: str, path: str, vals: Sequence[float | None], base: int | None,
                    rtol: float, atol: float) -> tuple[list[Any], list[Any]]:
    """Hashed differences v_i - v_base and ratios v_i / v_base (added-constant / factor diagnoses)."""
    diffs: list[Any] = []
    ratios: list[Any] = []
    for i, v in enumerate(vals):
        if base is None or v is None or i == base:
            diffs.append(None)
            ratios.append(None)
            continue
        vb = vals[base]
        scale = max(abs(v), abs(vb))
        e = quantum_exponent(scale, rtol, atol)
        b = _bucket(v - vb, e)
        diffs.append(None if b is None else [e, value_hash(salt, f"{path}~{i}", b)])
        r = v / vb
        er = quantum_exponent(r, 10 * rtol, 1e-12)
        br = _bucket(r, er)
        ratios.append(None if br is None else [er, value_hash(salt, f"{path}/{i}", br)])
    return diffs, ratios


def scalar_fingerprint(
    salt: str, path: str, expr: sp.Expr, points: Sequence[Mapping[str, float]], rtol: float, atol: float,
    scale: float | None = None,
) -> dict[str, Any]:
    """Fingerprint of a scalar: a number (value, exact digits, a coarse 'close' bucket) or an
    expression (values at the points, hashed differences and ratios between points).

    ``scale``: see ``fingerprint_value``; given for the entries of an array so that every entry's
    record has the same fields and exponents whatever its value (zero included).
    """
    if not expr.free_symbols:
        v = eval_scalar(expr, {})
        if v is not None and not math.isfinite(v):
            v = None
        out: dict[str, Any] = {"t": "num",
                               "v": None if v is None else fingerprint_value(salt, path, v, rtol, atol, scale)}
        magnitude = scale if scale else (abs(v) if v is not None else 0.0)
        if v is not None and magnitude > 0:
            # a fine grid (1e-5 relative) on which "within 0.1 %" is a range of buckets
            e = quantum_exponent(magnitude, 1e-5, 0.0)
            out["c"] = [e, value_hash(salt, f"{path}~close", _bucket(v, e))]
        if is_exact(expr):
            eb = _exact_bucket(expr, scale)
            if eb is not None:
                out["x"] = [eb[0], value_hash(salt, f"{path}!", eb[1])]
        return out
    vals = [eval_scalar(expr, p) for p in points]
    vals = [v if v is not None and math.isfinite(v) else None for v in vals]
    fps = [None if v is None else fingerprint_value(salt, f"{path}@{i}", v, rtol, atol) for i, v in enumerate(vals)]
    base = _base_index(vals)
    diffs, ratios = relation_hashes(salt, path, vals, base, rtol, atol)
    return {"t": "expr", "v": fps, "d": diffs, "q": ratios, "base": base}


def match_exact(salt: str, path: str, fp: Mapping[str, Any], expr: sp.Expr) -> bool | None:
    """For an exact student number against an exact reference: equal to 25 digits? None if not applicable."""
    if "x" not in fp or not is_exact(expr):
        return None
    eb = _exact_bucket(expr)
    if eb is None:
        return False
    e, h = fp["x"]
    if eb[0] != e:
        # recompute the student's bucket on the reference's grid
        try:
            b = int(sp.floor(sp.N(expr, 45) / sp.Integer(10) ** int(e) + sp.Rational(1, 2)))
        except Exception:
            return False
    else:
        b = eb[1]
    return any(value_hash(salt, f"{path}!", b + d) == h for d in (0, -1, 1))


def match_scalar(
    salt: str, path: str, fp: Mapping[str, Any], values: Sequence[float | None],
    rtol: float | None = None, atol: float | None = None,
) -> tuple[bool, list[int]]:
    """(all defined points match, indices of the points that do not).

    ``rtol``/``atol``: the question's declared tolerance, applied to each student value (see
    ``matches``); without them only the grid's neighbouring buckets are tried.
    """
    if fp["t"] == "num":
        if fp["v"] is None:
            return True, []
        s = values[0] if values else None
        hit = matches(salt, path, fp["v"], s, _tol(s, rtol, atol))
        return hit, ([] if hit else [0])
    bad = []
    if not any(f is not None for f in fp["v"]):
        return False, []  # nothing to compare with: never accept blindly
    for i, f in enumerate(fp["v"]):
        if f is None:
            continue
        s = values[i] if i < len(values) else None
        if not matches(salt, f"{path}@{i}", f, s, _tol(s, rtol, atol)):
            bad.append(i)
    return (not bad, bad)


def match_close(salt: str, path: str, fp: Mapping[str, Any], s: float | None) -> bool:
    """Whether ``s`` is within 0.1 % of the reference (the core's "close" diagnosis)."""
    if "c" not in fp or s is None or not math.isfinite(s) or s == 0:
        return False
    e, h = int(fp["c"][0]), fp["c"][1]
    b = _bucket(s, e)
    if b is None:
        return False
    reach = int(math.floor(1e-3 * abs(s) / 10.0 ** e))
    if reach > 5000:
        return False
    return any(value_hash(salt, f"{path}~close", b + d) == h for d in range(-reach, reach + 1))


def match_relation(salt: str, path: str, fp: Mapping[str, Any], values: Sequence[float | None], which: str,
                   rtol: float | None = None, atol: float | None = None) -> bool:
    """Whether the student's values differ from the reference by one constant (``which="d"``) or are one
    constant multiple of it (``which="q"``), judged by the hashed differences / ratios.

    With ``rtol``/``atol`` each hashed relation is matched with the tolerance its grid was built for
    (``relation_hashes``): ``atol + rtol*max(|s_i|, |s_base|)`` for a difference, ``1e-12 + 10*rtol*|ratio|``
    for a ratio."""
    if fp["t"] != "expr" or fp.get("base") is None:
        return False
    base = fp["base"]
    sb = values[base] if base < len(values) else None
    if sb is None or (which == "q" and abs(sb) <= 1e-12):
        return False
    tested = 0
    sep = "~" if which == "d" else "/"
    for i, h in enumerate(fp[which]):
        if h is None:
            continue
        s = values[i] if i < len(values) else None
        if s is None:
            return False
        rel = s - sb if which == "d" else s / sb
        tol = None
        if rtol is not None and atol is not None and math.isfinite(rel):
            tol = (atol + rtol * max(abs(s), abs(sb))) if which == "d" else 1e-12 + 10 * rtol * abs(rel)
        if not matches(salt, f"{path}{sep}{i}", h, rel, tol):
            return False
        tested += 1
    return tested >= (2 if which == "d" else 1)


def seed_for(qid: str) -> int:
    return zlib.crc32(qid.encode()) & 0x7FFFFFFF


def iter_values(values: Iterable[float | None], f: Any) -> list[float | None]:
    out = []
    for v in values:
        try:
            out.append(None if v is None else float(f(v)))
        except (OverflowError, ZeroDivisionError, ValueError):
            out.append(None)
    return out
