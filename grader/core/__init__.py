"""The comparison core: is this answer equal to that reference, and if not, why not.

Runs anywhere (a student's kernel, the trusted grader, a cluster worker); imports nothing of
Jupyter, nbgrader or plotting.  The entry point is ``grader.core.comparison.compare``.
"""
