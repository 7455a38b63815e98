"""`calcgrade release` is atomic: a refused release leaves exercises/, the keys, the gradebook and the
exchange exactly as they were, and says in one or two sentences what is wrong and where.

One copy of the fixture course is released once (from its own folder, with the exchange its config
names); every refusal then breaks a copy of a solution, checks the message and that no byte changed,
and puts the solution back.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import nbformat
import pytest

from fixtures import make_course

from grader.cli import main as cli

pytestmark = pytest.mark.slow

ASSIGNMENT = make_course.ASSIGNMENT
ROOT = Path(__file__).resolve().parent.parent


def _snapshot(root: Path) -> dict[str, str]:
    """Every file a release may change, with its digest (and every exchange folder with its mode)."""
    out = {}
    for pattern in ["exercises/**/*", ".calcgrade/keys/*", "solutions/*/calcgrade_public.json", "gradebook.db",
                    "exchange/**/*"]:
        for path in sorted(root.glob(pattern)):
            rel = str(path.relative_to(root))
            if path.is_file():
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                out[rel] = oct(stat.S_IMODE(path.stat().st_mode))
    return out


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The fixture course, with a course id and an exchange in the course, released from its own folder."""
    root = tmp_path_factory.mktemp("release") / "course"
    shutil.copytree(make_course.COURSE, root, ignore=shutil.ignore_patterns(".calcgrade", "calcgrade_public.json"))
    with open(root / "nbgrader_config.py", "a", encoding="utf-8") as fh:
        fh.write("c.CourseDirectory.course_id = 'fx-course'\nimport os\n"
                 "c.Exchange.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'exchange')\n")
    before = os.getcwd()
    checkout = _snapshot(ROOT)
    os.chdir(root / "solutions")  # anywhere inside the course: the course is found from here
    try:
        import io
        from contextlib import redirect_stderr, redirect_stdout

        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = cli(["release", ASSIGNMENT])
    finally:
        os.chdir(before)
    assert status == 0, out.getvalue() + err.getvalue()
    assert _snapshot(ROOT) == checkout  # nothing was released into the checkout the package runs from
    return root, out.getvalue()


def _solution(root: Path) -> Path:
    return root / "solutions" / ASSIGNMENT / "basics.ipynb"


def _edit(root: Path, grade_id: str, old: str, new: str) -> bytes:
    """Replace text in one cell of the solution notebook; returns the original bytes (to put back)."""
    path = _solution(root)
    original = path.read_bytes()
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source, (old, cell.source)
    cell.source = cell.source.replace(old, new, 1)
    nbformat.write(nb, str(path))
    return original


def _refused(root: Path, capsys, *extra: str) -> str:
    before = _snapshot(root)
    status = cli(["release", ASSIGNMENT, "--course-root", str(root), *extra])
    captured = capsys.readouterr()
    assert status == 1, captured
    assert _snapshot(root) == before, "a refused release changed the course"
    assert not list((root / ".calcgrade" / "staging").iterdir()), "the staging folder was left behind"
    assert "-v" in extra or captured.out == ""
    assert "-v" in extra or "Traceback" not in captured.err  # -v shows nbgrader's log in full
    return captured.err


def test_a_release_writes_keys_student_version_gradebook_and_exchange(released):
    root, out = released
    assert out.splitlines()[0].startswith(f"✓ {ASSIGNMENT} released: 8 questions, 12 points, in "
                                          f"{root / 'exercises' / ASSIGNMENT} (")
    outbound = root / "exchange" / "fx-course" / "outbound" / ASSIGNMENT
    assert out.splitlines()[1] == f"  published to nbgrader's exchange: {outbound}"
    released_nb = root / "exercises" / ASSIGNMENT / "basics.ipynb"
    assert "BEGIN SOLUTION" not in released_nb.read_text() and "question(" not in released_nb.read_text()
    assert (outbound / "basics.ipynb").read_bytes() == released_nb.read_bytes()
    assert (outbound / "calcgrade_public.json").is_file()
    assert stat.S_IMODE((root / "exchange").stat().st_mode) == 0o777
    assert stat.S_IMODE((root / "exchange" / "fx-course" / "inbound").stat().st_mode) == stat.S_ISGID | 0o733
    assert '"reference"' in (root / ".calcgrade" / "keys" / f"{ASSIGNMENT}.json").read_text()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assignment = gb.find_assignment(ASSIGNMENT)
        assert [nb.name for nb in assignment.notebooks] == ["basics"]
        assert assignment.max_score == 12


