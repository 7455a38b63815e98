"""``check()`` and ``question()``: the two calls a course notebook makes.

``question(qid, reference, ...)`` sits in an instructor's solution cell next to the reference
answer.  It does nothing in a normal run; while ``calcgrade key`` executes the solutions
(``CALCGRADE_RECORD`` names a file) it records the reference and its options for the key builder.

``check(qid, value)`` sits in a locked test cell.  It turns the student's value into wire form
(calling a student's function on the key's inputs, each call time-limited), grades it with
``grader.key.entries.grade`` against the private key under nbgrader or the public key otherwise, and shows
the verdict: rich HTML with the answer in LaTeX, a plain-text form, a machine-readable JSON form for
``calcgrade check``, and a small plot for a wrong function-shaped answer.  Under nbgrader
(``NBGRADER_EXECUTION``) the feedback goes out through ``display()`` and the cell's value is a plain
float of points earned; nothing is written to stderr.  It never raises on student input.

Unanswered questions: released stubs assign ``...``; a name left undefined because its cell raised
would make the test cell fail with ``NameError`` before ``check`` runs.  Importing this module in an
IPython kernel therefore installs an AST transformer that rewrites ``check("q", <expr>)`` into
``check("q", Deferred(lambda: <expr>))``; ``check`` evaluates the thunk itself, so an undefined name
becomes "not answered yet" (0 points) and an exception raised while computing the answer becomes a
verdict, not a traceback.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from grader.notebook.display import CheckResult

__all__ = ["check", "question", "Deferred", "VERDICT_MIME", "RECORD_ENV"]

VERDICT_MIME = "application/vnd.calcgrade.verdict+json"
RECORD_ENV = "CALCGRADE_RECORD"
NBGRADER_ENV = "NBGRADER_EXECUTION"
CALL_TIMEOUT = 2.0      # seconds per call of a student's function
CHECK_BUDGET = 6.0      # seconds for all calls of one check (nbgrader stops a cell at 10 s)

_RECORDED: dict[str, dict[str, Any]] = {}


class Deferred:
    """The not-yet-evaluated answer expression of a test cell (see the module docstring)."""

    __slots__ = ("thunk",)

    def __init__(self, thunk: Callable[[], Any]) -> None:
        self.thunk = thunk


class _Unanswered:
    """Marker for an answer that does not exist yet."""

    def __init__(self, why: str) -> None:
        self.why = why


# --- question(): recording reference answers ------------------------------------------------------
def question(
    qid: str,
    reference: Any,
    *,
    kind: str | None = None,
    var: Any = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    mistakes: dict[str, tuple[Any, str]] | None = None,
    inputs: list[Any] | None = None,
    domain: tuple[float, float] | None = None,
    plot: str | None = None,
    tests: list[tuple[Any, bool | str]] | None = None,
    hints: list[str] | None = None,
    partial: bool = False,
) -> None:
    """Declare the reference answer of question ``qid`` and its grading options.

    A no-op unless the key builder runs the notebook (``CALCGRADE_RECORD`` is set).
    """
    record = os.environ.get(RECORD_ENV)
    if not record:
        return None
    from grader.key.entries import make_question_record

    with _quiet():
        rec = make_question_record(
            qid, reference, kind=kind, var=var, rtol=rtol, atol=atol, mistakes=mistakes,
            inputs=inputs, domain=domain, plot=plot, call=_call_student, tests=tests, hints=hints,
            partial=partial,
        )
    _RECORDED[qid] = rec
    _append_record(record, {"question": rec})
    return None


def _append_record(path: str, item: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(item, sort_keys=True) + "\n")


# --- check(): grading inside the kernel -----------------------------------------------------------
def check(qid: str, value: Any = None, *args: Any, **kwargs: Any) -> Any:
    """Grade ``value`` as the answer to question ``qid`` and show the feedback.

    Returns a ``CheckResult`` (shown richly by Jupyter), or a plain float of points earned under
    nbgrader.  Never raises on student input.
    """
    # --- grading mode (grader.notebook.capture, set up by the sandboxed executor) ---------------
    # Only the answer is handed over: no key is read, no verdict computed in this process.
    from grader.notebook import capture

    if capture.active():
        with _quiet():
            return capture.emit(str(qid), value, to_wire=_to_wire_answer,
                                cell_error=globals().get("answer_cell_error"))
    # --- end of grading mode ------------------------------------------------------------------
    started = time.perf_counter()
    nbgrader = os.environ.get(NBGRADER_ENV, "") in ("autograde", "validate")
    try:
        with _quiet():
            result = _check(str(qid), value)
    except Exception as exc:  # a bug of ours must not cost the student a traceback
        from grader.notebook.display import CheckResult as _CR

        result = _CR.internal_error(str(qid), exc)
    result.elapsed = time.perf_counter() - started
    if nbgrader:
        try:
            from IPython.display import display

            with _quiet():
                display(result)
        except Exception:
            pass
        return float(result.earned)
    return result


def _check(qid: str, value: Any) -> "CheckResult":
    from grader.key import files, grading
    from grader.notebook.display import CheckResult

    value = _resolve(value)  # evaluate a deferred answer once: student code runs a single time
    record = os.environ.get(RECORD_ENV)
    if record:
        entry = _RECORDED.get(qid)
        answer = _to_wire_answer(value, entry)
        _append_record(record, {"check": qid, "answer": answer})
        return CheckResult.recorded(qid)

    key, source, problem = files.find_key_for_check(Path.cwd())
    if key is None:
        return CheckResult.no_key(qid, problem)
    entry = key.get("questions", {}).get(qid)
    if entry is None:
        return CheckResult.no_key(qid, f"the answer key ({source}) has no question {qid!r}")
    answer = _to_wire_answer(value, entry)
    verdict = grading.grade(answer, entry)
    return CheckResult.build(qid, entry, answer, verdict, value=_display_value(value))


def _display_value(value: Any) -> Any:
    if isinstance(value, (Deferred, _Unanswered)) or (isinstance(value, dict) and value.get("$") == "error"):
        return None
    return value


def _resolve(value: Any) -> Any:
    """Evaluate a deferred answer; an undefined name or an error becomes a marker, not a raise."""
    if isinstance(value, Deferred):
        try:
            value = value.thunk()
        except NameError as exc:
            name = getattr(exc, "name", None)
            why = f"`{name}` is not defined yet" if name else "a name in this cell is not defined yet"
            return _Unanswered(why + " (run the cell where you set it)")
        except Exception as exc:
            from grader.key.entries import error_answer

            return error_answer(f"computing your answer raised {_exc_text(exc)}")
    return value


def _to_wire_answer(value: Any, entry: dict[str, Any] | None) -> Any:
    """The wire form of a student's answer (function outputs for function questions)."""
    from grader.key import entries
    from grader.key.wire import WireError, to_wire

    value = _resolve(value)
    if isinstance(value, _Unanswered):
        return entries.unanswered_answer(value.why)
    if isinstance(value, dict) and value.get("$") == "error":
        return value
    if value is None or value is Ellipsis:
        return entries.unanswered_answer("")
    if entry is not None and entry.get("kind") == "function":
        return entries.call_answer(value, entry, call=_call_student)
    try:
        return to_wire(value)
    except WireError as exc:
        return entries.error_answer(str(exc))
    except RecursionError:
        return entries.error_answer("the value is too deeply nested to be checked")
    except Exception as exc:  # a value whose parts refuse to be read (a broken __len__, say)
        return entries.error_answer(f"your answer could not be read ({exc.__class__.__name__})")


