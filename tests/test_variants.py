"""Every student their own numbers (issue 23): variant questions end to end on the real course.

01_sums_products has two variant questions (sum_of_squares, nested_product).  One release of it (shared with
the other course tests through ``course_support``) gives: different statements and references for two students;
each student's own right answer (``calcgrade variant --solution``) at full marks through ``calcgrade autograde``
and stock ``nbgrader autograde``; the same answers under another student's id losing exactly the variant
points; self-check (public key) agreeing with trusted grading (private key) on every variant; a release refused,
naming the variant, when one variant breaks a question test; ``practice()`` from the public key alone.
"""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
import stat
from pathlib import Path

import nbformat
import pytest

import course_support
from grader.cli import main as cli
from grader.course.grading import autograde
from grader.course.coursedir import nbgrader_api as load_api, scripts_on_path as course_path
from grader.course.release.variantnb import student_numbers, variant_notebook
from grader.key import files, grading
from grader.key import variants as kv
from grader.key.wire import to_wire

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_sums_products"
NOTEBOOK = "sums_products.ipynb"
VARIANT_QIDS = ("nested_product", "sum_of_squares")


def _differing_students(key: dict, count: int) -> list[str]:
    """``count`` student ids whose variants differ pairwise on every variant question (a pure function: the
    same ids every run)."""
    chosen: list[str] = []
    for n in range(500):
        candidate = f"student{n:03d}"
        mine = student_numbers(key, candidate)
        if all(all(mine[q] != student_numbers(key, other)[q] for q in VARIANT_QIDS) for other in chosen):
            chosen.append(candidate)
        if len(chosen) == count:
            return chosen
    raise AssertionError("no students with pairwise different variants")


@pytest.fixture(scope="module")
def course(tmp_path_factory, make_released_course):
    root = make_released_course(tmp_path_factory.mktemp("variants") / "course", ASSIGNMENT)
    public = files.load_key(files.public_key_path(root, ASSIGNMENT))
    private = files.load_key(files.private_key_path(root, ASSIGNMENT))
    alice, bob, carol = _differing_students(public, 3)
    return {"root": root, "public": public, "private": private, "alice": alice, "bob": bob, "carol": carol}


def _submit(root: Path, student: str, nb) -> None:
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / NOTEBOOK))
    (folder / "timestamp.txt").write_text("2026-11-20 17:00:00.000000 UTC\n")


def _points(key: dict) -> tuple[float, float]:
    total = sum(float(e["points"]) for e in key["questions"].values())
    variant = sum(float(key["questions"][q]["points"]) for q in VARIANT_QIDS)
    return total, variant


def test_two_students_get_different_statements_and_references(course):
    private, public, alice, bob = course["private"], course["public"], course["alice"], course["bob"]
    for qid in VARIANT_QIDS:
        a, b = kv.student_variant(private, qid, alice), kv.student_variant(private, qid, bob)
        assert a["variant"]["statement"] != b["variant"]["statement"]
        assert a["reference"] != b["reference"]
        assert kv.student_variant(public, qid, alice)["variant"] == {**a["variant"]}  # both keys choose alike
        # a pure function of (course, assignment, qid, student, seed)
        assert kv.student_variant(private, qid, alice)["variant"]["index"] == kv.variant_index(
            "calculus-for-ml", ASSIGNMENT, qid, alice, private["questions"][qid]["variants"]["seed"],
            len(private["questions"][qid]["variants"]["graded"]))
    shown = {}
    for student in (alice, bob):
        nb = variant_notebook(course["root"], ASSIGNMENT, student)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ans_sum_of_squares")
        shown[student] = cell.outputs[0]["data"]["text/markdown"]
        numbers = student_numbers(public, student)["sum_of_squares"]
        assert f"i={numbers['a']}" in shown[student] and f"^{{{numbers['b']}}}" in shown[student]
    assert shown[alice] != shown[bob]


