"""JSON serialisation of answers and reference values ("wire form"), without pickle or eval.

A verdict must be computable outside the student's kernel from the serialised answer alone, so
everything a test cell can hand to ``check`` is turned into plain JSON here: SymPy expressions as a
tree of whitelisted node types (symbols keep their assumptions), Python and NumPy numbers, arrays and
matrices with their shape, strings, ``None`` and ``...``, containers, and the results of calling a
student's function on the grader's inputs.  Decoding only ever builds objects from the whitelist:
no text is evaluated, no class is looked up by an arbitrary name.

Tagged values are JSON objects with a ``"$"`` key; JSON lists are Python lists; strings, finite
floats, bools and small ints are themselves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from grader.key import wirenumbers as nums
from grader.key.wirenumbers import ExactSize

__all__ = ["WireError", "to_wire", "from_wire", "check_calls", "check_error", "wire_type_name", "MAX_NODES",
           "MAX_DEPTH", "MAX_INT_BITS", "MAX_FLOAT_PREC"]

MAX_NODES = 200_000
MAX_DEPTH = 400
_BIG_INT = 2**53


class WireError(ValueError):
    """A value cannot be serialised (too big, too deep) or a JSON document is not valid wire form."""


# --- SymPy node whitelist -------------------------------------------------------------------
FUNCTIONS: dict[str, Any] = {
    name: getattr(sp, name, None) or getattr(sp.functions.elementary.piecewise, name)
    for name in [
        "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "acot", "atan2",
        "sinh", "cosh", "tanh", "coth", "asinh", "acosh", "atanh", "exp", "log", "sqrt", "Abs",
        "sign", "floor", "ceiling", "Min", "Max", "Heaviside", "erf", "erfc", "gamma", "loggamma",
        "factorial", "binomial", "re", "im", "arg", "conjugate", "LambertW", "DiracDelta",
        "Add", "Mul", "Pow", "Piecewise", "ExprCondPair", "Tuple", "Lambda",
        "Derivative", "Integral", "Sum", "Product", "Limit",
        "Equality", "Unequality", "StrictLessThan", "LessThan", "StrictGreaterThan",
        "GreaterThan", "And", "Or", "Not", "Xor", "Implies",
        "Interval", "FiniteSet", "Union",
    ]
}
_SINGLETONS: dict[str, Any] = {
    "pi": sp.pi, "E": sp.E, "I": sp.I, "oo": sp.oo, "-oo": -sp.oo, "zoo": sp.zoo, "nan": sp.nan,
    "EulerGamma": sp.EulerGamma, "GoldenRatio": sp.GoldenRatio, "true": sp.true, "false": sp.false,
}
_SINGLETON_NAMES = {id(v): k for k, v in _SINGLETONS.items()}
_ASSUMPTIONS = (
    "real", "positive", "negative", "nonnegative", "nonpositive", "integer", "rational",
    "nonzero", "finite", "complex", "even", "odd", "prime", "zero", "extended_real",
    "extended_positive", "extended_negative", "extended_nonnegative", "extended_nonpositive",
)


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0

    def tick(self, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise WireError("the value is too large to be checked")
        if depth > MAX_DEPTH:
            raise WireError("the value is too deeply nested to be checked")


def _float_out(v: float) -> Any:
    if math.isfinite(v):
        return float(v)
    return {"$": "float", "v": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}


_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _float_in(v: Any) -> float:
    if isinstance(v, dict):
        if set(v) != {"$", "v"} or v["$"] != "float" or v["v"] not in _NON_FINITE:
            raise WireError("malformed number")
        return _NON_FINITE[v["v"]]
    return nums.plain_float(v)


MAX_INT_BITS = nums.MAX_INT_BITS
MAX_FLOAT_PREC = nums.MAX_FLOAT_PREC


def _int_text(v: int) -> str:
    """Decimal for ordinary integers, hexadecimal for huge ones (no 4300-digit conversion limit)."""
    v = int(v)
    if v.bit_length() > MAX_INT_BITS:
        raise WireError("the number is too large to be checked")
    return str(v) if v.bit_length() < 10_000 else hex(v)


def _int_in(text: Any) -> int:
    return nums.int_from_text(text)


def _int_out(v: int) -> Any:
    if -_BIG_INT < v < _BIG_INT:
        return int(v)
    return {"$": "int", "v": _int_text(v)}


def _sym_out(e: sp.Basic, budget: _Budget, depth: int) -> Any:
    budget.tick(depth)
    name = _SINGLETON_NAMES.get(id(e))
    if name is not None:
        return name
    if isinstance(e, sp.Integer):
        return ["Integer", _int_text(int(e))]
    if isinstance(e, sp.Rational):
        return ["Rational", _int_text(int(e.p)), _int_text(int(e.q))]
    if isinstance(e, sp.Float):
        # mpmath's exact binary form keeps every digit at every precision
        mpf = e._mpf_
        if int(e._prec) > MAX_FLOAT_PREC:
            raise WireError(f"a Float with more than {MAX_FLOAT_PREC} bits of precision cannot be checked")
        return ["Float", [int(mpf[0]), hex(int(mpf[1])), int(mpf[2]), int(mpf[3])], int(e._prec)]
    if isinstance(e, sp.Dummy):
        return ["Dummy", e.name, assumptions_of(e)]
    if isinstance(e, sp.Symbol):
        return ["Symbol", e.name, assumptions_of(e)]
    if isinstance(e, sp.matrices.MatrixBase):
        return ["Matrix", [int(e.rows), int(e.cols)], [_sym_out(a, budget, depth + 1) for a in e]]
    if isinstance(e, sp.core.function.AppliedUndef):
        return ["Undef", e.func.__name__, [_sym_out(a, budget, depth + 1) for a in e.args]]
    func_name = type(e).__name__ if not isinstance(e, sp.Function) else e.func.__name__
    if isinstance(e, sp.Pow) and e.exp == sp.Rational(1, 2):
        func_name = "Pow"
    cls = FUNCTIONS.get(func_name)
    if cls is None or not (isinstance(e, cls) if isinstance(cls, type) else e.func == cls):
        # tolerate subclasses SymPy creates on its own (e.g. exp_polar) only if whitelisted
        raise WireError(f"answers may not contain {func_name}")
    if func_name == "Lambda":
        sig, body = e.args
        return ["Lambda", [_sym_out(s, budget, depth + 1) for s in sig], _sym_out(body, budget, depth + 1)]
    return [func_name, *[_sym_out(a, budget, depth + 1) for a in e.args]]


def assumptions_of(s: sp.Symbol) -> dict[str, bool]:
    given = getattr(s, "_assumptions_orig", None)
    if given is None:  # older SymPy
        given = getattr(s, "_assumptions0", {})
    return {k: bool(v) for k, v in sorted(given.items()) if k in _ASSUMPTIONS and v is not None}


def _sym_in(node: Any, budget: _Budget, depth: int) -> Any:
    return _sym_sized(node, budget, depth)[0]


def _sym_sized(node: Any, budget: _Budget, depth: int) -> tuple[Any, ExactSize]:
    """(expression, bound of its exact evaluation) of one tree node; every field checked before use."""
    budget.tick(depth)
    if isinstance(node, str):
        if node not in _SINGLETONS:
            raise WireError(f"unknown constant {node[:40]!r}")
        return _SINGLETONS[node], ExactSize.constant()
    if not isinstance(node, list) or not node or not isinstance(node[0], str):
        raise WireError("malformed expression node")
    head, rest = node[0], node[1:]
    if head == "Integer":
        _arity(rest, 1)
        value = _int_in(rest[0])
        return sp.Integer(value), ExactSize.of_int(value)
    if head == "Rational":
        _arity(rest, 2)
        p, q = _int_in(rest[0]), _int_in(rest[1])
        if q < 2 or math.gcd(p, q) != 1:
            raise WireError("malformed Rational")
        return sp.Rational(p, q), ExactSize.of_rational(p, q)
    if head == "Float":
        _arity(rest, 2)
        mpf, prec = nums.mpf_tuple(rest[0], rest[1])
        return sp.Float._new(mpf, prec), ExactSize.of_float(mpf[2], mpf[3], prec)
    if head in ("Symbol", "Dummy"):
        _arity(rest, 2)
        name, assumptions = nums.checked_name(rest[0]), rest[1]
        if not isinstance(assumptions, dict) or not all(
                k in _ASSUMPTIONS and isinstance(v, bool) for k, v in assumptions.items()):
            raise WireError("malformed symbol")
        return (sp.Symbol if head == "Symbol" else sp.Dummy)(name, **assumptions), ExactSize.symbol()
    if head == "Matrix":
        _arity(rest, 2)
        shape, data = rest[0], rest[1]
        if not isinstance(shape, list) or len(shape) != 2 or not isinstance(data, list):
            raise WireError("malformed matrix")
        rows, cols = (nums.small_int(v, 0, MAX_NODES, "matrix shape") for v in shape)
        if rows * cols != len(data):
            raise WireError("matrix data does not match its shape")
        elems, sizes = _sym_list(data, budget, depth + 1)
        return sp.ImmutableMatrix(rows, cols, elems), ExactSize.combine("Matrix", sizes)
    if head == "Undef":
        _arity(rest, 2)
        name = nums.checked_name(rest[0])
        if not name.isidentifier() or not isinstance(rest[1], list):
            raise WireError("malformed function name")
        args, sizes = _sym_list(rest[1], budget, depth + 1)
        return sp.Function(name)(*args), ExactSize.combine(head, sizes)
    if head == "Lambda":
        _arity(rest, 2)
        if not isinstance(rest[0], list):
            raise WireError("malformed Lambda")
        sig, sig_sizes = _sym_list(rest[0], budget, depth + 1)
        body, body_size = _sym_sized(rest[1], budget, depth + 1)
        return sp.Lambda(tuple(sig), body), ExactSize.combine(head, [*sig_sizes, body_size])
    cls = FUNCTIONS.get(head)
    if cls is None:
        raise WireError(f"unknown expression node {head[:40]!r}")
    args, sizes = _sym_list(rest, budget, depth + 1)
    size = ExactSize.combine(head, sizes)   # refuses before SymPy builds (or later evaluates) anything huge
    if head in ("Add", "Mul", "Pow"):
        return cls(*args, evaluate=False), size
    try:
        return cls(*args, evaluate=False), size
    except TypeError:
        return cls(*args), size


def _sym_list(items: list, budget: _Budget, depth: int) -> tuple[list, list[ExactSize]]:
    pairs = [_sym_sized(a, budget, depth) for a in items]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _arity(rest: list, n: int) -> None:
    if len(rest) != n:
        raise WireError("malformed expression node")


# --- public API -------------------------------------------------------------------------------
def wire_type_name(value: Any) -> str:
    """A short human name of a value's type, for messages."""
    return type(value).__name__


