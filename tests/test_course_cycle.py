"""The instructor's course cycle with real nbgrader: release, sample class, autograde,
feedback, export, and the gradebook the demo prints.

The full sample class is autograded for two assignments (one of SymPy answers, one of
Python functions); the other assignments' questions are graded the same way and are
covered per question by test_assignments.py.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from grader.course import coursedir, gradebook
from grader.course.demo import run as demo
from grader.course.demo import sampleclass
from grader.course.release import validation

ROOT = Path(__file__).resolve().parent.parent
CYCLE_ASSIGNMENTS = ["02_derivatives", "05_gradient_descent"]
ALL_ASSIGNMENTS = coursedir.assignments_of(ROOT)

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- sample class (no kernels)


def test_the_sample_class_has_every_profile_for_every_assignment():
    subs = sampleclass.sample_class(ROOT)
    assert {s.assignment for s in subs} == set(ALL_ASSIGNMENTS)
    for assignment in ALL_ASSIGNMENTS:
        students = {s.student for s in subs if s.assignment == assignment}
        assert len(students) >= 12, (assignment, students)
        for profile in ["perfect", "partial", "blank", "locked_cell_edit", "infinite_loop",
                        "kernel_crash", "invalid_json", "monkeypatch", "mistakes_a"]:
            assert profile in students, (assignment, profile)


def test_the_sample_class_is_deterministic():
    first = sampleclass.sample_class(ROOT)
    second = sampleclass.sample_class(ROOT)
    assert [(s.student, s.assignment, s.content) for s in first] == \
        [(s.student, s.assignment, s.content) for s in second]


def test_every_named_mistake_is_made_by_some_sample_student():
    subs = sampleclass.sample_class(ROOT)
    for assignment in ALL_ASSIGNMENTS:
        solution = next((ROOT / "solutions" / assignment).glob("*.ipynb"))
        questions = sampleclass.questions_of(nbformat.read(str(solution), as_version=4))
        assert questions, assignment
        made = "\n".join(s.content for s in subs if s.assignment == assignment and s.student.startswith("mistakes_"))
        for q in questions:
            for mistake_id, _ in q.mistakes:
                assert f"# {mistake_id.replace('_', ' ')}" in made, (assignment, q.qid, mistake_id)


def test_every_sample_submission_of_every_assignment_is_runnable_python():
    """New assignments need no change to the generator: every code cell it writes parses, for every profile
    except the one that is not a notebook on purpose (so a multi-line named mistake cannot break a student)."""
    import ast

    broken = []
    for sub in sampleclass.sample_class(ROOT):
        if sub.student == "invalid_json":
            continue
        nb = nbformat.reads(sub.content, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                try:
                    ast.parse(cell.source)
                except SyntaxError as exc:
                    broken.append(f"{sub.assignment}/{sub.student} cell {index}: {exc.msg}")
    assert not broken, broken


def test_hostile_submissions_are_what_they_claim():
    subs = {(s.assignment, s.student): s for s in sampleclass.sample_class(ROOT)}
    bad = subs[("01_sums_products", "invalid_json")].content
    with pytest.raises(ValueError):
        json.loads(bad)
    assert "os._exit" in subs[("02_derivatives", "kernel_crash")].content
    assert "while True" in subs[("02_derivatives", "infinite_loop")].content
    assert "def check(" in subs[("02_derivatives", "monkeypatch")].content
    perfect = nbformat.reads(subs[("02_derivatives", "perfect")].content, as_version=4)
    sources = "\n".join(c.source for c in perfect.cells)
    assert "BEGIN SOLUTION" not in sources and "question(" not in sources


# --------------------------------------------------------------------------- the real cycle


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    root = tmp_path_factory.mktemp("course") / "course"
    demo.prepare_course(ROOT, root, CYCLE_ASSIGNMENTS)
    summary = demo.run_cycle(root, CYCLE_ASSIGNMENTS, workers=2, progress=False)
    return root, summary


def test_autograde_gives_the_expected_score_per_student_and_question(cycle):
    """Trusted grading gives every sample student what they earned, the hostile ones included:
    monkeypatch 0, kernel_crash the points of the answers before the crash."""
    root, summary = cycle
    mismatches = []
    graded = gradebook.all_scores(root)
    for sub in summary["submissions"]:
        got = graded.get((sub.assignment, sub.student, Path(sub.notebook).stem), {})
        for qid, want in sub.expected.items():
            if abs(got.get(qid, 0.0) - want) > 1e-9:
                mismatches.append(f"{sub.assignment}/{sub.student}/{qid}: graded {got.get(qid)} expected {want}")
    assert not mismatches, "\n".join(mismatches)
    # and the table is not trivial: full marks, zero and partial scores all occur
    totals = {(s.assignment, s.student): sum(s.expected.values()) for s in summary["submissions"]}
    full = {(s.assignment, s.student): sum(s.points.values()) for s in summary["submissions"]}
    assert any(totals[k] == full[k] for k in totals)
    assert any(totals[k] == 0 for k in totals)
    assert any(0 < totals[k] < full[k] for k in totals)
    crash = [s for s in summary["submissions"] if s.student == "kernel_crash"]
    assert crash and all(0 < sum(s.expected.values()) for s in crash)


def test_only_the_unreadable_submission_fails_and_the_crash_keeps_what_it_earned(cycle):
    _, summary = cycle
    failed = {(r.student, r.error) for r in summary["results"] if not r.success}
    assert {s for s, _ in failed} == {"invalid_json"}
    assert "not a valid notebook" in dict(failed)["invalid_json"]
    crashed = [r for r in summary["results"] if r.student == "kernel_crash"]
    assert crashed and all(r.success and r.stopped for r in crashed)
    graded = [r for r in summary["results"] if r.success]
    assert len(graded) == len(summary["results"]) - len(CYCLE_ASSIGNMENTS)


def test_feedback_html_shows_the_targeted_messages(cycle):
    root, summary = cycle
    from grader.key import files

    private = files.load_key(files.private_key_path(root, "02_derivatives"))
    page = root / "feedback" / "mistakes_a" / "02_derivatives" / "derivatives.html"
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))
    text = " ".join(text.split())
    firsts = [e["mistakes"][0]["message"] for e in private["questions"].values() if e.get("mistakes")]
    assert firsts
    missing = [m for m in firsts if " ".join(m.split())[:40] not in text]
    assert not missing, missing
    assert "inner derivative" in text
    # the hidden key never reaches the feedback folder
    assert not list((root / "feedback").rglob("*.calcgrade*"))
    assert not [p for p in (root / "feedback").rglob("*.json") if p.name != "calcgrade_public.json"]


def test_export_writes_one_csv_row_per_student_and_assignment(cycle):
    root, summary = cycle
    with open(summary["csv"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    pairs = {(r["assignment"], r["student_id"]) for r in rows}
    assert {(s.assignment, s.student) for s in summary["submissions"]} <= pairs
    perfect = next(r for r in rows if r["assignment"] == "02_derivatives" and r["student_id"] == "perfect")
    assert float(perfect["score"]) == float(perfect["max_score"]) > 0
    blank = next(r for r in rows if r["assignment"] == "02_derivatives" and r["student_id"] == "blank")
    assert float(blank["score"]) == 0
    # the submission that could not be graded is marked so, with its reason, never scored 0.0
    broken = next(r for r in rows if r["assignment"] == "02_derivatives" and r["student_id"] == "invalid_json")
    assert (broken["score"], broken["status"]) == ("", "not graded") and "not valid JSON" in broken["reason"]
    assert {r["status"] for r in rows if r["student_id"] != "invalid_json"} == {"graded"}


def test_gradebook_table_has_no_misgrade_and_marks_the_unreadable_submission(cycle):
    root, summary = cycle
    rows = demo.gradebook_rows(root, summary["submissions"], summary["results"])
    table = demo.format_table(rows, CYCLE_ASSIGNMENTS)
    lines = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert not [line for line in lines.values() if "!" in line], table
    assert "err" in lines["invalid_json"]
    assert lines["monkeypatch"].split()[-1].startswith("0/")
    full = sum(s.points[q] for s in summary["submissions"] if s.student == "perfect" for q in s.points)
    assert lines["perfect"].split()[-1] == f"{full:g}/{full:g}"


# --------------------------------------------------------------------------- release and validate


def _small_course(tmp_path: Path, assignment: str = "01_sums_products") -> Path:
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy2(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(ROOT / "solutions" / assignment, root / "solutions" / assignment)
    shutil.copytree(ROOT / "exercises" / assignment, root / "exercises" / assignment)
    return root


def test_release_refuses_a_solution_that_fails_its_own_check(tmp_path, capsys):
    root = _small_course(tmp_path)
    nb_path = next((root / "solutions" / "01_sums_products").glob("*.ipynb"))
    nb = nbformat.read(str(nb_path), as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                  and "question(" in c.source)
    q = sampleclass.questions_of(nb)[0]
    # the instructor's solution is wrong, but the question still declares it: the key
    # builder's self-check (solution vs. its own key) must catch a mismatch with check()
    test_cell = nb.cells[q.test_cell]
    test_cell.source = test_cell.source.replace(f", {q.variable})", f", {q.variable} + 1)")
    nbformat.write(nb, str(nb_path))
    before = (root / "exercises" / "01_sums_products" / nb_path.name).read_text()
    from grader.cli import main

    status = main(["release", "01_sums_products", "--course-root", str(root)])
    err = capsys.readouterr().err
    assert status == 1
    assert "release of 01_sums_products refused" in err and q.qid in err
    # nothing was released over the good student version
    assert (root / "exercises" / "01_sums_products" / nb_path.name).read_text() == before
    assert answer is not None


def test_validate_passes_on_the_committed_course(tmp_path, capsys, course_keys):
    from grader.cli import main

    root = _small_course(tmp_path, "02_derivatives")
    # the private key is not committed: grading needs it built (by `calcgrade key`, once per test run)
    course_keys.copy_into(root, "02_derivatives")
    status = main(["validate", "02_derivatives", "--course-root", str(root)])
    out = capsys.readouterr().out
    assert status == 0, out
    for item in ["solutions earn full marks", "public key is current", "private key is current",
                 "public-key verdicts equal", "release is current", "scores 0", "nothing answer-bearing"]:
        assert re.search(r"✓ .*" + re.escape(item), out), (item, out)


def test_validate_reports_a_stale_release_and_a_leaked_file(tmp_path):
    root = _small_course(tmp_path)
    nb_path = next((root / "solutions" / "01_sums_products").glob("*.ipynb"))
    nb = nbformat.read(str(nb_path), as_version=4)
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    first_md.source += "\n\nA sentence added after the release."
    nbformat.write(nb, str(nb_path))
    (root / "exercises" / "01_sums_products" / "answers.txt").write_text("55\n")
    findings = validation.validate_course(root, ["01_sums_products"])
    bad = {f.check: f.detail for f in findings if not f.ok}
    assert "release is current" in bad
    assert "nothing answer-bearing is released" in bad and "answers.txt" in bad["nothing answer-bearing is released"]
    assert "solutions earn full marks from their own key" not in bad
    assert "course is consistent" not in validation.format_report(findings)


def test_calcgrade_demo_runs_the_whole_cycle_from_the_command_line(tmp_path):
    """The README's main job, as a user runs it (one assignment, to keep the suite quick)."""
    import subprocess
    import sys

    script = Path(sys.executable).parent / "calcgrade"
    target = tmp_path / "demo"
    proc = subprocess.run([str(script), "demo", "--assignments", "01_sums_products", "--dir", str(target)],
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = out[out.index("Gradebook (points"):out.index("Submissions that could not be graded")]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[3:] if line.strip()}
    full = rows["perfect"][-1]
    assert full.split("/")[0] == full.split("/")[1] != "0"
    assert rows["blank"][-1].startswith("0/")
    assert rows["invalid_json"][0] == "err" and rows["monkeypatch"][-1].startswith("0/")
    assert "!" not in table.split("\n", 2)[2]
    assert len(rows) >= 12
    for step in ["release", "place the sample class", "autograde", "generate feedback", "export grades"]:
        assert re.search(r"\d+\.\d s  .*" + step, out), step
    assert (target / "gradebook.db").is_file() and (target / "grades.csv").is_file()
    assert list((target / "feedback").glob("*/01_sums_products/*.html"))
    assert re.search(r"autograde: \d+/\d+ submissions", proc.stderr)  # progress: one line per step in a log
    page = target / "reports" / "01_sums_products.html"
    assert f"Report (HTML):      {page}" in out and ">Questions</h2>" in page.read_text(encoding="utf-8")
