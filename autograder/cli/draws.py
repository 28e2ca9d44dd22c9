"""``draws``: record every hidden test's draws now, by grading the reference once.

Gradescope's setup.sh runs it so that no submission pays for recording; elsewhere the first grading
of a checkout records them (:mod:`autograder.engine.draws`). Trusted code only: the reference is
graded in process mode.
"""
from __future__ import annotations

import argparse

from autograder.engine import pack
from autograder.engine.draws import CACHE_DIR
from autograder.engine.grade import grade_submission

NAME = "draws"
HELP = "record the hidden tests' draws (.cache/draws) by grading the reference once"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: the active pack's reference is graded (``--pack`` before the command picks another)."""


def run(args: argparse.Namespace) -> int:
    """Grade the reference once; 0 when draws were kept."""
    results = grade_submission(pack.current().reference_dir, sandbox="process")
    files = sorted(CACHE_DIR.glob("*.json")) if CACHE_DIR.is_dir() else []
    runs = sum(1 for f in files if f.name.endswith(".run.json"))  # draws.keep_run: after examples set aside
    kept = len(files) - runs
    print(f"draws: the reference graded {results['score']:g}/100; {kept} properties' draws kept in {CACHE_DIR}"
          + (f" (and {runs} runs that set examples aside)" if runs else ""))
    return 0 if kept else 1