def to_wire(value: Any) -> Any:
    """Serialise ``value`` to JSON-able data; raises WireError for what cannot be represented."""
    return _out(value, _Budget(), 0)


def from_wire(data: Any) -> Any:
    """Rebuild a value from its wire form; raises WireError on anything malformed or not whitelisted."""
    try:
        return _in(data, _Budget(), 0)
    except WireError:
        raise
    except nums.Refused as exc:
        raise WireError(str(exc)) from None
    except RecursionError:
        raise WireError("the value is too deeply nested to be checked") from None
    except Exception as exc:  # a decoder of hostile data: whatever SymPy or NumPy raise is "malformed"
        raise WireError(f"malformed wire data ({exc.__class__.__name__})") from None


def _out(v: Any, budget: _Budget, depth: int) -> Any:
    budget.tick(depth)
    if v is None:
        return {"$": "none"}
    if v is Ellipsis:
        return {"$": "ellipsis"}
    if isinstance(v, np.generic) and not isinstance(v, np.bool_):
        return _np_scalar_out(v, budget, depth)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, int):
        return _int_out(v)
    if isinstance(v, float):
        return _float_out(v)
    if isinstance(v, complex):
        return {"$": "complex", "re": _float_out(v.real), "im": _float_out(v.imag)}
    if isinstance(v, str):
        if len(v) > 100_000:
            raise WireError("the text is too long to be checked")
        return v
    if isinstance(v, np.ndarray):
        if v.size > MAX_NODES:
            raise WireError("the array is too large to be checked")
        kind = v.dtype.kind
        if kind in "biuf c".replace(" ", ""):
            data = [_out(x.item(), budget, depth + 1) for x in v.reshape(-1)]
            dtype = str(v.dtype)
        else:
            data = [_out(x, budget, depth + 1) for x in v.reshape(-1)]
            dtype = "object"
        return {"$": "ndarray", "dtype": dtype, "shape": list(v.shape), "data": data}
    if isinstance(v, (sp.MatrixBase,)):
        return {"$": "sym", "tree": _sym_out(v, budget, depth + 1),
                "mutable": not isinstance(v, sp.ImmutableMatrix)}
    if isinstance(v, sp.NDimArray):
        return {"$": "sarray", "shape": [int(s) for s in v.shape],
                "data": [_out(x, budget, depth + 1) for x in sp.flatten(v.tolist())] if v.shape else []}
    if isinstance(v, sp.Basic):
        return {"$": "sym", "tree": _sym_out(v, budget, depth + 1)}
    if isinstance(v, tuple):
        return {"$": "tuple", "items": [_out(x, budget, depth + 1) for x in v]}
    if isinstance(v, list):
        return [_out(x, budget, depth + 1) for x in v]
    if isinstance(v, dict):
        return {"$": "dict", "items": [[_out(k, budget, depth + 1), _out(x, budget, depth + 1)]
                                       for k, x in v.items()]}
    converted = _array_like(v)
    if converted is not None:  # a PyTorch tensor, a JAX array ...: sent as the NumPy array it converts to
        return _out(converted, budget, depth)
    if callable(v):
        return {"$": "callable", "type": wire_type_name(v)}
    return {"$": "unsupported", "type": wire_type_name(v)}


