"""`calcgrade key`: the build refuses broken solutions with clear reasons; the CLI writes and checks keys."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from fixtures import make_course

from grader.cli import main as cli
from grader.course.release.keybuild import KeyBuildError, build_keys

pytestmark = pytest.mark.slow


def _course(tmp: Path, cells: list[nbformat.NotebookNode]) -> Path:
    folder = tmp / "solutions" / "bad"
    folder.mkdir(parents=True)
    (tmp / "nbgrader_config.py").write_text("c = get_config()  # noqa\n")
    nb = nbformat.v4.new_notebook(cells=cells)
    nbformat.write(nb, str(folder / "bad.ipynb"))
    return tmp


def test_a_broken_solution_notebook_is_refused_with_every_reason(tmp_path):
    cells = [
        nbformat.v4.new_code_cell("import sympy as sp\nfrom grader import check, question\nx = sp.Symbol('x')"),
        # the solution's own answer is wrong for its test cell
        make_course.answer("wrong_own", "a = ...", "a = x**2\nquestion('wrong_own', 2*x)"),
        make_course.test("wrong_own", "a", 1),
        # declared twice
        make_course.answer("twice", "b = ...", "b = 1\nquestion('twice', 1)\nquestion('twice', 1)"),
        make_course.test("twice", "b", 1),
        # no test cell
        make_course.answer("untested", "c = ...", "c = 3\nquestion('untested', 3)"),
        # a test cell without question()
        make_course.test("undeclared", "c", 1),
    ]
    root = _course(tmp_path, cells)
    with pytest.raises(KeyBuildError) as info:
        build_keys(root, "bad")
    text = str(info.value)
    assert "question 'twice' is declared more than once" in text
    assert "question 'untested' has no graded test cell" in text
    assert "test cell checks 'undeclared', but no solution cell calls question('undeclared', ...)" in text
    assert not (root / ".calcgrade").exists() and not (root / "solutions" / "bad" / "calcgrade_public.json").exists()
    # once the structure is right, the wrong solution answer itself is reported
    cells = cells[:3]
    shutil.rmtree(root / "solutions")
    root = _course(tmp_path, cells)
    with pytest.raises(KeyBuildError) as info:
        build_keys(root, "bad")
    assert "question 'wrong_own': the solution's own answer is not accepted by the private key" in str(info.value)
    assert cli(["key", "bad", "--course-root", str(root)]) == 1


def test_cli_writes_both_keys_and_check_detects_a_stale_public_key(tmp_path, capsys):
    root = tmp_path / "course"
    shutil.copytree(make_course.COURSE, root, ignore=shutil.ignore_patterns(".calcgrade", "calcgrade_public.json"))
    assert cli(["key", "--course-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "fx_basics: 8 questions, 12 points" in out
    public = root / "solutions" / "fx_basics" / "calcgrade_public.json"
    private = root / ".calcgrade" / "keys" / "fx_basics.json"
    assert public.is_file() and private.is_file()
    assert '"reference"' in private.read_text() and '"reference"' not in public.read_text()
    public.write_text(public.read_text().replace('"points": 2.0', '"points": 3.0', 1))
    assert cli(["key", "fx_basics", "--course-root", str(root), "--check"]) == 1
    assert "is out of date" in capsys.readouterr().err
