"""What runs in a worker's child process between fork and exec (both backends): its own session,
optionally another identity, then the rlimits of :class:`~autograder.sandbox.limits.Limits`."""
from __future__ import annotations

import os
import resource
import sys
from typing import Callable, Optional

from autograder.sandbox.limits import Limits


def user_tasks(uid: int) -> int:
    """Processes and threads that ``uid`` runs now (RLIMIT_NPROC counts them all)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


def nproc_limit(limits: Limits, uid: int) -> int:
    """RLIMIT_NPROC value (a count of tasks) for a worker that will run as ``uid``.

    The kernel counts every task of the uid against the limit, so the tasks it runs already are
    added: otherwise one student's fork bomb in a parallel grade-all (all root-started workers share
    the sandbox uid) would keep the next student's worker from starting at all.
    """
    if not sys.platform.startswith("linux"):
        return limits.processes
    return limits.processes + user_tasks(uid)


def setup(limits: Limits, nproc: int, become: Optional[Callable[[], None]] = None) -> None:
    """Runs in the child between fork and exec: own session, ``become()`` (another uid), then rlimits.

    ``nproc`` is :func:`nproc_limit`'s value, computed in the parent. The address-space limit comes
    last, with nothing but the return to exec after it: the child is a copy of the grader, whose
    address space may already be larger than the limit (a grader that has loaded much, or runs many
    threads). Past RLIMIT_AS nothing may grow, not even the stack, and a stack that cannot grow ends
    the child with SIGSEGV before it ever runs the worker.
    """
    os.setsid()
    if become is not None:
        become()
    for name, value in (
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_NPROC, nproc),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_AS, limits.memory_bytes),
    ):
        _, hard = resource.getrlimit(name)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(name, (value, value))