def _array_like(v: Any) -> np.ndarray | None:
    """The NumPy array of an array-like of another library (``__array__``; detached), else None."""
    from grader.core.answers import InvalidAnswer, array_like

    try:
        return array_like(v)
    except InvalidAnswer:
        return None  # sent as unsupported: the grader says it cannot read the type


def _np_scalar_out(v: np.generic, budget: _Budget, depth: int) -> Any:
    if isinstance(v, np.integer):
        return {"$": "np", "dtype": str(v.dtype), "v": _int_out(int(v))}
    if isinstance(v, np.floating):
        return {"$": "np", "dtype": str(v.dtype), "v": _float_out(float(v))}
    if isinstance(v, np.complexfloating):
        return {"$": "np", "dtype": str(v.dtype), "v": _out(complex(v), budget, depth + 1)}
    return {"$": "unsupported", "type": f"numpy.{v.dtype}"}


_SCALAR_KINDS = {"b": bool, "i": int, "u": int, "f": float, "c": complex}
MAX_ERROR_TEXT = 2_000              # characters of an error message inside a function's results
MAX_DIMS = 32                       # NumPy's own limit on array dimensions


def _in(d: Any, budget: _Budget, depth: int) -> Any:
    budget.tick(depth)
    if isinstance(d, (bool, str)) or d is None:
        return d
    if isinstance(d, int):
        return nums.plain_int(d)
    if isinstance(d, float):
        return nums.plain_float(d)
    if isinstance(d, list):
        return [_in(x, budget, depth + 1) for x in d]
    if not isinstance(d, dict):
        raise WireError("malformed wire data")
    tag = d.get("$")
    if tag == "none":
        return None
    if tag == "ellipsis":
        return Ellipsis
    if tag == "float":
        return _float_in(d)
    if tag == "int":
        return _int_in(d["v"])
    if tag == "complex":
        return complex(_float_in(d["re"]), _float_in(d["im"]))
    if tag == "np":
        dtype = np.dtype(_safe_dtype(d["dtype"]))
        return dtype.type(_scalar_of_kind(_in(d["v"], budget, depth + 1), dtype))
    if tag == "ndarray":
        shape = _shape(d["shape"])
        if not isinstance(d["data"], list) or math.prod(shape) != len(d["data"]):
            raise WireError("array data does not match its shape")
        data = [_in(x, budget, depth + 1) for x in d["data"]]
        if d["dtype"] == "object":
            arr = np.empty(len(data), dtype=object)
            arr[:] = data if data else []
            return arr.reshape(shape)
        dtype = np.dtype(_safe_dtype(d["dtype"]))
        return np.array([_scalar_of_kind(x, dtype) for x in data], dtype=dtype).reshape(shape)
    if tag == "sym":
        value = _sym_in(d["tree"], budget, depth + 1)
        if d.get("mutable") is True and isinstance(value, sp.MatrixBase):
            value = sp.Matrix(value)
        return value
    if tag == "sarray":
        shape = _shape(d["shape"])
        if not isinstance(d["data"], list) or math.prod(shape) != len(d["data"]) or not shape:
            raise WireError("array data does not match its shape")
        data = [_in(x, budget, depth + 1) for x in d["data"]]
        return sp.ImmutableDenseNDimArray(data, shape)
    if tag == "tuple":
        return tuple(_in(x, budget, depth + 1) for x in _list(d["items"]))
    if tag == "dict":
        items = [_list(pair) for pair in _list(d["items"])]
        if any(len(pair) != 2 for pair in items):
            raise WireError("malformed dict")
        return {_hashable(_in(k, budget, depth + 1)): _in(v, budget, depth + 1) for k, v in items}
    if tag in ("callable", "unsupported"):
        type_name = d.get("type", "object")
        if not isinstance(type_name, str):
            raise WireError("malformed type name")
        return Unsupported(type_name[:100], tag == "callable")
    if tag == "calls":
        check_calls(d)
        return d  # decoded result by result by the key layer
    if tag == "error":
        check_error(d)
        return d
    raise WireError(f"unknown wire tag {str(tag)[:40]!r}")


