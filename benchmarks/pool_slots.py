"""``ExecutorPool(2)``: start-up (wall, CPU) and jobs per second, this tree against a baseline tree, printed.

This tree starts one warm executor with two slots where jobs have namespaces of their own; a baseline tree
(``--baseline DIR``, e.g. the main checkout before issue 22) starts one executor per worker.  Each side runs in
a fresh process (``PYTHONPATH`` = its tree), alternately, ``--rounds`` times: the pool's start-up until every
executor is warm (wall, and CPU of this process plus every process of the sandboxes), then ``--jobs`` small
calculus notebooks through ``pool.map`` (wall, jobs per second, CPU).  No assertion: figures only.

    python -m benchmarks.pool_slots [--jobs 16] [--rounds 2] [--baseline /work/main]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

_INSIDE = r"""
import json, os, sys, time
from grader.course.sandbox import jobcleanup
from grader.course.sandbox.executor import ExecutorPool, Job, Limits

TICK = os.sysconf("SC_CLK_TCK")

def sandbox_cpu():
    total = 0
    for pid in jobcleanup.descendants(os.getpid()):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])   # utime, stime, cutime, cstime (reaped children)
    return total / TICK

def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return b""

def warm_python(pid):
    argv = cmdline(pid).split(b"\0")
    return os.path.basename(argv[0]).startswith(b"python") and b"sandbox.zygote import main" in cmdline(pid)

def executor(pid):   # the warm executor itself (its jobs are forks of it: same command line, it as parent)
    try:
        parent = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return False
    return warm_python(pid) and not warm_python(parent)

def notebook(i):
    cells = [("from grader import check\nimport sympy as sp\nx = sp.Symbol('x')\n"
              f"check('d', sp.diff(sp.sin(x) * x**{i % 5 + 2}, x))"),
             "import numpy as np\nprint(np.linspace(0, 1, 5).sum())",
             "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()"]
    return {"cells": [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
                      for s in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}

jobs = int(sys.argv[1])
wall, cpu = time.perf_counter(), time.process_time()
pool = ExecutorPool(2)
out = {"startup_wall": time.perf_counter() - wall,
       "startup_cpu": time.process_time() - cpu + sandbox_cpu(),
       "executors": sum(1 for pid in jobcleanup.descendants(os.getpid()) if executor(pid))}
wall, cpu, before = time.perf_counter(), time.process_time(), sandbox_cpu()
done = list(pool.map(Job(f"s{i}/a/n.ipynb", notebook(i), {}, {}, Limits()) for i in range(jobs)))
out["jobs_wall"] = time.perf_counter() - wall
out["jobs_cpu"] = time.process_time() - cpu + sandbox_cpu() - before
out["stopped"] = sum(1 for ex in done if ex.stopped)
pool.close()
print(json.dumps(out))
"""


def _measure(tree: Path, jobs: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-c", _INSIDE, str(jobs)], env=env, capture_output=True, text=True,
                          timeout=900, cwd=str(tree))
    if proc.returncode != 0:
        raise SystemExit(f"the measure in {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", type=Path, default=None, help="a tree of the project to compare with")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parents[1]
    trees = [("this tree", here)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    results: dict[str, list[dict]] = {name: [] for name, _ in trees}
    for _ in range(args.rounds):
        for name, tree in trees:
            results[name].append(_measure(tree, args.jobs))
    print(f"ExecutorPool(2), {args.jobs} jobs, {args.rounds} rounds (best of; mean in brackets)")
    for name, runs in results.items():
        def fig(key: str) -> str:
            values = [r[key] for r in runs]
            return f"{min(values):6.2f} ({sum(values) / len(values):5.2f})"
        rate = max(args.jobs / r["jobs_wall"] for r in runs)
        print(f"{name:10s} executors {runs[0]['executors']}  start-up wall {fig('startup_wall')} s  "
              f"CPU {fig('startup_cpu')} s  |  jobs wall {fig('jobs_wall')} s  CPU {fig('jobs_cpu')} s  "
              f"{rate:5.1f} jobs/s  stopped {runs[0]['stopped']}")


if __name__ == "__main__":
    main()
