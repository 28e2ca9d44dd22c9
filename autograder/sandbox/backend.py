"""The sandbox's interface: a :class:`Backend` starts a worker confined, a :class:`SandboxedProcess` is it.

A backend (:mod:`~autograder.sandbox.bwrap_backend`, :mod:`~autograder.sandbox.process_backend`)
says whether it works on this machine (:meth:`Backend.available`), what it isolates the worker from
(:meth:`Backend.describe`), and starts a command under :class:`~autograder.sandbox.limits.Limits`
(:meth:`Backend.launch`). :mod:`autograder.sandbox.registry` picks one for a mode name.

The :class:`SandboxedProcess` it returns owns the ``Popen``, the wall-clock watchdog, and the
temporary folders made for the worker (removed when it is killed, or when it is garbage-collected).
"""
from __future__ import annotations

import abc
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Dict, List, NamedTuple, Optional, Sequence, Tuple, Type

import psutil

from autograder.sandbox.limits import Limits


class Availability(NamedTuple):
    """Whether a backend works on this machine, and why not (``""`` when it does).

    Truthy exactly when it works, and unpacks as ``works, why = backend.available()``.
    """

    works: bool
    why: str = ""

    def __bool__(self) -> bool:
        return self.works


@dataclass(frozen=True)
class Readiness:
    """What ``python -m autograder.integrations.bundle check`` says about one backend: ``lines`` for
    stdout, and a ``problem`` (for stderr) that fails the image build, or ``""``."""

    lines: Tuple[str, ...]
    problem: str = ""


class Backend(abc.ABC):
    """One way of confining a worker. Subclasses set ``name`` and ``label`` and implement
    :meth:`available`, :meth:`describe` and :meth:`start`."""

    name: str = ""  # the mode that selects it (``--sandbox NAME``)
    label: str = ""  # what messages call it
    unavailable_error: Type[RuntimeError] = RuntimeError  # raised when it is asked for and does not work

    @abc.abstractmethod
    def available(self) -> Availability:
        """Whether it works on this machine, and why not. May run a trial once (then cached)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for logs and the results' output: what isolates the worker, and what is missing."""

    @abc.abstractmethod
    def start(self, argv: List[str], *, submission: Path, limits: Limits, pass_fds: Sequence[int],
              cwd: Optional[Path], env: Optional[Dict[str, str]]) -> "SandboxedProcess":
        """Start ``argv`` confined (no watchdog yet: :meth:`launch` adds it). See :meth:`launch`."""

    def launch(self, argv: Sequence[str], *, submission: Path, limits: Limits = Limits(),
               pass_fds: Sequence[int] = (), cwd: Optional[Path] = None,
               env: Optional[Dict[str, str]] = None) -> "SandboxedProcess":
        """Start ``argv`` (``argv[0]`` is ``sys.executable`` for a Python worker) confined.

        ``submission`` is the only student directory the command may read; host paths in ``argv``
        that point into it are rewritten to where the worker sees it. ``env`` adds variables to a
        clean environment (never the grader's own). stdout and stderr are pipes (the caller drains
        and caps them); stdin is closed; ``pass_fds`` are inherited under the same numbers. A
        watchdog kills the worker after ``limits.submission_seconds`` seconds of wall clock,
        whatever the caller does.
        """
        proc = self.start(list(argv), submission=Path(submission), limits=limits, pass_fds=pass_fds, cwd=cwd,
                          env=env)
        proc.watch(limits.submission_seconds)
        return proc

    def probed(self) -> Optional[Availability]:
        """:meth:`available`'s answer if it is already known (nothing is run), else None."""
        return None

    def prepare(self) -> None:
        """Check now what every launch will check, and warn once on stderr about what weakens it
        (grade-all calls this in its parent: its job processes stay quiet)."""

    def uncontained(self) -> str:
        """Why a worker would run with NO containment at all here (``""`` when something contains it)."""
        return ""

    def readiness(self) -> Readiness:
        """Its part of ``bundle check``: by default, whether it works here."""
        works, why = self.available()
        return Readiness((f"sandbox: {self.label} {'works' if works else 'does not work: ' + why}",))


