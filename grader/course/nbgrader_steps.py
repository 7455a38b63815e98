"""Old dotted name of ``grader.course.grading.nbgrader_steps``, kept for course configs written before the
course layer was split into sub-packages (``nbgrader_config.py`` names preprocessors by dotted path).

An alias only: nothing in the package imports it; new configs name ``grader.course.grading.nbgrader_steps``.
"""

from grader.course.grading.nbgrader_steps import (  # noqa: F401  (re-exported for nbgrader's config)
    CheckSubmissionCells,
    SandboxedExecute,
    SaveTrustedGrades,
    TrustedGrade,
)
