"""Seconds per notebook of the sandboxed executor (``grader.course.sandbox.executor``), once warm.

Usage:  .venv/bin/python benchmarks/executor_bench.py [--assignment 02_derivatives] [--runs 12]
                                                      [--workers 1] [--no-sandbox-too]

Runs the assignment's solution notebook and released notebook ``--runs`` times each through an
``ExecutorPool`` (function inputs from the public key, which carries the same inputs as the private
one) and prints, per notebook: the pool's start-up (warm-up) time, the median and p90 seconds per
notebook on one executor, and the throughput with ``--workers`` executors.  As a baseline in the
same run it times one cold process per notebook (a fresh ``python`` that imports what the executor
imports and runs the same cells): what each notebook costs without a warm executor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.course.sandbox.executor import ExecutorPool, Job, Limits  # noqa: E402


def _jobs(assignment: str) -> dict[str, Job]:
    key = json.loads((ROOT / "solutions" / assignment / "calcgrade_public.json").read_text())
    inputs = {q: e["inputs"] for q, e in key["questions"].items() if e.get("kind") == "function"}
    out = {}
    for folder in ("solutions", "exercises"):
        for path in sorted((ROOT / folder / assignment).glob("*.ipynb")):
            nb = json.loads(path.read_text())
            out[f"{folder}/{path.name}"] = Job(f"bench/{assignment}/{path.name}", nb, {}, inputs, Limits())
    return out


_COLD = r"""
import json, sys, time, io, contextlib
t = time.perf_counter()
import numpy, sympy, matplotlib; matplotlib.use("Agg")
from IPython.core.interactiveshell import InteractiveShell
sh = InteractiveShell.instance()
import grader.notebook.check
from grader.notebook import capture
capture.configure(json.loads(sys.argv[2]))
nb = json.load(open(sys.argv[1]))
with contextlib.redirect_stdout(io.StringIO()):
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            sh.run_cell("".join(c["source"]) if isinstance(c["source"], list) else c["source"], store_history=True)
print(time.perf_counter() - t)
"""


def _cold(path: Path, inputs: dict) -> float:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", _COLD, str(path), json.dumps(inputs)], check=True,
                   capture_output=True, cwd=str(path.parent), env={**os.environ, "MPLBACKEND": "Agg"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every descendant, including reaped children (cutime/cstime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / tick
            for tid in os.listdir(f"/proc/{p}/task"):
                stack += [int(k) for k in Path(f"/proc/{p}/task/{tid}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def _self_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignment", default="02_derivatives")
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-sandbox-too", action="store_true", help="also time the pool without the sandbox")
    args = ap.parse_args()
    jobs = _jobs(args.assignment)
    modes = [True, False] if args.no_sandbox_too else [True]
    print(f"executor benchmark: {args.assignment}, {args.runs} runs per notebook, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} (wall times grow with the load; CPU seconds do not)")
    for sandboxed in modes:
        label = "sandbox" if sandboxed else "no sandbox"
        t = time.perf_counter()
        with ExecutorPool(1, sandbox=sandboxed) as pool:
            print(f"[{label}] pool of 1 ready in {time.perf_counter() - t:.2f} s (imports and warm-up, paid once)")
            for name, job in jobs.items():
                pool.run(job)  # first run after warm-up is not special, but keep the figures steady
                secs = []
                pid = pool._workers[0].proc.pid
                cpu0, self0 = _tree_cpu(pid), _self_cpu()
                for _ in range(args.runs):
                    ex = pool.run(job)
                    if ex.stopped:
                        print(f"  {name}: stopped: {ex.stopped}")
                    secs.append(ex.seconds)
                cpu = (_tree_cpu(pid) - cpu0 + _self_cpu() - self0) / args.runs
                secs.sort()
                print(f"  {name:<34} wall median {statistics.median(secs):.3f} s  p90 "
                      f"{secs[int(0.9 * (len(secs) - 1))]:.3f} s  CPU {cpu:.3f} s per notebook"
                      f"  ({sum(len(v) for v in ex.payloads.values())} payloads)")
        if args.workers > 1:
            t = time.perf_counter()
            with ExecutorPool(args.workers, sandbox=sandboxed) as pool:
                ready = time.perf_counter() - t
                batch = [job for job in jobs.values() for _ in range(args.runs)]
                t = time.perf_counter()
                done = sum(1 for _ in pool.map(batch))
                wall = time.perf_counter() - t
            print(f"[{label}] pool of {args.workers} (ready in {ready:.2f} s): {done} notebooks in {wall:.2f} s = "
                  f"{wall / done:.3f} s per notebook ({wall * args.workers / done:.3f} s per notebook per core)")
    key = json.loads((ROOT / "solutions" / args.assignment / "calcgrade_public.json").read_text())
    inputs = {q: e["inputs"] for q, e in key["questions"].items() if e.get("kind") == "function"}
    for name in jobs:
        path = ROOT / name.split("/")[0] / args.assignment / name.split("/")[1]
        cold = sorted(_cold(path, inputs) for _ in range(3))
        print(f"baseline, a cold process per notebook: {name:<32} CPU median {cold[1]:.3f} s per notebook")


if __name__ == "__main__":
    main()
