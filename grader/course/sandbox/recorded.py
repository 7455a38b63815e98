"""Turning an executor child's recorded events into nbformat outputs, in the trusted parent.

The events come from a process running student code (it may even write them into its result file by
hand), so they are read as untrusted data: only the four nbformat output types with fields of the right
types are kept, anything else is dropped, and nothing is executed or evaluated.  Consecutive stream
outputs of the same name are merged and ``clear_output`` / ``update_display_data`` are applied as nbclient
applies them.

Everything is bounded and linear: at most ``MAX_EVENTS`` events are read, a cell keeps at most
``MAX_OUTPUTS`` outputs, one text at most ``MAX_OUTPUT_TEXT`` characters, a JSON output at most
``MAX_JSON_NODES`` nodes; display updates find their outputs through an index by display id (a flood of
updates costs one dictionary look-up each, never a scan of the notebook).  ``clean_output`` is the one
clean-up of an untrusted output: the executor uses it for events, the trusted grader for the outputs of
an execution it receives (from a local executor or a Dask worker).
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from grader.notebook.capture import ANSWER_MIME

__all__ = ["ANSWER_MIME", "apply_events", "payloads_of", "clean_output", "json_size",
           "MAX_EVENTS", "MAX_OUTPUTS", "MAX_OUTPUT_TEXT", "MAX_JSON_NODES"]

MAX_EVENTS = 50_000          # events read from one job (an honest notebook writes a few hundred)
MAX_OUTPUTS = 200            # outputs kept per cell
MAX_OUTPUT_TEXT = 100_000    # characters of one text (a stream, a mime value, a traceback line)
MAX_JSON_NODES = 400_000     # nodes of one JSON mime value (an answer payload may be this large)
MAX_JSON_DEPTH = 200
MAX_MIMES = 20
_STREAMS = ("stdout", "stderr")
_TRUNCATED = "\n... (output truncated)"


def json_size(value: Any, limit_nodes: int = MAX_JSON_NODES, limit_depth: int = MAX_JSON_DEPTH) -> tuple[int, int]:
    """(nodes, depth) of a JSON value, iteratively, stopping as soon as a limit is passed."""
    nodes, depth = 0, 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, d = stack.pop()
        nodes += 1
        depth = max(depth, d)
        if nodes > limit_nodes or depth > limit_depth:
            return nodes, depth
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
            nodes += len(item)
        elif isinstance(item, (list, tuple)):
            stack.extend((v, d + 1) for v in item)
    return nodes, depth


def _text(value: Any, limit: int = MAX_OUTPUT_TEXT) -> str | None:
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            return None
        total, parts = 0, []
        for v in value:                       # never join more than the limit
            parts.append(v[: limit - total + 1])
            total += len(parts[-1])
            if total > limit:
                break
        value = "".join(parts)
    if not isinstance(value, str):
        return None
    return value if len(value) <= limit else value[:limit] + _TRUNCATED


def _small_json(value: Any, limit: int) -> Any:
    """A JSON value within ``limit`` nodes, as plain data (no NaN), else None."""
    nodes, depth = json_size(value, limit)
    if nodes > limit or depth > MAX_JSON_DEPTH:
        return None
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return None


def _clean_bundle(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    out: dict[str, Any] = {}
    for mime, value in list(data.items())[:MAX_MIMES]:
        if not isinstance(mime, str) or "/" not in mime or len(mime) > 100:
            continue
        if mime.endswith("json") and isinstance(value, (dict, list)):
            limit = MAX_JSON_NODES if mime == ANSWER_MIME else 10_000
            clean = _small_json(value, limit)
            if clean is not None:
                out[mime] = clean
            continue
        text = _text(value)
        if text is not None:
            out[mime] = text
    return out


def clean_output(out: Any) -> dict[str, Any] | None:
    """A well-formed, bounded nbformat output built from ``out``, or None when it is not one."""
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream":
        name, text = out.get("name"), _text(out.get("text"))
        if name in _STREAMS and text is not None:
            return {"output_type": "stream", "name": name, "text": text}
        return None
    if kind in ("display_data", "execute_result"):
        data = _clean_bundle(out.get("data"))
        if not data:
            return None
        meta = out.get("metadata")
        meta = _small_json(meta, 1_000) if isinstance(meta, dict) else {}
        clean: dict[str, Any] = {"output_type": kind, "data": data, "metadata": meta or {}}
        if kind == "execute_result":
            count = out.get("execution_count")
            clean["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
        transient = out.get("transient")
        if isinstance(transient, dict) and isinstance(transient.get("display_id"), str):
            clean["transient"] = {"display_id": transient["display_id"][:200]}
        return clean
    if kind == "error":
        tb = out.get("traceback")
        lines = [t for t in (_text(x, 10_000) for x in tb[:100]) if t is not None] if isinstance(tb, list) else []
        return {
            "output_type": "error",
            "ename": (_text(out.get("ename"), 200) or "Error"),
            "evalue": _text(out.get("evalue"), 2_000) or "",
            "traceback": lines,
        }
    return None


class _Cell:
    """One code cell's outputs while events are applied: streams gathered in lists (no quadratic +=)."""

    def __init__(self, cell: dict[str, Any]) -> None:
        self.cell = cell
        self.outputs: list[dict[str, Any]] = cell.setdefault("outputs", [])
        self.stream_parts: dict[int, list[str]] = {}
        self.stream_chars: dict[int, int] = {}
        self.truncated: set[int] = set()

    def clear(self) -> None:
        self.outputs.clear()
        self.stream_parts.clear()
        self.stream_chars.clear()
        self.truncated.clear()

    def add(self, out: dict[str, Any], index: dict[str, list[dict[str, Any]]]) -> None:
        prev = self.outputs[-1] if self.outputs else None
        if (out["output_type"] == "stream" and prev is not None and prev.get("output_type") == "stream"
                and prev.get("name") == out["name"]):
            key = len(self.outputs) - 1
            parts = self.stream_parts.setdefault(key, [prev["text"]])
            used = self.stream_chars.get(key, len(prev["text"]))
            if used + len(out["text"]) > MAX_OUTPUT_TEXT:
                self.truncated.add(key)
            if used < MAX_OUTPUT_TEXT:
                parts.append(out["text"][: MAX_OUTPUT_TEXT - used])
                self.stream_chars[key] = used + len(parts[-1])
            return
        if len(self.outputs) >= MAX_OUTPUTS:
            return
        self.outputs.append(out)
        display_id = (out.get("transient") or {}).get("display_id")
        if display_id is not None:
            index.setdefault(display_id, []).append(out)

    def finish(self) -> None:
        for key, parts in self.stream_parts.items():
            text = "".join(parts)[:MAX_OUTPUT_TEXT]
            self.outputs[key]["text"] = text + _TRUNCATED if key in self.truncated else text


