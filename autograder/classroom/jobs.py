"""One grading job: a submission's bytes and key in, its results (or an error) out, in a process of its own.

A :class:`Job` is picklable and self-contained, so it can run here (:func:`run_local`: N processes
at a time) or on a Dask cluster (:mod:`autograder.classroom.distributed`). Its key
(:func:`content_hash`) covers the graded modules' bytes and :func:`grader_fingerprint`: the content
of the code and data that decide a grade, so a changed grader regrades the class on the next run.
"""
from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import importlib
import json
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from autograder.engine import GRADE_ENTRY_POINT, pack
from autograder.sandbox.limits import GRADING

# Last-resort wall clock for one submission's job; the grader has its own, shorter limits.
JOB_SECONDS = GRADING.job_seconds
# After a stop request (the first Ctrl-C), how long a running job may take to finish before it is killed.
STOP_GRACE_SECONDS = 3.0
SYMLINK = b"\0symbolic link to: "  # cannot start a Python source file


def module_files() -> Tuple[str, ...]:
    """The file names of the active pack's graded modules (``<module>.py``, ...)."""
    return tuple(f"{name}.py" for name in pack.current().graded_modules)


@dataclass(frozen=True)
class GraderSpec:
    """Where the grading functions live, as ``"module:function"`` strings.

    Strings, not callables, so a job can be sent to another process or machine and imported there.
    Tests put a stand-in here; the defaults are the real grader's interface.
    """

    grade: str = GRADE_ENTRY_POINT
    feedback: str = "autograder.feedback.report:feedback_markdown"
    write_results: str = "autograder.feedback.report:write_results"


def load(spec: str) -> Callable[..., Any]:
    """Import ``"package.module:function"``."""
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)



@dataclass(frozen=True)
class Job:
    """Everything needed to grade one submission, picklable and self-contained.

    ``files`` holds the graded modules' bytes, so a worker on another machine can grade without
    sharing a filesystem; a local worker grades ``path`` directly when it still holds those bytes
    (so paths in the feedback are the same whichever worker ran).
    """

    student: str
    path: str
    files: Dict[str, bytes]
    key: str
    sandbox: str = "auto"
    grader: str = GraderSpec.grade
    fingerprint: str = ""  # grader_fingerprint() where the job was made; a worker must match it


@dataclass
class JobResult:
    """What grading one submission produced: ``results`` (the results.json dict) or ``error``."""

    student: str
    key: str
    results: Optional[Dict[str, Any]] = None
    error: Optional[str] = None
    seconds: float = 0.0
    cached: bool = False



def read_modules(module_dir: Path) -> Dict[str, bytes]:
    """The graded modules present in ``module_dir``, by file name.

    A symbolic link is recorded as SYMLINK + its target, never followed: reading through it could
    put someone else's file (the reference, say) into a job that is graded on another machine.
    """
    modules = {}
    for name in module_files():
        path = module_dir / name
        if path.is_symlink():
            modules[name] = SYMLINK + os.readlink(path).encode()
        elif path.is_file():
            modules[name] = path.read_bytes()
    return modules


def write_modules(files: Dict[str, bytes], folder: Path) -> None:
    """Recreate what :func:`read_modules` read (symbolic links as links) in ``folder``."""
    for name, data in files.items():
        if data.startswith(SYMLINK):
            os.symlink(data[len(SYMLINK):].decode(), folder / name)
        else:
            (folder / name).write_bytes(data)



# The parts of the package that decide a grade (the rest only moves, stores or reports grades).
GRADING_PARTS = ("engine", "worker", "sandbox", "feedback")  # with the active pack and its reference


# Installed packages that are part of a grade: numpy's arithmetic and Hypothesis' draws.
GRADING_PACKAGES = ("numpy", "hypothesis")


def package_versions() -> str:
    """``numpy==2.2.6;hypothesis==6.168.5``: the installed versions of :data:`GRADING_PACKAGES`."""
    from importlib import metadata

    return ";".join(f"{name}=={metadata.version(name)}" for name in GRADING_PACKAGES)


def grader_fingerprint(package: Optional[Path] = None) -> str:
    """sha256 of what decides a grade: the content of the grading parts of ``package`` (default: this
    autograder), of the active pack's folder and of its reference, and the versions of the packages
    that compute it.

    Part of every submission's key, so a changed rubric, hidden test or pin regrades the class on
    the next run instead of mixing old and new grades; a new report or command does not.
    """
    package = Path(__file__).resolve().parent.parent if package is None else package
    active = pack.current()
    roots = [package / part for part in GRADING_PARTS] + [active.folder, active.reference_dir]
    digest = hashlib.sha256(package_versions().encode())
    for root in dict.fromkeys(roots):
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts)
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def content_hash(files: Dict[str, bytes], sandbox: str = "auto", grader: str = GraderSpec.grade, fingerprint: str = "") -> str:
    """sha256 of the graded modules (names and bytes) and of how they are graded.

    ``fingerprint``: :func:`grader_fingerprint`, computed once per batch by the caller.
    """
    digest = hashlib.sha256()
    digest.update(f"{grader}\0{sandbox}\0{fingerprint}\0".encode())
    for name in module_files():
        data = files.get(name)
        digest.update(name.encode() + b"\0" + (b"missing" if data is None else hashlib.sha256(data).digest()))
    return digest.hexdigest()


# --------------------------------------------------------------------------- one job


