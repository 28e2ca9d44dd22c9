"""``grade-all --scheduler ADDRESS``: the same per-submission jobs, run on a Dask distributed cluster.

Each :class:`~autograder.classroom.jobs.Job` carries the bytes of the graded modules, so workers need the
``autograder`` package and the reference solutions (same version as here) but no shared
filesystem. Results come back to this process, which writes every file, exactly as in a local run.

The sandbox mode is resolved by the workers (:func:`cluster_sandbox`) before any job is made, so a
job's key names the mode that really runs (``bwrap`` or ``process``, never ``auto``): a local run
and a cluster run that resolve to the same mode share their results.
"""
from __future__ import annotations

import asyncio
import time
import warnings
from typing import Any, Callable, Dict, List, Optional

from autograder.classroom.jobs import Job, JobResult, Stop, grade_job

CONNECT_TIMEOUT = "30s"
# Hypothesis warns when the global ``random`` state changes while a strategy draws. On a Dask worker
# another thread (the worker's own event loop) uses ``random``, which Hypothesis cannot tell from the
# strategy: the warning is about Dask, not about the grader, whose strategies never use ``random``
# (the same draws on a cluster as locally: tests/test_batch_real.py).
RANDOM_WARNING = "Do not use the `random` module inside strategies"


class ClusterError(Exception):
    """The cluster cannot take the batch: no scheduler there, no workers, or workers that disagree."""


def _resolve_mode(mode: str) -> str:  # runs on each worker
    from autograder.sandbox.launch import resolve_mode

    return resolve_mode(mode)


def _client(address: str) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


def cluster_sandbox(address: str, mode: str) -> str:
    """The sandbox mode ``mode`` resolves to on every worker of the cluster at ``address``.

    Raises :class:`ClusterError` when the scheduler cannot be reached, has no worker, or its workers
    resolve ``mode`` differently (then the TA names the mode with ``--sandbox``).
    """
    with _client(address) as client:
        try:
            found: Dict[str, Any] = client.run(_resolve_mode, mode, on_error="return")
        except Exception as exc:  # noqa: BLE001 - the workers' own errors, reported by name below
            raise ClusterError(f"the workers of {address} could not check --sandbox {mode}: {exc}") from exc
    if not found:
        raise ClusterError(f"the Dask scheduler at {address} has no workers: start them first (docs/ta-guide.md#a-dask-cluster-for---scheduler)")
    failed = {worker: value for worker, value in found.items() if not isinstance(value, str)}
    if failed:
        worker, error = sorted(failed.items())[0]
        raise ClusterError(f"--sandbox {mode} cannot run on worker {worker}: {error}")
    modes = sorted(set(found.values()))
    if len(modes) > 1:
        listed = "; ".join(f"{worker}: {value}" for worker, value in sorted(found.items()))
        raise ClusterError(f"the workers resolve --sandbox {mode} differently ({listed}); "
                           f"name one mode every worker can run, e.g. --sandbox {modes[-1]}")
    return modes[0]


def grade_on_worker(job: Job) -> JobResult:
    """:func:`~autograder.classroom.jobs.grade_job` on a Dask worker, without Hypothesis' warning about Dask's threads."""
    from hypothesis.errors import HypothesisDeprecationWarning

    warnings.filterwarnings("ignore", message=RANDOM_WARNING, category=HypothesisDeprecationWarning)
    return grade_job(job)


def run_on_cluster(jobs: List[Job], address: str, on_done: Callable[[JobResult], None],
                   stop: Optional[Stop] = None) -> None:
    """Grade ``jobs`` on the Dask scheduler at ``address``, calling ``on_done`` as each finishes.

    A job whose worker died (Dask's ``KilledWorker`` after its retries) becomes an error outcome.
    After a ``stop`` request, jobs still running at its deadline are cancelled and not reported
    (a worker cannot interrupt a running task: it finishes there, and its result is dropped).
    """
    from distributed import wait

    with _client(address) as client:
        # pure=False: a regrade must really run again; key names make the dashboard readable.
        futures = client.map(grade_on_worker, jobs, pure=False, key=[f"grade-{job.student}-{job.key[:12]}" for job in jobs])
        by_key = {future.key: job for future, job in zip(futures, jobs)}
        pending = set(futures)
        while pending:
            stopped = stop.deadline() if stop is not None else None
            if stopped is not None and time.monotonic() >= stopped:
                client.cancel(list(pending))
                return
            try:
                finished, pending = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED")
            except (TimeoutError, asyncio.TimeoutError):  # distributed's is asyncio's (not the builtin before 3.11)
                continue
            for future in sorted(finished, key=lambda f: str(f.key)):
                job = by_key[future.key]
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection, ...
                    outcome = JobResult(job.student, job.key, error=f"cluster job failed: {type(exc).__name__}: {exc}")
                on_done(outcome)
