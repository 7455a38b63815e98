"""Each job in its own user, pid, IPC and mount namespaces: student code cannot address its executor, nor
another job running in the same executor at the same time.

Without this, a job's process is a plain fork of the executor (``grader.course.sandbox.zygote``) with the
same uid, and could stop it with a signal (the executor's pid is in /proc).  Here the job's process K (our
code only) enters new namespaces before any student code runs::

    executor ── K (keeper, outside)  unshare(user|pid|ipc|mount), maps its own uid/gid, mounts the job's files
                 └── I (pid 1 of the job's pid namespace: a tiny init, our code; mounts the job's /proc)
                      └── S (pid 2: reads the job and runs the cells)

* pids are relative to the pid namespace: no number names K, the executor, bubblewrap's init or a process of
  another job from inside, ``kill(-1)`` reaches only the job's own processes, ``pidfd_send_signal`` on an fd
  of ``/proc/<pid>`` of a process outside fails with EINVAL; K and I are not dumpable (no ``/proc/<pid>/mem``),
  and I starts a session of its own (no process group shared with K);
* files: K makes every mount private and mounts fresh tmpfs on ``/tmp`` and ``/dev/shm`` (the sizes of the
  sandbox's, ``grader.course.sandbox.bubblewrap``; read-only folders the sandbox bound below ``/tmp`` are bound
  again on top), and I mounts a ``/proc`` of the job's own pid namespace: a job sees its own files and
  processes only, whatever runs beside it, and they all go with its mount namespace;
* System V IPC objects and POSIX message queues live in the job's IPC namespace and go with it;
* the init I forwards SIGINT (the cell's time limit: KeyboardInterrupt in S) and reaps orphans; when S ends,
  I hands S's wait status to K through a pipe and exits, and the kernel kills whatever is left in the
  namespace (the init's exit waits until every process of it is gone).  K ends the same way as S did (the
  same exit status or the same signal), so the executor's messages (CPU time, memory, segfault, killed by a
  signal) read as before.  An init ignores signals it has no handler for, so student code never runs as
  pid 1 (a SIGXCPU from RLIMIT_CPU would be lost);
* I dies with K (parent-death signal, checked against K's pidfd for the race at fork), so killing K, as the
  executor does at a time limit, ends the job; ``init_of`` names I to the executor, which waits for its end.

The sandbox's seccomp filter lets exactly this ``unshare`` and ``mount`` through (``grader.course.sandbox.seccomp``);
S installs the full filter (``unshare`` and ``mount`` included) and drops every capability before any student
code runs (``lock_down``).  Where the kernel refuses the namespaces or the mounts, ``probe`` says why (once per
executor) and the job runs as one process, one job per executor, as before.
"""

from __future__ import annotations

import ctypes
import os
import resource
import select
import signal
import struct
from typing import Any

from grader.course.sandbox import sandboxprocs, seccomp
from grader.course.sandbox.bubblewrap import SHM_SIZE, TMP_SIZE   # imported here, once: not in every job

__all__ = ["probe", "enter", "lock_down", "init_of", "JOB_NAMESPACES"]

JOB_NAMESPACES = seccomp.JOB_NAMESPACES   # CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 8, 4096, 1 << 14, 1 << 18
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_CAP_VERSION_3 = 0x20080522
_STATUS = struct.Struct("=i")

_libc = ctypes.CDLL(None, use_errno=True)
_STRICT = seccomp.program()   # the job's own filter, built once in the executor
_forward_to = [0]      # the process SIGINT is passed on to (K: I; I: S)


def _prctl(option: int, value: int) -> int:
    ulong = ctypes.c_ulong
    return _libc.prctl(ctypes.c_int(option), ulong(value), ulong(0), ulong(0), ulong(0))


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _unshare() -> str | None:
    """Enter new user, pid (for children) and IPC namespaces, mapping our own uid and gid; None or why not.

    After a successful ``unshare`` a failure to write the maps raises OSError: this process is then in a
    namespace where it owns no file, and must not run a job."""
    if _libc.unshare(ctypes.c_int(JOB_NAMESPACES)) != 0:
        err = ctypes.get_errno()
        return f"the kernel refused new user, pid, IPC and mount namespaces ({os.strerror(err)})"
    uid, gid = os.getuid(), os.getgid()
    _prctl(_PR_SET_DUMPABLE, 1)   # /proc/self/*_map belong to root while the process is not dumpable
    try:
        try:
            _write("/proc/self/setgroups", "deny")
        except FileNotFoundError:
            pass
        _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
        _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
    finally:
        _prctl(_PR_SET_DUMPABLE, 0)
    return None


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                   data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _mounts_below(folder: str) -> list[str]:
    """The outermost mount points strictly below ``folder`` (read-only binds of the sandbox)."""
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 4:
                point = fields[4].encode().decode("unicode_escape")
                if point.startswith(folder + "/"):
                    points.append(point)
    points.sort(key=len)
    outer: list[str] = []
    for point in points:
        if not any(point.startswith(o + "/") for o in outer):
            outer.append(point)
    return outer


def _private_files() -> None:
    """In K, just after ``_unshare``: private mounts, and the job's own /tmp and /dev/shm (OSError if refused)."""
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    below = _mounts_below("/tmp")
    old_tmp = os.open("/tmp", os.O_PATH | os.O_DIRECTORY) if below else -1
    try:
        _mount("tmpfs", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={TMP_SIZE},mode=1777")
        for point in below:   # a Python environment below /tmp: bound again, read-only as it was
            rel = point[len("/tmp/"):]
            if os.path.isdir(f"/proc/self/fd/{old_tmp}/{rel}"):
                os.makedirs(point, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(point), exist_ok=True)
                open(point, "w").close()
            _mount(f"/proc/self/fd/{old_tmp}/{rel}", point, None, _MS_BIND | _MS_REC)
    finally:
        if old_tmp >= 0:
            os.close(old_tmp)
    _mount("tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={SHM_SIZE},mode=1777")


def _own_proc() -> None:
    """In I (pid 1 of the job's pid namespace): a /proc that shows this namespace's processes only."""
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)


