"""Start an untrusted command confined (the "run in sandbox" step).

Two modes (``--sandbox``):

- ``bwrap`` (Linux): bubblewrap, see :mod:`autograder.sandbox.bwrap` for what the worker sees. No
  network, a private size-capped ``/tmp``, a read-only view of only the Python runtime and the
  submission, an unprivileged uid (outside the sandbox too when the grader is root), a clean
  environment, and rlimits.
- ``process``: a separate process in its own session with rlimits, a clean environment and a
  private ``TMPDIR``: for laptops (macOS) and machines without user namespaces (Gradescope's
  Docker). On Linux the worker confines itself first with Landlock and seccomp
  (:mod:`autograder.sandbox.confine`; in bwrap mode too, as defence in depth): only the runtime and the
  submission readable, only its temporary folder writable, no network sockets, no new processes.
  Without them this mode hides nothing, and :func:`describe` says so; with no containment at all,
  ``grade`` and ``grade-all`` refuse to run (:func:`refusal`) unless ``--unsafe-no-sandbox``. When the grader is root the worker drops to uid 65534 before exec (see
  :mod:`autograder.sandbox.drop`): files only root may read stay hidden, root's processes cannot
  be signalled, the process limit applies, and the submission is read from a private copy. If
  that uid cannot run the Python runtime, the worker stays root, and :func:`describe` (hence the
  results) and a warning on stderr say so and how to fix it.

``auto`` picks ``bwrap`` when a trial run works on this machine (probed once per process), else
``process``. :func:`describe` says in words what a mode protects, for the results' output.

``launch`` returns a running :class:`subprocess.Popen` (stdout/stderr are pipes the caller drains
and caps; stdin is closed) whose whole process tree :func:`kill` ends. A watchdog kills it after
``Limits.submission_seconds`` of wall-clock time, whatever the caller does.
"""
from __future__ import annotations

import atexit
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import psutil

from autograder.sandbox import confine

from autograder.sandbox import bwrap as sandbox_bwrap

from autograder.sandbox import drop as sandbox_drop
from autograder.sandbox.identity import become
from autograder.sandbox.limits import Limits
from autograder.sandbox.submission_copy import copy_submission

MODES = ("auto", "bwrap", "process")


DESCRIPTIONS = {
    "bwrap": (
        "Sandbox: bubblewrap. The submission ran without network, with a private /tmp, a read-only view of "
        "only the Python runtime and its own files, as an unprivileged user, with a clean environment and "
        "limits on CPU time, memory, processes and file size."
    ),
    "process": (
        "Sandbox: process. The submission ran in a separate process with a clean environment and limits on "
        "CPU time, memory and file size."
    ),
}
UNHIDDEN = (" Without Landlock this mode does NOT hide files: the submission could read or change anything the "
            "grader's user can. Grade on a Linux kernel with Landlock, or with --sandbox bwrap, for results that count.")
OPEN_NETWORK = " Without seccomp (and Landlock ABI 4) this mode does NOT block the network."

DROPPED = (
    "Sandbox: process, as an unprivileged user. The submission ran in a separate process as uid {uid} (the "
    "grader runs as root), with a clean environment and limits on CPU time, memory, processes and file size: "
    "it could not read files only root may read (the reference and hidden tests where they are kept that "
    "way) nor signal the grader."
)


