"""Start a worker process in its sandbox; optionally early, beside the grader's own imports.

Starting a worker is a Python start and a numpy import inside the sandbox (and, once per process,
trial runs of the kernel confinement): about as long as the grader's own imports.
``python -m autograder grade`` therefore calls :func:`prestart` before it imports the grading
engine; a thread starts the worker meanwhile, and the worker client :func:`claim` s it.
Only the interpreter and numpy start early: the student's modules are imported by the client, in
its turn, exactly as with a worker started then.
"""
from __future__ import annotations

import atexit
import fcntl
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

from autograder.sandbox import registry as sandbox_registry
from autograder.sandbox.backend import Backend, SandboxedProcess
from autograder.sandbox.limits import Limits

PIPE_BYTES = 1 << 20  # larger pipes: a batch's arrays go through in one write


@dataclass
class Launched:
    """A worker just started: its process, the grader's ends of its pipes (request write end, reply
    read end), and the request pipe's capacity in bytes."""

    proc: SandboxedProcess
    fds: Tuple[int, int]
    pipe_room: int

    def stop(self) -> None:
        stop(self.proc, self.fds)


def stop(proc: SandboxedProcess, fds: Tuple[int, int]) -> None:
    """Close the grader's ends of a worker's pipes and kill it (and whatever it started)."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    proc.kill()


def launch(submission: Path, mode: str, limits: Limits) -> Launched:
    """Start the worker program for ``submission`` in sandbox ``mode`` (a mode name or ``auto``)."""
    return _launch_with(sandbox_registry.resolve(mode), submission, limits)


def _launch_with(backend: Backend, submission: Path, limits: Limits) -> Launched:
    from autograder.worker.program import bootstrap_source  # (with the protocol: numpy, on the caller's thread)

    req_r, req_w = os.pipe()
    resp_r, resp_w = os.pipe()
    for fd in (req_w, resp_w):
        try:
            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        except OSError:
            pass
    try:
        room = fcntl.fcntl(req_w, getattr(fcntl, "F_GETPIPE_SZ", 1032))
    except OSError:
        room = 1 << 16
    argv = [sys.executable, "-I", "-c", bootstrap_source(), str(req_r), str(resp_w), str(submission)]
    try:
        proc = backend.launch(argv, submission=submission, limits=limits, pass_fds=(req_r, resp_w))
    except BaseException:
        os.close(req_w)
        os.close(resp_r)
        raise
    finally:
        os.close(req_r)
        os.close(resp_w)
    return Launched(proc, (req_w, resp_r), room)


_Key = Tuple[Path, str, Limits]


class _Early:
    """A worker being started on its own thread; ``launched`` is set (or stays None) when ``done``."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.launched: Optional[Launched] = None


_early: Dict[_Key, _Early] = {}


def prestart(submission: Path, mode: str, limits: Limits) -> bool:
    """Start the worker for ``submission`` now, in sandbox ``mode``, beside whatever the caller does
    next; ``auto`` starts the first of its choices not known to fail (the trial run is not waited
    for: :func:`claim` hands the process out only if ``auto`` settles on the same mode, and a worker
    in bwrap that answers stands for bwrap's trial run). A process nobody claims is stopped when the
    grader exits. True when a start began."""
    if mode == "auto":
        known_bad = {b.name for b, _ in sandbox_registry.passed_over(sandbox_registry.backend("process"), probe=False)}
        mode = next(name for name in sandbox_registry.AUTO_ORDER if name not in known_bad)
    folder = Path(submission).resolve()
    backend = sandbox_registry.backend(mode)
    early = _early[(folder, mode, limits)] = _Early()

    def start() -> None:
        try:
            early.launched = _launch_with(backend, folder, limits)
        except Exception:  # noqa: BLE001 - the client starts its own worker and reports any problem
            pass
        early.done.set()
        threading.Event().wait()  # never returns: bwrap's --die-with-parent follows this thread

    vouch = getattr(backend, "vouch", None)
    if vouch is not None:
        vouch(lambda: _answers(early))
    threading.Thread(target=start, name="worker-prestart", daemon=True).start()
    return True


def _answers(early: _Early, seconds: float = 60.0) -> bool:
    """Whether the early worker answers a ping within ``seconds`` (it has started Python and numpy)."""
    from autograder.worker import protocol  # numpy: not before the caller's own imports

    if not early.done.wait(seconds) or early.launched is None:
        return False
    req_w, resp_r = early.launched.fds
    protocol.write_message(req_w, {"op": "ping"}, [])
    header, _ = protocol.read_message(resp_r, time.monotonic() + seconds)
    return header.get("ok") == {"pong": 1}


def claim(submission: Path, mode: str, limits: Limits) -> Optional[Launched]:
    """The worker :func:`prestart` started for the same submission, mode (resolved) and limits, or
    None; a prestarted worker of another mode or other limits is stopped."""
    folder = Path(submission).resolve()
    found = _early.pop((folder, mode, limits), None)
    for key in [k for k in _early if k[0] == folder]:
        _stop(_early.pop(key))
    if found is None:
        return None
    found.done.wait()
    return found.launched


def _stop(early: _Early) -> None:
    early.done.wait()
    if early.launched is not None:
        early.launched.stop()


@atexit.register
def _stop_unclaimed() -> None:
    while _early:
        _stop(_early.popitem()[1])
