"""Small plots for wrong function-shaped answers: the student's curve, where it goes wrong.

Under a private key the reference curve is drawn too; under a public key the student's curve is
drawn with the correct values at the key's few feedback points (``grader.key.feedbackpoints``) and
the points where it disagrees marked (drawing the whole reference would give the answer away).  For a gradient-descent question (``plot="loss"``) the student's loss curve is drawn
against the reference run when the key holds it.  Figures are made with matplotlib's object API on
the Agg canvas, so the notebook's own plotting backend and state are untouched.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import sympy as sp

from grader.key.wire import WireError, from_wire
from grader.notebook.plottext import curve_text, loss_text, outputs_text

__all__ = ["plot_for", "plot_with_text", "png_of"]


def _figure() -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 2.6))
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:

    return png_of(fig)


PLOT_TIMEOUT = 1.5  # seconds; read at each call, so a caller (or a test on a busy machine) may raise it
_PLOTTED_KINDS = frozenset({"function", "expression", "antiderivative"})  # the answer kinds that get a plot


def png_of(fig: Any) -> bytes:
    """The figure as PNG bytes (what the verdict display embeds)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def plot_for(entry: Mapping[str, Any], answer: Any, verdict: Any, value: Any) -> bytes | None:
    """A PNG for a wrong function-shaped answer, or None (also when it would take too long)."""
    made = plot_with_text(entry, answer, verdict, value)
    return made[0] if made else None


def plot_with_text(entry: Mapping[str, Any], answer: Any, verdict: Any, value: Any) -> tuple[bytes, str] | None:
    """The PNG of ``plot_for`` and its text alternative (``grader.notebook.plottext``: what the plot
    shows, in words and numbers), or None."""
    from grader.core.budget import Deadline, Timeout, enforced

    if entry.get("kind") not in _PLOTTED_KINDS:  # before matplotlib is imported: half a second of CPU
        return None
    _figure_class()  # import matplotlib outside the time budget: it is a one-off cost per kernel
    try:
        with enforced(Deadline(PLOT_TIMEOUT)):
            return _plot_for(entry, answer, verdict, value)
    except Timeout:
        return None


def _figure_class() -> Any:
    from matplotlib.figure import Figure

    return Figure


def _plot_for(entry: Mapping[str, Any], answer: Any, verdict: Any, value: Any) -> tuple[bytes, str] | None:
    if entry.get("kind") == "function":
        return _plot_function(entry, answer, verdict)
    return _plot_expression(entry, answer, verdict)


def _symbols(entry: Mapping[str, Any]) -> dict[str, sp.Symbol]:
    if "symbols" in entry:
        return {n: sp.Symbol(n, **a) for n, a in entry["symbols"]}
    from grader.core.answers import canonical_symbols

    ref = from_wire(entry["reference"])
    free = getattr(ref, "free_symbols", set())
    var = from_wire(entry["var"]) if entry.get("var") is not None else None
    if isinstance(var, sp.Symbol):
        free = set(free) | {var}
    return canonical_symbols(free)


