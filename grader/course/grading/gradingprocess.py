"""One hard budget for all the trusted parent's work on one notebook: it runs in a process that is killed.

Grading an answer means decoding it, comparing it with SymPy and mpmath, drawing its verdict, printing it
for the answer log and fingerprinting it.  Each of those can be made to run for hours by an answer of a
hundred bytes, in C code that no Python-level timer interrupts (``xreplace`` evaluating ``3**(2**28)``,
mpmath normalising a malformed number).  The wire decoder refuses the classes of such answers that are
known; this module bounds the ones that are not: every notebook's trusted work runs in a grading process
(forked from ``multiprocessing``'s forkserver, with SymPy and the grader imported once) under a CPU-time
limit the kernel enforces (``RLIMIT_CPU``, set before each notebook to the CPU time used so far plus the
budget: the machine's load cannot make an honest notebook run out of it; also ``RLIMIT_AS``), with a
wall-clock deadline as a backstop against a process that blocks.  A process over budget is killed; the
notebook gets 0 points with the reason (``trusted.over_budget``) and the batch goes on with a new process.

The grading process is reused from notebook to notebook (a pool of one, per grading process of ours): its
SymPy caches stay warm, so the references' derivatives, simplifications and lambdified functions are
computed once per class instead of once per notebook (about 30 ms of CPU per notebook instead of 300).
Nothing of one notebook decides another's verdict: the caches hold results of pure functions.  The process
is replaced after ``MAX_NOTEBOOKS`` notebooks or when it holds more than ``MAX_RSS`` bytes, so a large
answer cannot keep its memory for the rest of the class.

The process returns the ``GradedNotebook`` and, for the class report's answer log, each question's answer
fingerprint and text (``QuestionResult.fingerprint`` / ``answer_text``), so the parent never decodes or
prints an answer itself.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import multiprocessing
import os
import resource
import sys
import threading
import time
import traceback
from typing import Any, Iterator, Mapping

from grader.course.grading.trusted import GradedNotebook, grade_execution, over_budget

__all__ = ["DEFAULT_BUDGET", "MAX_NOTEBOOKS", "MAX_RSS", "grade_within_budget", "start_grading_process",
           "close_grading_process"]

DEFAULT_BUDGET = 60.0        # CPU seconds for one notebook (an honest one needs well under one)
WALL_FACTOR = 4.0            # the wall-clock backstop: budget x this + WALL_MARGIN
WALL_MARGIN = 30.0
GRADING_MEMORY = 4 << 30     # address space of one grading process (an honest notebook needs a few hundred MB)
MAX_NOTEBOOKS = 400          # notebooks one grading process grades before it is replaced
MAX_RSS = 1 << 30            # resident bytes past which it is replaced after its notebook
_PRELOAD = ["grader.course.grading.gradingprocess", "grader.key.grading", "grader.core.comparison",
            "grader.notebook.display", "grader.course.grading.answerprint", "sympy", "numpy", "mpmath"]
_LOG = logging.getLogger(__name__)
_LOCK = threading.RLock()
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


def _serve(conn: Any) -> None:
    """The grading process: notebook after notebook, each under the CPU limit set just before it (the
    process's CPU time so far plus the notebook's budget; past it the kernel sends SIGXCPU, which ends the
    process whatever it is doing).  Sends the result or our own traceback back; ends when the pipe closes."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (GRADING_MEMORY, GRADING_MEMORY))
    except (ValueError, OSError):
        pass  # a lower hard limit already holds
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    while True:
        try:
            budget, args, kwargs, log_fields = conn.recv()
        except (EOFError, OSError):
            return
        used = sum(os.times()[:2])
        soft = math.ceil(used) + max(1, int(budget))
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        try:
            graded = grade_execution(*args, **kwargs)
            if log_fields:
                _add_log_fields(graded, args[1])
            reply: tuple[str, Any] = ("ok", graded)
        except BaseException:  # a failure of ours: the instructor's log gets the traceback
            reply = ("error", traceback.format_exc())
        del args, kwargs
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


