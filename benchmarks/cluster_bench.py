"""Cluster throughput: notebooks per hour per worker on a Dask cluster of one and two workers, against the local pool.

One class of honest 02_derivatives students (sample class profiles, cycled) in a freshly released course.
Two measurements, each in the same run as its local baseline:

* execution only: the class's Jobs (notebook JSON + function inputs) run by ``ExecutorPool.map`` here, and by
  ``grader.course.sandbox.cluster.run_jobs`` on a real ``dask scheduler`` with one, then two ``dask worker`` processes
  (``--nthreads 1`` each) on 127.0.0.1.  Warm-up (executors importing numpy/sympy/IPython) is excluded: a
  first small batch warms every executor before the clock starts;
* end to end: ``calcgrade autograde`` locally and with ``--scheduler`` (prepare, execute, trusted grading and
  gradebook writes in the parent), each in its own copy of the course.

Each table gives seconds per notebook, notebooks per hour per worker, and that rate against the local pool
with as many workers, measured in the same run.  Both workers share this machine's two cores with the
parent, the scheduler and the client, so two workers here cannot show the scaling of two machines;
docs/CLUSTER.md turns the figures into an estimate for N.

    python -m benchmarks.cluster_bench [--students 24]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from grader.course import coursedir
from grader.course import gradebook
from grader.course.grading import autograde
from grader.course.sandbox import cluster
from grader.course.sandbox.executor import ExecutorPool, Job

from benchmarks.autograde_bench import make_class  # the same honest class as the autograde benchmark

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import dask_support  # noqa: E402  (the same launchers the tests use)
import pg_support  # noqa: E402

ASSIGNMENT = "02_derivatives"


def class_jobs(root: Path, students: list[str]) -> list[Job]:
    """The class as Jobs: submitted notebooks and the private key's function inputs (no course folder needed)."""
    import nbformat

    from grader.course.grading.nbgrader_steps import load_private_key
    from grader.course.grading.trusted import function_inputs

    inputs = function_inputs(load_private_key(root, ASSIGNMENT))
    jobs = []
    for student in students:
        for path in sorted((root / "submitted" / student / ASSIGNMENT).glob("*.ipynb")):
            nb = json.loads(json.dumps(nbformat.read(str(path), as_version=4)))
            jobs.append(Job(key=f"{student}/{ASSIGNMENT}/{path.name}", notebook=nb, files={}, inputs=inputs))
    return jobs


def timed(label: str, run: Callable[[], int], count: int, rows: list, workers: int) -> None:
    """Run, check that ``count`` came back, print and keep seconds per notebook (and the workers used)."""
    start = time.perf_counter()
    done = run()
    seconds = time.perf_counter() - start
    if done != count:
        raise SystemExit(f"{label}: {done} of {count} came back")
    rows.append((label, seconds / count, workers))
    print(f"  {label:<58} {seconds:7.1f} s  {seconds / count:6.3f} s/notebook", flush=True)


def local_exec(jobs: list[Job], workers: int) -> float:
    """Seconds the local pool takes for ``jobs``, after a warm-up batch."""
    with ExecutorPool(workers=workers) as pool:
        list(pool.map(jobs[:workers]))  # warm every executor (SymPy caches) before the clock starts
        start = time.perf_counter()
        n = sum(1 for _ in pool.map(jobs))
        seconds = time.perf_counter() - start
    assert n == len(jobs)
    return seconds


def graded(root: Path, **options: object) -> int:
    return sum(1 for r in autograde.autograde_assignment(root, ASSIGNMENT, **options).results if r.success)


