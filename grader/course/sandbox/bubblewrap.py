"""The sandbox a submission's code runs in: bubblewrap around a warm executor process.

What the sandboxed process sees and may do (issue 10, point 3):

* the read-only Python environment (the interpreter's prefixes, the site-packages on ``sys.path``,
  the ``grader`` package folder alone, ``/usr`` and a few files of ``/etc``), a private ``/proc``
  of its own pid namespace, a minimal ``/dev``, and two private tmpfs (``/tmp`` and ``/dev/shm``)
  where each job writes its copy of the submission.  Not the course folder, keys, solutions,
  gradebook, other submissions, or any kernel's connection file;
* no network (a net namespace holding only a loopback device), its own IPC and UTS namespaces;
* an unprivileged user, and bubblewrap itself never privileged: bubblewrap always runs in a user
  namespace of its own.  When the grader runs as root, a small root stage (``_STAGE``) first enters a
  private mount namespace where the Python environment's folders are bound below a folder every user may
  cross (``/mnt``, ...: the environment may live below ``/root``), then ``setpriv`` drops to uid/gid
  65534 with no capabilities and ``no_new_privs`` and starts bubblewrap; otherwise bubblewrap runs as the
  calling user.  An unprivileged bubblewrap leaves ``/proc`` fully visible (no read-only covers), which
  lets each job mount a ``/proc`` of its own pid namespace (``grader.course.sandbox.jobns``);
* ``--die-with-parent`` and a pid namespace: when the executor goes, every process in it goes;
* a seccomp filter (``grader.course.sandbox.seccomp``): no ptrace, keyrings, mounts, new namespaces, BPF.

Per-job limits (memory, CPU, processes, file size, time) are applied by the executor process
(``grader.course.sandbox.zygote``) to each job's child.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["sandbox_available", "sandbox_prerequisites", "sandbox_command", "executor_env", "passwd_fds", "import_path", "python_paths",
           "NOBODY", "TMP_SIZE", "SHM_SIZE", "SECCOMP"]

NOBODY = 65534
SECCOMP = "seccomp"       # key of the filter's descriptor in ``passwd_fds()``
TMP_SIZE = 512 << 20      # bytes of the private /tmp (the job's files, HOME, caches)
SHM_SIZE = 64 << 20
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts", "/etc/localtime",
    "/etc/nsswitch.conf", "/etc/mime.types", "/etc/alternatives",
)
_PASSWD = "root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp/home:/usr/sbin/nologin\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"


def executor_env() -> dict[str, str]:
    """The whole environment of the executor: nothing of the grader's (no key paths, no tokens)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp/home",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/home/.config/matplotlib",
        "IPYTHONDIR": "/tmp/home/.ipython",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
    }


def _grader_package_dir() -> Path:
    """The folder of the installed ``grader`` package (this file is grader/course/sandbox/bubblewrap.py)."""
    return Path(__file__).resolve().parents[2]


def python_paths() -> list[str]:
    """Folders of the Python environment the executor needs, read-only (never a project root)."""
    paths: list[str] = []
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        paths.append(os.path.realpath(p))
        paths.append(os.path.abspath(p))
    for entry in sys.path:
        if not entry:
            continue
        real = os.path.realpath(entry)
        base = os.path.basename(real)
        if base in ("site-packages", "dist-packages") or real.endswith((".zip", "lib-dynload")):
            if os.path.exists(real):
                paths.append(real)
    paths.append(str(_grader_package_dir()))
    out: list[str] = []
    for p in sorted(set(paths), key=len):
        if p.startswith("/usr/") or p == "/usr":
            continue
        if any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            continue
        if os.path.exists(p):
            out.append(p)
    return out


def import_path(sandboxed: bool) -> list[str]:
    """``sys.path`` for the executor: this process's, limited in the sandbox to read-only bound folders.

    Never a writable folder of the sandbox (a job could plant a module there for the next one), and
    always the folder holding the ``grader`` package (in the sandbox it holds nothing else readable).
    """
    grader_parent = str(_grader_package_dir().parent)
    paths = [p for p in sys.path if p and os.path.isabs(p)]
    if sandboxed:
        bound = python_paths()
        paths = [p for p in paths if any(p == b or p.startswith(b.rstrip("/") + "/") for b in bound)]
    if grader_parent not in paths:
        paths.append(grader_parent)
    return paths


