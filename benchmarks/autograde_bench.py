"""Autograde throughput: stock ``nbgrader autograde`` (a kernel per notebook) vs ``calcgrade autograde``.

One class of honest 02_derivatives students from the sample class generator is graded both ways in the same
run, each in its own copy of a freshly released course:

* baseline: ``nbgrader autograde 02_derivatives`` with nbgrader's own pipelines (Execute starts a kernel per
  notebook; check() grades in the kernel against the private key; SaveAutoGrades reads the float it prints);
* calcgrade: ``calcgrade autograde 02_derivatives`` (sandboxed warm executor, trusted grading in the parent).

It prints the wall time per notebook of each way (start-up included) and the steady-state time per notebook
(between the first and the last notebook graded), the ratios, and checks that every honest student gets the
same points per question both ways.

    python -m benchmarks.autograde_bench [--students 16,100] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.course import coursedir
from grader.course import gradebook
from grader.course.demo import run as demo
from grader.course.demo import sampleclass
from grader.course.release import publish as course

ASSIGNMENT = "02_derivatives"
HONEST = ["perfect", "mistakes_a", "mistakes_b", "mistakes_c", "partial", "second_half", "blank", "tenth_percent_off"]

# nbgrader's default autograde pipelines: the baseline as nbgrader ships it
STOCK_PIPELINES = """
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput", "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec", "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata"]
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata"]
"""


def make_class(base: Path, students: int) -> list[str]:
    """Release the assignment in ``base`` and place ``students`` honest students (profiles cycled)."""
    demo.prepare_course(coursedir.find_course_root(), base, [ASSIGNMENT])
    course.release(base, ASSIGNMENT, validate=False)
    subs = {s.student: s for s in sampleclass.sample_class(base) if s.assignment == ASSIGNMENT}
    profiles = [p for p in HONEST if p in subs]
    names = []
    for i in range(students):
        profile = profiles[i % len(profiles)]
        name = f"s{i:02d}_{profile}"
        folder = base / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / subs[profile].notebook).write_text(subs[profile].content, encoding="utf-8")
        (folder / "timestamp.txt").write_text(demo.DEMO_TIMESTAMP)
        names.append(name)
    return names


class CpuMeter:
    """CPU seconds used by a command and every process it starts (executors, kernels, grading processes),
    counted by a cgroup of its own where this machine lets us make one (cgroup v1 ``cpuacct`` or a writable
    cgroup v2); unlike wall time, barely moved by other work on a shared machine.  ``None`` readings where
    no cgroup can be made."""

    def __init__(self, name: str) -> None:
        self.folder: Path | None = None
        self.stat = ""
        for root, stat in ((Path("/sys/fs/cgroup/cpuacct"), "cpuacct.usage"), (Path("/sys/fs/cgroup"), "cpu.stat")):
            folder = root / f"calcgrade-bench-{os.getpid()}-{name}"
            try:
                if not (root / stat).exists() and not (root / "cgroup.procs").exists():
                    continue
                folder.mkdir(exist_ok=True)
                if (folder / stat).exists():
                    self.folder, self.stat = folder, stat
                    break
                folder.rmdir()
            except OSError:
                continue

    def enter(self) -> None:
        """In the child, before exec: join the cgroup."""
        if self.folder is not None:
            (self.folder / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float | None:
        if self.folder is None:
            return None
        text = (self.folder / self.stat).read_text()
        if self.stat == "cpuacct.usage":
            return int(text) / 1e9
        fields = dict(line.split() for line in text.splitlines() if line.strip())
        return int(fields["usage_usec"]) / 1e6

    def close(self) -> None:
        if self.folder is not None:
            for _ in range(50):   # processes left by the command are gone a moment after it ends
                try:
                    self.folder.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


def timed(cmd: list[str], cwd: Path, marker: str) -> tuple[float, list[float], float | None]:
    """Wall seconds of ``cmd``, the moments (seconds from its start) its output lines holding ``marker``
    arrived (one per graded notebook, for the steady-state rate) and the CPU seconds it used (None where
    they cannot be counted)."""
    meter = CpuMeter(Path(cmd[0]).name)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=str(cwd), env=coursedir.script_environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1, preexec_fn=meter.enter)
    moments, tail = [], []
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            moments.append(time.perf_counter() - start)
        tail = (tail + [line])[-40:]
    status = proc.wait()
    seconds = time.perf_counter() - start
    time.sleep(0.5)   # what the command started ends with it (executors, grading process)
    cpu = meter.seconds()
    meter.close()
    if status not in (0, 1):
        sys.exit(f"{' '.join(cmd[:2])} failed:\n{''.join(tail)}")
    return seconds, moments, cpu


def steady(moments: list[float]) -> float:
    """Seconds per notebook once running: between the first and the last notebook done."""
    return (moments[-1] - moments[0]) / (len(moments) - 1) if len(moments) > 1 else float("nan")


def measure(tmp: Path, students: int, workers: int | None) -> dict:
    """One class of ``students`` graded both ways; the figures and whether the scores agree."""
    base = tmp / f"base{students}"
    names = make_class(base, students)
    stock, fast = tmp / f"stock{students}", tmp / f"calcgrade{students}"
    shutil.copytree(base, stock)
    shutil.copytree(base, fast)
    with open(stock / "nbgrader_config.py", "a", encoding="utf-8") as fh:
        fh.write(STOCK_PIPELINES)
    bin_dir = Path(sys.executable).parent
    print(f"{len(names)} honest students of {ASSIGNMENT}, graded both ways ...", flush=True)
    t_stock, m_stock, c_stock = timed([str(bin_dir / "nbgrader"), "autograde", ASSIGNMENT, "--force"], stock,
                             "Setting destination file permissions")
    cmd = [str(bin_dir / "calcgrade"), "autograde", ASSIGNMENT]
    if workers:
        cmd += ["--workers", str(workers)]
    t_fast, m_fast, c_fast = timed(cmd, fast, "] s")  # "[3] s02_mistakes_b: 5/23", one per notebook
    a, b = gradebook.all_scores(stock), gradebook.all_scores(fast)
    key = lambda n: (ASSIGNMENT, n, "derivatives")  # noqa: E731
    differ = [n for n in names if a.get(key(n)) != b.get(key(n))]
    for name in differ:
        print(f"  scores differ for {name}: stock {a.get(key(name))} calcgrade {b.get(key(name))}")
    return {"n": len(names), "load": " ".join(f"{x:.1f}" for x in os.getloadavg()), "stock": t_stock,
            "fast": t_fast, "s_stock": steady(m_stock), "s_fast": steady(m_fast),
            "first": m_fast[0] if m_fast else float("nan"), "differ": differ, "cpu_stock": c_stock, "cpu_fast": c_fast,
            "points": sum(sum(a[key(x)].values()) for x in names if key(x) in a)}


def report(r: dict) -> None:
    """The figures of one class size (printed as soon as it is measured, and again at the end)."""
    n = r["n"]
    print(f"\n{n} students (load average {r['load']}; {os.cpu_count()} cores shared with other jobs: noisy)")
    print(f"{'':25}  {'wall':>8}  {'per notebook':>12}  {'steady state':>12}")
    print(f"{'stock nbgrader autograde':25}  {r['stock']:6.1f} s  {r['stock'] / n:10.3f} s  {r['s_stock']:10.3f} s")
    print(f"{'calcgrade autograde':25}  {r['fast']:6.1f} s  {r['fast'] / n:10.3f} s  {r['s_fast']:10.3f} s")
    print(f"{'ratio':25}  {'':8}  {r['stock'] / r['fast']:10.1f} x  {r['s_stock'] / r['s_fast']:10.1f} x")
    if r["cpu_stock"] is not None and r["cpu_fast"] is not None:
        print(f"CPU time, every process included: stock {r['cpu_stock']:.1f} s ({r['cpu_stock'] / n:.3f} s per notebook), "
              f"calcgrade {r['cpu_fast']:.1f} s ({r['cpu_fast'] / n:.3f} s per notebook): "
              f"{r['cpu_stock'] / r['cpu_fast']:.1f}x less")
    print(f"calcgrade's first notebook graded {r['first']:.1f} s after the command started; "
          f"scores: {'DIFFER for ' + ', '.join(r['differ']) if r['differ'] else 'identical'} "
          f"(total {r['points']:g} points)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", default="16,100", help="class sizes, comma-separated (default 16,100)")
    parser.add_argument("--workers", type=int, default=None, help="calcgrade workers (default: cores)")
    parser.add_argument("--keep", action="store_true", help="keep the course folders")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="calcgrade-bench-"))
    rows = []
    try:
        for size in [int(x) for x in args.students.split(",") if x.strip()]:
            rows.append(measure(tmp, size, args.workers))
            report(rows[-1])
    finally:
        if args.keep:
            print(f"course folders kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\nall sizes:")
    for r in rows:
        report(r)
    print("(wall: the whole command, start-up included; steady state: between the first and the last "
          "notebook graded)")
    return 1 if any(r["differ"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
