"""The feedback page a student gets back: math rendered offline, no score echo, questions named.

nbgrader's ``generate_feedback`` writes an HTML page that loads MathJax from a CDN, so without the
internet every formula stays raw LaTeX ("$$\\frac{d}{dx}...", "\\(2 x \\cos{\\left(x \\right)}\\)").
``RenderFeedback`` (a preprocessor of ``GenerateFeedback``) renders the math to MathML when the
feedback is made, which every current browser shows without any script:

* markdown cells: ``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]`` outside code;
* outputs: the same delimiters in text/html (our verdicts, hint tiers, whatever a grader put there;
  code, pre, script and style elements are left alone), and text/latex (SymPy's rich output) gets a
  text/html form with the MathML;
* a formula that cannot be converted stays as its LaTeX source, in a ``<code>`` element.

It also drops the plain float a test cell ends with under nbgrader (nbgrader's score, echoed as
``Out[n]: 0.0``; the gradebook already holds it) and records each test cell's question in
``cell.metadata.calcgrade.question`` (the question its ``check("<qid>", ...)`` call names, read by
``grader.key.testcell``; else the verdict's or the answer payload's qid), which the page's template uses in the score index instead of "Test
cell".  The template (``templates/feedback`` beside this module) is nbgrader's page with those two
changes, under the name nbgrader's API asks for; its ``mathjax`` macro loads nothing.

Configured in nbgrader_config.py::

    c.GenerateFeedback.preprocessors = [..., "grader.course.grading.feedbackhtml.RenderFeedback",
                                        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
    c.HTMLExporter.extra_template_basedirs = feedback_template_dirs()
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from grader.key.mediatypes import ANSWER_MIME, VERDICT_MIME
from grader.key.testcell import checked_question

__all__ = ["RenderFeedback", "latex_to_mathml", "render_html_math", "render_markdown_math",
           "feedback_template_dirs", "TEMPLATE_NAME", "question_of"]

TEMPLATE_NAME = "feedback"   # the name nbgrader's API insists on; ours comes first and extends nbgrader's
TEMPLATE_ROOT = Path(__file__).resolve().parent / "templates"

# math delimiters, longest first; the inline $...$ form follows MathJax's rule (no space inside the
# delimiters, no digit right after the closing one: "$5 and $6" is money, not math)
_MATH = re.compile(
    r"\$\$(?P<dd>.+?)\$\$"
    r"|\\\[(?P<br>.+?)\\\]"
    r"|\\\((?P<pa>.+?)\\\)"
    r"|(?<![\\$])\$(?!\s)(?P<d>[^$\n]+?)(?<![\s\\])\$(?!\d)",
    re.S,
)
_SKIP_ELEMENTS = ("code", "pre", "script", "style", "math", "textarea")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*?(/?)>|<!--.*?-->", re.S)
_FENCE = re.compile(r"(^|\n)(```|~~~).*?(\n\2[^\n]*(?=\n|$)|$)", re.S)
_INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
LONG_INLINE = 40   # characters of LaTeX from which an inline formula gets its own scrolling box
_LT, _GT = "\ue000", "\ue001"   # private-use stand-ins for < and > while converting


def latex_to_mathml(latex: str, display: bool = False) -> str | None:
    """MathML for one formula, or None when it cannot be converted (the caller keeps the source)."""
    from latex2mathml.converter import convert

    text = latex.strip()
    if text.startswith("\\displaystyle"):
        text, display = text[len("\\displaystyle"):].strip(), True
    if not text:
        return None
    try:  # latex2mathml copies \\text{...} verbatim: a "<" there would open an element, so it goes through a stand-in
        mathml = convert(text.replace("<", _LT).replace(">", _GT), display="block" if display else "inline")
    except Exception:
        return None
    mathml = re.sub(f"<mi>{_LT}</mi>", "<mo>&#x0003C;</mo>", mathml).replace(_LT, "&lt;")
    mathml = re.sub(f"<mi>{_GT}</mi>", "<mo>&#x0003E;</mo>", mathml).replace(_GT, "&gt;")
    from grader.course.grading.mathlabel import math_label  # the formula's accessible name

    label = html.escape(math_label(text), quote=True)
    # alttext is MathML's own alternative; aria-label is what browsers expose as the formula's name
    return mathml.replace("\n", "").replace("<math ", f'<math alttext="{label}" aria-label="{label}" ', 1)


def _render(match: re.Match[str], *, escaped: bool) -> str:
    latex = next(g for g in match.groups() if g is not None)
    display = match.group("dd") is not None or match.group("br") is not None
    if escaped:
        latex = html.unescape(latex)
    mathml = latex_to_mathml(latex, display)
    if mathml is None:
        return f'<code class="calcgrade-latex">{html.escape(match.group(0))}</code>'
    # a formula that may be wider than a phone (every display one, a long inline one) scrolls in its own
    # box, which keyboard users can focus (MathML does not wrap lines)
    scroll = ' tabindex="0" role="group"'  # named by the formula inside
    if display:
        style = ' style="display:block;text-align:center;overflow-x:auto;overflow-y:hidden;max-width:100%"' + scroll
    elif len(latex) > LONG_INLINE:
        style = ' style="display:inline-block;vertical-align:middle;overflow-x:auto;overflow-y:hidden;max-width:100%"' + scroll
    else:
        style = ""
    return f'<span class="calcgrade-math"{style}>{mathml}</span>'


def render_html_math(text: str) -> str:
    """Every formula in an HTML fragment rendered to MathML (text inside code/pre/script/style is kept)."""
    out: list[str] = []
    pos, skip = 0, 0
    for tag in _TAG.finditer(text):
        chunk = text[pos:tag.start()]
        out.append(chunk if skip else _MATH.sub(lambda m: _render(m, escaped=True), chunk))
        name = (tag.group(2) or "").lower()
        if name in _SKIP_ELEMENTS and not tag.group(3):
            skip = max(0, skip - 1) if tag.group(1) else skip + 1
        out.append(tag.group(0))
        pos = tag.end()
    tail = text[pos:]
    out.append(tail if skip else _MATH.sub(lambda m: _render(m, escaped=True), tail))
    return "".join(out)


def render_markdown_math(source: str) -> str:
    """A markdown cell with its formulas rendered to MathML (code spans and fenced code untouched).

    The MathML is inline HTML, which the page's markdown renderer passes through."""
    protected: list[str] = []

    def protect(m: re.Match[str]) -> str:
        protected.append(m.group(0))
        return f"\x00{len(protected) - 1}\x00"

    text = _FENCE.sub(protect, source)
    text = _INLINE_CODE.sub(protect, text)
    text = _MATH.sub(lambda m: _render(m, escaped=False), text)
    return re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m.group(1))], text)


