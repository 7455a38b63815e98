"""matplotlib's font list kept between executor starts (``grader.course.sandbox.fontlist``).

A sandboxed executor builds the list in its fresh sandbox once and hands it back; later executors get it
read-only and skip matplotlib's scan of every font of the machine.  What must hold: the list is kept only when
it is one, a kept list that is broken or of another matplotlib is never trusted blindly (matplotlib rebuilds it
and the new one replaces it), and a figure comes out the same either way."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import pytest

from executor_support import job
from grader.course.sandbox import fontlist
from grader.course.sandbox.executor import ExecutorPool, sandbox_available

PLOT = ("import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\n"
        "ax.plot([0, 1, 2], [1, 0, 1], label='a label')\nax.set_title('Title: x^2')\nax.legend()\nplt.show()")


def _png_of(pool: ExecutorPool, key: str) -> str:
    execution = pool.run(job(key, PLOT))
    pngs = [o["data"]["image/png"] for c in execution.notebook["cells"] for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]
    assert len(pngs) == 1, execution.notebook["cells"]
    return pngs[0]


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_is_font_list_accepts_matplotlibs_shape_only() -> None:
    good = json.dumps({"_version": "3.11.0", "ttflist": [], "afmlist": []}).encode()
    assert fontlist.is_font_list(good)
    for bad in (b"", b"not json", b"[]", json.dumps({"ttflist": []}).encode(),
                json.dumps({"_version": "../../etc/x", "ttflist": []}).encode(),
                json.dumps({"_version": "3.11.0", "ttflist": {}}).encode(),
                json.dumps({"_version": "3.11.0", "ttflist": [], "pad": "x" * fontlist.MAX_BYTES}).encode()):
        assert not fontlist.is_font_list(bad), bad[:60]


def test_store_keeps_a_list_and_refuses_anything_else(cache_home: Path) -> None:
    def memfd(data: bytes) -> int:
        fd = os.memfd_create("test")
        os.write(fd, data)
        return fd

    good = json.dumps({"_version": "3.11.0", "ttflist": [{"fname": "/usr/share/fonts/a.ttf"}]}).encode()
    fd = memfd(b"{broken")
    try:
        assert not fontlist.store(fd)
    finally:
        os.close(fd)
    assert fontlist.handed_in() is None and not fontlist.cache_file().exists()
    fd = memfd(good)
    try:
        assert fontlist.store(fd)
    finally:
        os.close(fd)
    assert fontlist.handed_in() == good
    assert fontlist.cache_file().parent == cache_home / "calcgrade"
    assert [p.name for p in fontlist.cache_file().parent.iterdir()] == [fontlist.cache_file().name]  # no temp left


needs_sandbox = pytest.mark.skipif(not sandbox_available()[0], reason=sandbox_available()[1])


@pytest.mark.slow
@needs_sandbox
def test_the_list_one_executor_builds_is_handed_to_the_next_and_the_figure_is_the_same(cache_home: Path) -> None:
    with ExecutorPool(1) as pool:
        assert pool.font_lists == ["built"]
        first = _png_of(pool, "s1/a/nb.ipynb")
    kept = fontlist.handed_in()
    assert kept is not None
    fonts = json.loads(kept)["ttflist"]
    assert any(Path(f["fname"]).name == "DejaVuSans.ttf" for f in fonts)   # matplotlib's own default font
    data = Path(matplotlib.get_data_path())   # matplotlib names its own fonts relative to its data folder
    assert all((data / f["fname"]).is_file() for f in fonts)              # named as this machine has them
    with ExecutorPool(1) as pool:
        assert pool.font_lists == ["handed in"]
        assert _png_of(pool, "s2/a/nb.ipynb") == first
    assert fontlist.handed_in() == kept   # nothing rebuilt, nothing rewritten


@pytest.mark.slow
@needs_sandbox
def test_a_broken_or_foreign_kept_list_is_rebuilt_and_replaced(cache_home: Path) -> None:
    path = fontlist.cache_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage, not a font list")
    with ExecutorPool(1) as pool:
        assert pool.font_lists == ["built"]   # not handed in
        reference = _png_of(pool, "s1/a/nb.ipynb")
    good = fontlist.handed_in()
    assert good is not None
    # a list of another matplotlib (or naming no font at all) passes the shape check and is handed in:
    # matplotlib refuses it by its version, rebuilds, and the rebuilt list replaces it
    path.write_text(json.dumps({"_version": "0.0.1", "ttflist": [], "afmlist": []}))
    with ExecutorPool(1) as pool:
        assert pool.font_lists == ["built"]
        assert _png_of(pool, "s2/a/nb.ipynb") == reference
    assert json.loads(fontlist.handed_in() or b"{}")["_version"] == json.loads(good)["_version"]
