"""The warm executor process: imports paid once, one forked child per job, several jobs at once.

Started by ``grader.course.sandbox.executor`` (inside the sandbox of ``grader.course.sandbox.bubblewrap``, or plainly
with ``--no-sandbox``).  It imports NumPy, SymPy, IPython, matplotlib and the capture side of
``grader``, builds the InteractiveShell, warms SymPy's caches on a generic workload (never a
course's solutions: a child inherits this process's memory), then serves jobs over a Unix socket:
up to SLOTS at once where each job has namespaces of its own (``grader.course.sandbox.jobns``: its own
processes, files, /proc and IPC, so that two jobs of one executor are as far apart as two sandboxes), else
one at a time.  Requests and answers carry the job's id.  Job data never passes through this process's
memory: the parent sends two memory file descriptors (the job, the results) that only the child reads
and writes, so a later child cannot find an earlier student's notebook in memory it inherited.

Per job: fork; the child closes everything but its own descriptors, enters its namespaces, applies the
limits (RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC, RLIMIT_FSIZE), writes its copy of the submission into a
fresh folder, switches ``check()`` to grading mode (``grader.notebook.capture.configure``) and runs
the cells (``grader.course.sandbox.cellrunner``).  One select loop watches every running job (``grader.course.sandbox.jobwatch``: its pidfd,
its timing pipe, its deadlines, its memory): a cell past its timeout gets SIGINT (KeyboardInterrupt, as
Jupyter interrupts a kernel), then SIGKILL after a grace period; the notebook as a whole is killed at its
wall time; the memory of a job's processes together (below its init) is polled.  When a job with namespaces
ends, the loop waits until its init is gone (the kernel has then ended every process of its pid namespace,
and its /tmp, /dev/shm and IPC objects went with its mount and IPC namespaces) before answering; nothing of
another running job is touched.  Without namespaces (one job at a time), every other process in the sandbox
is killed (``kill(-1)``), System V IPC objects are removed and the writable folders wiped
(``grader.course.sandbox.jobcleanup``).  A job that leaves a process that cannot be killed ends the executor
(the other running jobs are told why).  This process is not dumpable: a child running as the same user can
neither ptrace it nor open its descriptors through /proc."""

from __future__ import annotations

import ctypes
import gc
import json
import os
import select
import signal
import socket
import sys
import time
from typing import Any

from grader.course.sandbox import jobcleanup as cleanup
from grader.course.sandbox import fontlist, jobns, sandboxprocs
from grader.course.sandbox.jobwatch import INTERRUPT_GRACE, MEMORY_POLL, JobWatch

__all__ = ["main", "INTERRUPT_GRACE"]

FILE_SIZE_LIMIT = 64 << 20   # bytes per file a job may write
EXTRA_PROCESSES = 8          # the executor's own processes counted by RLIMIT_NPROC
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0),
                ctypes.c_ulong(0))


# --- warm-up ------------------------------------------------------------------------------------
_WARM_CELL = """
import io as _io
import numpy as _np
import sympy as _sp
import matplotlib.pyplot as _plt
from grader import check, question
from grader.key import wire as _wire, entries as _entries
_x = _sp.Symbol("x", real=True)
_e = _sp.diff(_sp.sin(_x) * _sp.exp(_x**2) / (1 + _x**2) + _sp.log(1 + _x**2) * _sp.sqrt(_x**2 + 1), _x)
_sp.simplify(_sp.sin(_x)**2 + _sp.cos(_x)**2 + (_x**2 - 1) / (_x - 1) + _sp.exp(_x) * _sp.exp(-_x)
             + _sp.log(_sp.exp(_x)) + _sp.sqrt(_x**2 + 2*_x + 1))  # each family once: small, as fast after
_sp.latex(_e); _sp.factor(_x**4 - 1); _sp.expand((_x + 1)**5)
_sp.lambdify(_x, _e, "numpy")(_np.linspace(0.1, 1.0, 5))
_sp.integrate(_x * _sp.exp(_x) + _sp.cos(_x)**2, _x)
_h = _sp.Symbol("h")
_sp.limit(((_x + _h)**3 - _x**3) / _h, _h, 0); _sp.limit(_sp.sin(_h) / _h, _h, 0); _sp.series(_sp.exp(_x), _x, 0, 4)
_sp.solve(_x**2 - 2, _x); _sp.nsimplify(0.5); _sp.N(_sp.pi); _sp.Float(1.5) * _x; _sp.tanh(_x).diff(_x)
_sp.Piecewise((0, _x < 0), (_x, True)).diff(_x); _sp.Max(0, _x); _sp.Heaviside(_x)
_sp.Matrix([[1, _x], [_x**2, 1]]).det(); _sp.sympify("x**2 + sin(x)"); _sp.Rational(3, 2) * _x
_np.array([[1.0, 2.0], [3.0, 4.0]]) @ _np.ones(2)
_wire.from_wire(_wire.to_wire(_e)); _wire.to_wire(_np.arange(6.0).reshape(2, 3)); _wire.to_wire(1.5)
_args = [_wire.to_wire((_sp.Lambda(_x, _x**3), 1.0, 0.1))]
__import__("grader.notebook.capture", fromlist=["configure"]).configure({"warm_function": _args})
check("warm_expression", _e)
check("warm_function", lambda f, a, h: (f(a + h) - f(a - h)) / (2 * h))
__import__("grader.notebook.capture", fromlist=["deconfigure"]).deconfigure()
_fig, (_ax, _bx) = _plt.subplots(1, 2, figsize=(6, 4))
_ax.plot([0, 1], [1, 0], color="black", label="$f(x) = x^2$"); _ax.plot([0, 1], [0, 1], "--", lw=1, label="h = 0.5")
_ax.plot([1], [1], "o"); _ax.set_ylim(-1, 2); _ax.set_xlim(-1, 2); _ax.legend(fontsize=8); _ax.legend()
_ax.set_title("$x^2$"); _ax.set_xlabel("$x$"); _ax.set_ylabel("y")
_g = _np.meshgrid(_np.linspace(-1, 1, 5), _np.linspace(-1, 1, 5)); _bx.contour(_g[0], _g[1], _g[0]**2 + _g[1]**2)
_bx.quiver(_g[0], _g[1], _g[0], _g[1])
__import__("IPython.core.pylabtools", fromlist=["print_figure"]).print_figure(_fig, "png")
_plt.close("all")
"""


