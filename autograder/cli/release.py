"""``release``: regenerate assignments/ and solutions/ from source/, or check that they match."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.authoring import release
from autograder.authoring.markers import MarkerError
from autograder.engine import pack

NAME = "release"
HELP = "regenerate the student release and the reference solutions from source/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", type=Path, help="instructor version (default: source/<pack>)")
    parser.add_argument("--release-dir", type=Path, help="student release (default: assignments/<pack>)")
    parser.add_argument("--solutions-dir", type=Path, help="reference solutions (default: solutions/<pack>)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the committed trees are out of date")


def run(args: argparse.Namespace) -> int:
    active = pack.current()
    args.source = args.source or active.source_dir
    args.release_dir = args.release_dir or active.release_dir
    args.solutions_dir = args.solutions_dir or active.reference_dir
    if args.source is None or args.release_dir is None:
        print(f"release: the {active.name} pack has no source/ tree to release", file=sys.stderr)
        return 2
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
