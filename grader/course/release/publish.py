"""The instructor's course cycle: ``calcgrade release`` (and what ``validate`` checks of a release).

Why a layer over nbgrader: nbgrader releases whatever is in ``solutions/``, even a solution that
fails its own checks, and when it fails halfway it has already removed the live release.  Here a
release is atomic: the keys and the student version are built in a staging folder, the released
notebooks are run there (they must score 0), and only then are the keys, ``exercises/<assignment>``
and the gradebook replaced.  A refused release changes nothing and says in a sentence what is wrong
and where.  The released assignment is then published to nbgrader's exchange for students to fetch.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.course import coursedir
from grader.course.release import releasecheck
from grader.key.files import PUBLIC_KEY_NAME


class ReleaseRefused(RuntimeError):
    """A release that would hand students a broken or inconsistent assignment; nothing was changed.

    ``summary``: one or two sentences (where and what); ``details``: everything, for ``-v``.
    """

    def __init__(self, assignment: str, summary: str, details: str = "") -> None:
        self.assignment = assignment
        self.summary = summary
        self.details = details
        super().__init__(f"{assignment}: {summary}")


@dataclass
class Released:
    """What a release did."""

    assignment: str
    exercises: Path
    questions: int
    points: float
    seconds: float
    published: Path | None = None   # the assignment's folder in the exchange
    publish_problem: str = ""       # why it was not published (the release itself stands)


def _prepare_write(path: Path, text: str) -> Path:
    """Write ``text`` next to ``path`` (same folder, so the final rename cannot cross file systems)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    return tmp


