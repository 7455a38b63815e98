"""A real Dask cluster for tests: ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

Why real processes: the claims under test (a worker keeps a warm executor; a worker that dies costs nothing;
a job that kills workers twice fails alone) are about processes dying and a scheduler noticing, so the
cluster is the one an instructor starts, from the same commands.  What this module owns:

* the scheduler and every worker start in a scratch folder outside any course (workers get nothing but
  the installed package), listen on 127.0.0.1, on free ports, without dashboards;
* each ``dask worker`` (its nanny and the worker process it starts) runs in its own process group, so a
  test can kill one whole worker machine at once, and ``stop()`` kills every group, always.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

START_TIMEOUT = 120.0  # seconds; workers import numpy/sympy on a small, busy machine


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.pop("PYTHONPATH", None)  # workers see only the installed package
    return env


def _dask() -> list[str]:
    """The ``dask`` command of this interpreter's environment (the one the package is installed in)."""
    return [str(Path(sys.executable).parent / "dask")]


class DaskCluster:
    """A scheduler and named workers.  Use as a context manager."""

    def __init__(self, workers: tuple[str, ...] = ("w1", "w2"), *, threads: int = 1) -> None:
        self.worker_names = workers
        self.threads = threads
        self.folder: Path | None = None
        self.address = ""
        self.scheduler: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        assert self.folder is not None
        log = open(self.folder / log_name, "ab")
        try:
            return subprocess.Popen(argv, cwd=str(self.folder), env=_env(), stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()

    def start(self) -> "DaskCluster":
        self.folder = Path(tempfile.mkdtemp(prefix="calcgrade-dask-"))
        atexit.register(self.stop)
        try:
            port = free_port()
            self.address = f"tcp://127.0.0.1:{port}"
            self.scheduler = self._spawn(
                [*_dask(), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                "scheduler.log")
            for name in self.worker_names:
                self.start_worker(name, wait=False)
            if self.worker_names:
                self.wait_for_workers(len(self.worker_names))
            else:
                self.client().close()  # the scheduler answers
            return self
        except BaseException:
            self.stop()
            raise

    def start_worker(self, name: str, *, wait: bool = True) -> None:
        """Start (or start again) the worker called ``name``."""
        assert self.folder is not None
        scratch = self.folder / name
        scratch.mkdir(exist_ok=True)
        self.workers[name] = self._spawn(
            [*_dask(), "worker", self.address, "--name", name, "--host", "127.0.0.1", "--nthreads",
             str(self.threads), "--nworkers", "1", "--no-dashboard", "--local-directory", str(scratch),
             "--death-timeout", "60"],
            f"{name}.log")
        if wait:
            self.wait_for_workers(len([p for p in self.workers.values() if p.poll() is None]))

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=START_TIMEOUT, set_as_default=False)

    def wait_for_workers(self, n: int) -> None:
        client = self.client()
        try:
            client.wait_for_workers(n, timeout=START_TIMEOUT)
        finally:
            client.close()

    def kill_worker(self, name: str) -> None:
        """SIGKILL one whole worker (its nanny, the worker process and whatever they started): a lost machine."""
        proc = self.workers.pop(name)
        _kill_group(proc, signal.SIGKILL)

    def log(self, name: str) -> str:
        assert self.folder is not None
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop every worker, then the scheduler, then remove the scratch folder; safe to call twice."""
        for proc in self.workers.values():
            _kill_group(proc, signal.SIGTERM)
        for proc in self.workers.values():
            _reap(proc)
        self.workers = {}
        if self.scheduler is not None:
            _kill_group(self.scheduler, signal.SIGTERM)
            _reap(self.scheduler)
            self.scheduler = None
        folder, self.folder = self.folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        atexit.unregister(self.stop)

    def __enter__(self) -> "DaskCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _reap(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        proc.wait(timeout=timeout)
    # whatever the group still holds (a nanny's worker process that outlived its nanny) goes too
    _kill_group(proc, signal.SIGKILL)
