"""Grading on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1.

The cluster (``dask_support``) starts in a scratch folder outside any course: workers have only the installed
package.  Claims: the cluster's executions equal the local ExecutorPool's; every worker keeps one warm executor
and both take work; a worker killed mid-batch loses nothing; a submission that kills workers twice comes back
failed with the reason while the rest of the batch is graded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

import dask_support

from grader.course.grading import answerlog
from grader.course import coursedir
from grader.course import gradebook
from grader.course.grading import autograde
from grader.course.sandbox import cluster
from grader.course.demo import run as demo
from grader.course.demo import sampleclass
from grader.course.sandbox.executor import ExecutorPool, Job

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "02_derivatives"
STUDENTS = ("perfect", "partial", "mistakes_a", "blank", "kernel_crash")

pytestmark = pytest.mark.slow

# A cell that finds the Dask worker process above it (the child of the `dask worker` nanny) and kills it:
# what a notebook that crashes its machine does to a worker.  Possible only without the sandbox, whose pid
# namespace hides every process outside it; the fault handling under test is the cluster's, not the sandbox's.
KILL_MY_WORKER = """\
import os, signal
def _parent(pid):
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])
child, pid = os.getpid(), _parent(os.getpid())
while pid > 1:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        argv = fh.read().split(b"\\0")
    if any(a.endswith(b"/dask") for a in argv) and b"worker" in argv:
        os.kill(child, signal.SIGKILL)
        break
    child, pid = pid, _parent(pid)
"""


def notebook_json(content: str) -> dict:
    """A submission's notebook as the plain JSON a Job carries."""
    return json.loads(json.dumps(nbformat.reads(content, as_version=4)))


