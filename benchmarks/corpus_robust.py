"""Benchmark cases of issue 14: cancelling logs, exact slips between sample points, branch cuts hidden by
signed zeros, perturbations that vanish on a decimal grid, arrays and diagnoses that used to be slow,
and answers handed over as tensors of an ML library. Written by hand for this project; appended to
``benchmarks.corpus.cases()``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import sympy as sp

x, y, z, t, a, b = sp.symbols("x y z t a b")
xp, ap, bp = sp.Symbol("x", positive=True), sp.Symbol("a", positive=True), sp.Symbol("b", positive=True)
k, m = sp.symbols("k m", real=True)
log, exp, sqrt, tanh, cosh, sinh, sin, cos, pi = sp.log, sp.exp, sp.sqrt, sp.tanh, sp.cosh, sp.sinh, sp.sin, sp.cos, sp.pi


def _sig(v: sp.Expr) -> sp.Expr:
    return 1 / (1 + exp(-v))


class GradTensor:
    """Stands for a PyTorch tensor that requires grad: ``__array__`` refuses until ``.detach()``."""

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        self.data = np.asarray(data, dtype=float)
        self.requires_grad = requires_grad

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad.")
        return self.data if dtype is None else self.data.astype(dtype)

    def detach(self) -> "GradTensor":
        return GradTensor(self.data, requires_grad=False)

    def __repr__(self) -> str:
        return f"tensor({self.data.tolist()}, requires_grad={self.requires_grad})"


class ArrayLike:
    """Stands for a JAX array: only the NumPy protocol."""

    def __init__(self, data: Any) -> None:
        self.data = np.asarray(data, dtype=float)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)


def _poly(roots: Any) -> sp.Expr:
    return sp.expand(sp.prod([x - r for r in roots]))


def robust_cases(add: Callable[..., None]) -> None:
    """Add the cases through ``add(id, category, answer, expected, correct, mis=None, base=True, **options)``."""
    # ---------------------------------------------------------------- 1. cancelling logs (false rejects)
    C = "cancellation"
    bce = -y * log(_sig(z)) - (1 - y) * log(1 - _sig(z))
    add("bce_naive", C, bce, log(1 + exp(z)) - y * z, True)
    add("bce_naive_wrong_sign", C, bce, log(1 + exp(z)) + y * z, False)
    add("log_1m_tanh5", C, log(1 - tanh(5 * x)), log(2) - log(1 + exp(10 * x)), True)
    add("log_cosh_plus_sinh", C, log(cosh(x) + sinh(x)), x, True)
    add("log_cosh_minus_sinh", C, log(cosh(x) - sinh(x)), -x, True)
    add("neg_log_1m_sigmoid", C, -log(1 - _sig(t)), log(1 + exp(t)), True)
    add("neg_log_1m_sigmoid_off", C, -log(1 - _sig(t)) + sp.Rational(1, 1000), log(1 + exp(t)), False)
    add("log_sech2_tanh", C, log(1 - tanh(x) ** 2), -2 * log(cosh(x)), True)
    add("asinh_of_exp", C, log(sqrt(exp(2 * x) + 1) - exp(x)), -sp.asinh(exp(x)), True)
    add("log_expm1", C, log(exp(xp) - 1), xp + log(1 - exp(-xp)), True)
    add("deep_cancellation", C, log(1 - 1 / (1 + exp(-x**2))), -x**2 - log(1 + exp(-x**2)), True)
    add("softplus_grad_naive", C, exp(z) / (1 + exp(z)), _sig(z), True)
    # ---------------------------------------------------------------- 2. exact slips (false accepts)
    S = "exact_slip"
    p13 = _poly(range(1, 14))
    far = _poly(range(20, 33))
    add("poly13_off_by_one", S, p13 + 1, p13, False)
    add("poly13_far_roots_off_by_one", S, far + 1, far, False)
    add("poly13_far_roots_factored", S, sp.factor(far), far, True)
    add("rational_off_by_one", S, (far + 1) / (x**2 + 1), far / (x**2 + 1), False)
    add("rational_cancels", S, (x**3 - 8) / (x - 2), x**2 + 2 * x + 4, True)
    add("tiny_quartic_term", S, x**2 + x**4 / 10**12, x**2, False)
    add("poly_in_exp_off_by_one", S, sp.expand((exp(x) - 30) ** 6) + 1, sp.expand((exp(x) - 30) ** 6), False)
    q2 = sp.expand((x - 25) ** 7 * (y - 30) ** 5)
    add("two_variable_off_by_one", S, q2 + 1, q2, False)
    shifted = _poly([sp.Rational(j, 3) - 40 for j in range(1, 12)])
    add("shifted_roots_off_by_half", S, shifted - sp.Rational(1, 2), shifted, False)
    # ---------------------------------------------------------------- 3. branch cuts and signed zeros
    B = "branch"
    add("sqrt_ratio_product", B, sqrt(k / m) * sqrt(m / k), sp.Integer(1), False, kind="expression")
    add("sqrt_ratio_product_positive", B, sqrt(ap / bp) * sqrt(bp / ap), sp.Integer(1), True, kind="expression")
    add("sqrt_times_sqrt_reciprocal", B, sqrt(x) * sqrt(1 / x), sp.Integer(1), False, kind="expression")
    add("log_ratio_sum", B, log(a / b) + log(b / a), sp.Integer(0), False, kind="expression")
    add("sqrt_square_ratio_abs", B, sqrt(a**2 / b**2), sp.Abs(a) / sp.Abs(b), True)
    add("atan_reciprocal", B, sp.atan(1 / x), pi / 2 - sp.atan(x), False)
    add("sqrt_product_split", B, sqrt(a) * sqrt(b), sqrt(a * b), False)
    # ---------------------------------------------------------------- 4. decimal grids
    G = "grid"
    add("sin_comb_1e5", G, x**2 + sin(100000 * pi * x) / 1000, x**2, False)
    add("sin_comb_2e6", G, x**2 + sin(2 * 10**6 * pi * x) / 10**4, x**2, False)
    add("cos_comb_2000", G, x**3 + cos(2000 * pi * x) - 1, x**3, False)
    add("comb_two_variables", G, x * y + sin(10**5 * pi * x) * sin(10**5 * pi * y) / 100, x * y, False)
    add("comb_identity", G, sin(1000 * pi * x) ** 2 + cos(1000 * pi * x) ** 2 + x, x + 1, True)
    # ---------------------------------------------------------------- 5. arrays and diagnoses (latency)
    L = "latency"
    f = sp.Matrix([tanh(x * y), sp.Piecewise((x**2, x > 0), (sin(y), True)), log(1 + exp(z * x))])
    jac = f.jacobian([x, y, z])
    add("jacobian3_rewritten", L, jac.applyfunc(lambda e: e.rewrite(exp)), jac, True)
    add("jacobian3_one_wrong", L, jac.applyfunc(lambda e: e.rewrite(exp)) + sp.Matrix(3, 3, [0] * 8 + [x]), jac,
        False)
    w1, w2, w3 = sp.symbols("w1 w2 w3")
    nll = log(1 + exp(-(w1 * x + w2 * y + w3)))
    hess = sp.hessian(nll, [w1, w2, w3])
    add("hessian3_logistic_rewritten", L, hess.applyfunc(lambda e: sp.factor(e.rewrite(tanh))), hess, True)
    add("hessian3_logistic_sign", L, -hess, hess, False)
    add("antiderivative_wrong_by_parts", L, x * exp(x) * sin(x) / 2, sp.integrate(x * exp(x) * sin(x), x), False,
        kind="antiderivative", var=x)
    add("antiderivative_by_parts", L, sp.expand(sp.integrate(x * exp(x) * cos(x), x)),
        sp.integrate(x * exp(x) * cos(x), x), True, kind="antiderivative", var=x)
    add("gradient_tanh_layer", L, sp.Matrix([1 - tanh(w1 * x + w2) ** 2, x * (1 - tanh(w1 * x + w2) ** 2)]),
        sp.Matrix([sp.diff(tanh(w1 * x + w2), w1), sp.diff(tanh(w1 * x + w2), w2)]), False)
    # ---------------------------------------------------------------- 6. answers from ML libraries
    A = "arraylike"
    add("tensor_gradient", A, GradTensor([2.0, 4.0]), [2, 4], True)
    add("tensor_scalar", A, GradTensor(0.25), sp.Rational(1, 4), True)
    add("tensor_matrix_one_wrong", A, GradTensor([[1.0, 2.0], [3.0, 5.0]]), sp.Matrix([[1, 2], [3, 4]]), False)
    add("tensor_list_of_scalars", A, [GradTensor(1.0), GradTensor(-2.5)], [1, sp.Rational(-5, 2)], True)
    add("jax_like_vector", A, ArrayLike([0.5, 0.25]), np.array([0.5, 0.25]), True)
    add("tensor_vector_for_number", A, ArrayLike([1.0, 2.0]), 3, False)