def _dirs_for(path: str, made: set[str]) -> list[str]:
    """``--dir`` arguments (mode 0755) for every missing ancestor of ``path`` inside the sandbox.

    bubblewrap would otherwise copy the host's modes (``/root`` is 0700), and the unprivileged
    user could not reach the Python environment below it.
    """
    args: list[str] = []
    parts = Path(path).parts[1:-1]
    cur = ""
    for part in parts:
        cur = f"{cur}/{part}"
        if cur in made or cur in ("/usr", "/tmp", "/etc"):
            continue
        made.add(cur)
        args += ["--perms", "0755", "--dir", cur]
    return args


def sandbox_command(argv: Sequence[str], *, data_fds: dict[str, int] | None = None) -> list[str]:
    """The command that runs ``argv`` (an executable already on a bound path) in the sandbox.

    ``data_fds`` maps a destination file in the sandbox to an fd whose content bubblewrap copies
    there (``/etc/passwd`` and ``/etc/group``); the caller passes those fds to the process.
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    root = os.geteuid() == 0
    args = []
    staged: dict[str, str] = {}
    if root:
        stage = _stage_folder()
        staged = {path: f"{stage}/{i}" for i, path in enumerate(python_paths())}
        setpriv = shutil.which("setpriv") or "setpriv"
        args += [sys.executable, "-I", "-S", "-c", _STAGE, json.dumps({"stage": stage, "binds": staged}),
                 setpriv, "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups",
                 "--bounding-set", "-all", "--inh-caps", "-all", "--no-new-privs", bwrap,
                 "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    else:
        args += [bwrap, "--unshare-user", "--uid", str(os.getuid()), "--gid", str(os.getgid())]
    args += [
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
    ]
    for link in _SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    args += ["--perms", "0755", "--dir", "/etc"]
    for item in _ETC_FILES:
        if os.path.exists(item):
            args += ["--ro-bind", item, item]
    for dest, fd in (data_fds or {}).items():
        if dest == SECCOMP:
            args += ["--seccomp", str(fd)]
        else:
            args += ["--perms", "0644", "--ro-bind-data", str(fd), dest]
    # the private /tmp first: a Python environment that lives below /tmp is bound on top of it
    args += ["--perms", "1777", "--size", str(TMP_SIZE), "--tmpfs", "/tmp"]
    made: set[str] = set()
    for path in python_paths():
        args += _dirs_for(path, made)
        args += ["--ro-bind", staged.get(path, path), path]
    args += [
        "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", str(SHM_SIZE), "--tmpfs", "/dev/shm",
        "--mqueue", "/dev/mqueue",   # the IPC namespace's POSIX message queues, visible so they can be wiped
        "--remount-ro", "/dev", "--remount-ro", "/",
        "--chdir", "/tmp", "--clearenv",
    ]
    env = executor_env()
    if os.environ.get("CALCGRADE_EXECUTOR_DEBUG"):
        env["CALCGRADE_EXECUTOR_DEBUG"] = "1"
    for k, v in env.items():
        args += ["--setenv", k, v]
    args.append("--")
    return args + list(argv)


# The root stage (run as root, before anything of the sandbox): a private mount namespace where each folder of
# the Python environment is bound below a fresh tmpfs (mode 0755), so that bubblewrap, started unprivileged next,
# can reach folders whose parents only root may cross.  Nothing else changes in it; it ends by exec.
_STAGE = r"""
import ctypes, json, os, sys
plan = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
def check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        sys.stderr.write(f"calcgrade sandbox stage: {what}: {os.strerror(err)}\n")
        sys.exit(1)
