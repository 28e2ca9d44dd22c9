"""Shared helpers for this repository's tests: load an assignment tree's modules in isolation."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, Sequence

import numpy as np
import pytest

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
