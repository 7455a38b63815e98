"""An instructor's first hour, the parts that need no kernel: the grade export's layouts (Canvas's and
Moodle's gradebook imports) and the starter assignment an author copies.  The whole cycle from a wheel
install runs in tests/test_packaging.py."""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

from grader.course.report import export

ROOT = Path(__file__).resolve().parent.parent
STARTER = ROOT / "starter" / "solutions" / "00_starter" / "starter.ipynb"


def _rows() -> list[export.GradeRow]:
    def row(assignment: str, student: str, status: str, score: float | None, max_score: float, **kw):
        return export.GradeRow(assignment, student, status, score, max_score, **kw)
    names = dict(first_name="Zoë", last_name="García, Jr.", email="zoe@example.edu", lms_user_id="4711")
    return [
        row("01_sums", "zoe", "graded", 7.5, 10.0, raw_score=8.5, late_penalty=1.0, **names),
        row("01_sums", "max", "not graded", None, 10.0, reason="starter.ipynb is not a notebook: not valid JSON"),
        row("02_derivs", "zoe", "needs manual grading", None, 20.0, reason="1 answer(s) wait for manual grading",
            **names),
        row("02_derivs", "max", "not submitted", None, 20.0, reason="no submission"),
    ]


def test_scores_are_plain_decimals_and_unknown_is_empty():
    assert [export._number(v) for v in (12.0, 7.5, 1 / 3, 0.0, -0.0, None)] == ["12", "7.5", "0.3333", "0", "0", ""]


def test_nbgrader_layout_keeps_nbgraders_columns_and_adds_status_and_reason(tmp_path):
    path = tmp_path / "grades.csv"
    export.write_nbgrader(_rows(), path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == export.NBGRADER_COLUMNS
    assert [(r["student_id"], r["raw_score"], r["late_submission_penalty"], r["score"], r["status"]) for r in rows] == [
        ("zoe", "8.5", "1", "7.5", "graded"), ("max", "", "", "", "not graded"),
        ("zoe", "", "", "", "needs manual grading"), ("max", "", "", "", "not submitted")]
    assert rows[1]["reason"].startswith("starter.ipynb is not a notebook")


def test_canvas_layout_is_what_canvas_gradebook_import_reads(tmp_path):
    """Canvas: Student, ID, SIS User ID, SIS Login ID, Section, then an assignment column each; a
    'Points Possible' row; an empty cell leaves a grade unchanged (so never 0 for 'unknown')."""
    path = tmp_path / "canvas.csv"
    export.write_canvas(_rows(), path)
    with open(path, newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01_sums", "02_derivs"]
    assert table[1] == ["Points Possible", "", "", "", "", "10", "20"]
    assert table[2:] == [["max", "", "", "max", "", "", ""],
                         ["García, Jr., Zoë", "4711", "", "zoe", "", "7.5", ""]]
    assert all(len(line) == len(table[0]) for line in table)
    assert all(re.fullmatch(r"(\d+(\.\d+)?)?", cell) for line in table[2:] for cell in line[5:])


def test_moodle_layout_is_what_moodle_csv_grade_import_reads(tmp_path):
    """Moodle: an identifier column mapped to username/idnumber/email, a grade column per item ('' = no
    grade) and a feedback column that carries the reason."""
    path = tmp_path / "moodle.csv"
    export.write_moodle(_rows(), path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["First name", "Last name", "Username", "ID number", "Email address",
                             "01_sums", "01_sums (feedback)", "02_derivs", "02_derivs (feedback)"]
    by_user = {r["Username"]: r for r in rows}
    assert len(by_user) == len(rows)  # the identifier is unique
    assert (by_user["zoe"]["01_sums"], by_user["zoe"]["02_derivs"]) == ("7.5", "")
    assert by_user["zoe"]["02_derivs (feedback)"] == "needs manual grading: 1 answer(s) wait for manual grading"
    assert by_user["max"]["01_sums"] == "" and by_user["max"]["01_sums (feedback)"].startswith("not graded: ")
    assert by_user["zoe"]["Email address"] == "zoe@example.edu" and by_user["zoe"]["Last name"] == "García, Jr."


def test_export_outside_a_course_says_so_in_one_sentence(tmp_path, capsys, monkeypatch):
    from grader.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["export"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("calcgrade export: no course found") and "Traceback" not in err


# --------------------------------------------------------------------------- the starter an author copies
def _declarations() -> dict[str, ast.Call]:
    nb = json.loads(STARTER.read_text(encoding="utf-8"))
    found: dict[str, ast.Call] = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "question":
                found[ast.literal_eval(node.args[0])] = node
    return found


def test_the_starter_shows_every_feature_an_author_copies_and_only_ready_ones():
    questions = _declarations()
    assert len(questions) == 8
    for qid, call in questions.items():
        options = {k.arg: k.value for k in call.keywords}
        assert "mistakes" in options and "tests" in options, qid  # a named mistake and question tests each
        mistakes = [ast.literal_eval(k) for k in options["mistakes"].keys]
        expects = [ast.literal_eval(t.elts[1]) for t in options["tests"].elts]
        assert True in expects and False in expects and set(mistakes) <= set(expects), qid
        assert "partial" not in options, qid  # docs/COURSE.md: partial credit is not used yet
    assert any("hints" in {k.arg for k in call.keywords} for call in questions.values())
    course_doc = (ROOT / "docs" / "COURSE.md").read_text(encoding="utf-8")
    assert "`partial=True` is not used yet" in course_doc and "starter" in course_doc
    intro = "".join(json.loads(STARTER.read_text(encoding="utf-8"))["cells"][0]["source"])
    assert "partial credit)" not in intro and "tests=" in intro
