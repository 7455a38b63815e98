"""The course itself: every assignment in solutions/ and its release in exercises/.

What is checked, for every ``solutions/<assignment>/`` found (so new assignments are covered
without touching this file):

* the solution notebook, executed as nbgrader's autograder would, earns full marks on every question;
* the committed release, executed unchanged, earns 0 and shows no error output at all;
* ``exercises/`` is exactly what ``nbgrader generate_assignment`` makes from ``solutions/`` now, and the
  committed public key is what ``calcgrade key`` builds now (so an edited solution that was not
  released again fails here);
* every named mistake of every question, put in place of the solution, gets its own message and
  loses the points;
* every question declares question tests (another correct form and each named mistake) and hint tiers,
  and each test answer gets its declared verdict from both keys;
* the real ``nbgrader validate`` passes on the solutions, and ``--invert`` on the releases;
* every formula in the markdown parses (matplotlib's mathtext, stricter than MathJax).

All work happens in one temporary copy of the course, built once per module: releases are rebuilt there, the
keys are those ``calcgrade key`` built once per test run (conftest's ``course_keys``, also read by
test_key_parity.py), and each notebook is executed once and shared by the tests that read it.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest

import course_support

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
PUBLIC_KEY = "calcgrade_public.json"
from grader.notebook.display import VERDICT_MIME  # what check() emits

ASSIGNMENTS = sorted(
    p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
) if SOLUTIONS.is_dir() else []

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


# --- reading the instructor notebooks -----------------------------------------------------------
@dataclass
class Question:
    """One graded question as the solution notebook declares it."""

    qid: str
    var: str                       # the answer variable the test cell checks
    points: float
    answer_cell: int               # index of the solution cell in the notebook
    test_cell: int                 # index of the locked test cell
    mistakes: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (source, message)


def _nbgrader(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_notebook(assignment: str) -> Path:
    (path,) = sorted((SOLUTIONS / assignment).glob("*.ipynb"))
    return path


def _question_call(source: str) -> ast.Call | None:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "question":
            return node
    return None


def questions_of(nb: nbformat.NotebookNode) -> list[Question]:
    """The questions of a solution notebook, with each named mistake's source text and message."""
    answers: dict[str, tuple[int, ast.Call, str]] = {}
    found: list[Question] = []
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            call = _question_call(cell.source)
            if call is not None:
                qid = ast.literal_eval(call.args[0])
                answers[qid] = (index, call, cell.source)
        elif meta.get("grade"):
            (stmt,) = ast.parse(cell.source).body
            call = stmt.value
            assert isinstance(call, ast.Call) and call.func.id == "check", cell.source
            qid = ast.literal_eval(call.args[0])
            var = ast.unparse(call.args[1])
            answer_index, qcall, source = answers[qid]
            mistakes: dict[str, tuple[str, str]] = {}
            for kw in qcall.keywords:
                if kw.arg == "mistakes":
                    assert isinstance(kw.value, ast.Dict)
                    for k, v in zip(kw.value.keys, kw.value.values):
                        assert isinstance(v, ast.Tuple) and len(v.elts) == 2
                        wrong = ast.get_source_segment(source, v.elts[0])
                        if any(kw.arg == "params" for kw in qcall.keywords):  # a variant question (docs/VARIANTS.md):
                            wrong = f"({wrong})(my)"                           # the mistake with the kernel's numbers
                        mistakes[ast.literal_eval(k)] = (wrong, ast.literal_eval(v.elts[1]))
            found.append(Question(qid, var, float(meta["points"]), answer_index, index, mistakes))
    return found


