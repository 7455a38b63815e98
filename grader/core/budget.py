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

import math
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


WALL = time.monotonic
CPU = time.thread_time


class Deadline:
    """A point in time, on the wall clock (default) or on this thread's CPU clock.

    Why two clocks: the overall timeout of a call is wall time (a check must end when promised),
    but the shares inside it (proof, exact check, diagnosis) decide *what* a verdict says: measured
    in wall time they would depend on how busy the machine is, and the same submission could get a
    different diagnosis (or confirmation) on a loaded grading host. Measured in the thread's CPU
    time they depend only on the work done. A CPU deadline runs inside a wall one (``enforced``
    checks both), so it never extends the call.
    """

    __slots__ = ("end", "clock")

    def __init__(self, seconds: float, clock: Callable[[], float] = WALL) -> None:
        self.clock = clock
        self.end = clock() + max(0.0, float(seconds))

    @classmethod
    def at(cls, end: float, clock: Callable[[], float] = WALL) -> "Deadline":
        d = cls(0.0, clock)
        d.end = end
        return d

    @classmethod
    def cpu(cls, seconds: float) -> "Deadline":
        """``seconds`` of this thread's CPU time from now."""
        return cls(seconds, CPU)

    def remaining(self) -> float:
        return max(0.0, self.end - self.clock())

    def expired(self) -> bool:
        return self.clock() >= self.end

    def check(self) -> None:
        if self.clock() >= self.end:
            raise Timeout


@contextmanager
def enforced(deadline: Deadline | None) -> Iterator[None]:
    """Raise ``Timeout`` in Python code running in this block once ``deadline`` passes.

    Nested blocks keep the earlier of the deadlines on each clock (wall, CPU); a foreign tracer
    (debugger, coverage) is chained. Finalisers (``__del__``) are never interrupted, so no
    "Exception ignored" line can reach stderr.
    """
    if deadline is None:
        yield
        return
    mono, cpu = WALL, CPU
    old = sys.gettrace()
    outer = getattr(old, "_calcgrade_limits", None)
    wall_end, cpu_end = outer if outer is not None else (math.inf, math.inf)
    if deadline.clock is CPU:
        cpu_end = min(cpu_end, deadline.end)
    else:
        wall_end = min(wall_end, deadline.end)
    chained = None if outer is not None else old
    # the CPU clock (a system call) is read only when the wall clock says it may have passed:
    # a thread's CPU time never runs faster than the wall clock
    hint = [mono() + (cpu_end - cpu()) if cpu_end != math.inf else math.inf]

    def cpu_passed(now: float) -> bool:
        left = cpu_end - cpu()
        if left <= 0:
            return True
        hint[0] = now + left
        return False

    def passed() -> bool:
        now = mono()
        return now > wall_end or (now > hint[0] and cpu_passed(now))

    if chained is None:

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            now = mono()
            if (now > wall_end or (now > hint[0] and cpu_passed(now))) and _interruptible(frame):
                raise Timeout
            return None

    else:

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            now = mono()
            if (now > wall_end or (now > hint[0] and cpu_passed(now))) and _interruptible(frame):
                raise Timeout
            return chained(frame, event, arg)

    tracer._calcgrade_limits = (wall_end, cpu_end)  # type: ignore[attr-defined]
    if sys.unraisablehook is not _quiet_unraisable:
        _install_quiet_unraisable()
    if passed():
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
