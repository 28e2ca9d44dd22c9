"""grade-all --scheduler: the same jobs on a Dask cluster (a LocalCluster here) give the same files."""
from __future__ import annotations

import json

import pytest
from test_batch import SPEC, _class, _rows

from autograder.classroom.batch import grade_all

distributed = pytest.importorskip("distributed")


def test_cluster_run_equals_local_run(tmp_path):
    subs = _class(tmp_path)
    local, remote = tmp_path / "local", tmp_path / "remote"
    grade_all(subs, local, jobs=2, spec=SPEC, progress=False, summary=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        report = grade_all(subs, remote, scheduler=cluster.scheduler_address, spec=SPEC, progress=False, summary=False)
    assert report.graded == 3
    assert _rows(remote) == _rows(local)
    for student in ("alice", "bob", "carol"):
        # meta.json holds the resume key, which records the sandbox mode as requested ("auto" is
        # resolved by each cluster worker), so only the reports are compared
        for name in ("results.json", "feedback.md", "feedback.html"):
            assert (remote / student / name).read_bytes() == (local / student / name).read_bytes(), (student, name)
    assert json.loads((remote / "alice" / "results.json").read_text())["score"] == 70
    assert (remote / "dave" / "error.txt").read_text() == (local / "dave" / "error.txt").read_text()