def test_own_answers_full_marks_and_a_classmates_answers_lose_the_variant_points_in_both_paths(course, tmp_path):
    root, alice, bob, carol = course["root"], course["alice"], course["bob"], course["carol"]
    total, variant_points = _points(course["private"])
    solutions = {s: variant_notebook(root, ASSIGNMENT, s, solution=True) for s in (alice, carol)}
    _submit(root, alice, solutions[alice])
    _submit(root, carol, solutions[carol])
    _submit(root, bob, solutions[alice])          # bob hands in alice's notebook, alice's numbers included
    stock_root = tmp_path / "stock"
    shutil.copytree(root, stock_root, ignore=shutil.ignore_patterns("gradebook.db*", "autograded"))
    frozen = gc.get_freeze_count()
    run = autograde.autograde_assignment(root, ASSIGNMENT, students=[alice, bob, carol])
    assert gc.get_freeze_count() == frozen   # the heap the run left out of collections is handed back
    fast = {r.student: r.score for r in run.results}
    assert all(r.success for r in run.results), [r.error for r in run.results]
    assert fast == {alice: total, carol: total, bob: total - variant_points}
    # stock nbgrader: the same configured steps, the student from nbgrader's own resources
    course_support.set_db_url(stock_root, None)
    api = load_api(stock_root)
    stock = {}
    with course_path():
        assert api.generate_assignment(ASSIGNMENT, force=True, create=True)["success"]
        for student in (alice, bob, carol):
            result = api.autograde(ASSIGNMENT, student, force=True, create=True)
            assert result["success"], result.get("log", "")[-2000:]
        from nbgrader.api import Gradebook

        with Gradebook(api.coursedir.db_url) as gb:
            for student in (alice, bob, carol):
                stock[student] = gb.find_submission(ASSIGNMENT, student).score
    assert stock == fast
    # the report flags bob's copy and names alice
    from grader.course.report.data import assignment_report

    flags = {(f.qid, f.student): f.sources for f in assignment_report(root, ASSIGNMENT).copying}
    assert flags == {(q, bob): (alice,) for q in VARIANT_QIDS}
    document = json.loads(_run_cli(["report", ASSIGNMENT, "--course-root", str(root), "--json"]))
    assert {(c["qid"], c["student"], tuple(c["right_for"])) for c in document["copying"]} == {
        (q, bob, (alice,)) for q in VARIANT_QIDS}


def _run_cli(args: list[str]) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli(args) == 0
    return out.getvalue()


def test_self_check_agrees_with_trusted_grading_on_every_variant(course):
    private, public = course["private"], course["public"]
    checked = 0
    for qid in VARIANT_QIDS:
        for practice in (False, True):
            for index, _ in enumerate(kv.variants_of(private["questions"][qid], practice=practice)):
                mine = kv.resolve(private["questions"][qid], index, practice=practice)
                theirs = kv.resolve(public["questions"][qid], index, practice=practice)
                assert "reference" not in theirs and "reference" in mine
                answers = [mine["reference"]] + [m["answer"] for m in mine["mistakes"]] + \
                          [t["answer"] for t in mine.get("tests", [])]
                for answer in answers:
                    a, b = grading.grade(answer, mine), grading.grade(answer, theirs)
                    assert (a.correct, a.misconception) == (b.correct, b.misconception), (qid, index, answer)
                    checked += 1
    assert checked >= 2 * 20 * 5


def test_an_unresolved_variant_entry_is_never_graded_silently(course):
    verdict = grading.grade({"$": "int", "v": "1"}, course["private"]["questions"]["sum_of_squares"])
    assert not verdict.correct and "student's variant" in verdict.message


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for pattern in ["exercises/**/*", ".calcgrade/keys/*", "solutions/*/calcgrade_public.json", "gradebook.db"]:
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                out[str(path.relative_to(root))] = oct(stat.S_IMODE(path.stat().st_mode))
    return out


def test_a_release_with_a_variant_that_breaks_a_question_test_is_refused_and_changes_nothing(course, tmp_path, capsys):
    root = tmp_path / "course"
    shutil.copytree(course["root"], root, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
    path = root / "solutions" / ASSIGNMENT / NOTEBOOK
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ans_sum_of_squares")
    old = 'params={"a": [1, 2, 3, 4], "b": [5, 6, 7, 8, 9]}'
    assert old in cell.source
    # a = b = 1: one term, so "squared the sum" equals the reference for that variant alone
    cell.source = cell.source.replace(old, 'params=[{"a": 1, "b": 1}] + [{"a": a, "b": b} for a in (1, 2) for b in (5, 6)]')
    nbformat.write(nb, str(path))
    before = _snapshot(root)
    status = cli(["release", ASSIGNMENT, "--course-root", str(root), "-v"])
    err = capsys.readouterr().err
    assert status == 1
    assert "refused" in err and "variant a = 1, b = 1" in err and "squared_the_sum" in err
    assert _snapshot(root) == before


def test_practice_works_from_the_public_key_alone_and_keeps_apart_from_graded_variants(course, tmp_path, monkeypatch):
    public_text = files.public_key_path(course["root"], ASSIGNMENT).read_text()
    assert '"reference"' not in public_text
    folder = tmp_path / "alone" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / files.PUBLIC_KEY_NAME).write_text(public_text)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    from grader.notebook.variants import practice

    entry = course["public"]["questions"]["sum_of_squares"]
    graded = [v["params"] for v in kv.variants_of(entry)]
    seen = set()
    for _ in range(12):
        round_ = practice("sum_of_squares")
        assert round_.entry is not None, round_.problem
        p = round_.params
        seen.add((p.a, p.b))
        right = sum(k * k for k in range(p.a, p.b + 1))
        assert practice("sum_of_squares", right).status == "correct"
        wrong = practice("sum_of_squares", sum(range(p.a, p.b + 1)))
        assert wrong.status == "wrong" and wrong.misconception == "forgot_square"
    assert len(seen) >= 2  # a fresh variant each time (the pool has several)
    assert not (seen & {(g.a, g.b) for g in map(kv.read_params, graded)})


