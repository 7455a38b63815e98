"""Autograde throughput: stock ``nbgrader autograde`` (a kernel per notebook) vs ``calcgrade autograde``.

One class of honest 02_derivatives students from the sample class generator is graded both ways in the same
run, each in its own copy of a freshly released course:

* baseline: ``nbgrader autograde 02_derivatives`` with nbgrader's own pipelines (Execute starts a kernel per
  notebook; check() grades in the kernel against the private key; SaveAutoGrades reads the float it prints);
* calcgrade: ``calcgrade autograde 02_derivatives`` (sandboxed warm executor, trusted grading in the parent).

It prints the wall time per notebook of each way and the ratio, and checks that every honest student gets the
same points per question both ways.

    python -m benchmarks.autograde_bench [--students 16] [--workers N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.course import autograde, demo, sampleclass
from grader.course import release as course

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
    demo.prepare_course(course.project_root(), base, [ASSIGNMENT])
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


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=str(cwd), env=autograde.course_environment(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd[:2])} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None, help="calcgrade workers (default: cores)")
    parser.add_argument("--keep", action="store_true", help="keep the course folders")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="calcgrade-bench-"))
    try:
        base = tmp / "base"
        names = make_class(base, args.students)
        stock, fast = tmp / "stock", tmp / "calcgrade"
        shutil.copytree(base, stock)
        shutil.copytree(base, fast)
        with open(stock / "nbgrader_config.py", "a", encoding="utf-8") as fh:
            fh.write(STOCK_PIPELINES)
        bin_dir = Path(sys.executable).parent
        print(f"{len(names)} honest students of {ASSIGNMENT}, graded both ways ...", flush=True)
        t_stock = timed([str(bin_dir / "nbgrader"), "autograde", ASSIGNMENT, "--force"], stock)
        cmd = [str(bin_dir / "calcgrade"), "autograde", ASSIGNMENT, "--json"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        t_fast = timed(cmd, fast)
        a, b = autograde.all_scores(stock), autograde.all_scores(fast)
        differ = [n for n in names if a.get((ASSIGNMENT, n, "derivatives")) != b.get((ASSIGNMENT, n, "derivatives"))]
        n = len(names)
        print(f"stock nbgrader autograde : {t_stock:7.1f} s  {t_stock / n:6.2f} s per notebook")
        print(f"calcgrade autograde      : {t_fast:7.1f} s  {t_fast / n:6.2f} s per notebook")
        print(f"ratio                    : {t_stock / t_fast:7.1f} x")
        if differ:
            for name in differ:
                print(f"  scores differ for {name}: stock {a.get((ASSIGNMENT, name, 'derivatives'))} "
                      f"calcgrade {b.get((ASSIGNMENT, name, 'derivatives'))}")
            return 1
        print(f"scores: identical for all {n} students "
              f"(total {sum(sum(a[(ASSIGNMENT, x, 'derivatives')].values()) for x in names):g} points)")
        return 0
    finally:
        if args.keep:
            print(f"course folders kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