def question_of(cell: Any) -> str | None:
    """The question a test cell checks: the one its check call names (``grader.key.testcell``), else the qid
    of its verdict or answer payload (a question named by an expression)."""
    qid = checked_question(cell.get("source", "")).qid
    if qid is not None:
        return qid
    for out in cell.get("outputs", []):
        data = out.get("data") or {}
        for mime in (VERDICT_MIME, ANSWER_MIME):
            payload = data.get(mime)
            if isinstance(payload, dict) and isinstance(payload.get("qid"), str):
                return payload["qid"]
    return None


def _is_score_echo(output: Any) -> bool:
    if output.get("output_type") != "execute_result":
        return False
    data = output.get("data") or {}
    if set(data) - {"text/plain"}:
        return False
    try:
        float(str(data.get("text/plain", "")).strip())
    except ValueError:
        return False
    return True


class RenderFeedback(Preprocessor):
    """nbgrader feedback step: MathML for math, no score echo, test cells named by their question."""

    enabled = Bool(True, help="nbgrader registers its steps without enabling them: on by default").tag(config=True)

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        titles = _question_titles(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = render_markdown_math(cell.source)
                continue
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            graded_test = bool(meta.get("grade")) and not meta.get("solution")
            if graded_test:
                qid = question_of(cell)
                if qid:
                    label = f"Question {qid}" + (f": {titles[qid]}" if titles.get(qid) else "")
                    cell.metadata.setdefault("calcgrade", {})["question"] = qid
                    cell.metadata["calcgrade"]["question_label"] = label
                cell.outputs = [o for o in cell.outputs if not _is_score_echo(o)]
            for out in cell.outputs:
                data = out.get("data")
                if not data:
                    continue
                if "text/html" in data:
                    data["text/html"] = render_html_math(_text(data["text/html"]))
                elif "text/latex" in data:
                    data["text/html"] = render_html_math(html.escape(_text(data["text/latex"]), quote=False))
                if "text/markdown" in data:
                    data["text/markdown"] = render_markdown_math(_text(data["text/markdown"]))
        _make_safe(self.config, nb, resources)
        return nb, resources


def _make_safe(config: Any, nb: Any, resources: dict[str, Any]) -> None:
    """No link is followed into the feedback folder and no script reaches the page (issue 21)."""
    from grader.course.grading.feedbacksafe import sanitize_notebook
    from grader.course.grading.nbgrader_steps import course_root_of
    from grader.course.grading.submission_files import check_feedback_source

    check_feedback_source(config, resources, course_root_of(config, resources))
    sanitize_notebook(nb)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


_TITLE = re.compile(r"^\s*(?:#+\s*(.+?)\s*$|\*\*(.+?)\*\*)", re.M)


def _question_titles(nb: Any) -> dict[str, str]:
    """qid -> the title of the question's text (its heading or opening bold phrase), when short."""
    titles: dict[str, str] = {}
    last = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = _TITLE.search(cell.source)
            if m:
                last = (m.group(1) or m.group(2) or "").strip().rstrip(".:")
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            qid = question_of(cell)
            if qid and last and len(last) <= 60 and "$" not in last and "\\" not in last:
                titles[qid] = last
    return titles


def feedback_template_dirs() -> list[str]:
    """Template roots for the feedback page: ours first (its ``feedback`` shadows nbgrader's), then
    nbgrader's own (what nbgrader configures when nothing is set)."""
    import nbgrader

    formgrader = Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader"
    return [str(TEMPLATE_ROOT), str(formgrader / "templates")]