def warm() -> Any:
    """Import everything a notebook needs and build the shell every child inherits."""
    for d in (os.environ.get("HOME"), os.environ.get("MPLCONFIGDIR"), os.environ.get("IPYTHONDIR")):
        if d:
            os.makedirs(d, exist_ok=True)
    import numpy  # noqa: F401
    import sympy  # noqa: F401
    import matplotlib

    matplotlib.use("Agg")
    from grader.course.sandbox import cellrunner

    shell = cellrunner.make_shell()
    try:
        shell.enable_matplotlib("inline")  # plots become display_data PNGs, as in a kernel
    except Exception:
        pass
    import grader.notebook.capture  # noqa: F401
    import grader.notebook.check as check_module  # installs check()'s AST transformer in this shell

    check_module.install_hooks(shell)  # and stale-answer tracking

    before = set(shell.user_ns)
    shell.run_cell(_WARM_CELL, store_history=False, silent=True)
    for name in set(shell.user_ns) - before:
        del shell.user_ns[name]
    shell.execution_count = 1
    gc.collect()
    gc.freeze()  # the children's garbage collector leaves these pages shared
    return shell


# --- one job ------------------------------------------------------------------------------------
def _limits(limits: dict[str, Any]) -> None:
    import resource

    def setl(res: int, soft: int, hard: int | None = None) -> None:
        try:
            resource.setrlimit(res, (soft, soft if hard is None else hard))
        except (ValueError, OSError):
            pass

    setl(resource.RLIMIT_CORE, 0)
    setl(resource.RLIMIT_AS, int(limits.get("memory_bytes", 2 << 30)))
    cpu = max(1, int(limits.get("cpu_seconds", 600)))
    setl(resource.RLIMIT_CPU, cpu, cpu + 5)
    setl(resource.RLIMIT_NPROC, max(1, int(limits.get("processes", 64))) + EXTRA_PROCESSES)
    setl(resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT)


def _read_all(fd: int) -> bytes:
    chunks = []
    os.lseek(fd, 0, os.SEEK_SET)
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _safe_relpath(path: str) -> str | None:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _write_submission(workdir: str, job: dict[str, Any]) -> None:
    import base64

    for rel, b64 in (job.get("files") or {}).items():
        safe = _safe_relpath(str(rel))
        if safe is None or not isinstance(b64, str):
            continue
        dest = os.path.join(workdir, safe)
        try:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as fh:
                fh.write(base64.b64decode(b64))
        except (OSError, ValueError):
            continue
    name = _safe_relpath(str(job.get("key", "")).rsplit("/", 1)[-1]) or "notebook.ipynb"
    if name.endswith(".ipynb"):
        try:
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as fh:
                json.dump(job.get("notebook"), fh)
        except (OSError, TypeError, ValueError):
            pass