def describe(mode: str) -> str:
    """One paragraph for the results' ``output``: what the sandbox that ran protects against.

    Names the kernel protections the worker got (Landlock, seccomp: :mod:`autograder.sandbox.confine`) and
    says plainly which are missing. For ``process``: as which user the worker ran and, when the
    grader is root and the worker could not drop privileges, why and how to fix it; when ``auto``
    already found bubblewrap unusable, why (so the results say which mode ran and why).
    """
    resolved = resolve_mode(mode) if mode == "auto" else mode
    if resolved not in DESCRIPTIONS:
        raise ValueError(f"unknown sandbox mode {mode!r}; choose one of {', '.join(MODES)}")
    kernel = confine.describe()
    if resolved == "bwrap":
        return f"{DESCRIPTIONS['bwrap']} {kernel}".rstrip()
    dropped, why = sandbox_drop.drop_status()
    text = DROPPED.format(uid=sandbox_drop.DROP_UID) if dropped else DESCRIPTIONS["process"]
    text = f"{text} {kernel}".rstrip()
    works = set(confine.available())
    if "landlock" not in works:
        text += UNHIDDEN
    if "seccomp" not in works and not (confine.sandbox_landlock.abi() >= 4 and "landlock" in works):
        text += OPEN_NETWORK
    if sandbox_drop.grader_is_root() and not dropped:
        text += (" The grader ran as root and so did the submission, so it could also have killed or changed "
                 f"anything on this machine that Landlock and seccomp leave reachable: {why}. To fix: "
                 f"{sandbox_drop.FIX}.")
    if _probe_result is not None and not _probe_result[0]:
        text += f" (bubblewrap does not work here: {_probe_result[1][:300]})"
    return text


def unconfined(mode: str) -> str:
    """Why untrusted code would run with NO containment at all in ``mode`` ("" when some applies).

    No containment: process mode (asked for, or ``auto`` without bubblewrap) where the kernel
    gives neither Landlock nor seccomp (macOS, Windows, old or locked-down kernels).
    """
    resolved = resolve_mode(mode)
    if resolved == "bwrap" or confine.available():
        return ""
    reasons = [f"{p}: {why}" for p, (_, why) in confine.status().items()]
    if mode != "process":
        reasons.insert(0, f"bubblewrap: {bwrap_status()[1]}")
    return "; ".join(reasons)


UNSAFE_FLAG = "--unsafe-no-sandbox"


def refusal(mode: str) -> str:
    """The message of a grader that refuses to run student code without containment ("" if it has some)."""
    why = unconfined(mode)
    if not why:
        return ""
    return (f"refusing to run untrusted student code: this machine offers no containment at all ({why}). "
            f"A submission would run as a plain process that can read, change and delete every file you can, "
            f"use the network and start programs. Grade on Gradescope, on a Linux machine (bubblewrap, or a "
            f"kernel with Landlock and seccomp), or in a Linux VM or container. To run it anyway on code you "
            f"trust, pass {UNSAFE_FLAG} (it gives up all of that protection).")


# ------------------------------------------------------------------ choosing the mode

_probe_lock = threading.Lock()
_probe_result: Optional[Tuple[bool, str]] = None


def bwrap_status() -> Tuple[bool, str]:
    """Whether bwrap mode works here (a trial run importing numpy inside), and why not. Cached."""
    global _probe_result
    with _probe_lock:
        if _probe_result is None:
            _probe_result = _probe_bwrap()
        return _probe_result


def probe_in_background() -> None:
    """Start bwrap's trial run on a thread now, so that it overlaps with the caller's imports and
    setup (it is a Python start and a numpy import of its own, on another core); whoever needs the
    answer waits for it in :func:`bwrap_status`. The process waits for it before exiting."""
    thread = threading.Thread(target=bwrap_status, name="bwrap-probe", daemon=True)
    thread.start()
    atexit.register(thread.join, 60)


def _probe_bwrap() -> Tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"bubblewrap needs Linux (this is {sys.platform})"
    try:
        with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as empty:
            proc = _launch_bwrap([sys.executable, "-I", "-c", "import numpy"], submission=Path(empty),
                                 limits=Limits(), pass_fds=(), cwd=None, env=None)
            try:
                _, err = proc.communicate(timeout=60)
            finally:
                kill(proc)
    except Exception as exc:  # noqa: BLE001 - any failure means: not available
        return False, f"{type(exc).__name__}: {exc}"
    if proc.returncode != 0:
        return False, f"trial run exited with status {proc.returncode}: {err.decode(errors='replace').strip()[-500:]}"
    return True, ""


