"""The result of grading one answer.

A ``Verdict`` is a small immutable record so that it can cross process
boundaries as JSON (``to_dict``) and be shown by the notebook part without
knowing how it was reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Verdict"]

@dataclass(frozen=True)
class Verdict:
    """How an answer compares with the reference.

    correct:       whether the answer is accepted.
    score:         in [0, 1]; 1.0 when correct, else 0.0, or for an array question declared with
                   ``partial=True`` the fraction of right entries (``with_score``).
    message:       one or two sentences the student can act on.
    misconception: id of a recognised mistake (a named one, or a generic diagnosis such as
                   ``"constant_factor"``), else None.
    method:        how it was decided: "symbolic" (proven), "numeric" (sampled / within tolerance),
                   "exact" (exact arithmetic), "invalid" (the answer could not be read), "timeout".
    details:       JSON-able extras: counterexample, wrong entries, notes.
    """

    correct: bool
    score: float
    message: str
    misconception: str | None = None
    method: str = "numeric"
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        score = float(self.score)
        if not 0.0 <= score <= 1.0 or score != score:
            score = 1.0 if self.correct else 0.0
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "correct", bool(self.correct))

    def __bool__(self) -> bool:
        return self.correct

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with stable keys."""
        return {
            "correct": self.correct,
            "score": self.score,
            "message": self.message,
            "misconception": self.misconception,
            "method": self.method,
            "details": _jsonable(self.details),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Verdict":
        return cls(
            correct=bool(data.get("correct", False)),
            score=float(data.get("score", 0.0)),
            message=str(data.get("message", "")),
            misconception=data.get("misconception"),
            method=str(data.get("method", "numeric")),
            details=dict(data.get("details") or {}),
        )

    @classmethod
    def right(cls, message: str, method: str, **details: Any) -> "Verdict":
        return cls(True, 1.0, message, None, method, dict(details))

    @classmethod
    def wrong(
        cls, message: str, method: str, misconception: str | None = None, **details: Any
    ) -> "Verdict":
        return cls(False, 0.0, message, misconception, method, dict(details))

    def with_note(self, note: str) -> "Verdict":
        """The same verdict with ``note`` appended to its message and to ``details["notes"]``.

        For how the answer was read (a column read as a vector, True/False read as 1/0): the student
        should know it whatever the outcome."""
        notes = list(self.details.get("notes") or [])
        if note not in notes:
            notes.append(note)
        message = self.message if note in self.message else f"{self.message} Note: {note}".strip()
        return Verdict(self.correct, self.score, message, self.misconception, self.method,
                       {**self.details, "notes": notes})

    def with_score(self, score: float, note: str = "") -> "Verdict":
        """The same (wrong) verdict earning ``score`` of the points, ``note`` appended to its message
        (partial credit: "4 of 5 entries are right ...")."""
        message = f"{self.message} {note}".strip() if note and note not in self.message else self.message
        return Verdict(self.correct, score, message, self.misconception, self.method, dict(self.details))

    @classmethod
    def invalid(cls, message: str, reason: str = "invalid", **details: Any) -> "Verdict":
        details = {"reason": reason, **details}
        return cls(False, 0.0, message, None, "invalid", details)


def _jsonable(value: Any) -> Any:
    """Make details JSON-safe: plain containers, str, bool, int, float, None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    try:
        f = float(value)
    except Exception:
        return str(value)
    return _jsonable(f)
