"""One hard budget for all the trusted parent's work on one notebook: it runs in a process that is killed.

Grading an answer means decoding it, comparing it with SymPy and mpmath, drawing its verdict, printing it
for the answer log and fingerprinting it.  Each of those can be made to run for hours by an answer of a
hundred bytes, in C code that no Python-level timer interrupts (``xreplace`` evaluating ``3**(2**28)``,
mpmath normalising a malformed number).  The wire decoder refuses the classes of such answers that are
known; this module bounds the ones that are not: every notebook's trusted work runs in a child process
forked from a warm server (``multiprocessing``'s forkserver, with SymPy and the grader imported once), with
a CPU-time limit the kernel enforces (``RLIMIT_CPU``: the machine's load cannot make an honest notebook run
out of it; also ``RLIMIT_AS``) and a wall-clock deadline as a backstop against a child that blocks.  A child over budget is
killed; the notebook gets 0 points with the reason (``trusted.over_budget``) and the batch goes on.

The child returns the ``GradedNotebook`` and, for the class report's answer log, each question's answer
fingerprint and text (``QuestionResult.fingerprint`` / ``answer_text``), so the parent never decodes or
prints an answer itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import resource
import sys
import threading
import time
import traceback
from typing import Any, Iterator, Mapping

from grader.course.grading.trusted import GradedNotebook, grade_execution, over_budget

__all__ = ["DEFAULT_BUDGET", "grade_within_budget"]

DEFAULT_BUDGET = 60.0        # CPU seconds for one notebook (an honest one needs well under one)
WALL_FACTOR = 4.0            # the wall-clock backstop: budget x this + WALL_MARGIN
WALL_MARGIN = 30.0
GRADING_MEMORY = 4 << 30     # address space of one grading process (an honest notebook needs a few hundred MB)
_PRELOAD = ["grader.course.grading.gradingprocess", "grader.key.grading", "grader.core.comparison",
            "grader.notebook.display", "grader.course.grading.answerprint", "sympy", "numpy", "mpmath"]
_LOG = logging.getLogger(__name__)
_LOCK = threading.Lock()
_CONTEXT: Any = None


def _context() -> Any:
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(_PRELOAD)
            _CONTEXT = ctx
        return _CONTEXT


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """multiprocessing imports the parent's ``__main__`` again in every new process; the grading process
    needs nothing of it (and a script without a ``__name__`` guard would run twice), so it is not named."""
    main = sys.modules.get("__main__")
    saved = {k: getattr(main, k) for k in ("__spec__", "__file__") if main is not None and hasattr(main, k)}
    try:
        for k in saved:
            if k == "__spec__":
                main.__spec__ = None
            else:
                delattr(main, k)
        yield
    finally:
        for k, v in saved.items():
            setattr(main, k, v)


def _child(conn: Any, budget: float, args: tuple, kwargs: dict[str, Any], log_fields: bool) -> None:
    """In the grading process: the CPU limit first, then the work; the result or our own traceback back."""
    soft = max(1, int(budget))
    resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 2))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (GRADING_MEMORY, GRADING_MEMORY))
    except (ValueError, OSError):
        pass  # a lower hard limit already holds
    try:
        graded = grade_execution(*args, **kwargs)
        if log_fields:
            _add_log_fields(graded, args[1])
        conn.send(("ok", graded))
    except BaseException:  # a failure of ours: the instructor's log gets the traceback
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _add_log_fields(graded: GradedNotebook, private_key: Mapping[str, Any]) -> None:
    from grader.course.grading.answerprint import answer_fingerprint, answer_text
    from grader.key.entries import unanswered_answer

    questions = (private_key.get("questions") or {}) if isinstance(private_key, Mapping) else {}
    for q in graded.questions:
        if q.qid is None:
            continue
        answer = q.answer if q.graded else None
        answer = unanswered_answer("") if answer is None else answer
        entry = questions.get(q.qid) or {}
        q.fingerprint = answer_fingerprint(answer, entry)
        q.answer_text = answer_text(answer)


def grade_within_budget(execution: Any, private_key: Mapping[str, Any], *, notebook_name: str,
                        restored: Mapping[str, Any] | None = None, plots: bool = False,
                        budget: float = DEFAULT_BUDGET, log_fields: bool = True) -> GradedNotebook:
    """``trusted.grade_execution`` (and the answer log's fields) in a grading process killed past ``budget``
    CPU seconds (or ``budget x 4 + 30`` s of wall time); over budget -> every question 0 with the reason.
    Never raises for a submission: a failure of ours is logged with its traceback and grades 0 with a
    sentence."""
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    args = (execution, private_key)
    kwargs = {"notebook_name": notebook_name, "restored": restored, "plots": plots}
    proc = ctx.Process(target=_child, args=(sender, budget, args, kwargs, log_fields), daemon=True)
    with _LOCK, _main_module_hidden():
        proc.start()
    sender.close()
    deadline = time.monotonic() + budget * WALL_FACTOR + WALL_MARGIN
    outcome: tuple[str, Any] | None = None
    try:
        while outcome is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if receiver.poll(min(left, 1.0)):
                try:
                    outcome = receiver.recv()
                except (EOFError, OSError):
                    break        # the child died (CPU limit, memory, a crash in C)
            elif not proc.is_alive() and not receiver.poll(0):
                break
    finally:
        receiver.close()
        if proc.is_alive():
            proc.kill()
        proc.join(10)
    base = restored if restored is not None else getattr(execution, "notebook", None) or {}
    if outcome is not None and outcome[0] == "ok":
        return outcome[1]
    if outcome is not None:
        _LOG.error("grading %s failed inside the grading process:\n%s", notebook_name, outcome[1])
        return over_budget(base, notebook_name, "the grader failed on this notebook (the instructor's log "
                           "has the details); it was not graded", execution=execution)
    code = proc.exitcode
    why = (f"grading it took longer than its budget ({budget:g} s of CPU time)"
           if code is None or code in (-9, -24) or code < 0 else f"the grading process ended (exit status {code})")
    _LOG.warning("%s: %s", notebook_name, why)
    return over_budget(base, notebook_name, why, execution=execution)

