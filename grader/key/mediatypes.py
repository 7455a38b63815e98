"""The media types of calcgrade's rich outputs: the one place they are spelt.

A verdict display (``check()`` in a kernel, the trusted grader's replacement output), an answer payload
(what ``check()`` hands over under grading) and a hint are told apart from ordinary outputs by these
types, by the kernel side that writes them and by the course side (trusted grading, scorecards, the
feedback page) that reads them.  One definition keeps writer and readers from drifting apart.
"""

from __future__ import annotations

__all__ = ["VERDICT_MIME", "ANSWER_MIME", "HINT_MIME"]

VERDICT_MIME = "application/vnd.calcgrade.verdict+json"   # a verdict shown in the notebook
ANSWER_MIME = "application/vnd.calcgrade.answer+json"     # {"qid", "answer": <wire>, "v"} under grading
HINT_MIME = "application/vnd.calcgrade.hint+json"         # a hint shown by hint()
