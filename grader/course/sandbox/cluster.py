"""Grading beyond one machine: run submissions on a Dask distributed cluster.

Why Dask: a large course (thousands of students, a regrade of everyone after a key fix) outgrows one
machine, and Dask distributed is the field's standard engine for shipping Python work to many machines,
with a scheduler that tracks workers, reassigns the work of a worker that dies, and says which task
killed workers (``KilledWorker``).  Nothing here is a home-made scheduler.

What travels: each submission goes to the cluster as a ``Job`` (the notebook's JSON, the submission's
other files, the function questions' inputs), which is pure data.  Workers need only the installed
package: no course folder, no shared file system, and never the private key (verdicts and scores are
computed by the trusted step in the parent, which alone writes the gradebook and autograded/ files).

Warm workers: a ``WarmExecutor`` worker plugin gives each Dask worker one ``ExecutorPool`` (a warm
zygote that has imported numpy, sympy, IPython and the capture side of ``grader``), created once when
the worker joins, so imports are paid once per worker, not once per notebook.

Faults: the scheduler's ``allowed-failures`` is set to 1 for the batch.  A worker that dies mid-task
costs nothing: Dask runs the task again on another worker.  A submission that was running on two workers
that died is marked failed (``Execution.stopped`` says why) and the batch goes on.  At most as many jobs
are in flight as the cluster has threads, so a worker that dies was running only the job that killed it
(a job merely queued behind it is not blamed).
"""

from __future__ import annotations

import collections
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from grader.core.extras import missing_extra

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError as _exc:  # the [cluster] extra is not installed: say which, in one sentence
    raise (missing_extra(_exc, "grading on a Dask cluster") or _exc) from None

from grader.course.sandbox.executor import Execution, ExecutorPool, Job, sandbox_available

__all__ = ["ClusterUnavailable", "WarmExecutor", "run_jobs", "check_cluster", "execute_job", "BatchStats",
           "summary_lines", "ALLOWED_FAILURES"]

#: Worker deaths a submission may cause before it is marked failed, minus one (Dask's ``allowed-failures``):
#: the first death is forgiven (the machine may have died for its own reasons), the second is not.
ALLOWED_FAILURES = 1
CONNECT_TIMEOUT = 30.0  # seconds to reach the scheduler
WORKER_WAIT = 120.0  # seconds to wait for a first worker; also the longest the batch waits with none left
POLL = 2.0  # seconds between looks at the cluster while waiting for results


class ClusterUnavailable(RuntimeError):
    """The cluster cannot grade: no scheduler at the address, no worker, or workers that cannot sandbox."""


def plugin_name(sandbox: bool) -> str:
    """The worker plugin's name; one per sandbox setting, so both can live on one cluster."""
    return "calcgrade-executor" if sandbox else "calcgrade-executor-unsandboxed"


