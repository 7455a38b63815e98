"""A seccomp filter for the sandbox: system calls a notebook never needs fail with EPERM.

Defence in depth on top of the namespaces (``grader.course.sandbox.bubblewrap``): no ptrace or cross-process
memory access, no kernel keyrings (shared by every process of a user outside a user namespace, so a
channel between sandboxes), no new namespaces or mounts, no BPF, perf events, userfaultfd, io_uring,
kernel modules, kexec, swap, reboot.  ``clone`` with a namespace flag fails with EPERM and ``clone3``
with ENOSYS, so the C library falls back to ``clone`` (threads and subprocesses keep working).

Two filters, stacked (the kernel applies every filter a process has, the strictest answer wins):

* the sandbox's, handed to bubblewrap: everything above, except that ``unshare`` with exactly
  ``JOB_NAMESPACES`` (a new user, pid, IPC and mount namespace; the flags argument is checked, its upper
  half too) and ``mount`` are let through, so that each job can enter its own namespaces and mount its own
  ``/tmp``, ``/dev/shm`` and ``/proc`` there (``grader.course.sandbox.jobns``).  ``mount`` needs a
  capability that only the job's own set-up has (in the job's fresh user namespace): the executor has none;
* the job's, installed by the job's own process before any student code runs (``install``): the full list,
  ``unshare`` included, so nothing the student runs can make a namespace.

The program is classic BPF, built here (no libseccomp needed) and handed to bubblewrap's
``--seccomp FD``.  Only x86-64 has a table; elsewhere ``program()`` returns None and the sandbox runs
without the filter.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

__all__ = ["program", "install", "BLOCKED_X86_64", "JOB_NAMESPACES"]

# struct sock_filter: u16 code, u8 jt, u8 jf, u32 k
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EPERM, _ENOSYS = 1, 38
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_CLONE_NAMESPACES = 0x7E020000  # NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
JOB_NAMESPACES = 0x38020000     # CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS: a job's own namespaces

BLOCKED_X86_64 = {
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "add_key": 248, "request_key": 249, "keyctl": 250,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320,
    "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163, "quotactl": 179, "syslog": 103,
    "lookup_dcookie": 212, "vhangup": 153, "personality": 135,
}
_CLONE, _CLONE3 = 56, 435


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(job_namespaces: bool = False) -> bytes | None:
    """The filter as bytes (for ``bwrap --seccomp FD`` or ``install``), or None on a machine without a table.

    ``job_namespaces``: the sandbox's filter, which lets ``unshare(JOB_NAMESPACES)`` through and nothing else
    of ``unshare``, and lets ``mount`` through."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    deny = _ins(_RET_K, _RET_ERRNO | _EPERM)
    allow = _ins(_RET_K, _RET_ALLOW)
    out = [
        _ins(_LD_W_ABS, 4),                       # arch
        _ins(_JEQ_K, _AUDIT_ARCH_X86_64, 1, 0),
        deny,                                     # another ABI (i386 via int 0x80): nothing allowed
        _ins(_LD_W_ABS, 0),                       # syscall number
        _ins(_JGE_K, _X32_BIT, 0, 1),
        deny,                                     # x32 system calls
    ]
    if job_namespaces:
        out += [
            _ins(_JEQ_K, BLOCKED_X86_64["unshare"], 0, 6),
            _ins(_LD_W_ABS, 16),                  # unshare's flags, low 32 bits
            _ins(_JEQ_K, JOB_NAMESPACES, 0, 2),
            _ins(_LD_W_ABS, 20),                  # and the high 32 bits: zero
            _ins(_JEQ_K, 0, 1, 0),
            deny,
            allow,
        ]
    blocked = dict(BLOCKED_X86_64)
    if job_namespaces:
        del blocked["mount"]   # the job's own /tmp, /dev/shm and /proc, mounted before its filter is installed
    for nr in sorted(blocked.values()):
        out += [_ins(_JEQ_K, nr, 0, 1), deny]
    out += [
        _ins(_JEQ_K, _CLONE3, 0, 1), _ins(_RET_K, _RET_ERRNO | _ENOSYS),
        _ins(_JEQ_K, _CLONE, 0, 3),
        _ins(_LD_W_ABS, 16),                      # clone's flags (low 32 bits of args[0])
        _ins(_JSET_K, _CLONE_NAMESPACES, 0, 1),
        deny,
        allow,
    ]
    return b"".join(out)


_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(prog: bytes) -> None:
    """Install ``prog`` on this process (and everything it starts from now on); OSError if the kernel refuses.

    ``no_new_privs`` is set first (bubblewrap and setpriv set it already; the kernel requires it of a process
    without CAP_SYS_ADMIN)."""
    libc = ctypes.CDLL(None, use_errno=True)
    ulong = ctypes.c_ulong
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, ulong(1), ulong(0), ulong(0), ulong(0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"no_new_privs: {os.strerror(err)}")
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = _SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(_PR_SET_SECCOMP, ulong(_SECCOMP_MODE_FILTER), ctypes.byref(fprog), ulong(0), ulong(0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {os.strerror(err)}")
