"""The instructor's tools that need no kernel: finding the course folder, `calcgrade --version`,
`calcgrade init`, the exchange folder, the release's structural check, progress in a log."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import nbformat
import pytest

from fixtures import make_course

from grader.cli import main as cli
from grader.course import coursedir
from grader.course.release import exchange
from grader.course.release import releasecheck
from grader.course.release import init as course_init
from grader.course.progress import Progress

ROOT = Path(__file__).resolve().parent.parent


def _course(tmp: Path, course_id: str | None = "fx-course") -> Path:
    root = tmp / "course"
    shutil.copytree(make_course.COURSE, root, ignore=shutil.ignore_patterns(".calcgrade", "calcgrade_public.json"))
    if course_id:
        with open(root / "nbgrader_config.py", "a", encoding="utf-8") as fh:
            fh.write(f"c.CourseDirectory.course_id = {course_id!r}\n"
                     "import os\nc.Exchange.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'exchange')\n")
    return root


# --------------------------------------------------------------------------- the course folder


def test_the_course_is_the_nearest_folder_with_nbgrader_config_at_or_above_the_start(tmp_path):
    root = _course(tmp_path)
    deep = root / "solutions" / "fx_basics"
    assert coursedir.find_course_root(start=deep) == root.resolve()
    assert coursedir.find_course_root(start=root) == root.resolve()
    assert coursedir.find_course_root(root / "solutions" / ".." ) == root.resolve()


def test_no_course_is_a_clear_error_never_the_package_location(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(coursedir.CourseNotFound) as info:
        coursedir.find_course_root(start=empty)
    assert info.value.message.startswith(f"no course found: neither {empty.resolve()} nor a folder above it holds "
                                         "nbgrader_config.py")
    assert "--course-root DIR" in info.value.message and "calcgrade init DIR" in info.value.message
    with pytest.raises(coursedir.CourseNotFound) as info:
        coursedir.find_course_root(empty)
    assert info.value.message == (f"no course at {empty.resolve()}: it has no nbgrader_config.py "
                                  f"(`calcgrade init {empty.resolve()}` writes a fresh course there)")


@pytest.mark.parametrize("command", [["release", "fx_basics"], ["validate"], ["key"]])
def test_commands_outside_a_course_say_so_in_one_sentence(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    assert cli(command) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().startswith(f"calcgrade {command[0]}: no course found: neither {tmp_path.resolve()}")
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert not list(tmp_path.iterdir())  # nothing was written


@pytest.mark.parametrize("command", [["autograde", "fx_basicz"], ["release", "fx_basicz"], ["key", "fx_basicz"],
                                     ["validate", "fx_basicz"], ["report", "fx_basicz"],
                                     ["demo", "--assignments", "fx_basicz", "--course-root", "."]])
def test_a_misspelt_assignment_names_the_ones_that_exist_in_one_sentence(tmp_path, monkeypatch, capsys, command):
    root = _course(tmp_path)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    monkeypatch.chdir(root / "solutions")
    if command[0] == "demo":
        command = command[:-1] + [str(root)]
    assert cli(command) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"calcgrade {command[0]}: no assignment 'fx_basicz' in the course at {root.resolve()}: "
                           "did you mean fx_basics? (assignments: fx_basics)")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing was written


def test_a_missing_path_to_check_names_what_is_there(tmp_path, capsys):
    root = _course(tmp_path)
    assert cli(["check", str(root / "solutions" / "fx_basicz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"calcgrade check: {root / 'solutions' / 'fx_basicz'}: no such file or folder: did you mean "
                   f"{root / 'solutions' / 'fx_basics'}? ({root / 'solutions'} holds fx_basics)")


def test_stock_nbgrader_steps_find_the_course_or_say_where_they_looked(tmp_path):
    """nbgrader_steps.course_root_of: the config's root, else the course above the notebook, else an error
    naming where it looked, never a guess."""
    from traitlets.config import Config

    from grader.course.grading.nbgrader_steps import course_root_of

    root = _course(tmp_path)
    config = Config()
    config.CourseDirectory.root = str(root)
    assert course_root_of(config, {"metadata": {"path": str(tmp_path)}}) == root.resolve()
    graded = root / "autograded" / "ana" / "fx_basics"
    graded.mkdir(parents=True)
    assert course_root_of(Config(), {"metadata": {"path": str(graded)}}) == root.resolve()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(coursedir.CourseNotFound, match=f"neither {outside.resolve()} nor a folder above it"):
        course_root_of(Config(), {"metadata": {"path": str(outside)}})


@pytest.mark.slow
def test_commands_work_on_the_course_of_the_current_folder_not_the_checkout(tmp_path, monkeypatch, capsys):
    root = _course(tmp_path)
    checkout_keys = sorted((ROOT / ".calcgrade" / "keys").glob("*")) if (ROOT / ".calcgrade").exists() else []
    monkeypatch.chdir(root / "solutions")
    assert coursedir.find_course_root() == root.resolve()
    assert cli(["key", "--check"]) == 1  # fx_basics has no public key yet: found in *this* course
    err = capsys.readouterr().err
    assert "fx_basics: the public key" in err and str(root / "solutions" / "fx_basics") in err
    # progress in a log (pytest's capture is not a terminal): one line per solution notebook, no redrawing
    assert err.splitlines()[0].startswith("fx_basics: solution notebook 1 run (") and "\r" not in err
    after = sorted((ROOT / ".calcgrade" / "keys").glob("*")) if (ROOT / ".calcgrade").exists() else []
    assert after == checkout_keys


def test_version_is_the_installed_distribution():
    script = Path(sys.executable).parent / "calcgrade"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"calcgrade {version('calcgrade')}"


# --------------------------------------------------------------------------- calcgrade init


def test_init_writes_a_fresh_course_that_commands_find(tmp_path, capsys):
    target = tmp_path / "my-course"
    assert cli(["init", str(target), "--course-id", "calc-2027"]) == 0
    out = capsys.readouterr().out
    source = course_init.bundled_course()
    assert source is not None
    names = sorted(d.name for d in (source / "solutions").iterdir() if d.is_dir())
    assert out.startswith(f"✓ a fresh course in {target.resolve()}: nbgrader_config.py and solutions/ "
                          f"({len(names)} assignment{'s' * (len(names) != 1)}: {', '.join(names)})")
    for name in names:
        for nb in (source / "solutions" / name).glob("*.ipynb"):
            assert (target / "solutions" / name / nb.name).read_bytes() == nb.read_bytes()
    assert coursedir.find_course_root(start=target / "solutions") == target.resolve()
    assert coursedir.course_id(target) == "calc-2027"
    assert "gradebook.db" in (target / ".gitignore").read_text() and "exchange/" in (target / ".gitignore").read_text()
    assert not (target / "exercises").exists() and not (target / ".calcgrade").exists()


def test_init_refuses_a_folder_that_is_not_empty_and_touches_nothing(tmp_path, capsys):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    assert cli(["init", str(target)]) == 2
    assert capsys.readouterr().err.strip() == f"calcgrade init: {target.resolve()} is not empty: give a new or empty folder"
    assert [p.name for p in target.iterdir()] == ["notes.txt"] and (target / "notes.txt").read_text() == "mine"


def test_demo_uses_the_course_here_else_the_one_calcgrade_carries(tmp_path, monkeypatch):
    from grader.course.demo import run as demo

    root = _course(tmp_path)
    monkeypatch.chdir(root)
    assert demo.demo_source() == (root.resolve(), "the course here")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    source, origin = demo.demo_source()
    assert origin == "the course calcgrade carries" and source == course_init.bundled_course()


# --------------------------------------------------------------------------- the exchange


def test_the_exchange_gets_nbgraders_permissions(tmp_path):
    root = _course(tmp_path)
    course = exchange.ensure_exchange(root)
    assert course == root / "exchange" / "fx-course"
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(root / "exchange") == 0o777
    assert mode(course) == 0o755 and mode(course / "outbound") == 0o755
    assert mode(course / "inbound") == stat.S_ISGID | 0o733
    assert "c.Exchange.root = " + repr(str(root / "exchange")) in exchange.student_config(root)
    assert "c.CourseDirectory.course_id = 'fx-course'" in exchange.student_config(root)


def test_a_course_without_an_id_cannot_use_the_exchange(tmp_path):
    root = _course(tmp_path, course_id=None)
    with pytest.raises(exchange.ExchangeError) as info:
        exchange.ensure_exchange(root)
    assert str(info.value) == (f"{root / 'nbgrader_config.py'} sets no c.CourseDirectory.course_id, "
                               "which nbgrader's exchange needs")


def test_the_course_config_names_an_exchange_inside_the_course():
    assert coursedir.exchange_root(ROOT) == ROOT / "exchange"
    assert coursedir.course_id(ROOT) == "calculus-for-ml"


# --------------------------------------------------------------------------- structural check of a release


def _notebook(tmp: Path, cells: list) -> Path:
    path = tmp / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(path))
    return path


def test_solution_regions_are_checked_cell_by_cell_with_the_question_named(tmp_path):
    ok = make_course.answer("fine", "a = ...", "a = 1\nquestion('fine', 1)")
    no_end = make_course.answer("chain_rule", "d = ...", "d = 1\nquestion('chain_rule', 1)")
    no_end.source = no_end.source.replace("### END SOLUTION", "")
    nested = make_course.answer("nested", "b = ...", "### BEGIN SOLUTION\nb = 2\nquestion('nested', 2)")
    stray_end = nbformat.v4.new_code_cell("c = 3\n### END SOLUTION", metadata=make_course._meta(
        solution=True, grade_id="ans_stray"))
    outside = nbformat.v4.new_code_cell("### BEGIN SOLUTION\ne = 1\n### END SOLUTION")
    twin = make_course.test("fine", "a", 1)
    twin.metadata["nbgrader"]["grade_id"] = "ans_fine"
    path = _notebook(tmp_path, [ok, no_end, nested, stray_end, outside, twin])
    problems = releasecheck.notebook_problems(path, "demo_a")
    assert problems == [
        "demo_a/nb.ipynb, cell 2 (ans_chain_rule, question chain_rule): `### BEGIN SOLUTION` has no matching "
        "`### END SOLUTION`",
        "demo_a/nb.ipynb, cell 3 (ans_nested, question nested): a second `### BEGIN SOLUTION` before the "
        "`### END SOLUTION` of the first",
        "demo_a/nb.ipynb, cell 4 (ans_stray): `### END SOLUTION` without a `### BEGIN SOLUTION` above it",
        "demo_a/nb.ipynb, cell 5: a `### BEGIN SOLUTION` region in a cell that is not marked as a solution cell "
        "(nbgrader would release it unchanged)",
        "demo_a/nb.ipynb, cell 6 (ans_fine, question fine): grade id 'ans_fine' is also used by cell 1",
    ]
    assert releasecheck.first_sentence(problems).endswith("(and 4 more problems; -v lists them)")


def test_the_committed_solutions_pass_the_structural_check():
    for assignment in ["01_sums_products", "02_derivatives", "03_gradients", "04_integrals", "05_gradient_descent"]:
        assert releasecheck.assignment_problems(ROOT, assignment) == [], assignment


def test_nbgraders_own_refusal_is_read_from_its_log():
    log = ("[GenerateAssignment | ERROR] There was an error processing assignment\nTraceback (most recent call last):\n"
           '  File "x.py", line 1\nnbgrader.nbgraderformat.common.ValidationError: Markdown grade cell \'intro\' '
           "is not marked as a solution cell\n[GenerateAssignment | ERROR] Notebook failed to validate\n"
           "ValidationError: Notebook failed to validate; the nbgrader metadata may be corrupted.")
    assert releasecheck.summarise_nbgrader_log(log, "fallback") == \
        "Markdown grade cell 'intro' is not marked as a solution cell"
    assert releasecheck.summarise_nbgrader_log("[Foo | ERROR] it broke", "fallback") == "it broke"
    assert releasecheck.summarise_nbgrader_log("", "fallback") == "fallback"


def _released(tmp: Path, cells: list, metadata: dict | None = None) -> Path:
    folder = tmp / "exercises" / "a1"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=cells, metadata=metadata or {})
    nbformat.write(nb, str(folder / "nb.ipynb"))
    return folder


def test_prose_about_solutions_is_not_answer_bearing(tmp_path):
    """The starter explains `question(...)` and `### BEGIN SOLUTION` in Markdown: that is no leak."""
    prose = nbformat.v4.new_markdown_cell("Declare with `question(qid, reference)` inside\n`### BEGIN SOLUTION`.")
    code = nbformat.v4.new_code_cell("from grader import check, question\n# question(...) is in the solutions\n"
                                     "s = 'question(1)'\nd = ...")
    _released(tmp_path, [prose, code])
    (tmp_path / "exercises" / "a1" / "calcgrade_public.json").write_text('{"questions": {"q": {"seed": 1}}}')
    assert releasecheck.answer_bearing_files(tmp_path) == []


def test_real_solution_code_is_named_by_file_and_cell(tmp_path):
    declared = nbformat.v4.new_code_cell("d = 2*x\nquestion('chain', d)", metadata=make_course._meta(
        solution=True, grade_id="ans_chain"))
    region = nbformat.v4.new_code_cell("e = ...\n### BEGIN SOLUTION\ne = 1\n### END SOLUTION")
    shown = nbformat.v4.new_code_cell("f = ...", outputs=[nbformat.v4.new_output(
        "execute_result", data={"text/plain": "2*x"}, execution_count=1)])
    meta = nbformat.v4.new_code_cell("g = ...", metadata={"calcgrade": {"reference": "2*x"}})
    magic = nbformat.v4.new_code_cell("%time h = 1\ngrader.question('h', 1)")
    folder = _released(tmp_path, [declared, region, shown, meta, magic])
    (folder / "calcgrade_public.json").write_text('{"questions": {"q": {"reference": "2*x"}}}')
    (folder / "copy.json").write_text('{"format": "calcgrade-private-key/1", "questions": {}}')
    (folder / "data.csv").write_text("1,2\n")
    found = releasecheck.answer_bearing_files(tmp_path)
    assert found == [
        "exercises/a1/calcgrade_public.json: the public key holds a reference answer",
        "exercises/a1/copy.json: a key file holds a reference answer",
        "exercises/a1/data.csv: not a notebook or the public key",
        "exercises/a1/nb.ipynb, cell 1 (ans_chain): line 2 declares a question (`question(...)` holds the reference)",
        "exercises/a1/nb.ipynb, cell 2: a `### BEGIN SOLUTION` line (the solution region was not removed)",
        "exercises/a1/nb.ipynb, cell 3: an output kept from running the solutions (a release clears them)",
        "exercises/a1/nb.ipynb, cell 4: the cell's metadata holds a reference answer",
        "exercises/a1/nb.ipynb, cell 5: line 2 declares a question (`question(...)` holds the reference)",
    ]


def test_the_key_is_stale_after_what_changes_grades_not_after_prose(tmp_path):
    from grader.course.release.keybuild import solutions_digest

    root = _course(tmp_path)
    path = root / "solutions" / "fx_basics" / "basics.ipynb"
    before = solutions_digest(root, "fx_basics")

    def edit(change) -> str:
        nb = nbformat.read(str(path), as_version=4)
        change(nb)
        nbformat.write(nb, str(path))
        return solutions_digest(root, "fx_basics")

    def prose(nb):
        md = [c for c in nb.cells if c.cell_type == "markdown"]
        md[0].source += " (a typo fixed)"
        nb.cells.append(nbformat.v4.new_markdown_cell("A new remark."))
    assert edit(prose) == before  # prose: a release stays valid
    (root / "solutions" / "fx_basics" / "calcgrade_public.json").write_text("{}")  # the key build's own output
    assert solutions_digest(root, "fx_basics") == before

    def points(nb):
        next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")).metadata["nbgrader"]["points"] += 1
    assert edit(points) != before
    after_points = solutions_digest(root, "fx_basics")

    def declaration(nb):
        cell = next(c for c in nb.cells if "question(" in c.source)
        cell.source = cell.source.replace("question(", "question(  ", 1)
    assert edit(declaration) != after_points
    after_declaration = solutions_digest(root, "fx_basics")
    (root / "solutions" / "fx_basics" / "helpers.py").write_text("SCALE = 2\n")  # a module the solutions import
    assert solutions_digest(root, "fx_basics") != after_declaration


def test_student_setup_names_the_exchange_and_hides_the_instructor_parts(tmp_path, capsys):
    root = _course(tmp_path)
    config = tmp_path / "student" / ".jupyter"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text('{"disabledExtensions": {"other:plugin": true}}')
    assert cli(["student-setup", "--course-root", str(root), "--config-dir", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"✓ Jupyter in {config} is set up for the course fx-course")
    text = (config / "nbgrader_config.py").read_text()
    assert f"c.Exchange.root = {str(root / 'exchange')!r}" in text and "c.CourseDirectory.course_id = 'fx-course'" in text
    import json

    page = json.loads((config / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {"other:plugin": True, "@jupyter/nbgrader:formgrader": True,
                                         "@jupyter/nbgrader:create-assignment": True,
                                         "@jupyter/nbgrader:course-list": True}  # the student's own setting kept
    assert set(page["lockedExtensions"]) == set(page["disabledExtensions"]) - {"other:plugin"}
    server = json.loads((config / "jupyter_server_config.json").read_text())
    assert server == {"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": False,
                                                            "nbgrader.server_extensions.course_list": False}}}
    # run again: the same files; someone else's nbgrader_config.py is never overwritten
    assert cli(["student-setup", "--exchange", "/srv/ex", "--course-id", "c2", "--config-dir", str(config)]) == 0
    assert "'/srv/ex'" in (config / "nbgrader_config.py").read_text()
    (config / "nbgrader_config.py").write_text("c = get_config()\nc.Exchange.root = '/mine'\n")
    capsys.readouterr()
    assert cli(["student-setup", "--exchange", "/srv/ex", "--course-id", "c2", "--config-dir", str(config)]) == 2
    err = capsys.readouterr().err
    assert "nbgrader_config.py exists and was not written by calcgrade" in err and "Traceback" not in err
    assert "'/mine'" in (config / "nbgrader_config.py").read_text()


# --------------------------------------------------------------------------- progress in a log


def test_progress_prints_one_line_per_step_when_not_a_terminal():
    out = io.StringIO()
    with Progress(3, desc="autograde", unit="submission", file=out) as bar:
        for name in ["a", "b", "c"]:
            bar.set_postfix_str(f"02_derivatives/{name}", refresh=False)
            bar.update(1)
    assert out.getvalue().splitlines() == [
        "autograde: 1/3 submissions 02_derivatives/a",
        "autograde: 2/3 submissions 02_derivatives/b",
        "autograde: 3/3 submissions 02_derivatives/c",
    ]
    assert "\r" not in out.getvalue()


def test_progress_on_a_terminal_is_a_live_bar():
    out = io.StringIO()
    with Progress(2, desc="key", unit="cell", file=out, terminal=True) as bar:
        bar.update(2)
    assert "\r" in out.getvalue() and "2/2" in out.getvalue()