def table(title: str, rows: list[tuple[str, float, int]]) -> None:
    """Seconds per notebook, notebooks per hour per worker, and that rate against the local pool with as
    many workers (the first row with that count) measured in this run."""
    local = {}
    for label, per, workers in rows:
        local.setdefault(workers, per)
    print(f"\n{title}")
    print(f"  {'':<58} {'s/notebook':>10} {'notebooks/h/worker':>19} {'vs local pool':>14}")
    for label, per, workers in rows:
        rate = 3600 / (per * workers)
        print(f"  {label:<58} {per:10.3f} {rate:19.0f} {local[workers] / per:13.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=24)
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="calcgrade-cluster-bench-"))
    execution: list[tuple[str, float, int]] = []
    end_to_end: list[tuple[str, float, int]] = []
    pg = None
    try:
        print(f"releasing {ASSIGNMENT} and placing {args.students} honest students in {base}", flush=True)
        pg_problem = pg_support.binaries_problem()
        names = ("warmup", "local1", "local2", "dask1", "dask2") + (() if pg_problem else ("dask2pg",))
        roots = {name: base / name / "course" for name in names}
        if not pg_problem:
            pg = pg_support.PostgresServer(durable=True).start()  # commits wait for the disk, as in production
        students = make_class(roots["local1"], args.students)
        for name, root in roots.items():
            if name == "local1":
                continue
            shutil.copytree(roots["local1"], root, ignore=shutil.ignore_patterns("gradebook.db"))
            if name.endswith("pg") and pg is not None:
                with open(root / "nbgrader_config.py", "a") as config:
                    config.write(f"\nc.CourseDirectory.db_url = {pg.create_database('bench')!r}\n")
            api = coursedir.nbgrader_api(root)
            with coursedir.scripts_on_path():
                api.generate_assignment(ASSIGNMENT, force=True, create=True)
        jobs = class_jobs(roots["local1"], students)
        n = len(jobs)

        print("\nexecution only: warm executors, the clock starts after a warm-up batch")
        for workers in (1, 2):
            seconds = local_exec(jobs, workers)
            execution.append((f"local ExecutorPool({workers})", seconds / n, workers))
            print(f"  {execution[-1][0]:<58} {seconds:7.1f} s  {seconds / n:6.3f} s/notebook", flush=True)
        with dask_support.DaskCluster(("w1",)) as dc:
            for workers in (1, 2):
                if workers == 2:
                    dc.start_worker("w2")
                list(cluster.run_jobs(jobs[:workers * 2], dc.address))  # warm the new worker's executor
                stats = cluster.BatchStats()

                def on_cluster() -> int:
                    for ex in cluster.run_jobs(jobs, dc.address):
                        stats.add(ex)
                    return stats.count

                timed(f"Dask run_jobs, {workers} worker{'s' if workers > 1 else ''}", on_cluster, n, execution,
                      workers)
                print("\n".join("    " + line for line in stats.lines()), flush=True)

            print("\nend to end: calcgrade autograde (prepare, execute, trusted grading, gradebook writes),"
                  " warm executors everywhere")
            with ExecutorPool(workers=1) as pool:  # this process's one-time costs (imports, schemas) paid here
                graded(roots["warmup"], pool=pool, students=students[:2])
            for workers in (1, 2):
                with ExecutorPool(workers=workers) as pool:
                    list(pool.map(jobs[:workers]))
                    timed(f"calcgrade autograde --workers {workers}",
                          lambda: graded(roots[f"local{workers}"], pool=pool), args.students, end_to_end, workers)
            dc.kill_worker("w2")
            for workers in (1, 2):
                if workers == 2:
                    dc.start_worker("w2")
                    list(cluster.run_jobs(jobs[:4], dc.address))
                timed(f"calcgrade autograde --scheduler, {workers} worker{'s' if workers > 1 else ''}",
                      lambda: graded(roots[f"dask{workers}"], scheduler=dc.address), args.students, end_to_end,
                      workers)
            if pg is not None:
                timed("calcgrade autograde --scheduler, 2 workers, PostgreSQL gradebook",
                      lambda: graded(roots["dask2pg"], scheduler=dc.address), args.students, end_to_end, 2)
            else:
                print(f"  (no PostgreSQL run: {pg_problem})")
        reference = gradebook.all_scores(roots["local1"])
        same = all(gradebook.all_scores(roots[name]) == reference for name in names if name != "warmup")
        print(f"\nthe same gradebook everywhere: {same}")
        table("execution only", execution)
        table("end to end", end_to_end)
        return 0 if same else 1
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
