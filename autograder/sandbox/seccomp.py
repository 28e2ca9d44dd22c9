"""seccomp-BPF: refuse the system calls a worker never needs, for good (x86_64).

Why raw BPF through ctypes rather than a binding: the filter is about forty instructions, fixed,
and a Python binding of libseccomp (pyseccomp and kin) would add a dependency on a C library that
minimal images may lack and on a package that is not pinned here, to write the same program. The
filter checks the architecture first (any other ABI, e.g. 32-bit calls through ``int 0x80``, kills
the process; x32 numbers are refused) and then answers:

- ``socket()``: allowed for ``AF_UNIX`` only; every other family (IPv4, IPv6, packet, netlink...)
  gets ``EACCES``, so a TCP or UDP socket cannot even be created;
- process creation (``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``) and ``execve``/
  ``execveat``: ``EPERM`` (no fork bombs, whatever the uid: root ignores ``RLIMIT_NPROC``);
  threads stay allowed; ``clone`` with a namespace flag: ``EPERM``; ``clone3`` (whose flags a filter
  cannot read): ``ENOSYS``, so the C library falls back to ``clone``;
- ``ptrace``, ``process_vm_readv``/``writev``, ``mount`` and the new mount API, ``umount2``,
  ``pivot_root``, ``chroot``, ``unshare``, ``setns``, ``bpf``, ``perf_event_open``, ``keyctl``,
  ``add_key``, ``request_key``, ``io_uring_*`` (it could open sockets past this filter), module and
  kexec loading, ``open_by_handle_at``, ``userfaultfd``: ``EPERM``;
- everything else: allowed.

Errors, never a kill, for what Python code may try: the student sees an ``OSError`` and grading
goes on. Installed with ``SECCOMP_FILTER_FLAG_TSYNC`` (every thread) after ``no_new_privs``.
Standard library only: the worker bootstrap carries this source.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
from typing import Dict, List, Tuple

AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000
SYS_SECCOMP_X86_64 = 317
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
SECCOMP_FILTER_FLAG_TSYNC = 1
PR_SET_NO_NEW_PRIVS = 38
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
LD_W_ABS, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
AF_UNIX = 1
CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

X86_64 = {  # arch/x86/entry/syscalls/syscall_64.tbl
    "socket": 41, "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "ptrace": 101, "pivot_root": 155,
    "chroot": 161, "mount": 165, "umount2": 166, "init_module": 175, "delete_module": 176, "kexec_load": 246,
    "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
    "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
    "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "execveat": 322, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435, "mount_setattr": 442,
}
REFUSED = tuple(name for name in X86_64 if name not in ("socket", "clone", "clone3"))

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class SeccompError(OSError):
    """seccomp is missing, or the filter could not be installed (the message says which)."""


def supported() -> Tuple[bool, str]:
    """Whether this machine can take the filter, and why not (a query: installs nothing)."""
    if platform.system() != "Linux":
        return False, f"seccomp needs Linux (this is {platform.system()})"
    if platform.machine() != "x86_64":
        return False, f"the filter is written for x86_64 system calls (this is {platform.machine()})"
    action = ctypes.c_uint32(RET_ERRNO)
    if _libc.syscall(SYS_SECCOMP_X86_64, SECCOMP_GET_ACTION_AVAIL, 0, ctypes.byref(action)) != 0:
        return False, f"the kernel has no seccomp filters ({os.strerror(ctypes.get_errno())})"
    return True, ""


def program() -> List[Tuple[int, int, int, int]]:
    """The filter as ``(code, jt, jf, k)`` instructions (labels resolved)."""
    ops: List[tuple] = []  # (code, jt label or offset, jf label or offset, k) or ("label", name)

    def jump(code: int, k: int, jt: object = 0, jf: object = 0) -> None:
        ops.append((code, jt, jf, k))

    jump(LD_W_ABS, 4)  # seccomp_data.arch
    jump(JEQ, AUDIT_ARCH_X86_64, 1, 0)
    jump(RET, RET_KILL_PROCESS)
    jump(LD_W_ABS, 0)  # seccomp_data.nr
    jump(JSET, X32_BIT, "eperm")
    jump(JEQ, X86_64["socket"], "socket")
    jump(JEQ, X86_64["clone"], "clone")
    jump(JEQ, X86_64["clone3"], "enosys")
    for name in REFUSED:
        jump(JEQ, X86_64[name], "eperm")
    jump(RET, RET_ALLOW)
    ops.append(("label", "socket"))
    jump(LD_W_ABS, 16)  # args[0] (domain), low 32 bits (little endian)
    jump(JEQ, AF_UNIX, "allow", "eacces")
    ops.append(("label", "clone"))
    jump(LD_W_ABS, 16)  # args[0] (flags), low 32 bits: every flag that matters is there
    jump(JSET, CLONE_NAMESPACES, "eperm")
    jump(JSET, CLONE_THREAD, "allow", "eperm")
    for label, code in (("eperm", errno.EPERM), ("eacces", errno.EACCES), ("enosys", errno.ENOSYS)):
        ops.append(("label", label))
        jump(RET, RET_ERRNO | code)
    ops.append(("label", "allow"))  # BPF jumps only forward: the blocks above reach this one
    jump(RET, RET_ALLOW)
    labels: Dict[str, int] = {}
    position = 0
    for op in ops:
        if op[0] == "label":
            labels[op[1]] = position
        else:
            position += 1
    out: List[Tuple[int, int, int, int]] = []
    for op in ops:
        if op[0] == "label":
            continue
        code, jt, jf, k = op
        here = len(out) + 1  # BPF jumps count from the next instruction
        jt = labels[jt] - here if isinstance(jt, str) else jt
        jf = labels[jf] - here if isinstance(jf, str) else jf
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError(f"BPF jump out of range at instruction {len(out)}")
        out.append((code, jt, jf, k))
    return out


def install() -> Dict[str, object]:
    """Install the filter on every thread of this process, for good; what it refuses."""
    ok, why = supported()
    if not ok:
        raise SeccompError(0, f"seccomp: {why}")
    instructions = program()
    raw = b"".join(struct.pack("<HBBI", *ins) for ins in instructions)
    buffer = ctypes.create_string_buffer(raw, len(raw))
    prog = struct.pack("<HxxxxxxQ", len(instructions), ctypes.addressof(buffer))  # struct sock_fprog
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SeccompError(ctypes.get_errno(), f"seccomp: prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}")
    if _libc.syscall(SYS_SECCOMP_X86_64, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog) != 0:
        raise SeccompError(ctypes.get_errno(), f"seccomp: installing the filter failed: {os.strerror(ctypes.get_errno())}")
    return {"refused": ["socket (all but AF_UNIX)", "new processes", *REFUSED]}
