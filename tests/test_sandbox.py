"""Hostile cells in the sandbox: no files outside their copy, no network, nothing left behind, limits hold.

Real bubblewrap, real processes, real sockets; the pool is shared with tests/test_executor.py.
"""

from __future__ import annotations

import os
import random
import socket
import threading
from pathlib import Path

import pytest

import executor_support as es
from grader.course.sandbox.executor import Limits, sandbox_available

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sandbox_available()[0], reason=sandbox_available()[1])]


def _works_after(tag: str) -> None:
    """The next job on the same executor runs normally and sees only its own processes."""
    ex = es.pool().run(es.job(
        f"next-after-{tag}/a/n.ipynb",
        "from grader import check\ncheck('q', 1)",
        "import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]),"
        " len(open('/proc/self/status').read().split('NSpid:')[1].splitlines()[0].split()))",
    ))
    assert ex.stopped is None and ex.payloads == {1: [{"qid": "q", "answer": 1, "v": 1}]}
    # with the job's own namespaces (grader.course.sandbox.jobns) its own /proc shows its init and itself only, one
    # pid level; without them, bubblewrap's init, the executor and this job
    assert es.texts(ex, 2).split() in (["2", "1"], ["3", "1"])


def test_sandbox_is_available_here():
    assert sandbox_available() == (True, "")


def _tmp_listing(*extra: str) -> str:
    """What a job sees in /tmp: its home and work folders, plus the top folder of any read-only Python
    environment bound from below /tmp (a checkout or venv that lives in /tmp, as on some CI machines)."""
    from grader.course.sandbox.bubblewrap import python_paths

    names = {"home", "work", *extra}
    for path in python_paths():
        parts = Path(path).parts
        if parts[:2] == ("/", "tmp") and len(parts) > 2:
            names.add(parts[2])
    return str(sorted(names))


def test_a_cell_sees_only_its_own_copy(tmp_path):
    course = tmp_path / "course"
    (course / ".calcgrade" / "keys").mkdir(parents=True)
    secret = course / ".calcgrade" / "keys" / "02_derivatives.json"
    secret.write_text('{"secret": "reference answers"}')
    (course / "gradebook.db").write_text("scores")
    other = course / "submitted" / "bob" / "02_derivatives" / "derivatives.ipynb"
    other.parent.mkdir(parents=True)
    other.write_text("{}")
    probe = "\n".join(
        f"try:\n    print(open({str(p)!r}).read())\nexcept OSError as e:\n    print(type(e).__name__)"
        for p in (secret, course / "gradebook.db", other, ROOT / "README.md", ROOT / "nbgrader_config.py",
                  "/etc/shadow", "/root/.bash_history")
    )
    ex = es.pool().run(es.job(
        "eve/02_derivatives/derivatives.ipynb",
        probe,
        "import os\nprint(sorted(os.listdir('.')), os.getcwd())\nprint(sorted(os.listdir('/tmp')))",
        "import os\nprint(os.getuid() if os.geteuid() else 'root',"
        " open('/proc/self/status').read().split('CapEff:')[1].split()[0])",
        files={"helper.py": b"x = 1\n"},
    ))
    assert es.texts(ex, 1).split() == ["FileNotFoundError"] * 7
    listing = es.texts(ex, 2).splitlines()
    assert listing[0] == "['derivatives.ipynb', 'helper.py'] /tmp/work"
    assert listing[1] == _tmp_listing()
    uid, caps = es.texts(ex, 3).split()
    assert caps == "0000000000000000"
    if os.geteuid() == 0:
        assert uid == "65534"


def test_no_network_even_to_a_server_on_this_machine():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        ex = es.pool().run(es.job(
            "mallory/a/n.ipynb",
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n    print('connected')\n"
            "except OSError as e:\n    print(type(e).__name__)",
            "import socket\ntry:\n    socket.getaddrinfo('pypi.org', 443)\n    print('resolved')\nexcept OSError as e:\n"
            "    print('no dns')",
        ))
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
    assert es.texts(ex, 1).strip() == "ConnectionRefusedError"
    assert es.texts(ex, 2).strip() == "no dns"
    assert accepted == []


