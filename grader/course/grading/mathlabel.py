"""A short spoken form of a LaTeX formula, the accessible name of its MathML.

Why: the feedback page and the class report write formulas as MathML (no script, no picture).
Screen readers with a math engine read the MathML itself; others, and every tool that lists a
page's names (axe, a browser's accessibility tree), use the ``alttext`` of ``<math>``.  LaTeX
source is a poor name ("2 x \\cos{\\left(x \\right)}"), so this turns the forms SymPy and the
course write into plain linear text ("2 x cos(x)", "(a)/(b)", "x^2", "sqrt(x)").  It is a label,
not a parser: anything unknown loses its backslash and stays.
"""

from __future__ import annotations

import re

__all__ = ["math_label"]

_WORDS = {
    "cdot": " times ", "times": " times ", "le": " <= ", "leq": " <= ", "ge": " >= ", "geq": " >= ", "lt": " < ", "gt": " > ",
    "ne": " not equal to ", "neq": " not equal to ", "to": " to ", "infty": "infinity", "partial": "partial ",
    "nabla": "gradient ", "sum": "sum ", "prod": "product ", "int": "integral ", "approx": " approximately ",
    "pm": " plus or minus ", "ldots": "...", "cdots": "...", "quad": " ", "qquad": " ", "log": "log",
}
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_GROUP = r"\{((?:[^{}]|\{[^{}]*\})*)\}"   # one brace group (one level of nesting inside)


def math_label(latex: str, limit: int = 160) -> str:
    """``latex`` as linear text a person can read aloud; at most ``limit`` characters."""
    text = latex.strip()
    text = re.sub(r"\\(?:left|right|big|Big|bigg|Bigg)\s*([()\[\]|.]|\\\{|\\\})", r"\1", text)
    text = text.replace("\\{", "{").replace("\\}", "}").replace("\\left.", "").replace("\\right.", "")
    for _ in range(4):  # nested fractions and roots, innermost last
        text = re.sub(r"\\[dt]?frac\s*" + _GROUP + r"\s*" + _GROUP, r"(\1)/(\2)", text)
        text = re.sub(r"\\sqrt\s*\[([^\]]*)\]\s*" + _GROUP, r"root \1 of (\2)", text)
        text = re.sub(r"\\sqrt\s*" + _GROUP, r"sqrt(\1)", text)
        text = re.sub(r"\\(?:text|mathrm|operatorname|mathbf|mathit|boldsymbol|mathsf)\s*" + _GROUP, r"\1", text)
    text = re.sub(r"\\begin\{[a-z]*\}|\\end\{[a-z]*\}", " ", text)
    text = text.replace("&", " ").replace("\\\\", "; ")
    text = _COMMAND.sub(lambda m: _WORDS.get(m.group(1), m.group(1)), text)
    for _ in range(3):  # x^{2}, then e^{- x^(2)}
        text = re.sub(r"\^\{([^{}]*)\}", r"^(\1)", text)
        text = re.sub(r"_\{([^{}]*)\}", r"_\1", text)
    text = re.sub(r"\^\(([A-Za-z0-9.]+)\)", r"^\1", text)
    text = text.replace("{", "").replace("}", "").replace("\\", "").replace("~", " ").replace(",", ", ")
    for sign, words in (("<=", " less than or equal to "), (">=", " greater than or equal to "),
                        ("<", " less than "), (">", " greater than ")):  # read aloud, and no "<" in an attribute
        text = text.replace(sign, words)
    text = re.sub(r"\s+", " ", text).replace("( ", "(").replace(" )", ")").replace(" ,", ",").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
