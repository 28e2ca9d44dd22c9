"""``bundle``: build the Gradescope autograder zip (setup.sh and run_autograder at its root)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..bundle import build_bundle

NAME = "bundle"
HELP = "build the Gradescope autograder zip (setup.sh, run_autograder, grader, reference, pinned deps)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("autograder.zip"), help="the zip to write (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    try:
        names = build_bundle(args.out)
    except (FileNotFoundError, OSError) as exc:
        print(f"bundle: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(names)} files); upload it as the Gradescope autograder (base image Ubuntu 22.04+)")
    return 0