def _list(v: Any) -> list:
    if not isinstance(v, list):
        raise WireError("malformed wire data")
    return v


def _shape(v: Any) -> tuple[int, ...]:
    if not isinstance(v, list) or len(v) > MAX_DIMS:
        raise WireError("malformed array shape")
    return tuple(nums.small_int(s, 0, MAX_NODES, "array shape") for s in v)


def _scalar_of_kind(v: Any, dtype: np.dtype) -> Any:
    """A decoded scalar of the Python type the dtype's kind takes (no object reaches a NumPy constructor)."""
    wanted = _SCALAR_KINDS[dtype.kind]
    if wanted is bool:
        ok = isinstance(v, bool)
    elif wanted is int:
        ok = isinstance(v, int) and not isinstance(v, bool)
        if ok:
            info = np.iinfo(dtype)
            ok = info.min <= v <= info.max
    elif wanted is float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    else:
        ok = isinstance(v, (int, float, complex)) and not isinstance(v, bool)
    if not ok:
        raise WireError(f"malformed {dtype} value")
    return v


def check_error(d: Any) -> None:
    """Refuses (WireError) an error answer that is not {"$": "error", "message": text, flags}."""
    if not isinstance(d, dict) or d.get("$") != "error":
        raise WireError("malformed error answer")
    for key, value in d.items():
        if key == "$":
            continue
        if key == "message":
            if not isinstance(value, str) or len(value) > MAX_ERROR_TEXT:
                raise WireError("malformed error answer")
        elif key == "unanswered":
            if not isinstance(value, bool):
                raise WireError("malformed error answer")
        elif key == "cell_error":   # the name of the answer cell's error, or a flag
            if not isinstance(value, (bool, str)) or len(str(value)) > MAX_ERROR_TEXT:
                raise WireError("malformed error answer")
        else:
            raise WireError("malformed error answer")