def _child(shell: Any, job_fd: int, out_fd: int, timing_fd: int, workdir: str, namespaces: bool,
           sandboxed: bool) -> None:
    """The job's process (never returns): in its own namespaces when ``namespaces`` (``grader.course.sandbox.jobns``),
    locked down (no capability, the full seccomp filter) before the cells run when ``sandboxed``."""
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        keep = sorted({0, 1, 2, job_fd, out_fd, timing_fd})
        low = 3
        for fd in keep:
            if fd >= low:
                os.closerange(low, fd)
                low = fd + 1
        os.closerange(low, 65536)
        try:
            os.setsid()
        except OSError:
            pass
        if namespaces:
            jobns.enter([job_fd, out_fd, timing_fd])
        _prctl(PR_SET_DUMPABLE, 1)  # the executor reads this job's memory use (smaps_rollup)
        try:   # the job, not the executor, is the kernel's first choice when memory runs out
            with open("/proc/self/oom_score_adj", "w") as fh:
                fh.write("1000")
        except OSError:
            pass
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        raw = _read_all(job_fd)
        os.close(job_fd)
        job = json.loads(raw.decode("utf-8"))
        del raw
        _limits(job.get("limits") or {})
        os.makedirs(workdir, exist_ok=True)
        _write_submission(workdir, job)
        os.chdir(workdir)
        sys.path.insert(0, "")  # as in a kernel: the notebook's folder first (its own copy only)
        home = os.environ.get("HOME")
        for d in (home, os.environ.get("MPLCONFIGDIR"), os.environ.get("IPYTHONDIR")):
            if d:
                os.makedirs(d, exist_ok=True)
        from grader.course.sandbox import cellrunner
        from grader.notebook import capture

        capture.configure(job.get("inputs") or {}, job.get("variants") or {})
        cells = (job.get("notebook") or {}).get("cells") or []
        del job
        if sandboxed:
            jobns.lock_down()
        cellrunner.run_cells(shell, cells if isinstance(cells, list) else [], cellrunner.Recorder(out_fd),
                             timing_fd)
    except MemoryError:
        code = 3
    except BaseException:
        # a failure of ours (student code's exceptions are caught cell by cell): the traceback goes to the
        # parent in the result file, for the instructor's log; the student reads one sentence (exit status 4)
        code = 4
        try:
            import traceback

            line = json.dumps({"internal": traceback.format_exc()[-20_000:]}) + "\n"
            os.lseek(out_fd, 0, os.SEEK_END)
            os.write(out_fd, line.encode())
        except BaseException:
            pass
    os._exit(code)


# --- the loop -------------------------------------------------------------------------------------
def _own_children() -> set[int]:
    return set(sandboxprocs.children(os.getpid()))


def _strays(jobs: dict[int, JobWatch]) -> set[int]:
    """Children of this process that no job names: the init of a job whose keeper went before the init could be
    found (reparented here, this process being a subreaper); zombies among them are reaped."""
    known = {j.pid for j in jobs.values() if j.running} | {j.init for j in jobs.values() if j.init is not None}
    left = set()
    for pid in _own_children() - known:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        if done == 0:
            left.add(pid)
    return left


def _start(shell: Any, request: dict[str, Any], fds: list[int], sandboxed: bool, namespaces: bool) -> JobWatch:
    import tempfile

    job_fd, out_fd = fds
    workdir = "/tmp/work" if sandboxed else tempfile.mkdtemp(prefix="calcgrade-job-")
    r, w = os.pipe()
    os.set_blocking(r, False)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's code is measured through its outputs
        os.close(r)
        _child(shell, job_fd, out_fd, w, workdir, namespaces, sandboxed)
    os.close(w)
    os.close(job_fd)
    os.close(out_fd)
    job = JobWatch(int(request["job"]), pid, r, request.get("limits") or {}, sandboxed, namespaces)
    job.workdir = workdir
    _dbg("forked", job.job_id, pid)
    return job


def _finish_alone(job: JobWatch) -> bool:
    """After a job without namespaces of its own (it ran alone): kill whatever it left, wipe what it wrote.
    False when a process survived."""
    clean = cleanup.kill_everything(job.sandboxed, job.pid)
    if job.sandboxed:
        cleanup.remove_ipc()
        cleanup.wipe("/tmp")
        cleanup.wipe("/dev/shm")
        for d in (os.environ.get("HOME"), os.environ.get("MPLCONFIGDIR"), os.environ.get("IPYTHONDIR")):
            if d:
                os.makedirs(d, exist_ok=True)
    else:
        cleanup.wipe(job.workdir, keep_top=False)
    return clean