class _GradingProcess:
    """The parent's handle on one grading process: send a notebook, wait for its result within the wall
    deadline, kill the process when it is over budget or blocked."""

    def __init__(self) -> None:
        ctx = _context()
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        with _main_module_hidden():
            self.proc.start()
        child.close()
        self.notebooks = 0

    def grade(self, budget: float, args: tuple, kwargs: dict[str, Any],
              log_fields: bool) -> tuple[str, Any] | None:
        """("ok", graded) or ("error", traceback); None when the process died or blocked (it is then dead)."""
        self.notebooks += 1
        try:
            self.conn.send((budget, args, kwargs, log_fields))
        except (BrokenPipeError, OSError):
            self.kill()
            return None
        deadline = time.monotonic() + budget * WALL_FACTOR + WALL_MARGIN
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                return None
            if self.conn.poll(min(left, 1.0)):
                try:
                    return self.conn.recv()
                except (EOFError, OSError):
                    self.kill()   # the process died (CPU limit, memory, a crash in C)
                    return None
            if not self.proc.is_alive() and not self.conn.poll(0):
                self.kill()
                return None

    def worn(self) -> bool:
        """Due for replacement: dead, old, or holding too much memory."""
        if not self.proc.is_alive() or self.notebooks >= MAX_NOTEBOOKS:
            return True
        try:
            with open(f"/proc/{self.proc.pid}/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") > MAX_RSS
        except (OSError, ValueError, IndexError):
            return False

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(10)

    def exitcode(self) -> int | None:
        return self.proc.exitcode


_PROCESS: list[_GradingProcess] = []


def start_grading_process() -> None:
    """Start the grading process in the background (its forkserver imports SymPy and the grader: about a
    second), so that it is ready when the first notebook has run; a no-op when it is running."""
    def start() -> None:
        try:
            with _LOCK:
                if not _PROCESS:
                    _PROCESS.append(_GradingProcess())
        except Exception as exc:  # grade_within_budget starts one itself and reports what fails
            _LOG.debug("the grading process could not be started ahead: %s", exc)

    if not _PROCESS:
        threading.Thread(target=start, name="calcgrade-grading-start", daemon=True).start()


def close_grading_process() -> None:
    """End the reusable grading process (at exit, or by a caller done grading)."""
    with _LOCK:
        while _PROCESS:
            _PROCESS.pop().kill()


atexit.register(close_grading_process)


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
    """``trusted.grade_execution`` (and the answer log's fields) in the grading process, which is killed past
    ``budget`` CPU seconds for this notebook (or ``budget x 4 + 30`` s of wall time); over budget -> every
    question 0 with the reason.  Never raises for a submission: a failure of ours is logged with its
    traceback and grades 0 with a sentence."""
    args = (execution, private_key)
    kwargs = {"notebook_name": notebook_name, "restored": restored, "plots": plots}
    with _LOCK:  # one notebook at a time per grading process; callers are one writer thread
        if _PROCESS and _PROCESS[0].worn():
            _PROCESS.pop().kill()
        if not _PROCESS:
            _PROCESS.append(_GradingProcess())
        worker = _PROCESS[0]
        outcome = worker.grade(budget, args, kwargs, log_fields)
        code = worker.exitcode() if outcome is None else None
        if outcome is None:
            _PROCESS.remove(worker)
    base = restored if restored is not None else getattr(execution, "notebook", None) or {}
    if outcome is not None and outcome[0] == "ok":
        return outcome[1]
    if outcome is not None:
        _LOG.error("grading %s failed inside the grading process:\n%s", notebook_name, outcome[1])
        return over_budget(base, notebook_name, "the grader failed on this notebook (the instructor's log "
                           "has the details); it was not graded", execution=execution)
    why = (f"grading it took longer than its budget ({budget:g} s of CPU time)"
           if code is None or code in (-9, -24) or code < 0 else f"the grading process ended (exit status {code})")
    _LOG.warning("%s: %s", notebook_name, why)
    return over_budget(base, notebook_name, why, execution=execution)

