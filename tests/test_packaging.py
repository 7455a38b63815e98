"""A plain (non-editable) install runs anywhere: the wheel carries the course, `calcgrade init` writes a
fresh course from it and `calcgrade demo` runs a whole cycle on it from an empty folder, leaving nothing
behind.

The wheel is built offline from the checkout (``--no-build-isolation``) and installed with ``--no-deps``
into a fresh virtual environment that sees the project environment's site-packages for its dependencies
(a .pth line), so the test needs no network and takes seconds, not minutes, to set up.  Nothing of the
checkout is importable there: ``grader`` comes from the wheel.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """(the fresh environment's bin folder, the environment to run it with, the wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((tmp / "dist").glob("calcgrade-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    bin_dir = venv / "bin"
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q",
                           "--no-deps", str(wheel)], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # the fresh environment first; the project's scripts (alembic, which nbgrader runs) after it
    env["PATH"] = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "")])
    # the dependencies' data files (nbconvert's page templates) live under the project environment's prefix,
    # where a real install would have put them into the fresh one
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in [str(Path(sys.prefix) / "share" / "jupyter"),
                                                      env.get("JUPYTER_PATH", "")] if p)
    return bin_dir, env, wheel


def test_the_wheel_carries_the_starter_course_and_no_reference_of_the_real_course(installed):
    """Students install the package too: it carries the starter assignment (answers public on purpose), never
    the real assignments' solutions, their keys, or a gradebook."""
    _, _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    carried = sorted(n.split("grader/course/data/course/", 1)[1] for n in names
                     if n.startswith("grader/course/data/course/"))
    expected = ["nbgrader_config.py"] + sorted(
        p.relative_to(ROOT / "starter").as_posix() for p in (ROOT / "starter" / "solutions").rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts)
    assert carried == sorted(expected)
    assert not [n for n in names if ".calcgrade" in n or "gradebook.db" in n or "/exercises/" in n]
    real = {p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb")}
    assert real and not [n for n in names if any(f"/{a}/" in n for a in real)]


def test_version_and_init_from_an_empty_folder(installed, tmp_path):
    bin_dir, env, _ = installed
    where = subprocess.run([str(bin_dir / "python"), "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert where.stdout.strip().startswith(str(bin_dir.parent)), where  # the wheel's copy, not the checkout
    version = subprocess.run([str(bin_dir / "calcgrade"), "--version"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=120)
    assert version.stdout.strip() == "calcgrade 0.1.0"
    proc = subprocess.run([str(bin_dir / "calcgrade"), "init", "my-course"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"✓ a fresh course in {tmp_path / 'my-course'}: nbgrader_config.py and solutions/")
    for nb in (ROOT / "starter" / "solutions").glob("*/*.ipynb"):
        assert (tmp_path / "my-course" / "solutions" / nb.parent.name / nb.name).read_bytes() == nb.read_bytes()
    assert (tmp_path / "my-course" / "nbgrader_config.py").read_bytes() == (ROOT / "nbgrader_config.py").read_bytes()


def test_the_demo_runs_from_an_empty_folder_and_keeps_its_pages_in_a_folder_it_names(installed, tmp_path):
    bin_dir, env, _ = installed
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([str(bin_dir / "calcgrade"), "demo", "--assignments", "00_starter"],
                          capture_output=True, text=True, env=env, cwd=empty, timeout=850)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    carried = next(bin_dir.parent.glob("lib/python*/site-packages/grader/course/data/course"))
    assert f"calcgrade demo: a whole course cycle of the course calcgrade carries ({carried}) in " in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("perfect ", "blank "))}
    full = rows["perfect"][-1]
    assert full.split("/")[0] == full.split("/")[1] != "0" and rows["blank"][-1].startswith("0/")
    assert " students x " not in out and re.search(r"\d+ submissions of 1 assignment by \d+ students", out)
    kept = re.search(r"The report, the feedback pages and grades.csv are in (\S+) \(the scratch course folder "
                     r"(\S+) was removed; --keep DIR keeps it all\)\.", out)
    assert kept and out.rstrip().endswith(kept.group(0))  # named at the very end
    results, scratch = Path(kept.group(1)), Path(kept.group(2))
    try:
        assert not scratch.exists()
        assert ">Questions</h2>" in (results / "reports" / "00_starter.html").read_text(encoding="utf-8")
        assert (results / "reports" / "course.html").is_file()
        assert (results / "feedback" / "perfect" / "00_starter" / "starter.html").is_file()
        assert "status,reason" in (results / "grades.csv").read_text(encoding="utf-8").splitlines()[0]
        assert sorted(p.name for p in results.iterdir()) == ["feedback", "grades.csv", "reports"]
    finally:
        import shutil

        shutil.rmtree(results, ignore_errors=True)
    assert not list(empty.iterdir())  # nothing was written where the demo was run


# --------------------------------------------------------------------------- an instructor's first hour
# What each sample student writes in the released starter's answer cells (grade id -> source).
_RIGHT = {
    "ans_chain_rule": "d_chain = 6*x*(x**2 + 1)**2",
    "ans_sum_value": "total = sum(range(1, 11))",
    "ans_closed_form": "closed = m*(m + 1)/2",
    "ans_integral_x2": "F = x**3/3",
    "ans_gradient": "grad_f = sp.Matrix([2*x*y + 3*y**2, x**2 + 6*x*y])",
    "ans_mse": "def mse(y, yhat):\n    return float(np.mean((np.asarray(y) - np.asarray(yhat))**2))",
    "ans_train": "def train(lr):\n    w, out = 0.0, []\n    for _ in range(20):\n        out.append((w - 3)**2)\n"
                 "        w -= lr * 2*(w - 3)\n    return np.array(out)",
    "ans_central": "def central(f, a):\n    return (f(a + 1e-5) - f(a - 1e-5)) / 2e-5",
}
_STUDENTS = {
    "ana": dict(_RIGHT),
    "bob": dict(_RIGHT, ans_chain_rule="d_chain = 3*(x**2 + 1)**2",          # a named mistake: 0 of 2
                ans_sum_value="total = summ(range(1, 11))",                    # raises NameError: 0 of 1
                ans_closed_form="while True:\n    pass\nclosed = m*(m + 1)/2"),  # an endless loop: 0 of 1
    "cleo": None,                                                              # hands in a file that is no notebook
}


def test_an_instructors_first_hour_from_a_plain_install(installed, tmp_path):
    """init -> release -> fetch/submit -> collect -> autograde -> generate_feedback -> export -> report, in an
    empty folder with the installed package only, each step the command an instructor types."""
    import csv
    import json
    import shutil

    bin_dir, env, _ = installed
    calcgrade, python = str(bin_dir / "calcgrade"), str(bin_dir / "python")

    def run(args: list[str], cwd: Path, timeout: int = 600, status: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
        assert proc.returncode == status, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        return proc

    run([calcgrade, "init", "course"], tmp_path)
    course = tmp_path / "course"
    released = run([calcgrade, "release", "00_starter"], course)  # with every check on: the starter is no leak
    assert "✓ 00_starter released: 8 questions, 12 points" in released.stdout
    assert "published to nbgrader's exchange" in released.stdout
    for sid, first, last in [("ana", "Ana", "Lima"), ("bob", "Bob", "Okafor"), ("cleo", "Cleo", "Dubois"),
                             ("dan", "Dan", "Moreau")]:  # dan is enrolled and never submits
        run([python, "-m", "nbgrader", "db", "student", "add", sid, f"--first-name={first}", f"--last-name={last}",
             f"--email={sid}@example.edu"], course)

    setup = re.search(r"students set up their Jupyter once with: (calcgrade student-setup .*)", released.stdout)
    assert setup, released.stdout

    def hand_in(student: str, answers: dict[str, str] | None) -> None:
        """One student's side, each in their own home: set up, fetch, answer, submit."""
        home = tmp_path / "home" / student
        home.mkdir(parents=True)
        # each student runs the command the release printed, for their own Jupyter configuration folder; their
        # own data folder too (nbgrader submit keeps a copy there: students handing in at once must not share it)
        student_env = dict(env, JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
                           JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"))
        argv = setup.group(1).split()
        subprocess.run([calcgrade, *argv[1:]], env=student_env, cwd=home, check=True, capture_output=True)
        proc = subprocess.run([python, "-m", "nbgrader", "fetch_assignment", "00_starter"], env=student_env,
                              cwd=home, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        path = home / "00_starter" / "starter.ipynb"
        if answers is None:
            path.write_text('{"cells": [', encoding="utf-8")
        else:
            nb = json.loads(path.read_text(encoding="utf-8"))
            for cell in nb["cells"]:
                gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
                if gid in answers:
                    cell["source"] = answers[gid]
            path.write_text(json.dumps(nb), encoding="utf-8")
        proc = subprocess.run([python, "-m", "nbgrader", "submit", "00_starter", f"--student={student}"],
                              env=student_env, cwd=home, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]

    # the students work at the same time, as in a class (each its own home; the exchange takes them all)
    with ThreadPoolExecutor(max_workers=len(_STUDENTS)) as pool:
        for done in [pool.submit(hand_in, student, answers) for student, answers in _STUDENTS.items()]:
            done.result()
    run([python, "-m", "nbgrader", "collect", "00_starter"], course)
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["ana", "bob", "cleo"]

    graded = run([calcgrade, "autograde", "00_starter"] + ([] if shutil.which("bwrap") else ["--no-sandbox"]),
                 course, timeout=900, status=1)  # 1: a submission failed
    rows = {line.split()[0]: line.split()[1] for line in graded.stdout.splitlines()
            if line.split() and line.split()[0] in ("ana", "bob", "cleo")}
    assert rows == {"ana": "12/12", "bob": "8/12", "cleo": "failed"}, graded.stdout

    run([python, "-m", "nbgrader", "generate_feedback", "00_starter"], course)
    import html as html_text

    page = html_text.unescape((course / "feedback" / "bob" / "00_starter" / "starter.html").read_text(encoding="utf-8"))
    assert "a value of type" not in page
    assert ("Not graded: your answer cell raised NameError: name 'summ' is not defined, so it left no answer to "
            "grade.") in page and "summ(range(1, 11))" in page
    assert "Not graded: your answer cell was stopped before it finished (an endless loop?), so it left no answer" \
        in page and "while True:" in page and "run it again" not in page

    with ThreadPoolExecutor(max_workers=3) as pool:  # the exports only read the gradebook
        exports = [pool.submit(run, [calcgrade, "export", "--format", fmt, "-o", str(tmp_path / f"{fmt}.csv")], course)
                   for fmt in ("nbgrader", "canvas", "moodle")]
        for out in exports:
            assert "cleo: not graded" in out.result().stdout
    with open(tmp_path / "nbgrader.csv", newline="") as fh:
        table = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert {s: (r["score"], r["max_score"], r["status"]) for s, r in table.items()} == {
        "ana": ("12", "12", "graded"), "bob": ("8", "12", "graded"), "cleo": ("", "12", "not graded"),
        "dan": ("", "12", "not submitted")}
    assert "not valid JSON" in table["cleo"]["reason"]

    # Canvas's gradebook import: the five identity columns, a Points Possible row, then one row per student;
    # an empty cell leaves the grade as it is (never a 0 for an ungraded submission)
    with open(tmp_path / "canvas.csv", newline="") as fh:
        canvas = list(csv.reader(fh))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "00_starter"]
    assert canvas[1][0] == "Points Possible" and canvas[1][5] == "12"
    assert {r[3]: (r[0], r[5]) for r in canvas[2:]} == {
        "ana": ("Lima, Ana", "12"), "bob": ("Okafor, Bob", "8"), "cleo": ("Dubois, Cleo", ""),
        "dan": ("Moreau, Dan", "")}
    # Moodle's CSV grade import: an identifier column to map (username, ID number or email), a grade column
    # (a plain decimal, or empty for "no grade") and its feedback column
    with open(tmp_path / "moodle.csv", newline="") as fh:
        moodle = list(csv.DictReader(fh))
    assert {"Username", "ID number", "Email address", "00_starter", "00_starter (feedback)"} <= set(moodle[0])
    by_user = {r["Username"]: r for r in moodle}
    assert [by_user[s]["00_starter"] for s in ("ana", "bob", "cleo", "dan")] == ["12", "8", "", ""]
    assert by_user["cleo"]["00_starter (feedback)"].startswith("not graded: starter.ipynb is not a notebook")
    assert by_user["ana"]["Email address"] == "ana@example.edu"

    report = run([calcgrade, "report", "00_starter"], course)
    html = (course / "reports" / "00_starter.html").read_text(encoding="utf-8")
    assert "reports/00_starter.html" in report.stdout
    assert "forgot_inner_derivative" in html and "not valid JSON" in html
# --- extras: what a student installs, and what each extra adds ----------------------------------------------------
def _requires(wheel: Path) -> dict[str, set[str]]:
    """extra ("" for the base install) -> the distributions the wheel's metadata requires for it."""
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    out: dict[str, set[str]] = {}
    for line in meta.splitlines():
        if not line.startswith("Requires-Dist: "):
            continue
        spec, _, marker = line[len("Requires-Dist: "):].partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        name = re.split(r"[\s<>=!~\[(]", spec.strip(), maxsplit=1)[0].lower()
        if "[" in spec:  # a self-reference: calcgrade[cluster,course,postgres], its extras sorted
            name += "[" + ",".join(sorted(spec.split("[", 1)[1].split("]", 1)[0].split(","))) + "]"
        out.setdefault(extra.group(1) if extra else "", set()).add(name)
    return out


def test_a_student_install_has_no_instructor_cluster_or_database_parts(installed):
    requires = _requires(installed[2])
    assert requires[""] == {"sympy", "mpmath", "numpy", "matplotlib", "ipykernel"}
    assert {"nbgrader", "jupyterlab", "nbclient", "nbformat", "latex2mathml"} <= requires["course"]
    assert requires["cluster"] == {"distributed"} and requires["postgres"] == {"psycopg2-binary"}
    assert "calcgrade[cluster,course,postgres]" in requires["test"] and "hypothesis" in requires["test"]


# Run in a fresh interpreter where the modules of the named extras cannot be imported, as on a machine
# where they were never installed (find_spec says "absent", an import fails like a missing module).
_WITHOUT = r"""
import importlib.abc, sys
from grader.core.extras import EXTRAS
BLOCKED = {m for extra in sys.argv[1].split(",") for m in EXTRAS[extra]}
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Absent())
"""


def _without(extras: str, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _WITHOUT + code, extras], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


def test_check_hints_and_plots_work_with_the_student_install_alone():
    code = r"""
import sympy as sp
import grader
from grader.notebook import check, hints, plots, display
x = sp.Symbol("x")
print(grader.compare(2 * sp.sin(x) * sp.cos(x), sp.sin(2 * x)).correct)
print(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
"""
    proc = _without("course,cluster,postgres", code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["True", "[]"]


@pytest.mark.parametrize("argv, extra, module", [
    (["autograde", "00_starter"], "course", "nbgrader"),
    (["key"], "course", "nbgrader"),
    (["check", "exercises"], "course", "nbgrader"),
])
def test_a_command_without_its_extra_says_which_to_install(argv, extra, module):
    proc = _without(extra, f"from grader.cli import main\nsys.exit(main({argv!r}))")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"calcgrade {argv[0]}: this command needs calcgrade's [{extra}] extra "
                                   f"({module} is not installed): pip install 'calcgrade[{extra}]'")


def test_the_cluster_and_postgres_parts_name_their_extras(tmp_path):
    proc = _without("cluster", "from grader.cli import main\nsys.exit(main(['autograde', 'a', '--scheduler', "
                               "'tcp://127.0.0.1:1']))")
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "calcgrade autograde: grading on a Dask cluster (--scheduler) needs calcgrade's [cluster] extra "
        "(distributed is not installed): pip install 'calcgrade[cluster]'")
    proc = _without("cluster", "import grader.course.sandbox.cluster")
    assert proc.stderr.strip().splitlines()[-1] == (
        "grader.core.extras.MissingExtra: grading on a Dask cluster needs calcgrade's [cluster] extra "
        "(distributed is not installed): pip install 'calcgrade[cluster]'")
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n"
                                                 "c.CourseDirectory.db_url = 'postgresql://u@127.0.0.1:1/db'\n")
    (tmp_path / "solutions" / "a1").mkdir(parents=True)
    (tmp_path / "solutions" / "a1" / "n.ipynb").write_text("{}")
    proc = _without("postgres", f"from grader.cli import main\nsys.exit(main(['report', '--course-root', "
                                f"{str(tmp_path)!r}]))")
    assert "Traceback" not in proc.stderr and proc.returncode != 0
    assert proc.stderr.strip().endswith("(psycopg2 is not installed): pip install 'calcgrade[postgres]'"), proc.stderr


def test_the_readme_installs_what_each_journey_needs():
    """The demo installs the instructor's extra, the tests every extra; CI runs the README's test command."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo = next(line for line in readme.splitlines() if line.endswith("calcgrade demo") and "pip install" in line)
    tests = next(line for line in readme.splitlines() if "pip install" in line and line.endswith("-m pytest"))
    assert "pip install -q -e '.[course]'" in demo
    assert "pip install -q -e '.[test]'" in tests
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ci[-1] == tests
