"""Old dotted name of ``grader.course.release.releaseprep``, kept for course configs written before the
course layer was split into sub-packages (``nbgrader_config.py`` names preprocessors by dotted path).

An alias only: nothing in the package imports it; new configs name ``grader.course.release.releaseprep``.
"""

from grader.course.release.releaseprep import DropKeyDeclarations, DropPlaceholderStubs  # noqa: F401
