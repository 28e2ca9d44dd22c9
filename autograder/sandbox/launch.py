"""Start an untrusted command confined (the "run in sandbox" step), by mode name.

The functions callers use with a ``--sandbox`` mode string (``auto``, ``bwrap``, ``process``):
each resolves the mode with :mod:`autograder.sandbox.registry` and asks the
:class:`~autograder.sandbox.backend.Backend` it picks. What the modes protect is said in
:mod:`autograder.sandbox.bwrap_backend` and :mod:`autograder.sandbox.process_backend`; the limits
are :class:`~autograder.sandbox.limits.Limits`; with no containment at all, ``grade`` and
``grade-all`` refuse to run (:func:`~autograder.sandbox.refusal.refusal`) unless
``--unsafe-no-sandbox``.

:func:`launch` returns a running :class:`~autograder.sandbox.backend.SandboxedProcess`
(stdout/stderr are pipes the caller drains and caps; stdin is closed) whose whole process tree
:func:`kill` ends. A watchdog kills it after ``Limits.submission_seconds`` of wall-clock time,
whatever the caller does.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from autograder.sandbox import registry
from autograder.sandbox.backend import SandboxedProcess
from autograder.sandbox.environment import clean_environment
from autograder.sandbox.limits import Limits
from autograder.sandbox.refusal import UNSAFE_FLAG, refusal, unconfined
from autograder.sandbox.registry import MODES, describe, probe_in_background, resolve_mode

__all__ = ["MODES", "UNSAFE_FLAG", "Limits", "SandboxedProcess", "bwrap_status", "clean_environment", "describe",
           "kill", "launch", "probe_in_background", "refusal", "resolve_mode", "startup_seconds", "unconfined"]


def bwrap_status() -> Tuple[bool, str]:
    """Whether bwrap mode works here (a trial run importing numpy inside), and why not. Cached."""
    works, why = registry.backend("bwrap").available()
    return works, why


def launch(
    argv: List[str],
    *,
    submission: Path,
    mode: str = "auto",
    limits: Limits = Limits(),
    pass_fds: Sequence[int] = (),
    cwd: Optional[Path] = None,
    env: Optional[Dict[str, str]] = None,
) -> SandboxedProcess:
    """Start ``argv`` confined by the backend ``mode`` resolves to (see
    :meth:`Backend.launch <autograder.sandbox.backend.Backend.launch>`)."""
    return registry.resolve(mode).launch(argv, submission=submission, limits=limits, pass_fds=pass_fds, cwd=cwd,
                                         env=env)


def kill(proc: SandboxedProcess, wait_seconds: float = 5.0) -> None:
    """Kill the worker and every process it started, and wait (at most ``wait_seconds`` seconds)
    until they are gone (:meth:`SandboxedProcess.kill <autograder.sandbox.backend.SandboxedProcess.kill>`)."""
    proc.kill(wait_seconds)


def startup_seconds(mode: str, repeats: int = 5) -> float:
    """Median wall-clock seconds to start a worker that imports numpy and exits, in ``mode``."""
    times = []
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as empty:
        for _ in range(repeats):
            start = time.perf_counter()
            proc = launch([sys.executable, "-I", "-c", "import numpy"], submission=Path(empty), mode=mode)
            proc.communicate(timeout=120)
            kill(proc)
            times.append(time.perf_counter() - start)
    return statistics.median(times)