# --- the temporary course -----------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])  # nbgrader needs `alembic`
    env["PYTHONUNBUFFERED"] = "1"  # keep nbgrader's log lines and results in order
    env.pop("NBGRADER_EXECUTION", None)
    return env


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(args, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@dataclass
class Finished:
    """A finished command: exit status and its merged stdout/stderr."""

    returncode: int
    output: str


def _finish(proc: subprocess.Popen[str], timeout: float = 400) -> Finished:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        out += "\n(killed: timed out)"
    return Finished(proc.returncode, out)


@dataclass
class Verdict:
    """What one check cell reported: the machine-readable verdict and nbgrader's score."""

    qid: str
    correct: bool | None
    earned: float | None       # the float nbgrader reads (execute_result)
    misconception: str | None
    message: str
    errors: list[str]
    key: str | None = None     # which key graded it: "private" under nbgrader
    status: str | None = None
    points: float | None = None  # points earned, as the verdict JSON says


def verdict_of(cell: Any) -> Verdict:
    """Read a check cell's outputs: the verdict JSON, the float result, any error or stderr output."""
    data: dict[str, Any] = {}
    earned: float | None = None
    errors: list[str] = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            errors.append(f"{out.get('ename')}: {out.get('evalue')}")
        elif out.get("output_type") == "stream" and out.get("name") == "stderr":
            errors.append("stderr: " + out.get("text", ""))
        bundle = out.get("data", {})
        if VERDICT_MIME in bundle:
            raw = bundle[VERDICT_MIME]
            data = json.loads(raw) if isinstance(raw, str) else dict(raw)
        if out.get("output_type") == "execute_result" and "text/plain" in bundle:
            try:
                earned = float(bundle["text/plain"])
            except ValueError:
                pass
    return Verdict(
        qid=str(data.get("qid", "")),
        correct=data.get("correct"),
        earned=earned,
        misconception=data.get("misconception"),
        message=str(data.get("message", "")),
        errors=errors,
        key=data.get("key"),
        status=data.get("status"),
        points=data.get("points"),
    )


def execute(path: Path, *, public: bool = False) -> nbformat.NotebookNode:
    """Run a notebook in a real kernel as nbgrader's autograder does (private key, float scores),
    or as a student or self-learner does (``public``: the public key next to the notebook)."""
    from grader.course.kernelrun import run_notebook

    mode = "" if public else "autograde"
    return run_notebook(path, env={"NBGRADER_EXECUTION": mode, "CALCGRADE_RECORD": ""}, cell_timeout=60)


def mistakes_notebook(solution: Path, out: Path) -> dict[int, tuple[Question, str]]:
    """Write a notebook holding, for every named mistake, its answer cell and a copy of the test cell.

    The answer cell is the solution cell followed by ``<answer variable> = (<the mistake's source>)``,
    so one kernel run exercises every mistake of the assignment.  Returns test-cell index -> mistake.
    """
    nb = nbformat.read(str(solution), as_version=4)
    questions = {q.answer_cell: q for q in questions_of(nb)}
    tests = {q.test_cell for q in questions.values()}
    cells: list[Any] = []
    targets: dict[int, tuple[Question, str]] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or index in tests:
            continue
        if index not in questions:
            cells.append(cell)
            continue
        q = questions[index]
        for mistake, (wrong, _) in q.mistakes.items():
            answer = copy.deepcopy(cell)
            answer.source = f"{cell.source}\n{q.var} = (\n{wrong}\n)\n"
            test = copy.deepcopy(nb.cells[q.test_cell])
            answer.id, test.id = f"{cell.id}-{mistake}"[:64], f"{test.id}-{mistake}"[:64]
            cells.append(answer)
            targets[len(cells)] = (q, mistake)
            cells.append(test)
    nb.cells = cells
    nbformat.write(nb, str(out))
    return targets


class Course:
    """A temporary copy of the course: keys and releases rebuilt, every notebook run once.

    The slow steps overlap: key building and release generation run side by side; then the two
    ``nbgrader validate`` commands run in the background while the notebooks execute, two at a time.
    """

    def __init__(self, root: Path, keys: course_support.CourseKeys) -> None:
        self.root = root
        shutil.copytree(SOLUTIONS, root / "solutions")
        shutil.copy(ROOT / "nbgrader_config.py", root)
        # generated/ from the committed solutions (with the committed public key, compared separately), while
        # `calcgrade key` builds the keys (conftest's course_keys, shared with test_key_parity.py: run now, unless
        # another test of this run has already)
        release = _start([str(BIN / "nbgrader"), "generate_assignment", "*", "--force",
                          "--CourseDirectory.release_directory=generated"], root)
        self.key_run = Finished(*keys.finished())
        self.release_run = _finish(release)
        for a in ASSIGNMENTS:  # the keys where `calcgrade key` in this course would have written them
            keys.copy_into(root, a)
        if EXERCISES.is_dir():  # the committed release, run unchanged inside this course
            shutil.copytree(EXERCISES, root / "exercises")
        self._validate = {
            False: _start([str(BIN / "nbgrader"), "validate", *map(str, map(self.solution, ASSIGNMENTS))], root),
            True: _start([str(BIN / "nbgrader"), "validate", "--invert",
                          *[str(self.release(a)) for a in ASSIGNMENTS if self.release(a).is_file()]], root),
        }
        self._validated: dict[bool, Finished] = {}
        self.targets = {a: mistakes_notebook(self.solution(a), self.solution(a).with_name("mistakes.ipynb"))
                        for a in ASSIGNMENTS}
        pool = ThreadPoolExecutor(max_workers=2)
        self._runs: dict[tuple[str, str], Future[nbformat.NotebookNode]] = {}
        for a in ASSIGNMENTS:
            self._runs[a, "solution"] = pool.submit(execute, self.solution(a))
            if self.release(a).is_file():
                self._runs[a, "release"] = pool.submit(execute, self.release(a))
            self._runs[a, "mistakes"] = pool.submit(execute, self.solution(a).with_name("mistakes.ipynb"))
            self._runs[a, "mistakes/public"] = pool.submit(
                execute, self.solution(a).with_name("mistakes.ipynb"), public=True)
        pool.shutdown(wait=False)

    def solution(self, assignment: str) -> Path:
        return self.root / "solutions" / assignment / solution_notebook(assignment).name

    def release(self, assignment: str) -> Path:
        return self.root / "exercises" / assignment / solution_notebook(assignment).name

    def generated(self, assignment: str) -> Path:
        return self.root / "generated" / assignment / solution_notebook(assignment).name

    def executed(self, assignment: str, which: str) -> nbformat.NotebookNode:
        if (assignment, which) not in self._runs:
            pytest.fail(f"exercises/{assignment} is missing: run `nbgrader generate_assignment {assignment}`")
        return self._runs[assignment, which].result(timeout=600)

    def validation(self, path: Path, invert: bool) -> str:
        """The part of ``nbgrader validate``'s output about one notebook."""
        if invert not in self._validated:
            self._validated[invert] = _finish(self._validate[invert])
        output = self._validated[invert].output
        marker = f"Validating '{path}'"
        if marker not in output:
            pytest.fail(f"nbgrader validate did not report on {path}:\n{output[-4000:]}")
        section = output.split(marker, 1)[1]
        return section.split("Validating '", 1)[0]

    def close(self) -> None:
        for proc in self._validate.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        for future in self._runs.values():
            future.cancel()


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, course_keys: course_support.CourseKeys) -> Iterator[Course]:
    built = Course(tmp_path_factory.mktemp("course"), course_keys)
    yield built
    built.close()


