"""Where this repository is (a pack's own trees: :func:`autograder.engine.pack.standard_dirs`)."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
