"""nbgrader configuration of the Calculus for Machine Learning course.

Instructors edit the notebooks in ``solutions/``; ``nbgrader generate_assignment``
(or ``calcgrade release``) writes the student versions to ``exercises/``.
"""

import os

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "calculus-for-ml"
# The course root is the folder of this file, wherever nbgrader is started from.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# The gradebook: nbgrader's default is the SQLite file gradebook.db in the course folder.  A large course
# (or grading on a cluster) keeps it in PostgreSQL instead; every nbgrader and calcgrade command reads this:
# c.CourseDirectory.db_url = "postgresql://grader@dbhost:5432/calculus_ml"   (password in ~/.pgpass)

# nbgrader's exchange: `calcgrade release` publishes each assignment here (and creates the folder with
# the permissions nbgrader needs), students fetch and submit through it, `nbgrader collect` picks the
# submissions up.  One machine: a folder in the course.  A JupyterHub course sets its shared exchange
# folder here instead, and students' nbgrader_config.py names the same folder.
c.Exchange.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exchange")
# Students write the exchange: `nbgrader collect` must not follow a link they put there (a link to the private
# key, to a classmate's notebook).  calcgrade's collect refuses a submission that holds one, naming it.
try:
    import grader.course.grading.safecollect  # noqa: F401  (calcgrade installed: the safe collect)
    c.ExchangeFactory.collect = "grader.course.grading.safecollect.SafeCollect"
except ImportError:
    pass

# The stub left where a solution was removed.  ``pass`` keeps the cell runnable
# (also inside a function body) and prints nothing, so a released notebook runs top to bottom and
# ``check`` reports "not answered yet" instead of a traceback.
c.ClearSolutions.code_stub = {"python": "pass  # YOUR CODE HERE"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# One cell may not hold the grading of a whole class hostage: a student's
# infinite loop is stopped after this many seconds (honest cells take well under one) and scores 0 for that cell.
c.Execute.timeout = 10
c.Execute.interrupt_on_timeout = True

# Trusted autograding (also for stock `nbgrader autograde`): the students' code runs in a sandbox on
# calcgrade's warm executor and only hands over answers; the scores are computed outside it, against the
# private key, and written by this process.  nbgrader's own sanitising steps still restore locked and test
# cells from the gradebook; CheckSubmissionCells first refuses duplicated, unknown or deleted cells.
c.SandboxedExecute.cell_timeout = 10
c.SandboxedExecute.notebook_timeout = 300
c.SandboxedExecute.memory_bytes = 2 << 30
c.Autograde.sanitize_preprocessors = [
    "grader.course.grading.nbgrader_steps.CheckSubmissionCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "grader.course.grading.sharedgradebook.OverwriteKernelspec",
    "grader.course.grading.sharedgradebook.OverwriteCells",
    "grader.course.grading.nbgrader_steps.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "grader.course.grading.nbgrader_steps.SandboxedExecute",
    "grader.course.grading.nbgrader_steps.TrustedGrade",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "grader.course.grading.nbgrader_steps.SaveTrustedGrades",
    "grader.course.grading.sharedgradebook.AssignLatePenalties",
    "grader.course.grading.nbgrader_steps.CheckCellMetadata",
]

# Feedback goes back to students: strip any hidden-test region before rendering,
# so hidden material never leaks through the returned HTML.  RenderFeedback renders every formula to
# MathML (the page reads the same without the internet: no MathJax from a CDN), drops the score each
# test cell echoes, and names test cells by their question in the page's score index (our template).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "grader.course.grading.feedbackhtml.RenderFeedback",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
try:
    from grader.course.grading.feedbackhtml import feedback_template_dirs

    c.HTMLExporter.extra_template_basedirs = feedback_template_dirs()
except ImportError:  # calcgrade not installed here: nbgrader's own feedback page
    pass

# nbgrader's release pipeline, with one step added before ClearSolutions: solution regions that
# only declare key entries (question(...) calls) are removed whole, not replaced by a stub; and one
# after it: the stub below a placeholder answer (`d_chain = ...`) is removed.
c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "grader.course.release.releaseprep.DropKeyDeclarations",
    "nbgrader.preprocessors.ClearSolutions",
    "grader.course.release.releaseprep.DropPlaceholderStubs",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]
