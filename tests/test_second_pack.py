"""A second assignment pack (tests/packs/affine: an affine layer forward and backward) graded by the
same engine and commands as rnn_lstm: the engine knows no assignment."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from autograder.engine import pack

REPO_ROOT = Path(__file__).resolve().parent.parent
AFFINE = REPO_ROOT / "tests" / "packs" / "affine"
SUBMISSIONS = AFFINE / "submissions"
RIGHT = AFFINE / "reference"  # the right submission is the reference itself
MODE = "process"  # the sandbox is tested elsewhere; process mode runs everywhere


def _autograder(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "--pack", str(AFFINE), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _grade(submission: Path, tmp_path: Path) -> Dict[str, Any]:
    results = tmp_path / f"{submission.name}.json"
    done = _autograder("grade", str(submission), "--results", str(results), "--sandbox", MODE)
    assert done.returncode == 0, done.stderr
    return json.loads(results.read_text())


def _by_function(results: Dict[str, Any]) -> Dict[str, float]:
    lost: Dict[str, float] = {}
    for test in results["tests"]:
        function = test["extra_data"]["function"]
        lost[function] = lost.get(function, 0.0) + test["max_score"] - test["score"]
    return lost


def test_the_pack_loads_from_its_folder():
    affine = pack.load(str(AFFINE))
    assert [f.name for f in affine.functions] == ["affine_forward", "affine_backward"]
    assert affine.graded_modules == ("affine_layers",) and affine.rubric.is_file()


def test_the_right_submission_gets_full_marks(tmp_path):
    results = _grade(RIGHT, tmp_path)
    assert results["score"] == 100 == sum(t["max_score"] for t in results["tests"])
    assert {t["extra_data"]["function"] for t in results["tests"]} == {"affine_forward", "affine_backward"}
    assert all(t["status"] == "passed" for t in results["tests"])
    assert all(n > 0 for n in results["extra_data"]["examples"].values())


def test_a_backward_mistake_costs_points_in_the_backward_only(tmp_path):
    results = _grade(SUBMISSIONS / "wrong_backward", tmp_path)
    lost = _by_function(results)
    assert lost["affine_forward"] == 0 and lost["affine_backward"] > 0
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert any("db is wrong" in t["output"] for t in failed)


def test_a_forward_mistake_is_charged_to_the_forward_not_to_its_backward(tmp_path):
    # the forward doubles w, in its output and in its cache: with that cache the (right) backward's
    # dx is wrong too, so only judging it where its forward is right keeps its points
    results = _grade(SUBMISSIONS / "wrong_forward", tmp_path)
    lost = _by_function(results)
    assert lost["affine_forward"] > 0 and lost["affine_backward"] == 0
    backward = [t for t in results["tests"] if t["extra_data"]["function"] == "affine_backward"]
    assert any("affine_forward is wrong" in t["output"] for t in backward)  # the feedback says where it lives


def test_grade_all_grades_a_class_of_the_pack_into_a_gradebook(tmp_path):
    klass = tmp_path / "class"
    for name, submission in (("right", RIGHT), ("wrong_backward", SUBMISSIONS / "wrong_backward"),
                             ("wrong_forward", SUBMISSIONS / "wrong_forward")):
        shutil.copytree(submission, klass / name)
    out = tmp_path / "out"
    done = _autograder("grade-all", str(klass), "--out", str(out), "--jobs", "2", "--sandbox", MODE, "--no-progress")
    assert done.returncode == 0, done.stderr
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    # wrong_backward averages db, which is right when N = 1: it computes, so its in-place point (5), which holds,
    # counts (the evidence rule); its values, gradient and edge tests (45) do not
    assert {k: float(rows[k]["score"]) for k in rows} == {"right": 100.0, "wrong_backward": 55.0, "wrong_forward": 50.0}
    assert "affine_forward" in next(iter(rows.values())) and "rnn_step_forward" not in next(iter(rows.values()))


@pytest.mark.parametrize("given", ["no_such_pack", "tests/packs/no_such_folder"])
def test_an_unknown_pack_is_named_in_a_clear_message(given):
    done = subprocess.run([sys.executable, "-m", "autograder", "--pack", given, "grade", str(RIGHT),
                           "--results", "/dev/null"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no assignment pack" in done.stderr and "Traceback" not in done.stderr
