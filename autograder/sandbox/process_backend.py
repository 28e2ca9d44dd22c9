"""The process backend (``--sandbox process``): the worker as a plain child process, confined by the kernel.

For laptops (macOS) and machines without user namespaces (Gradescope's Docker). The worker runs in
its own session with rlimits (:mod:`autograder.sandbox.child`), a clean environment and a private
``TMPDIR``. On Linux it confines itself first with Landlock and seccomp
(:mod:`autograder.sandbox.confine`): only the runtime and the submission readable, only its
temporary folder writable, no network sockets, no new processes. Without them this mode hides
nothing, and :meth:`ProcessBackend.describe` says so.

When the grader is root the worker drops to uid 65534 before exec (:mod:`autograder.sandbox.drop`,
which serves this backend only): files only root may read stay hidden, root's processes cannot be
signalled, the process limit applies, and the submission is read from a private copy. If that uid
cannot run the Python runtime, the worker stays root, and :meth:`ProcessBackend.describe` (hence
the results) and a warning on stderr say so and how to fix it.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from autograder.sandbox import child, confine
from autograder.sandbox import drop as sandbox_drop
from autograder.sandbox.backend import Availability, Backend, Readiness, SandboxedProcess, remove_folders
from autograder.sandbox.environment import clean_environment, confinement_request
from autograder.sandbox.limits import Limits
from autograder.sandbox.submission_copy import copy_submission

DESCRIPTION = (
    "Sandbox: process. The submission ran in a separate process with a clean environment and limits on "
    "CPU time, memory and file size."
)
DROPPED = (
    "Sandbox: process, as an unprivileged user. The submission ran in a separate process as uid {uid} (the "
    "grader runs as root), with a clean environment and limits on CPU time, memory, processes and file size: "
    "it could not read files only root may read (the reference and hidden tests where they are kept that "
    "way) nor signal the grader."
)
UNHIDDEN = (" Without Landlock this mode does NOT hide files: the submission could read or change anything the "
            "grader's user can. Grade on a Linux kernel with Landlock, or with --sandbox bwrap, for results that count.")
OPEN_NETWORK = " Without seccomp (and Landlock ABI 4) this mode does NOT block the network."


class ProcessBackend(Backend):
    """A separate process with rlimits, kernel confinement, and a dropped uid under a root grader."""

    name = "process"
    label = "process mode"

    def available(self) -> Availability:
        """Always: what it can contain here is :meth:`describe`'s and :meth:`uncontained`'s to say."""
        return Availability(True)

    def describe(self) -> str:
        """Names the kernel protections the worker got and says plainly which are missing; as which
        user the worker ran and, when the grader is root and the worker could not drop privileges,
        why and how to fix it."""
        dropped, why = sandbox_drop.drop_status()
        text = DROPPED.format(uid=sandbox_drop.DROP_UID) if dropped else DESCRIPTION
        text = f"{text} {confine.describe()}".rstrip()
        works = set(confine.available())
        if "landlock" not in works:
            text += UNHIDDEN
        if "seccomp" not in works and not (confine.sandbox_landlock.abi() >= 4 and "landlock" in works):
            text += OPEN_NETWORK
        if sandbox_drop.grader_is_root() and not dropped:
            text += (" The grader ran as root and so did the submission, so it could also have killed or changed "
                     f"anything on this machine that Landlock and seccomp leave reachable: {why}. To fix: "
                     f"{sandbox_drop.FIX}.")
        return text

    def prepare(self) -> None:
        """Learn now whether workers can drop root (warns once on stderr if they would run as root)."""
        sandbox_drop.worker_identity()

    def uncontained(self) -> str:
        """Without Landlock and seccomp (macOS, Windows, old or locked-down kernels): why each is missing."""
        if confine.available():
            return ""
        return "; ".join(f"{p}: {why}" for p, (_, why) in confine.status().items())

    def readiness(self) -> Readiness:
        """As which uid it runs student code; a problem when a root grader's worker would stay root."""
        if not sandbox_drop.grader_is_root():
            return Readiness((f"sandbox: the grader is uid {os.getuid()}, not root: process mode keeps that uid",))
        dropped, reason = sandbox_drop.drop_status()
        if not dropped:
            return Readiness((), f"sandbox: process mode would run student code AS ROOT: {reason}\n"
                                 f"To fix: {sandbox_drop.FIX}")
        return Readiness((f"sandbox: process mode runs student code as uid {sandbox_drop.DROP_UID}",))

    def start(self, argv: List[str], *, submission: Path, limits: Limits, pass_fds: Sequence[int],
              cwd: Optional[Path], env: Optional[Dict[str, str]]) -> SandboxedProcess:
        identity = sandbox_drop.worker_identity()  # None: not root (nothing to drop), or root that cannot drop
        tmp = _private_tmp(identity)
        leftovers = [tmp]
        env = {**(env or {}), "TMPDIR": str(tmp), **confinement_request()}
        workdir = str(cwd or submission)
        become: Optional[Callable[[], None]] = None
        try:
            if identity is not None:  # root grader: the worker runs as ``identity`` on a private copy
                copy = copy_submission(submission, max_files=limits.submission_files,
                                       max_bytes=limits.submission_bytes)
                leftovers.insert(0, copy)
                argv = [sandbox_drop.relocate(arg, submission, copy) for arg in argv]
                workdir = sandbox_drop.relocate(str(cwd), submission, copy) if cwd is not None else str(copy)
                become = _dropper(identity)
            nproc = child.nproc_limit(limits, identity[0] if identity is not None else os.getuid())
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     pass_fds=tuple(pass_fds), cwd=workdir, env=clean_environment(env),
                                     preexec_fn=lambda: child.setup(limits, nproc, become), close_fds=True)
        except BaseException:
            remove_folders(*(str(p) for p in leftovers))
            raise
        return SandboxedProcess(popen, self.name, leftovers)


def _dropper(identity: Tuple[int, int]) -> Callable[[], None]:
    return lambda: sandbox_drop.drop(*identity)


def _private_tmp(owner: Optional[Tuple[int, int]]) -> Path:
    """The worker's own temporary folder (its only writable place under Landlock), mode 0700."""
    folder = Path(tempfile.mkdtemp(prefix="sandbox-tmp-"))
    if owner is not None:
        os.chown(folder, *owner)
    return folder
