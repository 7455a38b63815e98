"""The course cycle with its gradebook in a real PostgreSQL server gives what SQLite gives.

Two copies of one small course (three students of the sample class, one assignment): one keeps
nbgrader's default SQLite gradebook, the other names a PostgreSQL database in its nbgrader_config.py
(``c.CourseDirectory.db_url``), which every step reads: release (its gradebook step, nbgrader's
generate_assignment; the keys are built once per test run by conftest's ``make_released_course``), stock ``nbgrader autograde``,
``calcgrade autograde`` (gradebook and answer log), feedback, export, ``calcgrade report``.  Scores, answer
logs, feedback pages, the exported CSV and the report's numbers must be the same, and the PostgreSQL course
must have written nothing to a SQLite file.  The server is started by ``pg_support`` (initdb in a temporary
folder, an unprivileged user, 127.0.0.1 on a free port) and always stopped.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


from grader import cli
from grader.course.grading import answerlog
from grader.course import coursedir
from grader.course import gradebook
from grader.course.grading import autograde
from grader.course.demo import run as demo
from grader.course.demo import sampleclass
from grader.course.release import publish as course
from grader.course.sandbox.executor import ExecutorPool

ASSIGNMENT = "02_derivatives"
STUDENTS = ("perfect", "partial", "mistakes_a")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def courses(pg_server, make_released_course, tmp_path_factory):
    """Two released copies of one course, SQLite and PostgreSQL, each graded by stock ``nbgrader autograde``
    and then by ``calcgrade autograde``, with feedback and export (a Cycle)."""
    base = tmp_path_factory.mktemp("pgcycle")
    pg_root, sqlite_root = base / "pg" / "course", base / "sqlite" / "course"
    database = "gradebook_cycle"
    url = pg_server.create_database(database)
    # a release's gradebook step (nbgrader generate_assignment) into each course's own gradebook; the keys
    # are built once per test run (conftest.make_released_course)
    make_released_course(pg_root, ASSIGNMENT, db_url=url)
    make_released_course(sqlite_root, ASSIGNMENT)
    subs = [s for s in sampleclass.sample_class(pg_root) if s.assignment == ASSIGNMENT and s.student in STUDENTS]
    assert {s.student for s in subs} == set(STUDENTS)
    # stock nbgrader autograde, both courses at once (two cores)
    procs = []
    for root in (sqlite_root, pg_root):
        sampleclass.place(subs, root, demo.DEMO_TIMESTAMP)
        procs.append(subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"],
                                      cwd=str(root), env=coursedir.script_environment(),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        logs = [p.communicate(timeout=600)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(log[-3000:] for log in logs)
    stock = {root: gradebook.all_scores(root) for root in (sqlite_root, pg_root)}
    # calcgrade autograde, one warm pool for both courses; it grades the same submissions again
    runs = {}
    with ExecutorPool(workers=1) as pool:
        for root in (sqlite_root, pg_root):
            runs[root] = autograde.autograde_assignment(root, ASSIGNMENT, pool=pool)
    ours = {root: gradebook.all_scores(root) for root in (sqlite_root, pg_root)}
    for root in (sqlite_root, pg_root):
        assert course.generate_feedback(root, ASSIGNMENT)
        course.export_grades(root)
    return Cycle(sqlite_root, pg_root, database, url, subs, stock, ours, runs)


@dataclass
class Cycle:
    sqlite_root: Path
    pg_root: Path
    database: str
    url: str
    subs: list
    stock: dict   # course root -> scores after stock `nbgrader autograde`
    ours: dict    # course root -> scores after `calcgrade autograde`
    runs: dict    # course root -> AutogradeRun


def expected_scores(subs) -> dict:
    return {(ASSIGNMENT, s.student, Path(s.notebook).stem): s.expected for s in subs}


def test_the_postgresql_course_keeps_its_gradebook_in_postgresql_only(courses, pg_server):
    c = courses
    assert (c.sqlite_root / "gradebook.db").is_file()
    assert not list(c.pg_root.rglob("*.db")), "the PostgreSQL course wrote a SQLite gradebook"
    assert coursedir.nbgrader_api(c.pg_root).coursedir.db_url.startswith("postgresql")
    # release wrote the assignment and its graded cells, autograde the students' grades
    assert pg_server.query(c.database, "select name from assignment") == [(ASSIGNMENT,)]
    graded_cells = pg_server.query(c.database, "select count(*) from grade_cells")[0][0]
    assert graded_cells == len(c.subs[0].points) > 0
    students = {row[0] for row in pg_server.query(c.database, "select id from student")}
    assert students == set(STUDENTS)
    totals = dict(pg_server.query(
        c.database,
        "select st.id, sum(coalesce(g.manual_score, g.auto_score)) from grade g"
        " join submitted_notebook n on g.notebook_id = n.id"
        " join submitted_assignment a on n.assignment_id = a.id join student st on a.student_id = st.id"
        " group by st.id"))
    assert {k: float(v) for k, v in totals.items()} == {s.student: sum(s.expected.values()) for s in c.subs}


def test_stock_autograde_gives_the_same_scores_on_postgresql_and_sqlite(courses):
    c = courses
    assert c.stock[c.pg_root] == c.stock[c.sqlite_root] == expected_scores(c.subs)
    totals = {s.student: sum(s.expected.values()) for s in c.subs}
    full = sum(c.subs[0].points.values())
    assert totals["perfect"] == full and 0 < totals["partial"] < full  # not a trivial table


def test_calcgrade_autograde_gives_the_same_scores_and_answer_log_on_postgresql(courses):
    c = courses
    assert c.ours[c.pg_root] == c.ours[c.sqlite_root] == expected_scores(c.subs)
    for root in (c.sqlite_root, c.pg_root):
        assert all(r.success for r in c.runs[root].results), c.runs[root].results
    on_pg = answerlog.read_records(c.url, ASSIGNMENT)
    on_sqlite = answerlog.read_records(coursedir.nbgrader_api(c.sqlite_root).coursedir.db_url, ASSIGNMENT)
    assert len(on_pg) == len(c.subs) * len(c.subs[0].points)
    assert sorted(on_pg, key=repr) == sorted(on_sqlite, key=repr)
    assert {r.student for r in on_pg if r.misconception} >= {"mistakes_a"}


def _feedback_scores(root: Path, student: str) -> list[str]:
    page = root / "feedback" / student / ASSIGNMENT / "derivatives.html"
    return re.findall(r"Score: [0-9.]+ / [0-9.]+", page.read_text(encoding="utf-8"))


def test_feedback_pages_show_the_same_scores(courses):
    sqlite_root, pg_root, subs = courses.sqlite_root, courses.pg_root, courses.subs
    for sub in subs:
        from_pg = _feedback_scores(pg_root, sub.student)
        assert len(from_pg) > len(sub.points)  # the notebook's total and each graded cell's
        assert from_pg == _feedback_scores(sqlite_root, sub.student)
    assert _feedback_scores(pg_root, "perfect")[0] == "Score: {0:.1f} / {0:.1f}".format(sum(subs[0].points.values()))


def test_export_writes_the_same_csv(courses):
    sqlite_root, pg_root, subs = courses.sqlite_root, courses.pg_root, courses.subs

    def rows(root: Path) -> list[dict]:
        with open(root / "grades.csv", newline="", encoding="utf-8") as fh:
            return sorted(csv.DictReader(fh), key=lambda r: r["student_id"])

    from_pg = rows(pg_root)
    assert from_pg == rows(sqlite_root)
    assert {r["student_id"]: float(r["score"]) for r in from_pg} == \
        {s.student: sum(s.expected.values()) for s in subs}


def _report(root: Path, *args: str) -> str:
    """``calcgrade report ASSIGNMENT --course-root ROOT ARGS`` (in this process); its output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(["report", ASSIGNMENT, "--course-root", str(root), *args])
    assert status == 0, out.getvalue()
    return out.getvalue()


def test_calcgrade_report_gives_the_same_numbers_from_postgresql(courses):
    sqlite_root, pg_root, subs = courses.sqlite_root, courses.pg_root, courses.subs
    from_pg = json.loads(_report(pg_root, "--json"))
    assert from_pg == json.loads(_report(sqlite_root, "--json"))
    totals = [sum(s.expected.values()) for s in subs]
    assert from_pg["submissions"] == len(subs) and from_pg["failed"] == []
    assert abs(from_pg["mean"] - sum(totals) / len(totals)) < 1e-9
    assert {q["qid"] for q in from_pg["questions"]} == set(subs[0].points)
    assert any(q["mistakes"] for q in from_pg["questions"])  # the answer log was read from PostgreSQL too
    page = pg_root / "reports" / "from-postgresql.html"
    _report(pg_root, "--out", str(page))
    assert ASSIGNMENT in page.read_text(encoding="utf-8")
