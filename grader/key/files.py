"""Key files: where the private and public keys live, reading and writing them, finding the one ``check`` uses.

A key is a JSON document ``{"format", "assignment", "questions": {qid: entry}}``.  The private key
lives in ``<course root>/.calcgrade/keys/<assignment>.json``, outside every released folder; the
public key ships as ``solutions/<assignment>/calcgrade_public.json`` (nbgrader copies it to exercises/).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping



__all__ = [
    "PUBLIC_KEY_NAME", "PRIVATE_KEY_ENV", "KEY_DIR", "PRIVATE_FORMAT", "PUBLIC_FORMAT", "public_entry", "load_key",
    "dump_key", "private_key_path", "public_key_path", "find_course_root", "find_key_for_check", "is_private",
    "CONFIG_NAME",
]

PUBLIC_KEY_NAME = "calcgrade_public.json"
CONFIG_NAME = "nbgrader_config.py"     # the file that makes a folder a course
PRIVATE_KEY_ENV = "CALCGRADE_PRIVATE_KEY"
KEY_DIR = Path(".calcgrade") / "keys"
PRIVATE_FORMAT = "calcgrade-private-key/1"
PUBLIC_FORMAT = "calcgrade-public-key/1"


# --- building public entries --------------------------------------------------------------------------
def public_entry(entry: Mapping[str, Any], assignment: str) -> dict[str, Any]:
    from grader.key.publicbuild import build_public_entry
    from grader.key.variants import is_variant, public_variant_entry

    if is_variant(entry):  # fingerprints per variant, never a reference nor its generator
        return public_variant_entry(entry, assignment, build_public_entry)
    return build_public_entry(entry, assignment)


# --- key files ----------------------------------------------------------------------------------------
def dump_key(key: Mapping[str, Any]) -> str:
    """Canonical JSON text of a key (sorted keys, stable floats): the same key gives the same bytes."""
    return json.dumps(key, sort_keys=True, indent=1, ensure_ascii=True, allow_nan=False) + "\n"


def load_key(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        key = json.load(fh)
    if not isinstance(key, dict) or not isinstance(key.get("questions"), dict):
        raise ValueError(f"{path} is not a calcgrade key")
    return key


def private_key_path(course_root: Path, assignment: str) -> Path:
    return Path(course_root) / KEY_DIR / f"{assignment}.json"


def public_key_path(course_root: Path, assignment: str) -> Path:
    return Path(course_root) / "solutions" / assignment / PUBLIC_KEY_NAME


def find_course_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding nbgrader_config.py: the one walk-up rule, used by
    ``check()`` under nbgrader here and by every command (``grader.course.coursedir.find_course_root``)."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    return None


_CACHE: dict[str, tuple[float, dict[str, Any]]] = {}


def _cached_load(path: Path) -> dict[str, Any]:
    mtime = path.stat().st_mtime
    hit = _CACHE.get(str(path))
    if hit and hit[0] == mtime:
        return hit[1]
    key = load_key(path)
    _CACHE[str(path)] = (mtime, key)
    return key


def find_key_for_check(cwd: Path) -> tuple[dict[str, Any] | None, str, str]:
    """(key, where it came from, problem) for ``check`` running in folder ``cwd``.

    Under nbgrader (``NBGRADER_EXECUTION`` set) the private key: ``$CALCGRADE_PRIVATE_KEY`` (a key
    file, or a folder of ``<assignment>.json``), else ``<course root>/.calcgrade/keys/<assignment>.json``
    with the course root found by walking up to nbgrader_config.py and the assignment being the name
    of the notebook's folder.  Otherwise, or when no private key is found, the public key next to the
    notebook.
    """
    cwd = Path(cwd)
    assignment = cwd.resolve().name
    if os.environ.get("NBGRADER_EXECUTION"):
        candidates: list[Path] = []
        env = os.environ.get(PRIVATE_KEY_ENV)
        if env:
            p = Path(env)
            candidates.append(p / f"{assignment}.json" if p.is_dir() else p)
        root = find_course_root(cwd)
        if root is not None:
            candidates.append(private_key_path(root, assignment))
        for p in candidates:
            if p.is_file():
                try:
                    return _cached_load(p), str(p), ""
                except (OSError, ValueError) as exc:
                    return None, str(p), f"the private key {p} cannot be read ({exc})"
    public = cwd / PUBLIC_KEY_NAME
    if public.is_file():
        try:
            return _cached_load(public), PUBLIC_KEY_NAME, ""
        except (OSError, ValueError) as exc:
            return None, str(public), f"the answer key {PUBLIC_KEY_NAME} cannot be read ({exc})"
    return None, "", f"no answer key ({PUBLIC_KEY_NAME}) was found next to this notebook"


def is_private(entry: Mapping[str, Any]) -> bool:
    """Whether a key entry holds the reference (private) or only fingerprints (public)."""
    return "reference" in entry
