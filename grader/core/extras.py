"""Which optional part of calcgrade a feature needs, said in one sentence when it is not installed.

``pip install calcgrade`` is what a student needs (``check()``, hints, plots).  The instructor's tools, the
Dask cluster and the PostgreSQL driver are extras (pyproject.toml): ``[course]``, ``[cluster]``,
``[postgres]``.  A feature whose extra is missing must not end in a traceback about a module the user never
heard of; it says which extra to install.  In the lowest layer because every layer above may need it, and it
imports nothing itself (``importlib.util.find_spec`` only looks).
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtra", "require", "missing_extra"]

# extra -> the modules calcgrade imports from it (the first missing one is named)
EXTRAS: dict[str, tuple[str, ...]] = {
    "course": ("nbgrader", "nbformat", "nbclient", "nbconvert", "traitlets", "sqlalchemy", "tqdm", "latex2mathml",
               "jupyterlab"),
    "cluster": ("distributed", "dask"),
    "postgres": ("psycopg2",),
}
_WHAT = {
    "course": "the instructor's part of calcgrade",
    "cluster": "grading on a Dask cluster",
    "postgres": "a PostgreSQL gradebook",
}


class MissingExtra(ImportError):
    """An optional part is not installed; ``message`` (also ``str()``) names the extra to install."""

    def __init__(self, extra: str, module: str, what: str = "") -> None:
        self.extra = extra
        self.message = (f"{what or _WHAT[extra]} needs calcgrade's [{extra}] extra ({module} is not installed): "
                        f"pip install 'calcgrade[{extra}]'")
        super().__init__(self.message, name=module)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(extra: str, what: str = "") -> None:
    """Raise ``MissingExtra`` unless every module of ``extra`` is installed; ``what`` names the feature."""
    for module in EXTRAS[extra]:
        if not _installed(module):
            raise MissingExtra(extra, module, what)


def missing_extra(exc: ImportError, what: str = "") -> MissingExtra | None:
    """The ``MissingExtra`` that explains ``exc`` (a module of an extra could not be imported), else None."""
    if isinstance(exc, MissingExtra):
        return exc
    root = (getattr(exc, "name", None) or "").split(".")[0]
    for extra, modules in EXTRAS.items():
        if root in modules:
            return MissingExtra(extra, root, what)
    return None
