"""``bundle``: build the Gradescope autograder zip, or (``--student-ci``) the formative student-CI zip."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.integrations.bundle import build_bundle

NAME = "bundle"
HELP = ("build the Gradescope autograder zip (setup.sh, run_autograder, grader, reference, pinned deps), or with "
        "--student-ci the formative bundle for students' CI (stored examples, no reference code)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=None,
                        help="the zip to write (default: autograder.zip, or student-ci.zip with --student-ci)")
    parser.add_argument("--student-ci", action="store_true",
                        help="the bundle for the student workflow's AUTOGRADER_BUNDLE_URL: no solutions/, no mistake "
                             "variants, no compiled code; precomputed examples and answers instead")


def run(args: argparse.Namespace) -> int:
    out = args.out or Path("student-ci.zip" if args.student_ci else "autograder.zip")
    try:
        if args.student_ci:
            from autograder.integrations.student_ci import build_student_bundle

            names = build_student_bundle(out)
        else:
            names = build_bundle(out)
    except (FileNotFoundError, OSError) as exc:
        print(f"bundle: {exc}", file=sys.stderr)
        return 2
    if args.student_ci:
        print(f"wrote {out} ({len(names)} files); serve it to the student workflow as AUTOGRADER_BUNDLE_URL "
              f"(formative feedback only: grade for marks with grade-all or Gradescope)")
    else:
        print(f"wrote {out} ({len(names)} files); upload it as the Gradescope autograder (base image Ubuntu 22.04+)")
    return 0
