"""End to end: the hostile corpus (tests/hostile/corpus.py) graded by ``grade_submission``/the CLI.

For every submission: the score is the reference's minus exactly the points of the functions the
twist breaks (every other test passes), grading finishes within the issue's 5 minutes, no process
of it survives (the test process is a child subreaper, so anything that escaped the grader's tree
becomes our child and is seen), no file outside the grader's output changes (the decoy, the other
student's submission and the submission itself are hashed before and after; forged files must
not appear), nothing reaches the listener on 127.0.0.1, and no secret of the grader's
environment and no "BREACH" appears in the results.

To keep the suite fast, the rubric's example counts are capped at 3 (points and tests stay
those of autograder/packs/rnn_lstm/rubric.toml) and the worker's memory at 1 GiB instead of 2. Every twist runs in bwrap mode
and in process mode (as whatever user runs the tests; tests/test_sandbox_confined.py grades the attacks
in process mode as root and as an ordinary user).
"""
from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli is the same parser, backported
    import tomli as tomllib
from pathlib import Path
from typing import Dict, List

import psutil
import pytest

from autograder.engine import grade
from autograder.packs.rnn_lstm import SOLUTIONS_DIR
from autograder.paths import REPO_ROOT
from autograder.sandbox import confine
from autograder.sandbox import launch as sandbox

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("hostile_corpus", HERE / "hostile" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules["hostile_corpus"] = corpus  # dataclasses look their module up there
_spec.loader.exec_module(corpus)  # type: ignore[union-attr]

BWRAP_OK, BWRAP_WHY = sandbox.bwrap_status()
PR_SET_CHILD_SUBREAPER = 36
GRADE_LIMIT_SECONDS = 300  # "the grader survives each within 5 minutes"
SECRET_NAME = "GRADER_SECRET"
# A sweep over the hostile corpus (28 gradings, a few waiting out a call timeout). Alone under xdist: it
# times each grading, and its fork bombs fill the sandbox uid's process limit, which a neighbour shares.
pytestmark = [pytest.mark.slow, pytest.mark.serial]


def expected_loss(hostile) -> float:
    """Points the twist must cost, read from the rubric file itself (not through the grader)."""
    with open(REPO_ROOT / "autograder" / "packs" / "rnn_lstm" / "rubric.toml", "rb") as handle:
        rubric = tomllib.load(handle)
    return sum(t["points"] for name in hostile.lost for t in rubric[name]["tests"]
               if t["kind"] not in hostile.kept_kinds)


def should_fail(hostile, test: dict) -> bool:
    return test["name"].split(":")[0] in hostile.lost and test["extra_data"]["kind"] not in hostile.kept_kinds


def tree_hash(root: Path) -> Dict[str, str]:
    hashes = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            hashes[str(path.relative_to(root))] = "link:" + os.readlink(path)
        elif path.is_file():
            hashes[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def own_live_children(exclude: set) -> List[str]:
    """Children of this (subreaper) process that are alive and were not there before; reap zombies."""
    found = []
    for child in psutil.Process().children():
        if child.pid in exclude:
            continue
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)
                continue
            found.append(f"{child.pid} uid={child.uids().real} {' '.join(child.cmdline())[:120]}")
        except (psutil.NoSuchProcess, ChildProcessError):
            continue
    return found


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory):
    """Decoy files, another student's submission, a listener, a secret, a subreaper, fewer examples."""
    base = tmp_path_factory.mktemp("hostile")
    decoy = base / "decoy"
    corpus.copy_tree(SOLUTIONS_DIR, decoy / "solutions")
    (decoy / "rubric.toml").write_bytes((REPO_ROOT / "autograder" / "packs" / "rnn_lstm" / "rubric.toml").read_bytes())
    other = corpus.copy_tree(SOLUTIONS_DIR, base / "other_submission")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    tag = secrets.token_hex(4)
    context = {"repo": REPO_ROOT, "port": listener.getsockname()[1], "decoy": decoy, "other": other,
               "results": base / "results.json", "tag": tag}
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    patch = pytest.MonkeyPatch()
    patch.setenv(SECRET_NAME, "s3cr3t-" + tag)
    fast = [dataclasses.replace(t, examples=min(t.examples, 3)) for t in grade.load_rubric()]
    patch.setattr(grade, "load_rubric", lambda *a, **k: list(fast))
    smaller = dataclasses.replace(grade.GRADING, memory_bytes=1024**3)  # memory bombs end sooner
    patch.setattr(grade, "GRADING", smaller)
    try:
        yield {"base": base, "decoy": decoy, "other": other, "listener": listener, "context": context, "tag": tag}
    finally:
        patch.undo()
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        listener.close()


KERNEL = confine.available()
KERNEL_MISSING = [f"{p}: {why}" for p, (works, why) in confine.status().items() if not works]


