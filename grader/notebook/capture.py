"""Grading mode of ``check()``: hand the answer over, decide nothing.

When a submission is graded, its cells run in a sandboxed child of the executor
(``grader.course.sandbox.executor``).  Before any student cell runs, the executor calls
``configure(inputs=...)`` in that process; from then on ``check(qid, value)`` only turns the value
into wire form (calling a function answer on the inputs the job carries) and emits it as one
``display_data`` output of type ``application/vnd.calcgrade.answer+json``.  No key is looked for,
no verdict computed: the trusted grader, outside the sandbox, grades the payload with the private
key.  Nothing the student's code does here can raise its score: the worst it can do is emit no
payload, or a wrong one, for its own notebook.

Grading mode is process state set by the executor, never an environment variable: a variable
would be readable and settable by the very code it is meant to constrain, and the trusted side
takes no hint from the notebook at all.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from grader.key.mediatypes import ANSWER_MIME

__all__ = [
    "ANSWER_MIME", "PAYLOAD_VERSION", "configure", "deconfigure", "active", "inputs_for", "variant_for",
    "answer_payload", "emit",
]

PAYLOAD_VERSION = 1

# qid -> wire argument tuples of a function question; None while not grading
_INPUTS: dict[str, list[Any]] | None = None


_VARIANTS: dict[str, dict[str, Any]] = {}


def configure(inputs: Mapping[str, list[Any]] | None = None,
              variants: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Switch this process into grading mode (the executor calls it before the student's cells).

    ``inputs`` maps the qid of every function question to the wire argument tuples its answer is
    called on (from the private key); other questions need none.  ``variants`` maps the qid of every
    variant question to the graded student's ``{"params", "statement"}``, chosen by the trusted grader
    from the gradebook's student id (what ``variant(qid)`` returns in this process).
    """
    global _INPUTS
    _INPUTS = {str(k): list(v) for k, v in (inputs or {}).items()}
    _VARIANTS.clear()
    _VARIANTS.update({str(k): dict(v) for k, v in (variants or {}).items() if isinstance(v, Mapping)})


def variant_for(qid: str) -> dict[str, Any] | None:
    """The graded student's params and statement of variant question ``qid`` while grading."""
    return _VARIANTS.get(qid) if _INPUTS is not None else None


def deconfigure() -> None:
    """Leave grading mode (tests; an executor never needs it: its child process ends instead)."""
    global _INPUTS
    _INPUTS = None


def active() -> bool:
    """True in a process the executor configured for grading."""
    return _INPUTS is not None


def inputs_for(qid: str) -> list[Any] | None:
    """The function inputs of ``qid`` while grading, None for a question that is not a function."""
    if _INPUTS is None:
        return None
    return _INPUTS.get(qid)


def cell_error_message(error: str) -> str:
    """The sentence shown for a stale answer (a lower-case start: it follows "Your answer cell ...")."""
    if error.startswith("KeyboardInterrupt"):
        return ("your answer cell was stopped before it finished (an endless loop?); fix it and run it again")
    return f"your answer cell raised {error}; fix it and run it again"


def answer_payload(qid: str, answer: Any, *, cell_error: str | None = None) -> dict[str, Any]:
    """The payload of one answer (INTERFACES section 1)."""
    payload: dict[str, Any] = {"qid": qid, "answer": answer, "v": PAYLOAD_VERSION}
    if cell_error:
        payload["notes"] = {"cell_error": cell_error}
    return payload


def _names_of(value: Any) -> tuple[str, ...]:
    """Global names a deferred answer reads (``check("q", d_chain)`` -> ("d_chain",))."""
    names = getattr(value, "names", None)
    if names and isinstance(names, (tuple, list)) and all(isinstance(n, str) for n in names):
        return tuple(names)  # filled in by the test-cell rewrite; a hand-made Deferred has none
    thunk = getattr(value, "thunk", None)
    code = getattr(thunk, "__code__", None)
    return tuple(getattr(code, "co_names", ()) or ()) + tuple(getattr(code, "co_freevars", ()) or ())


def emit(
    qid: str,
    value: Any,
    *,
    to_wire: Callable[[Any, dict[str, Any] | None], Any],
    cell_error: Callable[[str], str | None] | None = None,
) -> None:
    """Serialise ``value`` as the answer to ``qid`` and display it as the answer payload.

    ``to_wire(value, entry)`` is check()'s own serialiser (the same wire form self-check grades),
    given a minimal entry for function questions: their kind and the job's inputs.  ``cell_error``
    (when check() offers it) says whether the cell that assigns a name read by the answer raised in
    its latest run; then a stale value is not handed over, an error answer is.
    """
    from grader.key.entries import error_answer

    error_text = None
    if cell_error is not None:
        for name in _names_of(value):
            try:
                error_text = cell_error(name)
            except Exception:
                error_text = None
            if error_text:
                break
    if error_text:
        answer = error_answer(cell_error_message(error_text))
    else:
        inputs = inputs_for(qid)
        entry = {"kind": "function", "inputs": inputs} if inputs is not None else None
        try:
            answer = to_wire(value, entry)
        except Exception as exc:  # a bug of ours still hands over something the grader can read
            answer = error_answer(f"your answer could not be read ({exc.__class__.__name__})")
    payload = answer_payload(qid, answer, cell_error=error_text)
    from IPython.display import display

    display(
        {ANSWER_MIME: payload, "text/plain": f"Answer to {qid} recorded for grading."},
        raw=True,
    )
    return None
