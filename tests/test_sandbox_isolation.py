"""Each job in its own user, pid and IPC namespaces (issue 21, round two, classes 4 and 5).

Real bubblewrap, real executor (``grader.course.sandbox.jobns``), one executor for every job here (the pool of
tests/executor_support.py has one worker), so "the next job" runs on the executor the attacker tried to stop.
The autograde side (both ways of grading) is in tests/test_tamper.py (``signal_everything``, ``ipc_planter``).
"""

from __future__ import annotations

import os
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
    # the job's own /proc (grader.course.sandbox.jobns) shows its init and itself only: bubblewrap's init, the
    # executor, the job's keeper and any other job of the executor have no pid and no /proc entry here; what did
    # reach a process reached the job's own init, which ignores both signals
    assert int(count) == 1 and set(eval(outcomes)) <= {"kill-ok", "pidfd-ok"}
    assert eval(lines[1]) in ([], [1])
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
    assert levels == "1" and pid == "2"               # pid 2 of its own namespace (its own /proc), under a tiny init


# --- kernel-enforced limits: the executor's cgroup (grader.course.sandbox.cgroups) ------------------------------
@pytest.fixture(scope="module")
def cgroup():
    from grader.course.sandbox import cgroups

    found = es.pool().cgroups
    if not found:
        pytest.skip(f"no writable cgroup here: {cgroups.unavailable()}")
    return found[0]


_FILL_AND_ALLOCATE = """
import os
for i in range(10):       # 500 MiB in the private /tmp: files in memory that no process maps (the polls miss them)
    with open(f'/tmp/fill{i}', 'wb') as fh:
        fh.write(b'x' * (50 << 20))
block = bytearray(300 << 20)   # under RLIMIT_AS, but 800 MiB together: past the kernel's ceiling (1.25 x 640 MiB)
for i in range(0, len(block), 4096):
    block[i] = 1
print('not stopped')
"""


def test_a_job_past_its_memory_limit_is_stopped_by_the_kernel_and_its_executor_goes_on(pool, cgroup):
    kills = cgroup.oom_kills()
    first = pool.run(es.job("warm/a/n.ipynb", "print('warm')"))
    ex = pool.run(es.job("filler/a/n.ipynb", "from grader import check\ncheck('kept', 1)", _FILL_AND_ALLOCATE,
                         "check('lost', 2)",
                         limits=Limits(memory_bytes=640 << 20, cell_timeout=30.0, notebook_timeout=60.0)))
    assert "not stopped" not in es.texts(ex, 2)
    assert ex.stopped is not None and "memory limit" in ex.stopped and "kernel" in ex.stopped, ex.stopped
    assert ex.stopped_at == 2 and ex.payloads == {1: [{"qid": "kept", "answer": 1, "v": 1}]}
    assert cgroup.oom_kills() > kills
    _honest_after(pool, first.worker)


def test_a_fork_bomb_is_stopped_by_the_pids_limit_and_its_executor_goes_on(pool, cgroup):
    refused = cgroup.fork_refusals()
    first = pool.run(es.job("warm/a/n.ipynb", "print('warm')"))
    ex = pool.run(es.fork_bomb_job("forker/a/n.ipynb"))
    assert ex.timed_out_cells == [2] or (ex.stopped is not None and ex.stopped_at == 2)
    assert ex.payloads.get(1) == [{"qid": "kept", "answer": 1, "v": 1}]
    assert cgroup.fork_refusals() > refused
    _honest_after(pool, first.worker)


def test_the_cgroup_goes_with_its_pool_and_stale_ones_are_removed(cgroup):
    from grader.course.sandbox import cgroups
    from grader.course.sandbox.executor import ExecutorPool

    dead = next(pid for pid in range(4_000_000, 4_100_000) if not os.path.exists(f"/proc/{pid}"))
    stale = [folder.parent / f"{cgroups.PREFIX}{dead}-0badf00d" for folder in cgroup.folders]
    for folder in stale:
        folder.mkdir()
    with ExecutorPool(1) as own:
        folders = own.cgroups[0].folders
        assert all(f.is_dir() for f in folders) and not any(f.exists() for f in stale)
        ex = own.run(es.job("one/a/n.ipynb", "print('ran')"))
        assert es.texts(ex, 1).strip() == "ran"
    assert not any(f.exists() for f in folders)