def cases() -> List:
    """Every twist in both modes. In process mode, the twists that attack files, the network or
    other processes need the worker's Landlock and seccomp; without them they are skipped (said why)."""
    params = []
    for name, hostile in corpus.CORPUS.items():
        for mode in ("bwrap", "process"):
            marks = []
            if mode == "bwrap":
                marks.append(pytest.mark.skipif(not BWRAP_OK, reason=f"bubblewrap does not work here: {BWRAP_WHY}"))
            elif hostile.needs_kernel:
                marks.append(pytest.mark.skipif(bool(KERNEL_MISSING), reason="process mode withstands this only with "
                                                f"Landlock and seccomp: {'; '.join(KERNEL_MISSING)}"))
            params.append(pytest.param(name, mode, id=f"{name}-{mode}", marks=marks))
    return params


@pytest.mark.parametrize("name, mode", cases())
def test_hostile_submission_is_graded_right_and_harms_nothing(name: str, mode: str, arena) -> None:
    hostile = corpus.CORPUS[name]
    submission = corpus.build(name, SOLUTIONS_DIR, arena["base"] / f"{name}-{mode}", arena["context"])
    watched = {"decoy": arena["decoy"], "other": arena["other"], "submission": submission}
    before = {key: tree_hash(path) for key, path in watched.items()}
    children_before = {child.pid for child in psutil.Process().children()}
    tag = arena["tag"]
    forged = [Path(f"/tmp/forged-{tag}.json"), REPO_ROOT / f"forged-{tag}.json", arena["context"]["results"]]

    started = time.monotonic()
    results = grade.grade_submission(submission, sandbox=mode)
    elapsed = time.monotonic() - started

    assert results["extra_data"]["sandbox"] == mode
    wrong = [(t["name"], t["status"], t["output"][:200]) for t in results["tests"]
             if (t["status"] == "passed") == should_fail(hostile, t)]
    assert wrong == [], f"{name}: tests with the wrong status: {wrong}"
    assert results["score"] == pytest.approx(100 - expected_loss(hostile))
    assert elapsed < GRADE_LIMIT_SECONDS

    text = json.dumps(results)
    assert "BREACH" not in text
    assert os.environ[SECRET_NAME] not in text
    if hostile.secret_text:
        assert hostile.secret_text not in text, f"{hostile.secret_text!r} reached the results"
    assert len(results["output"]) < 20_000  # student output is capped
    deadline = time.monotonic() + 10  # SIGKILLed processes take a moment to go
    while own_live_children(children_before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert own_live_children(children_before) == []
    assert {key: tree_hash(path) for key, path in watched.items()} == before
    leftovers = [str(p) for p in forged if p.exists()]
    for path in leftovers:
        path.unlink()
    assert leftovers == []
    try:
        arena["listener"].accept()[0].close()
        reached = True
    except BlockingIOError:
        reached = False
    assert not reached, "a connection reached the grader's listener on 127.0.0.1"


@pytest.mark.skipif(not BWRAP_OK, reason=f"bubblewrap does not work here: {BWRAP_WHY}")
def test_cli_grades_a_hostile_submission_in_bwrap_without_leaking_secrets(tmp_path: Path) -> None:
    """The real command line, real rubric and limits, a secret in its environment."""
    tag = secrets.token_hex(4)
    context = {"repo": REPO_ROOT, "port": 9, "decoy": tmp_path / "decoy", "other": tmp_path / "other",
               "results": tmp_path / "results.json", "tag": tag}
    submission = tmp_path / "submission"
    corpus.build("secrets", SOLUTIONS_DIR, submission, context)
    (submission / "lstm_layers.py").write_text((submission / "lstm_layers.py").read_text() + (
        "\nimport os\nfor _path in ('%s', '/tmp/forged-%s.json'):\n    try:\n"
        "        open(_path, 'w').write('{\"score\": 1000}')\n"
        "        print('BREACH wrote', _path) if not _path.startswith('/tmp/') else None\n"
        "    except OSError:\n        pass\n" % (tmp_path / "forged-by-student.json", tag)))
    env = dict(os.environ, GRADER_SECRET="cli-s3cr3t-" + tag, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submission), "--results",
                           str(tmp_path / "results.json"), "--feedback", str(tmp_path / "feedback.md"),
                           "--sandbox", "bwrap"], env=env, capture_output=True, text=True, timeout=GRADE_LIMIT_SECONDS)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["score"] == 100 and results["extra_data"]["sandbox"] == "bwrap"
    everything = (tmp_path / "results.json").read_text() + (tmp_path / "feedback.md").read_text() + done.stdout
    assert "cli-s3cr3t-" not in everything
    assert "BREACH" not in everything
    assert "bubblewrap" in results["output"]
    assert not Path(f"/tmp/forged-{tag}.json").exists()
    assert not (tmp_path / "forged-by-student.json").exists()