check(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
check(libc.mount(b"none", b"/", None, (1 << 14) | (1 << 18), None), "making the mounts private")
check(libc.mount(b"tmpfs", plan["stage"].encode(), b"tmpfs", 2 | 4 | 8, b"mode=0755,size=64k"), "the stage's tmpfs")
for src, dst in plan["binds"].items():
    if os.path.isdir(src):
        os.mkdir(dst, 0o755)
    else:
        open(dst, "w").close()
    check(libc.mount(src.encode(), dst.encode(), None, 4096 | (1 << 14), None), f"binding {src}")
os.execv(sys.argv[2], sys.argv[2:])
"""


def _stage_folder() -> str:
    """A folder that exists, below which nothing of the Python environment lives (the root stage's tmpfs
    covers it in the stage's own mount namespace only)."""
    paths = python_paths()
    for folder in ("/mnt", "/media", "/srv", "/run", "/opt", "/var/tmp"):
        if os.path.isdir(folder) and not os.path.islink(folder) and not any(
                p == folder or p.startswith(folder + "/") for p in paths):
            return folder
    raise OSError("no folder found for the sandbox's root stage (/mnt, /media, /srv, /run, /opt, /var/tmp)")


def passwd_fds(files: dict[str, bytes] | None = None) -> dict[str, int]:
    """Descriptors bubblewrap reads at start: a minimal /etc/passwd and /etc/group (the unprivileged
    user has a name), the seccomp filter (``grader.course.sandbox.seccomp``) and ``files`` (read-only files of
    the sandbox below /etc, by their path there), keyed as ``sandbox_command`` expects.  The caller passes them
    to the process and closes them afterwards."""
    from grader.course.sandbox import seccomp

    items: list[tuple[str, bytes]] = [("/etc/passwd", _PASSWD.encode()), ("/etc/group", _GROUP.encode())]
    items += [(dest, data) for dest, data in (files or {}).items() if dest.startswith("/etc/") and ".." not in dest]
    prog = seccomp.program(job_namespaces=True)
    if prog is not None:
        items.append((SECCOMP, prog))
    fds = {}
    for dest, data in items:
        fd = os.memfd_create("calcgrade-sandbox")
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
        os.set_inheritable(fd, True)
        fds[dest] = fd
    return fds


def sandbox_prerequisites() -> tuple[bool, str]:
    """What ``sandbox_available`` checks without starting a process (the platform and the programs it needs):
    an executor pool checks this much, starts its executor at once and runs the full probe only to explain
    a failure, so that the probe's sandbox is not on the way of every run's warm-up."""
    if not sys.platform.startswith("linux"):
        return False, f"the sandbox needs Linux namespaces; this is {sys.platform} (grade with --no-sandbox at your own risk)"
    if shutil.which("bwrap") is None:
        return False, ("bubblewrap (`bwrap`) was not found on PATH: install it "
                       "(Debian/Ubuntu: apt-get install bubblewrap), or grade with --no-sandbox")
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return False, "the grader runs as root but `setpriv` (util-linux) was not found to drop privileges"
    return True, ""


@functools.lru_cache(maxsize=1)
def sandbox_available() -> tuple[bool, str]:
    """(True, "") when submissions can run isolated here; else (False, why, and what to do).  Starts a
    Python in a sandbox that imports what an executor needs and says which user it runs as."""
    ok, why = sandbox_prerequisites()
    if not ok:
        return ok, why
    fds = passwd_fds()
    try:
        probe = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); import numpy, grader.notebook.capture; "
                 "import os; print(os.getuid())")
        cmd = sandbox_command([sys.executable, "-I", "-c", probe, json.dumps(import_path(True))], data_fds=fds)
        proc = subprocess.run(cmd, pass_fds=list(fds.values()), capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap could not start a sandbox: {exc}"
    finally:
        for fd in fds.values():
            os.close(fd)
    if proc.returncode != 0 and "bwrap" not in proc.stderr and proc.stderr.strip():
        err = proc.stderr.strip().splitlines()[-1][:300]
        return False, (f"the Python environment cannot be used inside the sandbox ({err}); it must be readable "
                       "by every user when the grader runs as root")
    if proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["no message"])[-1][:300]
        return False, (f"bubblewrap could not create a sandbox here ({err}); user namespaces may be "
                       "disabled (sysctl kernel.unprivileged_userns_clone), or grade with --no-sandbox")
    if os.geteuid() == 0 and proc.stdout.strip() != str(NOBODY):
        return False, "the sandbox did not drop root privileges"
    return True, ""