class WarmExecutor(WorkerPlugin):
    """A Dask worker plugin: one warm ``ExecutorPool`` per worker, started when the worker joins.

    The pool is built in a background thread at setup (so the worker answers the scheduler's heartbeats
    meanwhile) and the first job waits for it; a pool that could not be built is built again by the next
    job, whose Execution then says why it failed.  Idempotent: a second batch finds the pool warm.
    """

    idempotent = True

    def __init__(self, sandbox: bool = True) -> None:
        self.sandbox = sandbox
        self.name = plugin_name(sandbox)
        self._pool: ExecutorPool | None = None
        self._lock: threading.Lock | None = None
        self._threads = 1

    def __getstate__(self) -> dict:  # only the setting travels; the pool lives on the worker
        return {"sandbox": self.sandbox, "name": self.name}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["sandbox"])

    def setup(self, worker: Any) -> None:
        self._lock = threading.Lock()
        self._threads = max(1, int(getattr(worker.state, "nthreads", 1) or 1))
        threading.Thread(target=self._warm, name="calcgrade-warm-executor", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.pool()
        except Exception:  # reported by the first job that needs the pool
            pass

    def pool(self) -> ExecutorPool:
        """The worker's pool, built on first use."""
        if self._lock is None:  # used outside a worker (tests, a local fallback)
            self._lock = threading.Lock()
        with self._lock:
            if self._pool is None:
                self._pool = ExecutorPool(workers=self._threads, sandbox=self.sandbox)
            return self._pool

    def teardown(self, worker: Any) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


def execute_job(job: Job, name: str) -> Execution:
    """The task a Dask worker runs: the job in the worker's warm pool.  Never raises for a bad job."""
    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins.get(name)
    if plugin is None:  # the plugin is registered before any job is sent; this is a worker that lost it
        plugin = WarmExecutor(sandbox=name == plugin_name(True))
        plugin.setup(worker)
        worker.plugins[name] = plugin
    execution = plugin.pool().run(job)
    execution.worker = worker_label(worker)
    return execution


def worker_label(worker: Any) -> str:
    """How a worker is named in the summary: its ``--name`` when given, else host:port."""
    name, address = str(worker.name), str(worker.address)
    if name and name != address:
        return name
    return address.split("://", 1)[-1]


def worker_sandbox_status() -> tuple[bool, str]:
    """Run on every worker before a batch: can this machine sandbox submissions?"""
    ok, reason = sandbox_available()
    return ok, f"{socket.gethostname()}: {reason}" if not ok else ""


def failed_execution(job: Job, reason: str, *, sandboxed: bool, worker: str = "") -> Execution:
    """What the trusted step receives for a job the cluster could not run: nothing ran, with the reason."""
    return Execution(key=job.key, notebook=job.notebook, payloads={}, stopped=reason, stopped_at=None,
                     timed_out_cells=[], sandboxed=sandboxed, seconds=0.0, worker=worker)


def scheduler_problem(scheduler: str, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why nothing answers at ``scheduler`` (a bad address, a refused or timed-out connection), or None.

    Checked with a plain TCP connection before a Dask client exists: a client that fails to connect
    complains again while it is garbage-collected, which an instructor would read as a crash."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(scheduler, strict=True)
        host, port = parse_host_port(location)
    except ValueError as exc:
        return str(exc)
    if scheme not in ("tcp", "tls"):
        return f"calcgrade connects to a scheduler over tcp:// or tls://, not {scheme}://"
    try:
        socket.create_connection((host, port), timeout=min(timeout, 10.0)).close()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


PLAIN_TCP_WARNING = ("warning: {address} is plain tcp://: jobs (submissions) and results cross the network "
                     "unencrypted and unauthenticated, so the scheduler and its workers must be on a private "
                     "network; use tls:// with Dask's TLS configuration otherwise")
TLS_ADVICE = ("a tls:// scheduler needs Dask's TLS configuration (distributed.comm.tls.ca-file, "
              "distributed.comm.tls.client.cert and .key, e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE=...)")


def security_for(scheduler: str) -> Any:
    """Dask's ``Security`` for ``scheduler``: from Dask's configuration (files named there or in
    DASK_DISTRIBUTED__COMM__TLS__* variables); for tls:// the CA and the client certificate must be set."""
    from distributed.security import Security

    security = Security()
    if scheduler.startswith("tls://"):
        missing = [name for name, value in (("ca-file", security.tls_ca_file),
                                             ("client.cert", security.tls_client_cert)) if not value]
        if missing:
            raise ClusterUnavailable(f"cannot connect to {scheduler}: {TLS_ADVICE} (missing: {', '.join(missing)})")
    return security


def connect(scheduler: str, timeout: float = CONNECT_TIMEOUT):  # -> distributed.Client
    """A client of the scheduler at ``scheduler``, or ClusterUnavailable with what to do.  Over plain tcp://
    a warning says that the cluster must be on a private network."""
    from distributed import Client

    advice = "start one with `dask scheduler` and give its address as tcp://HOST:PORT"
    problem = scheduler_problem(scheduler, timeout)
    if problem:
        raise ClusterUnavailable(f"cannot reach the Dask scheduler at {scheduler} ({problem}); {advice}")
    security = security_for(scheduler)
    if scheduler.startswith("tcp://"):
        print(PLAIN_TCP_WARNING.format(address=scheduler), file=sys.stderr)
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False, security=security)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}: {exc}); {advice}"
        ) from exc


