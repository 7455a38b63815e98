"""What is wrong with a release, said in one or two sentences: where (assignment, notebook, cell,
question id) and what.

Why a check of our own before nbgrader: nbgrader finds a broken solution region only halfway through
``generate_assignment``, after it has logged a traceback and removed the previous release.  The
structural slips an author makes (a missing ``### END SOLUTION``, a region outside a solution cell,
two cells with one grade id) are found here first, named by cell and question, so a refused release
can say exactly where to look.  What nbgrader still refuses is summarised from its log.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import nbformat

from grader.key.testcell import checked_question

__all__ = ["cell_label", "notebook_problems", "assignment_problems", "summarise_nbgrader_log", "first_sentence",
           "released_notebook_leaks", "released_file_leaks", "answer_bearing_files"]

_REGIONS = (("BEGIN SOLUTION", "END SOLUTION", "solution"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "hidden-tests"))


def cell_label(assignment: str, notebook: str, index: int, cell: Any) -> str:
    """``02_derivatives/derivatives.ipynb, cell 8 (ans_chain_rule, question chain_rule)``."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    parts = [str(meta["grade_id"])] if meta.get("grade_id") else []
    qid = checked_question(cell.get("source", ""), calls=("check", "question")).qid
    if qid is not None:
        parts.append(f"question {qid}")
    extra = f" ({', '.join(parts)})" if parts else ""
    return f"{assignment}/{notebook}, cell {index + 1}{extra}"


def _region_problems(source: str) -> list[str]:
    problems = []
    for begin, end, name in _REGIONS:
        depth = 0
        for line in source.split("\n"):
            if begin in line:
                if depth:
                    problems.append(f"a second `### {begin}` before the `### {end}` of the first")
                depth = 1
            elif end in line:
                if not depth:
                    problems.append(f"`### {end}` without a `### {begin}` above it")
                depth = 0
        if depth:
            problems.append(f"`### {begin}` has no matching `### {end}`")
    return problems


def notebook_problems(path: Path, assignment: str) -> list[str]:
    """Structural problems nbgrader would refuse (or silently mis-release), one sentence each."""
    path = Path(path)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # not JSON, not a notebook
        return [f"{assignment}/{path.name} cannot be read as a notebook ({exc.__class__.__name__}: "
                f"{str(exc)[:160]})"]
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        where = cell_label(assignment, path.name, index, cell)
        meta = cell.get("metadata", {}).get("nbgrader", {})
        problems += [f"{where}: {p}" for p in _region_problems(cell.get("source", ""))]
        if "BEGIN SOLUTION" in cell.get("source", "") and not meta.get("solution"):
            problems.append(f"{where}: a `### BEGIN SOLUTION` region in a cell that is not marked as a solution "
                            "cell (nbgrader would release it unchanged)")
        marked = meta.get("solution") or meta.get("grade") or meta.get("locked") or meta.get("task")
        gid = meta.get("grade_id")
        if marked and not gid:
            problems.append(f"{where}: an nbgrader cell without a grade id")
        elif gid:
            if gid in seen:
                problems.append(f"{where}: grade id {gid!r} is also used by cell {seen[gid] + 1}")
            seen.setdefault(gid, index)
    return problems


def assignment_problems(course_root: Path, assignment: str) -> list[str]:
    """``notebook_problems`` of every solution notebook of the assignment."""
    folder = Path(course_root) / "solutions" / assignment
    out: list[str] = []
    for path in sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith(".")):
        out += notebook_problems(path, assignment)
    return out


def summarise_nbgrader_log(log: str, fallback: str) -> str:
    """What nbgrader says went wrong: the first exception message in its log (the cause; later ones
    only repeat that the notebook failed), else its first error line, else ``fallback``."""
    lines = [re.sub(r"^\[[^\]]*\]\s*", "", line).strip() for line in (log or "").splitlines() if line.strip()]
    for text in lines:
        match = re.match(r"^[A-Za-z_.]*(?:Error|Exception): (.+)$", text)
        if match:
            return match.group(1)[:300]
    for raw in (log or "").splitlines():
        if re.search(r"\b(ERROR|CRITICAL)\]", raw):
            return re.sub(r"^\[[^\]]*\]\s*", "", raw.strip()).strip()[:300]
    return fallback


def first_sentence(problems: list[str]) -> str:
    """The first problem, and how many more there are (the rest with ``-v``)."""
    if not problems:
        return ""
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''}; -v lists them)" if more else "")