def _plot_expression(entry: Mapping[str, Any], answer: Any, verdict: Any) -> tuple[bytes, str] | None:
    from grader.core.answers import to_expression

    symbols = _symbols(entry)
    if not symbols:
        return None
    var_name = entry.get("var")
    if isinstance(var_name, dict):  # private entries keep var in wire form
        try:
            var_name = from_wire(var_name).name
        except (WireError, AttributeError):
            var_name = None
    if var_name not in symbols:
        var_name = sorted(symbols)[0]
    x = symbols[var_name]
    details = verdict.details or {}
    ce = details.get("counterexample") or {}
    fixed = dict(ce.get("point") or {})
    try:
        student = to_expression(from_wire(answer), symbols, constants=("C", "c", "k", "K"))
    except Exception:
        return None
    student = student.xreplace({s: 0 for s in student.free_symbols if s.name not in symbols})
    reference = None
    if "reference" in entry:
        try:
            reference = to_expression(from_wire(entry["reference"]), symbols, constants=("C", "c", "k", "K"))
        except Exception:
            reference = None
    if entry.get("kind") == "antiderivative":
        student = sp.diff(student, x)
        reference = sp.diff(reference, x) if reference is not None else None
    others = {s: float(fixed.get(n, 1.0)) for n, s in symbols.items() if n != var_name}
    lo, hi = _domain(entry, var_name, fixed, symbols[var_name])
    for mark in details.get("feedback_points") or []:  # the correct values must be in the window
        v = (mark.get("point") or {}).get(var_name)
        if v is not None and abs(float(v)) <= 50 and _var_domain(entry, var_name) is None:
            lo, hi = min(lo, float(v) - 0.25), max(hi, float(v) + 0.25)
    xs = np.linspace(lo, hi, 200)

    def curve(expr: sp.Expr) -> np.ndarray:
        f = sp.lambdify(x, expr.xreplace(others), modules="numpy")
        with np.errstate(all="ignore"):
            ys = np.asarray(f(xs), dtype=complex) * np.ones_like(xs)
        ys = np.where(np.abs(ys.imag) > 1e-9, np.nan, ys.real)
        return ys

    try:
        ys = curve(student)
    except Exception:
        return None
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    label = "derivative of your answer" if entry.get("kind") == "antiderivative" else "your answer"
    ax.plot(xs, ys, color="#c62828", label=label)
    curves = [ys]
    ref_ys = None
    if reference is not None:
        try:
            ref_ys = curve(reference)
            ax.plot(xs, ref_ys, color="#2e7d32", linestyle="--",
                    label="integrand" if entry.get("kind") == "antiderivative" else "correct")
            curves.append(ref_ys)
        except Exception:
            ref_ys = None
    marks = details.get("mismatch_points") or ([ce["point"]] if ce.get("point") else [])
    mx, my = [], []
    f_student = sp.lambdify(x, student.xreplace(others), modules="numpy")
    for p in marks:
        if var_name in p and lo <= p[var_name] <= hi:
            try:
                with np.errstate(all="ignore"):
                    v = float(np.real(f_student(float(p[var_name]))))
            except Exception:
                continue
            mx.append(p[var_name])
            my.append(v)
    if mx:
        ax.scatter(mx, my, color="black", marker="x", zorder=3, label="disagrees here")
    cx, cy = _correct_marks(details, var_name, others, lo, hi)
    if cx:
        ax.scatter(cx, cy, facecolors="none", edgecolors="#2e7d32", marker="o", s=50, linewidths=1.8, zorder=4,
                   label="correct value")
    ax.set_xlabel(var_name)
    if others:
        ax.set_title("slice at " + ", ".join(f"{s.name} = {v:.3g}" for s, v in others.items()), fontsize=8)
    ax.legend(fontsize=7)
    _clip(ax, *curves)
    if cy:  # the correct values stay in view, however far the student's curve is from them
        y0, y1 = ax.get_ylim()
        lo_y, hi_y = min(y0, min(cy)), max(y1, max(cy))
        pad = 0.08 * (hi_y - lo_y) if hi_y > lo_y else 1.0
        ax.set_ylim(min(y0, min(cy) - pad), max(y1, max(cy) + pad))
    fig.tight_layout()
    anti = entry.get("kind") == "antiderivative"
    text = curve_text(var_name, xs, ys, ref_ys, list(zip(mx, my)), list(zip(cx, cy)),
                      "the derivative of your answer" if anti else "your answer",
                      "the integrand" if anti else "the correct one")
    if others:
        text += " Other variables fixed: " + ", ".join(f"{s.name} = {v:.3g}" for s, v in others.items()) + "."
    return _png(fig), text


def _correct_marks(details: Mapping[str, Any], var: str, others: Mapping[sp.Symbol, float], lo: float,
                   hi: float) -> tuple[list[float], list[float]]:
    """The correct values at the feedback points that lie on the plotted slice (a public key's marks)."""
    xs, ys = [], []
    for mark in details.get("feedback_points") or []:
        point, value = mark.get("point") or {}, mark.get("expected")
        if value is None or var not in point or not lo <= float(point[var]) <= hi:
            continue
        if any(abs(float(point.get(s.name, v)) - v) > 1e-12 for s, v in others.items()):
            continue
        xs.append(float(point[var]))
        ys.append(float(value))
    return xs, ys


