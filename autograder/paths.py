"""Where things live in this repository (one place, so moving a tree is a one-line change)."""
from __future__ import annotations

from pathlib import Path

ASSIGNMENT = "rnn_lstm"
REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = REPO_ROOT / "source" / ASSIGNMENT
RELEASE_DIR = REPO_ROOT / "assignments" / ASSIGNMENT
SOLUTIONS_DIR = REPO_ROOT / "solutions" / ASSIGNMENT

# The four graded modules a submission contains (ASSIGNMENT_API.md, "Modules a submission contains").
GRADED_MODULES = ("rnn_layers", "lstm_layers", "deep_layers", "gradient_flow")