def with_cell(notebook: dict, source: str) -> dict:
    """The notebook with one more code cell at the end (cell indices of the others unchanged)."""
    nb = json.loads(json.dumps(notebook))
    nb["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                        "source": source})
    return nb


def outcome(execution) -> tuple:
    """What grading depends on: the payloads per cell, how the run ended, the kinds of outputs per cell."""
    kinds = [[o.get("output_type") for o in c.get("outputs", [])] for c in execution.notebook["cells"]]
    payloads = {int(k): v for k, v in execution.payloads.items()}
    return payloads, execution.stopped, execution.stopped_at, list(execution.timed_out_cells), kinds


@pytest.fixture(scope="module")
def submissions():
    subs = {s.student: s for s in sampleclass.sample_class(ROOT)
            if s.assignment == ASSIGNMENT and s.student in STUDENTS}
    assert set(subs) == set(STUDENTS)
    return subs


@pytest.fixture(scope="module")
def jobs(submissions):
    return [Job(key=f"{s}/{ASSIGNMENT}/{sub.notebook}", notebook=notebook_json(sub.content), files={}, inputs={})
            for s, sub in submissions.items()]


@pytest.fixture(scope="module")
def pool():
    with ExecutorPool(workers=2) as warm:
        yield warm


@pytest.fixture(scope="module")
def local(jobs, pool):
    """The local path's executions (the reference)."""
    return {e.key: e for e in pool.map(jobs)}


@pytest.fixture(scope="module")
def dask_cluster():
    with dask_support.DaskCluster(("w1", "w2")) as running:
        yield running


def test_the_cluster_runs_a_class_exactly_as_the_local_pool(dask_cluster, jobs, local):
    stats = cluster.BatchStats()
    remote = {}
    for execution in cluster.run_jobs(jobs, dask_cluster.address):
        stats.add(execution)
        remote[execution.key] = execution
    assert set(remote) == {j.key for j in jobs}
    for key, execution in remote.items():
        assert outcome(execution) == outcome(local[key]), key
    # the outcomes are not all alike: answers were recorded, and the crashing notebook stopped
    assert remote[f"perfect/{ASSIGNMENT}/derivatives.ipynb"].payloads
    assert remote[f"kernel_crash/{ASSIGNMENT}/derivatives.ipynb"].stopped
    # both workers graded, and the summary says so
    assert set(stats.per_worker) == {"w1", "w2"} and stats.count == len(jobs)
    lines = "\n".join(stats.lines())
    assert "w1:" in lines and "w2:" in lines and "notebooks per hour" in lines


def test_each_worker_keeps_one_warm_executor(dask_cluster, jobs):
    client = dask_cluster.client()
    try:
        def pool_id(dask_worker):
            plugin = dask_worker.plugins.get(cluster.plugin_name(True))
            return id(plugin.pool()) if plugin is not None else None

        before = client.run(pool_id)
        assert len(before) == 2 and None not in before.values()
        list(cluster.run_jobs(jobs[:2], dask_cluster.address))
        assert client.run(pool_id) == before  # a second batch found the same pools
    finally:
        client.close()


def test_calcgrade_autograde_on_the_cluster_writes_what_the_local_path_writes(dask_cluster, pool, tmp_path,
                                                                              make_released_course):
    """The whole trusted path: the parent prepares, the cluster executes, the parent grades and writes."""
    roots = {where: make_released_course(tmp_path / where / "course", ASSIGNMENT)
             for where in ("local", "cluster")}
    subs = [s for s in sampleclass.sample_class(roots["local"]) if s.assignment == ASSIGNMENT and s.student in STUDENTS]
    for root in roots.values():
        sampleclass.place(subs, root, demo.DEMO_TIMESTAMP)
    local_run = autograde.autograde_assignment(roots["local"], ASSIGNMENT, pool=pool)
    # the command an instructor types, from a folder outside the course
    out = subprocess.run([sys.executable, "-m", "grader.cli", "autograde", ASSIGNMENT, "--scheduler",
                          dask_cluster.address, "--course-root", str(roots["cluster"]), "--json"],
                         cwd=str(tmp_path), env=coursedir.script_environment(), capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    remote_run = json.loads(out.stdout)
    assert remote_run["executed_on"] == dask_cluster.address
    assert set(remote_run["per_worker"]) <= {"w1", "w2"} and sum(remote_run["per_worker"].values()) == len(subs)
    # the same gradebook, and it is the fair one
    on_cluster = gradebook.all_scores(roots["cluster"])
    assert on_cluster == gradebook.all_scores(roots["local"])
    assert on_cluster == {(ASSIGNMENT, s.student, Path(s.notebook).stem): s.expected for s in subs}
    assert {r["student"]: (r["success"], r["score"], r["questions"]) for r in remote_run["students"]} == \
        {r.student: (r.success, r.score, r.questions) for r in local_run.results}
    # the same answer log and the same trusted verdicts in the autograded notebooks
    logs = [sorted(answerlog.read_records(coursedir.nbgrader_api(r).coursedir.db_url, ASSIGNMENT), key=repr)
            for r in roots.values()]
    assert logs[0] == logs[1] and logs[0]
    for sub in subs:
        cells = []
        for root in roots.values():
            nb = nbformat.read(str(root / "autograded" / sub.student / ASSIGNMENT / sub.notebook), as_version=4)
            cells.append([[o.get("data", {}).get("text/plain") for o in c.get("outputs", [])]
                          for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")])
        assert cells[0] == cells[1], sub.student


def test_the_summary_lists_notebooks_per_worker_and_the_throughput():
    run = autograde.AutogradeRun("02_derivatives", [autograde.StudentResult("ann", "02_derivatives", True, 3, 4)],
                                 True, 12.0, 2, "tcp://10.0.0.1:8786", {"w1": 30, "w2": 18})
    text = autograde.format_summary(run)
    assert "w1: 30 notebooks" in text and "w2: 18 notebooks" in text
    assert "48 notebooks in 12.0 s: 0.25 s per notebook, 14400 notebooks per hour" in text


def test_killing_a_worker_mid_batch_loses_nothing(dask_cluster, submissions, local):
    perfect = notebook_json(submissions["perfect"].content)
    slow = with_cell(perfect, "import time\ntime.sleep(1.5)")
    batch = [Job(key=f"copy{i}/{ASSIGNMENT}/derivatives.ipynb", notebook=slow, files={}, inputs={})
             for i in range(6)]
    with ExecutorPool(workers=1) as pool:
        reference = outcome(pool.run(batch[0]))
    assert reference[0] == outcome(local[f"perfect/{ASSIGNMENT}/derivatives.ipynb"])[0]

    results: list = []
    errors: list = []

    def consume() -> None:
        try:
            results.extend(cluster.run_jobs(batch, dask_cluster.address))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    observer = dask_cluster.client()
    consumer = threading.Thread(target=consume)
    consumer.start()
    victims: list[str] = []
    first_seen: dict[str, float] = {}

    def busy_on_w2() -> list[str]:
        workers = observer.scheduler_info()["workers"]
        address = next((a for a, w in workers.items() if w.get("name") == "w2"), None)
        return [str(k) for k in observer.processing(workers=[address]).get(address, [])] if address else []

    try:
        deadline = time.monotonic() + 120
        while not victims and time.monotonic() < deadline and consumer.is_alive():
            now = time.monotonic()
            for key in busy_on_w2():
                first_seen.setdefault(key, now)
            # mid-batch, and w2 has been running a notebook for a moment (each runs for over 1.5 seconds)
            ripe = [k for k, t in first_seen.items() if 0.3 < now - t < 0.9]
            if results and ripe:
                still = [k for k in busy_on_w2() if k in ripe]
                if still:
                    dask_cluster.kill_worker("w2")
                    victims = still
            time.sleep(0.1)
    finally:
        consumer.join(timeout=300)
        observer.close()
    assert not errors, errors
    assert victims, "w2 never took a notebook: nothing was tested"
    assert sorted(e.key for e in results) == sorted(j.key for j in batch)
    for execution in results:
        assert outcome(execution) == reference, execution.key
    by_key = {e.key: e for e in results}
    for victim in victims:  # task keys are calcgrade-<batch>-<index of the job>
        job = batch[int(victim.rsplit("-", 1)[1])]
        assert by_key[job.key].worker == "w1", (victim, by_key[job.key].worker)  # w1 ran it again
    dask_cluster.start_worker("w2")


def test_a_submission_that_kills_its_worker_twice_fails_alone(dask_cluster, submissions, jobs, local):
    poison = Job(key=f"poison/{ASSIGNMENT}/derivatives.ipynb",
                 notebook=with_cell(notebook_json(submissions["perfect"].content), KILL_MY_WORKER), files={},
                 inputs={})
    honest = [j for j in jobs if not j.key.startswith("kernel_crash")]
    results = {e.key: e for e in cluster.run_jobs([poison, *honest], dask_cluster.address, sandbox=False)}
    assert set(results) == {poison.key, *(j.key for j in honest)}
    failed = results.pop(poison.key)
    assert failed.payloads == {} and "died 2 times" in failed.stopped
    for key, execution in results.items():
        assert outcome(execution) == outcome(local[key]), key


def test_without_a_cluster_grading_is_refused_in_one_sentence_before_anything_is_read(tmp_path):
    from grader.course.grading.nbgrader_steps import GradingRefused

    nowhere = f"tcp://127.0.0.1:{dask_support.free_port()}"
    with pytest.raises(GradingRefused) as refused:  # the course folder is not even looked at
        autograde.autograde_assignment(tmp_path / "no-course", ASSIGNMENT, scheduler=nowhere)
    assert str(refused.value) == (f"cannot reach the Dask scheduler at {nowhere} (Connection refused); start one "
                                  "with `dask scheduler` and give its address as tcp://HOST:PORT")
    with pytest.raises(cluster.ClusterUnavailable, match="Invalid url scheme"):
        cluster.check_cluster("sched.example.edu")
    with dask_support.DaskCluster(workers=()) as empty:
        with pytest.raises(cluster.ClusterUnavailable) as none:
            cluster.check_cluster(empty.address, worker_wait=1)
        assert f"start workers with `dask worker {empty.address}`" in str(none.value)