# --- what students receive must bear no answer ---------------------------------------------------------------
# Why not a text search: prose may name ``question(...)`` or ``### BEGIN SOLUTION`` (the starter explains
# both), while a real leak is code that runs, an output the solutions printed, metadata or a key file.
_MARKER_LINE = re.compile(r"^\s*#+\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)\b", re.MULTILINE)
_KEY_MIMES = ("application/vnd.calcgrade.answer+json",)


def _python_of(source: str) -> str:
    """The cell as plain Python (IPython's magics and shell escapes turned into calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # IPython missing or the transformer chokes: read it as it is
        return source


def _declaration_lines(source: str) -> list[int]:
    """Lines (1-based) of the cell that call ``question(...)`` (or ``something.question(...)``)."""
    try:
        tree = ast.parse(_python_of(source))
    except SyntaxError:  # a student stub that does not parse: fall back to lines that start with the call
        return [n for n, line in enumerate(source.split("\n"), 1) if re.match(r"\s*question\(", line)]
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "question":
                lines.append(node.lineno)
    return sorted(set(lines))


def _holds_reference(value: Any) -> bool:
    """Whether JSON-like ``value`` holds a key entry's reference (or is a private key)."""
    from grader.key.files import PRIVATE_FORMAT

    if isinstance(value, dict):
        if value.get("format") == PRIVATE_FORMAT or "reference" in value:
            return True
        return any(_holds_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_reference(v) for v in value)
    return False


def released_notebook_leaks(nb: Any, where: str) -> list[str]:
    """What in a released notebook bears an answer, one sentence per cell naming ``where`` (its path) and
    the cell: solution or hidden-test markers, a ``question(...)`` declaration in code, an output left from
    running the solutions (nbgrader's release clears them all), metadata holding a reference."""
    found: list[str] = []
    if _holds_reference(dict(nb.get("metadata", {}))):
        found.append(f"{where}: the notebook's metadata holds a reference answer")
    for index, cell in enumerate(nb.get("cells", [])):
        label = f"{where}, cell {index + 1}"
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id"):
            label += f" ({meta['grade_id']})"
        source = cell.get("source", "")
        marker = _MARKER_LINE.search(source)
        if marker:
            found.append(f"{label}: a `### {marker.group(1)} {marker.group(2)}` line (the solution region "
                         "was not removed)")
        if cell.get("cell_type") == "code":
            lines = _declaration_lines(source)
            if lines:
                found.append(f"{label}: line {lines[0]} declares a question (`question(...)` holds the reference)")
            outputs = cell.get("outputs", [])
            if any(mime in o.get("data", {}) for o in outputs for mime in _KEY_MIMES):
                found.append(f"{label}: an output holds an answer recorded from the solutions")
            elif outputs:
                found.append(f"{label}: an output kept from running the solutions (a release clears them)")
        if _holds_reference(dict(cell.get("metadata", {}))):
            found.append(f"{label}: the cell's metadata holds a reference answer")
    return found


def released_file_leaks(path: Path, rel: str) -> list[str]:
    """What in one released file bears an answer (``rel``: how to name it)."""
    from grader.key.files import PUBLIC_KEY_NAME

    path = Path(path)
    if path.suffix == ".ipynb":
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception as exc:
            return [f"{rel}: cannot be read as a notebook ({exc.__class__.__name__}), so cannot be checked"]
        return released_notebook_leaks(nb, rel)
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if data is not None and _holds_reference(data):
            what = "the public key" if path.name == PUBLIC_KEY_NAME else "a key file"
            return [f"{rel}: {what} holds a reference answer"]
        if path.name == PUBLIC_KEY_NAME:
            return []
    return [f"{rel}: not a notebook or the public key"]


def answer_bearing_files(course_root: Path) -> list[str]:
    """Everything answer-bearing in the released folders (``exercises/``) of a course, one sentence each.
    Data files other than the public key are named with "not a notebook or the public key" (the author's call
    whether to ship them; a release lets them through, ``calcgrade validate`` lists them)."""
    release_dir = Path(course_root) / "exercises"
    found: list[str] = []
    if not release_dir.exists():
        return found
    for path in sorted(release_dir.rglob("*")):
        if path.is_dir() or ".ipynb_checkpoints" in path.parts:
            continue
        found += released_file_leaks(path, path.relative_to(course_root).as_posix())
    return found
