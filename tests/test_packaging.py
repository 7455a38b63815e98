"""A plain (non-editable) install runs anywhere: the wheel carries the course, `calcgrade init` writes a
fresh course from it and `calcgrade demo` runs a whole cycle on it from an empty folder, leaving nothing
behind.

The wheel is built offline from the checkout (``--no-build-isolation``) and installed with ``--no-deps``
into a fresh virtual environment that sees the project environment's site-packages for its dependencies
(a .pth line), so the test needs no network and takes seconds, not minutes, to set up.  Nothing of the
checkout is importable there: ``grader`` comes from the wheel.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str], Path]:
    """(the fresh environment's bin folder, the environment to run it with, the wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((tmp / "dist").glob("calcgrade-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    bin_dir = venv / "bin"
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q",
                           "--no-deps", str(wheel)], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # the fresh environment first; the project's scripts (alembic, which nbgrader runs) after it
    env["PATH"] = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "")])
    return bin_dir, env, wheel


def test_the_wheel_carries_the_starter_course_and_no_reference_of_the_real_course(installed):
    """Students install the package too: it carries the starter assignment (answers public on purpose), never
    the real assignments' solutions, their keys, or a gradebook."""
    _, _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    carried = sorted(n.split("grader/course/data/course/", 1)[1] for n in names
                     if n.startswith("grader/course/data/course/"))
    expected = ["nbgrader_config.py"] + sorted(
        p.relative_to(ROOT / "starter").as_posix() for p in (ROOT / "starter" / "solutions").rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts)
    assert carried == sorted(expected)
    assert not [n for n in names if ".calcgrade" in n or "gradebook" in n or "/exercises/" in n]
    real = {p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb")}
    assert real and not [n for n in names if any(f"/{a}/" in n for a in real)]


def test_version_and_init_from_an_empty_folder(installed, tmp_path):
    bin_dir, env, _ = installed
    where = subprocess.run([str(bin_dir / "python"), "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert where.stdout.strip().startswith(str(bin_dir.parent)), where  # the wheel's copy, not the checkout
    version = subprocess.run([str(bin_dir / "calcgrade"), "--version"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=120)
    assert version.stdout.strip() == "calcgrade 0.1.0"
    proc = subprocess.run([str(bin_dir / "calcgrade"), "init", "my-course"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"✓ a fresh course in {tmp_path / 'my-course'}: nbgrader_config.py and solutions/")
    for nb in (ROOT / "starter" / "solutions").glob("*/*.ipynb"):
        assert (tmp_path / "my-course" / "solutions" / nb.parent.name / nb.name).read_bytes() == nb.read_bytes()
    assert (tmp_path / "my-course" / "nbgrader_config.py").read_bytes() == (ROOT / "nbgrader_config.py").read_bytes()


def test_the_demo_runs_from_an_empty_folder_and_removes_its_folder(installed, tmp_path):
    bin_dir, env, _ = installed
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([str(bin_dir / "calcgrade"), "demo", "--assignments", "00_starter"],
                          capture_output=True, text=True, env=env, cwd=empty, timeout=850)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    carried = next(bin_dir.parent.glob("lib/python*/site-packages/grader/course/data/course"))
    assert f"calcgrade demo: a whole course cycle of the course calcgrade carries ({carried}) in " in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("perfect ", "blank "))}
    full = rows["perfect"][-1]
    assert full.split("/")[0] == full.split("/")[1] != "0" and rows["blank"][-1].startswith("0/")
    removed = re.search(r"Removed the demo folder (\S+) \(keep it with --keep DIR\)\.", out)
    assert removed and not Path(removed.group(1)).exists()
    assert not list(empty.iterdir())  # nothing was written where the demo was run
