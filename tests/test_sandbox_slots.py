"""One warm executor, several jobs at once (issue 22): each job as far from the other as two sandboxes.

Real bubblewrap, real executor: ``ExecutorPool(2)`` where jobs have namespaces of their own starts ONE executor
with two slots (``grader.course.sandbox.executor``, ``grader.course.sandbox.zygote``); the jobs here run side by
side in it (each notebook says when it ran, and the tests check that the two runs overlapped).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import executor_support as es
from grader.course.sandbox import jobcleanup
from grader.course.sandbox.bubblewrap import python_paths
from grader.course.sandbox.executor import ExecutorPool, Limits, sandbox_available

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sandbox_available()[0], reason=sandbox_available()[1])]

MARK = b"zygote import main"


@pytest.fixture(scope="module")
def pool():
    p = ExecutorPool(2)
    try:
        if p.namespaces_problem:
            pytest.skip(f"jobs cannot have namespaces of their own here: {p.namespaces_problem}")
        yield p
    finally:
        p.close()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _executors() -> list[int]:
    """The warm executor processes below this test process (a job's processes are forks of one: left out)."""
    return [p for p in jobcleanup.descendants(os.getpid())
            if MARK in _cmdline(p) and b"\0sandbox" in _cmdline(p) and MARK not in _cmdline(_ppid(p))]


def _side_by_side(pool: ExecutorPool, *jobs):
    """Run the jobs at once (one thread each); their Executions in the order given."""
    out: list = [None] * len(jobs)

    def one(i: int) -> None:
        out[i] = pool.run(jobs[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


_WHEN = "import time\nprint('ran', time.time())"


def _span(ex, first: int, last: int) -> tuple[float, float]:
    return float(es.texts(ex, first).split()[1]), float(es.texts(ex, last).split()[1])


def _overlap(a, b, cells: tuple[int, int]) -> bool:
    (a0, a1), (b0, b1) = _span(a, *cells), _span(b, *cells)
    return a0 < b1 and b0 < a1


def test_one_warm_executor_serves_both_slots(pool):
    assert pool.workers == 2 and pool.executors == 1 and len(pool.cgroups) <= 1
    before = set(_executors())
    with ExecutorPool(2) as own:
        started = set(_executors()) - before
        assert own.workers == 2 and own.executors == 1
        assert len(started) == 1   # one warm process (one warm-up) for two jobs at once
        a, b = _side_by_side(own, *(es.job(f"both{i}/a/n.ipynb", _WHEN, "import time\ntime.sleep(1)", _WHEN)
                                    for i in range(2)))
        assert _overlap(a, b, (1, 3)) and a.worker == b.worker


_PLANT = """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
open('/tmp/{me}-secret', 'w').write('answers of {me}')
open('/dev/shm/{me}-secret', 'w').write('x')
print(libc.shmget({key}, 4096, 0o1000 | 0o666) >= 0, libc.mq_open(b'/{me}-queue', os.O_CREAT | os.O_RDWR, 0o666, None) >= 0)
time.sleep(2)
"""

_LOOK = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print(sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')))
print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
cmds = [open(f'/proc/{{p}}/cmdline', 'rb').read() for p in os.listdir('/proc') if p.isdigit()]
print(sum(b'{other}' in c for c in cmds), libc.shmget({other_key}, 0, 0), libc.mq_open(b'/{other}-queue', os.O_RDWR, 0, None))
"""


# where the Python environment lives below /tmp (a checkout there), the job's /tmp shows its read-only folder too
_ENVIRONMENT_IN_TMP = sorted({Path(p).relative_to("/tmp").parts[0] for p in python_paths()
                              if Path(p).is_relative_to("/tmp") and Path(p) != Path("/tmp")})


def _planter(me: str, other: str, key: int, other_key: int):
    return es.job(f"{me}/a/n.ipynb", _WHEN, _PLANT.format(me=me, key=key),
                  _LOOK.format(other=other, other_key=other_key), _WHEN,
                  limits=Limits(cell_timeout=20.0, notebook_timeout=60.0))


def test_two_jobs_at_once_see_neither_files_nor_processes_nor_ipc_of_the_other(pool):
    a, b = _side_by_side(pool, _planter("alice", "bruno", 5151, 5252), _planter("bruno", "alice", 5252, 5151))
    assert _overlap(a, b, (1, 4)), "the two jobs did not run at the same time"
    assert a.worker == b.worker
    for ex, me in ((a, "alice"), (b, "bruno")):
        assert ex.stopped is None, ex.stopped
        assert es.texts(ex, 2).strip() == "True True", es.errors(ex, 2)
        files, pids, others = es.texts(ex, 3).splitlines()
        assert files == f"{sorted(['home', me + '-secret', 'work', *_ENVIRONMENT_IN_TMP])} ['{me}-secret']"
        assert pids == "[1, 2]"                      # its own init and itself: nothing of the other job
        assert others.split() == ["0", "-1", "-1"]   # no command line, shared memory or queue of the other


_HONEST = ("from grader import check\nimport subprocess, time, sympy\n"
           "outs = [subprocess.run(['echo', str(i)], capture_output=True, text=True).stdout.strip() for i in range(8)]\n"
           "time.sleep(1)\nprint(' '.join(outs))\nx = sympy.Symbol('x')\ncheck('d', sympy.diff(x**3, x))")


def _honest(key: str):
    return es.job(key, _WHEN, _HONEST, _WHEN, limits=Limits(cell_timeout=20.0, notebook_timeout=60.0))


def _honest_ok(ex) -> None:
    assert ex.stopped is None, ex.stopped
    assert es.texts(ex, 2).strip() == "0 1 2 3 4 5 6 7", es.errors(ex, 2)
    assert [p["qid"] for p in ex.payloads.get(2, [])] == ["d"]
    assert ex.payloads[2][0]["answer"] is not None


def test_a_fork_bomb_beside_an_honest_job_costs_it_nothing(pool):
    """The bomb's processes count against its own RLIMIT_NPROC (its own user namespace) and its share of the
    cgroup's pids: the honest job's forks all succeed."""
    bomb = es.fork_bomb_job("forker/a/n.ipynb")
    bomb.notebook["cells"].insert(1, es.notebook(_WHEN)["cells"][1])   # cell 1: when; the bomb is cell 3
    bomb.notebook["cells"].append(es.notebook(_WHEN)["cells"][1])
    bomb.limits = Limits(processes=16, cell_timeout=4.0, notebook_timeout=30.0)
    forker, honest = _side_by_side(pool, bomb, _honest("honest/a/n.ipynb"))
    assert forker.timed_out_cells == [3] or (forker.stopped is not None and forker.stopped_at == 3)
    assert forker.payloads.get(2) == [{"qid": "kept", "answer": 1, "v": 1}]
    _honest_ok(honest)
    start, _ = _span(honest, 1, 3)
    assert float(es.texts(forker, 1).split()[1]) < start + 2, "the bomb did not run beside the honest job"


def test_a_memory_hog_beside_an_honest_job_is_stopped_alone(pool):
    hog = es.job("hoarder/a/n.ipynb", _WHEN,
                 "import os, time\nfor _ in range(12):\n    if os.fork() == 0:\n        block = bytearray(200 << 20)\n"
                 "        time.sleep(30)\n        os._exit(0)\ntime.sleep(30)",
                 limits=Limits(memory_bytes=512 << 20, cell_timeout=40.0, notebook_timeout=60.0))
    hoarder, honest = _side_by_side(pool, hog, _honest("honest2/a/n.ipynb"))
    assert hoarder.stopped is not None and "memory limit" in hoarder.stopped and hoarder.stopped_at == 2, hoarder.stopped
    _honest_ok(honest)


def test_a_job_killed_at_its_time_limit_leaves_the_other_running(pool):
    loop = es.job("looper/a/n.ipynb", _WHEN, "while True:\n    pass",
                  limits=Limits(cell_timeout=30.0, notebook_timeout=2.0))
    slow = es.job("slow/a/n.ipynb", _WHEN, "import time\ntime.sleep(4)\nprint('done')", _WHEN,
                  limits=Limits(cell_timeout=20.0, notebook_timeout=60.0))
    looper, sleeper = _side_by_side(pool, loop, slow)
    assert looper.stopped is not None and "time limit" in looper.stopped, looper.stopped
    assert sleeper.stopped is None and es.texts(sleeper, 2).strip() == "done"
    started, ended = _span(sleeper, 1, 3)
    assert float(es.texts(looper, 1).split()[1]) < started + 1.5 and ended - started >= 4


_BATCH = [
    ("from grader import check\nimport sympy\nx = sympy.Symbol('x')\ncheck('d', sympy.diff(sympy.sin(x) * x, x))",
     "print('hello')"),
    ("import numpy as np\nfrom grader import check\ncheck('v', np.arange(4.0) ** 2)", "1 / 0"),
    ("from grader import check\ncheck('f', lambda t: t ** 2 + 1)", "import os\nprint(os.getcwd(), sorted(os.listdir('.')))"),
    ("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()", "print(sum(range(10)))"),
]


def _outputs(ex) -> list:
    return [(c.get("outputs"), c.get("execution_count")) for c in ex.notebook["cells"]]


def test_two_slots_grade_a_batch_as_separate_executors_do(pool):
    jobs = [es.job(f"s{i}/a/n.ipynb", *cells, inputs={"f": [[2.0]]}) for i, cells in enumerate(_BATCH * 2)]
    alone = {ex.key: ex for ex in map(es.pool().run, jobs)}   # one executor, one job at a time
    together = {ex.key: ex for ex in pool.map(jobs)}
    assert together.keys() == alone.keys()
    for key, ex in together.items():
        assert ex.stopped == alone[key].stopped and ex.payloads == alone[key].payloads, key
        assert _outputs(ex) == _outputs(alone[key]), key
    assert together["s1/a/n.ipynb"].payloads[1][0]["qid"] == "v"
    assert es.errors(together["s1/a/n.ipynb"], 2) == ["ZeroDivisionError"]


def test_a_killed_executor_takes_its_running_jobs_with_it_and_is_replaced(pool):
    def strike() -> None:
        time.sleep(1.5)
        for pid in _executors():
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=strike)
    killer.start()
    first, second = _side_by_side(pool, *(es.job(f"victim{i}/a/n.ipynb", "import time\ntime.sleep(8)")
                                          for i in range(2)))
    killer.join()
    for ex in (first, second):
        assert ex.stopped is not None and "executor process was killed" in ex.stopped, ex.stopped
    after = _side_by_side(pool, _honest("after1/a/n.ipynb"), _honest("after2/a/n.ipynb"))
    for ex in after:
        _honest_ok(ex)
    assert after[0].worker == after[1].worker != first.worker
    assert len(_executors()) == 1


def _warm_python(pid: int) -> bool:
    argv = _cmdline(pid).split(b"\0")
    return os.path.basename(argv[0]).startswith(b"python") and MARK in _cmdline(pid)


_HOARD = """
import os, time
for _ in range(8):               # eight processes of 0.3 GiB each: each under RLIMIT_AS, 2.4 GiB together
    if os.fork() == 0:
        block = bytearray(300 << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(60)
        os._exit(0)
time.sleep(60)
"""


def test_the_parent_stops_a_job_past_its_memory_when_its_executor_cannot(pool):
    """The executor is stopped (here from outside: a job cannot reach it) while a job goes far past its memory
    limit; the parent's own watch finds the job's processes below its keeper, kills them, and replaces the
    executor that does not answer; the next jobs run normally."""
    def freeze() -> None:
        time.sleep(1.0)
        for pid in jobcleanup.descendants(os.getpid()):
            if _warm_python(pid) and not _warm_python(_ppid(pid)):
                os.kill(pid, signal.SIGSTOP)

    stopper = threading.Thread(target=freeze)
    stopper.start()
    ex = pool.run(es.job("hoarder2/a/n.ipynb", "from grader import check\ncheck('kept', 1)",
                         "import time\ntime.sleep(2)", _HOARD,
                         limits=Limits(memory_bytes=1 << 30, cell_timeout=40.0, notebook_timeout=60.0)))
    stopper.join()
    assert ex.stopped is not None and "memory limit" in ex.stopped, ex.stopped
    assert ex.payloads.get(1) == [{"qid": "kept", "answer": 1, "v": 1}]
    for after in _side_by_side(pool, _honest("after3/a/n.ipynb"), _honest("after4/a/n.ipynb")):
        _honest_ok(after)
