"""Each job in its own user, pid and IPC namespaces (issue 21, round two, classes 4 and 5).

Real bubblewrap, real executor (``grader.course.sandbox.jobns``), one executor for every job here (the pool of
tests/executor_support.py has one worker), so "the next job" runs on the executor the attacker tried to stop.
The autograde side (both ways of grading) is in tests/test_tamper.py (``signal_everything``, ``ipc_planter``).
"""

from __future__ import annotations

import platform

import pytest

import executor_support as es
from grader.course.sandbox.executor import Limits, sandbox_available

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sandbox_available()[0], reason=sandbox_available()[1])]


@pytest.fixture(scope="module")
def pool():
    p = es.pool()
    if p.namespaces_problem:
        pytest.skip(f"jobs cannot have namespaces of their own here: {p.namespaces_problem}")
    return p


def _honest_after(pool, worker: str) -> None:
    """An honest job graded next, on the same executor process, gets its answers and its output."""
    ex = pool.run(es.job("honest/a/n.ipynb", "from grader import check\ncheck('q', 41 + 1)", "print('fine')"))
    assert ex.stopped is None and ex.payloads == {1: [{"qid": "q", "answer": 42, "v": 1}]}
    assert es.texts(ex, 2).strip() == "fine"
    assert ex.worker == worker, "the executor was replaced: the attack reached it"


_SIGNAL_EVERYTHING = """
import ctypes, os, signal, time
libc = ctypes.CDLL(None, use_errno=True)
here, outer = os.getpid(), int(os.readlink('/proc/self'))   # this process in its namespace, and in /proc's
results = {}
for name in os.listdir('/proc'):
    if not name.isdigit() or int(name) == outer:
        continue
    pid = int(name)
    got = results.setdefault(pid, [])
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        if pid != here:
            try:
                os.kill(pid, sig)
                got.append('kill-ok')
            except OSError as e:
                got.append(f'kill-{e.errno}')
    try:
        fd = os.open(f'/proc/{pid}', os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        got.append(f'open-{e.errno}')
        continue
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        r = libc.syscall(424, fd, int(sig), None, 0)        # pidfd_send_signal
        got.append('pidfd-ok' if r == 0 else f'pidfd-{ctypes.get_errno()}')
    os.close(fd)
for sig in (signal.SIGSTOP, signal.SIGKILL):            # every process one may signal (but oneself)
    try:
        os.kill(-1, sig)
    except OSError:
        pass
time.sleep(1.5)
print(len(results), sorted(set(v for vs in results.values() for v in vs)))
print(sorted(p for p, vs in results.items() if 'pidfd-ok' in vs or 'kill-ok' in vs))
"""


def test_a_job_that_signals_every_process_it_can_find_cannot_stop_its_executor(pool):
    first = pool.run(es.job("warm/a/n.ipynb", "print('warm')"))
    ex = pool.run(es.job("signaller/a/n.ipynb", _SIGNAL_EVERYTHING, "print('after')",
                         limits=Limits(cell_timeout=20.0, notebook_timeout=60.0)))
    assert ex.stopped is None, ex.stopped
    lines = es.texts(ex, 1).splitlines()
    assert len(lines) == 2, es.texts(ex, 1) + str(es.errors(ex, 1))
    count, outcomes = lines[0].split(" ", 1)
    assert int(count) >= 4                          # bubblewrap's init, the executor, the job's keeper and init
    # outside the job's pid namespace: no pid names them (ESRCH, 3) and their pidfds are refused (EINVAL, 22);
    # what did reach a process reached the job's own init, which ignores both signals
    assert "pidfd-22" in outcomes and "kill-3" in outcomes
    assert len(eval(lines[1])) <= 2
    assert es.texts(ex, 2).strip() == "after"
    _honest_after(pool, first.worker)


def test_ipc_objects_of_a_job_live_in_its_own_namespace_and_go_with_it(pool):
    plant = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
             "print(libc.mq_open(b'/planted', os.O_CREAT | os.O_RDWR, 0o666, None) >= 0,"
             " libc.shmget(4243, 4096, 0o1000 | 0o666) >= 0)\n"
             "print(sorted(os.listdir('/dev/mqueue')))")   # the executor's queues: the job's is not among them
    ex = pool.run(es.job("ipc-planter/a/n.ipynb", plant))
    first, second = es.texts(ex, 1).splitlines()
    assert first == "True True" and second == "[]", es.texts(ex, 1)
    look = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print(libc.mq_open(b'/planted', os.O_RDWR, 0, None), ctypes.get_errno(),"
            " libc.shmget(4243, 0, 0), ctypes.get_errno())\n"
            "print(len(open('/proc/sysvipc/shm').read().splitlines()) - 1)")
    ex = pool.run(es.job("ipc-reader/a/n.ipynb", look))
    assert es.texts(ex, 1).split() == ["-1", "2", "-1", "2", "0"]   # ENOENT, ENOENT, no segment at all


def test_a_job_cannot_make_or_join_namespaces_or_mount(pool):
    probe = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def err(r):
    return 'ok' if r == 0 else str(ctypes.get_errno())
fd = os.open('/proc/self/ns/ipc', os.O_RDONLY)
print(err(libc.unshare(0x38000000)), err(libc.unshare(0x10000000)), err(libc.unshare(0x00020000)),
      err(libc.setns(fd, 0)), err(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)))
status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines() if ':' in line)
print(*(status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs')))
print(len(status['NSpid'].split()), os.getpid(), int(status['Seccomp_filters']))
"""
    ex = pool.run(es.job("namespace-maker/a/n.ipynb", probe))
    lines = es.texts(ex, 1).splitlines()
    assert len(lines) == 3, es.errors(ex, 1)
    if platform.machine() == "x86_64":
        # EPERM even for the exact flags the sandbox's filter lets through for the job's own set-up
        assert lines[0].split() == ["1"] * 5
        assert int(lines[2].split()[2]) == 2           # the sandbox's filter and the job's own
    assert lines[1].split() == ["0000000000000000"] * 5 + ["1"]
    levels, pid = lines[2].split()[:2]
    assert levels == "2" and pid == "2"               # pid 2 of its own namespace, under a tiny init
