"""`calcgrade check`: a scorecard from a real kernel run; --json; folders; clear failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import make_course

pytestmark = pytest.mark.slow
CALCGRADE = [sys.executable, "-m", "grader.cli"]


@pytest.fixture(scope="module")
def student_nb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_course.student_copy(tmp_path_factory.mktemp("sccourse") / "course")


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CALCGRADE, *args], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**__import__("os").environ, "PYTHONIOENCODING": "utf-8"})


def test_a_folder_is_one_line_per_notebook_by_default(student_nb):
    proc = _run("check", str(student_nb.parent.parent))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    (row,) = [ln for ln in lines if ln.strip().startswith(str(student_nb))]
    assert row.split()[1:] == ["2/8", "2/12", "in", "progress"]
    assert "Not answered yet" not in proc.stdout and "Total:" not in proc.stdout  # the detail is -v's
    overview = [ln for ln in lines if ln.strip().startswith("fx_basics")]
    assert overview and "2/8" in overview[0] and "2/12" in overview[0] and "in progress" in overview[0]


def test_scorecard_of_a_folder_with_v_prints_marks_points_messages_total_and_progress(student_nb):
    proc = _run("check", "-v", str(student_nb.parent.parent))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    row = {line.split()[1]: line for line in lines if line.startswith("  ") and len(line.split()) > 2
           and line.split()[1] in make_course.EXPECTED_STATUS}
    assert row["sum_value"].lstrip().startswith("✔") and "1/1" in row["sum_value"] and "Correct." in row["sum_value"]
    assert row["chain_rule"].lstrip().startswith("✘") and "0/2" in row["chain_rule"]
    assert "inner derivative" in row["chain_rule"]
    assert row["closed_form"].lstrip().startswith("○") and "Not answered yet" in row["closed_form"]
    assert "`F` is not defined" in row["integral_x2"]
    assert "Total: 2 / 12 points (2 of 8 questions correct)" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert "Progress" in proc.stdout
    overview = [ln for ln in lines if ln.strip().startswith("fx_basics")]
    assert overview and "2/8" in overview[0] and "2/12" in overview[0] and "in progress" in overview[0]


def test_json_of_one_notebook(student_nb):
    proc = _run("check", str(student_nb), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"notebooks", "errors", "earned", "max_points"}
    assert doc["earned"] == 2.0 and doc["max_points"] == 12.0 and doc["errors"] == []
    (nb,) = doc["notebooks"]
    assert nb["assignment"] == "fx_basics" and nb["complete"] is False
    got = {q["qid"]: (q["status"], q["misconception"]) for q in nb["questions"]}
    assert got == make_course.EXPECTED_STATUS
    assert all(set(q) == {"qid", "status", "points", "max_points", "message", "misconception"} for q in nb["questions"])


def test_missing_path_and_invalid_notebook_fail_clearly(tmp_path, capsys):
    from grader.cli import main

    assert main(["check", str(tmp_path / "nope.ipynb")]) == 2
    err = capsys.readouterr().err
    assert "nope.ipynb: no such file or folder" in err and "Traceback" not in err
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{ this is not json")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.ipynb: not a readable notebook" in err and "Traceback" not in err


def test_a_message_never_breaks_the_table(capsys):
    """A NumPy array printed in a message has line breaks; a qid or message may hold tabs or control
    characters: each question stays one line with its columns in place."""
    import numpy as np

    from grader.course import scorecard

    message = f"Your answer is\n{np.arange(12.0).reshape(3, 4)}\tbut\x1b[31m the shape is (4, 3)." + " more" * 40
    card = scorecard.NotebookScore("a/nb.ipynb", "a", [
        scorecard.QuestionScore("grad\nient", "wrong", 0.0, 2.0, message),
        scorecard.QuestionScore("ok", "correct", 1.0, 1.0, "Correct."),
    ])
    scorecard._print_notebook(card)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[-1].strip().startswith("Total: 1 / 3 points")
    wrong, right = lines[1], lines[2]
    assert wrong.split()[1:3] == ["grad", "ient"] or wrong.split()[1] == "grad ient"
    assert "[[ 0. 1. 2. 3.] [ 4. 5. 6. 7.] [ 8. 9. 10. 11.]] but" in wrong and "\x1b" not in wrong
    assert len(wrong) < 160 and wrong.endswith("...")
    assert right.index("1/1") == wrong.index("0/2")  # the points column is where it was
