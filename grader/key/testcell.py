"""Which question a test cell checks: the one reading of that fact, used by every part that needs it.

The key builder (points per question), the trusted grader (which answer a graded cell must have handed
over), the feedback page (the score index) and the release check (where a problem is) all ask this
module, so they cannot disagree.  The source is parsed with ``ast``, never searched with a pattern:
``# check("old", x)`` in a comment or ``"check('q', x)"`` in a string checks nothing, while both
``check("q", x)`` and ``check(qid="q", value=x)`` (also ``grader.check(...)``) check question ``q``.
A question named by an expression (``check(name, x)``) cannot be read without running the cell: such a
cell is reported, never guessed.  IPython line magics and shell escapes are read as blank statements so a
``%matplotlib inline`` line does not make a test cell unreadable.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

__all__ = ["CheckedQuestion", "checked_question", "call_name", "NO_CHECK"]

NO_CHECK = 'the test cell calls no check("<question>", ...): grade it by hand'


@dataclass(frozen=True)
class CheckedQuestion:
    """What a cell's source says about the question it checks.

    ``qid``: the one question checked, or None.  ``problem``: why no single question can be read from a
    cell that tries to check one (unparsable, several questions, a question named by an expression); empty
    when the cell checks one question or makes no check call at all.  ``named``: every question named by a
    string, sorted (several when the cell is ambiguous)."""

    qid: str | None
    problem: str = ""
    named: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """Why this cell cannot be graded automatically ("" when ``qid`` is set)."""
        if self.qid is not None:
            return ""
        return self.problem or NO_CHECK


def _without_magics(source: str) -> str:
    """The source with IPython line magics and shell escapes made ``pass`` (line numbers kept)."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            lines[i] = line[: len(line) - len(stripped)] + "pass"
    return "\n".join(lines)


def call_name(node: ast.AST) -> str | None:
    """The name a call is made by (``check`` for ``check(...)`` and ``grader.check(...)``); None otherwise."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _qid_argument(node: ast.Call) -> ast.expr | None:
    """The expression that names the question: the first positional argument, else ``qid=``."""
    if node.args and not isinstance(node.args[0], ast.Starred):
        return node.args[0]
    for keyword in node.keywords:
        if keyword.arg == "qid":
            return keyword.value
    return None


def checked_question(source: str, *, calls: tuple[str, ...] = ("check",)) -> CheckedQuestion:
    """The question the cell with this ``source`` checks, read from its ``check("<qid>", ...)`` call.

    ``calls``: the function names that name a question (the release check also reads a solution cell's
    ``question("<qid>", ...)`` to label it).  Never raises.
    """
    if not isinstance(source, str):
        source = "".join(source) if isinstance(source, list) else str(source)
    if source.lstrip().startswith("%%"):
        return CheckedQuestion(None, "the test cell is a cell magic, not Python: grade it by hand")
    try:
        tree = ast.parse(_without_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return CheckedQuestion(None, f"the test cell cannot be parsed ({exc.__class__.__name__})")
    named: set[str] = set()
    unnamed = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or call_name(node) not in calls:
            continue
        arg = _qid_argument(node)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            named.add(arg.value)
        else:
            unnamed += 1
    found = tuple(sorted(named))
    if len(found) > 1:
        return CheckedQuestion(None, f"the test cell checks several questions ({', '.join(found)}): grade it by hand",
                               found)
    if unnamed:
        return CheckedQuestion(None, "the test cell's check(...) does not name its question with a string: "
                                     "grade it by hand", found)
    if found:
        return CheckedQuestion(found[0], "", found)
    return CheckedQuestion(None)
