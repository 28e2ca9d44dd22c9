"""The repository as an nbgrader course, end to end in a temporary copy of it.

nbgrader_config.py (copied as is: it finds the course next to itself) -> ``nbgrader
generate_assignment`` -> a student's submission in ``submitted/<student>/rnn_lstm/`` ->
``nbgrader autograde`` (runs the notebook) -> ``grade-all submitted`` -> ``nbgrader export`` with
our exporter -> one CSV row with module and notebook grades.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.classroom.batch import grade_all
from autograder.classroom.gradebook import alembic_on_path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# One course flow, not a sweep: run by make test.
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_nbgrader_course_flow(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "source", course / "source", ignore=shutil.ignore_patterns("__pycache__"))
    _nbgrader(course, "generate_assignment", "rnn_lstm")
    assert (course / "gradebook.db").is_file() and (course / "release" / "rnn_lstm" / "rnn_lstm.ipynb").is_file()
    _nbgrader(course, "db", "student", "add", "alice")
    submission = course / "submitted" / "alice" / "rnn_lstm"
    shutil.copytree(REPO / "assignments" / "rnn_lstm", submission, ignore=shutil.ignore_patterns("__pycache__", ".github"))
    for module in ("rnn_layers.py", "lstm_layers.py", "deep_layers.py", "gradient_flow.py"):
        shutil.copy(REPO / "examples" / "submissions" / "perfect" / module, submission)
    notebook = submission / "rnn_lstm.ipynb"  # alice answers the three written questions
    answered = nbformat.read(str(notebook), as_version=4)
    for cell in answered.cells:
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "Because the gradient is a product of Jacobians over time."
    nbformat.write(answered, str(notebook))
    autograded = _nbgrader(course, "autograde", "rnn_lstm")
    assert (course / "autograded" / "alice" / "rnn_lstm" / "rnn_lstm.ipynb").is_file()
    # nbgrader issue #1961, as docs/nbgrader.md explains it: an untouched notebook gets one checksum
    # warning per locked test cell with hidden tests, and none for any other cell
    warned = set(re.findall(r"Attribute 'checksum' for cell (\S+) has changed!", autograded.stdout + autograded.stderr))
    source = nbformat.read(str(REPO / "source" / "rnn_lstm" / "rnn_lstm.ipynb"), as_version=4)
    hidden = {c.metadata["nbgrader"]["grade_id"] for c in source.cells
              if c.metadata.get("nbgrader", {}).get("locked") and "BEGIN HIDDEN TESTS" in c.source}
    assert len(hidden) == 7 and warned == hidden, (warned, hidden)

    report = grade_all(course / "submitted", course / "out", jobs=1, sandbox="process", progress=False, summary=False)
    assert [o.student for o in report.outcomes] == ["alice"] and report.errors == []

    _nbgrader(course, "export", "--to", "grades.csv")  # the exporter and its input come from nbgrader_config.py
    with (course / "grades.csv").open(newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    from nbgrader.api import Gradebook

    with alembic_on_path(), Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook_score = gb.find_submission("rnn_lstm", "alice").score
        notebook_max = gb.find_assignment("rnn_lstm").max_score
    assert row["student"] == "alice" and float(row["modules_score"]) == report.outcomes[0].results["score"] == 100
    assert notebook_max > 0 and float(row["notebook_max"]) == pytest.approx(notebook_max)
    assert float(row["notebook_score"]) == pytest.approx(notebook_score)
    assert float(row["total"]) == pytest.approx(100 + notebook_score)
    # the three written answers wait for formgrader: the export says so instead of a silent total
    # (an answer left as released is scored 0 by autograde and waits for nobody)
    assert row["pending"] == "3" and "manual grading pending: 3 answers (9 points)" in row["notes"]
