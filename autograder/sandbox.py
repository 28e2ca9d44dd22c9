"""Start an untrusted command confined (the "run in sandbox" step).

This is the interface the grader uses; the hardening behind it (bubblewrap, dropped privileges,
output caps) is the sandbox issue's. ``launch`` returns a running :class:`subprocess.Popen` whose
whole process group :func:`kill` ends.

Current state: only the ``process`` mode (a separate process in its own session with rlimits).
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

MODES = ("auto", "bwrap", "process")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker. Times in seconds, sizes in bytes."""

    cpu_seconds: int = 120
    memory_bytes: int = 2 * 1024**3
    processes: int = 64
    file_size_bytes: int = 16 * 1024**2
    call_seconds: float = 30.0  # wall clock for one call into the worker
    submission_seconds: float = 300.0  # wall clock for grading one submission
    output_bytes: int = 64 * 1024  # captured stdout/stderr kept per worker


def resolve_mode(mode: str) -> str:
    """The mode that will actually run for a requested one ("auto" picks the strongest)."""
    if mode not in MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}; choose one of {', '.join(MODES)}")
    return "process" if mode == "auto" else mode


def _apply_limits(limits: Limits) -> None:  # runs in the child, before exec
    os.setsid()
    for name, value in (
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
    ):
        resource.setrlimit(name, (value, value))


def clean_environment(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A minimal environment: no secrets of the grader's reach the worker."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.update(extra or {})
    return env


def launch(
    argv: List[str],
    *,
    submission: Path,
    mode: str = "auto",
    limits: Limits = Limits(),
    pass_fds: Sequence[int] = (),
    cwd: Optional[Path] = None,
    env: Optional[Dict[str, str]] = None,
) -> subprocess.Popen:
    """Start ``argv`` (``argv[0]`` is ``sys.executable`` for a Python worker) confined.

    ``submission`` is the only student directory the command may read. stdout and stderr are
    pipes (the caller reads and caps them); stdin is closed. ``pass_fds`` are inherited.
    """
    resolved = resolve_mode(mode)
    if resolved != "process":
        raise NotImplementedError(f"sandbox mode {resolved!r} is not available yet")
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=tuple(pass_fds),
        cwd=str(cwd or submission),
        env=clean_environment(env),
        preexec_fn=lambda: _apply_limits(limits),
        close_fds=True,
    )


def kill(proc: subprocess.Popen) -> None:
    """Kill the worker and every process it started (its whole process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - a zombie we cannot reap
        print(f"warning: worker {proc.pid} did not exit", file=sys.stderr)
