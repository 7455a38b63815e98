"""Trusted grading: the score of a submission from the answers its test cells handed over, never from
anything else the student's code produced.

The sandboxed executor (``grader.course.sandbox.executor``) runs a submission's cells and returns an
``Execution``: the executed notebook and, per cell, the answer payloads that ``check(qid, value)``
emitted (``application/vnd.calcgrade.answer+json``: ``{"qid", "answer": <wire>, "v": 1}``).  Everything in
an ``Execution`` came out of a process the student controlled, so it is data to be checked, not believed:

* the graded test cells are found in the notebook *as nbgrader restored it* (locked cells, sources and
  points from the gradebook), by grade_id, and the question id is read from the restored source
  (``grader.key.testcell.checked_question``);
* each such cell must have emitted exactly one payload, for its own question, of bounded size, that
  decodes with the wire whitelist; anything else is 0 points with the reason, never full credit;
* the verdict is ``grader.key.grading.grade(wire, private entry)`` and the points are computed here;
* a question after the point where the run stopped gets "your notebook stopped before this question";
* the test cell's outputs are replaced by the trusted verdict's display, so the autograded notebook and
  nbgrader's feedback show what was really graded.  No score or verdict is ever read from outputs.

``grade_execution`` is pure: no files, no gradebook, no student code.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from grader.key.testcell import checked_question
from grader.course.sandbox.recorded import MAX_OUTPUTS, clean_output, json_size
from grader.notebook.capture import ANSWER_MIME, PAYLOAD_VERSION
from grader.key.mediatypes import VERDICT_MIME

__all__ = [
    "GradingRefused", "ANSWER_MIME", "MAX_PAYLOAD_BYTES", "QuestionResult", "GradedNotebook", "GradedCell", "grade_execution",
    "graded_cells_of", "function_inputs", "payload_problem", "over_budget",
]

MAX_PAYLOAD_BYTES = 4 << 20         # an honest answer is a few kB; a function's outputs at most a few hundred
MAX_PAYLOAD_NODES = 400_000          # JSON containers and scalars in one payload
MAX_PAYLOAD_DEPTH = 200


class GradingRefused(RuntimeError):
    """This submission (or the whole assignment) cannot be graded; the message says why, in one sentence."""


@dataclass
class QuestionResult:
    """The trusted outcome of one graded test cell."""

    grade_id: str
    qid: str | None
    cell_index: int
    points: float
    max_points: float
    status: str                      # correct | wrong | unanswered | missing | stopped | invalid | manual
    message: str                     # what the student reads (the verdict's message or why nothing was graded)
    verdict: dict[str, Any] | None = None   # Verdict.to_dict() when a payload was graded
    answer: Any = None               # the wire answer graded (None when there was none)
    fingerprint: str | None = None   # for the answer log, computed within the grading budget
    answer_text: str | None = None

    @property
    def graded(self) -> bool:
        """Whether a payload reached ``grade`` (False: 0 points for a reason of the run)."""
        return self.verdict is not None


@dataclass
class GradedNotebook:
    """A notebook with trusted verdicts in its test cells, and the per-question results."""

    notebook: dict[str, Any]
    questions: list[QuestionResult] = field(default_factory=list)
    stopped: str | None = None
    sandboxed: bool = True

    @property
    def score(self) -> float:
        return round(sum(q.points for q in self.questions), 6)

    @property
    def max_score(self) -> float:
        return round(sum(q.max_points for q in self.questions), 6)

    def scores(self) -> dict[str, float]:
        """grade_id -> points, for the gradebook."""
        return {q.grade_id: q.points for q in self.questions}

    def by_grade_id(self) -> dict[str, QuestionResult]:
        return {q.grade_id: q for q in self.questions}


@dataclass(frozen=True)
class GradedCell:
    """A graded code cell of the restored notebook and the question its ``check`` call names."""

    index: int
    grade_id: str
    points: float
    qid: str | None
    problem: str = ""               # why no question could be read from the cell


# --- reading the restored notebook -------------------------------------------------------------------
def _nbgrader(cell: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = cell.get("metadata") or {}
    nbg = meta.get("nbgrader") if isinstance(meta, Mapping) else None
    return nbg if isinstance(nbg, Mapping) else {}


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def graded_cells_of(notebook: Mapping[str, Any]) -> list[GradedCell]:
    """The autograded cells of a restored notebook: code cells with ``grade: true`` that are not answers
    (``solution: true`` grade cells are graded by hand, as nbgrader does)."""
    out = []
    for index, cell in enumerate(notebook.get("cells", [])):
        meta = _nbgrader(cell)
        if cell.get("cell_type") != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        try:
            points = float(meta.get("points", 0) or 0)
        except (TypeError, ValueError):
            points = 0.0
        checked = checked_question(_source(cell))
        out.append(GradedCell(index, str(meta.get("grade_id", f"cell-{index}")), points, checked.qid, checked.reason))
    return out


def function_inputs(private_key: Mapping[str, Any]) -> dict[str, list]:
    """qid -> the wire argument tuples a function question's answer is called on (for the executor's Job)."""
    out: dict[str, list] = {}
    for qid, entry in (private_key.get("questions") or {}).items():
        if isinstance(entry, Mapping) and entry.get("kind") == "function":
            out[str(qid)] = list(entry.get("inputs") or [])
    return out


# --- checking payloads ---------------------------------------------------------------------------------
def payload_problem(payload: Any, qid: str) -> str | None:
    """Why a payload cannot be graded as the answer to ``qid`` (None when it can)."""
    if not isinstance(payload, dict):
        return "the recorded answer is not readable"
    nodes, depth = json_size(payload, MAX_PAYLOAD_NODES, MAX_PAYLOAD_DEPTH)
    if nodes > MAX_PAYLOAD_NODES or depth > MAX_PAYLOAD_DEPTH:
        return "the recorded answer is too large or too deeply nested to be graded"
    try:
        size = len(json.dumps(payload, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return "the recorded answer is not readable"
    if size > MAX_PAYLOAD_BYTES:
        return f"the recorded answer is too large to be graded ({size // 1024} kB)"
    if payload.get("v") != PAYLOAD_VERSION or "answer" not in payload or not isinstance(payload.get("qid"), str):
        return "the recorded answer is not in the form the grader reads"
    if payload["qid"] != qid:
        return f"this test cell recorded an answer to another question ({payload['qid'][:60]!r})"
    return _structure_problem(payload["answer"])


def _structure_problem(answer: Any) -> str | None:
    """Why the key layer's answer structures (an error, a function's results) are malformed, else None;
    values are checked field by field by ``from_wire`` when they are graded."""
    from grader.key.wire import WireError, check_calls, check_error

    tag = answer.get("$") if isinstance(answer, dict) else None
    try:
        if tag == "error":
            check_error(answer)
        elif tag == "calls":
            check_calls(answer)
    except WireError as exc:
        return f"the recorded answer is not readable ({exc})"
    return None


# --- grading --------------------------------------------------------------------------------------------
def grade_execution(execution: Any, private_key: Mapping[str, Any], *, notebook_name: str,
                    restored: Mapping[str, Any] | None = None, plots: bool = False,
                    student: str | None = None) -> GradedNotebook:
    """Grade one executed submission against the private key.

    ``restored`` is the notebook as nbgrader restored it before execution (what the parent sent in the
    Job); when given, cell sources and metadata come from it and only outputs from the execution, so a
    compromised executor cannot change which cells are graded or for how many points.
    ``plots``: draw the plot of a wrong function-shaped answer into its verdict (about 0.1 s each).
    ``student``: the gradebook's student id; variant questions are graded against that student's variant.
    """
    if student is not None:
        from grader.key.variants import key_for_student

        private_key = key_for_student(private_key, student)
    base = restored if restored is not None else execution.notebook
    notebook = _merge_outputs(base, getattr(execution, "notebook", None) or {})
    payloads = _payloads_by_cell(getattr(execution, "payloads", None))
    stopped = getattr(execution, "stopped", None)
    stopped_at = getattr(execution, "stopped_at", None)
    timed_out = set(getattr(execution, "timed_out_cells", None) or [])
    questions = (private_key.get("questions") or {}) if isinstance(private_key, Mapping) else {}
    graded = GradedNotebook(notebook, stopped=stopped, sandboxed=bool(getattr(execution, "sandboxed", True)))
    test_indexes = set()
    for tc in graded_cells_of(notebook):
        test_indexes.add(tc.index)
        emitted = payloads.get(tc.index, [])
        result = _grade_cell(tc, emitted, questions, stopped=stopped, stopped_at=stopped_at,
                             timed_out=tc.index in timed_out, cell=notebook["cells"][tc.index])
        graded.questions.append(result)
        wrote = _answer_cell_text(notebook["cells"], tc.index) if _failed_answer(result.answer) else ""
        notebook["cells"][tc.index]["outputs"] = [_display_output(result, questions.get(tc.qid or ""), plots, wrote)]
    _drop_forged_displays(notebook, test_indexes)
    notebook.setdefault("metadata", {})["calcgrade"] = {
        "graded": "trusted", "notebook": notebook_name, "sandboxed": graded.sandboxed,
        **({"stopped": stopped} if stopped else {}),
    }
    return graded


def over_budget(base: Mapping[str, Any], notebook_name: str, why: str, *, execution: Any = None) -> GradedNotebook:
    """The notebook graded 0 on every question because its trusted grading could not finish: ``why`` says so
    in each test cell (the batch goes on; the instructor can regrade it)."""
    executed = getattr(execution, "notebook", None) or {}
    notebook = _merge_outputs(base, executed if isinstance(executed, Mapping) else {})
    graded = GradedNotebook(notebook, stopped=why, sandboxed=bool(getattr(execution, "sandboxed", True)))
    message = _sentence(f"This notebook got 0 points: {why}")
    test_indexes = set()
    for tc in graded_cells_of(notebook):
        test_indexes.add(tc.index)
        result = QuestionResult(tc.grade_id, tc.qid, tc.index, 0.0, tc.points, "invalid", message)
        graded.questions.append(result)
        notebook["cells"][tc.index]["outputs"] = [_display_output(result, None, False)]
    _drop_forged_displays(notebook, test_indexes)
    notebook.setdefault("metadata", {})["calcgrade"] = {
        "graded": "trusted", "notebook": notebook_name, "sandboxed": graded.sandboxed, "stopped": why}
    return graded


def _grade_cell(tc: GradedCell, emitted: list, questions: Mapping[str, Any], *, stopped: str | None,
                stopped_at: int | None, timed_out: bool, cell: Mapping[str, Any]) -> QuestionResult:
    def zero(status: str, message: str) -> QuestionResult:
        return QuestionResult(tc.grade_id, tc.qid, tc.index, 0.0, tc.points, status, message)

    if tc.qid is None:
        return zero("manual", _sentence(tc.problem))
    entry = questions.get(tc.qid)
    if not isinstance(entry, Mapping):
        return zero("invalid", f"The answer key has no question {tc.qid!r}; the instructor must rebuild it.")
    if not emitted:
        if stopped and (stopped_at is None or tc.index >= stopped_at):
            return zero("stopped", f"Your notebook stopped before this question: {stopped}.")
        if timed_out:
            return zero("missing", "This test cell ran past the time limit, so no answer was recorded.")
        raised = _error_of(cell)
        if raised:
            return zero("missing", f"No answer was recorded: the test cell raised {raised}.")
        return zero("missing", "No answer was recorded for this question (the test cell did not hand one over).")
    if len(emitted) > 1:
        return zero("invalid", f"This test cell recorded {len(emitted)} answers; exactly one is graded, so none was.")
    payload = emitted[0]
    problem = payload_problem(payload, tc.qid)
    if problem:
        return zero("invalid", _sentence(problem))
    answer = payload["answer"]
    verdict = _grade(answer, entry)
    score = min(1.0, max(0.0, float(verdict.score or 0.0))) if verdict.correct or verdict.score else 0.0
    unanswered = (verdict.details or {}).get("reason") == "unanswered"
    status = "correct" if verdict.correct else ("unanswered" if unanswered else "wrong")
    result = QuestionResult(tc.grade_id, tc.qid, tc.index, round(score * tc.points, 6), tc.points, status,
                            verdict.message, verdict.to_dict(), answer)
    return result


def _grade(answer: Any, entry: Mapping[str, Any]) -> Any:
    from grader.core.verdict import Verdict
    from grader.key.grading import grade

    try:
        return grade(answer, entry)
    except Exception as exc:  # grade never raises; a bug of ours must still not cost a traceback
        return Verdict.invalid(f"Your answer could not be checked ({exc.__class__.__name__}).", "internal")


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ":")) else text + "."


def _error_of(cell: Mapping[str, Any]) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{str(out.get('ename', 'an error'))[:60]}: {str(out.get('evalue', ''))[:160]}".rstrip(": ")
    return ""


# --- the executed notebook ---------------------------------------------------------------------------
def _payloads_by_cell(payloads: Any) -> dict[int, list]:
    out: dict[int, list] = {}
    if not isinstance(payloads, Mapping):
        return out
    for k, v in payloads.items():
        try:
            index = int(k)
        except (TypeError, ValueError):
            continue
        out[index] = list(v) if isinstance(v, (list, tuple)) else [v]
    return out


def _merge_outputs(base: Mapping[str, Any], executed: Mapping[str, Any]) -> dict[str, Any]:
    """The restored notebook with the executed cells' outputs (checked, bounded) and execution counts."""
    notebook = copy.deepcopy(dict(base))
    ran = executed.get("cells") if isinstance(executed, Mapping) else None
    ran = ran if isinstance(ran, list) else []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        other = ran[index] if index < len(ran) and isinstance(ran[index], Mapping) else {}
        outputs = other.get("outputs") if isinstance(other.get("outputs"), list) else []
        cell["outputs"] = [o for o in (_clean_output(x) for x in outputs[:MAX_OUTPUTS]) if o]
        count = other.get("execution_count")
        cell["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
    return notebook


def _clean_output(out: Any) -> dict[str, Any] | None:
    """The one clean-up of an untrusted output (``recorded.clean_output``), without answer payloads: they are
    graded from ``Execution.payloads``, never shown."""
    clean = clean_output(dict(out)) if isinstance(out, Mapping) else None
    if clean is None or "data" not in clean:
        return clean
    clean["data"].pop(ANSWER_MIME, None)
    clean.pop("transient", None)
    return clean if clean["data"] else None


def _drop_forged_displays(notebook: dict[str, Any], test_indexes: set[int]) -> None:
    """Verdict displays outside the test cells came from student code: a reader of the autograded notebook
    (or of the feedback) must not mistake them for the grader's."""
    for index, cell in enumerate(notebook.get("cells", [])):
        if index in test_indexes or cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data") if isinstance(out, Mapping) else None
            if isinstance(data, Mapping) and (VERDICT_MIME in data or "calcgrade-verdict" in str(data.get("text/html", ""))):
                continue
            kept.append(out)
        cell["outputs"] = kept


# --- the trusted display ----------------------------------------------------------------------------
def _failed_answer(answer: Any) -> bool:
    """Whether the handed-over answer says its answer cell failed (raised, was stopped) or could not be read."""
    return isinstance(answer, Mapping) and answer.get("$") == "error" and not answer.get("unanswered")


def _answer_cell_text(cells: list, test_index: int, limit: int = 4) -> str:
    """What the student wrote in the answer cell above a test cell (the nearest solution cell), its first
    ``limit`` lines of code joined by " ⏎ ", for a verdict that cannot show an answer."""
    for cell in reversed(cells[:test_index]):
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if cell.get("cell_type") == "code" and meta.get("solution"):
            lines = [line.rstrip() for line in _source(cell).split("\n")
                     if line.strip() and not line.strip().startswith("#")]
            text = " ⏎ ".join(lines[:limit]) + (" ⏎ …" if len(lines) > limit else "")
            return text[:300] + ("…" if len(text) > 300 else "")
    return ""


def _not_graded_message(message: str) -> str:
    """Why a failed answer cell earned nothing, said for the returned feedback: the self-check sentence
    ("Your answer cell raised NameError: ...; fix it and run it again.") without its advice to re-run."""
    import re

    why = re.sub(r"[;,.]?\s*fix it and run it again\.?$", "", (message or "").strip()).rstrip(" .;")
    if not why:
        return "Not graded: your answer could not be read."
    why = why[:1].lower() + why[1:]
    if why.startswith("your answer cell"):
        return f"Not graded: {why}, so it left no answer to grade."
    return f"Not graded: {why}."


def _display_output(result: QuestionResult, entry: Mapping[str, Any] | None, plots: bool,
                    wrote: str = "") -> dict[str, Any]:
    from grader.notebook.display import CheckResult

    shown: Any
    if result.verdict is not None and entry is not None:
        shown = _verdict_display(result, entry, plots)
        if _failed_answer(result.answer):  # what the student wrote and why nothing was graded, no stale value
            shown.answer_latex, shown.answer_text, shown.plot_png = "", wrote, None
            shown.message = _not_graded_message(result.message)
    else:
        status = "unanswered" if result.status in ("stopped", "missing") else "error"
        shown = CheckResult(result.qid or result.grade_id, status, 0.0, result.max_points, result.message,
                            method="invalid", key="private")
    try:
        bundle = shown._repr_mimebundle_()
    except Exception:  # rendering must not lose the grade
        bundle = {"text/plain": f"[{result.qid}] {result.points:g} / {result.max_points:g} points. {result.message}"}
    data = {k: v for k, v in bundle.items() if k in ("text/plain", "text/html", VERDICT_MIME)}
    if VERDICT_MIME in data:
        data[VERDICT_MIME] = dict(data[VERDICT_MIME], trusted=True, status=result.status)
    return {"output_type": "display_data", "data": data, "metadata": {"calcgrade": {"trusted": True}}}


def _verdict_display(result: QuestionResult, entry: Mapping[str, Any], plots: bool) -> Any:
    from grader.core.verdict import Verdict
    from grader.notebook.display import CheckResult

    verdict = Verdict.from_dict(result.verdict or {})
    value = None
    if entry.get("kind") != "function":
        try:
            from grader.key.wire import from_wire

            value = from_wire(result.answer)
        except Exception:
            value = None
    shown_entry = dict(entry, points=result.max_points)
    if not plots:  # CheckResult.build draws plots for function and expression kinds only
        shown_entry["kind"] = "no-plot"
    try:
        shown = CheckResult.build(result.qid or "", shown_entry, result.answer, verdict, value=value)
    except Exception:
        shown = CheckResult(result.qid or "", result.status if result.status in ("correct", "wrong", "unanswered")
                            else "error", result.points, result.max_points, result.message, key="private")
    shown.earned = result.points  # the points are the trusted grader's, whatever the display computes
    return shown