def test_the_student_id_order_in_a_live_kernel(tmp_path, monkeypatch):
    from grader.notebook import student as nv

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-user")
    monkeypatch.delenv(nv.STUDENT_ENV, raising=False)
    monkeypatch.setattr(nv, "_STUDENT", [])
    assert nv.student_id(tmp_path)[0] == "hub-user"
    monkeypatch.setenv(nv.STUDENT_ENV, "env-user")
    assert nv.student_id(tmp_path)[0] == "env-user"
    nv.set_student("explicit")
    assert nv.student_id(tmp_path)[0] == "explicit"
    folder = tmp_path / "autograded" / "gradebook-student" / ASSIGNMENT
    folder.mkdir(parents=True)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert nv.student_id(folder)[0] == "gradebook-student"


def test_calcgrade_variant_writes_notebooks_and_refuses_clearly(course, tmp_path, capsys):
    out = tmp_path / "nb.ipynb"
    assert cli(["variant", ASSIGNMENT, course["alice"], "-o", str(out), "--course-root", str(course["root"])]) == 0
    nb = nbformat.read(str(out), as_version=4)
    sources = "\n".join(c.source for c in nb.cells)
    assert "question(" not in sources and "BEGIN SOLUTION" not in sources
    assert cli(["variant", "99_nothing", "bob", "-o", str(out), "--course-root", str(course["root"])]) == 1
    err = capsys.readouterr().err
    assert err.startswith("calcgrade variant: exercises/99_nothing holds no released notebook") and "Traceback" not in err


# --- properties of the pure functions (no kernel, no course) ----------------------------------------------------
def _tiny_key() -> dict:
    """A key with one variant question built in this process, as the key builder builds it."""
    import sympy as sp

    from grader.key.entries import make_question_record

    x = sp.Symbol("x", real=True)

    def one(ref, **kw):
        return make_question_record("slope", ref, kind=None, var=x, rtol=1e-6, atol=1e-9, domain=None, plot=None,
                                    call=lambda fn, args, timeout=2.0: ("ok", fn(*args)), hints=None, **kw)

    entry = kv.make_variant_record(
        "slope", lambda p: p.k * p.a**(p.k - 1), params={"k": [2, 3, 4], "a": [1, 2, 3, 5, 7]}, seed=3, count=None,
        where=None, statement="the slope of $x^{{{k}}}$ at ${{a}}$", hints=["a", "b", "c"], inputs=None,
        mistakes={"forgot_power": (lambda p: p.a**(p.k - 1), "Where did the exponent go?")},
        tests=[(lambda p: p.k * p.a**(p.k - 1), True), (lambda p: p.a**(p.k - 1), "forgot_power")],
        make_record=lambda ref, **kw: one(ref, **kw))
    entry["points"] = 1.0
    private = {"course": "c", "assignment": "a", "questions": {"slope": entry}}
    public = {"course": "c", "assignment": "a", "questions": {"slope": files.public_entry(entry, "a")}}
    return {"private": private, "public": public}


_TINY: dict = {}


def test_a_students_variant_is_stable_and_both_keys_agree_on_it():
    """Over 300 student ids of every shape (unicode, spaces, long, empty-looking): the variant is the same on
    every call, the public key picks the same numbers as the private one, holds no reference, and grades the
    student's right answer and named mistake as the private key does."""
    import random

    keys = _TINY.setdefault("keys", _tiny_key())
    rng = random.Random(23)
    alphabet = "abcxyzABC019 _-.@éßλ中\t"
    students = ["", " ", "alice", "Alice", "alice ", "a" * 300] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(294)]
    seen = set()
    for student in students:
        mine = kv.key_for_student(keys["private"], student)["questions"]["slope"]
        again = kv.key_for_student(keys["private"], student)["questions"]["slope"]
        shown = kv.key_for_student(keys["public"], student)["questions"]["slope"]
        assert mine == again and mine["variant"]["params"] == shown["variant"]["params"]
        assert "reference" not in json.dumps(shown)
        p = kv.read_params(mine["variant"]["params"])
        seen.add((p.k, p.a))
        for answer, want in ((p.k * p.a**(p.k - 1), (True, None)), (p.a**(p.k - 1), (False, "forgot_power"))):
            wire = to_wire(answer)
            a, b = grading.grade(wire, mine), grading.grade(wire, shown)
            assert (a.correct, a.misconception) == (b.correct, b.misconception) == want, (student, p)
    entry = keys["private"]["questions"]["slope"]
    graded = {tuple(kv.read_params(v["params"]).values()) for v in kv.variants_of(entry)}
    practice = {tuple(kv.read_params(v["params"]).values()) for v in kv.variants_of(entry, practice=True)}
    assert len(graded) + len(practice) == 15 and not graded & practice
    assert len(seen) == len(graded)  # 300 students reach every graded variant, and only those