def _stage_course(root: Path, stage: Path, assignment: str, public_text: str) -> None:
    """A course folder holding only this assignment's solutions (with the new public key) and the config."""
    (stage / "solutions").mkdir(parents=True)
    shutil.copy2(root / coursedir.CONFIG_NAME, stage / coursedir.CONFIG_NAME)
    shutil.copytree(root / "solutions" / assignment, stage / "solutions" / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    (stage / "solutions" / assignment / PUBLIC_KEY_NAME).write_text(public_text, encoding="utf-8")


def _generate(stage: Path, assignment: str, db_url: str) -> None:
    """nbgrader generate_assignment in ``stage``, recording the assignment in the gradebook ``db_url``."""
    api = coursedir.nbgrader_api(stage, db_url=db_url)
    with coursedir.scripts_on_path():
        result = api.generate_assignment(assignment, force=True, create=True)
    if not result.get("success"):
        log = (result.get("log") or "") + "\n" + (result.get("error") or "")
        reason = releasecheck.summarise_nbgrader_log(log, "nbgrader generate_assignment failed")
        raise ReleaseRefused(assignment, f"nbgrader cannot generate the student version: {reason}", log.strip())


def _swap_in(new: Path, live: Path) -> None:
    """Replace the folder ``live`` by ``new``: moved next to it first (copied when on another file
    system), then two renames, the first undone if the second fails."""
    live.parent.mkdir(parents=True, exist_ok=True)
    incoming = live.parent / f".{live.name}.incoming"
    previous = live.parent / f".{live.name}.previous"
    for leftover in (incoming, previous):
        if leftover.exists():
            shutil.rmtree(leftover)
    try:
        os.replace(new, incoming)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copytree(new, incoming)
    if live.exists():
        os.replace(live, previous)
    try:
        os.replace(incoming, live)
    except OSError:
        if previous.exists():
            os.replace(previous, live)
        raise
    shutil.rmtree(previous, ignore_errors=True)


def release(
    course_root: Path,
    assignment: str,
    *,
    validate: bool = True,
    publish: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> Released:
    """Build the keys (refusing failing solutions and failing question tests), generate the student
    version, check it, then swap keys, release and gradebook in; publish to the exchange.

    With ``validate`` the released notebooks are run and must score 0.  Raises ``ReleaseRefused``
    (having changed nothing) when the assignment must not be released.
    """
    from grader.course.release import exchange
    from grader.course.release import keybuild
    from grader.key import files

    started = time.perf_counter()
    say = on_step or (lambda _text: None)
    root = Path(course_root).resolve()
    if not (root / "solutions" / assignment).is_dir():
        raise ReleaseRefused(assignment, f"there is no folder solutions/{assignment} in {root}")
    problems = releasecheck.assignment_problems(root, assignment)
    if problems:
        raise ReleaseRefused(assignment, releasecheck.first_sentence(problems), "\n".join(problems))
    say("run the solutions, build the keys, run the question tests")
    try:
        built = keybuild.build_keys(root, assignment, write=False)
    except keybuild.KeyBuildError as exc:
        raise ReleaseRefused(assignment, releasecheck.first_sentence(exc.problems), "\n".join(exc.problems)) from exc
    scratch_parent = root / ".calcgrade" / "staging"
    scratch_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{assignment}-", dir=scratch_parent) as tmp:
        scratch = Path(tmp)
        stage = scratch / "trial"
        say("generate the student version in a staging folder")
        _stage_course(root, stage, assignment, built.public_text)
        _generate(stage, assignment, db_url=f"sqlite:///{scratch / 'trial.db'}")
        if validate:
            say("run the student version: it must score 0")
            problems = released_scores_zero(stage, assignment)
            # solution code or a readable reference in what students get (data files are the author's call)
            problems += [p for p in answer_bearing_files(stage) if not p.endswith("not a notebook or the public key")]
            if problems:
                raise ReleaseRefused(assignment, releasecheck.first_sentence(problems), "\n".join(problems))
        say("record the assignment in the gradebook, swap in the keys and the student version")
        final = scratch / "final"
        _stage_course(root, final, assignment, built.public_text)
        _generate(final, assignment, db_url=coursedir.nbgrader_api(root).coursedir.db_url)
        keys = [(_prepare_write(path, text), path) for path, text in [
            (files.private_key_path(root, assignment), built.private_text),
            (files.public_key_path(root, assignment), built.public_text)]]
        try:
            _swap_in(final / "exercises" / assignment, root / "exercises" / assignment)
        except BaseException:
            for tmp_key, _ in keys:
                tmp_key.unlink(missing_ok=True)
            raise
        for tmp_key, path in keys:
            os.replace(tmp_key, path)
    result = Released(assignment, root / "exercises" / assignment, built.questions, built.points,
                      time.perf_counter() - started)
    if publish:
        say("publish to nbgrader's exchange")
        try:
            result.published = exchange.publish(root, assignment)
        except exchange.ExchangeError as exc:
            result.publish_problem = str(exc)
    return result


def generate_feedback(course_root: Path, assignment: str) -> bool:
    """nbgrader generate_feedback for every autograded student of the assignment."""
    api = coursedir.nbgrader_api(course_root)
    with coursedir.scripts_on_path():
        result = api.generate_feedback(assignment, force=True)
    return bool(result.get("success"))


def export_grades(course_root: Path) -> Path:
    """nbgrader export to grades.csv in the course folder."""
    course_root = Path(course_root).resolve()
    target = course_root / "grades.csv"
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", "--to", str(target)],
        cwd=str(course_root),
        env=coursedir.script_environment(),
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
            problems.append(f"the student version {assignment}/{nb.name} scores {card.earned:g} points unanswered "
                            "(is an answer outside its ### BEGIN/END SOLUTION region?)")
        escaped = [q.qid for q in card.questions if q.status in ("error", "missing")]
        if escaped or card.run_error:
            problems.append(f"the student version {assignment}/{nb.name}: errors escape the checks of "
                            f"{', '.join(escaped) or card.run_error}")
    return problems


def answer_bearing_files(course_root: Path) -> list[str]:
    """Files in released folders that must not be there (``releasecheck.answer_bearing_files``)."""
    return releasecheck.answer_bearing_files(course_root)


# --------------------------------------------------------------------------- CLI


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course-root", type=Path, default=None,
                        help="course folder (default: the nearest folder at or above here with nbgrader_config.py)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show each step, and every problem in full")
    if name == "release":
        parser.add_argument("assignment", nargs="+", help="assignment folder name(s) in solutions/")
        parser.add_argument("--no-publish", action="store_true",
                            help="do not publish to nbgrader's exchange (exercises/ and the keys only)")
    else:
        parser.add_argument("assignment", nargs="*", help="only these assignments (default: all)")


def release_main(args: argparse.Namespace) -> int:
    root = coursedir.course_of_command("release", args.course_root, args.assignment)
    if root is None:
        return 2
    verbose = bool(getattr(args, "verbose", False))
    status = 0
    for assignment in args.assignment:
        step = (lambda text, a=assignment: print(f"  {a}: {text}", flush=True)) if verbose else None
        try:
            done = release(root, assignment, publish=not getattr(args, "no_publish", False), on_step=step)
        except ReleaseRefused as exc:
            summary = exc.summary if exc.summary.endswith((".", "!", "?")) else exc.summary + "."
            print(f"✗ release of {assignment} refused: {summary}", file=sys.stderr)
            print(f"  Nothing was changed: exercises/{assignment}, the keys and the gradebook are as they were"
                  + ("." if verbose or not exc.details else " (-v for details)."), file=sys.stderr)
            if verbose and exc.details:
                print("\n".join("    " + line for line in exc.details.splitlines()), file=sys.stderr)
            status = 1
            continue
        except Exception as exc:  # an unexpected failure: still one sentence, the traceback with -v
            print(f"✗ release of {assignment} failed: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            if verbose:
                import traceback

                traceback.print_exc()
            status = 1
            continue
        print(f"✓ {assignment} released: {done.questions} questions, {done.points:g} points, "
              f"in {done.exercises} ({done.seconds:.0f} s)")
        if done.published is not None:
            from grader.course.release.studentsetup import command_for

            print(f"  published to nbgrader's exchange: {done.published}")
            print(f"  students set up their Jupyter once with: {command_for(root)}")
        elif done.publish_problem:
            print(f"  ✗ not published: {done.publish_problem}", file=sys.stderr)
            status = 1
    return status
