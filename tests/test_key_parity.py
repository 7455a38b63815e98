"""The public key decides like the private key, and does not give the answers away.

For every question of every course found (the fixture course, and each real assignment under
solutions/ whose solutions build), the verdict from the public key equals the verdict from the
private key (correct, score, misconception) on the reference answer, on each named mistake, and on
several wrong answers.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import sympy as sp

from grader.key import grading, variants
from grader.course.coursedir import assignments_of
from grader.course.release.keybuild import KeyBuildError, build_keys
from grader.key.wire import from_wire, to_wire

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "course"

pytestmark = pytest.mark.slow


def _built(root: Path, assignment: str) -> tuple[dict[str, Any], dict[str, Any]]:
    result = build_keys(root, assignment, write=False)
    return json.loads(result.private_text), json.loads(result.public_text)


@pytest.fixture(scope="module")
def fixture_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    course = tmp_path_factory.mktemp("course") / "course"
    shutil.copytree(FIXTURE, course, ignore=shutil.ignore_patterns(".calcgrade", "calcgrade_public.json"))
    return _built(course, "fx_basics")


def _real_assignments() -> list[str]:
    return assignments_of(ROOT) if (ROOT / "nbgrader_config.py").is_file() else []


# --- answers to try ---------------------------------------------------------------------------------------
def _wrong_expressions(entry: dict[str, Any]) -> Iterator[Any]:
    ref = from_wire(entry["reference"])
    kind = entry["kind"]
    if kind == "array":
        arr = ref if isinstance(ref, sp.MatrixBase) else sp.Matrix(np.asarray(ref, dtype=object).tolist())
        yield arr.applyfunc(lambda e: e * sp.Rational(7, 5) + sp.Rational(3, 11))
        first = arr.copy()
        first[0] = first[0] + sp.Rational(5, 13)
        yield first
        return
    free = sorted(getattr(ref, "free_symbols", set()), key=lambda s: s.name) if isinstance(ref, sp.Basic) else []
    if kind == "number" or not free:
        v = float(sp.N(ref)) if isinstance(ref, sp.Basic) else float(ref)
        yield v * 1.37 + 0.11
        yield v + 1.0 / 7
        yield -v + 2.5
        return
    x = from_wire(entry["var"]) if entry.get("var") else free[0]
    if isinstance(x, str):
        x = next((s for s in free if s.name == x), free[0])
    yield ref + sp.Rational(13, 10) * x**2 - sp.Rational(7, 10)
    yield ref * (x**2 + 1)
    yield sp.sin(x) + ref / 3


def _wrong_outputs(entry: dict[str, Any]) -> Iterator[Any]:
    for scale, shift in ((1.37, 0.11), (0.5, -1.0)):
        results = []
        for r in entry["reference"]["results"]:
            out = from_wire(r["ok"])
            try:
                out = np.asarray(out, dtype=float) * scale + shift
                out = float(out) if out.ndim == 0 else out
            except (TypeError, ValueError):
                pass
            results.append({"ok": to_wire(out)})
        yield {"$": "calls", "results": results}
    results = [{"error": "it raised ZeroDivisionError: division by zero"} for _ in entry["reference"]["results"]]
    yield {"$": "calls", "results": results}


def _diagnosable(entry: dict[str, Any]) -> Iterator[Any]:
    """Wrong answers that the generic diagnoses should recognise: sign, factors, constants, swaps."""
    ref = from_wire(entry["reference"])
    kind = entry["kind"]
    if kind == "array":
        arr = ref if isinstance(ref, sp.MatrixBase) else sp.Matrix(np.asarray(ref, dtype=object).tolist())
        yield -arr
        yield 3 * arr
        if arr.rows == arr.cols and arr.rows > 1:
            yield arr.T
        flat = list(arr)
        if len(flat) >= 2 and flat[0] != flat[1]:
            flat[0], flat[1] = flat[1], flat[0]
            yield sp.Matrix(arr.rows, arr.cols, flat)
        return
    if not isinstance(ref, sp.Basic):
        ref = sp.nsimplify(ref) if isinstance(ref, float) else sp.sympify(ref)
    yield -ref
    yield 2 * ref
    yield ref / 3
    if kind == "number":
        yield ref * (1 + sp.Rational(1, 2000))
        return
    yield ref + 5  # see LENIENT below
    free = sorted(ref.free_symbols, key=lambda s: s.name)
    var = from_wire(entry["var"]) if entry.get("var") else (free[0] if free else None)
    if isinstance(var, str):
        var = next((s for s in free if s.name == var), None)
    if var is not None:
        yield sp.diff(ref, var)
        yield sp.integrate(ref, var) if kind == "expression" and sp.count_ops(ref) < 15 else sp.diff(ref, var, 2)


def cases(entry: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(label, wire answer) pairs: the reference, each named mistake, wrong answers."""
    if entry["kind"] == "function":
        yield "reference", entry["reference"]
        for m in entry.get("mistakes", []):
            yield f"mistake {m['id']}", m["answer"]
        for i, w in enumerate(_wrong_outputs(entry)):
            yield f"wrong {i}", w
        return
    yield "reference", entry["reference"]
    for m in entry.get("mistakes", []):
        yield f"mistake {m['id']}", m["answer"]
    for i, w in enumerate(_wrong_expressions(entry)):
        yield f"wrong {i}", to_wire(w)
    for i, w in enumerate(_diagnosable(entry)):
        yield f"diagnosable {i}", to_wire(w)
    yield "unanswered", to_wire(Ellipsis)
    yield "text", "1 + "


