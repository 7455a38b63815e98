"""nbgrader configuration of the Calculus for Machine Learning course.

Instructors edit the notebooks in ``solutions/``; ``nbgrader generate_assignment``
(or ``calcgrade release``) writes the student versions to ``exercises/``.
"""

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "calculus-for-ml"
c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# The stub left where a solution was removed.  ``...`` keeps the cell runnable
# (also inside a function body), so a released notebook runs top to bottom and
# ``check`` reports "not answered yet" instead of a traceback.
c.ClearSolutions.code_stub = {"python": "...  # YOUR CODE HERE"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# One cell may not hold the grading of a whole class hostage: a student's
# infinite loop is stopped after this many seconds and scores 0 for that cell.
c.Execute.timeout = 20
c.Execute.interrupt_on_timeout = True