def prepare(client: Any, scheduler: str, *, sandbox: bool, worker_wait: float = WORKER_WAIT) -> None:
    """Before a batch: a worker is there, every worker can sandbox, the scheduler forgives one death
    per submission, and every worker (present and future) holds a warm executor."""
    try:
        client.wait_for_workers(1, timeout=worker_wait)
    except TimeoutError as exc:
        raise ClusterUnavailable(
            f"no Dask worker joined the scheduler at {scheduler} within {worker_wait:g} s; "
            f"start workers with `dask worker {scheduler}`"
        ) from exc
    if sandbox:
        # a worker that vanished since the scheduler last heard from it answers with an error: it takes no job
        answers = client.run(worker_sandbox_status, on_error="return")
        problems = [f"{addr}: {answer[1]}" for addr, answer in answers.items()
                    if isinstance(answer, tuple) and not answer[0]]
        if problems:
            raise ClusterUnavailable(
                "workers that cannot sandbox submissions: " + "; ".join(problems)
                + " (install bubblewrap there, or grade with --no-sandbox)"
            )
    allowed = ALLOWED_FAILURES

    def set_allowed_failures(dask_scheduler: Any) -> int:  # runs on the scheduler (sent by value)
        dask_scheduler.allowed_failures = allowed
        return dask_scheduler.allowed_failures

    client.run_on_scheduler(set_allowed_failures)
    client.register_plugin(WarmExecutor(sandbox), name=plugin_name(sandbox))


def _threads(client: Any) -> int:
    try:
        return sum(client.nthreads().values())
    except Exception:
        return 0


def _killed_reason(exc: BaseException) -> str:
    return (f"not graded: the grading worker running this submission died {ALLOWED_FAILURES + 1} times "
            f"(on different workers); the notebook may crash or exhaust its machine")


def check_cluster(scheduler: str, *, sandbox: bool = True, worker_wait: float = WORKER_WAIT,
                  connect_timeout: float = CONNECT_TIMEOUT) -> None:
    """Before any submission is prepared: raise ClusterUnavailable (one sentence saying what to do) unless
    the scheduler answers, a worker is there and every worker can sandbox.  The workers start warming
    their executors meanwhile."""
    client = connect(scheduler, connect_timeout)
    try:
        prepare(client, scheduler, sandbox=sandbox, worker_wait=worker_wait)
    finally:
        client.close()


