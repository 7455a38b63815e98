"""A deterministic sample class: realistic submissions for every assignment.

Why generated, not hand-edited: every submission is derived from the released
notebook (what a student really receives) and the instructor's solution
notebook, by one rule per student profile.  When a question changes, the sample
class changes with it, and the expected score of every student on every
question is derived by the same rules, so a test can assert the whole table.

Profiles (one student each, per assignment):

=====================  ==========================================================
perfect                every answer as in the solution
mistakes_a, _b, ...    the first (second, ...) named mistake of every question that
                       has one; other questions right.  Together they cover every
                       named mistake of the assignment
partial                the first half of the questions right, the rest untouched
second_half            the first half untouched, the rest right
blank                  the released notebook, unchanged
tenth_percent_off      right, except one answer scaled by 1.001 (a 0.1 % error)
locked_cell_edit       answers untouched, every test cell replaced by a large score
infinite_loop          right, except one answer cell that never ends
kernel_crash           right up to one answer cell that kills its own kernel
invalid_json           a file that is not a notebook at all (truncated JSON)
monkeypatch            answers untouched, ``check`` replaced by a fake that "passes"
copies_perfect         every answer of ``perfect``, numbers included: right for perfect's
                       variants, so every variant question with other numbers scores 0
                       (the report flags the copy); only with variant questions
=====================  ==========================================================
"""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import nbformat

from grader.key.testcell import call_name

SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"



@dataclass(frozen=True)
class Question:
    """One graded question as it appears in a notebook."""

    qid: str
    variable: str  # the name the test cell passes to check()
    points: float
    answer_cell: int  # index of the answer cell in the notebook
    test_cell: int
    mistakes: tuple[tuple[str, str], ...]  # (mistake id, source text of the wrong answer)
    kind: str | None = None  # as declared in question(kind=...), when given literally


