"""The vector/matrix corpus: gradients, Jacobians, Hessians and Newton steps as students write them.

Written for this project from the usual sources of the course's matrix calculus (MML ch. 5, Parr &
Howard's matrix calculus, the Matrix Cookbook's trace and determinant identities, CS231n-style
softmax / logistic / MSE gradients, Newton steps). Each problem is a scalar (or vector) function of
concrete small vectors or matrices of symbols, a reference formula for ``compare``, and answers in the
forms students hand in (expanded, factored, another identity, a missing transpose, a missing factor).

The right verdict of a value case never comes from a reference formula: it is decided by central
finite differences of the function itself at 50 significant digits (mpmath) at 24 seeded points,
``fd_truth``. The reference formula is checked the same way when the corpus is built (a wrong
reference stops the benchmark). Shape cases (a row for a column, a flat list, a 1 x 1 matrix for a
scalar) are decided by the course's convention (docs/COURSE.md) and are marked ``policy``.
"""

from __future__ import annotations

import random
from typing import Any, Callable

import mpmath
import numpy as np
import sympy as sp

from benchmarks.corpus import Case

x1, x2, x3 = sp.symbols("x1 x2 x3")
z1, z2, z3 = sp.symbols("z1 z2 z3")
w1, w2 = sp.symbols("w1 w2")
a11, a12, a21, a22 = sp.symbols("a11 a12 a21 a22")
X = sp.Matrix(2, 2, sp.symbols("x11 x12 x21 x22"))
xv = sp.Matrix([x1, x2, x3])
xv2 = sp.Matrix([x1, x2])
zv = sp.Matrix([z1, z2, z3])
wv = sp.Matrix([w1, w2])
exp, log, R = sp.exp, sp.log, sp.Rational

FD_DPS = 50
FD_H = mpmath.mpf(10) ** -15
FD_RTOL = 1e-12


def _sig(v: Any) -> Any:
    return 1 / (1 + sp.exp(-v))


def _points(syms: list[sp.Symbol], seed: int, n: int = 24) -> list[dict[sp.Symbol, Any]]:
    rng = random.Random(seed)
    return [{s: sp.Rational(rng.randint(-170, 170), 97) + sp.Rational(1, 1009) for s in syms} for _ in range(n)]


def _value(expr: sp.Expr, point: dict[sp.Symbol, Any]) -> mpmath.mpf:
    v = sp.N(expr.xreplace(point), FD_DPS)
    return mpmath.mpf(str(sp.re(v)))


def _fd(f: sp.Expr, var: sp.Symbol, point: dict[sp.Symbol, Any]) -> mpmath.mpf:
    """Central difference of f along var at point, at FD_DPS digits (error ~ h**2)."""
    with mpmath.workdps(FD_DPS):
        h = sp.Float(str(FD_H), FD_DPS)
        up = {**point, var: point[var] + h}
        dn = {**point, var: point[var] - h}
        return (_value(f, up) - _value(f, dn)) / (2 * FD_H)


def fd_truth(f: Any, variables: sp.Matrix, answer: Any, seed: int = 7) -> bool:
    """Whether ``answer`` equals the derivative of ``f`` with respect to ``variables`` (by finite
    differences): for a scalar f, the gradient (shape of ``variables``, or a flat list); for a vector f
    (a column), the Jacobian with one row per output. Entries are compared, not shapes."""
    f_list = list(f) if isinstance(f, sp.MatrixBase) else [f]
    vars_list = list(variables)
    arr = sp.Matrix(answer) if not isinstance(answer, sp.Basic) or isinstance(answer, sp.MatrixBase) else sp.Matrix([answer])
    entries = list(arr)
    if len(entries) != len(f_list) * len(vars_list):
        return False
    syms = sorted(set().union(*(sp.sympify(e).free_symbols for e in f_list)) | set(vars_list), key=str)
    with mpmath.workdps(FD_DPS):
        for p in _points(syms, seed):
            k = 0
            for fi in f_list:
                for v in vars_list:
                    want = _fd(fi, v, p)
                    got = _value(sp.sympify(entries[k]), p)
                    if abs(got - want) > FD_RTOL * (1 + abs(want)):
                        return False
                    k += 1
    return True


