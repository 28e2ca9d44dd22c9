"""grade-all --scheduler: the same jobs on a Dask cluster (a LocalCluster here) give the same files,
and share their results with a local run (the resume key names the sandbox the workers resolved)."""
from __future__ import annotations

import json

import pytest
from test_batch import SPEC, _class, _rows

from autograder.classroom import distributed as cluster_runs
from autograder.classroom.batch import BatchInputError, grade_all
from autograder.sandbox.launch import resolve_mode

distributed = pytest.importorskip("distributed")


def test_cluster_run_equals_local_run_and_shares_its_results(tmp_path):
    subs = _class(tmp_path)
    local, remote = tmp_path / "local", tmp_path / "remote"
    grade_all(subs, local, jobs=2, spec=SPEC, progress=False, summary=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        report = grade_all(subs, remote, scheduler=cluster.scheduler_address, spec=SPEC, progress=False, summary=False)
        assert report.graded == 3 and report.sandbox == resolve_mode("auto")
        assert (remote / "gradebook.csv").read_bytes() == (local / "gradebook.csv").read_bytes()
        for student in ("alice", "bob", "carol"):
            # meta.json too: its resume key names the mode the workers resolved "auto" to, as a local run's does
            for name in ("results.json", "feedback.md", "feedback.html", "meta.json"):
                assert (remote / student / name).read_bytes() == (local / student / name).read_bytes(), (student, name)
        assert json.loads((remote / "alice" / "results.json").read_text())["score"] == 70
        assert (remote / "dave" / "error.txt").read_text() == (local / "dave" / "error.txt").read_text()
        # a cluster run into the local run's folder regrades nothing, and the reverse
        again = grade_all(subs, local, scheduler=cluster.scheduler_address, spec=SPEC, progress=False, summary=False)
        assert again.graded == 0 and again.cached == 3
    back = grade_all(subs, remote, jobs=2, spec=SPEC, progress=False, summary=False)
    assert back.graded == 0 and back.cached == 3
    assert _rows(remote) == _rows(local)


def test_an_unreachable_scheduler_is_bad_input_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster_runs, "CONNECT_TIMEOUT", "2s")
    subs = _class(tmp_path)
    with pytest.raises(BatchInputError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        grade_all(subs, tmp_path / "out", scheduler="tcp://127.0.0.1:9", spec=SPEC, progress=False)
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_workers_that_resolve_the_sandbox_differently_are_refused(tmp_path, monkeypatch):
    """Two workers, one where "auto" means bwrap and one where it means process: the TA must choose."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        answers = iter(["bwrap", "process"])
        with distributed.Client(cluster) as client:
            workers = sorted(client.scheduler_info()["workers"])
        table = dict(zip(workers, answers))

        def resolved_there(mode, dask_worker):  # client.run passes the worker it runs on
            return table[dask_worker.address]

        monkeypatch.setattr(cluster_runs, "_resolve_mode", resolved_there)
        with pytest.raises(cluster_runs.ClusterError, match="resolve --sandbox auto differently .*bwrap.*process"):
            cluster_runs.cluster_sandbox(cluster.scheduler_address, "auto")


def warning_grader(submission, *, sandbox="auto"):  # a Job's grader: warns as Hypothesis does on a Dask worker
    import warnings

    from hypothesis.errors import HypothesisDeprecationWarning
    from test_batch_standin import grade_submission

    warnings.warn(HypothesisDeprecationWarning("Do not use the `random` module inside strategies; instead consider "
                                               "`st.randoms()`, `st.sampled_from()`, etc.  from ex=draw_example()"))
    warnings.warn(HypothesisDeprecationWarning("another deprecation, which stays visible"))
    return grade_submission(submission, sandbox=sandbox)


def test_workers_do_not_log_hypothesis_warning_about_dasks_own_use_of_random(tmp_path):
    """Measured with `dask worker` processes: the old grade_job logged "Do not use the `random` module inside
    strategies" (2 of 2 runs of 4 students); the warning is about the worker's other threads, never the grader's."""
    import warnings

    from test_batch import SOLUTIONS, _copy

    from autograder.classroom import jobs

    folder = _copy(SOLUTIONS, tmp_path / "alice")
    files = jobs.read_modules(folder)
    job = jobs.Job("alice", str(folder), files, jobs.content_hash(files), "auto", f"{__name__}:warning_grader")
    for run, random_warnings in ((jobs.grade_job, 1), (cluster_runs.grade_on_worker, 0)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = run(job)
        assert outcome.error is None and outcome.results["score"] == 70
        said = [str(w.message) for w in caught]
        assert sum("Do not use the `random` module" in s for s in said) == random_warnings, said
        assert "another deprecation, which stays visible" in said
