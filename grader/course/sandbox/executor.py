"""Sandboxed execution of submissions: warm executors, one forked child per job, several jobs per executor.

``ExecutorPool(workers, sandbox=True)`` starts ONE warm executor process (``grader.course.sandbox.zygote``) in
its bubblewrap sandbox (``grader.course.sandbox.bubblewrap``) that runs up to ``workers`` jobs at once, each in
namespaces of its own (``grader.course.sandbox.jobns``: as far from the other as two sandboxes); where the kernel
refuses job namespaces, or with ``sandbox=False``, it starts ``workers`` executors of one job at a time.
``run(job)`` hands a ``Job`` (pure data: the notebook as nbgrader restored it, the other files of
the submission, the function inputs from the private key, the limits) to a free slot; the executor
forks a child that runs the cells and hands over answers only (``grader.notebook.capture``).  The
result is an ``Execution``: the executed notebook (outputs recorded like nbclient), the answer
payloads per cell, and why the run stopped early, if it did.  Nothing here grades: the trusted
grader (``grader.course.grading.trusted``) reads the payloads.  Requests and answers carry the job's id; a
thread per executor hands each answer to the job waiting for it.

Faults cost only what they must: a child that dies keeps the outputs and payloads of the cells run
before; an endless loop loses only its cell; a bad notebook gives an Execution with ``stopped`` set;
an executor that stops answering is killed and replaced (its running jobs read that it was killed).  ``run`` and ``map`` never raise for a job.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict
from typing import Any, Iterable, Iterator

from grader.course.sandbox import bubblewrap as _sandbox
from grader.course.sandbox import cgroups, fontlist
from grader.course.sandbox import jobcleanup as cleanup
from grader.course.sandbox import sandboxprocs
from grader.course.sandbox.jobdata import (Execution, Job, Limits, empty_notebook, job_bytes, limits_of,
                                           notebook_problem)
from grader.course.sandbox.recorded import ANSWER_MIME, MAX_EVENTS, apply_events, payloads_of
from grader.course.sandbox.zygote import EXTRA_PROCESSES

__all__ = ["Limits", "Job", "Execution", "ExecutorPool", "SandboxUnavailable", "ExecutorError",
           "sandbox_available", "ANSWER_MIME"]

sandbox_available = _sandbox.sandbox_available
START_TIMEOUT = 180.0          # seconds an executor may take to warm up (a busy machine)
RESPONSE_MARGIN = 30.0         # seconds past the notebook's wall time before the executor is killed
PARENT_POLL = 0.5              # seconds between two looks of the parent at a job's memory
PARENT_MEMORY_FACTOR = 1.25    # the parent kills above this share of the limit (the executor's poll is exact)
MAX_RESULT_BYTES = 32 << 20    # the largest result file read back
EXECUTOR_TASKS = 8             # the sandbox's own tasks in its cgroup's pids limit (bubblewrap, init, executor, ...)
_LOG = logging.getLogger(__name__)
_SAID: set[str] = set()        # what was logged once per process


class SandboxUnavailable(RuntimeError):
    """Submissions cannot be isolated here; ``why`` says why in one clause (grade with --no-sandbox to accept),
    for callers that put it in a sentence of their own."""

    def __init__(self, why: str) -> None:
        super().__init__(f"submissions cannot be run in a sandbox here: {why}")
        self.why = why

    def __reduce__(self) -> tuple[Any, tuple[str]]:   # pickled (a cluster worker's answer) as it was made
        return SandboxUnavailable, (self.why,)


class ExecutorError(RuntimeError):
    """An executor process could not be started."""


class _Worker:
    """One warm executor process (in its sandbox), the socket to it, and the jobs it runs (``slots`` at once)."""

    def __init__(self, index: int, sandboxed: bool, slots: int = 1) -> None:
        self.index = index
        self.sandboxed = sandboxed
        self.slots = max(1, slots)
        self.proc: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.pid = 0
        self.warm_seconds = 0.0
        self.fonts = ""                        # where its matplotlib font list came from (the ready message)
        self._log: Any = None
        self._own_pids: set[int] = set()
        self._executor_pid = 0                 # the executor process's own pid, as seen here
        self.no_namespaces: str | None = None
        self.cgroup: cgroups.ExecutorCgroup | None = None
        self._lock = threading.RLock()         # start, stop, the running jobs and their limits
        self._send_lock = threading.Lock()
        self._generation = 0                   # one per executor process started
        self._pending: dict[int, tuple[int, "queue.Queue[dict[str, Any]]"]] = {}
        self._limits: dict[int, Limits] = {}
        self._next_job = 0

    # -- life cycle --
    def start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
                "from grader.course.sandbox.zygote import main; main(sys.argv[2:])")
        paths = _sandbox.import_path(self.sandboxed)
        argv = [sys.executable, "-I", "-c", code, json.dumps(paths), str(child.fileno()),
                "sandbox" if self.sandboxed else "plain", str(self.slots)]
        fds: dict[str, int] = {}
        if self.sandboxed:   # matplotlib's font list kept from an earlier start (grader.course.sandbox.fontlist)
            fonts = fontlist.handed_in()
            fds = _sandbox.passwd_fds({fontlist.HANDED_IN: fonts} if fonts else None)
            cmd = _sandbox.sandbox_command(argv, data_fds=fds)
            env = None
        else:
            cmd = argv
            env = dict(os.environ)
            env.update(_sandbox.executor_env())
            for name in ("HOME", "MPLCONFIGDIR", "IPYTHONDIR", "TMPDIR"):
                env.pop(name, None)
            env.pop("CALCGRADE_PRIVATE_KEY", None)
            env.pop("NBGRADER_EXECUTION", None)
        debug = os.environ.get("CALCGRADE_EXECUTOR_DEBUG")
        self._log = None if debug else tempfile.TemporaryFile()  # the executor's own messages, for errors
        try:
            self.proc = sandboxprocs.spawn(lambda: subprocess.Popen(
                cmd, pass_fds=[child.fileno(), *fds.values()], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=self._log, env=env,
                start_new_session=True,
            ))
        finally:
            child.close()
            for fd in fds.values():
                os.close(fd)
        self.sock = parent
        msg = self._receive(START_TIMEOUT)
        if not msg or msg.get("op") != "ready":
            why = (msg or {}).get("message") or self._last_log_line() or "it ended before it was ready"
            self.stop()
            raise ExecutorError(f"the executor process could not start: {why}"
                                " (set CALCGRADE_EXECUTOR_DEBUG=1 to see its messages)")
        if self.sandboxed and os.geteuid() == 0 and msg.get("uid") != _sandbox.NOBODY:
            self.stop()
            raise SandboxUnavailable("the sandbox did not drop "
                                     "root privileges")
        self.pid = self.proc.pid
        self.warm_seconds = float(msg.get("warm_seconds", 0.0))
        self.fonts = str(msg.get("fonts", ""))[:20]
        why = msg.get("no_namespaces")
        self.no_namespaces = why if isinstance(why, str) else None
        if isinstance(why, str) and "namespaces" not in _SAID:
            _SAID.add("namespaces")
            _LOG.warning("jobs run without namespaces of their own (a job could signal its executor): %s", why[:300])
        if self.no_namespaces is not None or not self.sandboxed:
            self.slots = 1   # the executor runs one job at a time then
        self._own_pids = {self.proc.pid, *cleanup.descendants(self.proc.pid)}   # bubblewrap and the executor
        inside = msg.get("pid")
        self._executor_pid = next((p for p in self._own_pids if sandboxprocs.nspid(p)[-1:] == [inside]),
                                  self.proc.pid)
        if self.sandboxed:   # kernel-enforced limits where the machine offers a cgroup (the polls stay)
            self.cgroup = cgroups.ExecutorCgroup.create()
            if self.cgroup is not None:
                self.cgroup.adopt(sorted(self._own_pids))
        self._generation += 1
        self.sock.settimeout(None)
        threading.Thread(target=self._read_answers, args=(self.sock, self._generation), daemon=True,
                         name=f"calcgrade-executor-{self.index}-answers").start()

    def _read_answers(self, sock: socket.socket, generation: int) -> None:
        """Hand each answer of the executor to the job it names; at the end (the executor or its socket is gone),
        tell every job still waiting on this executor process."""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                msg = json.loads(data.decode("utf-8"))
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            with self._lock:
                waiting = self._pending.get(msg.get("job"))  # type: ignore[arg-type]
            if waiting is not None and waiting[0] == generation:
                waiting[1].put(msg)
        with self._lock:
            for gen, q in self._pending.values():
                if gen == generation:
                    q.put({"op": "eof"})

    def _last_log_line(self) -> str:
        if self._log is None:
            return ""
        try:
            self._log.seek(0)
            lines = [ln.strip() for ln in self._log.read()[-4000:].decode("utf-8", "replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""

    def stop(self, generation: int | None = None) -> None:
        """Stop the executor process (only if it is still the one of ``generation``, when given)."""
        if self.sock is None and self.proc is None and self.cgroup is None and self._log is None:
            return   # nothing to stop (and no lock to take: at exit a frozen daemon thread may hold it)
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            if self.sock is not None:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.sock.close()
                self.sock = None
            if self.proc is not None:
                if self.proc.poll() is None:
                    self.proc.kill()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                self.proc = None
            if self.cgroup is not None:
                self.cgroup.remove()
                self.cgroup = None
            if self._log is not None:
                self._log.close()
                self._log = None

    def _alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.sock is not None

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        """The executor's ready (or failed) message.  A memory file sent with the ready message is the font list
        it built before any job ran (``grader.course.sandbox.fontlist``): kept for the next start."""
        assert self.sock is not None
        self.sock.settimeout(max(0.01, timeout))
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, 65536, 1)
        except (socket.timeout, OSError):
            return None
        try:
            if not data:
                return {"op": "eof"}
            try:
                msg = json.loads(data.decode("utf-8"))
            except ValueError:
                return None
            if isinstance(msg, dict) and msg.get("op") == "ready" and msg.get("fonts") == "built" and fds:
                fontlist.store(fds[0])
            return msg if isinstance(msg, dict) else None
        finally:
            for fd in fds:
                os.close(fd)

    # -- the cgroup's limits: the sum over the running jobs --
    def _set_cgroup_limits(self) -> None:
        if self.cgroup is None or not self._limits:
            return
        running = list(self._limits.values())
        memory = sum(int(lim.memory_bytes * PARENT_MEMORY_FACTOR) for lim in running)
        # each job's processes are bounded by its RLIMIT_NPROC in its own user namespace (processes + the
        # executor's EXTRA_PROCESSES): a job beside another one may use its extra share too
        tasks = sum(lim.processes for lim in running) + EXECUTOR_TASKS + (len(running) - 1) * EXTRA_PROCESSES
        self.cgroup.start_job(memory, tasks)

    # -- the parent's own watch over a job --
    def _watch(self, job_id: int, answers: "queue.Queue[dict[str, Any]]", limits: Limits,
               generation: int) -> dict[str, Any] | None:
        """Wait for the executor's answer while watching, from outside the sandbox, the memory of the job's
        processes: the executor polls it too, but this watch the job cannot reach.  Over the limit (with the
        executor's own margin), the job's keeper is killed from here (and the whole sandbox if the executor
        then does not answer; when the executor runs one job at a time, at once, as a job without namespaces
        of its own can stop its executor)."""
        deadline = time.monotonic() + limits.notebook_timeout + RESPONSE_MARGIN
        keeper: int | None = None    # the job's process K, as seen here (several jobs: its subtree is the job)
        keeper_fd: int | None = None
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    msg = answers.get(timeout=min(left, PARENT_POLL))
                except queue.Empty:
                    msg = None
                if msg is not None:
                    if msg.get("op") != "started":
                        return msg
                    if self.slots > 1 and isinstance(msg.get("pid"), int):
                        keeper = sandboxprocs.child_named(self._executor_pid, msg["pid"])
                        if keeper is not None:
                            try:
                                keeper_fd = os.pidfd_open(keeper)
                            except OSError:
                                keeper = None
                    continue
                with self._lock:
                    if generation != self._generation or not self._alive():
                        return {"op": "eof"}
                if self.slots == 1:
                    used = self._job_memory()
                elif keeper is not None:
                    used = sum(cleanup.memory_of(p) for p in cleanup.descendants(keeper))
                else:
                    used = 0
                if used <= limits.memory_bytes * PARENT_MEMORY_FACTOR:
                    continue
                stopped = (f"the notebook's processes used more than its memory limit together "
                           f"({used / (1 << 30):.1f} GiB of {limits.memory_bytes / (1 << 30):g} GiB)")
                answer: dict[str, Any] | None = None
                if keeper_fd is not None:
                    try:
                        signal.pidfd_send_signal(keeper_fd, signal.SIGKILL)
                    except OSError:
                        pass
                    try:
                        answer = answers.get(timeout=cleanup.KILL_PATIENCE + 5.0)
                    except queue.Empty:
                        answer = None
                if answer is None or answer.get("op") != "done":
                    self.stop(generation)
                    answer = {}
                return {"op": "done", "stopped_at": answer.get("stopped_at"), "timed_out_cells": [],
                        "stopped": stopped}
        finally:
            if keeper_fd is not None:
                os.close(keeper_fd)

    def _job_memory(self) -> int:
        """Proportional memory of the sandbox's processes that were not there when the executor was ready."""
        proc = self.proc
        if proc is None:
            return 0
        return sum(cleanup.memory_of(p) for p in cleanup.descendants(proc.pid) if p not in self._own_pids)

    def _send(self, job_id: int, request: bytes, fds: list[int], limits: Limits,
              answers: "queue.Queue[dict[str, Any]]") -> tuple[int, int | None]:
        """Register the job and send it (an executor that died between jobs is replaced, not blamed on this job);
        the executor's generation and the cgroup's memory kills so far."""
        for attempt in (1, 2):
            with self._lock:
                if not self._alive():
                    self.stop()
                    self.start()
                generation = self._generation
                self._pending[job_id] = (generation, answers)
                self._limits[job_id] = limits
                # the kernel's ceiling has the parent watch's margin: the executor's exact poll stops a job whose
                # processes go over together as a whole; the kernel would kill them one by one
                self._set_cgroup_limits()
                oom_kills = self.cgroup.oom_kills() if self.cgroup is not None else None
                sock = self.sock
            try:
                assert sock is not None
                with self._send_lock:
                    socket.send_fds(sock, [request], fds)
                return generation, oom_kills
            except OSError:
                self._forget(job_id)
                self.stop(generation)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _forget(self, job_id: int) -> None:
        with self._lock:
            self._pending.pop(job_id, None)
            self._limits.pop(job_id, None)
            try:
                self._set_cgroup_limits()
            except OSError:
                pass

    # -- one job --
    def run(self, job: Job) -> Execution:
        started = time.perf_counter()
        worker = f"{socket.gethostname()}/{self.pid}"
        problem = notebook_problem(job.notebook)
        if problem is not None:
            return Execution(job.key, job.notebook if isinstance(job.notebook, dict) else {}, {},
                             problem, None, [], self.sandboxed, time.perf_counter() - started, worker)
        limits = limits_of(job)
        try:
            data = job_bytes(job)
        except (TypeError, ValueError) as exc:
            return Execution(job.key, job.notebook, {}, f"the job could not be sent to the executor ({exc})",
                             None, [], self.sandboxed, time.perf_counter() - started, worker)
        job_fd = os.memfd_create("calcgrade-job")
        out_fd = os.memfd_create("calcgrade-result")
        outcome: dict[str, Any] | None = None
        with self._lock:
            self._next_job += 1
            job_id = self._next_job
        answers: queue.Queue[dict[str, Any]] = queue.Queue()
        try:
            os.write(job_fd, data)
            del data
            code_cells = [i for i, c in enumerate(job.notebook.get("cells") or [])
                          if isinstance(c, dict) and c.get("cell_type") == "code"]
            request = json.dumps({"op": "run", "job": job_id,
                                  "limits": {**asdict(limits), "cells": code_cells}}).encode()
            generation, oom_kills = self._send(job_id, request, [job_fd, out_fd], limits, answers)
            worker = f"{socket.gethostname()}/{self.pid}"
            os.close(job_fd)
            job_fd = -1
            outcome = self._watch(job_id, answers, limits, generation)
            cgroup = self.cgroup
            if (outcome is not None and oom_kills is not None and cgroup is not None
                    and cgroup.killed_for_memory(oom_kills, outcome)):
                outcome = {"op": "done", "stopped_at": outcome.get("stopped_at"), "timed_out_cells": [],
                           "stopped": (f"the notebook's processes went over its memory limit "
                                       f"({limits.memory_bytes / (1 << 30):g} GiB) and the kernel stopped them")}
            if outcome is None or outcome.get("op") != "done":
                # the executor died (the job's code killed it) or stopped answering: replace it
                why = ("the executor process was killed while the notebook ran"
                       if outcome is not None and outcome.get("op") == "eof" else
                       f"the sandbox stopped responding for {limits.notebook_timeout + RESPONSE_MARGIN:g} s "
                       "and was killed")
                self.stop(generation)  # the next run starts a fresh executor
                outcome = {"stopped": why, "stopped_at": None, "timed_out_cells": []}
            events = _read_events(out_fd)
        except (OSError, ExecutorError) as exc:
            self.stop()
            events = _read_events(out_fd)
            outcome = {"stopped": f"the executor failed ({exc})", "stopped_at": None, "timed_out_cells": []}
        finally:
            self._forget(job_id)
            if job_fd >= 0:
                os.close(job_fd)
            os.close(out_fd)
        _log_internal_failure(job.key, events)
        notebook = empty_notebook(job.notebook)
        last_started = apply_events(notebook, events)
        stopped = outcome.get("stopped") if isinstance(outcome.get("stopped"), str) else None
        stopped_at = outcome.get("stopped_at")
        if not isinstance(stopped_at, int):
            stopped_at = last_started if stopped else None
        timed = [c for c in outcome.get("timed_out_cells") or [] if isinstance(c, int)]
        return Execution(
            key=job.key, notebook=notebook, payloads=payloads_of(notebook), stopped=stopped,
            stopped_at=stopped_at if stopped else None, timed_out_cells=timed, sandboxed=self.sandboxed,
            seconds=time.perf_counter() - started, worker=worker,
        )


def _log_internal_failure(key: str, events: list[dict[str, Any]]) -> None:
    """A failure of ours inside the job's process (its traceback, sent as an ``internal`` event) reaches the
    instructor's log; the student's notebook only says that the grader failed."""
    for ev in events:
        text = ev.get("internal")
        if isinstance(text, str):
            _LOG.error("the executor failed while running %s:\n%s", key, text[-20_000:])


def _read_events(fd: int) -> list[dict[str, Any]]:
    """The job's events: at most MAX_RESULT_BYTES and MAX_EVENTS lines, each parsed on its own (a line that
    is not a JSON object, or nests too deep for the parser, is skipped)."""
    size = os.fstat(fd).st_size
    raw = os.pread(fd, min(size, MAX_RESULT_BYTES), 0)
    events = []
    for line in raw.split(b"\n", MAX_EVENTS)[:MAX_EVENTS]:
        if not line:
            continue
        try:
            ev = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(ev, dict):
            events.append(ev)
    return events


def _start_explained(worker: _Worker) -> None:
    """Start a worker; a sandboxed one that cannot start raises SandboxUnavailable with the probe's reason
    where the sandbox itself is what fails here (``sandbox_available``), else the executor's own error."""
    try:
        worker.start()
    except ExecutorError:
        ok, why = sandbox_available() if worker.sandboxed else (True, "")
        if not ok:
            raise SandboxUnavailable(why) from None
        raise


class ExecutorPool:
    """Warm executors in their sandboxes, ``workers`` jobs at a time: one executor with ``workers`` slots where
    jobs have namespaces of their own (one warm-up for the whole pool), else one executor per worker."""

    def __init__(self, workers: int | None = None, *, sandbox: bool = True) -> None:
        if sandbox:   # the full probe (a sandbox of its own) only explains an executor that fails to start
            ok, why = _sandbox.sandbox_prerequisites()
            if not ok:
                raise SandboxUnavailable(why)
        self.sandboxed = sandbox
        self._count = max(1, int(workers or os.cpu_count() or 1))
        self._workers: list[_Worker] = []
        self._closed = False
        if sandbox and self._count > 1:
            first = _Worker(0, sandbox, slots=self._count)
            self._workers.append(first)
            _start_explained(first)   # raises: nothing else to close
            more = 0 if first.slots > 1 else self._count - 1   # no job namespaces here: an executor per worker
        else:
            more = self._count
        new = [_Worker(len(self._workers) + i, sandbox) for i in range(more)]
        self._workers += new
        errors: list[BaseException] = []

        def start(w: _Worker) -> None:
            try:
                _start_explained(w)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(w,)) for w in new]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.close()
            raise errors[0]
        self._idle: queue.Queue[_Worker] = queue.Queue()
        for w in self._workers:
            for _ in range(w.slots):
                self._idle.put(w)

    @property
    def workers(self) -> int:
        """How many jobs run at once."""
        return self._count

    @property
    def executors(self) -> int:
        """How many warm executor processes serve them."""
        return len(self._workers)

    @property
    def cgroups(self) -> list[cgroups.ExecutorCgroup]:
        """The executors' cgroups (empty where the machine offers none: ``cgroups.unavailable()`` says why)."""
        return [w.cgroup for w in self._workers if w.cgroup is not None]

    @property
    def font_lists(self) -> list[str]:
        """Where each executor's matplotlib font list came from: "built" at its start (then kept for the next),
        "handed in" (kept from an earlier start), or "own" (not sandboxed: the user's matplotlib cache)."""
        return [w.fonts for w in self._workers]

    @property
    def namespaces_problem(self) -> str | None:
        """Why jobs run without namespaces of their own (None: they have them, or the pool is not sandboxed)."""
        return next((w.no_namespaces for w in self._workers if w.no_namespaces), None)

    def run(self, job: Job) -> Execution:
        """Run one job on a free executor (waits for one); never raises for a bad job."""
        if self._closed:
            raise RuntimeError("the executor pool is closed")
        worker = self._idle.get()
        try:
            return worker.run(job)
        except Exception as exc:  # a bug of ours: this job fails (alone, when its executor runs only it)
            if worker.slots == 1:
                worker.stop()
            return Execution(job.key, job.notebook if isinstance(job.notebook, dict) else {}, {},
                             f"the executor failed ({exc.__class__.__name__}: {exc})", None, [],
                             self.sandboxed, 0.0, "")
        finally:
            self._idle.put(worker)

    def map(self, jobs: Iterable[Job]) -> Iterator[Execution]:
        """Run ``jobs`` on every executor; Executions as they complete."""
        it = iter(jobs)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            pending: set[Future[Execution]] = set()
            for job in it:
                pending.add(pool.submit(self.run, job))
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
                    nxt = next(it, None)
                    if nxt is not None:
                        pending.add(pool.submit(self.run, nxt))

    def close(self) -> None:
        if self._closed and not any(w.proc is not None for w in self._workers):
            return
        self._closed = True
        for w in self._workers:
            w.stop()

    def __enter__(self) -> "ExecutorPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass
