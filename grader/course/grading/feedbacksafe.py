"""Feedback pages without scripts: every piece of HTML that reaches a student's feedback page is sanitised.

A feedback page is built from a submission, so it carries hostile text: a ``text/html`` output of student
code, a markdown cell, a symbol named ``\\text{<script>...}`` that latex2mathml copies verbatim into
MathML.  ``sanitize_notebook`` runs last in the feedback step (``RenderFeedback``), after the math has been
turned into MathML, and cleans every output and markdown cell with nh3 (the maintained Rust sanitiser
``ammonia``): HTML's ordinary formatting tags, MathML's presentation tags, ``class`` and a few inline style
properties are kept; scripts, event handlers, ``javascript:`` and other URL schemes, forms, frames,
objects, SVG and CSS ``url()`` are removed.  Output types the page would render as script
(``application/javascript``, widgets, SVG) are dropped.

The verdict's classes (``calcgrade-verdict`` ...) are kept only in the outputs of graded test cells, which
the trusted grader wrote: elsewhere a student could forge a green "correct" box with them.
"""

from __future__ import annotations

import re
from typing import Any

import nh3

__all__ = ["sanitize_html", "sanitize_markdown", "sanitize_notebook", "KEPT_MIMES"]

_MATHML = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac", "msqrt",
    "mroot", "mstyle", "merror", "mpadded", "mphantom", "mfenced", "menclose", "munder", "mover",
    "munderover", "mtable", "mtr", "mtd", "semantics", "annotation",
}
_MATHML_ATTRS = {
    "display", "xmlns", "mathvariant", "stretchy", "fence", "separator", "separators", "lspace", "rspace",
    "accent", "accentunder", "columnalign", "rowalign", "columnspacing", "rowspacing", "linethickness",
    "width", "height", "depth", "open", "close", "notation", "scriptlevel", "displaystyle", "minsize",
    "maxsize", "movablelimits", "form", "symmetric", "largeop", "encoding", "alttext",
}
_TAGS = set(nh3.ALLOWED_TAGS) | _MATHML | {"section", "main", "label"}
_STYLE_PROPERTIES = {
    "display", "text-align", "color", "background", "background-color", "font-weight", "font-style", "font-family",
    "font-size", "margin", "margin-top", "margin-bottom", "margin-left", "margin-right", "padding",
    "padding-top", "padding-bottom", "padding-left", "padding-right", "border", "border-left",
    "border-radius", "width", "max-width", "height", "vertical-align", "white-space",
    "overflow", "overflow-x", "overflow-y",  # a wide formula scrolls in its own box (docs/ACCESSIBILITY.md)
}
_URL_SCHEMES = {"http", "https", "mailto", "data"}
_OUR_CLASS = re.compile(r"calcgrade-[A-Za-z0-9_-]+")
KEPT_MIMES = {"text/plain", "text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "image/gif",
              "application/vnd.calcgrade.verdict+json", "application/vnd.calcgrade.answer+json"}


