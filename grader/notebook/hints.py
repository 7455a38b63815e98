"""``hint(qid)``: the author's hints, one tier at a time, on the student's demand.

The author writes the tiers next to the reference (``question(..., hints=["a nudge", "the rule",
"a worked step"])``); they are copied into the public key, so ``hint`` works wherever ``check`` does.
Each call shows the next tier together with the ones already seen in this kernel; no points are lost.

How many tiers a student saw must reach the instructor, so every hint output carries, besides
text/html and text/plain, the MIME type ``application/vnd.calcgrade.hint+json``:
``{"qid", "tier" (1-based, the highest tier shown by that output), "tiers" (how many exist), "v": 1}``.
The trusted grader counts hints used for a question as the largest ``tier`` among those outputs in
the submitted notebook (a later call shows every earlier tier again, so the last output suffices):
``hints_used(notebook) -> {qid: tiers}``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from grader.key.mediatypes import HINT_MIME

__all__ = ["hint", "HintResult", "HINT_MIME", "hints_used"]

_SEEN: dict[str, int] = {}   # qid -> tiers shown in this kernel


class HintResult:
    """What ``hint`` returns: Jupyter shows it; ``tier`` is 0 when there was nothing to show."""

    def __init__(self, qid: str, shown: list[str], tiers: int, problem: str = "") -> None:
        self.qid = qid
        self.shown = shown
        self.tiers = tiers
        self.problem = problem

    @property
    def tier(self) -> int:
        return len(self.shown)

    def to_json(self) -> dict[str, Any]:
        return {"qid": self.qid, "tier": self.tier, "tiers": self.tiers, "v": 1}

    def _footer(self) -> str:
        if self.problem:
            return ""
        if self.tier < self.tiers:
            return f"Run hint(\"{self.qid}\") again for the next hint ({self.tiers - self.tier} more). Hints cost no points."
        return "That was the last hint for this question. Hints cost no points."

    def __repr__(self) -> str:
        if self.problem:
            return f"[{self.qid}] {self.problem}"
        lines = [f"[{self.qid}] Hint {self.tier} of {self.tiers}"]
        lines += [f"{i}. {text}" for i, text in enumerate(self.shown, 1)]
        lines.append(self._footer())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        # imported here: the trusted side reads hints_used without SymPy, which display's answer text needs
        from grader.notebook.display import message_html

        head = (f'<div class="calcgrade-hints" data-qid="{html.escape(self.qid)}" data-tier="{self.tier}" '
                f'style="border-left:4px solid #1565c0;padding:6px 10px;margin:4px 0;background:#e8f0fe;'
                f'font-family:var(--jp-content-font-family, sans-serif);">')
        if self.problem:
            return head + f"{message_html(self.problem)}</div>"
        items = "".join(f'<li class="calcgrade-hint-tier">{message_html(t)}</li>' for t in self.shown)
        return (head + f'<strong>Hint {self.tier} of {self.tiers}</strong> &middot; '
                f'<code>{html.escape(self.qid)}</code><ol style="margin:4px 0 4px 1.2em;padding:0">{items}</ol>'
                f'<div style="font-size:90%;color:#555">{html.escape(self._footer())}</div></div>')

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"text/plain": repr(self), "text/html": self._repr_html_(), HINT_MIME: self.to_json()}


def hint(qid: str) -> HintResult:
    """Show the next tier of hints for question ``qid`` (and the tiers seen before). Never raises."""
    qid = str(qid)
    try:
        from grader.key import files

        key, source, problem = files.find_key_for_check(Path.cwd())
    except Exception as exc:  # a broken key is reported, not raised
        key, problem = None, f"the answer key cannot be read ({exc.__class__.__name__})"
    if key is None:
        return HintResult(qid, [], 0, f"No hints can be shown here: {problem}.")
    entry = key.get("questions", {}).get(qid)
    if entry is None:
        return HintResult(qid, [], 0, f"No hints can be shown: the answer key has no question {qid!r}.")
    tiers = [str(t) for t in entry.get("hints") or []]
    if not tiers:
        return HintResult(qid, [], 0, "There are no hints for this question; check() tells what is wrong "
                                      "with an answer.")
    seen = min(len(tiers), _SEEN.get(qid, 0) + 1)
    _SEEN[qid] = seen
    return HintResult(qid, tiers[:seen], len(tiers))


def hints_used(notebook: Any) -> dict[str, int]:
    """{qid: tiers seen} read from a notebook's outputs (nbformat JSON or NotebookNode): the largest
    ``tier`` of the hint outputs of each question.  Pure; what the trusted grader counts for the report
    (from the submitted notebook: a grading run starts the count afresh)."""
    used: dict[str, int] = {}
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else getattr(notebook, "cells", [])
    for cell in cells:
        for out in cell.get("outputs", []) or []:
            data = out.get("data") if isinstance(out, dict) else None
            record = data.get(HINT_MIME) if isinstance(data, dict) else None
            if not isinstance(record, dict):
                continue
            qid, tier = record.get("qid"), record.get("tier")
            if isinstance(qid, str) and isinstance(tier, int) and not isinstance(tier, bool) and 0 < tier <= 100:
                used[qid] = max(used.get(qid, 0), tier)
    return used


def _reset() -> None:
    """Forget the tiers seen (a fresh kernel); for tests."""
    _SEEN.clear()