def check_calls(d: Any) -> None:
    """Refuses (WireError) a function's results that are not {"$": "calls", "results": [{"ok": wire} |
    {"error": text}, ...]}; the values themselves are decoded (and checked) one by one when graded."""
    if not isinstance(d, dict) or d.get("$") != "calls" or set(d) != {"$", "results"}:
        raise WireError("malformed function results")
    results = d["results"]
    if not isinstance(results, list) or len(results) > 10_000:
        raise WireError("malformed function results")
    for r in results:
        if not isinstance(r, dict) or not (set(r) == {"ok"} or set(r) in ({"error"}, {"error", "timeout"})):
            raise WireError("malformed function results")
        if "error" in r and not (isinstance(r["error"], str) and len(r["error"]) <= MAX_ERROR_TEXT):
            raise WireError("malformed function results")
        if "timeout" in r and not isinstance(r["timeout"], bool):
            raise WireError("malformed function results")


def _hashable(k: Any) -> Any:
    return tuple(k) if isinstance(k, list) else k


_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "longdouble", "float128", "complex64", "complex128",
           "complex256", "clongdouble"}


def _safe_dtype(name: str) -> str:
    if name not in _DTYPES:
        raise WireError(f"unsupported dtype {name!r}")
    return name


class Unsupported:
    """Stands for a value that has no wire form (a module, a figure, a function where a value was due)."""

    def __init__(self, type_name: str, is_callable: bool = False) -> None:
        self.type_name = type_name
        self.is_callable = is_callable

    def __repr__(self) -> str:
        return f"<{self.type_name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unsupported) and other.type_name == self.type_name

    def __hash__(self) -> int:
        return hash(self.type_name)
