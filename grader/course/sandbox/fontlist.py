"""matplotlib's font list, kept from one executor start to the next.

Every executor starts in a fresh sandbox whose ``/tmp`` (matplotlib's cache folder there) is empty, so at
every start matplotlib asked fontconfig for every font of the machine and opened each one to build its list:
0.14 CPU-seconds on a server with 38 fonts, seconds on a desktop with hundreds, on the way of the first
notebook of every run.

The list is built once, by matplotlib inside the sandbox (so it names the fonts as the sandbox sees them),
before any student code has run there: the executor hands it back with its ready message, as a memory file
(``exported``), and this process keeps it in the user's cache folder (``store``).  Every later executor gets
it read-only at ``HANDED_IN`` (``handed_in``: bubblewrap copies it there) and copies it to matplotlib's cache
folder before importing matplotlib (``hand_in``).  matplotlib checks the list itself: one of another version,
or one naming a font that is gone, is rebuilt, and the executor hands the new one back.  Whatever fails here
(no cache folder, a broken file, a list too large) only means matplotlib builds its list as before.

The executor's side (``hand_in``, ``exported``) runs in the sandbox and imports nothing but the standard
library; the trusted side (``handed_in``, ``store``) never gives the list to anything but a sandbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

__all__ = ["HANDED_IN", "MAX_BYTES", "cache_file", "handed_in", "store", "hand_in", "exported", "is_font_list"]

HANDED_IN = "/etc/calcgrade-matplotlib-fontlist.json"   # in the sandbox, read-only
MAX_BYTES = 16 << 20   # a list of some 50,000 fonts; anything larger is not kept
_VERSION = re.compile(r"[0-9A-Za-z.+-]{1,40}")


def is_font_list(data: bytes) -> bool:
    """A JSON object as matplotlib writes its font list (a version and a list of TrueType fonts), not too large."""
    return _version_of(data) is not None


def _version_of(data: bytes) -> str | None:
    """The list's matplotlib font-list version (part of the file name matplotlib reads), or None: not a list."""
    if len(data) > MAX_BYTES:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("ttflist"), list):
        return None
    version = value.get("_version")
    return version if isinstance(version, str) and _VERSION.fullmatch(version) else None


# --- the trusted side ---------------------------------------------------------------------------------------
def cache_file() -> Path:
    """Where the list is kept: the user's cache folder, one file per Python environment (each has its own
    matplotlib)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    env = hashlib.sha256(os.path.realpath(sys.prefix).encode()).hexdigest()[:12]
    return Path(base) / "calcgrade" / f"matplotlib-fontlist-{env}.json"


def handed_in() -> bytes | None:
    """The kept list, to hand to a new executor, or None (none kept yet, or not a font list)."""
    try:
        path = cache_file()
        if path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data if is_font_list(data) else None


def store(fd: int) -> bool:
    """Keep the list an executor handed back in the memory file ``fd`` (not closed here).  True when kept."""
    try:
        size = os.fstat(fd).st_size
        if size > MAX_BYTES:
            return False
        data = os.pread(fd, size, 0)
        if not is_font_list(data):
            return False
        path = cache_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".fontlist-", delete=False) as tmp:
            try:
                tmp.write(data)
                tmp.close()
                os.replace(tmp.name, path)   # a reader sees the old list or the new one, never half of one
            except OSError:
                os.unlink(tmp.name)   # a full disk leaves no half-written file behind
                raise
        return True
    except OSError:
        return False


# --- the executor's side (in the sandbox, before matplotlib is imported) -------------------------------------
def hand_in(config_dir: str | None) -> bytes | None:
    """Copy the list handed in at ``HANDED_IN`` to matplotlib's cache folder ``config_dir``, under the name
    matplotlib reads for the list's version; returns the list (None: none handed in, or unusable)."""
    if not config_dir:
        return None
    try:
        with open(HANDED_IN, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        return None
    version = _version_of(data)
    if version is None:
        return None
    try:
        os.makedirs(config_dir, exist_ok=True)
        with open(os.path.join(config_dir, f"fontlist-v{version}.json"), "wb") as fh:
            fh.write(data)
    except OSError:
        return None
    return data


def exported(config_dir: str | None, handed: bytes | None) -> bytes | None:
    """After matplotlib was imported: the list it wrote in ``config_dir`` when it is not the one handed in
    (built here: none was handed in, or matplotlib rebuilt it), else None."""
    if not config_dir:
        return None
    try:
        from matplotlib.font_manager import FontManager

        with open(os.path.join(config_dir, f"fontlist-v{FontManager.__version__}.json"), "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except (ImportError, AttributeError, OSError):
        return None
    return data if data != handed and is_font_list(data) else None