def test_assignments_found() -> None:
    assert {"01_sums_products", "02_derivatives", "03_gradients"} <= set(ASSIGNMENTS)


# --- structure ----------------------------------------------------------------------------------
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_structure(assignment: str) -> None:
    """8-14 questions of 1-3 points, unique ids, every answer cell paired with one test cell."""
    nb = nbformat.read(str(solution_notebook(assignment)), as_version=4)
    ids = [_nbgrader(c).get("grade_id") for c in nb.cells]
    assert None not in ids and len(ids) == len(set(ids)), "every cell needs a unique grade_id"
    for cell in nb.cells:
        assert cell.get("outputs", []) == [], "committed notebooks carry no outputs"
    questions = questions_of(nb)
    assert 8 <= len(questions) <= 14
    assert len({q.qid for q in questions}) == len(questions)
    for q in questions:
        assert 1 <= q.points <= 3, q.qid
        assert q.mistakes, f"{q.qid}: every question declares at least one named mistake"
        assert _nbgrader(nb.cells[q.answer_cell])["grade_id"] == f"ans_{q.qid}"
        assert _nbgrader(nb.cells[q.test_cell])["grade_id"] == f"test_{q.qid}"
        assert _nbgrader(nb.cells[q.test_cell])["locked"] is True
        # the question text says why it matters in machine learning
        text = nb.cells[q.answer_cell - 1]
        assert text.cell_type == "markdown" and "why it matters" in text.source.lower(), q.qid
    grade_cells = [c for c in nb.cells if _nbgrader(c).get("grade")]
    assert len(grade_cells) == len(questions), "a grade cell without a question() call"


# --- solutions earn full marks --------------------------------------------------------------------
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks(course: Course, assignment: str) -> None:
    assert course.key_run.returncode == 0, course.key_run.output[-3000:]
    nb = course.executed(assignment, "solution")
    problems = []
    for q in questions_of(nb):
        v = verdict_of(nb.cells[q.test_cell])
        if v.errors or v.correct is not True or v.earned != q.points or v.key != "private" or v.qid != q.qid:
            problems.append(f"{q.qid}: correct={v.correct} earned={v.earned}/{q.points} "
                            f"{v.message!r} {v.errors}")
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not problems, "\n".join(problems)
    assert not errors, errors


# --- releases earn nothing, without errors --------------------------------------------------------
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_scores_zero_without_errors(course: Course, assignment: str) -> None:
    nb = course.executed(assignment, "release")
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells)
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    assert "calcgrade_run_error" not in nb.metadata
    solution = nbformat.read(str(solution_notebook(assignment)), as_version=4)
    for q in questions_of(solution):
        v = verdict_of(nb.cells[q.test_cell])
        assert v.earned == 0.0, (q.qid, v)
        assert v.status == "unanswered", (q.qid, v)
        assert not v.errors, (q.qid, v.errors)