def remove_folders(*folders: str) -> None:
    """Remove the temporary folders made for a worker (missing ones are fine)."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class SandboxedProcess:
    """A confined worker: the ``Popen`` of what a backend started (bwrap, or the worker itself),
    its watchdog, and the folders to remove once it is gone.

    stdout and stderr are pipes; :meth:`kill` ends the whole process tree and cleans up (call it
    whatever happened; it is idempotent).
    """

    def __init__(self, popen: "subprocess.Popen[bytes]", mode: str, leftovers: Sequence[Path] = ()) -> None:
        self._popen = popen
        self.mode = mode  # the backend's name
        self._timer: Optional[threading.Timer] = None
        self._cleanup = weakref.finalize(self, remove_folders, *(str(p) for p in leftovers))

    # ---------------------------------------------------------------- what subprocess.Popen has
    @property
    def pid(self) -> int:
        """The pid of the process the backend started (bwrap, or the worker)."""
        return self._popen.pid

    @property
    def returncode(self) -> Optional[int]:
        """Its exit status once reaped (negative: killed by that signal), else None."""
        return self._popen.returncode

    @property
    def stdout(self) -> IO[bytes]:
        """The worker's captured standard output (a pipe)."""
        assert self._popen.stdout is not None
        return self._popen.stdout

    @property
    def stderr(self) -> IO[bytes]:
        """The worker's captured standard error (a pipe)."""
        assert self._popen.stderr is not None
        return self._popen.stderr

    def poll(self) -> Optional[int]:
        """The exit status if the worker has ended, else None (never blocks)."""
        return self._popen.poll()

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait (at most ``timeout`` seconds) for it to exit; its status."""
        return self._popen.wait(timeout=timeout)

    def communicate(self, timeout: Optional[float] = None) -> Tuple[bytes, bytes]:
        """Read stdout and stderr to the end (at most ``timeout`` seconds) and reap it."""
        return self._popen.communicate(timeout=timeout)

    # ---------------------------------------------------------------- ending it
    def watch(self, seconds: float) -> None:
        """Kill its process tree after ``seconds`` of wall-clock time unless :meth:`kill` comes first."""
        timer = threading.Timer(seconds, self._terminate)
        timer.daemon = True
        timer.start()
        self._timer = timer

    def kill(self, wait_seconds: float = 5.0) -> None:
        """Kill the worker and every process it started, wait (at most ``wait_seconds`` seconds)
        until they are gone, and remove its temporary folders.

        bwrap: killing bwrap ends the sandbox's pid namespace, hence everything in it. process: the
        process group, plus descendants that left it with setsid() (orphans that a double fork
        re-parented away can still escape this mode).
        """
        if self._timer is not None:
            self._timer.cancel()
        stragglers = self._terminate()
        try:
            self._popen.wait(timeout=wait_seconds)
        except subprocess.TimeoutExpired:  # pragma: no cover - a zombie we cannot reap
            print(f"warning: worker {self.pid} did not exit", file=sys.stderr)
        deadline = time.monotonic() + wait_seconds
        while any(_running(p) for p in stragglers) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._cleanup()  # the submission's private copy, the private TMPDIR

    def _terminate(self) -> List[psutil.Process]:
        """SIGKILL the process group and every descendant (found before the group dies); return those."""
        stragglers = _descendants(self.pid) if self._popen.poll() is None else []
        self._kill_group()
        for child in stragglers:
            try:
                child.send_signal(signal.SIGKILL)  # psutil checks that the pid was not reused meanwhile
            except psutil.Error:
                pass
        return stragglers

    def _kill_group(self) -> None:
        if self._popen.returncode is not None:  # reaped: its pid (and group id) may belong to someone else now
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _descendants(pid: int) -> List[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:  # the process is gone
        return []


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
