"""The instructor's course cycle: ``calcgrade release`` (and what ``validate`` checks of a release).

Why a layer over nbgrader: nbgrader releases whatever is in ``solutions/``,
even a solution that fails its own checks, and it cannot tell whether the
answer keys and the released notebooks still match the solutions.  Here a
release first rebuilds the keys (which runs every solution and refuses a
solution that does not earn full marks), and ``validate`` proves the whole
course consistent before students see it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from grader.course.autograde import course_environment, course_path, load_api
from grader.course.keybuild import assignments_of as assignments  # noqa: F401  (re-exported for the course cycle)
from grader.key.files import PUBLIC_KEY_NAME


class ReleaseRefused(RuntimeError):
    """A release that would hand students a broken or inconsistent assignment."""


def project_root() -> Path:
    """The course this package was installed from (the folder of nbgrader_config.py)."""
    here = Path(__file__).resolve().parents[2]
    if (here / "nbgrader_config.py").exists() and (here / "solutions").is_dir():
        return here
    cwd = Path.cwd()
    for folder in [cwd, *cwd.parents]:
        if (folder / "nbgrader_config.py").exists() and (folder / "solutions").is_dir():
            return folder
    raise FileNotFoundError(
        "no course found: run calcgrade from a folder with nbgrader_config.py and solutions/"
    )


def release(course_root: Path, assignment: str, *, validate: bool = True) -> None:
    """Build the keys (refusing failing solutions), then generate the student version.

    With ``validate`` the released notebooks are also run and must score 0.
    """
    from grader.course import keybuild

    course_root = Path(course_root).resolve()
    try:
        keybuild.build_keys(course_root, assignment)
    except Exception as exc:  # the key builder explains what failed
        raise ReleaseRefused(f"{assignment}: {exc}") from exc
    api = load_api(course_root)
    with course_path():
        result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        raise ReleaseRefused(f"{assignment}: nbgrader generate_assignment failed:\n{result.get('log', '')}")
    if validate:
        problems = released_scores_zero(course_root, assignment)
        if problems:
            raise ReleaseRefused(f"{assignment}: " + "; ".join(problems))


def generate_feedback(course_root: Path, assignment: str) -> bool:
    """nbgrader generate_feedback for every autograded student of the assignment."""
    api = load_api(course_root)
    with course_path():
        result = api.generate_feedback(assignment, force=True)
    return bool(result.get("success"))


def export_grades(course_root: Path) -> Path:
    """nbgrader export to grades.csv in the course folder."""
    course_root = Path(course_root).resolve()
    target = course_root / "grades.csv"
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", "--to", str(target)],
        cwd=str(course_root),
        env=course_environment(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return target


def released_scores_zero(course_root: Path, assignment: str) -> list[str]:
    """Problems found running the released notebooks unchanged (they must score 0)."""
    from grader.course import scorecard

    problems = []
    for nb in sorted((Path(course_root) / "exercises" / assignment).glob("*.ipynb")):
        card = scorecard.score_notebook(nb)
        if card.earned:
            problems.append(f"{nb.name} scores {card.earned:g} points unanswered")
        escaped = [q.qid for q in card.questions if q.status in ("error", "missing")]
        if escaped or card.run_error:
            problems.append(f"{nb.name}: errors escape the checks of {', '.join(escaped) or card.run_error}")
    return problems


def answer_bearing_files(course_root: Path) -> list[str]:
    """Files in released folders that must not be there."""
    found = []
    release_dir = Path(course_root) / "exercises"
    if not release_dir.exists():
        return found
    for path in sorted(release_dir.rglob("*")):
        if path.is_dir() or ".ipynb_checkpoints" in path.parts:
            continue
        rel = path.relative_to(course_root)
        if path.suffix == ".ipynb":
            text = path.read_text(encoding="utf-8", errors="replace")
            if "BEGIN SOLUTION" in text or "question(" in text:
                found.append(f"{rel}: contains solution code")
        elif path.name != PUBLIC_KEY_NAME:
            found.append(f"{rel}: not a notebook or the public key")
        elif '"reference"' in path.read_text(encoding="utf-8", errors="replace"):
            found.append(f"{rel}: the public key holds a reference answer")
    return found


# --------------------------------------------------------------------------- CLI


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course-root", type=Path, default=None,
                        help="course folder (default: the one holding nbgrader_config.py)")
    if name == "release":
        parser.add_argument("assignment", nargs="+", help="assignment folder name(s) in solutions/")
    else:
        parser.add_argument("assignment", nargs="*", help="only these assignments (default: all)")


def release_main(args: argparse.Namespace) -> int:
    root = (args.course_root or project_root()).resolve()
    status = 0
    for assignment in args.assignment:
        if not (root / "solutions" / assignment).is_dir():
            print(f"✗ {assignment}: no such assignment in {root / 'solutions'}", file=sys.stderr)
            status = 1
            continue
        try:
            release(root, assignment)
        except ReleaseRefused as exc:
            print(f"✗ release refused: {exc}", file=sys.stderr)
            status = 1
        else:
            print(f"✓ {assignment} released to {root / 'exercises' / assignment}")
    return status

