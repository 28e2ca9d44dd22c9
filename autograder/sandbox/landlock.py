"""Landlock (Linux >= 5.13): limit which files the calling process may read and write, for good.

Why a ctypes layer of our own: Landlock has no stable, maintained Python binding, and its whole
interface is three system calls (``landlock_create_ruleset``, ``landlock_add_rule``,
``landlock_restrict_self``, numbers 444-446 on every architecture) and two small C structs. It
needs no privilege, works as root and inside Docker, and needs no namespaces.

:func:`restrict` builds a ruleset that handles every access right the kernel's ABI knows, allows
``read`` paths (read files, list directories, execute) and ``write`` paths (everything), and
applies it to the calling thread and every process it starts later. From ABI 4 on, TCP bind and
connect are handled with no port allowed; from ABI 6 on, signals and abstract unix sockets are
scoped (no signal to, no connection with, a process outside the sandbox).

Standard library only: the worker bootstrap (:mod:`autograder.worker.program`) carries this source.
"""
from __future__ import annotations

import ctypes
import os
import struct
from typing import Dict, Iterable, List, Tuple

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2
PR_SET_NO_NEW_PRIVS = 38

# include/uapi/linux/landlock.h: filesystem rights, and the ABI that introduced each
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # all a rule on a non-directory may hold
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockError(OSError):
    """Landlock is missing or refused a step (the message names the step)."""


def abi() -> int:
    """The Landlock ABI version this kernel offers; 0 when it has none (or it is disabled)."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return 0
    version = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(version), 0)


def handled_fs(version: int) -> int:
    """Every filesystem right ABI ``version`` can restrict."""
    return FS_BY_ABI[max(k for k in FS_BY_ABI if k <= version)]


def _check(result: int, step: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise LandlockError(errno, f"landlock: {step} failed: {os.strerror(errno)}")
    return result


def restrict(read: Iterable[str], write: Iterable[str], version: int, listed: Iterable[str] = ()) -> Dict[str, object]:
    """Allow only ``read`` (and below) for reading, ``listed`` for listing, and ``write`` (and below)
    for everything; for good.

    Paths that do not exist are skipped. Returns what was applied: ``{"abi", "read", "write",
    "network": bool, "scoped": bool}``. Raises :class:`LandlockError` when a step fails (nothing
    is half applied: the restriction is the last step).
    """
    if version < 1:
        raise LandlockError(0, "landlock: this kernel offers no Landlock ABI")
    fs = handled_fs(version)
    net = NET_BIND_TCP | NET_CONNECT_TCP if version >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if version >= 6 else 0
    attr = struct.pack("<QQQ", fs, net, scoped)  # larger than an old kernel's struct: its tail is zero
    ruleset = _check(_libc.syscall(SYS_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)),
                     "create_ruleset")
    applied: Dict[str, List[str]] = {"read": [], "listed": [], "write": []}
    try:
        rules: List[Tuple[str, int, str]] = [(p, READ_FILE | READ_DIR | EXECUTE, "read") for p in read]
        rules += [(p, READ_DIR, "listed") for p in listed]
        rules += [(p, fs, "write") for p in write]
        for path, rights, kind in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # not there (e.g. /lib64 on some systems): nothing to allow
            try:
                if not os.path.isdir(path):
                    rights &= FILE_RIGHTS
                rule = struct.pack("<Qi", rights & fs, fd)  # struct landlock_path_beneath_attr is packed
                _check(_libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), rule,
                                     ctypes.c_uint32(0)), f"add_rule({path})")
            finally:
                os.close(fd)
            applied[kind].append(path)
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(_libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "restrict_self")
    finally:
        os.close(ruleset)
    return {"abi": version, "read": applied["read"], "listed": applied["listed"], "write": applied["write"], "network": bool(net),
            "scoped": bool(scoped)}