def _domain(entry: Mapping[str, Any], var: str, fixed: Mapping[str, float], sym: sp.Symbol) -> tuple[float, float]:
    """The author's domain, else a window around the origin that includes the counterexample."""
    own = _var_domain(entry, var)
    if own is not None:
        return own
    lo, hi = (0.05, 4.0) if (sym.is_positive or sym.is_nonnegative) else (-3.0, 3.0)
    x0 = fixed.get(var)
    if x0 is not None and abs(float(x0)) <= 50:
        lo, hi = min(lo, float(x0) - 1.0), max(hi, float(x0) + 1.0)
        if sym.is_positive:
            lo = max(lo, 1e-3)
    return lo, hi


def _var_domain(entry: Mapping[str, Any], var: str) -> tuple[float, float] | None:
    """The author's window for ``var``: a pair for the question's variable, or ``{name: pair}``."""
    dom = entry.get("domain")
    if isinstance(dom, Mapping):
        dom = dom.get(var)
    if not dom:
        return None
    return float(dom[0]), float(dom[1])


def _clip(ax: Any, *curves: np.ndarray) -> None:
    ys = np.concatenate([np.asarray(c, dtype=float).reshape(-1) for c in curves])
    finite = ys[np.isfinite(ys)]
    if finite.size:
        lo, hi = np.percentile(finite, [2, 98])
        if hi > lo:
            pad = 0.2 * (hi - lo)
            ax.set_ylim(lo - pad, hi + pad)


def _plot_function(entry: Mapping[str, Any], answer: Any, verdict: Any) -> tuple[bytes, str] | None:
    if not isinstance(answer, dict) or answer.get("$") != "calls":
        return None
    results = answer["results"]
    refs = None
    if "reference" in entry:
        refs = [from_wire(r["ok"]) for r in entry["reference"]["results"]]
    outs = []
    for r in results:
        try:
            outs.append(from_wire(r["ok"]) if "ok" in r else None)
        except WireError:
            outs.append(None)
    failed = (verdict.details or {}).get("failed_input", 0) or 0
    if entry.get("plot") == "loss":
        out = outs[failed] if failed < len(outs) else None
        try:
            curve = np.asarray(out, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            return None
        if curve.size < 2:
            return None
        fig = _figure()
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(np.arange(curve.size), curve, color="#c62828", label="your loss curve")
        ref = None
        if refs is not None:
            ref = np.asarray(refs[failed], dtype=float).reshape(-1)
            ax.plot(np.arange(ref.size), ref, color="#2e7d32", linestyle="--", label="reference run")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        if np.all(np.isfinite(curve)) and np.all(curve > 0) and curve.max() / max(curve.min(), 1e-300) > 1e3:
            ax.set_yscale("log")
        ax.legend(fontsize=7)
        fig.tight_layout()
        return _png(fig), loss_text(curve, ref)
    # scalar -> scalar functions: outputs against the (single, numeric) input
    xs, ys, rs = [], [], []
    for i, wire_args in enumerate(entry.get("inputs", [])):
        try:
            args = from_wire(wire_args)
        except WireError:
            return None
        if not (isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], (int, float))):
            return None
        try:
            y = float(outs[i]) if outs[i] is not None else np.nan
        except (TypeError, ValueError):
            y = np.nan
        xs.append(float(args[0]))
        ys.append(y)
        if refs is not None:
            rs.append(float(refs[i]))
    if len(xs) < 2:
        return None
    order = np.argsort(xs)
    xs_a, ys_a = np.asarray(xs)[order], np.asarray(ys)[order]
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(xs_a, ys_a, "o-", color="#c62828", label="your function")
    if refs is not None:
        ax.plot(xs_a, np.asarray(rs)[order], "s--", color="#2e7d32", label="correct", markersize=3)
    if failed < len(xs):
        ax.scatter([xs[failed]], [ys[failed]], color="black", marker="x", s=60, zorder=3, label="disagrees here")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig), outputs_text(xs, ys, rs if refs is not None else None)
