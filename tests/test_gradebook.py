"""gradebook.csv rows, and the merge with nbgrader's notebook grades (a real gradebook.db)."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.classroom.gradebook import (
    GradebookError,
    alembic_on_path,
    gradebook_rows,
    merge_files,
    points_by_function,
    read_gradebook,
    write_gradebook,
)
from autograder.classroom.jobs import JobResult

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _results(scores: dict, via_extra: bool = True) -> dict:
    tests = []
    for name, (score, top) in scores.items():
        tests += [{"name": f"{name}: values", "score": score, "max_score": top, "status": "passed" if score == top else "failed"}]
    results = {"score": sum(s for s, _ in scores.values()), "tests": tests}
    if via_extra:
        results["extra_data"] = {"functions": {n: {"score": s, "max_score": m} for n, (s, m) in scores.items()}}
    return results


def test_function_scores_from_extra_data_or_from_test_names():
    scores = {"rnn_forward": (2.5, 6.0), "clip_grad_norm": (6.0, 6.0)}
    assert points_by_function(_results(scores)) == points_by_function(_results(scores, via_extra=False)) == scores


def test_rows_keep_the_contract_order_and_give_error_rows_zero(tmp_path):
    outcomes = [
        JobResult("bob", "k", results=_results({"clip_grad_norm": (1.0, 6.0), "rnn_forward": (6.0, 6.0)})),
        JobResult("amy", "k", results=_results({"rnn_forward": (3.0, 6.0), "clip_grad_norm": (6.0, 6.0)}), cached=True),
        JobResult("cid", "", error="no graded module found"),
        JobResult("dan", "k", error="grader failed: RuntimeError"),
    ]
    header, rows = gradebook_rows(outcomes, handed_back=["cid"])
    assert header == ["student", "score", "max_score", "rnn_forward", "clip_grad_norm", "status", "feedback", "error"]
    assert rows[0] == {"student": "bob", "score": "7", "max_score": "12", "rnn_forward": "6", "clip_grad_norm": "1",
                       "status": "graded", "feedback": "bob/feedback.html", "error": ""}
    # a grade kept from an earlier run is a grade like any other: the CSV does not depend on the cache
    assert rows[1]["status"] == "graded" and rows[1]["score"] == "9" and rows[1]["feedback"] == "amy/feedback.html"
    assert rows[2] == {"student": "cid", "score": "0", "max_score": "12", "rnn_forward": "0", "clip_grad_norm": "0",
                       "status": "error", "feedback": "cid/feedback.html", "error": "no graded module found"}
    assert rows[3]["status"] == "error" and rows[3]["feedback"] == ""  # nothing to hand back: the TA's to look at
    write_gradebook(outcomes, tmp_path / "gradebook.csv", handed_back=["cid"])
    assert read_gradebook(tmp_path / "gradebook.csv") == rows
    again = [JobResult(o.student, o.key, results=o.results, error=o.error, cached=not o.cached) for o in outcomes]
    write_gradebook(again, tmp_path / "again.csv", handed_back=["cid"])
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "gradebook.csv").read_bytes()


def test_a_missing_or_broken_gradebook_is_named(tmp_path):
    with pytest.raises(GradebookError, match="no module gradebook at .*nope.csv: no such file .*grade-all"):
        read_gradebook(tmp_path / "nope.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(GradebookError, match="not a file"):
        read_gradebook(tmp_path / "folder.csv")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(GradebookError, match="not a module gradebook"):
        read_gradebook(tmp_path / "binary.csv")


pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's own autoflush warnings


@pytest.fixture(scope="module")
def course_db(tmp_path_factory) -> Path:
    """One nbgrader gradebook per module (creating one runs alembic: seconds); tests copy it."""
    path = tmp_path_factory.mktemp("nbgrader") / "gradebook.db"
    _create_nbgrader_db(path)
    return path


def _nbgrader_db(path: Path, course_db: Path) -> str:
    shutil.copyfile(course_db, path)
    return f"sqlite:///{path}"


def _create_nbgrader_db(path: Path) -> str:
    from nbgrader.api import Gradebook

    url = f"sqlite:///{path}"
    with alembic_on_path(), Gradebook(url) as gb:
        gb.add_assignment("rnn_lstm")
        gb.add_notebook("rnn_lstm", "rnn_lstm")
        gb.add_grade_cell("q_auto", "rnn_lstm", "rnn_lstm", max_score=6, cell_type="code")
        gb.add_grade_cell("q_written", "rnn_lstm", "rnn_lstm", max_score=4, cell_type="markdown")
        for student in ("alice", "bob", "pat", "zed"):
            gb.add_student(student)
        for student, auto, manual in (("alice", 5, 3), ("zed", 6, 1), ("pat", 4, None)):
            gb.add_submission("rnn_lstm", student)
            autograded = gb.find_grade("q_auto", "rnn_lstm", "rnn_lstm", student)
            autograded.auto_score, autograded.needs_manual_grade = auto, False  # as nbgrader autograde leaves it
            if manual is not None:  # as formgrader leaves a graded answer; pat's written answer waits
                written = gb.find_grade("q_written", "rnn_lstm", "rnn_lstm", student)
                written.manual_score, written.needs_manual_grade = manual, False
        gb.db.commit()
    return url


def _modules_csv(path: Path) -> Path:
    outcomes = [
        JobResult("alice", "k", results=_results({"rnn_forward": (50.0, 60.0), "clip_grad_norm": (40.0, 40.0)})),
        JobResult("bob", "k", results=_results({"rnn_forward": (10.0, 60.0), "clip_grad_norm": (0.0, 40.0)})),
        JobResult("eve", "", error="no graded module found"),
    ]
    write_gradebook(outcomes, path)
    return path


def _read(path: Path) -> dict:
    with path.open(newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_merge_with_an_nbgrader_gradebook(tmp_path, course_db):
    url = _nbgrader_db(tmp_path / "gradebook.db", course_db)
    modules = _modules_csv(tmp_path / "modules.csv")
    assert len(merge_files(modules, url, tmp_path / "grades.csv")) == 5
    rows = _read(tmp_path / "grades.csv")
    assert sorted(rows) == ["alice", "bob", "eve", "pat", "zed"]
    alice = rows["alice"]
    assert (alice["modules_score"], alice["notebook_score"], alice["notebook_max"], alice["total"], alice["total_max"]) == ("90", "8", "10", "98", "110")
    assert alice["rnn_forward"] == "50" and alice["notes"] == "" and alice["pending"] == "0"
    pat = rows["pat"]  # the written answer is not graded yet: its 4 points are missing from the total, and it says so
    assert (pat["notebook_score"], pat["pending"], pat["total"]) == ("4", "1", "4")
    assert "manual grading pending: 1 answer (4 points) not graded yet" in pat["notes"]
    assert rows["bob"]["notebook_score"] == "0" and rows["bob"]["notes"] == "no notebook submission"
    assert rows["eve"]["modules_score"] == "0" and "modules not graded: no graded module found" in rows["eve"]["notes"]
    assert "not in the nbgrader gradebook" in rows["eve"]["notes"]
    assert rows["zed"]["total"] == "7" and rows["zed"]["notes"] == "no module submission"


def test_nbgrader_export_uses_our_plugin(tmp_path, course_db):
    url = _nbgrader_db(tmp_path / "gradebook.db", course_db)
    modules = _modules_csv(tmp_path / "modules.csv")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(BIN / "nbgrader"), "export", "--exporter=autograder.integrations.nbgrader_export.ModuleGradesExportPlugin",
                           f"--ModuleGradesExportPlugin.modules={modules}", f"--CourseDirectory.db_url={url}",
                           f"--CourseDirectory.root={tmp_path}", "--to", str(tmp_path / "export.csv")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    merge_files(modules, url, tmp_path / "direct.csv")
    assert (tmp_path / "export.csv").read_text() == (tmp_path / "direct.csv").read_text()
    assert "manual grading is not finished" in done.stderr and "(pat)" in done.stderr  # nbgrader's log: a warning


def test_nbgrader_export_without_a_module_gradebook_says_so_without_a_traceback(tmp_path, course_db):
    url = _nbgrader_db(tmp_path / "gradebook.db", course_db)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(BIN / "nbgrader"), "export", "--exporter=autograder.integrations.nbgrader_export.ModuleGradesExportPlugin",
                           f"--ModuleGradesExportPlugin.modules={tmp_path / 'out' / 'gradebook.csv'}", f"--CourseDirectory.db_url={url}",
                           f"--CourseDirectory.root={tmp_path}", "--to", str(tmp_path / "export.csv")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert f"no module gradebook at {tmp_path / 'out' / 'gradebook.csv'}: no such file" in done.stderr
    assert not (tmp_path / "export.csv").exists()


def test_cli_merges_and_reports_bad_input(tmp_path, course_db, capsys):
    from autograder.cli import main

    _nbgrader_db(tmp_path / "gradebook.db", course_db)
    modules = _modules_csv(tmp_path / "modules.csv")
    db = str(tmp_path / "gradebook.db")
    assert main(["gradebook", "--modules", str(modules), "--db", db, "--out", str(tmp_path / "g.csv")]) == 0
    assert sorted(_read(tmp_path / "g.csv")) == ["alice", "bob", "eve", "pat", "zed"]
    said = capsys.readouterr()
    assert "wrote" in said.out and "5 students" in said.out
    assert "manual grading is not finished: 1 answer of 1 student (pat)" in said.err
    assert main(["gradebook", "--modules", str(tmp_path / "nope.csv"), "--db", db, "--out", str(tmp_path / "h.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err
    assert main(["gradebook", "--modules", str(modules), "--db", str(tmp_path / "missing.db"), "--out", str(tmp_path / "h.csv")]) == 2
    assert "missing.db" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("name,points\nx,1\n")
    assert main(["gradebook", "--modules", str(tmp_path / "bad.csv"), "--db", db, "--out", str(tmp_path / "h.csv")]) == 2
    assert "not a module gradebook" in capsys.readouterr().err
    assert not (tmp_path / "h.csv").exists()


def test_course_config_points_nbgrader_at_this_repository():
    from traitlets.config import Config

    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(REPO / "nbgrader_config.py")}
    exec(compile((REPO / "nbgrader_config.py").read_text(), "nbgrader_config.py", "exec"), namespace)
    course = config.CourseDirectory
    assert course.root == str(REPO) and course.source_directory == "source"
    assert course.db_url == f"sqlite:///{REPO / 'gradebook.db'}"
    assert config.ExportApp.plugin_class == "autograder.integrations.nbgrader_export.ModuleGradesExportPlugin"
    ignored = (REPO / ".gitignore").read_text().split()
    for folder in ("submitted", "autograded", "feedback", course.release_directory):
        assert f"/{folder}/" in ignored, folder
    assert "/gradebook.db" in ignored
