"""Every case of the benchmark corpus gets the right verdict (and the named diagnosis). Not timed."""

from __future__ import annotations

import pytest

from benchmarks.corpus import cases
from grader import compare

CASES = cases()


def test_corpus_is_large_and_varied():
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)
    cats = {c.category for c in CASES}
    assert {"derivative", "antiderivative", "number", "array", "mistake", "trap", "function", "invalid"} <= cats


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_case(case):
    opts = dict(case.options)
    opts.setdefault("timeout", 2.0)
    v = compare(case.answer, case.expected, **opts)
    assert v.correct == case.correct, v.message
    assert v.score == (1.0 if case.correct else 0.0)
    assert v.message
    if case.misconception:
        assert v.misconception == case.misconception, v.message