# --- the committed release is current ------------------------------------------------------------
def _cells(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    nb = nbformat.read(str(path), as_version=4)
    return [(c.cell_type, c.source, _nbgrader(c)) for c in nb.cells]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_matches_generate_assignment(course: Course, assignment: str) -> None:
    run = course.release_run
    assert run.returncode == 0, run.output[-3000:]
    generated, committed = course.generated(assignment), EXERCISES / assignment / solution_notebook(assignment).name
    assert committed.is_file(), f"{committed} missing: run `nbgrader generate_assignment {assignment} --force`"
    assert _cells(committed) == _cells(generated), (
        f"exercises/{assignment} is stale: run `nbgrader generate_assignment {assignment} --force` and commit it")
    files = lambda d: sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())  # noqa: E731
    assert files(EXERCISES / assignment) == files(generated.parent)
    for name in files(generated.parent):
        if not name.endswith(".ipynb"):
            assert (EXERCISES / assignment / name).read_bytes() == (generated.parent / name).read_bytes(), name


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_public_key_is_current(course: Course, assignment: str) -> None:
    run = course.key_run
    assert run.returncode == 0, run.output[-3000:]
    rebuilt = course.root / "solutions" / assignment / PUBLIC_KEY
    committed = SOLUTIONS / assignment / PUBLIC_KEY
    assert committed.is_file(), f"run `calcgrade key {assignment}` and commit {PUBLIC_KEY}"
    assert json.loads(committed.read_text()) == json.loads(rebuilt.read_text()), (
        f"solutions/{assignment}/{PUBLIC_KEY} is stale: run `calcgrade key {assignment}` and commit it")


# --- named mistakes ------------------------------------------------------------------------------
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("key", ["private", "public"])
def test_named_mistakes_get_their_message(course: Course, assignment: str, key: str) -> None:
    """Graded by nbgrader (private key, the float it reads) and seen by a student (public key)."""
    nb = course.executed(assignment, "mistakes" if key == "private" else "mistakes/public")
    targets = course.targets[assignment]
    assert targets, "no named mistakes found"
    problems = []
    for index, (q, mistake) in targets.items():
        v = verdict_of(nb.cells[index])
        message = q.mistakes[mistake][1]
        earned = v.earned if key == "private" else v.points
        if (v.errors or v.key != key or v.status != "wrong" or v.misconception != mistake
                or message not in v.message or earned != 0.0):
            problems.append(f"{q.qid}/{mistake}: status={v.status} misconception={v.misconception} "
                            f"earned={earned} key={v.key} message={v.message!r} errors={v.errors}")
    assert not problems, "\n".join(problems)


# --- question tests and hints ---------------------------------------------------------------------
def _test_verdict_ok(verdict: Any, expect: bool | str, mistake_ids: set[str]) -> bool:
    """True when a verdict is what a question test declares: correct, wrong (and no named mistake), or that mistake."""
    if expect is True:
        return verdict.correct is True
    if expect is False:
        return verdict.correct is False and verdict.misconception not in mistake_ids
    return verdict.correct is False and verdict.misconception == expect


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_question_tests_get_their_verdict_from_both_keys(course: Course, assignment: str) -> None:
    """The release-time question tests, run here too: a slip in a reference or a mistake is caught."""
    from grader.key import files
    from grader.key.grading import grade

    assert course.key_run.returncode == 0, course.key_run.output[-3000:]
    private = files.load_key(files.private_key_path(course.root, assignment))["questions"]
    public = files.load_key(course.root / "solutions" / assignment / PUBLIC_KEY)["questions"]
    problems = []
    for qid, entry, public_entry in _every_variant(private, public):
        tests = entry.get("tests") or []
        mistake_ids = {m["id"] for m in entry.get("mistakes", [])}
        if not any(t["expect"] is True for t in tests):
            problems.append(f"{qid}: needs a correct answer in another form among its question tests")
        untested = mistake_ids - {t["expect"] for t in tests if isinstance(t["expect"], str)}
        if untested:
            problems.append(f"{qid}: named mistakes without a question test: {sorted(untested)}")
        for n, test in enumerate(tests):
            for which, key_entry in (("private", entry), ("public", public_entry)):
                verdict = grade(test["answer"], key_entry)
                if not _test_verdict_ok(verdict, test["expect"], mistake_ids):
                    problems.append(f"{qid} test {n} ({which} key): expected {test['expect']!r}, got "
                                    f"correct={verdict.correct} misconception={verdict.misconception} {verdict.message!r}")
    assert not problems, "\n".join(problems)