def _triple(v: Any) -> tuple[bool, float, str | None]:
    return (v.correct, v.score, v.misconception)


# The core names an added constant only when it is not tiny next to the largest value of the reference at
# its sample points; the public key cannot know the constant without the reference, so it names every
# constant offset. Likewise the public key names "opposite sign" for an answer within the tolerance of the
# negated reference (e.g. -17915901.5 for 17915904), where the private key, comparing an exact reference
# exactly, names nothing. For these cases only the verdict (correct, score) must agree.
LENIENT = {("added_constant", None), ("opposite_sign", None)}


VARIANTS_PER_POOL = 8   # of a variant question, up to this many variants of each pool (spread over the pool)


def concrete_pairs(private: dict[str, Any], public: dict[str, Any]) -> Iterator[tuple[str, dict, dict]]:
    """(label, private entry, public entry) for every question; a variant question gives one pair per variant
    checked (every variant of a small pool, an even spread of a large one; graded and practice pools), each
    resolved the same way in both keys, as grading and self-check resolve a student's variant."""
    for qid, entry in private["questions"].items():
        pub = public["questions"][qid]
        if not variants.is_variant(entry):
            yield qid, entry, pub
            continue
        assert variants.is_variant(pub), f"{qid}: a variant question in the private key only"
        for practice in (False, True):
            size = len(variants.variants_of(entry, practice=practice))
            assert size == len(variants.variants_of(pub, practice=practice)), f"{qid}: pools differ"
            step = max(1, -(-size // VARIANTS_PER_POOL))
            for index in range(0, size, step):
                yield (f"{qid} ({'practice' if practice else 'graded'} variant {index})",
                       variants.resolve(entry, index, practice=practice),
                       variants.resolve(pub, index, practice=practice))


def assert_parity(private: dict[str, Any], public: dict[str, Any]) -> int:
    checked = 0
    problems = []
    for qid, entry, pub in concrete_pairs(private, public):
        for label, answer in cases(entry):
            a, b = grading.grade(answer, entry), grading.grade(answer, pub)
            if label == "reference":
                assert a.correct and b.correct, f"{qid}: the reference is not accepted ({a.message} / {b.message})"
            if _triple(a) != _triple(b) and not (
                _triple(a)[:2] == _triple(b)[:2] and (b.misconception, a.misconception) in LENIENT
            ):
                problems.append(f"{qid} [{label}]: private {_triple(a)} {a.message!r} != public {_triple(b)} {b.message!r}")
            if label.startswith("mistake"):
                assert not a.correct and a.misconception == label.split()[1], f"{qid} [{label}]: {a.message}"
            checked += 1
    assert not problems, "\n".join(problems)
    return checked


def test_public_and_private_verdicts_agree_on_the_fixture_course(fixture_keys):
    private, public = fixture_keys
    assert set(private["questions"]) == set(public["questions"]) == {
        "chain_rule", "sum_value", "closed_form", "integral_x2", "gradient", "mse", "train", "central"}
    assert assert_parity(private, public) >= 40


@pytest.mark.parametrize("assignment", _real_assignments())
def test_public_and_private_verdicts_agree_on_each_real_assignment(assignment, course_keys):
    try:  # the keys `calcgrade key` builds from this checkout's solutions (once per test run: conftest.py)
        private, public = course_keys.keys(assignment)
    except KeyBuildError as exc:
        pytest.skip(f"{assignment} does not build yet: {exc.problems[0]}")
    assert assert_parity(private, public) > 0
    assert_no_leak(private, public)


# --- the public key does not give the answers away -----------------------------------------------------
def _leaves(doc: Any) -> Iterator[Any]:
    if isinstance(doc, dict):
        for v in doc.values():
            yield from _leaves(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _leaves(v)
    else:
        yield doc


def _reference_numbers(entry: dict[str, Any]) -> list[float]:
    if entry["kind"] == "function":
        values = [from_wire(r["ok"]) for r in entry["reference"]["results"]]
    else:
        values = [from_wire(entry["reference"])]
    out: list[float] = []
    for v in values:
        try:
            flat = np.asarray(v.tolist() if hasattr(v, "tolist") else v, dtype=object).reshape(-1)
        except Exception:
            flat = [v]
        for e in flat:
            try:
                out.append(float(sp.N(e)) if isinstance(e, sp.Basic) else float(e))
            except Exception:
                pass
    return out


def assert_no_leak(private: dict[str, Any], public: dict[str, Any]) -> None:
    """Fingerprints hold only hashes, grid exponents and indices; no reference in any printed form."""
    for qid, entry, pub in concrete_pairs(private, public):
        # the grader's inputs and sample points are public by design; everything else is checked
        # the author's hints are prose (a hint tier may say "weights 1, 4, 2, 4"); tests/test_assignments.py
        # checks that no hint holds its reference; a variant's params and statement are the student's numbers
        text = json.dumps({k: v for k, v in pub.items() if k not in ("inputs", "sample", "hints", "variant")})
        assert "reference" not in pub and all("answer" not in m for m in pub.get("mistakes", []))
        prints = [pub.get("fp"), pub.get("alt"), pub.get("outputs")] + [
            m.get("fp") or m.get("outputs") for m in pub.get("mistakes", [])]
        numbers = [v for v in _leaves(prints) if isinstance(v, (int, float)) and not isinstance(v, bool)]
        assert all(isinstance(n, int) for n in numbers), f"{qid}: a value in the fingerprints"  # exponents, shapes
        strings = [v for v in _leaves(prints) if isinstance(v, str)]
        assert all(len(s) == 20 or s in ("num", "expr", "array", "out", "wire", "error", "inf", "-inf", "nan")
                   for s in strings), f"{qid}: readable text in the fingerprints"
        for v in _reference_numbers(entry):
            if not math.isfinite(v) or float(v).is_integer() and abs(v) < 1000:
                continue  # small integers also occur as sample coordinates and sizes
            for form in {repr(v), f"{v:.10g}", f"{v:.6g}"}:
                assert f" {form}," not in text and f" {form}]" not in text, f"{qid}: {form} in the public key"
        if entry["kind"] != "function":
            ref = from_wire(entry["reference"])
            for form in {str(ref), sp.srepr(ref) if isinstance(ref, sp.Basic) else str(ref),
                         sp.latex(ref) if isinstance(ref, sp.Basic) else str(ref)}:
                if len(form) >= 4:
                    assert form not in text, f"{qid}: the public key contains {form!r}"


def test_the_public_key_does_not_contain_the_references(fixture_keys):
    private, public = fixture_keys
    assert_no_leak(private, public)


def test_the_public_key_is_deterministic(fixture_keys, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(FIXTURE, course, ignore=shutil.ignore_patterns(".calcgrade", "calcgrade_public.json"))
    again = build_keys(course, "fx_basics", write=True)
    assert json.loads(again.public_text) == fixture_keys[1]
    assert again.public_path.read_text() == again.public_text
    assert again.private_path == course / ".calcgrade" / "keys" / "fx_basics.json"
    assert again.private_path.is_file()


def test_array_fingerprints_do_not_tell_zero_entries_from_others():
    """A 0/1 answer must not be readable off the stored exponents or fields of the public key."""
    import re

    from grader.key.publicvalues import value_fp as _value_fp

    def skeleton(value: Any) -> str:
        fp = _value_fp("salt", "q", value, "array", {}, [{}], None, 1e-6, 1e-9)
        return re.sub(r'"[0-9a-f]{20}"', '"#"', json.dumps(fp, sort_keys=True))

    a = skeleton(sp.Matrix([0, 0, 0, 1, 1]))
    b = skeleton(sp.Matrix([1, 1, 0, 0, 0]))
    c = skeleton(sp.Matrix([1, 0, 1, 0, 1]))
    assert a == b == c
