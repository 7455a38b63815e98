"""Running a notebook's cells in one process, recording outputs the way nbclient does.

Used by the executor's child process (``grader.course.sandbox.zygote``): an IPython ``InteractiveShell``
(magics, ``display()``, AST transformers such as check()'s deferral, ``%matplotlib inline``)
whose display publisher, display hook, traceback printer and ``sys.stdout``/``sys.stderr`` write
nbformat outputs (stream, display_data, execute_result, error) as JSON lines to a file descriptor
the moment they happen: when the process dies mid-notebook, everything recorded before is kept.

Events written (one JSON object per line):
    {"c": i, "o": <output>}            an output of code cell i
    {"c": i, "n": <execution_count>}   cell i started with this execution count
    {"c": i, "clear": true|false}      clear_output(wait=...) in cell i
    {"c": i, "upd": <display_id>, "o": <output>}   update_display_data
Timing events for the supervising zygote go to a second fd: ``S i`` / ``E i`` / ``D`` lines.
"""

from __future__ import annotations

import base64
import io
import json
import os
from typing import Any

__all__ = ["Recorder", "make_shell", "run_cells", "MAX_OUTPUT_BYTES"]

MAX_OUTPUT_BYTES = 24 << 20   # outputs recorded per notebook; beyond it a single notice


class Recorder:
    """Writes output events of the current cell to a file descriptor, unbuffered."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.cell: int | None = None
        self.written = 0
        self.full = False

    def _write(self, event: dict[str, Any]) -> None:
        if self.fd < 0 or self.cell is None:
            return
        event["c"] = self.cell
        data = (json.dumps(event, default=_json_default) + "\n").encode("utf-8", "replace")
        if self.full:
            return
        if self.written + len(data) > MAX_OUTPUT_BYTES:
            self.full = True
            data = (json.dumps({"c": self.cell, "o": {
                "output_type": "stream", "name": "stderr",
                "text": "[output limit reached: later outputs of this notebook were not kept]\n",
            }}) + "\n").encode()
        self.written += len(data)
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except InterruptedError:
                continue
            except OSError:
                self.fd = -1
                return
            view = view[n:]

    def output(self, out: dict[str, Any]) -> None:
        self._write({"o": out})

    def update(self, display_id: str, out: dict[str, Any]) -> None:
        self._write({"upd": display_id, "o": out})

    def count(self, n: int) -> None:
        self._write({"n": n})

    def clear(self, wait: bool) -> None:
        self._write({"clear": bool(wait)})

    def stream(self, name: str, text: str) -> None:
        if text:
            self.output({"output_type": "stream", "name": name, "text": text})


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(bytes(obj)).decode("ascii")
    return str(obj)


class RecordingStream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` of a cell: every write becomes a stream output."""

    def __init__(self, recorder: Recorder, name: str) -> None:
        self.recorder = recorder
        self.name = name

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self.recorder.stream(self.name, s)
        return len(s)

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


def make_shell() -> Any:
    """The InteractiveShell every job's child inherits (created once, in the warm executor)."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class RecordingPublisher(DisplayPublisher):
        recorder: Recorder | None = None

        def publish(self, data: Any, metadata: Any = None, source: Any = None, *,
                    transient: Any = None, update: bool = False, **kwargs: Any) -> None:
            rec = RecordingPublisher.recorder
            if rec is None:
                return
            out = {"output_type": "display_data", "data": data, "metadata": metadata or {}}
            display_id = (transient or {}).get("display_id") if isinstance(transient, dict) else None
            if display_id is not None:
                out["transient"] = {"display_id": display_id}
            if update and display_id is not None:
                rec.update(str(display_id), out)
            else:
                rec.output(out)

        def clear_output(self, wait: bool = False) -> None:
            rec = RecordingPublisher.recorder
            if rec is not None:
                rec.clear(wait)

    class RecordingDisplayHook(DisplayHook):
        def start_displayhook(self) -> None:
            self._data: dict[str, Any] | None = None

        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
            self._data = {"output_type": "execute_result", "data": format_dict,
                          "metadata": md_dict or {}, "execution_count": self.prompt_count}

        def finish_displayhook(self) -> None:
            rec = RecordingPublisher.recorder
            if rec is not None and self._data is not None:
                rec.output(self._data)
            self._data = None

    class RecordingShell(InteractiveShell):
        display_pub_class = RecordingPublisher
        displayhook_class = RecordingDisplayHook

        def _showtraceback(self, etype: Any, evalue: Any, stb: Any) -> None:
            rec = RecordingPublisher.recorder
            if rec is None:
                return
            rec.output({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)),
                        "evalue": _safe_str(evalue), "traceback": [str(s) for s in (stb or [])]})

    config = Config()
    config.HistoryManager.enabled = False
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.autocall = 0
    shell = RecordingShell.instance(config=config)
    shell.RecordingPublisher = RecordingPublisher  # type: ignore[attr-defined]
    return shell


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _emit_timing(fd: int, line: str) -> None:
    try:
        os.write(fd, (line + "\n").encode())
    except OSError:
        pass


def cell_source(cell: Any) -> str:
    src = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def run_cells(shell: Any, cells: list[Any], recorder: Recorder, timing_fd: int) -> None:
    """Run every code cell in order; an error in one cell does not stop the next (nbgrader does the same)."""
    import sys

    shell.RecordingPublisher.recorder = recorder
    sys.stdout = RecordingStream(recorder, "stdout")
    sys.stderr = RecordingStream(recorder, "stderr")
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        try:
            recorder.cell = index
            recorder.count(shell.execution_count)
            _emit_timing(timing_fd, f"S {index}")
            shell.run_cell(cell_source(cell), store_history=True, silent=False)
        except KeyboardInterrupt:  # an interrupt that arrived just outside the cell's own code
            recorder.output({"output_type": "error", "ename": "KeyboardInterrupt", "evalue": "",
                             "traceback": ["KeyboardInterrupt: the cell was stopped at its time limit"]})
        except MemoryError:
            recorder.output({"output_type": "error", "ename": "MemoryError", "evalue": "",
                             "traceback": ["MemoryError: the notebook ran out of memory"]})
        finally:
            try:
                sys.stdout.flush()
            except Exception:
                pass
            sys.stdout = RecordingStream(recorder, "stdout")
            sys.stderr = RecordingStream(recorder, "stderr")
            _emit_timing(timing_fd, f"E {index}")
    recorder.cell = None
    _emit_timing(timing_fd, "D")