def _every_variant(private: dict[str, Any], public: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(qid, private entry, public entry) of every question, and of every variant of a variant question."""
    from grader.key import variants as kv

    out = []
    for qid, entry in sorted(private.items()):
        if not kv.is_variant(entry):
            out.append((qid, entry, public[qid]))
            continue
        for practice in (False, True):
            for index, _ in enumerate(kv.variants_of(entry, practice=practice)):
                out.append((f"{qid} (variant {index}{' of the practice pool' if practice else ''})",
                            kv.resolve(entry, index, practice=practice),
                            kv.resolve(public[qid], index, practice=practice)))
    return out


def _answer_texts(entry: dict[str, Any]) -> list[str]:
    """Readable forms of a reference answer (expressions and numbers) that a hint must not contain."""
    from grader.key.wire import from_wire

    if entry.get("kind") == "function":
        return []
    try:
        value = from_wire(entry["reference"])
    except Exception:
        return []
    import numpy as np

    values = list(np.ravel(np.asarray(value.tolist() if hasattr(value, "tolist") else value, dtype=object)))
    texts = []
    for v in values:
        text = str(v).replace(" ", "")
        if len(text) >= 6:  # short entries (a 0, an x**2) may legitimately appear in a worked step
            texts.append(text)
    return texts


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_question_has_hint_tiers_that_keep_the_answer(course: Course, assignment: str) -> None:
    from grader.key import files

    assert course.key_run.returncode == 0, course.key_run.output[-3000:]
    private = files.load_key(files.private_key_path(course.root, assignment))["questions"]
    public = files.load_key(course.root / "solutions" / assignment / PUBLIC_KEY)["questions"]
    problems = []
    for qid, entry in sorted(private.items()):
        hints = entry.get("hints") or []
        if len(hints) != 3 or len(set(hints)) != 3:
            problems.append(f"{qid}: {len(hints)} hints; three different tiers expected (a nudge, the rule, a worked step)")
        if public[qid].get("hints") != hints:
            problems.append(f"{qid}: the public key does not carry the hints")
        for name, variant, _ in _every_variant({qid: entry}, public):
            for text in _answer_texts(variant):
                if any(text in h.replace(" ", "") for h in hints):
                    problems.append(f"{name}: a hint contains the answer {text}")
    assert not problems, "\n".join(problems)


# --- nbgrader's own validation ------------------------------------------------------------------
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_validate_solution(course: Course, assignment: str) -> None:
    output = course.validation(course.solution(assignment), invert=False)
    assert "Success! Your notebook passes all the tests." in output, output[-4000:]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_validate_invert_release(course: Course, assignment: str) -> None:
    output = course.validation(course.release(assignment), invert=True)
    assert "Success! The notebook does not pass any tests." in output, output[-4000:]


# --- formulas ------------------------------------------------------------------------------------
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"\$([^$\n]+?)\$")


def formulas(markdown: str) -> list[str]:
    """Every $...$ and $$...$$ formula of a markdown text (code spans excluded)."""
    text = _CODE.sub(" ", markdown)
    found = [m.strip() for m in _DISPLAY.findall(text)]
    text = _DISPLAY.sub(" ", text)
    found += [m.strip() for m in _INLINE.findall(text)]
    rest = _INLINE.sub(" ", text)
    assert "$" not in rest, f"unbalanced $ in: {markdown[:200]!r}"
    return found


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_formula_renders(assignment: str) -> None:
    from matplotlib.mathtext import MathTextParser

    parser = MathTextParser("path")
    nb = nbformat.read(str(solution_notebook(assignment)), as_version=4)
    bad, count = [], 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for formula in formulas(cell.source):
            count += 1
            try:
                parser.parse(f"${' '.join(formula.split())}$")
            except Exception as exc:  # mathtext raises ValueError with a caret diagram
                bad.append(f"{formula!r}: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    assert count > 0
    assert not bad, "\n".join(bad)


def test_formula_checker_rejects_broken_latex() -> None:
    from matplotlib.mathtext import MathTextParser

    parser = MathTextParser("path")
    assert formulas(r"a $\frac{1}{2}$ and $$\sum_{i=1}^{n} i$$ but `$x$` is code") == [r"\sum_{i=1}^{n} i", r"\frac{1}{2}"]
    for broken in (r"\frac{1}{", r"\begin{pmatrix}1\end{pmatrix}", r"\notacommand x"):
        with pytest.raises(Exception):
            parser.parse(f"${broken}$")
