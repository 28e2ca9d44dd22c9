"""The bubblewrap backend (``--sandbox bwrap``, Linux): starting bwrap, its trial run, its description.

What the worker sees in there is :mod:`autograder.sandbox.bwrap`'s command line: no network, a
private size-capped ``/tmp``, a read-only view of only the Python runtime and the submission, an
unprivileged uid (outside the sandbox too when the grader is root), a clean environment; plus the
rlimits (:mod:`autograder.sandbox.child`) and, as defence in depth, the worker's own Landlock and
seccomp (:mod:`autograder.sandbox.confine`).

Whether bubblewrap works here is learnt once per process by a trial run importing numpy inside
(:meth:`BwrapBackend.available`); :meth:`BwrapBackend.probe_in_background` starts it early, and a
worker started early in bwrap answers in its place (:meth:`BwrapBackend.vouch`).
"""
from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from autograder.sandbox import bwrap, child, confine
from autograder.sandbox.backend import Availability, Backend, SandboxedProcess, remove_folders
from autograder.sandbox.environment import clean_environment, confinement_request
from autograder.sandbox.identity import become
from autograder.sandbox.limits import Limits

DESCRIPTION = (
    "Sandbox: bubblewrap. The submission ran without network, with a private /tmp, a read-only view of "
    "only the Python runtime and its own files, as an unprivileged user, with a clean environment and "
    "limits on CPU time, memory, processes and file size."
)
PROBE_SECONDS = 60.0  # wall clock for the trial run


class BwrapBackend(Backend):
    """bubblewrap around the worker; available where its trial run works (probed once, cached)."""

    name = "bwrap"
    label = "bubblewrap"
    unavailable_error = bwrap.BwrapUnavailable

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: Optional[Availability] = None
        self._witness: Optional[Callable[[], bool]] = None

    def available(self) -> Availability:
        """Whether bwrap mode works here (a trial run importing numpy inside), and why not. Cached.

        A worker already started in bwrap (:meth:`vouch`) that answers is the trial run: bwrap works.
        If it does not answer, the trial run says why."""
        with self._lock:
            if self._status is None:
                witness, self._witness = self._witness, None
                try:
                    vouched = witness is not None and witness()
                except Exception:  # noqa: BLE001 - no answer: the trial run decides
                    vouched = False
                self._status = Availability(True) if vouched else self._probe()
            return self._status

    def vouch(self, witness: Callable[[], bool]) -> None:
        """``witness()`` tells whether a worker started in bwrap answers (after starting Python and
        numpy inside, as the trial run does): asked instead of a trial run of its own."""
        with self._lock:
            if self._status is None:
                self._witness = witness

    def probed(self) -> Optional[Availability]:
        return self._status

    def probe_in_background(self) -> None:
        """Start the trial run on a thread now, so that it overlaps with the caller's imports and
        setup (it is a Python start and a numpy import of its own, on another core); whoever needs the
        answer waits for it in :meth:`available`. The process waits for it before exiting."""
        thread = threading.Thread(target=self.available, name="bwrap-probe", daemon=True)
        thread.start()
        atexit.register(thread.join, PROBE_SECONDS)

    def describe(self) -> str:
        return f"{DESCRIPTION} {confine.describe()}".rstrip()

    def start(self, argv: List[str], *, submission: Path, limits: Limits, pass_fds: Sequence[int],
              cwd: Optional[Path], env: Optional[Dict[str, str]]) -> SandboxedProcess:
        env = {**(env or {}), **confinement_request()}  # defence in depth inside bwrap
        plan = bwrap.build(argv, submission=submission, cwd=cwd, env=clean_environment(env), pass_fds=pass_fds,
                           limits=limits)
        as_root = plan.run_as_root_namespace  # the grader is root: bwrap itself starts as the sandbox uid
        nproc = child.nproc_limit(limits, plan.drop_to[0] if as_root else os.getuid())
        try:
            popen = subprocess.Popen(
                plan.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=tuple(plan.pass_fds),
                cwd="/",
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},  # bwrap's own (readable in /proc/1/environ)
                preexec_fn=lambda: child.setup(limits, nproc, (lambda: become(*plan.drop_to)) if as_root else None),
                close_fds=True,
            )
        except BaseException:
            remove_folders(str(plan.submission_copy))
            raise
        finally:
            for fd in plan.owned_fds:
                os.close(fd)
        return SandboxedProcess(popen, self.name, [plan.submission_copy])

    def _probe(self) -> Availability:
        if not sys.platform.startswith("linux"):
            return Availability(False, f"bubblewrap needs Linux (this is {sys.platform})")
        try:
            with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as empty:
                proc = self.start([sys.executable, "-I", "-c", "import numpy"], submission=Path(empty),
                                  limits=Limits(), pass_fds=(), cwd=None, env=None)
                try:
                    _, err = proc.communicate(timeout=PROBE_SECONDS)
                finally:
                    proc.kill()
        except Exception as exc:  # noqa: BLE001 - any failure means: not available
            return Availability(False, f"{type(exc).__name__}: {exc}")
        if proc.returncode != 0:
            return Availability(False, f"trial run exited with status {proc.returncode}: "
                                       f"{err.decode(errors='replace').strip()[-500:]}")
        return Availability(True)
