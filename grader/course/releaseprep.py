"""Release preparation: drop the instructor's key declarations from student notebooks.

Why: a function question declares its reference *after* the function, in a solution region of
its own (``question("mse", mse, kind="function", ...)``).  nbgrader would replace that region by
the code stub, leaving a stray ``pass  # YOUR CODE HERE`` line below the function that invites
the student to write in the wrong place.  A solution region that holds nothing but ``question()``
calls carries no answer the student must give, so it is removed whole before nbgrader's
``ClearSolutions`` runs (configured in nbgrader_config.py).
"""

from __future__ import annotations

import ast
import textwrap

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_solution

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


def _only_declarations(code: str) -> bool:
    """True when ``code`` is one or more ``question(...)`` calls and nothing else."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return False
    if not tree.body:
        return False
    for stmt in tree.body:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "question"):
            return False
    return True


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