def grade_job(job: Job) -> JobResult:
    """Grade one submission (runs in a worker process); never raises.

    The grader's own exceptions become ``JobResult.error``: the grader promises not to raise for a
    broken submission, so an exception here is an error row a TA must look at.
    """
    start = time.perf_counter()
    tmp: Optional[str] = None
    try:
        if job.fingerprint and job.fingerprint != grader_fingerprint():
            raise RuntimeError("this worker's grader, rubric or reference differs from the one that made the job; "
                               "install the same version of the course repository on every worker")
        path = Path(job.path)
        if not (path.is_dir() and read_modules(path) == job.files):
            # Another machine, or the files changed since discovery: grade the bytes we hashed.
            tmp = tempfile.mkdtemp(prefix=f"grade-{job.student}-")
            path = Path(tmp) / pack.current().name
            path.mkdir()
            write_modules(job.files, path)
        results = load(job.grader)(path, sandbox=job.sandbox)
        if not isinstance(results, dict) or "score" not in results or "tests" not in results:
            raise TypeError(f"the grader returned {type(results).__name__}, not a results.json dict")
        json.dumps(results)  # only plain data may come back
        return JobResult(job.student, job.key, results=results, seconds=time.perf_counter() - start)
    except BaseException as exc:  # noqa: BLE001 - a SystemExit from below must not end the worker's loop either
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return JobResult(job.student, job.key, error=f"grader failed: {last}", seconds=time.perf_counter() - start)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _kill_tree(pid: int) -> None:
    """SIGKILL a job process and everything it started (sandbox workers leave its process group)."""
    try:
        import psutil

        family = psutil.Process(pid).children(recursive=True) + [psutil.Process(pid)]
    except Exception:  # noqa: BLE001 - psutil missing, or the process just ended
        family = []
    for member in family:
        try:
            member.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass
    try:
        os.kill(pid, 9)
    except OSError:
        pass


@functools.lru_cache(maxsize=None)
def _job_context(grader: str) -> Any:
    """How job processes start: forked from a clean server that imported the grader once.

    ``forkserver`` (POSIX) makes a job process cost milliseconds instead of the fraction of a
    second a fresh interpreter importing numpy and Hypothesis takes; it never forks this process,
    whose threads (the progress bar, the job threads) a fork would copy. ``spawn`` elsewhere.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, grader.partition(":")[0]])
    return context


class Stop:
    """A request to stop a batch (``grade-all``'s first Ctrl-C), shared by the threads that run jobs.

    Once :meth:`request` ed, no job starts; a running one may finish within ``grace`` seconds and is
    then killed with its whole process tree. A second request with ``now=True`` ends the grace at once.
    """

    def __init__(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self.grace = grace
        self.since: Optional[float] = None  # time.monotonic() of the first request
        self._event = threading.Event()

    def request(self, now: bool = False) -> None:
        if now:
            self.grace = 0.0
        if self.since is None:
            self.since = time.monotonic()
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def deadline(self) -> Optional[float]:
        """When running jobs are killed (time.monotonic()), or None before any request."""
        return None if self.since is None else self.since + self.grace


def _job_process(job: Job, connection: Any) -> None:  # the body of one job's process
    from autograder.sandbox import drop as sandbox_drop

    # Ctrl-C in a terminal reaches the whole foreground process group: this job too. The batch
    # decides what an interrupt means (finish or kill the job), so the job itself ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    sandbox_drop.quiet_root_warning()  # the parent warned once; each student's results say it too
    connection.send(grade_job(job))
    connection.close()


def run_in_process(job: Job, seconds: float = JOB_SECONDS, stop: Optional[Stop] = None) -> Optional[JobResult]:
    """Grade ``job`` in a fresh process of its own and wait at most ``seconds`` for it.

    A process that dies (killed, out of memory) or overruns fails this job alone. With ``stop``:
    returns None, not starting the job, when a stop was requested before; a job running when it is
    requested gets until :meth:`Stop.deadline`, then it is killed and None returned (not graded).
    """
    if stop is not None and stop.requested:
        return None
    context = _job_context(job.grader)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_job_process, args=(job, sender), name=f"grade-{job.student}")
    process.start()
    sender.close()
    deadline = time.monotonic() + seconds
    try:
        while True:
            wait = deadline - time.monotonic()
            if receiver.poll(max(0.0, wait if stop is None else min(wait, 0.2))):  # with a stop: look at it 5 times a second
                return receiver.recv()
            now = time.monotonic()
            if now >= deadline:
                _kill_tree(process.pid)
                return JobResult(job.student, job.key, error=f"grading took longer than {seconds:g} s and was stopped")
            stopped = stop.deadline() if stop is not None else None
            if stopped is not None and now >= stopped:
                _kill_tree(process.pid)
                return None
    except (EOFError, OSError):
        process.join(5)
        return JobResult(job.student, job.key, error=f"grading process died (exit code {process.exitcode}: killed or out of memory?)")
    finally:
        receiver.close()
        process.join(5)
        if process.is_alive():  # pragma: no cover - sent a result but does not exit
            process.kill()


def run_local(jobs: List[Job], workers: int, on_done: Callable[[JobResult], None], seconds: float = JOB_SECONDS,
              stop: Optional[Stop] = None) -> None:
    """Grade ``jobs``, ``workers`` at a time, each in its own process (:func:`run_in_process`).

    ``on_done`` is called in this thread as each job ends, in the order they finish. After a
    ``stop`` request no job starts, and the ones not finished by its deadline are not reported.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="grade") as pool:
        futures = [pool.submit(run_in_process, job, seconds, stop) for job in jobs]
        for future in concurrent.futures.as_completed(futures):
            outcome = future.result()
            if outcome is not None:
                on_done(outcome)
