"""``gradebook``: merge grade-all's module grades with nbgrader's notebook grades into one CSV."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.classroom.gradebook import GradebookError, merge_files, pending_summary
from autograder.paths import REPO_ROOT

NAME = "gradebook"
HELP = "merge out/gradebook.csv (modules) with nbgrader's gradebook.db (notebook) into one CSV, one row per student"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modules", type=Path, required=True, help="gradebook.csv written by grade-all")
    parser.add_argument("--db", default=f"sqlite:///{REPO_ROOT / 'gradebook.db'}",
                        help="nbgrader gradebook URL or .db file (default: %(default)s)")
    parser.add_argument("--assignment", help="nbgrader assignment of the notebook (default: the pack's name)")
    parser.add_argument("--out", type=Path, required=True, help="the merged CSV to write")


def run(args: argparse.Namespace) -> int:
    db_url = args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
    if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).is_file():
        print(f"gradebook: nbgrader gradebook not found: {db_url} (run nbgrader autograde first, or pass --db)", file=sys.stderr)
        return 2
    try:
        rows = merge_files(args.modules, db_url, args.out, args.assignment)
    except GradebookError as exc:
        print(f"gradebook: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(rows)} student{'s' if len(rows) != 1 else ''} (modules + notebook)")
    pending = pending_summary(rows)
    if pending:
        print(f"warning: {pending}", file=sys.stderr)
    return 0
