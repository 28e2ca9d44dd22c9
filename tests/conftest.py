"""Shared helpers for this repository's tests: load an assignment tree's modules in isolation, grade a
submission once per session (``graded``), and the rules of a parallel run (``slow``, ``serial``;
tests/README.md says how to use them)."""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np
import pytest
from filelock import FileLock, ReadWriteLock

REPO_ROOT = Path(__file__).resolve().parent.parent

from autograder.packs.rnn_lstm import GRADED_MODULES, RELEASE_DIR, SOLUTIONS_DIR, SOURCE_DIR

ASSIGNMENT_MODULES = (*GRADED_MODULES, "gradient_check")
FIXTURE_DIR = SOURCE_DIR / "tests" / "data"


def load_tree(folder: Path, names: Sequence[str] = ASSIGNMENT_MODULES) -> SimpleNamespace:
    """Import the modules ``names`` of ``folder`` without leaving them in ``sys.modules``.

    The modules import each other by bare name (``from rnn_layers import ...``), so two trees
    (solutions and skeleton) can only live in one process if each is imported with its own
    folder first on ``sys.path`` and then removed from ``sys.modules`` again.
    """
    # Every module of the assignment is cleared, not only ``names``: they import each other.
    cleared = (*ASSIGNMENT_MODULES, *names)
    saved = {name: sys.modules.pop(name) for name in cleared if name in sys.modules}
    sys.path.insert(0, str(folder))
    try:
        modules = {name: importlib.import_module(name) for name in names}
    finally:
        sys.path.remove(str(folder))
        for name in cleared:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    for name, module in modules.items():
        assert Path(module.__file__).parent == folder, f"{name} was imported from {module.__file__}, not {folder}"
    return SimpleNamespace(**modules)


@pytest.fixture(scope="session")
def solutions() -> SimpleNamespace:
    """The reference solutions (solutions/rnn_lstm) as a namespace of modules."""
    return load_tree(SOLUTIONS_DIR)


@pytest.fixture(scope="session")
def skeleton() -> SimpleNamespace:
    """The student release (assignments/rnn_lstm) as a namespace of modules."""
    return load_tree(RELEASE_DIR)


def load_fixtures(kind: str) -> Dict[str, Dict[str, np.ndarray]]:
    """The golden cases of one kind (tools/make_golden.py), keyed by case name."""
    cases = {}
    for path in sorted(FIXTURE_DIR.glob(f"{kind}__*.npz")):
        with np.load(path, allow_pickle=False) as data:
            cases[path.stem.split("__", 1)[1]] = {key: data[key] for key in data.files}
    if not cases:
        raise FileNotFoundError(f"no golden fixtures {kind}__*.npz in {FIXTURE_DIR}: run tools/make_golden.py")
    return cases


# ---------------------------------------------------------------- grading shared by the whole session
#
# `make test` runs the tests in parallel processes (pytest-xdist, tests/README.md); a session fixture
# runs once per process. What is graded through `graded` is graded once per session: the first
# process to ask grades and stores the results under the session's temporary folder, the others wait
# for it (a file lock per submission) and read them.


def _shared_dir(factory: pytest.TempPathFactory) -> Path:
    """A folder of this test session that every xdist worker sees (pytest's own, removed with it)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def submission_key(folder: Path, *parts: object) -> str:
    """sha256 of the folder's path, every file in it (names and bytes, caches left out) and ``parts``."""
    folder = Path(folder).resolve()
    digest = hashlib.sha256(json.dumps([str(folder), [str(p) for p in parts]]).encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


class GradedOnce:
    """``graded(folder)``: ``grade_submission(folder, sandbox=...)``, computed once per test session.

    Returns a fresh copy each call (results pass through JSON, as results.json does), so a test may
    change what it gets. The key is the folder's path and content, the sandbox mode and the grader's
    switches (replayed draws, lookahead): a test that patches anything else in the grader must call
    ``grade_submission`` itself.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def __call__(self, folder: Path, sandbox: str = "process") -> Dict[str, Any]:
        from autograder.engine import hidden_tests
        from autograder.engine.grade import grade_submission

        key = submission_key(folder, sandbox, hidden_tests.REPLAY_DRAWS, hidden_tests.LOOKAHEAD)
        stored = self.root / f"{key}.json"
        with FileLock(f"{stored}.lock"):
            if not stored.is_file():
                text = json.dumps(grade_submission(folder, sandbox=sandbox), allow_nan=False)
                stored.with_suffix(".tmp").write_text(text, encoding="utf-8")
                stored.with_suffix(".tmp").replace(stored)
            return json.loads(stored.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def graded(tmp_path_factory: pytest.TempPathFactory) -> GradedOnce:
    """Results of ``grade_submission`` shared by every test of the session (see GradedOnce)."""
    return GradedOnce(_shared_dir(tmp_path_factory) / "graded")


# ---------------------------------------------------------------- slow sweeps and tests that run alone


# How many slow tests this run deselected (`-m 'not slow'`), to say so at the end. Under xdist the
# workers collect and deselect; each tells the controller its count (config.workeroutput).
SLOW_LEFT_OUT = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SLOW_LEFT_OUT] = 0


def pytest_deselected(items: List[pytest.Item]) -> None:
    if items:
        items[0].config.stash[SLOW_LEFT_OUT] += sum(1 for item in items if item.get_closest_marker("slow"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker
        session.config.workeroutput["slow_left_out"] = session.config.stash[SLOW_LEFT_OUT]


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown when xdist is off (-p no:xdist)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller: every worker collected and deselected the same tests, so keep one count."""
    told = getattr(node, "workeroutput", {}).get("slow_left_out", 0)
    node.config.stash[SLOW_LEFT_OUT] = max(node.config.stash[SLOW_LEFT_OUT], told)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    left = config.stash.get(SLOW_LEFT_OUT, 0)
    if left:
        terminalreporter.write_line(
            f"{left} slow tests (exhaustive sweeps) were left out, not run: CI runs them (.ci/run); "
            "to run them here: make test-all, or .venv/bin/python -m pytest -m slow", yellow=True, bold=True)


@contextlib.contextmanager
def _turn(item: pytest.Item) -> Iterator[None]:
    """Under xdist, a test marked ``serial`` runs alone: it waits for the tests running in the other
    workers to end, and they wait for it (a read-write lock; the gate lets a waiting serial test
    in before readers that come after it)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    shared = _shared_dir(item.config._tmp_path_factory)  # type: ignore[attr-defined]  # = the tmp_path_factory fixture
    gate, rw = FileLock(str(shared / "serial.gate")), ReadWriteLock(str(shared / "serial.rwlock"))
    if item.get_closest_marker("serial"):
        with gate, rw.write_lock():
            yield
    else:
        with gate:
            rw.acquire_read()
        try:
            yield
        finally:
            rw.release()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Optional[pytest.Item]) -> Any:
    """Around setup, call and teardown, so fixtures of any scope built for a test are inside its turn."""
    with _turn(item):
        return (yield)
