"""Build hook: the wheel carries a course to demonstrate and to start from (the course's nbgrader_config.py
and the starter assignment in starter/solutions/).

Copied into ``grader/course/data/course`` of the build at packaging time, so ``calcgrade demo`` and
``calcgrade init`` work after a plain ``pip install``.  The real assignments' solutions/ are never packaged:
students install this package too, and what students receive must hold no reference answer (the starter
assignment's answers are public on purpose).  An editable install reads the checkout instead.
``CALCGRADE_WHEEL_WITHOUT_COURSE=1`` builds a wheel without even the starter.  Everything else is configured
in pyproject.toml.
"""

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


class BuildPyWithCourse(build_py):
    """build_py, then the course as package data of grader.course."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or os.environ.get("CALCGRADE_WHEEL_WITHOUT_COURSE"):
            return
        if not (HERE / "nbgrader_config.py").is_file() or not (HERE / "starter" / "solutions").is_dir():
            return  # building from a tree without the course (nothing to carry)
        target = Path(self.build_lib) / "grader" / "course" / "data" / "course"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copy2(HERE / "nbgrader_config.py", target / "nbgrader_config.py")
        shutil.copytree(HERE / "starter" / "solutions", target / "solutions", ignore=IGNORED)


setup(cmdclass={"build_py": BuildPyWithCourse})
