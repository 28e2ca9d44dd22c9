"""``similarity``: rank the pairs of a class's submissions (and known solutions) by shared code."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.classroom.batch import BatchInputError, check_writable
from autograder.classroom.summary import plural
from autograder.quality.similarity import FLOOR, compare_class, default_jobs
from autograder.quality.similarity_report import NOT_A_VERDICT, write_report

NAME = "similarity"
HELP = "compare every submission with every other and with known solutions; write OUT/similarity.csv and .html"

EPILOG = f"""{NOT_A_VERDICT}

Exit status: 0 when the report was written (submissions that could not be compared are listed in
it); 2 on bad arguments (no such submissions folder or --against path), before anything is written."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR",
                        help="one folder per student (its name is the student id), or nbgrader's submitted/")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT_DIR",
                        help="where similarity.csv and similarity.html go (in grade-all's OUT_DIR, its index.html links them)")
    parser.add_argument("--against", type=Path, action="append", default=[], metavar="PATH",
                        help="a known solution (a folder laid out as a student's, or a .py file), or a folder of them "
                             "(each subfolder or .py file one solution); repeat for more")
    parser.add_argument("--jobs", "-j", type=int, default=default_jobs(), metavar="N",
                        help="processes (default: %(default)s, the number of cores)")
    parser.add_argument("--floor", type=float, default=FLOOR,
                        help="leave out pairs below this similarity on both sides (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        print("similarity: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        if args.out.resolve() == args.submissions.resolve():
            raise BatchInputError(f"the output folder is the submissions folder ({args.out}); give another --out")
        report = compare_class(args.submissions, against=args.against, exclude=[args.out], floor=args.floor, jobs=args.jobs)
        check_writable(args.out)
    except BatchInputError as exc:
        print(f"similarity: {exc}", file=sys.stderr)
        return 2
    paths = write_report(report, args.out)
    from autograder.classroom.class_page import rebuild_class_page

    page = rebuild_class_page(args.out)  # a folder grade-all wrote: its class page links the report now
    if page is not None:
        paths.append(page)
    for problem in report.problems:
        print(f"not compared: {problem.id}: {problem.reason}", file=sys.stderr)
    print(f"{plural(len(report.documents), 'submission')} and known solutions, {plural(report.compared, 'pair')} compared, "
          f"{len(report.pairs)} at or above {report.floor:.0%} ({report.seconds:.1f} s)")
    print("\n".join(f"wrote {p}" for p in paths))
    print(NOT_A_VERDICT)
    return 0
