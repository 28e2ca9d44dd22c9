"""Every resource limit of grading one submission, in one place.

:class:`Limits` is what a sandbox backend applies to a worker (rlimits, its private ``/tmp``, the
copy of the submission it reads, a wall-clock watchdog) and what the grader around it enforces
(one call's clock, one submission's clock, the captured output, grade-all's last-resort job
clock). Units are in the field names: ``_seconds`` are seconds (CPU or wall clock, as said),
``_bytes`` bytes; the counts are plain numbers.

:data:`GRADING` is the set a graded submission runs under (``grade``, ``grade-all``, Gradescope).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker and the grading around it. Times in seconds, sizes in bytes.

    Applied by the sandbox to the worker process (see :mod:`autograder.sandbox.child`):

    - ``cpu_seconds``: CPU time of the worker (``RLIMIT_CPU``, seconds);
    - ``memory_bytes``: its address space (``RLIMIT_AS``, bytes);
    - ``processes``: processes and threads it may have at once (``RLIMIT_NPROC``, a count; the
      tasks its uid runs already at launch are added, so that workers sharing a uid do not starve
      each other);
    - ``file_size_bytes``: the largest file it may write (``RLIMIT_FSIZE``, bytes);
    - ``open_files``: file descriptors it may hold (``RLIMIT_NOFILE``, a count);
    - ``tmp_bytes``: size of its private ``/tmp`` (bwrap mode's tmpfs, bytes);
    - ``submission_files`` / ``submission_bytes``: the private copy of the submission it reads
      stops at this many files / bytes (a submission is four small modules);
    - ``submission_seconds``: wall clock of the worker's whole life (a watchdog kills it, seconds).

    Enforced by the grader around the worker:

    - ``call_seconds``: wall clock for one call (or batch of calls) into the worker, seconds;
    - ``submission_seconds``: wall clock for grading one submission (tests not started by then fail);
    - ``output_bytes``: the student's captured stdout and stderr kept per worker (half each), bytes;
    - ``job_seconds``: grade-all's last-resort wall clock for one submission's grading process
      (the grader's own limits above are shorter), seconds.
    """

    cpu_seconds: int = 120
    memory_bytes: int = 2 * 1024**3
    processes: int = 64
    file_size_bytes: int = 16 * 1024**2
    open_files: int = 256
    tmp_bytes: int = 64 * 1024**2
    submission_files: int = 2000
    submission_bytes: int = 64 * 1024**2
    call_seconds: float = 30.0
    submission_seconds: float = 300.0
    output_bytes: int = 64 * 1024
    job_seconds: float = 900.0


GRADING = Limits(call_seconds=10.0)
"""The limits of a graded submission: the defaults, with 10 s of wall clock per call into the worker."""
