"""What a job's own namespaces cost (grader.course.sandbox.jobns): milliseconds per job, printed.

Runs in the real sandbox, in a process that imported what the warm executor imports (NumPy, SymPy,
IPython), and times, per job, a plain fork of it against a fork that enters the job's namespaces (unshare,
uid/gid maps, capabilities dropped, two more forks: the keeper's init and the job's process) and the job's
lock-down (the seccomp filter), each job ending at once.  No assertion: figures only.

    python -m benchmarks.jobns_cost [--jobs 40]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from grader.course.sandbox import bubblewrap

_INSIDE = r"""
import sys, json, os, time
sys.path[:] = json.loads(sys.argv[1])
jobs = int(sys.argv[2])
import numpy, sympy, IPython, matplotlib  # the warm executor's size
from grader.course.sandbox import jobns
why = jobns.probe()
def plain():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
def namespaced():
    pid = os.fork()
    if pid == 0:
        jobns.enter([])
        jobns.lock_down()
        os._exit(0)
    os.waitpid(pid, 0)
out = {"no_namespaces": why}
for name, fn in (("plain", plain), ("namespaces", namespaced), ("plain again", plain)):
    if name != "plain" and name != "plain again" and why:
        continue
    fn()
    t = time.perf_counter()
    for _ in range(jobs):
        fn()
    out[name] = (time.perf_counter() - t) / jobs * 1000
print(json.dumps(out))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    args = parser.parse_args(argv)
    fds = bubblewrap.passwd_fds()
    try:
        cmd = bubblewrap.sandbox_command([sys.executable, "-I", "-c", _INSIDE, json.dumps(bubblewrap.import_path(True)),
                                          str(args.jobs)], data_fds=fds)
        proc = subprocess.run(cmd, pass_fds=list(fds.values()), capture_output=True, text=True, timeout=600)
    finally:
        for fd in fds.values():
            __import__("os").close(fd)
    if proc.returncode != 0:
        print(proc.stderr[-2000:])
        raise SystemExit(1)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if res.get("no_namespaces"):
        print(f"jobs cannot have namespaces of their own here: {res['no_namespaces']}")
    for name in ("plain", "namespaces", "plain again"):
        if name in res:
            print(f"{name:12s} {res[name]:7.2f} ms per job (fork to reaped, {args.jobs} jobs)")
    if "namespaces" in res:
        base = (res["plain"] + res["plain again"]) / 2
        print(f"added       {res['namespaces'] - base:7.2f} ms per job")


if __name__ == "__main__":
    main()