def _host_processes_with(token: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            if token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except (OSError, ValueError):
            continue
    return found


def test_no_detached_or_double_forked_process_outlives_its_job():
    token = f"{random.randint(1000, 1999)}.{random.randint(100000, 999999)}"
    ex = es.pool().run(es.job(
        "oscar/a/n.ipynb",
        "import os, subprocess\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv('/bin/sleep', ['sleep', '{token}'])\n"
        "    os._exit(0)\n"
        f"subprocess.Popen(['sleep', '{token}'], start_new_session=True)\n"
        "import time; time.sleep(0.3)\n"
        "print(sum(1 for p in os.listdir('/proc') if p.isdigit() and "
        f"b'{token}' in open(f'/proc/{{p}}/cmdline', 'rb').read()))",
    ))
    assert es.texts(ex, 1).strip() == "2"  # both were running inside
    assert _host_processes_with(token) == []
    _works_after("detached")


def test_files_and_ipc_of_one_job_do_not_reach_the_next():
    ex = es.pool().run(es.job(
        "planter/a/n.ipynb",
        "import ctypes, os\nopen('/tmp/planted', 'w').write('answers')\nopen('/dev/shm/planted', 'w').write('x')\n"
        "libc = ctypes.CDLL(None)\nprint(libc.shmget(4242, 4096, 0o1000 | 0o666) >= 0)",
    ))
    assert es.texts(ex, 1).strip() == "True"
    ex = es.pool().run(es.job(
        "reader/a/n.ipynb",
        "import ctypes, os\nprint(sorted(os.listdir('/tmp')), os.listdir('/dev/shm'))\n"
        "print(ctypes.CDLL(None).shmget(4242, 0, 0))",
    ))
    assert es.texts(ex, 1).splitlines() == [f"{_tmp_listing()} []", "-1"]


def test_memory_bomb_is_contained():
    ex = es.pool().run(es.job(
        "bomber/a/n.ipynb",
        "from grader import check\nblock = bytearray(3 << 30)",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(50 << 20))",
        "del chunks\ncheck('q', 7)",
        limits=Limits(memory_bytes=1 << 30, cell_timeout=20.0, notebook_timeout=60.0),
    ))
    assert es.errors(ex, 1) == ["MemoryError"] and es.errors(ex, 2) == ["MemoryError"]
    assert ex.stopped is None and ex.payloads == {3: [{"qid": "q", "answer": 7, "v": 1}]}
    _works_after("memory")


def test_fork_bomb_is_contained():
    ex = es.pool().run(es.fork_bomb_job("forker/a/n.ipynb"))
    assert ex.timed_out_cells == [2] or (ex.stopped is not None and ex.stopped_at == 2)
    assert ex.payloads.get(1) == [{"qid": "kept", "answer": 1, "v": 1}]
    _works_after("fork bomb")


def _kill_executor_later(delay: float) -> threading.Thread:
    """Kill (from outside, as the test) the executor process of this test's sandboxed pool after ``delay``."""
    from grader.course.sandbox import jobcleanup

    def cmdline(pid: int) -> bytes:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return b""

    def ppid(pid: int) -> int:
        try:
            return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return 0

    def strike() -> None:
        import signal
        import time

        time.sleep(delay)
        mark = b"zygote import main"
        for pid in jobcleanup.descendants(os.getpid()):
            line = cmdline(pid)
            if mark in line and b"\0sandbox" in line and mark not in cmdline(ppid(pid)):
                os.kill(pid, signal.SIGKILL)

    thread = threading.Thread(target=strike, daemon=True)
    thread.start()
    return thread


def test_the_executor_cannot_be_read_or_signalled_and_a_killed_executor_is_replaced():
    ex = es.pool().run(es.job(
        "intruder/a/n.ipynb",
        "import os\nfor what in ('fd', 'mem', 'environ'):\n    try:\n"
        "        os.listdir(f'/proc/{os.getppid()}/{what}') if what == 'fd' else open(f'/proc/{os.getppid()}/{what}', 'rb').read(1)\n"
        "        print(what, 'readable')\n    except OSError as e:\n        print(what, type(e).__name__)",
        "import os\nkinds = []\nfor fd in os.listdir('/proc/self/fd'):\n    try:\n"
        "        kinds.append(os.readlink(f'/proc/self/fd/{fd}').split(':')[0])\n    except OSError:\n        pass\n"
        "print(kinds.count('socket'), kinds.count('pipe'))",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time; time.sleep(1)\nprint('still here')",
    ))
    assert es.texts(ex, 1).split() == ["fd", "PermissionError", "mem", "PermissionError", "environ", "PermissionError"]
    # no descriptor of the executor's socket to the grader; one pipe: the job's own clock events
    assert es.texts(ex, 2).split() == ["0", "1"]
    # the job's parent is the init of its own pid namespace: the kill reaches no one (tests/test_sandbox_isolation.py)
    assert ex.stopped is None and es.texts(ex, 3).strip() == "still here"
    # an executor killed while a notebook runs (here: from outside) is replaced
    killer = _kill_executor_later(1.0)
    ex = es.pool().run(es.job("victim-of-a-crash/a/n.ipynb", "import time\ntime.sleep(8)"))
    killer.join()
    assert ex.stopped is not None and "executor" in ex.stopped, ex.stopped
    _works_after("executor killed")


def test_system_calls_a_notebook_never_needs_are_refused():
    ex = es.pool().run(es.job(
        "kernel-prober/a/n.ipynb",
        "import ctypes, platform\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "if platform.machine() == 'x86_64':\n"
        "    print(libc.syscall(250, 0, -4, 0, 0, 0), ctypes.get_errno())  # keyctl: the user keyring\n"
        "    print(libc.unshare(0x10000000), ctypes.get_errno())  # a new user namespace\n"
        "    print(libc.ptrace(0, 0, 0, 0), ctypes.get_errno())  # PTRACE_TRACEME",
        "import subprocess, threading\nt = threading.Thread(target=print, args=('thread',)); t.start(); t.join()\n"
        "print(subprocess.run(['echo', 'subprocess'], capture_output=True, text=True).stdout.strip())",
    ))
    import platform

    if platform.machine() == "x86_64":
        assert es.texts(ex, 1).split() == ["-1", "1"] * 3  # EPERM each time
    assert es.texts(ex, 2).split() == ["thread", "subprocess"]


