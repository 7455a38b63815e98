"""The course cycle with its gradebook in a real PostgreSQL server gives what SQLite gives.

Two copies of one small course (three students of the sample class, one assignment): one keeps
nbgrader's default SQLite gradebook, the other names a PostgreSQL database in its nbgrader_config.py
(``c.CourseDirectory.db_url``), which every step reads: release, stock ``nbgrader autograde``, feedback,
export.  Scores, feedback pages and the exported CSV must be the same, and the PostgreSQL course must have
written nothing to a SQLite file.  The server is started by ``pg_support`` (initdb in a temporary folder,
an unprivileged user, 127.0.0.1 on a free port) and always stopped.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import pg_support
except ImportError:  # pragma: no cover - run from the repository root as a package
    from tests import pg_support

from grader.course import autograde, demo, sampleclass
from grader.course import release as course

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "02_derivatives"
STUDENTS = ("perfect", "partial", "mistakes_a")

pytestmark = pytest.mark.slow


def set_db_url(course_root: Path, db_url: str | None) -> None:
    """Point the course's nbgrader_config.py at ``db_url`` (None: nbgrader's default SQLite file)."""
    config = course_root / "nbgrader_config.py"
    lines = [line for line in config.read_text().splitlines() if not line.startswith("c.CourseDirectory.db_url")]
    if db_url:
        lines.append(f"c.CourseDirectory.db_url = {db_url!r}")
    config.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def pg_server():
    problem = pg_support.binaries_problem()
    if problem:
        pytest.skip(problem)
    with pg_support.PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def courses(pg_server, tmp_path_factory):
    """(sqlite course, postgres course, database name), both released, autograded, with feedback and export."""
    base = tmp_path_factory.mktemp("pgcycle")
    pg_root, sqlite_root = base / "pg" / "course", base / "sqlite" / "course"
    database = "gradebook_cycle"
    url = pg_server.create_database(database)
    demo.prepare_course(ROOT, pg_root, [ASSIGNMENT])
    set_db_url(pg_root, url)
    course.release(pg_root, ASSIGNMENT, validate=False)  # keys + nbgrader generate_assignment into PostgreSQL
    # The SQLite twin reuses the keys and release just built (building keys costs a kernel run per
    # notebook) and records the assignment in its own gradebook with the same nbgrader step.
    shutil.copytree(pg_root, sqlite_root)
    set_db_url(sqlite_root, None)
    api = autograde.load_api(sqlite_root)
    with autograde.course_path():
        assert api.generate_assignment(ASSIGNMENT, force=True, create=True)["success"]
    subs = [s for s in sampleclass.sample_class(pg_root) if s.assignment == ASSIGNMENT and s.student in STUDENTS]
    assert {s.student for s in subs} == set(STUDENTS)
    # stock nbgrader autograde, both courses at once (two cores)
    procs = []
    for root in (sqlite_root, pg_root):
        sampleclass.place(subs, root, demo.DEMO_TIMESTAMP)
        procs.append(subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"],
                                      cwd=str(root), env=autograde.course_environment(),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        logs = [p.communicate(timeout=600)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(log[-3000:] for log in logs)
    for root in (sqlite_root, pg_root):
        assert course.generate_feedback(root, ASSIGNMENT)
        course.export_grades(root)
    return sqlite_root, pg_root, database, subs


def test_the_postgresql_course_keeps_its_gradebook_in_postgresql_only(courses, pg_server):
    sqlite_root, pg_root, database, subs = courses
    assert (sqlite_root / "gradebook.db").is_file()
    assert not list(pg_root.rglob("*.db")), "the PostgreSQL course wrote a SQLite gradebook"
    assert autograde.load_api(pg_root).coursedir.db_url.startswith("postgresql")
    # release wrote the assignment and its graded cells, autograde the students' grades
    assert pg_server.query(database, "select name from assignment") == [(ASSIGNMENT,)]
    graded_cells = pg_server.query(database, "select count(*) from grade_cells")[0][0]
    assert graded_cells == len(subs[0].points) > 0
    students = {row[0] for row in pg_server.query(database, "select id from student")}
    assert students == set(STUDENTS)
    totals = dict(pg_server.query(
        database,
        "select st.id, sum(coalesce(g.manual_score, g.auto_score)) from grade g"
        " join submitted_notebook n on g.notebook_id = n.id"
        " join submitted_assignment a on n.assignment_id = a.id join student st on a.student_id = st.id"
        " group by st.id"))
    expected = {s.student: sum(s.nbgrader_expected.values()) for s in subs}
    assert {k: float(v) for k, v in totals.items()} == expected


def test_stock_autograde_gives_the_same_scores_on_postgresql_and_sqlite(courses):
    sqlite_root, pg_root, _, subs = courses
    on_sqlite, on_pg = autograde.all_scores(sqlite_root), autograde.all_scores(pg_root)
    assert on_pg == on_sqlite
    for sub in subs:
        assert on_pg[(ASSIGNMENT, sub.student, Path(sub.notebook).stem)] == sub.nbgrader_expected
    totals = {s.student: sum(s.nbgrader_expected.values()) for s in subs}
    full = sum(subs[0].points.values())
    assert totals["perfect"] == full and 0 < totals["partial"] < full  # not a trivial table


def _feedback_scores(root: Path, student: str) -> list[str]:
    page = root / "feedback" / student / ASSIGNMENT / "derivatives.html"
    return re.findall(r"Score: [0-9.]+ / [0-9.]+", page.read_text(encoding="utf-8"))


def test_feedback_pages_show_the_same_scores(courses):
    sqlite_root, pg_root, _, subs = courses
    for sub in subs:
        from_pg = _feedback_scores(pg_root, sub.student)
        assert len(from_pg) > len(sub.points)  # the notebook's total and each graded cell's
        assert from_pg == _feedback_scores(sqlite_root, sub.student)
    assert _feedback_scores(pg_root, "perfect")[0] == "Score: {0:.1f} / {0:.1f}".format(sum(subs[0].points.values()))


def test_export_writes_the_same_csv(courses):
    sqlite_root, pg_root, _, subs = courses

    def rows(root: Path) -> list[dict]:
        with open(root / "grades.csv", newline="", encoding="utf-8") as fh:
            return sorted(csv.DictReader(fh), key=lambda r: r["student_id"])

    from_pg = rows(pg_root)
    assert from_pg == rows(sqlite_root)
    assert {r["student_id"]: float(r["score"]) for r in from_pg} == \
        {s.student: sum(s.nbgrader_expected.values()) for s in subs}


def _report(root: Path, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "grader.cli", "report", ASSIGNMENT, "--course-root", str(root),
                          *args], cwd=str(root), env=autograde.course_environment(), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


def test_calcgrade_report_gives_the_same_numbers_from_postgresql(courses):
    sqlite_root, pg_root, _, subs = courses
    from_pg = json.loads(_report(pg_root, "--json").stdout)
    assert from_pg == json.loads(_report(sqlite_root, "--json").stdout)
    totals = [sum(s.nbgrader_expected.values()) for s in subs]
    assert from_pg["submissions"] == len(subs) and from_pg["failed"] == []
    assert abs(from_pg["mean"] - sum(totals) / len(totals)) < 1e-9
    assert {q["qid"] for q in from_pg["questions"]} == set(subs[0].points)
    page = pg_root / "reports" / "from-postgresql.html"
    _report(pg_root, "--out", str(page))
    assert ASSIGNMENT in page.read_text(encoding="utf-8")