def _drop_capabilities() -> None:
    """No capability left, not even in the job's own user namespace (bounding set, then capset to zero)."""
    for cap in range(64):
        if _prctl(_PR_CAPBSET_DROP, cap) != 0 and ctypes.get_errno() == 22:   # EINVAL: past the last one
            break
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if _libc.capset(header, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def probe() -> str | None:
    """None when jobs can have their own namespaces here; else why not (one sentence).  Run once by the executor,
    in a forked process."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - reported through the pipe
        code = 1
        try:
            os.close(r)
            why = _unshare()
            if why is None:
                _private_files()
                child = os.fork()
                if child == 0:
                    try:
                        _own_proc()
                        os._exit(0 if os.getpid() == 1 and os.listdir("/proc").count("1") == 1 else 1)
                    except BaseException:
                        os._exit(2)
                _, status = os.waitpid(child, 0)
                ended = os.waitstatus_to_exitcode(status)
                why = (None if ended == 0 else "the job's pid namespace did not start" if ended == 1 else
                       "the job's own /proc could not be mounted (the sandbox's /proc is not fully visible)")
            if why is None:
                _drop_capabilities()
                code = 0
            else:
                os.write(w, why.encode())
        except BaseException as exc:
            try:
                os.write(w, f"setting up the job's namespaces failed ({exc})".encode())
            except BaseException:
                pass
        os._exit(code)
    os.close(w)
    try:
        message = b""
        while chunk := os.read(r, 4096):
            message += chunk
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0 and not message:
        return None
    return message.decode("utf-8", "replace") or f"the probe of the job's namespaces ended with status {status}"


def _on_sigint(signum: int, frame: Any) -> None:
    if _forward_to[0] > 0:
        try:
            os.kill(_forward_to[0], signal.SIGINT)
        except OSError:
            pass


def _end_like(status: int) -> None:
    """End this process the way the job's process ended (never returns)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if sig not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
            os.kill(os.getpid(), sig)
        except (OSError, ValueError):
            pass
        os._exit(128 + sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _keeper(init: int, status_fd: int) -> None:
    """K: wait for the namespace's init, then end as the job's process did."""
    _forward_to[0] = init
    while True:
        try:
            _, init_status = os.waitpid(init, 0)
            break
        except ChildProcessError:
            init_status = 9
            break
    data = b""
    try:
        os.set_blocking(status_fd, False)
        data = os.read(status_fd, _STATUS.size)
    except OSError:
        pass
    _end_like(_STATUS.unpack(data)[0] if len(data) == _STATUS.size else init_status)


def _init(job: int, status_fd: int) -> None:
    """I, pid 1 of the job's namespace: reap every orphan until the job's process ends, report its status."""
    _forward_to[0] = job
    status = 9  # killed, if the job's process cannot be waited for
    while True:
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == job:
            status = st
            break
    try:
        os.write(status_fd, _STATUS.pack(status))
    except OSError:
        pass
    os._exit(0)   # the kernel kills every other process of the namespace


def enter(close_in_keepers: list[int]) -> bool:
    """In the job's forked process: make the keeper, the init and the job's process; returns in the job's
    process only (True), or at once in this same process (False) when the namespaces could not be made.

    ``close_in_keepers``: descriptors of the job (its files, the timing pipe) the keeper and the init close.
    A failure after ``unshare`` (the mounts) raises OSError: this process must then not run the job."""
    if _unshare() is not None:
        return False
    _private_files()
    signal.signal(signal.SIGINT, _on_sigint)
    keeper = os.pidfd_open(os.getpid())
    r, w = os.pipe()
    init = os.fork()
    if init != 0:
        os.close(w)
        os.close(keeper)
        for fd in close_in_keepers:
            os.close(fd)
        _drop_capabilities()
        _keeper(init, r)
    os.close(r)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)   # the keeper killed at a time limit takes the namespace along
    if select.select([keeper], [], [], 0)[0]:    # ... or already was, before the line above
        os._exit(1)
    os.close(keeper)
    try:
        _own_proc()
    except OSError:
        os.write(w, _STATUS.pack(4 << 8))   # the job's process "exited with status 4": a failure of ours
        os._exit(1)
    _drop_capabilities()
    os.setsid()
    job = os.fork()
    if job != 0:
        for fd in close_in_keepers:
            os.close(fd)
        _init(job, w)
    os.close(w)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return True


def lock_down() -> None:
    """In the job's process, just before student code: no capability, and the full seccomp filter
    (``unshare``, ``setns``, mounts ... refused) on top of the sandbox's."""
    _drop_capabilities()
    prog = _STRICT
    if prog is not None:
        seccomp.install(prog)


def init_of(job_pid: int) -> int | None:
    """The init I of a job whose process the executor forked as ``job_pid`` (K), or None (not yet made, the job
    has no namespaces of its own, or K is gone).  K's only child is I, whatever the job does: K's children list
    is ours to trust."""
    kids = sandboxprocs.children(job_pid)
    if len(kids) != 1:
        return None
    levels = sandboxprocs.nspid(kids[0])
    return kids[0] if len(levels) >= 2 and levels[-1] == 1 else None
