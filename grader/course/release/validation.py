"""``calcgrade validate``: prove the course consistent before students see it.

Each finding is one ``Finding`` (what was checked, whether it holds, and what
to do when it does not), so the report reads as a checklist and the exit
status is simply "did every item hold".  Nothing here changes the course
folder: keys and releases are rebuilt in memory or in a temporary copy and
compared with what is committed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import nbformat

from grader.course import coursedir

@dataclass(frozen=True)
class Finding:
    assignment: str
    check: str
    ok: bool
    detail: str = ""


def _comparable_cells(path: Path) -> list[tuple[str, str, dict]]:
    nb = nbformat.read(str(path), as_version=4)
    out = []
    for cell in nb.cells:
        meta = dict(cell.get("metadata", {}).get("nbgrader", {}))
        meta.pop("checksum", None)
        out.append((cell.cell_type, cell.source, meta))
    return out


def release_differences(course_root: Path, assignment: str, generated_root: Path) -> list[str]:
    """How the committed release differs from a freshly generated one (empty = current)."""
    problems = []
    committed = Path(course_root) / "exercises" / assignment
    fresh = Path(generated_root) / "exercises" / assignment
    names = sorted({p.name for p in committed.glob("*")} | {p.name for p in fresh.glob("*")})
    for name in names:
        a, b = committed / name, fresh / name
        if not a.exists():
            problems.append(f"{name} is missing from exercises/{assignment}")
        elif not b.exists():
            problems.append(f"exercises/{assignment}/{name} is not produced by the release any more")
        elif name.endswith(".ipynb"):
            ca, cb = _comparable_cells(a), _comparable_cells(b)
            if len(ca) != len(cb):
                problems.append(f"{name}: {len(ca)} cells released, {len(cb)} expected")
            else:
                for i, (x, y) in enumerate(zip(ca, cb)):
                    if x != y:
                        problems.append(f"{name}: cell {i} ({y[2].get('grade_id', '?')}) differs")
                        break
        elif a.read_bytes() != b.read_bytes():
            problems.append(f"exercises/{assignment}/{name} differs from solutions/{assignment}/{name}")
    return problems


def _parity_problems(private: dict[str, Any], public: dict[str, Any]) -> tuple[int, list[str]]:
    """Public and private keys must agree on the reference and on every named mistake."""
    from grader.key import grading

    from grader.key import variants

    checked, problems = 0, []
    pairs = []
    for qid, entry in private.get("questions", {}).items():
        pub = public.get("questions", {}).get(qid)
        if pub is None:
            problems.append(f"{qid} is missing from the public key")
            continue
        if not (variants.is_variant(entry) and variants.is_variant(pub)):
            pairs.append((qid, entry, pub))
            continue
        for practice in (False, True):  # every variant of a variant question, both pools
            for index, _ in enumerate(variants.variants_of(entry, practice=practice)):
                pairs.append((qid, variants.resolve(entry, index, practice=practice),
                              variants.resolve(pub, index, practice=practice)))
    for qid, entry, pub in pairs:
        answers = [("reference", entry["reference"])]
        answers += [(f"mistake {m['id']}", m["answer"]) for m in entry.get("mistakes", [])]
        for label, answer in answers:
            a, b = grading.grade(answer, entry), grading.grade(answer, pub)
            checked += 1
            if (a.correct, a.score, a.misconception) != (b.correct, b.score, b.misconception):
                problems.append(f"{qid} [{label}]: private says {a.message!r}, public says {b.message!r}")
            elif label == "reference" and not a.correct:
                problems.append(f"{qid}: the reference itself is not accepted: {a.message}")
            elif label.startswith("mistake") and a.misconception != label.split()[1]:
                problems.append(f"{qid} [{label}]: not recognised ({a.message})")
    return checked, problems


def validate_assignment(course_root: Path, assignment: str) -> list[Finding]:
    from grader.course.release import publish as course
    from grader.course.release import keybuild
    from grader.course import scorecard
    from grader.key import files

    root = Path(course_root).resolve()
    findings: list[Finding] = []

    def add(check: str, ok: bool, detail: str = "") -> None:
        findings.append(Finding(assignment, check, ok, detail))

    try:
        built = keybuild.build_keys(root, assignment, write=False)
    except keybuild.KeyBuildError as exc:
        add("solutions earn full marks from their own key", False, "; ".join(exc.problems))
        return findings
    add("solutions earn full marks from their own key", True,
        f"{built.questions} questions, {built.points:g} points")

    public_path = files.public_key_path(root, assignment)
    current = public_path.exists() and public_path.read_text(encoding="utf-8") == built.public_text
    add("public key is current", current,
        "" if current else f"run: calcgrade key {assignment} (then release)")

    problem = keybuild.private_key_problem(root, assignment)
    private_path = files.private_key_path(root, assignment)
    if problem is None and private_path.read_text(encoding="utf-8") != built.private_text:
        problem = (f"the private key of {assignment} differs from what the solutions give now: "
                   f"run `calcgrade release {assignment}`")
    add("private key is current (grading refuses without it)", problem is None, problem or "")

    private, public = json.loads(built.private_text), json.loads(built.public_text)
    checked, problems = _parity_problems(private, public)
    add("public-key verdicts equal private-key verdicts", not problems,
        "; ".join(problems[:5]) if problems else f"{checked} answers compared")

    with tempfile.TemporaryDirectory(prefix="calcgrade-validate-") as tmp:
        copy = Path(tmp) / "course"
        (copy / "solutions").mkdir(parents=True)
        shutil.copy2(root / "nbgrader_config.py", copy / "nbgrader_config.py")
        shutil.copytree(root / "solutions" / assignment, copy / "solutions" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        files.public_key_path(copy, assignment).write_text(built.public_text, encoding="utf-8")
        api = coursedir.nbgrader_api(copy, db_url=f"sqlite:///{copy / 'scratch.db'}")
        with coursedir.scripts_on_path():
            result = api.generate_assignment(assignment, force=True, create=True)
        if not result.get("success"):
            add("release is current", False, "nbgrader generate_assignment failed on a copy of the course")
        else:
            diffs = release_differences(root, assignment, copy)
            add("release is current", not diffs,
                "; ".join(diffs[:5]) if diffs else "exercises/ matches nbgrader's output")

    released = sorted((root / "exercises" / assignment).glob("*.ipynb"))
    if not released:
        add("released notebooks score 0", False, f"nothing released in exercises/{assignment}")
    for nb in released:
        card = scorecard.score_notebook(nb)
        escaped = [q.qid for q in card.questions if q.status in ("error", "missing")]
        ok = card.earned == 0 and not escaped and not card.run_error
        detail = f"{card.earned:g}/{card.max_points:g} points"
        if escaped:
            detail += f"; errors escape the checks of {', '.join(escaped)}"
        if card.run_error:
            detail += f"; {card.run_error}"
        add(f"released {nb.name} scores 0 and runs cleanly", ok, detail)

    leaks = [p for p in course.answer_bearing_files(root) if f"exercises/{assignment}/" in p]
    add("nothing answer-bearing is released", not leaks, "; ".join(leaks))
    return findings


def validate_course(course_root: Path, assignments: Iterable[str] | None = None) -> list[Finding]:
    root = Path(course_root).resolve()
    names = list(assignments) if assignments else coursedir.assignments_of(root)
    findings: list[Finding] = []
    for name in names:
        if not (root / "solutions" / name).is_dir():
            findings.append(Finding(name, "assignment exists", False, f"no folder solutions/{name}"))
            continue
        findings.extend(validate_assignment(root, name))
    return findings


def format_report(findings: list[Finding]) -> str:
    lines = []
    current = None
    for f in findings:
        if f.assignment != current:
            current = f.assignment
            lines.append(f"{current}")
        mark = "✓" if f.ok else "✗"
        lines.append(f"  {mark} {f.check}" + (f" — {f.detail}" if f.detail else ""))
    bad = sum(not f.ok for f in findings)
    lines.append("")
    lines.append("course is consistent" if not bad else f"{bad} problem(s) found")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course-root", type=Path, default=None,
                        help="course folder (default: the nearest folder at or above here with nbgrader_config.py)")
    parser.add_argument("assignment", nargs="*", help="only these assignments (default: all)")


def validate_main(args: argparse.Namespace) -> int:
    root = coursedir.course_of_command("validate", args.course_root, args.assignment)
    if root is None:
        return 2
    report = validate_course(root, args.assignment or None)
    print(format_report(report))
    return 0 if all(item.ok for item in report) else 1