def resolve_mode(mode: str) -> str:
    """The mode that will actually run for a requested one (``auto``: bwrap if it works here).

    Raises ValueError for an unknown mode and :class:`~autograder.sandbox.bwrap.BwrapUnavailable`
    (a RuntimeError) when ``bwrap`` is requested but does not work on this machine.
    """
    if mode not in MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "auto":
        return "bwrap" if bwrap_status()[0] else "process"
    if mode == "bwrap":
        works, why = bwrap_status()
        if not works:
            raise sandbox_bwrap.BwrapUnavailable(f"sandbox mode bwrap was requested but bubblewrap does not work here: {why}")
    return mode


# ------------------------------------------------------------------ starting and ending a worker


def clean_environment(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A minimal environment: no secrets of the grader's reach the worker."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.update(extra or {})
    return env


def _user_tasks(uid: int) -> int:
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


def _nproc_limit(limits: Limits, uid: int) -> int:
    """RLIMIT_NPROC value for a worker that will run as ``uid``.

    The kernel counts every task of the uid against the limit, so the tasks it runs already are
    added: otherwise one student's fork bomb in a parallel grade-all (all root-started workers share
    the sandbox uid) would keep the next student's worker from starting at all.
    """
    if not sys.platform.startswith("linux"):
        return limits.processes
    return limits.processes + _user_tasks(uid)


def _child_setup(limits: Limits, nproc: int, drop_to: Optional[Tuple[int, int]] = None,
                 dropper: Callable[[int, int], None] = become) -> None:
    """Runs in the child between fork and exec: own session, the unprivileged uid, then rlimits.

    The address-space limit comes last, with nothing but the return to exec after it: the child is
    a copy of the grader, whose address space may already be larger than the limit (a grader that
    has loaded much, or runs many threads). Past RLIMIT_AS nothing may grow, not even the stack, and
    a stack that cannot grow ends the child with SIGSEGV before it ever runs the worker.
    """
    os.setsid()
    if drop_to is not None:
        dropper(*drop_to)
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


def _watch(proc: subprocess.Popen, seconds: float) -> None:
    """Kill ``proc``'s process group after ``seconds`` of wall-clock time unless it ended before."""
    timer = threading.Timer(seconds, _terminate, args=(proc,))
    timer.daemon = True
    timer.start()
    proc._sandbox_timer = timer  # type: ignore[attr-defined]


def _private_tmp(owner: Optional[Tuple[int, int]]) -> Path:
    """The worker's own temporary folder (its only writable place under Landlock), mode 0700."""
    folder = Path(tempfile.mkdtemp(prefix="sandbox-tmp-"))
    if owner is not None:
        os.chown(folder, *owner)
    return folder


def _launch_process(argv: List[str], *, submission: Path, limits: Limits, pass_fds: Sequence[int],
                    cwd: Optional[Path], env: Optional[Dict[str, str]]) -> subprocess.Popen:
    identity = sandbox_drop.worker_identity()
    tmp = _private_tmp(identity)
    env = {**(env or {}), "TMPDIR": str(tmp), confine.ENV: ",".join(confine.available())}
    if identity is None:  # not root (nothing to drop), or root that cannot drop (describe() says so)
        nproc = _nproc_limit(limits, os.getuid())
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    pass_fds=tuple(pass_fds), cwd=str(cwd or submission), env=clean_environment(env),
                                    preexec_fn=lambda: _child_setup(limits, nproc), close_fds=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        proc._sandbox_cleanup = weakref.finalize(proc, shutil.rmtree, str(tmp), True)  # type: ignore[attr-defined]
        return proc
    # Root grader: the worker runs as ``identity`` and reads a private world-readable copy of the submission.
    nproc = _nproc_limit(limits, identity[0])
    copy = copy_submission(Path(submission), max_files=limits.submission_files, max_bytes=limits.submission_bytes)
    argv = [sandbox_drop.relocate(arg, Path(submission), copy) for arg in argv]
    workdir = sandbox_drop.relocate(str(cwd), Path(submission), copy) if cwd is not None else str(copy)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=tuple(pass_fds), cwd=workdir, env=clean_environment(env),
                                preexec_fn=lambda: _child_setup(limits, nproc, identity, sandbox_drop.drop),
                                close_fds=True)
    except BaseException:
        shutil.rmtree(copy, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    proc._sandbox_cleanup = weakref.finalize(proc, _remove, str(copy), str(tmp))  # type: ignore[attr-defined]
    return proc


def _remove(*folders: str) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _launch_bwrap(argv: List[str], *, submission: Path, limits: Limits, pass_fds: Sequence[int],
                  cwd: Optional[Path], env: Optional[Dict[str, str]]) -> subprocess.Popen:
    env = {**(env or {}), confine.ENV: ",".join(confine.available())}  # defence in depth inside bwrap
    plan = sandbox_bwrap.build(argv, submission=submission, cwd=cwd, env=clean_environment(env),
                               pass_fds=pass_fds, limits=limits)
    nproc = _nproc_limit(limits, plan.drop_to[0] if plan.run_as_root_namespace else os.getuid())
    try:
        proc = subprocess.Popen(
            plan.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=tuple(plan.pass_fds),
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},  # bwrap's own (readable in /proc/1/environ)
            preexec_fn=lambda: _child_setup(limits, nproc, plan.drop_to if plan.run_as_root_namespace else None),
            close_fds=True,
        )
    except BaseException:
        shutil.rmtree(plan.submission_copy, ignore_errors=True)
        raise
    finally:
        for fd in plan.owned_fds:
            os.close(fd)
    proc._sandbox_cleanup = weakref.finalize(  # type: ignore[attr-defined]
        proc, shutil.rmtree, str(plan.submission_copy), True)
    return proc


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

    ``submission`` is the only student directory the command may read; in bwrap mode it appears
    as ``/submission`` and host paths in ``argv`` that point into it, and ``sys.executable``, are
    rewritten to their paths inside. ``env`` adds variables to the clean environment (never the
    grader's own). stdout and stderr are pipes (the caller drains and caps them); stdin is closed;
    ``pass_fds`` are inherited under the same numbers.
    """
    resolved = resolve_mode(mode)
    starter = _launch_bwrap if resolved == "bwrap" else _launch_process
    proc = starter(list(argv), submission=Path(submission), limits=limits, pass_fds=pass_fds, cwd=cwd, env=env)
    proc.sandbox_mode = resolved  # type: ignore[attr-defined]
    _watch(proc, limits.submission_seconds)
    return proc


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.returncode is not None:  # reaped: its pid (and group id) may belong to someone else now
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _descendants(pid: int) -> List[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:  # the process is gone
        return []


def _terminate(proc: subprocess.Popen) -> List[psutil.Process]:
    """SIGKILL the process group and every descendant (found before the group dies); return those."""
    stragglers = _descendants(proc.pid) if proc.poll() is None else []
    _kill_group(proc)
    for child in stragglers:
        try:
            child.send_signal(signal.SIGKILL)  # psutil checks that the pid was not reused meanwhile
        except psutil.Error:
            pass
    return stragglers


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill(proc: subprocess.Popen, wait_seconds: float = 5.0) -> None:
    """Kill the worker and every process it started, and wait (at most ``wait_seconds``) until
    they are gone.

    bwrap: killing bwrap ends the sandbox's pid namespace, hence everything in it. process: the
    process group, plus descendants that left it with setsid() (orphans that a double fork
    re-parented away can still escape this mode).
    """
    timer = getattr(proc, "_sandbox_timer", None)
    if timer is not None:
        timer.cancel()
    stragglers = _terminate(proc)
    try:
        proc.wait(timeout=wait_seconds)
    except subprocess.TimeoutExpired:  # pragma: no cover - a zombie we cannot reap
        print(f"warning: worker {proc.pid} did not exit", file=sys.stderr)
    deadline = time.monotonic() + wait_seconds
    while any(_running(p) for p in stragglers) and time.monotonic() < deadline:
        time.sleep(0.01)
    cleanup = getattr(proc, "_sandbox_cleanup", None)
    if cleanup is not None:
        cleanup()  # remove the submission's private copy


# ------------------------------------------------------------------ overhead


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
