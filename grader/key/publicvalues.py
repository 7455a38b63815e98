"""What public building and public grading share: reading an answer like the core, its values at the
sample points, and the salted fingerprints of values and function outputs."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

from grader.key import fingerprint as fpm

__all__ = [
    "core_messages", "verdict_class", "symbols_of", "assumption_dict", "read_scalar", "constant_names", "constants_for", "read_array", "values_at", "derivative_of", "flat_items", "reference_frame", "value_fp", "output_fp", "wire_hash", "norm_shape", "plain_array",
]




def core_messages() -> Any:
    from grader.core import mistakes as mk

    return mk


def verdict_class() -> Any:
    from grader.core.verdict import Verdict

    return Verdict


def symbols_of(entry: Mapping[str, Any]) -> dict[str, sp.Symbol]:
    return {name: sp.Symbol(name, **assumptions) for name, assumptions in entry.get("symbols", [])}


def assumption_dict(s: sp.Symbol) -> dict[str, bool]:
    from grader.key.wire import assumptions_of

    return assumptions_of(s)


# --- normalising answers (the core's readers) ---------------------------------------------------------
def read_scalar(value: Any, symbols: Mapping[str, sp.Symbol], kind: str) -> sp.Expr:
    from grader.core.answers import to_expression

    what = "a number" if kind == "number" else "an expression"
    constants = constants_for(symbols) if kind == "antiderivative" else ()
    return to_expression(value, symbols, constants=constants, what=what)


def constant_names() -> tuple[str, ...]:
    from grader.core.problem import CONSTANT_NAMES

    return tuple(CONSTANT_NAMES)


def constants_for(symbols: Mapping[str, sp.Symbol]) -> tuple[str, ...]:
    return tuple(c for c in constant_names() if c not in symbols)


def read_array(value: Any, symbols: Mapping[str, sp.Symbol]) -> tuple[tuple[int, ...], list[sp.Expr]]:
    """A reference (or mistake) array as (shape, entries); True/False entries are 1/0, as in the core."""
    from grader.core.answers import booleans_as_numbers, to_array, to_expression

    shape, raw = to_array(value, symbols)
    raw, _ = booleans_as_numbers(raw)
    return shape, [to_expression(r, symbols, what="an entry") for r in raw]


def values_at(expr: sp.Expr, points: Sequence[Mapping[str, float]]) -> list[float | None]:
    if not expr.free_symbols:
        v = fpm.eval_scalar(expr, {})
        return [v] * max(1, len(points))
    return [fpm.eval_scalar(expr, p) for p in points]


def derivative_of(expr: sp.Expr, var: str | None) -> sp.Expr:
    syms = [s for s in expr.free_symbols if s.name == var]
    if not syms:
        return sp.Integer(0)
    return sp.diff(expr, syms[0])


def reference_frame(entry: Mapping[str, Any]) -> tuple[Any, dict[str, sp.Symbol], str | None]:
    """(reference value, canonical symbols by name, variable name) of a private entry.

    The symbols are those of the reference plus ``var``; with no ``var`` and a single symbol, that symbol is
    the variable.  What the public entry stores, and what the answer log's fingerprints sample over."""
    from grader.core.answers import canonical_symbols
    from grader.key.wire import from_wire

    reference = from_wire(entry["reference"])
    var = from_wire(entry["var"]) if entry.get("var") is not None else None
    if isinstance(var, str):  # question(..., var="x"): the symbol of that name
        var = sp.Symbol(var)
    free: set[sp.Symbol] = set()
    for item in flat_items(reference):
        free |= getattr(item, "free_symbols", set())
    if isinstance(var, sp.Symbol) and var.name not in {s.name for s in free}:
        free.add(var)
    symbols = canonical_symbols(free)
    if var is None and len(symbols) == 1:
        var = next(iter(symbols.values()))
    return reference, symbols, var.name if isinstance(var, sp.Symbol) else None


