"""The files of a submission, read and copied without ever following a link.

A submission folder is written by a student (through the exchange, or by hand on a shared machine), so
everything in it is hostile: a link to ``../../../.calcgrade/keys/<assignment>.json`` would hand the
private key to the sandbox and then to the feedback folder; a notebook that is a link to a classmate's
would be graded as the classmate's work; a FIFO would block the grader forever.  Every path is therefore
opened with ``O_NOFOLLOW`` and checked with ``lstat``/``fstat``: only directories and regular files are
accepted, a link or any other kind of file refuses the whole submission with one sentence naming it, and
the number and size of the files are capped.

Both grading paths and feedback generation call ``check_submission`` (or ``copy_submission`` /
``read_files``, which call it): ``calcgrade autograde``'s preparation, stock nbgrader's
``SandboxedExecute`` step, and the feedback step.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from pathlib import Path
from typing import Any, Iterator, Mapping

from grader.course.grading.trusted import GradingRefused

__all__ = ["MAX_FILES", "MAX_FILES_BYTES", "MAX_FILE_BYTES", "link_problem", "check_submission",
           "read_files", "copy_submission", "read_notebook_text", "submitted_folder", "check_feedback_source"]

MAX_FILES = 500                     # files in one submission folder
MAX_FILES_BYTES = 64 << 20          # their total size
MAX_FILE_BYTES = 32 << 20           # one file (a notebook with plots is a few MB)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _entries(folder: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """(relative path, lstat) of everything below ``folder``, never entering a linked folder."""
    stack = [Path()]
    while stack:
        rel = stack.pop()
        with os.scandir(folder / rel) as it:
            for entry in sorted(it, key=lambda e: e.name):
                info = entry.stat(follow_symlinks=False)
                yield rel / entry.name, info
                if stat.S_ISDIR(info.st_mode):
                    stack.append(rel / entry.name)


def _kind(info: os.stat_result) -> str | None:
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return "a link"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "a special file (pipe, socket or device)"


def link_problem(folder: Path, *, below: Path | None = None) -> str | None:
    """Why the submission in ``folder`` cannot be read safely (a sentence naming the path), or None.

    ``below``: a folder ``folder`` lies in (e.g. the course's submitted/); no component between the two
    may be a link either (a student's folder that is a link to another student's)."""
    folder = Path(folder)
    if below is not None:
        try:
            parts = folder.relative_to(below).parts
        except ValueError:
            parts = ()
        step = Path(below)
        for part in parts:
            step = step / part
            if step.is_symlink():
                return (f"the submission folder {step.relative_to(below)} is a link; links are not graded "
                        "(submit the files themselves)")
    elif folder.is_symlink():
        return f"the submission folder {folder.name} is a link; links are not graded (submit the files themselves)"
    if not folder.is_dir():
        return None
    count = total = 0
    for rel, info in _entries(folder):
        kind = _kind(info)
        if kind is not None:
            return (f"the submission holds {kind}, {rel.as_posix()}; links and special files are not graded "
                    "(submit the file itself)")
        if stat.S_ISREG(info.st_mode):
            count += 1
            total += info.st_size
            if info.st_size > MAX_FILE_BYTES:
                return f"the submitted file {rel.as_posix()} is larger than {MAX_FILE_BYTES >> 20} MB"
            if count > MAX_FILES or total > MAX_FILES_BYTES:
                return (f"the submission folder holds more than {MAX_FILES} files or {MAX_FILES_BYTES >> 20} MB")
    return None


def check_submission(folder: Path, *, below: Path | None = None, copied_to: Path | None = None) -> None:
    """Raises GradingRefused with ``link_problem``'s sentence when there is one.

    ``copied_to``: a folder that a link-following copy (stock nbgrader's) already filled from ``folder``;
    the copies of links and special files are removed from it before refusing, so that neither the sandbox
    nor the feedback folder can receive what a link pointed to."""
    problem = link_problem(folder, below=below)
    if problem:
        if copied_to is not None:
            _remove_copies_of_links(Path(folder), Path(copied_to))
        raise GradingRefused(problem)


def _remove_copies_of_links(src: Path, dest: Path) -> None:
    if not src.is_dir() or src.is_symlink() or not dest.is_dir():
        return
    for rel, info in list(_entries(src)):
        if _kind(info) is None:
            continue
        target = dest / rel
        if target.is_dir() and not target.is_symlink():
            import shutil

            shutil.rmtree(target, ignore_errors=True)
        elif target.is_symlink() or target.exists():
            target.unlink()


def _read_regular(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file, opened without following a link (the check and the read are one)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        raise GradingRefused(f"{path.name} cannot be read safely ({exc.strerror or exc}); links are not graded") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise GradingRefused(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise GradingRefused(f"the submitted file {path.name} is larger than {limit >> 20} MB")
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise GradingRefused(f"the submitted file {path.name} is larger than {limit >> 20} MB")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _selected(rel: Path, skip: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    if any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in ignore):
        return False
    return not any(fnmatch.fnmatch(rel.name, pat) for pat in skip)


def read_files(folder: Path, *, skip: tuple[str, ...] = ("*.ipynb",), ignore: tuple[str, ...] = (),
               below: Path | None = None) -> dict[str, bytes]:
    """The regular files below ``folder`` (relative path -> bytes) after ``check_submission``."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        check_submission(folder, below=below)
        return {}
    check_submission(folder, below=below)
    files: dict[str, bytes] = {}
    for rel, info in _entries(folder):
        if stat.S_ISREG(info.st_mode) and _selected(rel, skip, tuple(ignore)):
            files[rel.as_posix()] = _read_regular(folder / rel)
    return files


def copy_submission(src: Path, dest: Path, *, ignore: tuple[str, ...] = (), skip: tuple[str, ...] = ("*.ipynb",),
                    below: Path | None = None) -> None:
    """Copy a submission's regular files (not the notebooks: they are read and restored) into ``dest``,
    refusing the submission when it holds a link, a special file or too much."""
    for rel, data in read_files(src, skip=skip, ignore=ignore, below=below).items():
        target = Path(dest) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)


def read_notebook_text(path: Path) -> str:
    """A submitted notebook's text, refused when the notebook is a link or not a regular file."""
    return _read_regular(Path(path)).decode("utf-8", errors="replace")


def _coursedir(config: Any, course_root: Path) -> Any:
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    coursedir.root = str(course_root)
    return coursedir


def submitted_folder(config: Any, course_root: Path, student: str, assignment: str) -> tuple[Path, Path]:
    """(the course's submitted/ folder, this student's submission of ``assignment`` in it), as nbgrader's
    CourseDirectory in ``config`` names them."""
    coursedir = _coursedir(config, course_root)
    return (Path(coursedir.root) / coursedir.submitted_directory,
            Path(coursedir.format_path(coursedir.submitted_directory, student, assignment)))


def check_feedback_source(config: Any, resources: Mapping[str, Any], course_root: Path) -> None:
    """Feedback is made from autograded/, which nbgrader copies into feedback/ with a link-following copy:
    refuse when the autograded folder or the student's submission holds a link, removing the copies."""
    path = (resources.get("metadata") or {}).get("path")
    if not path:
        return  # not nbgrader's feedback step (a notebook exported on its own): no submission folder to check
    autograded = Path(path)
    ids = resources.get("nbgrader") or {}
    student, assignment = str(ids.get("student", "")), str(ids.get("assignment", ""))
    if not (student and assignment):
        check_submission(autograded)
        return
    root = Path(course_root)
    coursedir = _coursedir(config, root)
    feedback = Path(coursedir.format_path(coursedir.feedback_directory, student, assignment))
    check_submission(autograded, copied_to=feedback)
    below, folder = submitted_folder(config, root, student, assignment)
    if folder.exists() or folder.is_symlink():
        check_submission(folder, below=below, copied_to=feedback)
