"""Old dotted name of ``grader.course.grading.feedbackhtml``, kept for course configs written before the
course layer was split into sub-packages (``nbgrader_config.py`` names preprocessors by dotted path).

An alias only: nothing in the package imports it; new configs name ``grader.course.grading.feedbackhtml``.
"""

from grader.course.grading.feedbackhtml import RenderFeedback, feedback_template_dirs  # noqa: F401