def test_processes_of_one_job_share_one_memory_limit():
    """Twelve processes of 200 MiB each stay under a 512 MiB RLIMIT_AS but not under the job's limit."""
    ex = es.pool().run(es.job(
        "hoarder/a/n.ipynb",
        "from grader import check\ncheck('kept', 1)",
        "import os, time\nkids = []\nfor _ in range(12):\n    pid = os.fork()\n    if pid == 0:\n"
        "        block = bytearray(200 << 20)\n        time.sleep(30)\n        os._exit(0)\n    kids.append(pid)\n"
        "time.sleep(30)",
        "check('lost', 2)",
        limits=Limits(memory_bytes=512 << 20, cell_timeout=40.0, notebook_timeout=60.0),
    ))
    assert ex.stopped is not None and "memory limit together" in ex.stopped and ex.stopped_at == 2
    assert [p["qid"] for ps in ex.payloads.values() for p in ps] == ["kept"]
    _works_after("memory hoarding")


# --- issue 21, classes 4 and 5 -------------------------------------------------------------------------------
_FORGE_TIMING = """
import os, time
fds = []
for fd in range(3, 64):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
for _ in range(40):          # claim, every 0.2 s, that the cell ended and another one started
    for fd in fds:
        for line in (b"E 1\\n", b"S 1\\n", b"S 2\\n", b"E 2\\n"):
            try:
                os.write(fd, line)
            except OSError:
                pass
    time.sleep(0.2)
print("ran past the limit")
"""


def test_lines_forged_on_the_timing_pipe_buy_no_time():
    """Class 4: the job writes "E" and "S" lines to the executor's timing pipe; the cell still stops at its
    limit (2 s here: the loop needs 8 s) and the next job runs normally."""
    ex = es.pool().run(es.job("liar/a/n.ipynb", _FORGE_TIMING, "print('after')"))
    assert "ran past the limit" not in es.texts(ex, 1)
    assert ex.timed_out_cells == [1] or (ex.stopped and "time limit" in ex.stopped), (ex.stopped, ex.timed_out_cells)
    _works_after("liar")


def test_posix_message_queues_of_one_job_do_not_reach_the_next():
    """Class 5: a POSIX message queue left by one job is gone for the next job of the same executor."""
    make = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "libc.mq_open.restype = ctypes.c_int\n"
            "print(libc.mq_open(b'/calcgrade-planted', os.O_CREAT | os.O_RDWR, 0o666, None) >= 0)")
    ex = es.pool().run(es.job("mq-planter/a/n.ipynb", make))
    assert es.texts(ex, 1).strip() == "True", es.errors(ex, 1)
    look = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print(libc.mq_open(b'/calcgrade-planted', os.O_RDWR, 0, None), ctypes.get_errno() == 2)")
    ex = es.pool().run(es.job("mq-reader/a/n.ipynb", look))
    assert es.texts(ex, 1).split() == ["-1", "True"]


def test_a_failure_of_ours_in_the_job_reaches_the_log_with_its_traceback(caplog):
    """Issue 20: an exception of the executor's own code in the job's process is logged with its traceback;
    the notebook says in one sentence that the grader failed."""
    import logging

    bad = es.job("ours/a/n.ipynb", "print(1)", inputs={"q": 5})   # inputs that capture.configure cannot read
    with caplog.at_level(logging.ERROR, logger="grader.course.sandbox.executor"):
        ex = es.pool().run(bad)
    assert ex.stopped and "grader failed" in ex.stopped and "exit status" not in ex.stopped
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "ours/a/n.ipynb" in logged and "Traceback" in logged and "TypeError" in logged
    _works_after("ours")


_STOP_THE_EXECUTOR = """
import os, signal, time
me = os.getpid()
# the executor is this process's parent; stop it so that its memory poll never runs again
os.kill(os.getppid(), signal.SIGSTOP)
children = []
for _ in range(8):               # eight processes of 0.3 GiB each: each under RLIMIT_AS, 2.4 GiB together
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(300 << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(60)
        finally:
            os._exit(0)
    children.append(pid)
time.sleep(60)
"""


def test_a_stopped_executor_cannot_switch_off_the_memory_limit():
    """Class 4: the job stops its executor (same uid) and then goes far past the memory limit together; the
    parent's own watch, outside the sandbox, kills the sandbox; the next job gets a fresh one."""
    ex = es.pool().run(es.job(
        "stopper/a/n.ipynb", "from grader import check\ncheck('kept', 1)", _STOP_THE_EXECUTOR,
        limits=Limits(memory_bytes=1 << 30, cell_timeout=30.0, notebook_timeout=40.0),
    ))
    assert ex.stopped and "memory limit" in ex.stopped, ex.stopped
    assert ex.payloads.get(1) == [{"qid": "kept", "answer": 1, "v": 1}]
    _works_after("stopped executor")
