"""Release preparation: drop the instructor's key declarations from student notebooks.

Why: a function question declares its reference *after* the function, in a solution region of
its own (``question("mse", mse, kind="function", ...)``).  nbgrader would replace that region by
the code stub, leaving a stray ``pass  # YOUR CODE HERE`` line below the function that invites
the student to write in the wrong place.  A solution region that holds nothing but ``question()``
calls (and the instructor's private helpers, functions named ``_like_this`` that build inputs or
named mistakes) carries no answer the student must give, so it is removed whole before nbgrader's
``ClearSolutions`` runs (configured in nbgrader_config.py).

The same stray stub appears below a placeholder answer: ``d_chain = ...`` followed by a solution
region becomes ``d_chain = ...`` and ``pass  # YOUR CODE HERE``, two places to answer where the
notebook's intro names one.  ``DropPlaceholderStubs`` runs after ``ClearSolutions`` and removes a
stub line that directly follows such a placeholder assignment.
"""

from __future__ import annotations

import ast
import re
import textwrap

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode
from nbgrader.utils import is_solution

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


def _only_declarations(code: str) -> bool:
    """True when ``code`` is ``question(...)`` calls and private helper functions, nothing else."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return False
    if not tree.body:
        return False
    calls = 0
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name.startswith("_"):
            continue
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        calls += 1
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "question"):
            return False
    return calls > 0


def drop_declaration_regions(source: str) -> str:
    """``source`` without the solution regions that only declare key entries."""
    lines = source.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == BEGIN:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == END), None)
            if end is not None and _only_declarations("\n".join(lines[i + 1:end])):
                i = end + 1
                continue
        out.append(lines[i])
        i += 1
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


class DropKeyDeclarations(NbGraderPreprocessor):
    """nbgrader preprocessor: remove declaration-only solution regions from solution cells."""

    def preprocess_cell(self, cell, resources, cell_index):  # type: ignore[no-untyped-def]
        if cell.cell_type == "code" and is_solution(cell):
            cell.source = drop_declaration_regions(cell.source)
        return cell, resources


_PLACEHOLDER = re.compile(r"^\s*[A-Za-z_]\w*\s*=\s*\.\.\.\s*(#.*)?$")


def drop_placeholder_stubs(source: str, stub: str) -> str:
    """``source`` without stub lines that directly follow a placeholder assignment ``name = ...``.

    The placeholder already says where the answer goes; a stub below it would be a second place.
    """
    out: list[str] = []
    for line in source.split("\n"):
        if line.strip() == stub.strip() and out and _PLACEHOLDER.match(out[-1]):
            continue
        out.append(line)
    return "\n".join(out)


class DropPlaceholderStubs(NbGraderPreprocessor):
    """nbgrader preprocessor (after ClearSolutions): remove the stub below a placeholder answer."""

    stub = Unicode("pass  # YOUR CODE HERE", help="the code stub ClearSolutions leaves").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):  # type: ignore[no-untyped-def]
        if cell.cell_type == "code" and is_solution(cell):
            cell.source = drop_placeholder_stubs(cell.source, self.stub)
        return cell, resources
