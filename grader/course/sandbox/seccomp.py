"""A seccomp filter for the sandbox: system calls a notebook never needs fail with EPERM.

Defence in depth on top of the namespaces (``grader.course.sandbox.bubblewrap``): no ptrace or cross-process
memory access, no kernel keyrings (shared by every process of a user outside a user namespace, so a
channel between sandboxes), no new namespaces or mounts, no BPF, perf events, userfaultfd, io_uring,
kernel modules, kexec, swap, reboot.  ``clone`` with a namespace flag fails with EPERM and ``clone3``
with ENOSYS, so the C library falls back to ``clone`` (threads and subprocesses keep working).

The program is classic BPF, built here (no libseccomp needed) and handed to bubblewrap's
``--seccomp FD``.  Only x86-64 has a table; elsewhere ``program()`` returns None and the sandbox runs
without the filter.
"""

from __future__ import annotations

import platform
import struct

__all__ = ["program", "BLOCKED_X86_64"]

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


def program() -> bytes | None:
    """The filter as bytes for ``bwrap --seccomp FD``, or None on a machine without a table."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    deny = _ins(_RET_K, _RET_ERRNO | _EPERM)
    out = [
        _ins(_LD_W_ABS, 4),                       # arch
        _ins(_JEQ_K, _AUDIT_ARCH_X86_64, 1, 0),
        deny,                                     # another ABI (i386 via int 0x80): nothing allowed
        _ins(_LD_W_ABS, 0),                       # syscall number
        _ins(_JGE_K, _X32_BIT, 0, 1),
        deny,                                     # x32 system calls
    ]
    for nr in sorted(BLOCKED_X86_64.values()):
        out += [_ins(_JEQ_K, nr, 0, 1), deny]
    out += [
        _ins(_JEQ_K, _CLONE3, 0, 1), _ins(_RET_K, _RET_ERRNO | _ENOSYS),
        _ins(_JEQ_K, _CLONE, 0, 3),
        _ins(_LD_W_ABS, 16),                      # clone's flags (low 32 bits of args[0])
        _ins(_JSET_K, _CLONE_NAMESPACES, 0, 1),
        deny,
        _ins(_RET_K, _RET_ALLOW),
    ]
    return b"".join(out)
