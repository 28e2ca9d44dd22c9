"""Process mode when the grader is ROOT (Gradescope's Docker): the worker drops to uid 65534.

The dropped uid must reach the Python runtime. On this machine pyenv's runtime is below /root (mode
700), so each test runs its grader side (tests/hostile/dropped_driver.py, or the bundle's
run_autograder) as root in a private mount namespace where /root is a world-searchable tmpfs
holding only the runtime (``reveal_runtime_command`` of tests/test_sandbox_user.py): what an
installation in /opt looks like. Outside it the probe must say that the worker cannot drop.

The Gradescope test also hides the bubblewrap binary in that namespace, so ``auto`` falls back to
process mode as it does in Docker without user namespaces.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from test_sandbox_user import reveal_runtime_command

from autograder.integrations.bundle import build_bundle
from autograder.paths import REPO_ROOT
from autograder.sandbox import bwrap as sandbox_bwrap
from autograder.sandbox import confine
from autograder.sandbox import drop as sandbox_drop
from autograder.sandbox import launch as sandbox

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "hostile" / "dropped_driver.py"
HOSTILE = REPO_ROOT / "examples" / "submissions" / "hostile"
PROCESSES = 12
FORKS = 100


def _requirements() -> None:
    if os.geteuid() != 0:
        pytest.skip(f"the grader runs as uid {os.getuid()}, not root: process mode has no privilege to drop")
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (util-linux) is needed to show uid 65534 a runtime below a closed directory")


@pytest.fixture
def base() -> Iterator[Path]:
    """A world-searchable scratch folder (pytest's own tmp_path is mode 0700: it would hide everything)."""
    folder = Path(tempfile.mkdtemp(prefix="sandbox-dropped-test-"))
    os.chmod(folder, 0o755)
    (folder / "hold").mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _in_namespace(argv: List[str], base: Path, env: Dict[str, str], hide_bwrap: bool = False,
                  timeout: float = 300) -> subprocess.CompletedProcess:
    """``argv`` as root where uid 65534 can reach the runtime (and, optionally, bwrap is gone)."""
    run = ["env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv]
    if hide_bwrap:
        folder = Path(sandbox_bwrap.bwrap_binary()).parent
        run = ["sh", "-c", f'mount -t tmpfs -o size=1m tmpfs "{folder}" && exec "$@"', "sh", *run]
    return subprocess.run(reveal_runtime_command(run, base / "hold"), capture_output=True, text=True, timeout=timeout)


def test_outside_the_namespace_the_probe_says_why_the_worker_cannot_drop() -> None:
    """Here the runtime is in /root (mode 700): the worker would stay root, and the results say so."""
    _requirements()
    closed = sandbox_drop.closed_paths()
    if not closed:
        pytest.skip("the runtime is readable by every user on this machine: nothing blocks the drop")
    works, why = sandbox_drop.drop_status()
    assert not works and closed[0] in why
    text = sandbox.describe("process")
    assert "ran as root" in text and why in text and "/opt/rnn-lstm-venv" in text


# The driver's fork loop fills uid 65534's process limit, which every dropped worker shares: under
# xdist, the tests that run it run alone (tests/README.md).
forks_to_its_limit = pytest.mark.serial


@pytest.fixture
def dropped_run(base: Path) -> Dict:
    """The driver's report: a worker with a 0700/0600 submission, decoys, a root process, a fork loop."""
    _requirements()
    submission = base / "submission"
    submission.mkdir(mode=0o700)
    (submission / "rnn_layers.py").write_text("VALUE = 42\n")
    os.chmod(submission / "rnn_layers.py", 0o600)
    closed = base / "closed" / "solutions" / "rnn_lstm"  # only base/closed is 0700: the rest is open
    opened = base / "open"
    for folder in (closed, opened):
        folder.mkdir(parents=True)
        for path in (folder, *folder.parents):
            if path.is_relative_to(base) and path != base:
                os.chmod(path, 0o755)
    os.chmod(base / "closed", 0o700)
    (closed / "rnn_layers.py").write_text("DECOY REFERENCE\n")
    (opened / "rnn_layers.py").write_text("DECOY IN THE OPEN\n")
    for decoy in (closed / "rnn_layers.py", opened / "rnn_layers.py"):
        os.chmod(decoy, 0o644)
    request = {"submission": str(submission), "closed": str(closed / "rnn_layers.py"),
               "open": str(opened / "rnn_layers.py"), "processes": PROCESSES, "forks": FORKS}
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": str(base)}
    done = _in_namespace([sys.executable, str(DRIVER), json.dumps(request)], base, env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["returncode"] == 0, result["stderr"]
    return result


@forks_to_its_limit
def test_root_grader_worker_runs_as_the_unprivileged_uid(dropped_run: Dict) -> None:
    assert dropped_run["drop_status"] == [True, ""]
    report = dropped_run["report"]
    assert (report["uid"], report["euid"], report["gid"]) == (sandbox_drop.DROP_UID, sandbox_drop.DROP_UID,
                                                             sandbox_drop.DROP_GID)
    assert report["groups"] == [] and report["no_new_privs"] == "1"
    assert report["numpy_sum"] == 45.0
    assert "as uid 65534" in dropped_run["describe"] and "ran as root" not in dropped_run["describe"]


@forks_to_its_limit
def test_dropped_worker_reads_its_private_copy_of_a_root_only_submission(dropped_run: Dict) -> None:
    report = dropped_run["report"]
    assert report["own_file"] == "VALUE = 42\n"
    assert os.path.basename(report["cwd"]).startswith("sandbox-submission-")
    assert dropped_run["copy_removed"]


@forks_to_its_limit
def test_dropped_worker_cannot_read_a_root_only_directory(dropped_run: Dict) -> None:
    report = dropped_run["report"]
    assert report["open"] == "DECOY IN THE OPEN\n"  # the control: a read would be seen
    assert report["closed"] == "PermissionError"


@forks_to_its_limit
def test_dropped_worker_cannot_signal_root_processes(dropped_run: Dict) -> None:
    report = dropped_run["report"]
    assert report["kill_root_pid"] == "PermissionError" and report["kill_parent"] == "PermissionError"
    assert dropped_run["root_process_alive"]


@forks_to_its_limit
def test_dropped_worker_is_limited_in_processes(dropped_run: Dict) -> None:
    """RLIMIT_NPROC counts uid 65534's tasks: the limit plus those that uid ran at launch."""
    report = dropped_run["report"]
    assert PROCESSES <= report["nproc_limit"] < FORKS
    assert report["fork_error"] == "BlockingIOError"
    assert report["forked"] < report["nproc_limit"]


# ------------------------------------------------------------------ the Gradescope bundle


def _score(results_path: Path) -> Dict:
    return json.loads(results_path.read_text())


def _layout(base: Path, name: str) -> Path:
    """A simulated /autograder (world-searchable, like the real one) holding the unzipped bundle and the
    hostile example, which also looks for the reference where the bundle keeps it (source/solutions)."""
    root = base / name
    bundle = base / "autograder.zip"
    if not bundle.exists():
        build_bundle(bundle)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    for path in [root, *(root / "source").rglob("*"), root / "source"]:
        os.chmod(path, 0o755 if path.is_dir() or path.name in ("setup.sh", "run_autograder") else 0o644)
    submission = root / "submission"
    shutil.copytree(HOSTILE, submission)
    module = submission / "rnn_layers.py"
    text = module.read_text()
    aimed = text.replace("starts = [os.getcwd(),", f"starts = [{str(root / 'source')!r}, os.getcwd(),")
    assert aimed != text, "the hostile example no longer has the line this test aims at the bundle"
    module.write_text(aimed)
    return root


def test_hostile_example_in_gradescope_layout_scores_as_under_bwrap(base: Path) -> None:
    """auto in a Docker-like namespace (no bubblewrap, runtime readable): process mode, worker uid
    65534, the bundle's reference closed by run_autograder: the same score as under bwrap. The
    control grades the same submission before the bundle is closed: without Landlock the theft is then
    seen; with it (autograder/sandbox/confine.py) the open reference stays out of reach too."""
    _requirements()
    if not sandbox.bwrap_status()[0]:
        pytest.skip(f"bubblewrap does not work here, so there is no bwrap score to compare: {sandbox.bwrap_status()[1]}")
    env = {"PATH": f"{REPO_ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "AUTOGRADER_PYTHON": sys.executable}

    bwrap_root = _layout(base, "bwrap")
    done = subprocess.run(["bash", str(bwrap_root / "source" / "run_autograder")], capture_output=True, text=True,
                          env={**env, "AUTOGRADER_ROOT": str(bwrap_root), "AUTOGRADER_SANDBOX": "bwrap",
                               "HOME": str(base)}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    under_bwrap = _score(bwrap_root / "results" / "results.json")
    assert under_bwrap["extra_data"]["sandbox"] == "bwrap"

    root = _layout(base, "gradescope")
    control = _in_namespace([sys.executable, "-c", (
        "import json, sys; from autograder.engine import grade; "
        "r = grade.grade_submission(sys.argv[1], sandbox='auto'); print(json.dumps([r['score'], r['extra_data']['sandbox']]))"),
        str(root / "submission")], base, {**env, "PYTHONPATH": str(REPO_ROOT), "HOME": str(base)}, hide_bwrap=True)
    assert control.returncode == 0, control.stderr[-3000:]
    control_score, control_mode = json.loads(control.stdout.strip().splitlines()[-1])
    assert control_mode == "process"
    if "landlock" in confine.available():  # the worker's Landlock alone keeps the open reference out of reach
        assert control_score == pytest.approx(under_bwrap["score"]), "Landlock should stop the theft of an open reference"
    else:
        assert control_score > under_bwrap["score"], "the control should steal the open reference and score on RNN"

    done = _in_namespace(["bash", str(root / "source" / "run_autograder")], base,
                         {**env, "AUTOGRADER_ROOT": str(root), "HOME": str(base)}, hide_bwrap=True)
    assert done.returncode == 0, done.stderr[-3000:]
    results = _score(root / "results" / "results.json")
    assert results["extra_data"]["sandbox"] == "process"
    assert "as uid 65534" in results["output"] and "bubblewrap does not work here" in results["output"]
    assert results["score"] == pytest.approx(under_bwrap["score"])
    assert [(t["name"], t["score"]) for t in results["tests"]] == [(t["name"], t["score"]) for t in under_bwrap["tests"]]
    assert "copied the reference" not in results["output"]
    source, out = os.stat(root / "source"), os.stat(root / "results")
    assert (source.st_uid, source.st_mode & 0o777) == (0, 0o700)
    assert (out.st_uid, out.st_mode & 0o777) == (0, 0o755)


def test_bundle_check_refuses_a_runtime_the_dropped_uid_cannot_run(base: Path) -> None:
    """setup.sh's last step: status 1 outside the namespace (runtime in /root), 0 inside it."""
    _requirements()
    if not sandbox_drop.closed_paths():
        pytest.skip("the runtime is readable by every user on this machine: the refusal cannot be shown")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": str(base)}
    outside = subprocess.run([sys.executable, "-m", "autograder.integrations.bundle", "check"], capture_output=True, text=True,
                             env=env, timeout=120)
    assert outside.returncode == 1 and "AS ROOT" in outside.stderr and "/opt/rnn-lstm-venv" in outside.stderr
    inside = _in_namespace([sys.executable, "-m", "autograder.integrations.bundle", "check"], base, env)
    assert inside.returncode == 0, inside.stderr
    assert "runs student code as uid 65534" in inside.stdout


def test_relocate_maps_the_submission_and_only_it(tmp_path: Path) -> None:
    submission, copy = tmp_path / "sub", tmp_path / "copy"
    assert sandbox_drop.relocate(str(submission), submission, copy) == str(copy)
    assert sandbox_drop.relocate(str(submission / "a" / "b.py"), submission, copy) == str(copy / "a" / "b.py")
    assert sandbox_drop.relocate(str(tmp_path / "submission2"), submission, copy) == str(tmp_path / "submission2")
    assert sandbox_drop.relocate("-I", submission, copy) == "-I"
