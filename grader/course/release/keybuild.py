"""``calcgrade key``: build the private and public answer keys from the solution notebooks.

Each ``solutions/<assignment>/*.ipynb`` is executed in a fresh kernel with ``CALCGRADE_RECORD``
naming a file: every ``question(qid, reference, ...)`` appends its reference and options, every
``check(qid, value)`` appends the solution's own answer.  Points come from the nbgrader metadata of
the test cell that calls ``check("<qid>", ...)``.  The build refuses (``KeyBuildError``, listing every
problem) when a qid is declared twice, has no test cell, is checked without being declared, a
solution cell raises, or the solution's own answer does not get full marks from the private *and*
the public key.  Output is canonical JSON, so the same solutions give byte-identical keys.

    private key: <course root>/.calcgrade/keys/<assignment>.json   (never released)
    public key:  solutions/<assignment>/calcgrade_public.json       (nbgrader copies it to exercises/)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader.key import files, grading, variants
from grader.course.release import questiontests
from grader.course.kernelrun import NotebookRunError, read_notebook, run_notebook, test_cells
from grader.course.release.keystate import private_key_problem, solution_notebooks, solutions_digest

__all__ = ["KeyBuildError", "KeyBuildResult", "build_keys", "solutions_digest",
           "private_key_problem", "main", "add_arguments"]


class KeyBuildError(RuntimeError):
    """The keys of an assignment cannot be built; ``problems`` lists every reason."""

    def __init__(self, assignment: str, problems: list[str]) -> None:
        self.assignment = assignment
        self.problems = problems
        super().__init__(f"{assignment}: cannot build the answer key:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass
class KeyBuildResult:
    assignment: str
    private_path: Path
    public_path: Path
    private_text: str
    public_text: str
    questions: int
    points: float
    seconds: float
    notebooks: list[str] = field(default_factory=list)


def _cell_errors(nb: Any) -> list[str]:
    out = []
    for index, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                gid = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
                out.append(f"{gid}: {o.get('ename')}: {str(o.get('evalue'))[:200]}")
            elif o.get("output_type") == "stream" and o.get("name") == "stderr":
                gid = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
                out.append(f"{gid} writes to stderr (nbgrader would score it 0): {o.get('text', '')[:200]!r}")
    if nb.metadata.get("calcgrade_run_error"):
        out.append(str(nb.metadata["calcgrade_run_error"]))
    return out


def build_keys(
    course_root: Path | str,
    assignment: str,
    *,
    write: bool = True,
    on_cell: Callable[[int, int], None] | None = None,
) -> KeyBuildResult:
    """Run the solutions of ``assignment`` and build (and by default write) its two keys."""
    started = time.perf_counter()
    root = Path(course_root).resolve()
    folder = root / "solutions" / assignment
    notebooks = solution_notebooks(folder)
    if not notebooks:
        raise KeyBuildError(assignment, [f"no solution notebook in {folder}"])
    digest = solutions_digest(root, assignment)  # before running them: the key describes what was run
    problems: list[str] = []
    private: dict[str, Any] = {}
    checks: dict[str, list[Any]] = {}
    for nb_path in notebooks:
        try:
            nb = read_notebook(nb_path)
        except NotebookRunError as exc:
            problems.append(str(exc))
            continue
        points, cell_problems = test_cells(nb)
        problems += [f"{nb_path.name}: {p}" for p in cell_problems]
        with tempfile.TemporaryDirectory(prefix="calcgrade-key-") as tmp:
            record = Path(tmp) / "record.jsonl"
            record.touch()
            try:
                ran = run_notebook(nb_path, env={"CALCGRADE_RECORD": str(record)}, on_cell=on_cell)
            except NotebookRunError as exc:
                problems.append(str(exc))
                continue
            problems += [f"{nb_path.name}: {e}" for e in _cell_errors(ran)]
            items = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines() if line.strip()]
        declared: list[str] = []
        for item in items:
            if "question" in item:
                rec = item["question"]
                qid = rec["qid"]
                if qid in private or qid in declared:
                    problems.append(f"{nb_path.name}: question {qid!r} is declared more than once")
                    continue
                declared.append(qid)
                rec["notebook"] = nb_path.name
                rec["points"] = points.get(qid, 0.0)
                private[qid] = rec
            elif "check" in item:
                checks.setdefault(item["check"], []).append(item["answer"])
        for qid in declared:
            if qid not in points:
                problems.append(f"{nb_path.name}: question {qid!r} has no graded test cell calling check({qid!r}, ...)")
        for qid in points:
            if qid not in declared:
                problems.append(f"{nb_path.name}: test cell checks {qid!r}, but no solution cell calls question({qid!r}, ...)")
    if problems:
        raise KeyBuildError(assignment, problems)

    public: dict[str, Any] = {}
    for qid in sorted(private):
        try:
            public[qid] = files.public_entry(private[qid], assignment)
        except Exception as exc:
            problems.append(f"question {qid!r}: cannot fingerprint the reference ({exc.__class__.__name__}: {exc})")
    for qid in sorted(private):
        answers = checks.get(qid, [])
        if not answers:
            problems.append(f"question {qid!r}: its test cell did not run check({qid!r}, ...)")
            continue
        for which, entry in (("private", private[qid]), ("public", public.get(qid))):
            if entry is None:
                continue
            if variants.is_variant(entry):  # the solution ran with the graded pool's first variant
                entry = variants.resolve(entry, 0)
            v = grading.grade(answers[-1], entry)
            if not (v.correct and v.score >= 1.0):
                problems.append(f"question {qid!r}: the solution's own answer is not accepted by the {which} key: "
                                f"{v.message}")
        problems += questiontests.question_problems(qid, private[qid], public.get(qid))
    if problems:
        raise KeyBuildError(assignment, problems)

    from grader.course.coursedir import course_id

    course = course_id(root)  # with the assignment, what every student's variant is computed from
    private_key = {"format": files.PRIVATE_FORMAT, "assignment": assignment, "course": course, "questions": private,
                   "solutions_digest": digest}
    public_key = {"format": files.PUBLIC_FORMAT, "assignment": assignment, "course": course, "questions": public,
                  "note": "Seeded fingerprints only: the reference answers are not in this file."}
    private_text = files.dump_key(private_key)
    public_text = files.dump_key(public_key)
    private_path = files.private_key_path(root, assignment)
    public_path = files.public_key_path(root, assignment)
    if write:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        private_path.write_text(private_text, encoding="utf-8")
        public_path.write_text(public_text, encoding="utf-8")
    return KeyBuildResult(
        assignment=assignment, private_path=private_path, public_path=public_path, private_text=private_text,
        public_text=public_text, questions=len(private), points=sum(float(e["points"]) for e in private.values()),
        seconds=time.perf_counter() - started, notebooks=[p.name for p in notebooks],
    )


# --- command line ----------------------------------------------------------------------------------------
def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                        help="assignment folders under solutions/ (default: all)")
    parser.add_argument("--course-root", default=None, metavar="DIR",
                        help="the course folder holding nbgrader_config.py (default: found from here)")
    parser.add_argument("--check", action="store_true",
                        help="do not write: fail when the committed public key is not what the solutions give")


def main(args: argparse.Namespace) -> int:
    from grader.course.coursedir import CourseNotFound, assignments_of, find_course_root, require_assignment

    try:
        root = find_course_root(getattr(args, "course_root", None))
        for name in getattr(args, "assignments", []) or []:
            require_assignment(root, name)
    except CourseNotFound as exc:
        print(f"calcgrade key: {exc.message}", file=sys.stderr)
        return 2
    names = list(getattr(args, "assignments", []) or []) or assignments_of(root)
    if not names:
        print(f"calcgrade key: no solution notebooks under {root / 'solutions'}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        try:
            result = _build_with_progress(root, name, write=not getattr(args, "check", False))
        except KeyBuildError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
            continue
        if getattr(args, "check", False):
            current = result.public_path.read_text(encoding="utf-8") if result.public_path.exists() else ""
            if current != result.public_text:
                print(f"{name}: the public key {result.public_path} is out of date: run `calcgrade key {name}`",
                      file=sys.stderr)
                failed += 1
            else:
                print(f"{name}: public key is current ({result.questions} questions)")
            continue
        print(f"{name}: {result.questions} questions, {result.points:g} points, built in {result.seconds:.1f} s")
        print(f"    private key: {result.private_path}")
        print(f"    public key:  {result.public_path}")
    return 1 if failed else 0


def _build_with_progress(root: Path, name: str, *, write: bool) -> KeyBuildResult:
    """On a terminal a bar over the cells run; in a log one line per solution notebook run."""
    from grader.course.progress import Progress

    bar = Progress(desc=name, unit="cell", leave=False)
    notebooks = 0

    def on_cell(done: int, total: int) -> None:
        nonlocal notebooks
        if bar.terminal:
            if done < bar.n or bar.total != total:
                bar.reset(total)
            bar.update(done - bar.n)
        elif done == total:
            notebooks += 1
            print(f"{name}: solution notebook {notebooks} run ({total} cells)", file=sys.stderr, flush=True)

    try:
        return build_keys(root, name, write=write, on_cell=on_cell)
    finally:
        bar.close()