@dataclass
class Submission:
    """One student's submitted notebook and what it should score."""

    student: str
    assignment: str
    notebook: str  # file name, e.g. derivatives.ipynb
    content: str  # the file's bytes as text (not always valid JSON)
    expected: dict[str, float]  # question id -> points a correct grader gives
    nbgrader_expected: dict[str, float] = field(default_factory=dict)  # what nbgrader's own grading would give
    description: str = ""
    points: dict[str, float] = field(default_factory=dict)  # question id -> maximum points


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _check_call(source: str) -> tuple[str, str] | None:
    """(question id, answer variable) of the ``check(...)`` call in a test cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if call_name(node) == "check" and isinstance(node, ast.Call) and len(node.args) >= 2:
            qid, value = node.args[0], node.args[1]
            if not (isinstance(qid, ast.Constant) and isinstance(qid.value, str)):
                continue
            if isinstance(value, ast.Name):
                return qid.value, value.id
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                return qid.value, value.value
    return None


def _question_calls(source: str) -> list[ast.Call]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and call_name(n) == "question"]


def _mistakes_of(call: ast.Call, source: str) -> tuple[tuple[str, str], ...]:
    for kw in call.keywords:
        if kw.arg == "mistakes" and isinstance(kw.value, ast.Dict):
            found = []
            for key, value in zip(kw.value.keys, kw.value.values):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    continue
                wrong = value.elts[0] if isinstance(value, ast.Tuple) and value.elts else value
                text = ast.get_source_segment(source, wrong)
                if text and any(k.arg == "params" for k in call.keywords):  # a variant question: the mistake
                    text = f"({text})(my)"                                   # made with one's own numbers
                if text:
                    found.append((key.value, " ".join(text.split("\n")).strip()))
            return tuple(found)
    return ()


def _kind_of(call: ast.Call) -> str | None:
    for kw in call.keywords:
        if kw.arg == "kind" and isinstance(kw.value, ast.Constant):
            return str(kw.value.value)
    return None


def questions_of(solution: nbformat.NotebookNode) -> list[Question]:
    """The graded questions of a solution notebook, in notebook order."""
    tests: dict[str, tuple[int, str, float]] = {}
    for i, cell in enumerate(solution.cells):
        meta = _nbgrader(cell)
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            found = _check_call(cell.source)
            if found:
                tests[found[0]] = (i, found[1], float(meta.get("points", 0)))
    questions = []
    for i, cell in enumerate(solution.cells):
        meta = _nbgrader(cell)
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        for call in _question_calls(cell.source):
            if not call.args or not isinstance(call.args[0], ast.Constant):
                continue
            qid = str(call.args[0].value)
            if qid not in tests:
                continue
            test_index, variable, points = tests[qid]
            questions.append(
                Question(
                    qid=qid,
                    variable=variable,
                    points=points,
                    answer_cell=i,
                    test_cell=test_index,
                    mistakes=_mistakes_of(call, cell.source),
                    kind=_kind_of(call),
                )
            )
    questions.sort(key=lambda q: q.test_cell)
    return questions


def student_answer_source(solution_source: str) -> str:
    """The solution cell as a student who got it right would have written it.

    The solution markers go, and so do the instructor's ``question(...)``
    declarations (students never see them); the stub line stays, as it would.
    """
    lines = solution_source.splitlines()
    drop: set[int] = set()
    try:
        tree = ast.parse(solution_source)
    except SyntaxError:
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Expr) and call_name(node.value) == "question":
                drop.update(range(node.lineno - 1, (node.end_lineno or node.lineno)))
    kept = [
        line
        for n, line in enumerate(lines)
        if n not in drop and line.strip() not in (SOLUTION_BEGIN, SOLUTION_END)
    ]
    return "\n".join(kept).rstrip() + "\n"


def _set_source(nb: nbformat.NotebookNode, index: int, source: str) -> None:
    nb.cells[index].source = source


def _answer_cells_in_order(questions: list[Question]) -> list[int]:
    seen: list[int] = []
    for q in questions:
        if q.answer_cell not in seen:
            seen.append(q.answer_cell)
    return seen


def _profile_notebooks(
    solution: nbformat.NotebookNode,
    release: nbformat.NotebookNode,
    questions: list[Question],
    key: dict | None = None,
) -> Iterable[tuple[str, str, nbformat.NotebookNode | str, dict[str, float], dict[str, float]]]:
    """Yield (profile, description, notebook or raw text, expected, nbgrader_expected)."""
    full = {q.qid: q.points for q in questions}
    zero = {q.qid: 0.0 for q in questions}
    answer_cells = _answer_cells_in_order(questions)
    right = {i: student_answer_source(solution.cells[i].source) for i in answer_cells}
    by_cell: dict[int, list[Question]] = {}
    for q in questions:
        by_cell.setdefault(q.answer_cell, []).append(q)

    def filled(cells: Iterable[int]) -> nbformat.NotebookNode:
        nb = copy.deepcopy(release)
        for i in cells:
            _set_source(nb, i, right[i])
        return nb

    yield "perfect", "every answer right", filled(answer_cells), dict(full), dict(full)

    rounds = max((len(q.mistakes) for q in questions), default=0)
    for r in range(rounds):
        nb = filled(answer_cells)
        expected = dict(full)
        for q in questions:
            if len(q.mistakes) > r:
                mistake_id, wrong = q.mistakes[r]
                _set_source(
                    nb,
                    q.answer_cell,
                    nb.cells[q.answer_cell].source.rstrip()
                    + f"\n{q.variable} = {wrong}  # {mistake_id.replace('_', ' ')}\n",
                )
                expected[q.qid] = 0.0
        letter = chr(ord("a") + r)
        yield (
            f"mistakes_{letter}",
            f"named mistake #{r + 1} of every question that has one",
            nb,
            expected,
            dict(expected),
        )

    half = (len(answer_cells) + 1) // 2
    first, second = answer_cells[:half], answer_cells[half:]
    expected = {q.qid: (q.points if q.answer_cell in first else 0.0) for q in questions}
    yield "partial", "first half answered, rest untouched", filled(first), expected, dict(expected)
    expected = {q.qid: (q.points if q.answer_cell in second else 0.0) for q in questions}
    yield "second_half", "first half untouched, rest answered", filled(second), expected, dict(expected)

    yield "blank", "the released notebook, unchanged", copy.deepcopy(release), dict(zero), dict(zero)

    scalable = [q for q in questions if q.kind in (None, "expression", "number")]
    if scalable:
        target = scalable[len(scalable) // 2]
        nb = filled(answer_cells)
        _set_source(
            nb,
            target.answer_cell,
            nb.cells[target.answer_cell].source.rstrip()
            + f"\n{target.variable} = {target.variable} * 1.001  # rounded too early\n",
        )
        expected = dict(full)
        expected[target.qid] = 0.0
        yield "tenth_percent_off", f"{target.qid} off by 0.1 %", nb, expected, dict(expected)

    nb = copy.deepcopy(release)
    for q in questions:
        _set_source(nb, q.test_cell, f"{q.points!r}  # full marks, surely\n")
    yield "locked_cell_edit", "test cells edited to print full marks", nb, dict(zero), dict(zero)

    loop_cell = answer_cells[min(1, len(answer_cells) - 1)]
    nb = filled(answer_cells)
    _set_source(nb, loop_cell, "while True:  # waiting for inspiration\n    pass\n" + right[loop_cell])
    expected = dict(full)
    for q in by_cell[loop_cell]:
        expected[q.qid] = 0.0
    yield "infinite_loop", "one answer cell never ends", nb, expected, dict(expected)

    crash_cell = answer_cells[min(2, len(answer_cells) - 1)]
    crash_at = answer_cells.index(crash_cell)
    nb = filled(answer_cells)
    _set_source(nb, crash_cell, "import os\nos._exit(1)  # kills the kernel\n")
    expected = {
        q.qid: (q.points if answer_cells.index(q.answer_cell) < crash_at else 0.0)
        for q in questions
    }
    yield "kernel_crash", "one answer cell kills its kernel", nb, expected, dict(zero)

    text = nbformat.writes(filled(answer_cells))
    yield "invalid_json", "file cut off half-way: not valid JSON", text[: len(text) // 2], dict(zero), dict(zero)

    nb = copy.deepcopy(release)
    first_cell = answer_cells[0]
    _set_source(
        nb,
        first_cell,
        nb.cells[first_cell].source.rstrip()
        + "\n\ndef check(*args, **kwargs):  # 'borrowed' from a forum\n"
        "    return 'all tests passed'\n",
    )
    yield "monkeypatch", "replaces check() with a fake", nb, dict(zero), dict(full)

    if key is not None and any(_is_variant(e) for e in (key.get("questions") or {}).values()):
        from grader.course.release.variantnb import pin_variants, student_numbers

        theirs, mine = student_numbers(key, "perfect"), student_numbers(key, COPIER)
        nb = copy.deepcopy(release)
        for i in answer_cells:
            _set_source(nb, i, pin_variants(right[i], theirs))
        expected = {q.qid: (0.0 if q.qid in theirs and theirs[q.qid] != mine.get(q.qid) else q.points)
                    for q in questions}
        yield COPIER, "perfect's answers, perfect's numbers", nb, expected, dict(expected)


COPIER = "copies_perfect"


def _is_variant(entry: object) -> bool:
    from grader.key.variants import is_variant

    return is_variant(entry)


def build_submissions(solution_path: Path, release_path: Path, assignment: str) -> list[Submission]:
    """Every sample submission of one notebook of one assignment."""
    solution = nbformat.read(str(solution_path), as_version=4)
    release = nbformat.read(str(release_path), as_version=4)
    if len(solution.cells) != len(release.cells):
        raise ValueError(
            f"{release_path} does not match {solution_path}: regenerate the release first"
        )
    questions = questions_of(solution)
    submissions = []
    from grader.key import files

    try:
        key = files.load_key(solution_path.parent / files.PUBLIC_KEY_NAME)
    except (OSError, ValueError):
        key = None
    for profile, description, nb, expected, nbgrader_expected in _profile_notebooks(
        solution, release, questions, key
    ):
        content = nb if isinstance(nb, str) else nbformat.writes(nb)
        submissions.append(
            Submission(
                student=profile,
                assignment=assignment,
                notebook=release_path.name,
                content=content,
                expected=expected,
                nbgrader_expected=nbgrader_expected,
                description=description,
                points={q.qid: q.points for q in questions},
            )
        )
    return submissions


def sample_class(course_root: Path) -> list[Submission]:
    """The whole sample class of the course at ``course_root``, deterministic."""
    course_root = Path(course_root)
    result: list[Submission] = []
    for assignment_dir in sorted(p for p in (course_root / "solutions").iterdir() if p.is_dir()):
        for solution_path in sorted(assignment_dir.glob("*.ipynb")):
            release_path = course_root / "exercises" / assignment_dir.name / solution_path.name
            if release_path.exists():
                result.extend(build_submissions(solution_path, release_path, assignment_dir.name))
    return result


def place(submissions: Iterable[Submission], course_root: Path, timestamp: str) -> list[Path]:
    """Write submissions where nbgrader expects them: submitted/<student>/<assignment>/."""
    written = []
    for sub in submissions:
        folder = Path(course_root) / "submitted" / sub.student / sub.assignment
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / sub.notebook
        path.write_text(sub.content, encoding="utf-8")
        (folder / "timestamp.txt").write_text(timestamp + "\n", encoding="utf-8")
        written.append(path)
    return written


def to_json(submissions: Iterable[Submission]) -> str:
    """A stable summary (without notebook contents), for reports and diffs."""
    return json.dumps(
        [
            {
                "student": s.student,
                "assignment": s.assignment,
                "notebook": s.notebook,
                "description": s.description,
                "expected": s.expected,
                "nbgrader_expected": s.nbgrader_expected,
            }
            for s in submissions
        ],
        indent=1,
        sort_keys=True,
    )