def flat_items(value: Any) -> list[Any]:
    value = plain_array(value)
    if isinstance(value, sp.MatrixBase):
        return list(value)
    if isinstance(value, np.ndarray):
        return list(value.reshape(-1))
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for v in value:
            out.extend(flat_items(v))
        return out
    return [value]


def value_fp(salt: str, path: str, value: Any, kind: str, symbols: Mapping[str, sp.Symbol],
              points: Sequence[Mapping[str, float]], var: str | None, rtol: float, atol: float) -> dict[str, Any]:
    if kind == "array":
        shape, elems = read_array(value, symbols)
        numeric = all(not e.free_symbols for e in elems)
        vals = [fpm.eval_scalar(e, {}) for e in elems] if numeric else []
        # one grid for every numeric entry: the file must not tell zero entries from the others
        scale = max((abs(v) for v in vals if v is not None and math.isfinite(v)), default=0.0) or None
        out = {"t": "array", "shape": list(shape),
               "elems": [fpm.scalar_fingerprint(salt, f"{path}[{j}]", e, points, rtol, atol,
                                                scale if numeric else None)
                         for j, e in enumerate(elems)]}
        if numeric:
            # ratios between entries, relative to the first non-zero entry (whole-array factor diagnosis)
            base = next((j for j, v in enumerate(vals) if v is not None and v != 0), None)
            if base is not None:
                ratios = [None if v is None else v / vals[base] for v in vals]
                rscale = max((abs(r) for r in ratios if r is not None and math.isfinite(r)), default=0.0) or None
                out["q"] = [None if r is None else fpm.fingerprint_value(salt, f"{path}/{j}", r, 10 * rtol, 1e-12,
                                                                         rscale)
                            for j, r in enumerate(ratios)]
        return out
    expr = read_scalar(value, symbols, kind)
    if kind == "antiderivative":
        expr = derivative_of(expr, var)
    return fpm.scalar_fingerprint(salt, path, expr, points, rtol, atol)


def plain_array(value: Any) -> Any:
    """``value`` with an array-like of another library (a PyTorch tensor, detached; a JAX array)
    replaced by its NumPy array, as the core reads it; anything else unchanged."""
    from grader.core.answers import InvalidAnswer, array_like

    try:
        converted = array_like(value)
    except InvalidAnswer:
        return value
    return value if converted is None else converted


def output_fp(salt: str, path: str, out: Any, rtol: float, atol: float) -> dict[str, Any]:
    """Fingerprint of one numeric output of a function (a number or an array of numbers)."""
    out = plain_array(out)
    try:
        arr = np.asarray(out, dtype=float)
    except (TypeError, ValueError):
        return {"t": "wire", "h": wire_hash(salt, path, out)}
    flat = arr.reshape(-1)
    finite = [abs(float(v)) for v in flat if math.isfinite(float(v))]
    scale = (max(finite) or None) if finite and flat.size > 1 else None  # one grid per output array
    elems = []
    for j, v in enumerate(flat):
        v = float(v)
        # a non-finite output (a mistake's overflow, say) is stored as what it is
        elems.append(fpm.fingerprint_value(salt, f"{path}[{j}]", v, rtol, atol, scale)
                     if math.isfinite(v) else [repr(v)])
    return {"t": "out", "shape": list(norm_shape(arr.shape)), "elems": elems}


def wire_hash(salt: str, path: str, out: Any) -> str:
    """Exact fingerprint of a non-numeric output (a SymPy expression, a string): its canonical wire form."""
    import hashlib
    import json

    from grader.key.wire import to_wire

    text = json.dumps(to_wire(out), sort_keys=True)
    return fpm.value_hash(salt, path, int(hashlib.sha256(text.encode()).hexdigest()[:30], 16))


def norm_shape(shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(n) for n in shape)
    if len(shape) == 2 and 1 in shape:
        return (max(shape),)
    return shape


