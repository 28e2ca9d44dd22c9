"""Ctrl-C during ``grade-all``: the first SIGINT stops it within seconds, with the gradebook of what finished.

Two classes, both graded by ``python -m autograder grade-all`` in a subprocess that is sent SIGINT:

- the stand-in grader (test_batch_standin.py), where two students hang while a file exists, each
  with a child process in a session of its own (as a sandboxed worker is): the run must end within
  10 s, kill those children, list exactly the students that finished, say how to resume, and a
  rerun (the file gone) must complete the class, keeping what finished;
- the real grader on part of the example class, interrupted once the first student is written.
"""
from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
SOLUTIONS = REPO / "solutions" / "rnn_lstm"
EXAMPLES = REPO / "examples" / "submissions"
MODULES = ("rnn_layers.py", "lstm_layers.py", "deep_layers.py", "gradient_flow.py")
LIMIT = 10.0  # seconds from SIGINT to exit

# grade-all's command line with the stand-in grader in place of the real one
STANDIN_CLI = f"""
import functools, sys
sys.path.insert(0, {str(TESTS)!r})
from autograder.classroom.batch import GraderSpec
from autograder.cli import grade_all as command
command.grade_all = functools.partial(command.grade_all, spec=GraderSpec(
    grade="test_batch_standin:grade_submission", feedback="test_batch_standin:feedback_markdown",
    write_results="test_batch_standin:write_results"))
from autograder.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _rows(out: Path) -> Dict[str, Dict[str, str]]:
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def _wait_for(condition, seconds: float, process: subprocess.Popen) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"grade-all ended early: {process.communicate()}"
        assert time.monotonic() < deadline, "timed out waiting for grade-all"
        time.sleep(0.1)


def _interrupt(process: subprocess.Popen) -> float:
    """Send SIGINT; the seconds until the process exits (fails past LIMIT)."""
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=LIMIT + 20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return time.monotonic() - sent


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_first_sigint_stops_within_seconds_and_a_rerun_completes_the_class(tmp_path: Path) -> None:
    subs, out, flag = tmp_path / "subs", tmp_path / "out", tmp_path / "hang"
    flag.write_text("hang while this file exists")
    students = ["alice", "bob", "carol", "dave", "erin", "frank"]
    for student in students:
        folder = subs / student
        folder.mkdir(parents=True)
        for name in MODULES:
            shutil.copy(SOLUTIONS / name, folder / name)
    for student in ("carol", "dave"):  # graded right after alice and bob; they hang until the flag goes
        rnn = subs / student / "rnn_layers.py"
        rnn.write_text(rnn.read_text() + f"\n# STANDIN_HANG_WHILE {flag} {tmp_path / (student + '.pid')}\n")
    command = [sys.executable, "-c", STANDIN_CLI, "grade-all", str(subs), "--out", str(out), "--jobs", "2",
               "--sandbox", "process", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_files = [tmp_path / "carol.pid", tmp_path / "dave.pid"]
    _wait_for(lambda: all(p.is_file() and p.read_text() for p in pid_files), 120, process)
    children = [int(p.read_text()) for p in pid_files]
    assert all(_alive(pid) for pid in children)

    seconds = _interrupt(process)
    stdout, stderr = process.communicate()
    assert seconds < LIMIT, (seconds, stderr)
    assert process.returncode == 130, stderr
    assert set(_rows(out)) == {"alice", "bob"}, stderr  # what finished, nothing else
    assert "interrupted" in stderr and "run the same command again" in stderr and "carol" in stderr, stderr
    assert "4 students not graded yet" in stderr and "the 2 students that finished" in stderr, stderr
    time.sleep(0.5)
    assert not any(_alive(pid) for pid in children), "the hanging jobs' children were not killed"
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="interrupted"' in page and "erin" in page.split('id="interrupted"', 1)[1].split("</p>", 1)[0]

    flag.unlink()
    rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    rows = _rows(out)
    assert sorted(rows) == students and all(r["status"] == "graded" for r in rows.values())
    assert "6 students: 4 graded now, 2 unchanged since the last run" in rerun.stdout, rerun.stdout
    assert 'id="interrupted"' not in (out / "index.html").read_text(encoding="utf-8")


def test_a_second_sigint_stops_the_running_jobs_at_once(tmp_path: Path) -> None:
    from autograder.classroom.jobs import Stop

    stop = Stop(grace=60.0)
    stop.request()
    first = stop.deadline()
    stop.request(now=True)
    assert first is not None and stop.deadline() is not None and stop.deadline() < first  # type: ignore[operator]
    assert stop.deadline() == stop.since


def _leftovers(marker: str) -> List[int]:
    """Processes whose command line names ``marker`` (a sandboxed worker names its submission)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(marker in part for part in process.info["cmdline"] or []) and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.slow
def test_the_real_grader_stops_within_seconds_and_resumes(tmp_path: Path) -> None:
    subs, out = tmp_path / "interrupted-class", tmp_path / "out"
    students = ["hostile", "lstm_gate_order_ifog", "misnamed_files", "perfect", "skeleton"]
    for student in students:
        shutil.copytree(EXAMPLES / student, subs / student)
    command = [sys.executable, "-m", "autograder", "grade-all", str(subs), "--out", str(out), "--jobs", "2", "--no-progress"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def first_written() -> Optional[bool]:
        return any((out / s / "results.json").is_file() for s in students) or None

    _wait_for(first_written, 600, process)
    seconds = _interrupt(process)
    stdout, stderr = process.communicate()
    assert seconds < LIMIT, (seconds, stderr)
    finished = {s for s in students if (out / s / "results.json").is_file()} | {"misnamed_files"}
    if process.returncode == 0:  # every student finished within the grace: nothing was left to stop
        assert finished == set(students), stderr
    else:
        assert process.returncode == 130 and "run the same command again" in stderr, stderr
    assert set(_rows(out)) == finished, stderr
    time.sleep(1)
    assert _leftovers(str(subs)) == [], "sandboxed workers were left running"

    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert rerun.returncode == 0, rerun.stderr
    rows = _rows(out)
    assert sorted(rows) == students
    assert float(rows["perfect"]["score"]) == 100 and rows["misnamed_files"]["status"] == "error"


def test_the_command_to_resume_repeats_the_run_without_force() -> None:
    from autograder.cli.grade_all import rerun_command

    main = str(REPO / "autograder" / "__main__.py")
    assert rerun_command([main, "grade-all", "sub mitted", "--out", "out", "--force", "--jobs", "2"]) == \
        "python -m autograder grade-all 'sub mitted' --out out --jobs 2"
