"""How the budget is shared (issue 14, latency): one proof budget per array, cached prepared references,
the diagnosis of a wrong answer inside the call's work budget, and CPU-time shares that a busy machine
does not shorten. These tests assert structure and verdicts, never speed (benchmarks/ measures that)."""

from __future__ import annotations

import time

import pytest
import sympy as sp

import grader.core.problem as problem
from grader import compare
from grader.core.budget import CPU, Deadline, Timeout, enforced
from grader.core.comparison import prepared

x, y = sp.symbols("x y", real=True)


def _busy() -> None:
    def f() -> int:
        return 1

    while True:
        f()


def test_array_entries_share_one_proof_deadline(monkeypatch):
    seen: list[tuple[float, object]] = []
    real = problem.prove_equal

    def recording(a, e, deadline=None):
        seen.append((deadline.end, deadline.clock))
        return real(a, e, deadline)

    monkeypatch.setattr(problem, "prove_equal", recording)
    ref = sp.Matrix([[sp.tanh(x), sp.sin(x) * sp.cos(y)], [sp.cosh(x * y), sp.exp(x) * sp.sin(y)]])
    answer = ref.applyfunc(lambda t: t.rewrite(sp.exp))  # equal, not identical: each needs a proof
    v = compare(answer, ref)
    assert v.correct, v.message
    assert len(seen) >= 2
    assert len({end for end, _ in seen}) == 1  # one deadline for every entry
    assert all(clock is CPU for _, clock in seen)


def test_a_wrong_entry_is_named_and_the_others_confirmed(monkeypatch):
    calls: list[int] = []
    real = problem.prove_equal
    monkeypatch.setattr(problem, "prove_equal", lambda a, e, d=None: calls.append(1) or real(a, e, d))
    ref = [sp.tanh(x), sp.sin(x) ** 2, x]
    v = compare([sp.tanh(x).rewrite(sp.exp), 1 - sp.cos(x) ** 2, x + 1], ref)
    assert not v.correct and v.details["wrong_entries"] == [[2]]
    assert calls  # the agreeing entries were still confirmed (an entry's verdict counts on its own)


def test_prepared_references_are_reused():
    ref = sp.diff(sp.exp(x) * sp.sin(x), x)
    p1, n1 = prepared(ref, "expression", None, None, {"sign": (-ref, "sign")})
    p2, n2 = prepared(sp.diff(sp.exp(x) * sp.sin(x), x), "expression", None, None, {"sign": (-ref, "sign")})
    assert p1 is p2 and n1 is n2
    p3, _ = prepared(ref, "expression", None, None, None)  # other mistakes: another preparation
    assert p3 is not p1
    f1, _ = prepared(lambda v: v, "function", None, None, None)
    f2, _ = prepared(lambda v: v, "function", None, None, None)
    assert f1 is not f2  # a callable reference is never cached


def test_prepared_arrays_and_numbers_are_keyed_by_value():
    import numpy as np

    a1, _ = prepared(np.array([1.0, 2.0]), "array", None, None, None)
    a2, _ = prepared(np.array([1.0, 2.0]), "array", None, None, None)
    a3, _ = prepared(np.array([1.0, 2.5]), "array", None, None, None)
    assert a1 is a2 and a1 is not a3
    assert compare(np.array([1.0, 2.5]), np.array([1.0, 2.5])).correct
    assert not compare(np.array([1.0, 2.0]), np.array([1.0, 2.5])).correct


def test_the_diagnosis_runs_on_the_work_budget():
    opts = problem.Options("expression", 1e-6, 1e-9, 2.0, Deadline(2.0))
    work = opts.work_deadline()
    assert work.clock is CPU
    sub = opts.diagnosis()
    assert sub.deadline.clock is CPU
    assert sub.deadline.end <= max(work.end, CPU() + problem.DIAGNOSIS_MIN) + 1e-9
    assert sub.work is work  # the same budget, not a new one
    proof = opts.proof_deadline()
    assert proof.end <= work.end - problem.WITNESS_RESERVE + 1e-9


def test_a_wrong_antiderivative_still_gets_its_diagnosis():
    v = compare(3 * sp.sin(x) ** 2, sp.sin(x) ** 2 / 2, kind="antiderivative", var=x)
    assert not v.correct
    assert v.misconception == "constant_factor", v.message


def test_a_cpu_deadline_stops_python_work():
    with pytest.raises(Timeout):
        with enforced(Deadline.cpu(0.02)):
            _busy()


def test_a_cpu_deadline_does_not_count_waiting():
    with enforced(Deadline.cpu(0.05)):
        time.sleep(0.15)  # no CPU used: the CPU budget is intact
        assert sum(range(10)) == 45


def test_the_wall_deadline_still_bounds_a_cpu_share():
    with pytest.raises(Timeout):
        with enforced(Deadline(0.05)):
            with enforced(Deadline.cpu(30.0)):
                time.sleep(0.1)
                (lambda: None)()
