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


def test_scorecard_of_a_folder_prints_marks_points_messages_total_and_progress(student_nb):
    proc = _run("check", str(student_nb.parent.parent))
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