def serve(sock: socket.socket, shell: Any, sandboxed: bool, namespaces: bool = False, slots: int = 1) -> None:
    """Serve jobs until the socket closes: up to ``slots`` at once when jobs have namespaces of their own (each
    is then isolated from the others by them), else one at a time.  Requests and answers carry the job's id."""
    slots = max(1, slots) if namespaces else 1
    jobs: dict[int, JobWatch] = {}
    while True:
        now = time.monotonic()
        waits = [j.deadline() for j in jobs.values()]
        timeout = min(MEMORY_POLL, max(0.0, min(waits) - now)) if waits else None
        fds = [sock.fileno()] + [fd for j in jobs.values() for fd in j.fds()]
        ready = set(select.select(fds, [], [], timeout)[0])
        if sock.fileno() in ready:
            try:
                msg, got, _, _ = socket.recv_fds(sock, 65536, 4)
            except OSError:
                return
            if not msg:
                return
            try:
                request = json.loads(msg.decode())
            except ValueError:
                request = {}
            job_id = request.get("job") if isinstance(request, dict) else None
            if (request.get("op") != "run" or len(got) != 2 or not isinstance(job_id, int) or job_id in jobs
                    or len(jobs) >= slots):
                for fd in got:
                    os.close(fd)
                sock.send(json.dumps({"op": "error", "job": job_id, "message": "bad request"}).encode())
            else:
                job = _start(shell, request, got, sandboxed, namespaces)
                jobs[job.job_id] = job
                sock.send(json.dumps({"op": "started", "job": job.job_id, "pid": job.pid}).encode())
        strays: set[int] | None = None
        for job in list(jobs.values()):
            job.step(ready)
            if job.running:
                continue
            if not namespaces:
                clean = _finish_alone(job)
            else:
                if not job.init_gone():
                    if time.monotonic() < job.drain_deadline:
                        continue
                    clean = False
                else:
                    if job.init is None:   # a stray may be this job's init: wait until none is left
                        strays = _strays(jobs) if strays is None else strays
                        if strays and time.monotonic() < job.drain_deadline:
                            continue
                    clean = not strays if job.init is None else True
            del jobs[job.job_id]
            job.close()
            _dbg("status", job.job_id, job.status, job.stopped)
            sock.send(json.dumps(job.outcome(job.status or 0)).encode())
            if not clean:  # a process of this job could not be killed: no other job may share the sandbox
                _dbg("a process survived; exiting")
                for other in jobs.values():
                    sock.send(json.dumps({
                        "op": "done", "job": other.job_id, "stopped_at": other.current, "timed_out_cells": other.timed_out,
                        "stopped": ("the notebook was stopped with its executor: a process of another notebook "
                                    "could not be killed")}).encode())
                os._exit(1)


def main(argv: list[str] | None = None) -> None:
    """``zygote.py SOCKET_FD MODE [SLOTS]``: MODE is "sandbox" (bubblewrap) or "plain" (--no-sandbox); SLOTS jobs
    at once at most (where jobs have namespaces of their own; else one)."""
    argv = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(argv[0]))
    sandboxed = argv[1] == "sandbox"
    slots = int(argv[2]) if len(argv) > 2 else 1
    _prctl(PR_SET_DUMPABLE, 0)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)   # an orphaned process of a job (plain) or a job's init (jobns) comes here
    if not sandboxed:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    started = time.perf_counter()
    mpl_cache = os.environ.get("MPLCONFIGDIR") if sandboxed else None   # plainly: the user's own cache
    handed = fontlist.hand_in(mpl_cache)   # matplotlib's font list from an earlier start, if handed in
    try:
        shell = warm()
    except BaseException as exc:
        sock.send(json.dumps({"op": "failed", "message": f"{exc.__class__.__name__}: {exc}"}).encode())
        raise
    # each job in its own user, pid and IPC namespaces, where the kernel allows it (sandboxed runs only)
    no_namespaces = jobns.probe() if sandboxed else None
    built = fontlist.exported(mpl_cache, handed)   # no student code has run here yet: the list is ours
    ready = json.dumps({"op": "ready", "pid": os.getpid(), "uid": os.getuid(),
                        "warm_seconds": time.perf_counter() - started, "no_namespaces": no_namespaces,
                        "fonts": "built" if built else "handed in" if handed else "own"}).encode()
    if built:   # handed back as a memory file: a list of hundreds of fonts is larger than a message
        fd = os.memfd_create("calcgrade-fontlist")
        try:
            view = memoryview(built)
            while view:
                view = view[os.write(fd, view):]
            socket.send_fds(sock, [ready], [fd])
        finally:
            os.close(fd)
    else:
        sock.send(ready)
    serve(sock, shell, sandboxed, sandboxed and no_namespaces is None, slots)


if __name__ == "__main__":  # pragma: no cover
    main()


def _dbg(*a: Any) -> None:
    if os.environ.get("CALCGRADE_EXECUTOR_DEBUG"):
        print("zygote:", round(time.monotonic(), 2), *a, file=sys.stderr, flush=True)
