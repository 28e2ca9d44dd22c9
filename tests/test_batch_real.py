"""grade-all with the real grader: the gradebook equals single-submission grading.

Three students of the example class (correct but written differently, one bug, the skeleton),
graded by grade-all with 2 jobs and then one by one with autograder.grade.grade_submission.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from autograder.batch import grade_all

grade = pytest.importorskip("autograder.grade", reason="the single-submission grader has not landed yet")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "submissions"
STUDENTS = ("written_differently", "lstm_dprev_c_missing_f", "skeleton")

pytestmark = pytest.mark.slow


def test_gradebook_equals_single_submission_grading(tmp_path):
    subs = tmp_path / "subs"
    for student in STUDENTS:
        shutil.copytree(EXAMPLES / student, subs / student)
    out = tmp_path / "out"
    report = grade_all(subs, out, jobs=2, sandbox="process", progress=False, summary=False)
    assert report.errors == []
    with (out / "gradebook.csv").open(newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == sorted(STUDENTS)
    for student in STUDENTS:
        single = grade.grade_submission(subs / student, sandbox="process")
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
