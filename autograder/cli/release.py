"""``release``: regenerate assignments/ and solutions/ from source/, or check that they match."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.authoring import release
from autograder.authoring.markers import MarkerError
from autograder.paths import RELEASE_DIR, SOLUTIONS_DIR, SOURCE_DIR

NAME = "release"
HELP = "regenerate the student release and the reference solutions from source/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", type=Path, default=SOURCE_DIR, help="instructor version (default: %(default)s)")
    parser.add_argument("--release-dir", type=Path, default=RELEASE_DIR, help="student release (default: %(default)s)")
    parser.add_argument("--solutions-dir", type=Path, default=SOLUTIONS_DIR, help="reference solutions (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the committed trees are out of date")


def run(args: argparse.Namespace) -> int:
    try:
        if args.check:
            diffs = release.check(args.source, args.release_dir, args.solutions_dir)
            for line in diffs:
                print(line)
            if diffs:
                print("generated trees are out of date: run `make release`", file=sys.stderr)
                return 1
            print("assignments/ and solutions/ match source/")
            return 0
        release.generate(args.source, args.release_dir, args.solutions_dir)
    except (MarkerError, FileNotFoundError, ValueError) as exc:
        print(f"release failed: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.release_dir} and {args.solutions_dir}")
    return 0