def test_a_missing_end_solution_is_refused_naming_the_cell_and_question(released, capsys):
    root, _ = released
    original = _edit(root, "ans_chain_rule", "### END SOLUTION", "")
    try:
        err = _refused(root, capsys)
    finally:
        _solution(root).write_bytes(original)
    lines = err.strip().splitlines()
    assert lines == [
        f"✗ release of {ASSIGNMENT} refused: {ASSIGNMENT}/basics.ipynb, cell 4 (ans_chain_rule, question chain_rule): "
        "`### BEGIN SOLUTION` has no matching `### END SOLUTION`.",
        f"  Nothing was changed: exercises/{ASSIGNMENT}, the keys and the gradebook are as they were (-v for details).",
    ]


def test_what_only_nbgrader_refuses_is_summarised_from_its_log_and_v_shows_the_log(released, capsys):
    root, _ = released
    path = _solution(root)
    original = path.read_bytes()
    nb = nbformat.read(str(path), as_version=4)
    intro = nb.cells[0]
    intro.metadata["nbgrader"].update(grade=True, points=1)  # a markdown grade cell must be a solution cell
    nbformat.write(nb, str(path))
    try:
        err = _refused(root, capsys, "-v")
    finally:
        path.write_bytes(original)
    lines = err.splitlines()
    assert lines[0] == (f"✗ release of {ASSIGNMENT} refused: nbgrader cannot generate the student version: "
                        "Markdown grade cell 'intro' is not marked as a solution cell.")
    assert lines[1] == f"  Nothing was changed: exercises/{ASSIGNMENT}, the keys and the gradebook are as they were."
    assert "Notebook failed to validate" in err  # -v: nbgrader's log follows


def test_a_slip_in_a_reference_and_a_failing_question_test_are_refused_naming_the_question(released, capsys):
    root, _ = released
    original = _edit(root, "ans_chain_rule", "d_chain = sp.diff((x**2 + 1)**3, x)", "d_chain = 3*(x**2 + 1)**2")
    _edit(root, "ans_sum_value", "question(\"sum_value\", total,", "question(\"sum_value\", total, tests=[(56, True)],")
    try:
        verbose = _refused(root, capsys, "-v")
    finally:
        _solution(root).write_bytes(original)
    assert verbose.splitlines()[0] == (
        f"✗ release of {ASSIGNMENT} refused: question 'chain_rule': the reference equals its own named mistake "
        "'forgot_inner_derivative' (a slip in the reference, or in the mistake) (and 1 more problem; -v lists them).")
    assert "    question 'sum_value', test 1 (56): should be correct, the private key says wrong" in verbose.splitlines()


def test_a_student_version_that_scores_points_is_refused_after_running_it(released, capsys):
    root, _ = released
    # the answer sits above its solution region, so the student version would hand it out
    original = _edit(root, "ans_sum_value", "total = ...", "total = 55")
    try:
        err = _refused(root, capsys)
    finally:
        _solution(root).write_bytes(original)
    assert err.splitlines()[0] == (
        f"✗ release of {ASSIGNMENT} refused: the student version {ASSIGNMENT}/basics.ipynb scores 1 points "
        "unanswered (is an answer outside its ### BEGIN/END SOLUTION region?).")


def test_validate_reports_a_missing_private_key_and_the_rest_holds(released):
    from grader.course.release import validation

    root, _ = released
    key = root / ".calcgrade" / "keys" / f"{ASSIGNMENT}.json"
    saved = key.read_bytes()
    key.unlink()
    try:
        findings = validation.validate_course(root, [ASSIGNMENT])
    finally:
        key.write_bytes(saved)
    bad = {f.check: f.detail for f in findings if not f.ok}
    assert bad == {"private key is current (grading refuses without it)":
                   f"{ASSIGNMENT} has no private key ({key} is missing): run `calcgrade release {ASSIGNMENT}`"}
    report = validation.format_report(findings)
    assert "✗ private key is current" in report and report.endswith("1 problem(s) found")
