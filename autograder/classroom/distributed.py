"""``grade-all --scheduler ADDRESS``: the same per-submission jobs, run on a Dask distributed cluster.

Each :class:`~autograder.classroom.jobs.Job` carries the bytes of the graded modules, so workers need the
``autograder`` package and the reference solutions (same version as here) but no shared
filesystem. Results come back to this process, which writes every file, exactly as in a local run.
"""
from __future__ import annotations

from typing import Callable, List

from autograder.classroom.jobs import Job, JobResult, grade_job


def run_on_cluster(jobs: List[Job], address: str, on_done: Callable[[JobResult], None]) -> None:
    """Grade ``jobs`` on the Dask scheduler at ``address``, calling ``on_done`` as each finishes.

    A job whose worker died (Dask's ``KilledWorker`` after its retries) becomes an error outcome.
    """
    from distributed import Client, as_completed

    with Client(address, timeout="30s") as client:
        # pure=False: a regrade must really run again; key names make the dashboard readable.
        futures = client.map(grade_job, jobs, pure=False, key=[f"grade-{job.student}-{job.key[:12]}" for job in jobs])
        by_key = {future.key: job for future, job in zip(futures, jobs)}
        for future in as_completed(futures):
            job = by_key[future.key]
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection, ...
                outcome = JobResult(job.student, job.key, error=f"cluster job failed: {type(exc).__name__}: {exc}")
            on_done(outcome)
