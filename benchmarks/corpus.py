"""The benchmark corpus: (answer, expected, options, right verdict) cases for ``compare``.

Written by hand for this project. Categories: derivatives, antiderivatives,
numbers, arrays (gradients, Jacobians, Hessians), classic mistakes of the
curriculum (with named mistakes where the course would declare them), traps
that break the usual approaches (agreement at every integer, answers 0.1 % off,
huge powers, log vs log|x|, sqrt(x**2), trig identities, floats vs rationals),
functions, and unreadable input.

Symbols are written the way students write them (``sp.Symbol("x")``, no
assumptions) unless a question declares them positive or integer, so the
baselines (`simplify(a - b) == 0`, `a.equals(b)`) see exactly what they would
see in a notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

x, y, z, t, w, b, a = sp.symbols("x y z t w b a")
xp = sp.Symbol("x", positive=True)
m = sp.Symbol("m", integer=True, positive=True)
C = sp.Symbol("C")
pi, E = sp.pi, sp.E
sin, cos, tan, exp, log, sqrt = sp.sin, sp.cos, sp.tan, sp.exp, sp.log, sp.sqrt


@dataclass
class Case:
    id: str
    category: str
    answer: Any
    expected: Any
    correct: bool
    options: dict[str, Any] = field(default_factory=dict)
    misconception: str | None = None  # the id compare should report, when checked
    baseline: bool = True  # whether simplify/equals baselines apply (not for functions)


def _sig(v: Any) -> Any:
    return 1 / (1 + sp.exp(-v))


def cases() -> list[Case]:
    out: list[Case] = []

    def add(id: str, cat: str, ans: Any, exp_: Any, correct: bool, mis: str | None = None, base: bool = True, **opts: Any) -> None:
        out.append(Case(id, cat, ans, exp_, correct, opts, mis, base))

    # ---------------------------------------------------------------- derivatives
    D = "derivative"
    add("power_x10", D, 10 * x**9, sp.diff(x**10, x), True)
    add("power_x10_str", D, "10*x^9", sp.diff(x**10, x), True)
    add("power_x10_wrong_exp", D, 10 * x**10, sp.diff(x**10, x), False)
    add("power_x10_forgot_coef", D, x**9, sp.diff(x**10, x), False, "constant_factor")
    add("sqrt_rule", D, 1 / (2 * sqrt(x)), sp.diff(sqrt(x), x), True)
    add("sqrt_rule_pow", D, x ** sp.Rational(-1, 2) / 2, sp.diff(sqrt(x), x), True)
    add("sqrt_rule_float", D, 0.5 * x**-0.5, sp.diff(sqrt(x), x), True)
    add("sqrt_rule_wrong", D, sqrt(x) / 2, sp.diff(sqrt(x), x), False)
    add("reciprocal", D, -1 / x**2, sp.diff(1 / x, x), True)
    add("reciprocal_sign", D, 1 / x**2, sp.diff(1 / x, x), False, "opposite_sign")
    add("reciprocal_str", D, "-x^(-2)", sp.diff(1 / x, x), True)
    add("ln_rule", D, 1 / x, sp.diff(log(x), x), True)
    add("exp_rule", D, exp(x), sp.diff(exp(x), x), True)
    add("exp_rule_wrong", D, x * exp(x - 1), sp.diff(exp(x), x), False)
    add("sum_rule", D, 3 * x**2 + 4 * x + 5, sp.diff(x**3 + 2 * x**2 + 5 * x + 7, x), True)
    add("sum_rule_factored", D, (3 * x + 2) * x + 2 * x + 5, sp.diff(x**3 + 2 * x**2 + 5 * x + 7, x), True)
    add("sum_rule_kept_const", D, 3 * x**2 + 4 * x + 12, sp.diff(x**3 + 2 * x**2 + 5 * x + 7, x), False, "added_constant")
    add("product_rule", D, 2 * x * sin(x) + x**2 * cos(x), sp.diff(x**2 * sin(x), x), True)
    add("product_rule_factored", D, x * (2 * sin(x) + x * cos(x)), sp.diff(x**2 * sin(x), x), True)
    add("product_rule_str", D, "x*(2*sin(x) + x*cos(x))", sp.diff(x**2 * sin(x), x), True)
    add("product_exp", D, exp(x) * (x**2 + 2 * x), sp.diff(x**2 * exp(x), x), True)
    add("chain_rule", D, 6 * x * (x**2 + 1) ** 2, sp.diff((x**2 + 1) ** 3, x), True)
    add("chain_rule_expanded", D, sp.expand(6 * x * (x**2 + 1) ** 2), sp.diff((x**2 + 1) ** 3, x), True)
    add("chain_exp", D, 2 * x * exp(x**2), sp.diff(exp(x**2), x), True)
    add("chain_exp_str", D, "2*x*e^(x^2)", sp.diff(exp(x**2), x), True)
    add("chain_sin", D, 3 * cos(3 * x + 1), sp.diff(sin(3 * x + 1), x), True)
    add("chain_log", D, 2 * x / (x**2 + 1), sp.diff(log(x**2 + 1), x), True)
    add("quotient", D, (cos(x) * x - sin(x)) / x**2, sp.diff(sin(x) / x, x), True)
    add("quotient_split", D, cos(x) / x - sin(x) / x**2, sp.diff(sin(x) / x, x), True)
    add("quotient_sign_slip", D, (sin(x) - x * cos(x)) / x**2, sp.diff(sin(x) / x, x), False, "opposite_sign")
    add("sigmoid_prime", D, _sig(x) * (1 - _sig(x)), sp.diff(_sig(x), x), True)
    add("sigmoid_prime_exp", D, exp(x) / (1 + exp(x)) ** 2, sp.diff(_sig(x), x), True)
    add("sigmoid_prime_wrong", D, _sig(x) * (1 + _sig(x)), sp.diff(_sig(x), x), False)
    add("tanh_prime", D, 1 - sp.tanh(x) ** 2, sp.diff(sp.tanh(x), x), True)
    add("tanh_prime_sech", D, 1 / sp.cosh(x) ** 2, sp.diff(sp.tanh(x), x), True)
    add("softplus_prime", D, _sig(x), sp.diff(log(1 + exp(x)), x), True)
    add("softplus_prime_exp", D, exp(x) / (1 + exp(x)), sp.diff(log(1 + exp(x)), x), True)
    add("softplus_prime_wrong", D, 1 / (1 + exp(x)), sp.diff(log(1 + exp(x)), x), False)
    add("partial_x", D, 2 * x * y + 3 * y**2, sp.diff(x**2 * y + 3 * x * y**2, x), True)
    add("partial_y", D, x**2 + 6 * x * y, sp.diff(x**2 * y + 3 * x * y**2, y), True)
    add("partial_wrong_var", D, x**2 + 6 * x * y, sp.diff(x**2 * y + 3 * x * y**2, x), False)
    add("loss_dw", D, -2 * x * (y - w * x - b), sp.diff((y - (w * x + b)) ** 2, w), True)
    add("loss_dw_sign", D, 2 * x * (y - w * x - b), sp.diff((y - (w * x + b)) ** 2, w), False, "opposite_sign")
    add("loss_dw_missing2", D, -x * (y - w * x - b), sp.diff((y - (w * x + b)) ** 2, w), False, "constant_factor")
    add("limit_def_x2", D, 2 * x, sp.limit(((x + t) ** 2 - x**2) / t, t, 0), True)
    add("diff_quotient_unsimplified", D, ((x + t) ** 2 - x**2) / t, 2 * x + t, True)

    # ---------------------------------------------------------------- antiderivatives
    A = "antiderivative"
    anti = {"kind": "antiderivative"}
    add("int_x2", A, x**3 / 3, x**3 / 3, True, **anti)
    add("int_x2_plusC", A, x**3 / 3 + C, x**3 / 3, True, **anti)
    add("int_x2_plus7", A, x**3 / 3 + 7, x**3 / 3, True, **anti)
    add("int_x2_str", A, "x^3/3 + C", x**3 / 3, True, **anti)
    add("int_x2_forgot_div", A, x**3, x**3 / 3, False, "constant_factor", **anti)
    add("int_x2_differentiated", A, 2 * x, x**3 / 3, False, "differentiated_instead", **anti)
    add("int_x5", A, x**6 / 6, x**6 / 6, True, **anti)
    add("int_x5_float", A, 0.1666666666666667 * x**6, x**6 / 6, True, **anti)
    add("int_1", A, x, x, True, **anti)
    add("int_1_plusC", A, x + C, x, True, **anti)
    add("int_1_over_x_log", A, log(x), log(sp.Abs(x)), True, **anti)
    add("int_1_over_x_logabs", A, log(sp.Abs(x)), log(x), True, **anti)
    add("int_1_over_x_log2x", A, log(2 * x), log(x), True, **anti)
    add("int_1_over_x_wrong", A, -1 / x**2, log(x), False, "differentiated_instead", **anti)
    add("int_exp", A, exp(x) + C, exp(x), True, **anti)
    add("int_exp_2x", A, exp(2 * x) / 2, exp(2 * x) / 2, True, **anti)
    add("int_exp_2x_forgot", A, exp(2 * x), exp(2 * x) / 2, False, "constant_factor", **anti)
    add("int_sin", A, -cos(x), -cos(x), True, **anti)
    add("int_sin_sign", A, cos(x), -cos(x), False, "opposite_sign", **anti)
    add("int_cos_differentiated", A, -sin(x), sin(x), False, "opposite_sign", **anti)
    add("int_x3_differentiated", A, 3 * x**2, x**4 / 4, False, "differentiated_instead", **anti)
    add("int_sin2", A, x / 2 - sin(2 * x) / 4, sp.integrate(sin(x) ** 2, x), True, **anti)
    add("int_sin2_alt", A, x / 2 - sin(x) * cos(x) / 2, sp.integrate(sin(x) ** 2, x), True, **anti)
    add("int_sin_cos", A, sin(x) ** 2 / 2, -cos(x) ** 2 / 2, True, **anti)
    add("int_xexp", A, (x - 1) * exp(x), x * exp(x) - exp(x), True, **anti)
    add("int_xexp_wrong", A, x * exp(x), x * exp(x) - exp(x), False, **anti)
    add("int_constant_inside", A, C * x**3 / 3, x**3 / 3, False, "constant_misplaced", **anti)
    add("int_atan", A, sp.atan(x), sp.atan(x), True, **anti)
    add("int_poly_mixed", A, x**4 / 4 + x**2 + 5 * x, sp.integrate(x**3 + 2 * x + 5, x), True, **anti)

    # ---------------------------------------------------------------- numbers
    N = "number"
    add("sum_1_10", N, 55, sp.Integer(55), True)
    add("sum_1_10_off", N, 45, sp.Integer(55), False)
    add("sum_sq_3", N, 14, sp.summation(t**2, (t, 1, 3)), True)
    add("prod_5", N, 120, sp.factorial(5), True)
    add("prod_nested", N, 288, sp.Integer(288), True)
    add("def_int_8_3", N, sp.Rational(8, 3), sp.integrate(x**2, (x, 0, 2)), True)
    add("def_int_float", N, 2.6666666667, sp.Rational(8, 3), True)
    add("def_int_2dp", N, 2.67, sp.Rational(8, 3), False)
    add("def_int_forgot_div", N, 8, sp.Rational(8, 3), False, "constant_factor")
    add("double_int", N, 1, sp.integrate(x * y, (y, 0, 2), (x, 0, 1)), True)
    add("chain_at_2", N, 300, sp.diff((x**2 + 1) ** 3, x).subs(x, 2), True)
    add("product_at_2", N, 59.11, sp.diff(x**2 * exp(x), x).subs(x, 2), False)
    add("product_at_2_full", N, 59.11244879144681, sp.diff(x**2 * exp(x), x).subs(x, 2), True)
    add("product_at_2_exact", N, 8 * E**2, sp.diff(x**2 * exp(x), x).subs(x, 2), True)
    add("f_at_2_3", N, 66, (x**2 * y + 3 * x * y**2).subs({x: 2, y: 3}), True)
    add("third_float", N, 1 / 3, sp.Rational(1, 3), True)
    add("third_short", N, 0.3333, sp.Rational(1, 3), False)
    add("sqrt2_exact", N, 2 * sqrt(2), sqrt(8), True)
    add("sqrt2_float", N, 1.41421356, sqrt(2), True)
    add("pi_rational", N, sp.Rational(22, 7), pi, False)
    add("e_float", N, 2.718281828459045, E, True)
    add("e_short", N, 2.718, E, False)
    add("float_sum", N, 0.1 + 0.2, sp.Rational(3, 10), True)
    add("np_float", N, np.float64(0.5), sp.Rational(1, 2), True)
    add("np_int", N, np.int64(120), sp.Integer(120), True)
    add("negative_zero", N, -0.0, sp.Integer(0), True)
    add("tiny_vs_zero", N, 1e-12, sp.Integer(0), True)
    add("normalising_const", N, sp.Rational(3, 8), sp.Rational(3, 8), True)
    add("normalising_const_inv", N, sp.Rational(8, 3), sp.Rational(3, 8), False)
    add("expected_value", N, 1.5, sp.Rational(3, 2), True)
    add("big_int", N, 2**200, sp.Integer(2) ** 200, True)
    add("big_int_off", N, 2**200 + 2**195, sp.Integer(2) ** 200, False)
    add("big_int_within_tol", N, 2**200 + 2**150, sp.Integer(2) ** 200, True)

    # ---------------------------------------------------------------- arrays
    R = "array"
    grad = [2 * x * y + 3 * y**2, x**2 + 6 * x * y]
    add("grad_list", R, list(grad), grad, True)
    add("grad_matrix", R, sp.Matrix(grad), grad, True)
    add("grad_tuple_str", R, "[2*x*y + 3*y^2, x^2 + 6*x*y]", grad, True)
    add("grad_swapped", R, grad[::-1], grad, False, "swapped_components")
    add("grad_missing", R, grad[:1], grad, False, "missing_component")
    add("grad_one_wrong", R, [2 * x * y + 3 * y**2, x**2 + 3 * x * y], grad, False, "one_wrong_entry")
    add("grad_at_point", R, np.array([39.0, 40.0]), [39, 40], True)
    add("grad_at_point_col", R, np.array([[39.0], [40.0]]), [39, 40], True)
    add("grad_at_point_swapped", R, np.array([40.0, 39.0]), [39, 40], False, "swapped_components")
    add("grad_at_point_off", R, [39.04, 40.0], [39, 40], False, "one_wrong_entry")
    hess = sp.hessian(x**2 * y + 3 * x * y**2, (x, y))
    add("hessian", R, sp.Matrix([[2 * y, 2 * x + 6 * y], [2 * x + 6 * y, 6 * x]]), hess, True)
    add("hessian_nested_list", R, [[2 * y, 2 * x + 6 * y], [2 * x + 6 * y, 6 * x]], hess, True)
    add("hessian_wrong", R, [[2 * y, 2 * x + 6 * y], [2 * x + 6 * y, 6 * y]], hess, False, "one_wrong_entry")
    jac = sp.Matrix([x**2 * y, 5 * x + sin(y)]).jacobian([x, y])
    add("jacobian", R, sp.Matrix([[2 * x * y, x**2], [5, cos(y)]]), jac, True)
    add("jacobian_transposed", R, sp.Matrix([[2 * x * y, 5], [x**2, cos(y)]]), jac, False, "transposed")
    add("hessian_numeric", R, np.array([[6.0, 22.0], [22.0, 12.0]]), hess.subs({x: 2, y: 3}), True)
    add("params_vector", R, (0.5, -1.25), np.array([0.5, -1.25]), True)
    add("params_vector_sign", R, (-0.5, 1.25), np.array([0.5, -1.25]), False, "opposite_sign")
    add("grad_ragged", R, [[1, 2], [3]], [[1, 2], [3, 4]], False)
    add("grad_empty", R, [], [39, 40], False)
    add("grad_scalar", R, 39, [39, 40], False)
    add("steepest_dir", R, [39 / sqrt(39**2 + 40**2), 40 / sqrt(39**2 + 40**2)], [39 / sp.sqrt(3121), 40 / sp.sqrt(3121)], True)

    # ---------------------------------------------------------------- classic mistakes (named)
    K = "mistake"
    chain = sp.diff((x**2 + 1) ** 3, x)
    chain_m = {"forgot_inner_derivative": (3 * (x**2 + 1) ** 2, "Multiply by the derivative of the inside, 2x.")}
    add("named_inner", K, 3 * (x**2 + 1) ** 2, chain, False, "forgot_inner_derivative", mistakes=chain_m)
    add("named_inner_str", K, "3*(x**2+1)**2", chain, False, "forgot_inner_derivative", mistakes=chain_m)
    add("named_inner_correct", K, 6 * x * (x**2 + 1) ** 2, chain, True, mistakes=chain_m)
    prod_m = {"fprime_gprime": (2 * x * cos(x), "The product rule is f'g + fg', not f'g'.")}
    add("named_product", K, 2 * x * cos(x), sp.diff(x**2 * sin(x), x), False, "fprime_gprime", mistakes=prod_m)
    sum_k = m * (m + 1) / 2
    sum_m = {"off_by_one": (m * (m - 1) / 2, "Check the last term: the sum goes up to m.")}
    add("closed_sum_k", K, m * (m + 1) / 2, sum_k, True, mistakes=sum_m)
    add("closed_sum_k_expanded", K, m**2 / 2 + m / 2, sum_k, True, mistakes=sum_m)
    add("closed_sum_k_off", K, m * (m - 1) / 2, sum_k, False, "off_by_one", mistakes=sum_m)
    sq = m * (m + 1) * (2 * m + 1) / 6
    sq_m = {"dropped_sixth": (m * (m + 1) * (2 * m + 1), "Did you drop the 1/6?")}
    add("closed_sum_sq", K, sp.summation(t**2, (t, 1, m)), sq, True, mistakes=sq_m)
    add("closed_sum_sq_dropped", K, m * (m + 1) * (2 * m + 1), sq, False, "dropped_sixth", mistakes=sq_m)
    add("closed_sum_cube", K, (m * (m + 1) / 2) ** 2, sp.summation(t**3, (t, 1, m)), True)
    add("closed_sum_sq_generic", K, m * (m + 1) * (2 * m + 1) / 3, sq, False, "constant_factor")
    int_m = {"no_divide": (x**3, "Divide by the new power n+1."), "differentiated": (2 * x, "You differentiated.")}
    add("named_int_nodiv", K, x**3 + C, x**3 / 3, False, "no_divide", kind="antiderivative", mistakes=int_m)
    add("named_int_diff", K, 2 * x, x**3 / 3, False, "differentiated", kind="antiderivative", mistakes=int_m)
    N_ = sp.Symbol("N", positive=True)
    dl = -(2 / N_) * x * (y - w * x - b)
    dl_m = {"sign": (-dl, "Mind the sign of the inner derivative."), "no_two": (dl / 2, "The square brings down a 2."),
            "no_n": (dl * N_, "Average over the N examples.")}
    add("mse_dw", K, -2 * x * (y - (w * x + b)) / N_, dl, True, mistakes=dl_m)
    add("mse_dw_sign", K, -dl, dl, False, "sign", mistakes=dl_m)
    add("mse_dw_no_two", K, dl / 2, dl, False, "no_two", mistakes=dl_m)
    add("mse_dw_no_n", K, dl * N_, dl, False, "no_n", mistakes=dl_m)
    add("newton_step", K, x - (x**2 - 2) / (2 * x), x / 2 + 1 / x, True)
    add("gd_step_sign", K, w + a * 2 * w, w - a * 2 * w, False)

    # ---------------------------------------------------------------- traps
    T = "trap"
    add("int_agree_sin_pi", T, sin(pi * x), sp.Integer(0), False, kind="expression", var=x)
    add("int_agree_plus_sin", T, x**2 + sin(pi * x), x**2, False)
    add("int_agree_frac", T, x + (x - sp.floor(x)), x, False)
    add("grid_agree", T, x**2 + sin(4 * pi * x) / 100, x**2, False)
    add("off_0_1_percent", T, 1.001 * x**2, x**2, False)
    add("off_0_1_percent_exp", T, 0.999 * exp(x), exp(x), False)
    add("off_additive_small", T, sin(x) + 0.001, sin(x), False)
    add("off_1e_8", T, (1 + 1e-8) * cos(x), cos(x), True)
    add("pow_6000_same", T, (x - a) ** 6000, (a - x) ** 6000, True)
    add("pow_6001_sign", T, (x - a) ** 6001, (a - x) ** 6001, False)
    add("pow_6000_vs_5999", T, (x - 3) ** 6000, (x - 3) ** 5999, False)
    add("pow_100000", T, (x + 1) ** 100000, (x + 1) ** 100000, True)
    add("pow_100000_split", T, (x + 1) ** 99999 * (x + 1), (x + 1) ** 100000, True)
    add("pow_100000_off", T, (x + 1) ** 100000 * (1 + 1e-4), (x + 1) ** 100000, False)
    add("pow_1e10", T, x ** (10**10), x ** (10**10), True)
    add("pow_1e10_off", T, x ** (10**10 + 1), x ** (10**10), False)
    add("exp_1000x", T, exp(x) ** 1000, exp(1000 * x), True)
    add("exp_large_off", T, exp(1000 * x) * 1.01, exp(1000 * x), False)
    add("log_vs_logabs", T, log(sp.Abs(x)), log(x), True)
    add("logabs_vs_log", T, log(x), log(sp.Abs(x)), False)
    add("log_product_rule", T, log(x) + log(y), log(x * y), False)
    add("log_product_rule_domain", T, log(xp * y), log(xp) + log(y), True)
    add("log_power_pos", T, 2 * log(xp), log(xp**2), True)
    add("log_power_real", T, 2 * log(x), log(x**2), False)
    add("log_power_real_abs", T, 2 * log(sp.Abs(x)), log(x**2), True)
    add("sqrt_sq_vs_x", T, sqrt(x**2), x, False)
    add("sqrt_sq_vs_abs", T, sqrt(x**2), sp.Abs(x), True)
    add("sqrt_sq_pos", T, sqrt(xp**2), xp, True)
    add("sqrt_product", T, sqrt(x) * sqrt(y), sqrt(x * y), False)
    add("pythagoras", T, sin(x) ** 2 + cos(x) ** 2, sp.Integer(1), True, kind="expression", var=x)
    add("double_angle", T, 2 * sin(x) * cos(x), sin(2 * x), True)
    add("double_angle_wrong", T, sin(x) * cos(x), sin(2 * x), False, "constant_factor")
    add("cos_double", T, 1 - 2 * sin(x) ** 2, cos(2 * x), True)
    add("cos_double_alt", T, cos(x) ** 2 - sin(x) ** 2, cos(2 * x), True)
    add("tan_identity", T, 1 + tan(x) ** 2, 1 / cos(x) ** 2, True)
    add("shift_identity", T, sin(x + pi / 2), cos(x), True)
    add("power_reduction", T, (1 - cos(2 * x)) / 2, sin(x) ** 2, True)
    add("hyperbolic", T, sp.cosh(x) ** 2 - sp.sinh(x) ** 2, sp.Integer(1), True, kind="expression", var=x)
    add("sum_angles", T, sin(x) * cos(y) + cos(x) * sin(y), sin(x + y), True)
    add("sum_angles_wrong", T, sin(x) * cos(y) - cos(x) * sin(y), sin(x + y), False)
    add("float_rational_coef", T, 0.5 * x**2, x**2 / 2, True)
    add("float_rational_coef_off", T, 0.33 * x**3, x**3 / 3, False)
    add("float_exponent", T, x**2.0, x**2, True)
    add("float_e_base", T, 2.718281828459045**x, exp(x), True)
    add("e_base_short", T, 2.71828**x, exp(x), False)
    add("removable", T, (x**2 - 1) / (x - 1), x + 1, True)
    add("exp_log", T, exp(log(x)), x, True)
    add("log_exp", T, log(exp(x)), x, True)
    add("relu", T, sp.Max(0, x), (x + sp.Abs(x)) / 2, True)
    add("relu_prime", T, sp.Heaviside(x), sp.Piecewise((1, x > 0), (0, True)), True)
    add("sign_abs", T, sp.Abs(x) / x, sp.sign(x), True)
    add("cancel_big", T, (x**3 - y**3) / (x - y), x**2 + x * y + y**2, True)
    add("expanded_binomial", T, sp.expand((x + 1) ** 12), (x + 1) ** 12, True)
    add("expanded_binomial_off", T, sp.expand((x + 1) ** 12) + x**5, (x + 1) ** 12, False)
    add("nested_exp_diff", T, exp(exp(x)), exp(exp(x)) * (1 + 1e-3), False)
    add("tiny_gaussian", T, exp(-x**2) * 2, 2 * exp(-x**2), True)
    add("tiny_gaussian_off", T, exp(-x**2 - 1e-3), exp(-x**2), False)
    add("catastrophic_cancel", T, (1 + x) ** 2 - x**2 - 2 * x, sp.Integer(1), True, kind="expression", var=x)
    add("atan_identity", T, sp.atan(x) + sp.atan(1 / x), pi / 2 * sp.sign(x), True)
    add("integer_sym_sum", T, m * (m + 1), m**2 + m, True)

    # ---------------------------------------------------------------- functions
    F = "function"

    def ref_relu_prime(v):
        return np.where(np.asarray(v) > 0, 1.0, 0.0)

    def stud_relu_prime(v):
        return (np.asarray(v) > 0).astype(float)

    def stud_relu_prime_wrong(v):
        return (np.asarray(v) >= 0).astype(float)

    def mse(yv, yh):
        return float(np.mean((np.asarray(yv) - np.asarray(yh)) ** 2))

    def mse_loop(yv, yh):
        yv, yh = list(np.ravel(yv)), list(np.ravel(yh))
        return sum((p - q) ** 2 for p, q in zip(yv, yh)) / len(yv)

    def sse(yv, yh):
        return float(np.sum((np.asarray(yv) - np.asarray(yh)) ** 2))

    def central(f, v, h=1e-5):
        return (f(v + h) - f(v - h)) / (2 * h)

    def forward(f, v, h=1e-5):
        return (f(v + h) - f(v)) / h

    sig_in = [(sp.Lambda(x, sin(x)), 0.7), (sp.Lambda(x, exp(x)), 1.2), (sp.Lambda(x, x**3), -0.4)]
    add("fn_relu_prime", F, stud_relu_prime, ref_relu_prime, True, base=False)
    add("fn_relu_prime_at0", F, stud_relu_prime_wrong, ref_relu_prime, False, base=False)
    add("fn_mse", F, mse_loop, mse, True, base=False)
    add("fn_mse_sum", F, sse, mse, False, base=False)
    add("fn_central", F, lambda f, v: (f(v + 1e-6) - f(v - 1e-6)) / 2e-6, central, True, base=False, inputs=sig_in, rtol=1e-6)
    add("fn_forward_vs_central", F, forward, central, False, base=False, inputs=sig_in, rtol=1e-8)
    add("fn_gd_step", F, lambda w_, g, lr: w_ - lr * g, lambda w_, g, lr: w_ - lr * g, True, base=False)
    add("fn_gd_step_plus", F, lambda w_, g, lr: w_ + lr * g, lambda w_, g, lr: w_ - lr * g, False, base=False)
    add("fn_log_lik", F, lambda p: float(np.sum(np.log(p))), lambda p: float(np.log(np.prod(p))), True, base=False,
        inputs=[np.array([0.2, 0.5, 0.9]), np.array([0.99] * 5)])
    add("fn_raises", F, lambda v: 1 / 0, lambda v: v, False, base=False)

    # ---------------------------------------------------------------- unreadable input
    I = "invalid"
    add("stub", I, ..., 2 * x, False)
    add("none", I, None, 2 * x, False)
    add("nan", I, float("nan"), 2 * x, False)
    add("zoo", I, sp.zoo, 2 * x, False)
    add("unevaluated", I, sp.Derivative(x**2, x), 2 * x, False)
    add("relation", I, sp.Eq(y, 2 * x), 2 * x, False)
    add("stray_t", I, 2 * t, 2 * x, False)
    add("implicit_mult", I, "2x", 2 * x, False)
    add("injection", I, "__import__('os').system('true')", 2 * x, False)
    add("complex_number", I, 2 + 1j, sp.Integer(2), False)

    # ---------------------------------------------------------------- issue 14 (benchmarks/corpus_robust.py)
    from benchmarks.corpus_robust import robust_cases

    robust_cases(add)
    return out
