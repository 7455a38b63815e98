"""Turning an executor child's recorded events into nbformat outputs, in the trusted parent.

The events come from a process running student code, so they are read as untrusted data: only the
four nbformat output types with fields of the right types are kept, anything else is dropped, and
nothing is executed or evaluated.  Consecutive stream outputs of the same name are merged and
``clear_output`` / ``update_display_data`` are applied as nbclient applies them.
"""

from __future__ import annotations

from typing import Any

from grader.notebook.capture import ANSWER_MIME

__all__ = ["ANSWER_MIME", "apply_events", "payloads_of", "clean_output"]

_STREAMS = ("stdout", "stderr")


def _clean_bundle(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    out: dict[str, Any] = {}
    for mime, value in data.items():
        if not isinstance(mime, str) or "/" not in mime:
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "".join(value)
        if isinstance(value, str) or mime.endswith("json"):
            out[mime] = value
    return out


def clean_output(out: Any) -> dict[str, Any] | None:
    """A well-formed nbformat output built from ``out``, or None when it is not one."""
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream":
        name, text = out.get("name"), out.get("text")
        if name in _STREAMS and isinstance(text, str):
            return {"output_type": "stream", "name": name, "text": text}
        return None
    if kind in ("display_data", "execute_result"):
        data = _clean_bundle(out.get("data"))
        if data is None:
            return None
        meta = out.get("metadata") if isinstance(out.get("metadata"), dict) else {}
        clean: dict[str, Any] = {"output_type": kind, "data": data, "metadata": meta}
        if kind == "execute_result":
            count = out.get("execution_count")
            clean["execution_count"] = count if isinstance(count, int) else None
        transient = out.get("transient")
        if isinstance(transient, dict) and isinstance(transient.get("display_id"), str):
            clean["transient"] = {"display_id": transient["display_id"]}
        return clean
    if kind == "error":
        tb = out.get("traceback")
        return {
            "output_type": "error",
            "ename": out.get("ename") if isinstance(out.get("ename"), str) else "Error",
            "evalue": out.get("evalue") if isinstance(out.get("evalue"), str) else "",
            "traceback": [t for t in tb if isinstance(t, str)] if isinstance(tb, list) else [],
        }
    return None


def apply_events(notebook: dict[str, Any], events: list[dict[str, Any]]) -> int | None:
    """Fill the code cells of ``notebook`` (outputs already empty) from ``events``.

    Returns the index of the last cell that started, or None when none did.
    """
    cells = notebook.get("cells", [])
    pending_clear: set[int] = set()
    last: int | None = None
    for ev in events:
        c = ev.get("c")
        if not isinstance(c, int) or isinstance(c, bool) or not 0 <= c < len(cells):
            continue
        cell = cells[c]
        if cell.get("cell_type") != "code":
            continue
        outputs = cell.setdefault("outputs", [])
        if "n" in ev:
            count = ev["n"]
            cell["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
            last = c
        elif "clear" in ev:
            if ev["clear"] is True:
                pending_clear.add(c)
            else:
                outputs.clear()
        elif "o" in ev:
            out = clean_output(ev["o"])
            if out is None:
                continue
            if "upd" in ev:
                _update(cells, str(ev["upd"]), out)
                continue
            if c in pending_clear:
                outputs.clear()
                pending_clear.discard(c)
            prev = outputs[-1] if outputs else None
            if (out["output_type"] == "stream" and prev is not None and prev.get("output_type") == "stream"
                    and prev.get("name") == out["name"]):
                prev["text"] += out["text"]
            else:
                outputs.append(out)
    for cell in cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            out.pop("transient", None)
    return last


def _update(cells: list[dict[str, Any]], display_id: str, new: dict[str, Any]) -> None:
    for cell in cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if (out.get("transient") or {}).get("display_id") == display_id and "data" in out:
                out["data"] = new.get("data", {})
                out["metadata"] = new.get("metadata", {})


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
