"""``nbgrader collect`` without following links: the course's exchange is written by students.

nbgrader's collect copies each submission out of the exchange's inbound folder with ``shutil.copytree``,
which copies what a link points to: a student who submits a link to ``../../.calcgrade/keys/...`` (or to a
classmate's notebook) would have the instructor copy that file into submitted/, as an ordinary file no later
check can tell from a real one.  ``SafeCollect`` (configured in nbgrader_config.py as
``c.ExchangeFactory.collect``) refuses such a submission with a sentence naming the link and copies the
others with the project's no-follow copy (``submission_files``), every file opened with ``O_NOFOLLOW``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbgrader.exchange.default.collect import ExchangeCollect

from grader.course.grading.submission_files import copy_submission, link_problem
from grader.course.grading.trusted import GradingRefused

__all__ = ["SafeCollect"]


class SafeCollect(ExchangeCollect):
    """nbgrader's collect with a copy that never follows a link."""

    def do_copy(self, src: Any, dest: Any, log: Any = None) -> None:
        problem = link_problem(Path(src))
        if problem:
            self.log.error("Not collected: %s (%s)", src, problem)
            return
        try:
            copy_submission(Path(src), Path(dest), ignore=tuple(self.coursedir.ignore), skip=())
        except GradingRefused as exc:  # a file was swapped for a link while it was copied
            self.log.error("Not collected: %s (%s)", src, exc)