def _attributes() -> dict[str, set[str]]:
    attrs = {tag: set(values) for tag, values in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag in _MATHML:
        attrs[tag] = set(_MATHML_ATTRS)
    # role and tabindex: the page's formula boxes scroll sideways and are reached by keyboard (WCAG)
    attrs["*"] = {"class", "style", "title", "lang", "dir", "id", "role", "tabindex"}
    attrs.setdefault("img", set()).update({"alt", "src", "width", "height"})
    return attrs


_ATTRIBUTES = _attributes()


def _filter(trusted: bool):  # noqa: ANN202 - nh3's callback type
    def keep(tag: str, attr: str, value: str) -> str | None:
        if attr == "style" and "url(" in value.replace(" ", "").lower():
            return None  # no resource loaded from a stylesheet property
        if attr == "class" and not trusted:
            kept = [c for c in value.split() if not _OUR_CLASS.fullmatch(c) or c == "calcgrade-math"]
            return " ".join(kept) or None
        if attr == "id":
            return f"user-{value}"[:100]  # a student's id cannot shadow one of the page's own
        return value
    return keep


def sanitize_html(text: str, *, trusted: bool = False) -> str:
    """An HTML fragment with only harmless markup left. ``trusted``: the fragment was written by the
    trusted grader (a verdict), so the verdict's own classes may stay."""
    return nh3.clean(
        str(text), tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=_URL_SCHEMES,
        generic_attribute_prefixes={"data-", "aria-"}, clean_content_tags={"script", "style"},
        strip_comments=True, link_rel="noopener noreferrer nofollow",
        filter_style_properties=_STYLE_PROPERTIES, attribute_filter=_filter(trusted),
    )


_FENCE = re.compile(r"(^|\n)(```|~~~).*?(\n\2[^\n]*(?=\n|$)|$)", re.S)
_INLINE_CODE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
_LINK_URL = re.compile(r"\]\(\s*<?\s*([A-Za-z][A-Za-z0-9+.-]*):|^(\s{0,3}\[[^\]\n]+\]:\s*<?\s*)([A-Za-z][A-Za-z0-9+.-]*):", re.M)


def sanitize_markdown(source: str) -> str:
    """A markdown cell's source with its inline HTML sanitised (code spans and fenced code untouched, the
    markdown itself kept), and markdown links to anything but http(s)/mailto/data made inert."""
    protected: list[str] = []

    def protect(m: re.Match[str]) -> str:
        protected.append(m.group(0))
        return f"\ue000{len(protected) - 1}\ue001"

    text = _FENCE.sub(protect, str(source).replace("\ue000", "").replace("\ue001", ""))
    text = _INLINE_CODE.sub(protect, text)
    if "<" in text:
        text = _sanitize_inline_html(text)
    text = _LINK_URL.sub(_inert_link, text)
    return re.sub("\ue000(\\d+)\ue001", lambda m: protected[int(m.group(1))], text)


def _inert_link(m: re.Match[str]) -> str:
    scheme = m.group(1) or m.group(3)
    if scheme.lower() in _URL_SCHEMES:
        return m.group(0)
    return "](#blocked-" if m.group(1) else f"{m.group(2)}#blocked-"


def _sanitize_inline_html(text: str) -> str:
    """Sanitise the HTML of a markdown text line by line, leaving markdown syntax (``>``, ``&``) alone."""
    out = []
    for line in text.split("\n"):
        if "<" not in line:
            out.append(line)
            continue
        lead = len(line) - len(line.lstrip(" >"))
        cleaned = nh3.clean(line[lead:], tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=_URL_SCHEMES,
                            generic_attribute_prefixes={"data-", "aria-"}, clean_content_tags={"script", "style"},
                            strip_comments=True, link_rel="noopener noreferrer nofollow",
                            filter_style_properties=_STYLE_PROPERTIES, attribute_filter=_filter(False))
        out.append(line[:lead] + cleaned)
    return "\n".join(out)


def _is_graded_test(cell: Any) -> bool:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def sanitize_notebook(nb: Any) -> Any:
    """Every markdown cell and output of a notebook about to become a feedback page, sanitised in place."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") in ("markdown", "raw"):
            if cell.get("cell_type") == "raw":
                cell["source"] = sanitize_html(_text(cell.get("source", "")))
            else:
                cell["source"] = sanitize_markdown(_text(cell.get("source", "")))
            if _has_svg_attachment(cell):
                cell.pop("attachments", None)
            continue
        trusted = _is_graded_test(cell)
        for out in cell.get("outputs", []) or []:
            data = out.get("data")
            if not isinstance(data, dict):
                continue
            for mime in [m for m in data if m not in KEPT_MIMES]:
                del data[mime]
            if "text/html" in data:
                data["text/html"] = sanitize_html(_text(data["text/html"]), trusted=trusted)
                data.pop("text/markdown", None)
                data.pop("text/latex", None)   # the page would render it as HTML; the sanitised form is there
            if "text/markdown" in data:
                data["text/markdown"] = sanitize_markdown(_text(data["text/markdown"]))
            if "text/latex" in data:
                data["text/latex"] = _text(data["text/latex"]).replace("<", "&lt;").replace(">", "&gt;")
    return nb


def _has_svg_attachment(cell: Any) -> bool:
    attachments = cell.get("attachments") or {}
    return any(isinstance(v, dict) and set(v) - {"image/png", "image/jpeg", "image/gif"}
               for v in attachments.values())


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)
