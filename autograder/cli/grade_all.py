"""``grade-all``: grade every student's submission in a folder, in parallel, into a class gradebook."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autograder.classroom.batch import BatchInputError, grade_all
from autograder.sandbox.launch import MODES, UNSAFE_FLAG, refusal

NAME = "grade-all"
HELP = "grade every submission in a folder (one sub-folder per student) into OUT/gradebook.csv"


EPILOG = """Exit status: 0 when the batch finished, even if some submissions could not be graded (they are
rows with status "error" in gradebook.csv and listed on stderr); 2 on bad input (a missing or
empty submissions folder, an output folder that is a file or not writable), before anything is
written. A rerun grades only new or changed submissions (and all of them after the grader,
rubric or reference changed); --force regrades everything."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR",
                        help="one folder per student (its name is the student id), or nbgrader's submitted/")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT_DIR",
                        help="where OUT_DIR/<student>/results.json, gradebook.csv and summary.md go")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="submissions graded in parallel (default: %(default)s, the number of cores)")
    parser.add_argument("--force", action="store_true", help="regrade everything, not only new or changed submissions")
    parser.add_argument("--sandbox", choices=MODES, default="auto", help="how student code is confined (default: %(default)s)")
    parser.add_argument(UNSAFE_FLAG, action="store_true", dest="unsafe_no_sandbox",
                        help="grade even where nothing can contain student code (no bubblewrap, Landlock or seccomp)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler (tcp://host:8786) to run the jobs on")
    parser.add_argument("--table", action="store_true", help="print the gradebook as a table at the end")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--similarity", action="store_true",
                        help="also compare the submissions (OUT_DIR/similarity.csv, similarity.html, a section in summary.md)")
    parser.add_argument("--against", type=Path, action="append", default=[], metavar="PATH",
                        help="with --similarity: a known solution (folder or .py file) to compare every student with; repeatable")


def print_table(path: Path) -> None:
    """Print a gradebook.csv as a rich table (student, score, max, status, error)."""
    from rich.console import Console
    from rich.table import Table

    from autograder.classroom.gradebook import read_gradebook

    rows = read_gradebook(path)
    table = Table(title=str(path))
    table.add_column("student", no_wrap=True, min_width=min(max((len(r["student"]) for r in rows), default=7), 32))
    table.add_column("score", justify="right", min_width=5)
    table.add_column("max", justify="right", min_width=3)
    table.add_column("status", min_width=6)
    table.add_column("error (full text in the CSV)", no_wrap=True, overflow="ellipsis")
    for row in rows:
        error = row.get("error", "")
        table.add_row(row["student"], row["score"], row["max_score"], row.get("status", ""),
                      error if len(error) <= 36 else error[:35] + "…")
    console = Console()
    if not console.is_terminal:  # piped or in make: rich would assume 80 columns
        console = Console(width=120)
    console.print(table)


def add_similarity(args: argparse.Namespace) -> None:
    """Compare the class (python -m autograder similarity) into OUT_DIR and add its section to summary.md."""
    from autograder.quality.similarity import compare_class
    from autograder.quality.similarity_report import append_to_summary, summary_section, write_report

    similar = compare_class(args.submissions, against=args.against, exclude=[args.out], jobs=args.jobs)
    write_report(similar, args.out)
    append_to_summary(args.out / "summary.md", summary_section(similar))
    print(f"similarity: {len(similar.pairs)} pairs at or above {similar.floor:.0%}, {args.out / 'similarity.html'} "
          f"(never a verdict: look at the evidence)")


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        print("--jobs must be at least 1", file=sys.stderr)
        return 2
    if args.against and not args.similarity:
        print("grade-all: --against needs --similarity", file=sys.stderr)
        return 2
    try:
        refused = "" if args.unsafe_no_sandbox else refusal(args.sandbox)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"grade-all: {exc}", file=sys.stderr)
        return 2
    if refused:  # nothing is written: the TA decides first
        print(f"grade-all: {refused}", file=sys.stderr)
        return 2
    try:
        if args.similarity:
            from autograder.quality.similarity import read_known

            read_known(args.against)  # a missing known solution stops here, before any grading
        report = grade_all(args.submissions, args.out, jobs=args.jobs, force=args.force, sandbox=args.sandbox,
                           scheduler=args.scheduler, progress=not args.no_progress)
    except BatchInputError as exc:
        print(f"grade-all: {exc}", file=sys.stderr)
        return 2
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for outcome in report.errors:
        print(f"error: {outcome.student}: {outcome.error}", file=sys.stderr)
    if args.similarity:
        add_similarity(args)
    if args.table:
        print_table(report.out / "gradebook.csv")
    print(f"{len(report.outcomes)} students: {report.graded} graded now, {report.cached} unchanged since the last run, "
          f"{len(report.errors)} could not be graded ({report.seconds:.1f} s)")
    print(f"gradebook: {report.out / 'gradebook.csv'}\nsummary:   {report.out / 'summary.md'}\n"
          f"per student: {report.out}/<student>/results.json, feedback.md, feedback.html")
    return 0
