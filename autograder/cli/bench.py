"""``python -m autograder bench``: time grading (median seconds per submission) and report examples."""
from __future__ import annotations

import argparse

from autograder.quality.bench import GRADER, SIMILARITY_CLASS, run_bench

NAME = "bench"
HELP = "time grading: median seconds per submission, sandbox overhead, examples per function, grade-all speed-up, class similarity"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reps", type=int, default=3, help="repetitions per submission and sandbox mode (default 3)")
    parser.add_argument("--class-size", type=int, default=8, help="submissions in the grade-all timing (default 8)")
    parser.add_argument("--similarity-class", type=int, default=SIMILARITY_CLASS,
                        help="students in the similarity timing (default %(default)s; target < 60 s for 100 on 2 cores)")
    parser.add_argument("--grader", default=GRADER, help=f"grading function, module:function (default {GRADER})")


def run(args: argparse.Namespace) -> int:
    if args.reps < 1 or args.class_size < 1 or args.similarity_class < 2:
        print("error: --reps and --class-size must be at least 1, --similarity-class at least 2")
        return 2
    return run_bench(reps=args.reps, class_size=args.class_size, grader=args.grader, similarity_class=args.similarity_class)
