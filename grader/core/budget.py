"""Time budgets that work without signals.

Why this shape: ``compare`` must end within its timeout in any thread (a Jupyter
kernel, a grading worker), so ``signal.alarm`` is out. Two mechanisms are used:

* ``enforced(deadline)`` installs a *trace function* (``sys.settrace``) in the
  current thread for the duration of a block. CPython calls it on every Python
  function call; once the deadline has passed it raises ``Timeout`` (a
  ``BaseException``, so library code's ``except Exception`` does not swallow it).
  SymPy and mpmath are pure Python, so a runaway ``simplify`` is abandoned within
  about a millisecond of the deadline and the thread is free again: nothing keeps
  burning CPU in the background. Cost: roughly 10-30 % slower Python while active,
  and no effect on long-running C calls (huge integer powers, NumPy on giant
  arrays); those are prevented by size guards before the call (see
  ``equivalence``). An already installed tracer (debugger, coverage) is chained.

* ``call_with_timeout(fn, deadline)`` runs *student code* (a callable) in a daemon
  thread that carries the same tracer with line events, so an infinite ``while``
  loop in Python is stopped; if the code blocks in C (``time.sleep``, a huge NumPy
  allocation) we stop waiting at the deadline and report a timeout. The limitation:
  such a thread cannot be killed and keeps running until its C call returns.

A forked subprocess would be the only complete isolation, but its start-up cost
(tens of milliseconds with SymPy loaded) breaks the latency target; the trusted
grading process of the course cycle already runs each notebook in its own kernel.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["Timeout", "Deadline", "enforced", "call_with_timeout"]

import os as _os

_THIS_DIR = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))  # the grader package: our own code is "library"


class Timeout(BaseException):
    """Raised inside a guarded block when its deadline has passed."""


class Deadline:
    """A point in monotonic time."""

    __slots__ = ("end",)

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + max(0.0, float(seconds))

    @classmethod
    def at(cls, end: float) -> "Deadline":
        d = cls(0.0)
        d.end = end
        return d

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def within(self, seconds: float) -> "Deadline":
        """A deadline that is the earlier of this one and ``seconds`` from now."""
        return Deadline.at(min(self.end, time.monotonic() + seconds))

    def check(self) -> None:
        if time.monotonic() >= self.end:
            raise Timeout


@contextmanager
def enforced(deadline: Deadline | None) -> Iterator[None]:
    """Raise ``Timeout`` in Python code running in this block once ``deadline`` passes.

    Nested blocks keep the earlier of the two deadlines; a foreign tracer
    (debugger, coverage) is chained. Finalisers (``__del__``) are never
    interrupted, so no "Exception ignored" line can reach stderr.
    """
    if deadline is None:
        yield
        return
    mono = time.monotonic
    old = sys.gettrace()
    outer_end = getattr(old, "_calcgrade_end", None)
    end = deadline.end if outer_end is None else min(deadline.end, outer_end)
    chained = None if outer_end is not None else old

    if chained is None:

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            if mono() > end and _interruptible(frame):
                raise Timeout
            return None

    else:

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            if mono() > end and _interruptible(frame):
                raise Timeout
            return chained(frame, event, arg)

    tracer._calcgrade_end = end  # type: ignore[attr-defined]
    if sys.unraisablehook is not _quiet_unraisable:
        _install_quiet_unraisable()
    if mono() > end:
        raise Timeout
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(old)


# generator, coroutine and async-generator frames: resuming one may be its finalisation
# (GeneratorExit), where an exception could only be "ignored" and printed to stderr
_RESUMABLE = 0x20 | 0x80 | 0x100 | 0x200


def _interruptible(frame: Any) -> bool:
    code = frame.f_code
    return (
        not (code.co_flags & _RESUMABLE)
        and code.co_name not in ("__del__", "<module>")
        and not code.co_filename.startswith("<frozen importlib")
    )


_previous_unraisable: Any = None


def _quiet_unraisable(info: Any) -> None:
    """Drop our own Timeout when Python could only report it as "Exception ignored" on stderr."""
    if isinstance(info.exc_value, Timeout) or info.exc_type is Timeout:
        return
    (_previous_unraisable or sys.__unraisablehook__)(info)


def _install_quiet_unraisable() -> None:
    global _previous_unraisable
    _previous_unraisable = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable


def guarded(fn: Callable[..., Any], deadline: Deadline | None, *args: Any) -> Any:
    """Call ``fn(*args)`` under ``enforced(deadline)``."""
    with enforced(deadline):
        return fn(*args)


class _Outcome:
    __slots__ = ("value", "error", "done")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False


def call_with_timeout(fn: Callable[..., Any], args: tuple, deadline: Deadline) -> tuple[str, Any]:
    """Run untrusted ``fn(*args)`` in a daemon thread; stop waiting at the deadline.

    Returns ("ok", value), ("error", exception) or ("timeout", None). Python-level
    loops are interrupted by a line tracer; code blocked in C is abandoned.
    """
    out = _Outcome()
    end = deadline.end
    mono = time.monotonic
    library = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, _THIS_DIR})

    def local(frame: Any, event: str, arg: Any) -> Any:
        if mono() > end:
            raise Timeout
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if mono() > end:
            raise Timeout
        if frame.f_code.co_filename.startswith(library):
            return None  # library code: checked at every call only
        # student code: check at every opcode (``while True: pass`` has no line events)
        frame.f_trace_opcodes = True
        return local

    def target() -> None:
        import warnings

        import numpy as np

        sys.settrace(tracer)
        try:
            # a warning printed to stderr would make nbgrader score the cell 0
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                out.value = fn(*args)
        except Timeout:
            out.error = Timeout()
        except BaseException as exc:  # student code may raise anything, SystemExit included
            out.error = exc
        finally:
            sys.settrace(None)
            out.done = True

    thread = threading.Thread(target=target, name="calcgrade-student-call", daemon=True)
    thread.start()
    thread.join(deadline.remaining())
    if not out.done or isinstance(out.error, Timeout):
        return "timeout", None
    if out.error is not None:
        return "error", out.error
    return "ok", out.value
