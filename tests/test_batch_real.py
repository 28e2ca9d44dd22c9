"""grade-all with the real grader: the gradebook equals single-submission grading.

Three students of the example class (correct but written differently, one bug, the skeleton),
graded by grade-all with 2 jobs and then one by one with autograder.engine.grade.grade_submission.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.classroom.batch import grade_all
from autograder.sandbox import drop as sandbox_drop

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "submissions"
STUDENTS = ("written_differently", "lstm_dprev_c_missing_f", "skeleton")

# grade-all with 2 jobs, a Dask cluster of 2 workers: alone under xdist (they take the whole machine).
pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The three students graded by grade-all with 2 local processes: (submissions, out)."""
    root = tmp_path_factory.mktemp("real")
    subs = root / "subs"
    for student in STUDENTS:
        shutil.copytree(EXAMPLES / student, subs / student)
    out = root / "out"
    report = grade_all(subs, out, jobs=2, sandbox="process", progress=False, summary=False)
    assert report.errors == []
    return subs, out


def _without_time(path: Path) -> dict:
    results = json.loads(path.read_text())
    results.pop("execution_time")
    return results


def test_gradebook_equals_single_submission_grading(local_run, graded):
    subs, out = local_run
    with (out / "gradebook.csv").open(newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == sorted(STUDENTS)
    for student in STUDENTS:
        # grade_submission of the same bytes (subs/<student> is a copy), graded once per session
        single = graded(EXAMPLES / student, sandbox="process")
        row = rows[student]
        assert float(row["score"]) == pytest.approx(single["score"]), student
        assert float(row["max_score"]) == pytest.approx(sum(t["max_score"] for t in single["tests"]))
        for name, value in single["extra_data"]["functions"].items():
            assert float(row[name]) == pytest.approx(value["score"]), (student, name)
        stored = json.loads((out / student / "results.json").read_text())
        assert [(t["name"], t["score"]) for t in stored["tests"]] == [(t["name"], t["score"]) for t in single["tests"]]
        assert (out / student / "feedback.md").stat().st_size > 0 and (out / student / "feedback.html").stat().st_size > 0
    assert float(rows["written_differently"]["score"]) == float(rows["written_differently"]["max_score"])
    assert float(rows["skeleton"]["score"]) == 0
    buggy = rows["lstm_dprev_c_missing_f"]
    assert 0 < float(buggy["score"]) < float(buggy["max_score"])
    assert float(buggy["lstm_step_backward"]) < float(json.loads((out / "written_differently" / "results.json").read_text())
                                                      ["extra_data"]["functions"]["lstm_step_backward"]["max_score"])


def test_a_dask_cluster_gives_the_same_results(local_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    subs, local = local_run
    remote = tmp_path / "remote"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        report = grade_all(subs, remote, sandbox="process", scheduler=cluster.scheduler_address, progress=False, summary=False)
    assert report.errors == [] and report.graded == len(STUDENTS)
    assert (remote / "gradebook.csv").read_text() == (local / "gradebook.csv").read_text()
    for student in STUDENTS:
        assert _without_time(remote / student / "results.json") == _without_time(local / student / "results.json")
        assert (remote / student / "feedback.md").read_text() == (local / student / "feedback.md").read_text()


def test_workers_as_root_are_warned_about_once_per_class(local_run, tmp_path):
    """A root grader whose process-mode workers cannot drop privileges says so once, not once per student."""
    subs, _ = local_run
    run = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(subs), "--out", str(tmp_path / "out"),
                          "--jobs", "2", "--sandbox", "process"], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert run.returncode == 0, run.stderr
    can_drop, why = sandbox_drop.drop_status()
    expected = 1 if why and not can_drop else 0
    assert run.stderr.count("warning: sandbox process: the worker runs AS ROOT") == expected, run.stderr
