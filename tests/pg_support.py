"""A real, throw-away PostgreSQL server for tests.

Why a real server: the claim under test is that nbgrader's gradebook (SQLAlchemy) and calcgrade's own
tables behave the same on PostgreSQL as on SQLite, so nothing here is mocked.  What this module owns is
the plumbing that makes such a server safe on a shared machine:

* ``initdb`` into a fresh temporary folder, with a random password (scram-sha-256) for the one role;
* when the tests run as root, PostgreSQL (which refuses root) runs as ``nobody`` via ``setpriv``, with
  the data folder owned by that user;
* it listens on 127.0.0.1 only, on a free port, with its unix socket inside the temporary folder;
* ``stop()`` always runs (context manager, ``atexit``, and a parent-death signal so the server dies
  with the test process even when that is killed), and removes the folder.

Only the binaries' absence is a reason to skip (``binaries_problem()``).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

def _version(folder: Path) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin: the newest installed version is tried first."""
    return tuple(int(p) for p in folder.parent.name.split(".") if p.isdigit())


PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
UNPRIVILEGED_UID = 65534  # nobody / nogroup on Debian
START_TIMEOUT = 60.0  # seconds; the machine is small and busy
ROLE = "calcgrade"


def pg_bin() -> Path | None:
    """The folder holding initdb and postgres, or None."""
    for folder in PG_BIN_CANDIDATES:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found and (Path(found).parent / "postgres").is_file() else None


def binaries_problem() -> str | None:
    """Why no server can be started here (a skip reason), or None."""
    if pg_bin() is None:
        return "PostgreSQL binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or on PATH"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "running as root and setpriv (util-linux) is missing: cannot drop to an unprivileged user"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder.  Use as a context manager."""

    def __init__(self, *, durable: bool = False) -> None:
        """``durable``: commits wait for the disk as in production (benchmarks); tests skip that."""
        problem = binaries_problem()
        if problem:
            raise RuntimeError(problem)
        self.bin = pg_bin()
        self.password = secrets.token_hex(16)
        self.port = 0
        self.base: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.durable = durable

    # ------------------------------------------------------------------ life cycle

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        return ["setpriv", f"--reuid={UNPRIVILEGED_UID}", f"--regid={UNPRIVILEGED_UID}", "--clear-groups",
                "--pdeathsig", "SIGINT", *argv]

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        return env

    def start(self) -> "PostgresServer":
        self.base = Path(tempfile.mkdtemp(prefix="calcgrade-pg-"))
        atexit.register(self.stop)
        try:
            data, sock = self.base / "data", self.base / "sock"
            sock.mkdir()
            pwfile = self.base / "pwfile"
            pwfile.write_text(self.password + "\n")
            if os.geteuid() == 0:
                for path in (self.base, sock, pwfile):
                    os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
            os.chmod(self.base, 0o700)
            subprocess.run(
                self._as_server_user([str(self.bin / "initdb"), "-D", str(data), "-U", ROLE, "-E", "UTF8",
                                      "--no-locale", "--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-sync"]),
                env=self._env(), cwd=str(self.base), check=True, capture_output=True, timeout=120,
            )
            pwfile.unlink()
            for attempt in range(3):  # another process may take the free port before the server binds it
                self.port = free_port()
                if self._launch(data, sock):
                    return self
            raise RuntimeError(f"PostgreSQL did not start: {self._log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _launch(self, data: Path, sock: Path) -> bool:
        log = open(self.base / "server.log", "ab")
        try:
            self.proc = subprocess.Popen(
                self._as_server_user([
                    str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port),
                    "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sock}",
                    "-c", "max_connections=40", "-c", "shared_buffers=16MB",
                    # a test server: durability is not wanted, speed is
                    *([] if self.durable else ["-c", "fsync=off", "-c", "synchronous_commit=off",
                                               "-c", "full_page_writes=off"]),
                ]),
                env=self._env(), cwd=str(self.base), stdout=log, stderr=log, start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            try:
                self.connect("postgres").close()
                return True
            except Exception:
                time.sleep(0.2)
        self._terminate()
        return False

    def _log_tail(self) -> str:
        try:
            return (self.base / "server.log").read_text(errors="replace")[-800:]  # type: ignore[operator]
        except OSError:
            return "(no server log)"

    def _terminate(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown: roll back, disconnect, stop
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop the server and remove its folder; safe to call twice."""
        self._terminate()
        base, self.base = self.base, None
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)
        atexit.unregister(self.stop)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ use

    def url(self, database: str) -> str:
        """SQLAlchemy URL of one database of this server (psycopg2 driver)."""
        return f"postgresql+psycopg2://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=ROLE, password=self.password,
                                dbname=database, connect_timeout=5)

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its URL."""
        conn = self.connect("postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def query(self, database: str, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            conn.close()