def cases() -> list[Case]:
    out: list[Case] = []

    def problem(pid: str, cat: str, f: Any, variables: sp.Matrix, reference: Any,
                answers: list[tuple[str, Any]], **opts: Any) -> None:
        if not fd_truth(f, variables, reference):
            raise ValueError(f"vector corpus: the reference of {pid} fails its finite-difference check")
        for label, ans in answers:
            out.append(Case(f"{pid}_{label}", cat, ans, reference, fd_truth(f, variables, ans), dict(opts)))

    def policy(pid: str, answer: Any, reference: Any, correct: bool, **opts: Any) -> None:
        out.append(Case(pid, "policy", answer, reference, correct, dict(opts)))

    # --- MML ch. 5 / Parr & Howard: linear and quadratic forms ------------------------------------
    a = sp.Matrix([2, -1, R(1, 3)])
    problem("grad_aTx", "vec-gradient", (a.T * xv)[0], xv, a, [
        ("col", a), ("flat", [2, -1, R(1, 3)]), ("sign", -a), ("missing_entry_scaled", sp.Matrix([2, -1, 3]))])
    A = sp.Matrix([[2, R(1, 2)], [-3, 1]])
    q = (xv2.T * A * xv2)[0]
    problem("grad_xTAx", "vec-gradient", q, xv2, (A + A.T) * xv2, [
        ("sum", A * xv2 + A.T * xv2), ("expanded", sp.expand((A + A.T) * xv2)),
        ("two_Ax", 2 * A * xv2), ("Ax", A * xv2), ("two_ATx", 2 * A.T * xv2)])
    problem("hess_xTAx", "vec-jacobian", (A + A.T) * xv2, xv2, A + A.T, [
        ("sym", A + A.T), ("twoA", 2 * A), ("numbers", sp.Matrix([[4, R(-5, 2)], [R(-5, 2), 2]]))])
    problem("grad_xTx", "vec-gradient", (xv.T * xv)[0], xv, 2 * xv, [
        ("two_x", 2 * xv), ("x", xv), ("flat", [2 * x1, 2 * x2, 2 * x3])])
    norm = sp.sqrt(x1**2 + x2**2 + x3**2)
    problem("grad_norm", "vec-gradient", norm, xv, xv / norm, [
        ("unit", xv / norm), ("pow", xv * (x1**2 + x2**2 + x3**2) ** R(-1, 2)), ("no_root", xv / (x1**2 + x2**2 + x3**2))])
    gauss = exp(-(xv2.T * xv2)[0] / 2)
    problem("grad_gauss", "vec-gradient", gauss, xv2, -xv2 * gauss, [
        ("neg", -xv2 * gauss), ("exp_split", -xv2 * exp(-x1**2 / 2) * exp(-x2**2 / 2)), ("sign", xv2 * gauss)])

    # --- least squares: grad ||Ax - b||^2 = 2 A^T (Ax - b) -------------------------------------------
    M = sp.Matrix([[1, 2], [R(1, 2), -1], [3, 0]])
    bb = sp.Matrix([1, R(-2, 3), 4])
    r = M * xv2 - bb
    ls = (r.T * r)[0]
    problem("grad_lsq", "ml-gradient", ls, xv2, 2 * M.T * r, [
        ("normal", 2 * M.T * M * xv2 - 2 * M.T * bb), ("expanded", sp.expand(2 * M.T * r)),
        ("missing_2", M.T * r), ("no_transpose_fix", 2 * (M.T * M) * xv2 + 2 * M.T * bb)])
    # MSE over n = 3 samples: (2/n) X^T (Xw - y)
    mse = ls / 3
    problem("grad_mse", "ml-gradient", mse, xv2, R(2, 3) * M.T * r, [
        ("right", R(2, 3) * M.T * r), ("mean_forgot", 2 * M.T * r), ("float_factor", 0.6666666666666666 * M.T * r)])

    # --- CS231n: softmax cross-entropy, logistic loss --------------------------------------------
    Z = exp(z1) + exp(z2) + exp(z3)
    ce = -log(exp(z1) / Z)  # the true class is 1
    p = sp.Matrix([exp(z1) / Z, exp(z2) / Z, exp(z3) / Z])
    ymat = sp.Matrix([1, 0, 0])
    problem("grad_softmax_ce", "ml-gradient", ce, zv, p - ymat, [
        ("p_minus_y", p - ymat), ("shifted", sp.Matrix([exp(z - z1) for z in (z1, z2, z3)]) /
                                  (1 + exp(z2 - z1) + exp(z3 - z1)) - ymat),
        ("y_minus_p", ymat - p), ("p_only", p)])
    feats = sp.Matrix([R(3, 2), -2])
    s = _sig((wv.T * feats)[0])
    logloss = -log(s)  # label 1
    problem("grad_logistic", "ml-gradient", logloss, wv, (s - 1) * feats, [
        ("sigma_minus_y", (s - 1) * feats), ("exp_form", -feats * exp(-(wv.T * feats)[0]) / (1 + exp(-(wv.T * feats)[0]))),
        ("sign", (1 - s) * feats), ("extra_sigma_prime", (s - 1) * s * (1 - s) * feats)])
    problem("jac_sigmoid", "vec-jacobian", sp.Matrix([_sig(z1), _sig(z2)]), sp.Matrix([z1, z2]),
            sp.diag(_sig(z1) * (1 - _sig(z1)), _sig(z2) * (1 - _sig(z2))), [
                ("diag", sp.diag(_sig(z1) * (1 - _sig(z1)), _sig(z2) * (1 - _sig(z2)))),
                ("exp_form", sp.diag(exp(-z1) / (1 + exp(-z1)) ** 2, exp(-z2) / (1 + exp(-z2)) ** 2)),
                ("no_minus", sp.diag(_sig(z1) * (1 + _sig(z1)), _sig(z2) * (1 - _sig(z2))))])
    problem("grad_tanh_sum", "vec-gradient", sp.tanh(x1) + sp.tanh(2 * x2), xv2,
            sp.Matrix([1 - sp.tanh(x1) ** 2, 2 * (1 - sp.tanh(2 * x2) ** 2)]), [
                ("sech", sp.Matrix([sp.sech(x1) ** 2, 2 * sp.sech(2 * x2) ** 2])),
                ("cosh", sp.Matrix([1 / sp.cosh(x1) ** 2, 2 / sp.cosh(2 * x2) ** 2])),
                ("forgot_inner", sp.Matrix([sp.sech(x1) ** 2, sp.sech(2 * x2) ** 2]))])
    problem("grad_softplus", "vec-gradient", log(1 + exp(x1)) + log(1 + exp(-x2)), xv2,
            sp.Matrix([_sig(x1), -_sig(-x2)]), [
                ("sigmoid", sp.Matrix([_sig(x1), -_sig(-x2)])), ("exp", sp.Matrix([exp(x1) / (1 + exp(x1)), -1 / (1 + exp(x2))])),
                ("sign", sp.Matrix([_sig(x1), _sig(-x2)]))])

    # --- Piecewise: ReLU, hinge, Huber ----------------------------------------------------------------
    relu = sp.Max(0, x1) + sp.Max(0, 2 * x2 - 1)
    problem("grad_relu", "piecewise", relu, xv2, sp.Matrix([sp.Heaviside(x1), 2 * sp.Heaviside(2 * x2 - 1)]), [
        ("piecewise", sp.Matrix([sp.Piecewise((1, x1 > 0), (0, True)), sp.Piecewise((2, 2 * x2 - 1 > 0), (0, True))])),
        ("sign", sp.Matrix([(sp.sign(x1) + 1) / 2, sp.sign(2 * x2 - 1) + 1])),
        ("kink_at_0", sp.Matrix([sp.Heaviside(x1), 2 * sp.Heaviside(x2)]))])
    hinge = sp.Max(0, 1 - (wv.T * feats)[0])
    m_ = (wv.T * feats)[0]
    problem("grad_hinge", "piecewise", hinge, wv, sp.Piecewise((1, m_ < 1), (0, True)) * -feats, [
        ("piecewise", sp.Matrix([sp.Piecewise((-R(3, 2), m_ < 1), (0, True)), sp.Piecewise((2, m_ < 1), (0, True))])),
        ("heaviside", -feats * sp.Heaviside(1 - m_)), ("margin_0", -feats * sp.Heaviside(-m_))])
    hub = sp.Piecewise((x1**2 / 2, sp.Abs(x1) <= 1), (sp.Abs(x1) - R(1, 2), True))
    problem("grad_huber", "piecewise", hub + x2**2 / 2, xv2,
            sp.Matrix([sp.Piecewise((x1, sp.Abs(x1) <= 1), (sp.sign(x1), True)), x2]), [
                ("clip", sp.Matrix([sp.Max(-1, sp.Min(1, x1)), x2])),
                ("piecewise", sp.Matrix([sp.Piecewise((-1, x1 < -1), (x1, x1 <= 1), (1, True)), x2])),
                ("no_clip", sp.Matrix([x1, x2]))])

    # --- Matrix Cookbook: traces, inverses and determinants of a 2 x 2 matrix of symbols -----------
    Am = sp.Matrix([[1, 2], [R(-1, 2), 3]])
    Bm = sp.Matrix([[0, 1], [2, R(1, 3)]])
    Xi = X.inv()
    tr = (Am * Xi * Bm).trace()
    grad_tr = -(Xi * Bm * Am * Xi).T
    problem("grad_trAXinvB", "mat-gradient", tr, X, grad_tr, [
        ("cookbook", -Xi.T * Am.T * Bm.T * Xi.T), ("together", grad_tr.applyfunc(sp.factor)),
        ("adjugate", -(X.adjugate() * Bm * Am * X.adjugate()).T / X.det() ** 2),
        ("no_transpose", -Xi * Bm * Am * Xi), ("sign", Xi.T * Am.T * Bm.T * Xi.T)])
    problem("grad_logdet", "mat-gradient", log(X.det()), X, Xi.T, [
        ("inv_T", Xi.T), ("adj", X.adjugate().T / X.det()), ("inv", Xi)])
    problem("grad_trXTAX", "mat-gradient", (X.T * Am * X).trace(), X, (Am + Am.T) * X, [
        ("sum", Am * X + Am.T * X), ("twoAX", 2 * Am * X), ("expanded", sp.expand((Am + Am.T) * X))])
    problem("grad_det", "mat-gradient", X.det(), X, X.det() * Xi.T, [
        ("cofactor", X.adjugate().T), ("det_inv_T", X.det() * Xi.T), ("adj", X.adjugate())])
    problem("jac_Ax", "vec-jacobian", M * xv2, xv2, M, [
        ("A", M), ("AT_rows", M.T.T), ("wrong_entry", M + sp.Matrix([[0, 0], [0, R(1, 97)], [0, 0]]))])

    # --- Newton steps ---------------------------------------------------------------------------------
    f2 = x1**4 / 4 + x1 * x2 + x2**2
    g = sp.Matrix([f2.diff(v) for v in (x1, x2)])
    H = sp.hessian(f2, (x1, x2))
    step = -H.inv() * g
    newton_target = xv2 + step  # the next iterate, as a function of the current one
    problem("newton_step", "newton", sp.Matrix([(xv2 + step)[0], (xv2 + step)[1]]), xv2,
            newton_target.jacobian(xv2), [
                ("solve", (xv2 - H.LUsolve(g)).jacobian(xv2)),
                ("together", newton_target.jacobian(xv2).applyfunc(sp.cancel)),
                ("gd_instead", (xv2 - g).jacobian(xv2))])
    # the Newton iterate itself, a vector of rational functions (graded as an array)
    out.append(Case("newton_iterate_explicit", "newton", (xv2 - H.inv() * g).applyfunc(sp.cancel),
                    newton_target, True))
    out.append(Case("newton_iterate_adj", "newton", xv2 - H.adjugate() * g / H.det(), newton_target, True))
    out.append(Case("newton_iterate_plus", "newton", xv2 + H.inv() * g, newton_target, False))
    out.append(Case("newton_iterate_slip", "newton", xv2 - H.inv() * g + sp.Matrix([R(1, 97) * x2, 0]),
                    newton_target, False))

    # --- the course's shape convention (not finite differences: what the convention says) -------------
    col = 2 * xv
    policy("policy_row_for_column", (2 * xv).T, col, False)
    policy("policy_flat_for_column", [2 * x1, 2 * x2, 2 * x3], col, True)
    policy("policy_column_for_flat", 2 * xv, [2 * x1, 2 * x2, 2 * x3], True)
    policy("policy_row_for_flat_any", (2 * xv).T, [2 * x1, 2 * x2, 2 * x3], True, layout="any")
    policy("policy_flat_exact", [2 * x1, 2 * x2, 2 * x3], col, False, layout="exact")
    policy("policy_1x1_for_scalar", sp.Matrix([[2 * x1 * sp.cos(x1**2)]]), 2 * x1 * sp.cos(x1**2), True,
           kind="expression")
    policy("policy_1x1_chain_rule", sp.Matrix([[x2]]) * sp.Matrix([[2 * x1]]), 2 * x1 * x2, True, kind="expression")
    policy("policy_jacobian_transposed", M.T, M, False)
    policy("policy_number_1x1", np.array([[2.5]]), 2.5, True, kind="number")

    # --- function answers (NumPy), judged on the grader's inputs ---------------------------------------
    def sig_np(v: Any) -> Any:
        return 1 / (1 + np.exp(-np.asarray(v, dtype=float)))

    def dsig(v: Any) -> Any:
        s_ = sig_np(v)
        return s_ * (1 - s_)

    def dsig_clipped(v: Any) -> Any:
        return np.where(np.abs(np.asarray(v, dtype=float)) > 8, 0.0, dsig(v))

    def dsig_tanh(v: Any) -> Any:
        return 0.25 / np.cosh(np.asarray(v, dtype=float) / 2) ** 2

    def fn_case(cid: str, ans: Callable[..., Any], ref: Callable[..., Any], correct: bool, **opts: Any) -> None:
        out.append(Case(cid, "function", ans, ref, correct, dict(opts), None, False))

    fn_case("fn_dsigmoid_tanh_form", dsig_tanh, dsig, True)
    fn_case("fn_dsigmoid_clipped_at_8", dsig_clipped, dsig, False)  # wrong for 8 < |z| < 21
    fn_case("fn_relu_grad_kink_moved", lambda v: (np.asarray(v) > 0.5).astype(float),
            lambda v: (np.asarray(v) > 0).astype(float), False)
    fn_case("fn_hinge_margin_0", lambda v: np.where(np.asarray(v) < 0, -1.0, 0.0),
            lambda v: np.where(np.asarray(v) < 1, -1.0, 0.0), False)
    gram = np.array([[2.0, 0.5], [-3.0, 1.0]])
    fn_case("fn_grad_column_as_row", lambda v: ((gram + gram.T) @ np.asarray(v)).reshape(1, -1),
            lambda v: (gram + gram.T) @ np.asarray(v), False, inputs=[(np.array([[1.0], [2.0]]),)])
    fn_case("fn_grad_flat_for_column", lambda v: ((gram + gram.T) @ np.asarray(v)).reshape(-1),
            lambda v: (gram + gram.T) @ np.asarray(v), True, inputs=[(np.array([[1.0], [2.0]]),)])
    fn_case("fn_softmax_stable", lambda v: np.exp(v - np.max(v)) / np.sum(np.exp(v - np.max(v))),
            lambda v: np.exp(v) / np.sum(np.exp(v)), True,
            inputs=[(np.array([0.5, -1.0, 2.0]),), (np.array([10.0, 20.0, -5.0]),)])
    return out