# --- calling student code under a time limit ----------------------------------------------------
class _CallTimeout(BaseException):
    pass


def _call_student(fn: Callable[..., Any], args: tuple, timeout: float = CALL_TIMEOUT) -> tuple[str, Any]:
    """Call ``fn(*args)`` with a time limit, output captured; -> ("ok", v) | ("error", text) | ("timeout", None)."""
    sink = io.StringIO()
    use_alarm = (
        hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    )
    if not use_alarm:
        try:
            from grader.core.budget import Deadline, call_with_timeout
        except ImportError:  # pragma: no cover - the core always ships budget.py
            call_with_timeout = None
        if call_with_timeout is not None:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                status, out = call_with_timeout(fn, args, Deadline(timeout))
            if status == "error":
                return "error", _exc_text(out)
            return status, out

    def _alarm(signum: int, frame: Any) -> None:
        raise _CallTimeout

    old = None
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            if use_alarm:
                old = signal.signal(signal.SIGALRM, _alarm)
                signal.setitimer(signal.ITIMER_REAL, max(0.01, timeout))
            try:
                return "ok", fn(*args)
            finally:
                if use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
    except _CallTimeout:
        return "timeout", None
    except RecursionError:
        return "error", "RecursionError: the function calls itself without end"
    except BaseException as exc:  # SystemExit, KeyboardInterrupt from a student's function too
        if isinstance(exc, KeyboardInterrupt) and not use_alarm:
            raise
        return "error", _exc_text(exc)
    finally:
        if old is not None:
            signal.signal(signal.SIGALRM, old)


def _exc_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text[:160]}" if text else exc.__class__.__name__


@contextlib.contextmanager
def _quiet() -> Any:
    """No warnings, no NumPy floating-point chatter, no log lines (matplotlib's first-run "building the
    font cache"): any stderr output makes nbgrader score the cell 0."""
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"), contextlib.redirect_stderr(io.StringIO()):
            yield


# --- the test-cell rewrite ------------------------------------------------------------------------
class _DeferCheckArguments(ast.NodeTransformer):
    """Rewrites ``check(qid, expr, ...)`` to ``check(qid, Deferred(lambda: expr), ...)``."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        try:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name != "check" or len(node.args) < 2 or isinstance(node.args[1], ast.Starred):
                return node
            first, arg = node.args[0], node.args[1]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                return node  # only the test-cell form check("<qid>", ...)
            if isinstance(arg, ast.Constant) or any(
                isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)) for n in ast.walk(arg)
            ):
                return node  # nothing to defer, or not expressible inside a lambda
            lam = ast.Lambda(
                args=ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[],
                                   kw_defaults=[], kwarg=None, defaults=[]),
                body=arg,
            )
            mod = ast.Call(
                func=ast.Name(id="__import__", ctx=ast.Load()),
                args=[ast.Constant("grader.notebook.check")],
                keywords=[ast.keyword(arg="fromlist", value=ast.List(elts=[ast.Constant("Deferred")], ctx=ast.Load()))],
            )
            wrapped = ast.Call(func=ast.Attribute(value=mod, attr="Deferred", ctx=ast.Load()),
                               args=[lam], keywords=[])
            node.args[1] = ast.copy_location(wrapped, arg)
            return ast.fix_missing_locations(node)
        except Exception:
            return node


def _install_transformer() -> None:
    try:
        from IPython import get_ipython
    except Exception:
        return
    ip = get_ipython()
    if ip is None or not hasattr(ip, "ast_transformers"):
        return
    if not any(isinstance(t, _DeferCheckArguments) for t in ip.ast_transformers):
        ip.ast_transformers.append(_DeferCheckArguments())


_install_transformer()


def __getattr__(name: str) -> Any:
    if name == "CheckResult":
        from grader.notebook.display import CheckResult

        return CheckResult
    raise AttributeError(name)
