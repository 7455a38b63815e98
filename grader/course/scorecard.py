"""``calcgrade check PATH``: run notebooks in a fresh kernel and print a scorecard.

For one notebook: a line per question (mark, points, message) and the total.  For a folder (e.g.
``exercises/``) or several notebooks: one line per notebook (questions right, points, status), then an
overview per assignment (complete, in progress, not started; points); ``-v`` adds every question's line.
A message is one table cell: line breaks (a NumPy array printed in it), tabs and control characters are
flattened and a long one is shortened, so no message breaks the table.  ``--json`` prints the same as one JSON document.  The verdicts are read from
the ``application/vnd.calcgrade.verdict+json`` outputs that ``check()`` emits, so the numbers are the
ones the student saw in the notebook.  Exit status: 0 when every notebook ran, whatever the score;
2 when a path is missing or a notebook cannot be read or run (with a one-line reason, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader.key.testcell import checked_question
from grader.key.mediatypes import VERDICT_MIME
from grader.course.kernelrun import NotebookRunError, read_notebook, run_notebook, test_cells

__all__ = ["QuestionScore", "NotebookScore", "score_notebook", "one_line", "main", "add_arguments"]

MARKS = {"correct": "✔", "wrong": "✘", "unanswered": "○", "error": "!", "missing": "!"}
ASCII_MARKS = {"correct": "+", "wrong": "x", "unanswered": "o", "error": "!", "missing": "!"}


@dataclass
class QuestionScore:
    qid: str
    status: str            # correct | wrong | unanswered | error | missing
    points: float
    max_points: float
    message: str
    misconception: str | None = None


@dataclass
class NotebookScore:
    path: str
    assignment: str
    questions: list[QuestionScore] = field(default_factory=list)
    seconds: float = 0.0
    run_error: str | None = None

    @property
    def earned(self) -> float:
        return round(sum(q.points for q in self.questions), 6)

    @property
    def max_points(self) -> float:
        return round(sum(q.max_points for q in self.questions), 6)

    @property
    def complete(self) -> bool:
        return bool(self.questions) and all(q.status == "correct" for q in self.questions)

    @property
    def started(self) -> bool:
        return any(q.status not in ("unanswered", "missing") for q in self.questions)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "assignment": self.assignment, "earned": self.earned,
                "max_points": self.max_points, "complete": self.complete, "seconds": round(self.seconds, 2),
                "run_error": self.run_error, "questions": [asdict(q) for q in self.questions]}


def _verdicts(nb: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {}) if out.get("output_type") in ("display_data", "execute_result") else {}
            v = data.get(VERDICT_MIME)
            if isinstance(v, str):
                try:
                    v = json.loads(v)
                except ValueError:
                    v = None
            if isinstance(v, dict) and v.get("qid"):
                found[str(v["qid"])] = v
    return found


def _cell_problem(cell: Any) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"the test cell raised {out.get('ename')}: {str(out.get('evalue'))[:150]}"
    return None


def score_notebook(path: Path, *, on_cell: Callable[[int, int], None] | None = None,
                   cell_timeout: int = 60) -> NotebookScore:
    """Run ``path`` (public key: NBGRADER_EXECUTION is cleared) and collect its verdicts."""
    started = time.perf_counter()
    nb = read_notebook(path)
    points, _ = test_cells(nb)
    ran = run_notebook(path, env={"NBGRADER_EXECUTION": "", "CALCGRADE_RECORD": ""}, on_cell=on_cell,
                       cell_timeout=cell_timeout)
    verdicts = _verdicts(ran)
    score = NotebookScore(path=str(path), assignment=path.parent.name,
                          run_error=ran.metadata.get("calcgrade_run_error"))
    cells_by_qid: dict[str, Any] = {}
    for cell in ran.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            qid = checked_question(cell.source).qid
            if qid is not None:
                cells_by_qid.setdefault(qid, cell)
    order = list(points) + [q for q in verdicts if q not in points]
    for qid in order:
        v = verdicts.get(qid)
        max_points = float(points.get(qid, (v or {}).get("max_points") or 0.0))
        if v is None:
            why = _cell_problem(cells_by_qid.get(qid, {})) or "its test cell produced no verdict (did it run?)"
            score.questions.append(QuestionScore(qid, "missing", 0.0, max_points, why))
            continue
        status = str(v.get("status", "error"))
        earned = float(v.get("points") or 0.0) if status == "correct" else 0.0
        if v.get("max_points") not in (None, max_points) and qid in points:
            earned = float(v.get("score", 0.0)) * max_points if status == "correct" else 0.0
        score.questions.append(QuestionScore(qid, status, round(earned, 6), max_points, str(v.get("message", "")),
                                             v.get("misconception")))
    score.seconds = time.perf_counter() - started
    return score


# --- output ------------------------------------------------------------------------------------------
def _marks() -> dict[str, str]:
    enc = (getattr(sys.stdout, "encoding", None) or "ascii").lower()
    return MARKS if "utf" in enc else ASCII_MARKS


def one_line(text: Any, limit: int = 100) -> str:
    """``text`` as one table cell: whitespace runs (line breaks of a printed array, tabs) become one space,
    other control characters go, and a text longer than ``limit`` ends with "..."."""
    flat = " ".join("".join(ch if ch.isprintable() or ch.isspace() else " " for ch in str(text)).split())
    return flat if len(flat) <= limit else flat[:limit - 3].rstrip() + "..."


def _status(questions: list[QuestionScore], started: bool, run_error: bool) -> str:
    if run_error and not questions:
        return "could not run"
    if questions and all(q.status == "correct" for q in questions):
        return "complete"
    return "in progress" if started else "not started"


def _print_notebook(score: NotebookScore) -> None:
    marks = _marks()
    print(f"{score.path}")
    if score.run_error:
        print(f"  (the run stopped early: {one_line(score.run_error, 160)})")
    width = max([len(one_line(q.qid, 40)) for q in score.questions] + [8])
    for q in score.questions:
        pts = f"{q.points:g}/{q.max_points:g}"
        print(f"  {marks.get(q.status, '?')} {one_line(q.qid, 40):<{width}}  {pts:>7}  {one_line(q.message)}")
    n_ok = sum(q.status == "correct" for q in score.questions)
    print(f"  Total: {score.earned:g} / {score.max_points:g} points "
          f"({n_ok} of {len(score.questions)} questions correct)")


def _print_notebook_lines(scores: list[NotebookScore]) -> None:
    """One line per notebook: questions right, points, status (and why a run stopped)."""
    width = max([len(s.path) for s in scores] + [8])
    print(f"  {'notebook':<{width}}  {'correct':>9}  {'points':>11}  status")
    for s in scores:
        n_ok = sum(q.status == "correct" for q in s.questions)
        status = _status(s.questions, s.started, bool(s.run_error))
        if s.run_error:
            status += f" (the run stopped early: {one_line(s.run_error, 80)})"
        print(f"  {s.path:<{width}}  {f'{n_ok}/{len(s.questions)}':>9}  {f'{s.earned:g}/{s.max_points:g}':>11}  "
              f"{status}")


def _print_overview(scores: list[NotebookScore]) -> None:
    print()
    print("Progress")
    by_assignment: dict[str, list[NotebookScore]] = {}
    for s in scores:
        by_assignment.setdefault(s.assignment, []).append(s)
    width = max([len(a) for a in by_assignment] + [10])
    print(f"  {'assignment':<{width}}  {'correct':>9}  {'points':>11}  status")
    total_e = total_m = 0.0
    for name in sorted(by_assignment):
        group = by_assignment[name]
        qs = [q for s in group for q in s.questions]
        earned = sum(s.earned for s in group)
        maxp = sum(s.max_points for s in group)
        total_e += earned
        total_m += maxp
        status = _status(qs, any(s.started for s in group), any(s.run_error for s in group))
        n_ok = sum(q.status == "correct" for q in qs)
        print(f"  {name:<{width}}  {f'{n_ok}/{len(qs)}':>9}  {f'{earned:g}/{maxp:g}':>11}  {status}")
    print(f"  {'total':<{width}}  {'':>9}  {f'{total_e:g}/{total_m:g}':>11}")


def _find_notebooks(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _near_miss(path: Path) -> str:
    """For a misspelt path: the folders and notebooks that exist beside it, the closest first."""
    import difflib

    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        return ""
    names = sorted(p.name for p in parent.iterdir()
                   if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".ipynb"))
    if not names:
        return ""
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.6)
    hint = f"did you mean {parent / close[0]}? " if close else ""
    return f": {hint}({parent} holds {', '.join(names[:12])}{', ...' if len(names) > 12 else ''})"


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a notebook, or a folder of notebooks (e.g. exercises/)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the scorecard")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="for a folder or several notebooks: every question's line too, not only one per notebook")
    parser.add_argument("--timeout", type=int, default=60, metavar="S", help="seconds allowed per cell (default 60)")


def main(args: argparse.Namespace) -> int:
    targets: list[Path] = []
    failures: list[str] = []
    for raw in args.paths:
        p = Path(raw)
        if p.is_dir():
            found = _find_notebooks(p)
            if not found:
                failures.append(f"{p}: no notebooks in this folder")
            targets += found
        elif p.is_file():
            targets.append(p)
        else:
            failures.append(f"{p}: no such file or folder{_near_miss(p)}")
    scores: list[NotebookScore] = []
    for path in targets:
        try:
            scores.append(_score_with_progress(path, args.timeout))
        except NotebookRunError as exc:
            failures.append(str(exc))
    if getattr(args, "json", False):
        doc = {"notebooks": [s.to_json() for s in scores], "errors": failures,
               "earned": round(sum(s.earned for s in scores), 6),
               "max_points": round(sum(s.max_points for s in scores), 6)}
        print(json.dumps(doc, indent=1))
    else:
        many = len(scores) > 1 or any(Path(r).is_dir() for r in args.paths)
        if not many or getattr(args, "verbose", False):
            for s in scores:
                _print_notebook(s)
        if many:
            if not getattr(args, "verbose", False):
                _print_notebook_lines(scores)
            _print_overview(scores)
    for f in failures:
        print(f"calcgrade check: {f}", file=sys.stderr)
    return 2 if failures else 0


def _score_with_progress(path: Path, timeout: int) -> NotebookScore:
    from tqdm import tqdm

    from grader.course.progress import is_terminal

    # a live bar per cell on a terminal; in a log the scorecard itself is the one line that matters
    bar = tqdm(desc=path.name, unit="cell", file=sys.stderr, leave=False, dynamic_ncols=True,
               disable=not is_terminal(sys.stderr))

    def on_cell(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        return score_notebook(path, on_cell=on_cell, cell_timeout=timeout)
    finally:
        bar.close()