def apply_events(notebook: dict[str, Any], events: Iterable[dict[str, Any]]) -> int | None:
    """Fill the code cells of ``notebook`` (outputs already empty) from ``events`` (at most MAX_EVENTS).

    Returns the index of the last cell that started, or None when none did.
    """
    cells = notebook.get("cells", [])
    pending_clear: set[int] = set()
    last: int | None = None
    state: dict[int, _Cell] = {}
    by_display_id: dict[str, list[dict[str, Any]]] = {}
    for count, ev in enumerate(events):
        if count >= MAX_EVENTS:
            break
        if not isinstance(ev, dict):
            continue
        c = ev.get("c")
        if not isinstance(c, int) or isinstance(c, bool) or not 0 <= c < len(cells):
            continue
        cell = cells[c]
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        slot = state.get(c) or state.setdefault(c, _Cell(cell))
        if "n" in ev:
            n = ev["n"]
            cell["execution_count"] = n if isinstance(n, int) and not isinstance(n, bool) else None
            last = c
        elif "clear" in ev:
            if ev["clear"] is True:
                pending_clear.add(c)
            else:
                slot.clear()
        elif "o" in ev:
            out = clean_output(ev["o"])
            if out is None:
                continue
            if "upd" in ev:
                for target in by_display_id.get(str(ev["upd"])[:200], ()):
                    if "data" in target and "data" in out:
                        target["data"] = out["data"]
                        target["metadata"] = out.get("metadata", {})
                continue
            if c in pending_clear:
                slot.clear()
                pending_clear.discard(c)
            slot.add(out, by_display_id)
    for slot in state.values():
        slot.finish()
    for cell in cells:
        for out in cell.get("outputs", []) if isinstance(cell, dict) and cell.get("cell_type") == "code" else []:
            out.pop("transient", None)
    return last


def payloads_of(notebook: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """Cell index -> the answer payloads (INTERFACES section 1) that cell displayed, in order."""
    found: dict[int, list[dict[str, Any]]] = {}
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") != "display_data":
                continue
            payload = out.get("data", {}).get(ANSWER_MIME)
            if isinstance(payload, dict):
                found.setdefault(index, []).append(payload)
    return found
