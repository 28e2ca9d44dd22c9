"""The unprivileged identity a worker runs as, and how a child process takes it for good.

Shared by both backends: bubblewrap uses the uid inside its sandbox (and, when the grader is root,
starts bwrap itself as that uid); process mode drops a root grader's worker to it
(:mod:`autograder.sandbox.drop`).
"""
from __future__ import annotations

import os

SANDBOX_UID = 65534  # "nobody": used inside the sandbox, and outside too when the grader is root
SANDBOX_GID = 65534


def become(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good, with no supplementary groups (call in a child process)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
