"""A worker started early (autograder/worker/launch.py): claimed by the grading that needs it, or stopped."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder import cli
from autograder.sandbox import registry as sandbox_registry
from autograder.sandbox.limits import GRADING, Limits
from autograder.worker import launch
from autograder.worker.client import Batch, Ok, WorkerClient


@pytest.fixture(autouse=True)
def no_worker_prestarted_by_an_earlier_test() -> None:
    """launch._early belongs to the process: a `grade` command run in-process by an earlier test on the
    same worker (test_sandbox_refusal.py) leaves its unclaimed worker there until the process exits.
    Stop those first, so each test here sees only what it started."""
    launch._stop_unclaimed()


def _submission(tmp_path: Path) -> Path:
    (tmp_path / "tools.py").write_text("def double(x):\n    return 2 * x\n")
    return tmp_path


def test_the_client_claims_the_worker_started_early_for_its_submission(tmp_path: Path) -> None:
    folder = _submission(tmp_path)
    launch.prestart(folder, "process", GRADING)
    early = launch._early[(folder.resolve(), "process", GRADING)]
    with WorkerClient(folder, sandbox_mode="process", limits=GRADING) as client:
        client.load_modules({"tools": ["double"]})
        assert early.launched is not None and client.proc is early.launched.proc and not launch._early
        batch = Batch(client)
        batch.call("tools", "double", np.ones(2))
        out = batch.run()[0]
    assert isinstance(out, Ok) and np.array_equal(out.value, [2.0, 2.0])


def test_a_worker_started_for_other_limits_or_another_mode_is_stopped_not_used(tmp_path: Path) -> None:
    folder = _submission(tmp_path)
    for mode, limits in (("process", Limits(call_seconds=1.0)), ("bwrap", GRADING)):
        launch.prestart(folder, "process", GRADING)
        early = launch._early[(folder.resolve(), "process", GRADING)]
        assert launch.claim(folder, mode, limits) is None  # e.g. auto settled on another mode
        assert not launch._early and early.launched is not None and early.launched.proc.wait(timeout=10) is not None


def test_grade_starts_its_worker_before_importing_the_engine(tmp_path: Path) -> None:
    folder = _submission(tmp_path)
    cli._prestart_worker(["grade", "--sandbox", "process", str(folder), "--results", str(tmp_path / "r.json")])
    claimed = launch.claim(folder, "process", GRADING)
    assert claimed is not None
    claimed.proc.kill()
    cli._prestart_worker(["grade", str(tmp_path / "missing"), "--results", "r.json"])  # not a folder: nothing
    cli._prestart_worker(["grade-all", str(folder)])
    assert not launch._early


CONCURRENT_LAUNCHES = """
import sys, threading
from pathlib import Path
from autograder.sandbox.limits import GRADING
from autograder.worker.launch import launch
started = []
def go():
    started.append(launch(Path(sys.argv[1]), "bwrap", GRADING))
for _ in range(3):
    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
for launched in started: launched.stop()
print(len(started))
"""


def test_workers_started_on_several_threads_at_once_all_start(tmp_path: Path) -> None:
    """bubblewrap launches on two threads at once (the prestarted worker and the sandbox's trial run)
    once deadlocked: each namespace helper kept a copy of the other's pipe. In a subprocess, so that
    a deadlock fails the test instead of hanging it."""
    works, why = sandbox_registry.backend("bwrap").available()
    if not works:
        pytest.skip(f"bubblewrap does not work on this machine: {why}")
    done = subprocess.run([sys.executable, "-c", CONCURRENT_LAUNCHES, str(_submission(tmp_path))],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split() == ["12"], done.stderr[-2000:]
