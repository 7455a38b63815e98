"""``calcgrade autograde``: the fast path on a real course (release, gradebook, sandboxed executor).

One small class of 02_derivatives: honest students from the sample class, and submissions that must fail
alone with their reason (not JSON, a duplicated test cell, an invented grade_id, a deleted test cell).
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from grader.cli import main
from grader.course import coursedir
from grader.course import gradebook
from grader.course.demo import run as demo
from grader.course.release import keybuild
from grader.course.demo import sampleclass

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "02_derivatives"

pytestmark = pytest.mark.slow


def _cell_with(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.fixture(scope="module")
def course_root(tmp_path_factory, make_released_course):
    root = make_released_course(tmp_path_factory.mktemp("autograde") / "course", ASSIGNMENT)
    subs = {s.student: s for s in sampleclass.sample_class(root) if s.assignment == ASSIGNMENT}
    chosen = [subs[name] for name in ("perfect", "partial", "blank", "invalid_json")]
    sampleclass.place(chosen, root, demo.DEMO_TIMESTAMP)
    perfect = nbformat.reads(subs["perfect"].content, as_version=4)
    first_test = next(c for c in perfect.cells if c.metadata.get("nbgrader", {}).get("grade"))
    gid = first_test.metadata["nbgrader"]["grade_id"]
    broken = {}
    nb = copy.deepcopy(perfect)
    nb.cells.append(copy.deepcopy(first_test))
    broken["duplicated"] = nb
    nb = copy.deepcopy(perfect)
    nb.cells[_cell_with(nb, gid)].metadata["nbgrader"]["grade_id"] = "test_made_up"
    broken["unknown_id"] = nb
    nb = copy.deepcopy(perfect)
    del nb.cells[_cell_with(nb, gid)]
    broken["deleted_cell"] = nb
    for student, nb in broken.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / subs["perfect"].notebook))
        (folder / "timestamp.txt").write_text(demo.DEMO_TIMESTAMP)
    shutil.copytree(root, root.parent / "pristine")  # ungraded, for grading both ways side by side
    return root, subs, gid


def _run(args, capsys):
    status = main(["autograde", ASSIGNMENT, *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_class_is_graded_and_broken_submissions_fail_alone_with_their_reason(course_root, capsys):
    root, subs, gid = course_root
    status, out, err = _run(["--course-root", str(root), "--json", "--workers", "2"], capsys)
    assert status == 1, err  # some submissions could not be graded
    data = json.loads(out)
    assert data["sandboxed"] is True and data["assignment"] == ASSIGNMENT
    by = {s["student"]: s for s in data["students"]}
    assert set(by) == {"perfect", "partial", "blank", "invalid_json", "duplicated", "unknown_id", "deleted_cell"}
    for name in ("perfect", "partial", "blank"):
        assert by[name]["success"], by[name]
        assert by[name]["score"] == pytest.approx(sum(subs[name].expected.values())), name
    assert by["perfect"]["score"] == by["perfect"]["max_score"] > 0
    assert "not a valid notebook" in by["invalid_json"]["error"]
    assert f"{gid!r} appears 2 times" in by["duplicated"]["error"]
    assert "'test_made_up' is not part of" in by["unknown_id"]["error"]
    assert f"{gid!r} was deleted" in by["deleted_cell"]["error"]
    scores = gradebook.all_scores(root)
    assert sum(scores[(ASSIGNMENT, "perfect", "derivatives")].values()) == by["perfect"]["max_score"]
    graded = root / "autograded" / "perfect" / ASSIGNMENT / "derivatives.ipynb"
    nb = nbformat.read(str(graded), as_version=4)
    verdicts = [o for c in nb.cells for o in c.get("outputs", [])
                if "application/vnd.calcgrade.verdict+json" in o.get("data", {})]
    assert len(verdicts) == len(subs["perfect"].points)
    assert all(o["data"]["application/vnd.calcgrade.verdict+json"]["trusted"] for o in verdicts)
    assert not (root / "autograded" / "invalid_json").exists() or not list(
        (root / "autograded" / "invalid_json").rglob("*.ipynb"))


def test_a_summary_table_and_only_the_chosen_students(course_root, capsys):
    root, subs, _ = course_root
    status, out, err = _run(["--course-root", str(root), "--students", "blank,perfect"], capsys)
    assert status == 0, out + err
    table = out[out.index("student"):]
    lines = {line.split()[0]: line for line in table.splitlines()[2:] if line.strip() and not line.startswith(("!", "2 of"))}
    full = sum(subs["perfect"].points.values())
    assert lines["perfect"].split()[1] == f"{full:g}/{full:g}" and lines["blank"].split()[1] == f"0/{full:g}"
    assert "2 of 2 submissions graded" in out and "NOT SANDBOXED" not in out
    status, out, err = _run(["--course-root", str(root), "--students", "nobody"], capsys)
    assert status == 2 and "no submission of 02_derivatives from nobody" in err and "Traceback" not in err


def test_grading_refuses_a_missing_or_stale_private_key(course_root, capsys, tmp_path):
    root, _, _ = course_root
    assert keybuild.private_key_problem(root, ASSIGNMENT) is None
    copy_root = tmp_path / "course"
    shutil.copytree(root, copy_root, ignore=shutil.ignore_patterns("autograded", "feedback"))
    solution = copy_root / "solutions" / ASSIGNMENT / "derivatives.ipynb"
    nb = nbformat.read(str(solution), as_version=4)
    nbformat.write(nb, str(solution))  # re-saved unchanged (outputs, formatting): still current
    assert keybuild.private_key_problem(copy_root, ASSIGNMENT) is None
    md = next(c for c in nb.cells if c.cell_type == "code" and "question(" in c.source)
    md.source = md.source.replace("question(", "question(  ", 1)
    nbformat.write(nb, str(solution))
    before = gradebook.all_scores(copy_root)
    status, out, err = _run(["--course-root", str(copy_root)], capsys)
    assert status == 2
    assert "was built from older solutions" in err and "run `calcgrade release 02_derivatives`" in err
    key = copy_root / ".calcgrade" / "keys" / f"{ASSIGNMENT}.json"
    key.unlink()
    status, out, err = _run(["--course-root", str(copy_root)], capsys)
    assert status == 2 and "has no private key" in err and "calcgrade release 02_derivatives" in err
    assert gradebook.all_scores(copy_root) == before  # nothing was graded
    text = json.loads((root / ".calcgrade" / "keys" / f"{ASSIGNMENT}.json").read_text())
    text.pop("solutions_digest")
    key.write_text(json.dumps(text))
    assert "does not say which solutions" in keybuild.private_key_problem(copy_root, ASSIGNMENT)


def test_an_unknown_assignment_is_a_clear_message(course_root, capsys):
    root, _, _ = course_root
    status = main(["autograde", "99_nothing", "--course-root", str(root)])
    err = capsys.readouterr().err
    assert status == 2 and err == (f"calcgrade autograde: no assignment '99_nothing' in the course at {root} "
                                   f"(assignments: {ASSIGNMENT})\n")


def test_without_a_sandbox_grading_refuses_unless_told_and_then_says_so_loudly(course_root):
    """No bubblewrap on PATH: nothing is graded; with --no-sandbox it grades and the summary warns."""
    import subprocess

    root, subs, _ = course_root
    bin_dir = Path(sys.executable).parent
    env = dict(coursedir.script_environment(), PATH=str(bin_dir))
    cmd = [str(bin_dir / "calcgrade"), "autograde", ASSIGNMENT, "--course-root", str(root), "--students", "perfect"]
    before = gradebook.all_scores(root)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no sandbox is available" in proc.stderr and "--no-sandbox" in proc.stderr
    assert "Traceback" not in proc.stderr and gradebook.all_scores(root) == before
    proc = subprocess.run(cmd + ["--no-sandbox"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    full = sum(subs["perfect"].points.values())
    assert f"{full:g}/{full:g}" in proc.stdout and "NOT SANDBOXED" in proc.stdout



def _failing_bwrap(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment of a command whose PATH finds a ``bwrap`` that fails as where user namespaces are off."""
    import tempfile

    fake = Path(tempfile.mkdtemp(prefix="calcgrade-fakebin-"))   # readable by the unprivileged user (as root)
    fake.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(fake, ignore_errors=True))
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: Operation not permitted' >&2\n"
                                "exit 1\n")
    (fake / "bwrap").chmod(0o755)
    bin_dir = Path(sys.executable).parent
    return dict(coursedir.script_environment(), PATH=f"{bin_dir}:{fake}:/usr/sbin:/usr/bin:/sbin:/bin")


