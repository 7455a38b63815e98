"""Progress that suits where the output goes: a live bar on a terminal, one plain line per step elsewhere.

Why: a tqdm bar redraws itself with carriage returns many times a second; in a CI log, a cron mail or
a file that is thousands of fragments on one line.  When the stream is not a terminal each finished
step prints one line ("autograde: 3/32 submissions 02_derivatives/alice"), which reads well in a log.
The object speaks tqdm's small interface (``update``, ``set_postfix_str``, ``close``, context manager),
so a tqdm call can be swapped for ``progress_bar`` without other changes.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["Progress", "progress_bar", "is_terminal"]


def is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """``total`` steps of ``unit`` under the name ``desc``; see the module docstring."""

    def __init__(self, total: int | None = None, *, desc: str = "", unit: str = "step",
                 file: TextIO | None = None, terminal: bool | None = None, leave: bool = True) -> None:
        self.total = total
        self.n = 0
        self.desc = desc
        self.unit = unit
        self.file = file if file is not None else sys.stderr
        self.terminal = is_terminal(self.file) if terminal is None else terminal
        self._postfix = ""
        self._bar: Any = None
        if self.terminal:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.file, leave=leave)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self._postfix = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=refresh)

    def reset(self, total: int | None = None) -> None:
        """Start counting again (the next notebook, say)."""
        self.n = 0
        self.total = total
        if self._bar is not None:
            self._bar.reset(total=total)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            return
        of = f"/{self.total}" if self.total is not None else ""
        units = self.unit if (self.total or self.n) == 1 else self.unit + "s"
        label = f"{self.desc}: " if self.desc else ""
        tail = f" {self._postfix}" if self._postfix else ""
        print(f"{label}{self.n}{of} {units}{tail}", file=self.file, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(total: int | None = None, *, desc: str = "", unit: str = "step", file: TextIO | None = None,
                 disable: bool = False, **_tqdm_options: Any) -> Progress:
    """A ``Progress`` (tqdm-like signature; ``disable`` prints nothing at all)."""
    if disable:
        import io

        return Progress(total, desc=desc, unit=unit, file=io.StringIO(), terminal=False)
    return Progress(total, desc=desc, unit=unit, file=file)