def run_jobs(jobs: Iterable[Job], scheduler: str, *, sandbox: bool = True,
             worker_wait: float = WORKER_WAIT) -> Iterator[Execution]:
    """Run every job on the Dask cluster at ``scheduler``; yield Executions as they complete.

    Never raises for a bad job: a job the cluster could not run comes back with ``stopped`` saying why
    and no payloads; when every worker has been gone for ``worker_wait`` seconds, the jobs not yet done
    come back that way.  Raises ClusterUnavailable, before any job runs, when there is no cluster to use.
    """
    from distributed import wait
    from distributed.scheduler import KilledWorker

    source = enumerate(jobs)  # pulled only when a worker thread is free: the caller prepares jobs lazily
    pending: collections.deque[tuple[int, Job]] = collections.deque()

    def refill(count: int) -> None:
        while len(pending) < count:
            nxt = next(source, None)
            if nxt is None:
                return
            pending.append(nxt)

    refill(1)
    if not pending:
        return
    client = connect(scheduler)
    batch = uuid.uuid4().hex[:10]
    in_flight: dict[Any, Job] = {}
    try:
        prepare(client, scheduler, sandbox=sandbox, worker_wait=worker_wait)
        name = plugin_name(sandbox)
        alone_since: float | None = None
        while pending or in_flight:
            capacity = _threads(client)
            if capacity == 0:
                alone_since = alone_since or time.monotonic()
                if time.monotonic() - alone_since > worker_wait:
                    reason = (f"not graded: no Dask worker (or no scheduler) answered at {scheduler} "
                              f"for {worker_wait:g} s")
                    for job in [*in_flight.values(), *(j for _, j in pending), *(j for _, j in source)]:
                        yield failed_execution(job, reason, sandboxed=sandbox)
                    return
            else:
                alone_since = None
            # at most one job per worker thread in flight: a worker that dies was running only its own job
            refill(max(1, capacity) - len(in_flight))
            while pending and len(in_flight) < max(1, capacity):
                index, job = pending.popleft()
                future = client.submit(execute_job, job, name, key=f"calcgrade-{batch}-{index}", pure=False)
                in_flight[future] = job
            try:
                with client.as_current():
                    done, _ = wait(list(in_flight), timeout=POLL, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished yet: look at the cluster again
                continue
            for future in done:
                job = in_flight.pop(future)
                yield _result(future, job, sandbox, KilledWorker)
            refill(1)  # more to come: keep the loop going
    finally:
        for future in in_flight:
            future.cancel()
        client.close()


def _result(future: Any, job: Job, sandbox: bool, killed_type: type) -> Execution:
    if future.status == "finished":
        try:
            return future.result()
        except Exception as exc:  # the result could not be read back
            return failed_execution(job, f"not graded: the result could not be read ({type(exc).__name__})",
                                    sandboxed=sandbox)
    try:
        exc = future.exception()
    except Exception as err:  # cancelled: the scheduler forgot the task
        exc = err
    if isinstance(exc, killed_type):
        last = getattr(getattr(exc, "last_worker", None), "name", "") or ""
        return failed_execution(job, _killed_reason(exc), sandboxed=sandbox, worker=str(last))
    return failed_execution(job, f"not graded: the grading worker failed ({type(exc).__name__}: {exc})"[:300],
                            sandboxed=sandbox)


# --------------------------------------------------------------------------- the summary


@dataclass
class BatchStats:
    """Per-worker counts and throughput of one batch, for the summary an instructor reads."""

    started: float = field(default_factory=time.perf_counter)
    per_worker: collections.Counter = field(default_factory=collections.Counter)
    seconds_per_worker: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))
    failed: int = 0
    finished: float | None = None

    def add(self, execution: Execution) -> None:
        self.per_worker[execution.worker or "(none)"] += 1
        self.seconds_per_worker[execution.worker or "(none)"] += execution.seconds
        if execution.stopped and not execution.payloads and not execution.seconds:
            self.failed += 1
        self.finished = time.perf_counter()

    @property
    def count(self) -> int:
        return sum(self.per_worker.values())

    @property
    def wall_seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    def lines(self) -> list[str]:
        """The summary: one line per worker, then the throughput."""
        out = summary_lines(self.per_worker, self.wall_seconds, busy=self.seconds_per_worker)
        if self.failed:
            out.append(f"  {self.failed} not graded by the cluster (reasons in the table)")
        return out


def summary_lines(per_worker: Mapping[str, int], wall_seconds: float, *,
                  busy: Mapping[str, float] | None = None) -> list[str]:
    """Per-worker counts (and busy seconds per notebook, when known), then the batch's throughput."""
    out = []
    for worker, n in sorted(per_worker.items()):
        each = (busy or {}).get(worker, 0.0) / n if n else 0.0
        out.append(f"  {worker}: {n} notebook{'s' if n != 1 else ''}" + (f", {each:.2f} s each" if each else ""))
    count = sum(per_worker.values())
    if count and wall_seconds > 0:
        out.append(f"  {count} notebooks in {wall_seconds:.1f} s: {wall_seconds / count:.2f} s per notebook, "
                   f"{3600.0 * count / wall_seconds:.0f} notebooks per hour")
    return out
