"""The ``calcgrade`` command line: one sub-command per job of the course cycle.

Each sub-command lives in the module named after its concept; this file only
parses arguments and dispatches, so ``calcgrade --help`` stays fast.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from typing import Callable, NoReturn, Sequence

# sub-command -> (module, function taking the parsed namespace, returning an exit code)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": ("grader.course.scorecard", "main", "run notebooks in a fresh kernel and print a scorecard"),
    "key": ("grader.course.release.keybuild", "main", "build the private and public answer keys from solutions/"),
    "release": ("grader.course.release.publish", "release_main", "validate solutions, build keys, release to exercises/"),
    "validate": ("grader.course.release.validation", "validate_main", "check solutions, releases and keys are consistent"),
    "autograde": ("grader.course.grading.autogradecli", "main", "grade submissions: sandboxed execution, trusted verdicts"),
    "report": ("grader.course.report.pages", "main", "what the class got wrong: an offline HTML page (or --json)"),
    "export": ("grader.course.report.export", "main", "grades as CSV: nbgrader's columns with a status, or Canvas/Moodle import"),
    "student-setup": ("grader.course.release.studentsetup", "main",
                      "set a student's Jupyter up for the course: its exchange, no instructor menus"),
    "variant": ("grader.course.release.variantnb", "main",
                "write the notebook one student sees, with their own numbers (--solution: answered)"),
    "init": ("grader.course.release.init", "main", "write a fresh course folder to start from"),
    "demo": ("grader.course.demo.run", "main", "run a whole course cycle on the bundled sample class"),
}


def _configure(name: str, sub: argparse.ArgumentParser) -> None:
    module_name, _, _ = _COMMANDS[name]
    module = importlib.import_module(module_name)
    add_arguments: Callable[[str, argparse.ArgumentParser], None] | None = getattr(
        module, "add_arguments", None
    )
    if add_arguments is not None:
        add_arguments(name, sub)


def version() -> str:
    """The installed distribution's version."""
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version("calcgrade")
    except PackageNotFoundError:  # pragma: no cover  (run from a source tree that was never installed)
        return "(not installed)"


class _VersionAction(argparse.Action):
    """``--version``, read from the installed distribution only when asked: ``importlib.metadata`` costs about
    40 ms, which every command would otherwise pay at start (argparse's own version action formats it up front)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str = "show the version and exit") -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        print(f"calcgrade {version()}")
        parser.exit()


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calcgrade",
        description="Auto-graded exercises for Calculus for Machine Learning.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, _, help_text) in _COMMANDS.items():
        sub = subs.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            _configure(name, sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from grader.core.extras import missing_extra, require

    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    if selected not in _COMMANDS:
        selected = None
    try:
        if selected is not None:  # every command is the instructor's (a student needs only check() in a kernel)
            require("course", "this command")
        parser = build_parser(selected)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if getattr(args, "scheduler", None):
            require("cluster", "grading on a Dask cluster (--scheduler)")
        module_name, func_name, _ = _COMMANDS[args.command]
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(args) or 0)
    except ImportError as exc:
        missing = missing_extra(exc, "this command")
        if missing is None:
            raise
        print(f"calcgrade{' ' + selected if selected else ''}: {missing.message}", file=sys.stderr)
        return 2


def run() -> NoReturn:
    """The ``calcgrade`` command: ``main`` in a process of its own, which then ends.

    The heap is frozen first (``gc.freeze``): the interpreter's shutdown would otherwise walk every object of
    nbgrader, SQLAlchemy and Jupyter looking for cycles to collect, a quarter of a second after the last line
    of every command, for memory the process hands back whole.  (Only here: ``main`` is also called by code
    that goes on running.)"""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