def test_the_demo_explains_a_sandbox_that_cannot_be_made(tmp_path, request):
    """``calcgrade demo`` starts its pool first (its warm-up overlaps the release): a bubblewrap that fails is
    explained in one sentence, with the way out, no traceback, and before anything is released."""
    import subprocess

    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "calcgrade"), "demo", "--assignments", "01_sums_products", "--keep",
                           str(tmp_path / "demo"), "--output", str(tmp_path / "pages")],
                          env=_failing_bwrap(request), capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "no sandbox is available here: bubblewrap could not create a sandbox here" in proc.stderr, proc.stderr
    assert "Creating new namespace failed" in proc.stderr and "--no-sandbox" in proc.stderr
    assert "Traceback" not in proc.stderr
    # nothing was released: the demo's folder holds the course it was given and nothing made from it
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["nbgrader_config.py", "solutions"]


def test_a_bubblewrap_that_cannot_make_a_sandbox_is_explained_and_nothing_is_graded(course_root, request):
    """``bwrap`` is installed but fails (as where user namespaces are switched off): the executor starts at
    once without a probe ahead, so its failure is what the instructor would see; the probe then says why in
    one sentence, and no submission is prepared or graded (the autograded copies are left as they were)."""
    import subprocess

    root, _, _ = course_root
    env = _failing_bwrap(request)
    bin_dir = Path(sys.executable).parent
    autograded = sorted((p, p.stat().st_mtime_ns) for p in (root / "autograded").rglob("*") if p.is_file())
    before = gradebook.all_scores(root)
    proc = subprocess.run([str(bin_dir / "calcgrade"), "autograde", ASSIGNMENT, "--course-root", str(root),
                           "--students", "perfect"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no sandbox is available here: bubblewrap could not create a sandbox here" in proc.stderr
    assert "Creating new namespace failed" in proc.stderr and "--no-sandbox" in proc.stderr
    assert "Traceback" not in proc.stderr and gradebook.all_scores(root) == before
    assert sorted((p, p.stat().st_mtime_ns) for p in (root / "autograded").rglob("*") if p.is_file()) == autograded

def test_stock_nbgrader_refuses_without_a_sandbox_and_grades_unsandboxed_only_when_told(course_root, tmp_path,
                                                                                         request):
    """The course's SandboxedExecute in stock ``nbgrader autograde`` starts its pool without a probe ahead: where
    bubblewrap fails, each submission is refused with the reason and the setting that allows it (nothing is
    graded, the gradebook keeps no score); with ``allow_unsandboxed`` the class is graded, marked unsandboxed."""
    import subprocess

    root, subs, _ = course_root
    folder = tmp_path / "course"
    shutil.copytree(root.parent / "pristine", folder)
    env = _failing_bwrap(request)
    nbgrader = [str(Path(sys.executable).parent / "nbgrader"), "autograde", ASSIGNMENT, "--force",
                "--student", "perfect"]
    proc = subprocess.run(nbgrader, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-3000:]
    assert "no sandbox is available (bubblewrap could not create a sandbox here" in log, log[-3000:]
    assert "c.SandboxedExecute.allow_unsandboxed = True" in log
    assert not any(gradebook.all_scores(folder).values())   # no question graded
    with open(folder / "nbgrader_config.py", "a", encoding="utf-8") as fh:
        fh.write("c.SandboxedExecute.allow_unsandboxed = True\n")
    proc = subprocess.run(nbgrader, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    graded = [points for key, points in gradebook.all_scores(folder).items() if key[1] == "perfect"]
    assert sum(sum(p.values()) for p in graded) == sum(subs["perfect"].points.values()) > 0, graded


# --- one pipeline: the config's steps, both ways, the same gradebook ------------------------------------------
CUSTOM_STEP = '''
from nbgrader.preprocessors import NbGraderPreprocessor


class StampStudent(NbGraderPreprocessor):
    """A course's own step: stamps who was graded, and how, into the autograded notebook."""

    def preprocess(self, nb, resources):
        import os

        nb.metadata["course_stamp"] = {"student": resources["nbgrader"]["student"],
                                       "execution": os.environ.get("NBGRADER_EXECUTION", "")}
        return nb, resources
'''

WITH_CUSTOM_STEP = '''
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
c.Autograde.autograde_preprocessors = c.Autograde.autograde_preprocessors + ["course_steps.StampStudent"]
'''


def _gradebook(root: Path) -> dict:
    """Everything grading wrote, per student: submission, grades, comments, and the answer log's rows."""
    from nbgrader.api import Gradebook

    from grader.course.grading import answerlog

    db_url = f"sqlite:///{root / 'gradebook.db'}"
    out = {}
    with Gradebook(db_url) as gb:
        for sub in gb.find_assignment(ASSIGNMENT).submissions:
            out[sub.student.id] = {
                "timestamp": sub.timestamp, "late_penalty": [nb.late_submission_penalty for nb in sub.notebooks],
                "grades": sorted((g.notebook.name, g.name, g.auto_score, g.manual_score, g.needs_manual_grade)
                                 for nb in sub.notebooks for g in nb.grades),
                "comments": sorted((c.notebook.name, c.name, c.auto_comment or "") for nb in sub.notebooks
                                   for c in nb.comments),
            }
    for r in answerlog.read_records(db_url, ASSIGNMENT):
        out[r.student].setdefault("answers", []).append((r.notebook, r.qid, r.points, r.correct, r.fingerprint))
    return out


def test_both_ways_run_the_configs_own_steps_and_write_the_same_gradebook(course_root, tmp_path, capsys):
    """A step the course adds to c.Autograde.autograde_preprocessors runs in stock `nbgrader autograde` and in
    `calcgrade autograde`; both leave identical grades, comments and answer logs."""
    import subprocess

    root, subs, _ = course_root
    ways = {}
    for way in ("stock", "calcgrade"):
        ways[way] = tmp_path / way
        shutil.copytree(root.parent / "pristine", ways[way])
        (ways[way] / "course_steps.py").write_text(CUSTOM_STEP)
        with open(ways[way] / "nbgrader_config.py", "a", encoding="utf-8") as fh:
            fh.write(WITH_CUSTOM_STEP)
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "nbgrader"), "autograde", ASSIGNMENT, "--force"], cwd=ways["stock"],
                          env=coursedir.script_environment(), capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    status, out, err = _run(["--course-root", str(ways["calcgrade"]), "--workers", "2"], capsys)
    assert status == 1, out + err  # the broken submissions fail alone, as with nbgrader
    stock, fast = _gradebook(ways["stock"]), _gradebook(ways["calcgrade"])
    assert set(stock) == set(fast) and fast
    for student in sorted(stock):
        assert fast[student] == stock[student], student
    perfect = fast["perfect"]
    assert sum(g[2] or 0 for g in perfect["grades"]) == sum(subs["perfect"].points.values()) > 0
    for way, folder in ways.items():
        for student in ("perfect", "partial", "blank"):
            nb = nbformat.read(str(folder / "autograded" / student / ASSIGNMENT / "derivatives.ipynb"), as_version=4)
            assert nb.metadata["course_stamp"] == {"student": student, "execution": "autograde"}, (way, student)
        assert not (folder / "autograded" / "duplicated" / ASSIGNMENT / "derivatives.ipynb").exists(), way


def test_a_course_that_executes_outside_the_sandbox_is_refused(course_root, tmp_path, capsys):
    """calcgrade runs students' code only in its sandbox: a config with nbgrader's Execute is refused."""
    root, _, _ = course_root
    copy_root = tmp_path / "course"
    shutil.copytree(root.parent / "pristine", copy_root)
    with open(copy_root / "nbgrader_config.py", "a", encoding="utf-8") as fh:
        fh.write("c.Autograde.autograde_preprocessors = ['nbgrader.preprocessors.Execute', "
                 "'nbgrader.preprocessors.SaveAutoGrades']\n")
    status, out, err = _run(["--course-root", str(copy_root)], capsys)
    assert status == 2 and "SandboxedExecute" in err and "Traceback" not in err
    assert not (copy_root / "autograded").exists()


@pytest.mark.parametrize("damage", ["none", "points_not_a_number", "unknown_key_type", "old_schema", "new_schema",
                                    "grade_id_missing", "duplicate_grade_id"])
def test_calcgrades_cell_metadata_check_gives_nbgraders_verdicts(damage):
    """CheckCellMetadata (schema compiled once) accepts and refuses exactly what nbgrader's own does."""
    from nbgrader.preprocessors import CheckCellMetadata as Stock

    from grader.course.grading.nbgrader_steps import CheckCellMetadata as Ours

    nb = nbformat.read(str(ROOT / "solutions" / ASSIGNMENT / "derivatives.ipynb"), as_version=4)
    meta = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")).metadata["nbgrader"]
    if damage == "points_not_a_number":
        meta["points"] = "many"
    elif damage == "unknown_key_type":
        meta["locked"] = "yes"
    elif damage == "old_schema":
        meta["schema_version"] = 1
    elif damage == "new_schema":
        meta["schema_version"] = 99
    elif damage == "grade_id_missing":
        del meta["grade_id"]
    elif damage == "duplicate_grade_id":  # a rule of nbgrader's validate_nb, not of its per-cell check
        nb.cells.append(copy.deepcopy(next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))))

    def verdict(step):
        try:
            step.preprocess(copy.deepcopy(nb), {})
        except Exception as exc:  # the type and message nbgrader's caller sees
            return type(exc).__name__, str(exc)
        return "ok", ""

    stock, ours = verdict(Stock()), verdict(Ours())
    assert ours == stock
    assert verdict(Ours()) == ours  # again: valid metadata is remembered, a refusal is never
    assert (stock[0] == "ok") is (damage == "none")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
