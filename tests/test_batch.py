"""grade-all: discovery, per-student outputs, error rows, resumability, bad input.

Runs the batch machinery against the stand-in grader in test_batch_standin.py (real processes,
real files); tests/test_examples.py checks the same against the real grader.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import test_batch_standin as standin

from autograder.classroom import batch, jobs
from autograder.classroom.batch import BatchInputError, GraderSpec, discover, grade_all
from autograder.engine import pack
from autograder.feedback.html import markdown_to_html
from autograder.sandbox.launch import resolve_mode

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions" / "rnn_lstm"
RELEASE = REPO / "assignments" / "rnn_lstm"
SPEC = GraderSpec(grade=f"{standin.__name__}:grade_submission", feedback=f"{standin.__name__}:feedback_markdown",
                  write_results=f"{standin.__name__}:write_results")
MODULES = ("rnn_layers.py", "lstm_layers.py", "deep_layers.py", "gradient_flow.py")


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in MODULES:
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def _class(root: Path) -> Path:
    subs = root / "subs"
    _copy(SOLUTIONS, subs / "alice")
    _copy(RELEASE, subs / "bob")
    _copy(SOLUTIONS, subs / "carol" / "rnn_lstm")  # nbgrader layout
    wrong = subs / "dave"
    wrong.mkdir()
    (wrong / "rnn.py").write_text("x = 1\n")
    return subs


def _rows(out: Path) -> dict:
    with (out / "gradebook.csv").open(newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_discover_layouts_and_warnings(tmp_path):
    subs = _class(tmp_path)
    (subs / "notes.txt").write_text("not a student")
    (subs / ".hidden").mkdir()
    students, warnings = discover(subs)
    assert [s.id for s in students] == ["alice", "bob", "carol", "dave"]
    by_id = {s.id: s for s in students}
    assert by_id["carol"].module_dir == subs / "carol" / "rnn_lstm"
    assert by_id["alice"].module_dir == subs / "alice"
    assert by_id["dave"].module_dir is None and "rnn_layers.py" in by_id["dave"].problem and "rnn.py" in by_id["dave"].problem
    assert warnings == ["ignored notes.txt: a file, not a student folder"]


@pytest.mark.parametrize("make", ["missing", "file", "empty", "only-files"])
def test_bad_submissions_folder_is_refused(tmp_path, make):
    target = tmp_path / "subs"
    if make == "file":
        target.write_text("x")
    elif make == "empty":
        target.mkdir()
    elif make == "only-files":
        target.mkdir()
        (target / "a.py").write_text("")
    with pytest.raises(BatchInputError) as info:
        discover(target)
    assert str(target) in str(info.value)


def test_grade_all_writes_every_student_and_matches_single_grading(tmp_path):
    subs = _class(tmp_path)
    out = tmp_path / "out"
    report = grade_all(subs, out, jobs=2, spec=SPEC, progress=False)
    rows = _rows(out)
    assert sorted(rows) == ["alice", "bob", "carol", "dave"]
    for student, folder in (("alice", subs / "alice"), ("bob", subs / "bob"), ("carol", subs / "carol" / "rnn_lstm")):
        single = standin.grade_submission(folder)
        assert float(rows[student]["score"]) == pytest.approx(single["score"])
        for name, value in single["extra_data"]["functions"].items():
            assert float(rows[student][name]) == pytest.approx(value["score"])
        assert json.loads((out / student / "results.json").read_text())["score"] == pytest.approx(single["score"])
        assert (out / student / "feedback.md").read_text() == standin.feedback_markdown(single)
        assert "<table>" in (out / student / "feedback.html").read_text()
    assert float(rows["alice"]["score"]) == 70 and float(rows["bob"]["score"]) == 0
    assert rows["dave"]["status"] == "error" and rows["dave"]["score"] == "0" and rows["dave"]["max_score"] == "70"
    assert "no graded module found" in rows["dave"]["error"]
    assert "no graded module found" in (out / "dave" / "error.txt").read_text()
    assert [o.student for o in report.errors] == ["dave"]
    summary = (out / "summary.md").read_text()
    assert "dave" in summary and "rnn_step_forward" in summary
    assert f"Sandbox: {resolve_mode('auto')}." in summary  # the mode that ran, as the stand-in reports it
    assert (out / "score_histogram.png").stat().st_size > 1000 and (out / "function_means.png").stat().st_size > 1000


@pytest.mark.serial  # a job gets 5 s of wall clock: a busy neighbour could make the good one late
def test_grader_exceptions_dying_and_hanging_processes_become_error_rows(tmp_path):
    subs = tmp_path / "subs"
    _copy(SOLUTIONS, subs / "good")
    raises = _copy(SOLUTIONS, subs / "raises")
    (raises / "rnn_layers.py").write_text((raises / "rnn_layers.py").read_text() + "\n# STANDIN_RAISE\n")
    dies = _copy(SOLUTIONS, subs / "dies")
    (dies / "rnn_layers.py").write_text((dies / "rnn_layers.py").read_text() + "\n# STANDIN_EXIT\n")
    hangs = _copy(SOLUTIONS, subs / "hangs")
    pid_file = tmp_path / "worker.pid"
    (hangs / "rnn_layers.py").write_text((hangs / "rnn_layers.py").read_text() + f"\n# STANDIN_SLEEP {pid_file}\n")
    out = tmp_path / "out"
    grade_all(subs, out, jobs=2, spec=SPEC, progress=False, summary=False, job_seconds=5)
    rows = _rows(out)
    assert rows["good"]["status"] == "graded" and float(rows["good"]["score"]) == 70
    assert rows["raises"]["status"] == "error" and "stand-in grader raised on purpose" in rows["raises"]["error"]
    assert rows["dies"]["status"] == "error" and "process died (exit code 3" in rows["dies"]["error"]
    assert rows["hangs"]["status"] == "error" and "longer than 5 s" in rows["hangs"]["error"]
    worker = psutil.Process(int(pid_file.read_text()))  # the hung job's own worker, in its own session
    assert worker.wait(timeout=10) is not None or not worker.is_running()


def test_a_submission_that_fails_to_read_is_an_error_row(tmp_path, monkeypatch):
    subs = _class(tmp_path)
    real = batch.read_modules

    def flaky(folder):
        if folder.name == "bob":
            raise PermissionError(13, "Permission denied", str(folder / "rnn_layers.py"))
        return real(folder)

    monkeypatch.setattr(batch, "read_modules", flaky)
    grade_all(subs, tmp_path / "out", jobs=1, spec=SPEC, progress=False, summary=False)
    rows = _rows(tmp_path / "out")
    assert rows["bob"]["status"] == "error" and "cannot read the submission" in rows["bob"]["error"]
    assert "Permission denied" in (tmp_path / "out" / "bob" / "error.txt").read_text()
    assert rows["alice"]["status"] == "graded"


def test_rerun_grades_only_new_or_changed_submissions(tmp_path):
    subs = _class(tmp_path)
    out = tmp_path / "out"
    grade_all(subs, out, jobs=2, spec=SPEC, progress=False, summary=False)
    first_bob = (out / "bob" / "results.json").read_text()
    first_gradebook = (out / "gradebook.csv").read_bytes()
    again = grade_all(subs, out, jobs=2, spec=SPEC, progress=False, summary=False)
    assert again.graded == 0 and again.cached == 3  # dave has nothing to grade and is reported again
    # whether a grade was kept is the report's (printed), not the gradebook's: the same bytes
    assert (out / "gradebook.csv").read_bytes() == first_gradebook
    assert {r["status"] for s, r in _rows(out).items() if s != "dave"} == {"graded"}
    # bob fixes rnn_layers.py; erin submits late
    (subs / "bob" / "rnn_layers.py").write_bytes((SOLUTIONS / "rnn_layers.py").read_bytes())
    _copy(SOLUTIONS, subs / "erin")
    third = grade_all(subs, out, jobs=2, spec=SPEC, progress=False, summary=False)
    rows = _rows(out)
    assert third.graded == 2
    assert rows["bob"]["status"] == "graded" and float(rows["bob"]["score"]) == 20
    assert rows["erin"]["status"] == "graded" and rows["alice"]["status"] == "graded" and third.cached == 2
    assert (out / "bob" / "results.json").read_text() != first_bob
    forced = grade_all(subs, out, jobs=2, force=True, spec=SPEC, progress=False, summary=False)
    assert forced.graded == 4 and forced.cached == 0


def test_a_changed_grader_or_reference_regrades_everyone(tmp_path, monkeypatch):
    subs = _class(tmp_path)
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False, summary=False)
    monkeypatch.setattr(batch, "grader_fingerprint", lambda: "a new rubric")
    assert grade_all(subs, out, jobs=1, spec=SPEC, progress=False, summary=False).graded == 3


def test_the_fingerprint_follows_the_reference(tmp_path, monkeypatch):
    reference = tmp_path / "solutions"
    shutil.copytree(SOLUTIONS, reference)
    monkeypatch.setitem(pack._loaded, "rnn_lstm", dataclasses.replace(pack.load("rnn_lstm"), reference_dir=reference))
    before = jobs.grader_fingerprint()
    (reference / "rnn_layers.py").write_text((reference / "rnn_layers.py").read_text() + "\n# changed\n")
    after = jobs.grader_fingerprint()
    assert len(before) == 64 and before != after


def test_the_fingerprint_follows_the_grading_packages(monkeypatch):
    before = jobs.grader_fingerprint()
    assert "numpy==" in jobs.package_versions() and "hypothesis==" in jobs.package_versions()
    monkeypatch.setattr(jobs, "package_versions", lambda: "numpy==0.0;hypothesis==0.0")  # a new pin
    assert jobs.grader_fingerprint() != before


def test_a_results_file_from_elsewhere_is_not_trusted(tmp_path):
    subs = _class(tmp_path)
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False, summary=False)
    meta = json.loads((out / "bob" / "meta.json").read_text())
    (out / "bob" / "meta.json").write_text(json.dumps({**meta, "key": "0" * 64}))
    assert grade_all(subs, out, jobs=1, spec=SPEC, progress=False, summary=False).graded == 1


def test_unwritable_output_keeps_previous_results(tmp_path):
    subs = _class(tmp_path)
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False, summary=False)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(BatchInputError, match="not writable"):
        grade_all(subs, out / "gradebook.csv" / "nested", jobs=1, spec=SPEC, progress=False)
    with pytest.raises(BatchInputError, match="not found"):
        grade_all(tmp_path / "nope", out, jobs=1, spec=SPEC, progress=False)
    with pytest.raises(BatchInputError, match="is the submissions folder"):
        grade_all(subs, subs, jobs=1, spec=SPEC, progress=False)
    assert not (subs / "gradebook.csv").exists() and not (subs / "alice" / "results.json").exists()
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_student_folders_named_like_class_reports_are_error_rows(tmp_path):
    subs = _class(tmp_path)
    _copy(SOLUTIONS, subs / "summary.md")
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False)
    rows = _rows(out)
    assert rows["summary.md"]["status"] == "error" and "reserved" in rows["summary.md"]["error"]
    assert (out / "summary.md").is_file() and "# Class summary" in (out / "summary.md").read_text()


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    subs = _class(tmp_path)
    (tmp_path / "out").write_text("keep me")
    with pytest.raises(BatchInputError, match="is a file"):
        grade_all(subs, tmp_path / "out", jobs=1, spec=SPEC, progress=False)
    assert (tmp_path / "out").read_text() == "keep me"


def test_an_unknown_sandbox_mode_is_refused_before_grading(tmp_path):
    subs = _class(tmp_path)
    with pytest.raises(BatchInputError, match="unknown sandbox mode"):
        grade_all(subs, tmp_path / "out", sandbox="docker", spec=SPEC, progress=False)
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_output_folder_inside_submissions_is_not_a_student(tmp_path):
    subs = _class(tmp_path)
    report = grade_all(subs, subs / "graded", jobs=1, spec=SPEC, progress=False, summary=False)
    assert "graded" not in [o.student for o in report.outcomes]


def test_grade_job_grades_the_hashed_bytes_when_the_folder_is_gone(tmp_path):
    folder = _copy(SOLUTIONS, tmp_path / "alice")
    files = jobs.read_modules(folder)
    job = jobs.Job("alice", str(tmp_path / "moved-away"), files, jobs.content_hash(files), "auto", SPEC.grade)
    outcome = jobs.grade_job(job)
    assert outcome.error is None and outcome.results["score"] == standin.grade_submission(folder)["score"]


def test_a_worker_with_another_grader_version_refuses_the_job(tmp_path):
    folder = _copy(SOLUTIONS, tmp_path / "alice")
    files = jobs.read_modules(folder)
    job = jobs.Job("alice", str(folder), files, jobs.content_hash(files), "auto", SPEC.grade, fingerprint="0" * 64)
    outcome = jobs.grade_job(job)
    assert outcome.results is None and "differs from the one that made the job" in outcome.error


def test_a_symlinked_module_travels_as_a_link_not_as_the_file_it_points_to(tmp_path):
    folder = _copy(SOLUTIONS, tmp_path / "mallory")
    (folder / "rnn_layers.py").unlink()
    (folder / "rnn_layers.py").symlink_to(SOLUTIONS / "rnn_layers.py")
    files = jobs.read_modules(folder)
    assert files["rnn_layers.py"] == jobs.SYMLINK + str(SOLUTIONS / "rnn_layers.py").encode()
    again = tmp_path / "again"
    again.mkdir()
    jobs.write_modules(files, again)
    assert (again / "rnn_layers.py").is_symlink() and jobs.read_modules(again) == files


def test_cli_reports_bad_input_with_nonzero_exit(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "submissions folder not found" in done.stderr and str(tmp_path / "missing") in done.stderr
    assert not (tmp_path / "o").exists()


def test_feedback_html_escapes_raw_html_and_unsafe_links():
    page = markdown_to_html("# Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) [ok](https://example.org)\n\n| a |\n|---|\n| 1 |\n")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "javascript:" not in page and 'href="https://example.org"' in page
    assert "<table>" in page and "<h1>Hi</h1>" in page


def test_gradebook_table_shows_every_student(tmp_path, capsys):
    from autograder.cli.grade_all import print_table

    subs = _class(tmp_path)
    grade_all(subs, tmp_path / "out", jobs=1, spec=SPEC, progress=False, summary=False)
    print_table(tmp_path / "out" / "gradebook.csv")
    shown = capsys.readouterr().out
    for student, score in (("alice", "70"), ("bob", "0"), ("carol", "70"), ("dave", "0")):
        assert re.search(rf"{student}\s*│\s*{score}\s*│\s*70\s*│", shown), student
    assert "no graded module found" in shown


def test_the_fingerprint_follows_the_content_of_the_grading_code_not_of_reports(tmp_path):
    package = tmp_path / "autograder"
    shutil.copytree(Path(jobs.__file__).resolve().parent.parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = jobs.grader_fingerprint(package)
    (package / "classroom" / "new_report.py").write_text("REPORT = 1\n")  # a new report: no regrade
    (package / "cli" / "grade_all.py").write_text((package / "cli" / "grade_all.py").read_text() + "\n# edited\n")
    assert jobs.grader_fingerprint(package) == before
    hidden = package / "engine" / "hidden_tests.py"
    hidden.write_text(hidden.read_text() + "\n# a changed hidden test\n")
    assert jobs.grader_fingerprint(package) != before


def test_the_fingerprint_follows_the_packs_data(tmp_path, monkeypatch):
    rnn = pack.load("rnn_lstm")
    folder = tmp_path / "rnn_lstm"
    shutil.copytree(rnn.folder, folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setitem(pack._loaded, "rnn_lstm", dataclasses.replace(rnn, folder=folder))
    before = jobs.grader_fingerprint()
    (folder / "rubric.toml").write_text((folder / "rubric.toml").read_text().replace("examples = 12", "examples = 13", 1))
    assert jobs.grader_fingerprint() != before
