"""Benchmark ``grader.compare`` against the two usual SymPy checks on the same corpus.

Usage:  .venv/bin/python benchmarks/compare_bench.py [--baseline-timeout 3] [--quick] [--section calculus|vector|all]

Two sections, each measured on its own: the calculus corpus (``benchmarks/corpus.py``, with the cases of
``benchmarks/corpus_robust.py``) and the vector/matrix corpus (``benchmarks/corpus_vector.py``: gradients,
Jacobians, matrix-calculus identities, ML gradients, Newton steps, the shape convention; right verdicts
from finite differences). For every case it runs
  * calcgrade:           compare(answer, expected, **options)   (timed per call, cold caches first)
  * simplify(a - b) == 0 (PrairieLearn/STACK style; antiderivatives: simplify(d/dvar(a - b)) == 0)
  * a.equals(b)          (PrairieLearn's check; antiderivatives on the derivatives)
  * 5-point sampling     (WeBWorK style: float64 at 5 seeded points in [-2, 2], same tolerance)
and prints agreement with the right verdict, false accepts, false rejects, timeouts and
errors, and p50/p99/max latency per call (wall time, and compare's thread CPU time, which the
load of a shared machine does not inflate; per category too). The baselines run in a forked worker process
that is killed after the time limit (3 s like PrairieLearn), so the run always finishes;
a baseline that times out or raises counts as a rejection (PrairieLearn reports it as
"invalid"). Function cases have no SymPy baseline and are left out of those columns.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

from benchmarks.corpus import Case, cases  # noqa: E402
from grader import compare  # noqa: E402


# ---------------------------------------------------------------- baselines

def _to_sympy(v: Any) -> Any:
    """What a SymPy-only checker would make of the value (trusted corpus, so parse_expr is fine here)."""
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    if isinstance(v, str):
        # as the web checkers do: ^ is power, e is Euler's number
        v = parse_expr(v, local_dict={"e": sp.E}, transformations=standard_transformations + (convert_xor,))
    if isinstance(v, (list, tuple, np.ndarray)):
        arr = np.array(v, dtype=object)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        return sp.Matrix(arr.tolist())
    if isinstance(v, sp.MatrixBase):
        return sp.Matrix(v)
    return sp.sympify(v)


SAMPLE5_SEED = 5


def _sample5(ai: Any, ei: Any) -> bool:
    """Five-point sampling as the web checkers do it (WeBWorK style): both sides evaluated in float64
    at 5 seeded points drawn uniformly from [-2, 2] ((0, 2] for positive symbols), equal when
    |a - e| <= 1e-9 + 1e-6 |e| wherever the reference is a real number, and not undefined/complex
    where it is."""
    import random

    syms = sorted(ai.free_symbols | ei.free_symbols, key=lambda s: s.name)
    fa = sp.lambdify(syms, ai, modules="numpy")
    fe = sp.lambdify(syms, ei, modules="numpy")
    rng = random.Random(SAMPLE5_SEED)
    used = 0
    with np.errstate(all="ignore"):
        for _ in range(5):
            pt = [rng.uniform(0.01, 2.0) if s.is_positive else
                  float(rng.randint(1, 10)) if s.is_integer else rng.uniform(-2.0, 2.0) for s in syms]
            try:
                ve = complex(fe(*pt))
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                continue
            if not np.isfinite(ve) or abs(ve.imag) > 1e-12 * max(1.0, abs(ve)):
                continue
            try:
                va = complex(fa(*pt))
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                return False
            if not np.isfinite(va) or abs(va - ve) > 1e-9 + 1e-6 * abs(ve):
                return False
            used += 1
    return used > 0


def _baseline(case: Case, which: str) -> bool:
    a, e = _to_sympy(case.answer), _to_sympy(case.expected)
    kind = case.options.get("kind")
    if isinstance(e, sp.MatrixBase) or isinstance(a, sp.MatrixBase):
        if not (isinstance(a, sp.MatrixBase) and isinstance(e, sp.MatrixBase)) or a.shape != e.shape:
            return False
        pairs = list(zip(list(a), list(e)))
    else:
        pairs = [(a, e)]
    for ai, ei in pairs:
        if kind == "antiderivative":
            var = case.options.get("var") or sorted(ei.free_symbols, key=str)[0]
            ai, ei = sp.diff(ai, var), sp.diff(ei, var)
        if which == "simplify":
            if sp.simplify(ai - ei) != 0:
                return False
        elif which == "sample5":
            if not _sample5(ai, ei):
                return False
        else:
            if ai.equals(ei) is not True:
                return False
    return True


def _worker(conn: Any, corpus: list[Case]) -> None:
    import warnings

    warnings.simplefilter("ignore")
    while True:
        msg = conn.recv()
        if msg is None:
            return
        idx, which = msg
        try:
            conn.send(("ok", _baseline(corpus[idx], which)))
        except BaseException as exc:  # noqa: BLE001 - the baseline's own failures are data
            conn.send(("error", type(exc).__name__))


class BaselineRunner:
    """Runs baseline checks in a forked process, killing it when a check exceeds the limit."""

    def __init__(self, corpus: list[Case], limit: float) -> None:
        self.corpus, self.limit = corpus, limit
        self.ctx = mp.get_context("fork")
        self._start()

    def _start(self) -> None:
        self.parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.corpus), daemon=True)
        self.proc.start()

    def run(self, idx: int, which: str) -> tuple[str, Any, float]:
        t0 = time.perf_counter()
        self.parent.send((idx, which))
        if self.parent.poll(self.limit):
            status, value = self.parent.recv()
            return status, value, time.perf_counter() - t0
        self.proc.kill()
        self.proc.join()
        self._start()
        return "timeout", None, time.perf_counter() - t0

    def close(self) -> None:
        try:
            self.parent.send(None)
        except Exception:
            pass
        self.proc.join(1)
        if self.proc.is_alive():
            self.proc.kill()


# ---------------------------------------------------------------- reporting

def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))
    return s[k]


def _row(name: str, results: list[tuple[Case, bool | None, str, float]]) -> str:
    n = len(results)
    right = sum(1 for c, v, st, _ in results if v == c.correct)
    fa = sum(1 for c, v, st, _ in results if v and not c.correct)
    fr = sum(1 for c, v, st, _ in results if not v and c.correct)
    to = sum(1 for _, _, st, _ in results if st == "timeout")
    er = sum(1 for _, _, st, _ in results if st == "error")
    lat = [dt * 1000 for *_, dt in results]
    return (f"{name:<24} {right:>4}/{n:<4} {fa:>8} {fr:>8} {to:>8} {er:>6}   "
            f"{_pct(lat, 50):8.2f} {_pct(lat, 99):8.2f} {max(lat):9.2f}")


SECTIONS = ("calculus", "vector")


def _section_cases(name: str) -> list[Case]:
    if name == "vector":
        from benchmarks.corpus_vector import cases as vector_cases

        return vector_cases()
    return cases()


def _timed_compare(c: Case, timeout: float) -> tuple[Any, float, float]:
    """(verdict or None when compare raised, wall seconds, thread CPU seconds)."""
    opts = dict(c.options)
    opts.setdefault("timeout", timeout)
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        v = compare(c.answer, c.expected, **opts)
    except Exception as exc:  # an option an older core does not know: counted as an error
        v = None
        print(f"  {c.id}: compare raised {type(exc).__name__}: {exc}")
    return v, time.perf_counter() - t0, time.thread_time() - c0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-timeout", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="skip the baselines")
    parser.add_argument("--timeout", type=float, default=2.0, help="compare's timeout")
    parser.add_argument("--section", choices=SECTIONS + ("all",), default="all",
                        help="the calculus corpus, the vector/matrix corpus, or both (default)")
    args = parser.parse_args(argv)
    # one-time lazy imports (SymPy's simplify pulls in more modules on first use) out of the measurement
    xs = sp.Symbol("x")
    compare(sp.sin(xs) ** 2 + sp.cos(xs) ** 2, 1 + 0 * xs, kind="expression")
    compare(lambda v: v, lambda v: v)
    failed = 0
    for name in (SECTIONS if args.section == "all" else (args.section,)):
        failed += run_section(name, _section_cases(name), args)
    return 0 if not failed else 1


def run_section(name: str, corpus: list[Case], args: argparse.Namespace) -> int:
    """Runs one corpus through compare and the peers; returns how many cases compare got wrong."""
    print(f"\n=== {name} corpus: {len(corpus)} cases "
          f"({', '.join(f'{k} {v}' for k, v in sorted(_count(corpus).items()))})")
    ours: list[tuple[Case, bool | None, str, float]] = []
    cpu: list[float] = []  # thread CPU time per call: what the machine's load does not inflate
    warm: list[float] = []
    wrong_cases = []
    for c in corpus:
        v, dt, cpu_dt = _timed_compare(c, args.timeout)
        ours.append((c, None if v is None else v.correct, "error" if v is None else v.method, dt))
        cpu.append(cpu_dt)
        if v is None or v.correct != c.correct or (c.misconception and v.misconception != c.misconception):
            wrong_cases.append((c, v))
    for c in corpus:  # a second pass: warm SymPy caches, as in a grading run of many students
        warm.append(_timed_compare(c, args.timeout)[1])

    header = (f"{'checker':<24} {'right':>9} {'false-acc':>8} {'false-rej':>8} {'timeouts':>8} {'errors':>6}   "
              f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>9}")
    print()
    print(header)
    print("-" * len(header))
    print(_row("calcgrade compare", ours))
    base_idx = [i for i, c in enumerate(corpus) if c.baseline]
    print(_row("  (same, sympy cases)", [ours[i] for i in base_idx]))
    print(f"{'  (same, warm caches)':<24} {'':>9} {'':>8} {'':>8} {'':>8} {'':>6}   "
          f"{_pct([d * 1000 for d in warm], 50):8.2f} {_pct([d * 1000 for d in warm], 99):8.2f} "
          f"{max(warm) * 1000:9.2f}")
    print(f"{'  (same, CPU time)':<24} {'':>9} {'':>8} {'':>8} {'':>8} {'':>6}   "
          f"{_pct([d * 1000 for d in cpu], 50):8.2f} {_pct([d * 1000 for d in cpu], 99):8.2f} "
          f"{max(cpu) * 1000:9.2f}")
    peers: dict[str, dict[int, bool]] = {}
    if not args.quick:
        runner = BaselineRunner(corpus, args.baseline_timeout)
        try:
            for which, label in (("simplify", "simplify(a-b)==0"), ("equals", "a.equals(b)"),
                                 ("sample5", "5-point sampling")):
                res = []
                for i in base_idx:
                    status, value, dt = runner.run(i, which)
                    verdict = bool(value) if status == "ok" else False
                    res.append((corpus[i], verdict, status, dt))
                print(_row(label, res))
                peers[label] = {i: r[1] == corpus[i].correct for i, r in zip(base_idx, res)}
                misses = [c.id for c, v, st, _ in res if v != c.correct]
                print(f"{'':<24} wrong on: {', '.join(misses) if misses else '-'}")
        finally:
            runner.close()
    _by_category(corpus, ours, cpu, peers)
    methods: dict[str, int] = {}
    for _, _, meth, _ in ours:
        methods[meth] = methods.get(meth, 0) + 1
    print()
    print("compare methods:", ", ".join(f"{k} {v}" for k, v in sorted(methods.items())))
    slow = sorted(ours, key=lambda r: -r[3])[:5]
    print("slowest compare calls:", ", ".join(f"{c.id} {dt * 1000:.1f} ms" for c, _, _, dt in slow))
    slow_cpu = sorted(range(len(corpus)), key=lambda i: -cpu[i])[:5]
    print("most CPU:", ", ".join(f"{corpus[i].id} {cpu[i] * 1000:.1f} ms" for i in slow_cpu))
    if wrong_cases:
        print("\ncompare got these wrong:")
        for c, v in wrong_cases:
            got = "an error" if v is None else f"{v.correct}/{v.misconception}: {v.message}"
            print(f"  {c.id}: expected {c.correct}/{c.misconception}, got {got}")
    else:
        print("compare: every case right (verdict, and misconception where the corpus names one)")
    return len(wrong_cases)




def _by_category(corpus: list[Case], ours: list[tuple[Case, bool | None, str, float]], cpu: list[float],
                 peers: dict[str, dict[int, bool]]) -> None:
    """Agreement per category, compare next to the peers' methods (on the cases they can read)."""
    labels = list(peers)
    print()
    head = f"{'category':<16} {'n':>4} {'compare':>9} {'p99 CPU ms':>10}" + "".join(f" {lab:>17}" for lab in labels)
    print(head)
    print("-" * len(head))
    for cat in sorted({c.category for c in corpus}):
        idx = [i for i, c in enumerate(corpus) if c.category == cat]
        right = sum(1 for i in idx if ours[i][1] == corpus[i].correct)
        line = f"{cat:<16} {len(idx):>4} {right:>4}/{len(idx):<4} {_pct([cpu[i] * 1000 for i in idx], 99):10.1f}"
        for lab in labels:
            got = [peers[lab][i] for i in idx if i in peers[lab]]
            line += f" {sum(got):>11}/{len(got):<5}" if got else f" {'-':>17}"
        print(line)


def _count(corpus: list[Case]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in corpus:
        out[c.category] = out.get(c.category, 0) + 1
    return out


if __name__ == "__main__":
    raise SystemExit(main())
