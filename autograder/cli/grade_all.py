"""``grade-all``: grade every student's submission in a folder, in parallel, into a class gradebook."""
from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Iterator, List, Optional

from autograder.classroom.batch import BatchInputError, grade_all
from autograder.classroom.jobs import STOP_GRACE_SECONDS, Stop
from autograder.classroom.summary import plural
from autograder.sandbox.launch import MODES, UNSAFE_FLAG, refusal

NAME = "grade-all"
HELP = "grade every submission in a folder (one sub-folder per student) into OUT/gradebook.csv"


EPILOG = f"""Writes OUT_DIR/index.html (the class page: every student, their points and flags, a link to
each feedback.html), gradebook.csv, summary.md and, per student, results.json, feedback.md and
feedback.html.

Exit status: 0 when the batch finished, even if some submissions could not be graded (they are
rows with status "error" in gradebook.csv and listed on stderr); 2 on bad input (a missing or
empty submissions folder, an output folder that is a file or not writable), before anything is
written; 130 when interrupted. A rerun grades only new or changed submissions (and all of them
after the grader, rubric or reference changed); --force regrades everything.

Ctrl-C stops starting new submissions; the ones being graded get {STOP_GRACE_SECONDS:g} s to finish, then are
stopped (a second Ctrl-C stops them at once). The gradebook and class page of the students that
finished are written, and the same command, run again, grades the rest."""


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
                        help="with --similarity: a known solution (folder or .py file), or a folder of them (each subfolder or "
                             ".py file one), to compare every student with; repeatable")


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
    """Compare the class (python -m autograder similarity) into OUT_DIR, add its section to summary.md
    and link it from the class page."""
    from autograder.classroom.class_page import rebuild_class_page
    from autograder.quality.similarity import compare_class
    from autograder.quality.similarity_report import append_to_summary, summary_section, write_report

    similar = compare_class(args.submissions, against=args.against, exclude=[args.out], jobs=args.jobs)
    write_report(similar, args.out)
    append_to_summary(args.out / "summary.md", summary_section(similar))
    rebuild_class_page(args.out)
    print(f"similarity: {plural(len(similar.pairs), 'pair')} at or above {similar.floor:.0%}, {args.out / 'similarity.html'} "
          f"(never a verdict: look at the evidence)")


@contextlib.contextmanager
def interruptible(stop: Stop) -> Iterator[None]:
    """While the batch runs, the first SIGINT (Ctrl-C) requests ``stop`` and the second makes it
    immediate; the previous handler is back afterwards. Only the main thread can take signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum: int, frame: object) -> None:
        if stop.requested:
            stop.request(now=True)
            print("\ngrade-all: stopping the running submissions now", file=sys.stderr, flush=True)
            return
        stop.request()
        print(f"\ngrade-all: interrupted: no new submission starts; the ones being graded get {stop.grace:g} s to "
              "finish (Ctrl-C again: stop them now). The gradebook of what finished follows.", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def rerun_command(argv: Optional[List[str]] = None) -> str:
    """The command line that started this process, to repeat it after an interrupt
    (``python -m autograder grade-all ...``), without ``--force``, which would regrade what finished."""
    argv = sys.argv if argv is None else argv
    if argv and Path(argv[0]).name == "__main__.py":
        argv = ["python", "-m", "autograder", *argv[1:]]
    return shlex.join(arg for arg in argv if arg != "--force")


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
    stop = Stop()
    try:
        if args.similarity:
            from autograder.quality.similarity import read_known

            read_known(args.against)  # a missing known solution stops here, before any grading
        with interruptible(stop):
            report = grade_all(args.submissions, args.out, jobs=args.jobs, force=args.force, sandbox=args.sandbox,
                               scheduler=args.scheduler, progress=not args.no_progress, stop=stop)
    except BatchInputError as exc:
        print(f"grade-all: {exc}", file=sys.stderr)
        return 2
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for outcome in report.errors:
        print(f"error: {outcome.student}: {outcome.error}", file=sys.stderr)
    if args.similarity and not report.interrupted:
        add_similarity(args)
    if args.table:
        print_table(report.out / "gradebook.csv")
    finished = len(report.outcomes)
    print(f"{plural(finished, 'student')}: {report.graded} graded now, {report.cached} unchanged since the last run "
          f"(kept, not graded again), {len(report.errors)} could not be graded ({report.seconds:.1f} s, sandbox {report.sandbox})")
    print(f"class page: {report.out / 'index.html'}\ngradebook:  {report.out / 'gradebook.csv'}\n"
          f"summary:    {report.out / 'summary.md'}\n"
          f"per student: {report.out}/<student>/results.json, feedback.md, feedback.html")
    if report.interrupted:
        left = report.not_graded
        print(f"interrupted: {plural(len(left), 'student')} not graded yet ({', '.join(left[:10])}"
              f"{', ...' if len(left) > 10 else ''}); the gradebook lists the {plural(finished, 'student')} that finished.\n"
              f"To finish, run the same command again (what finished is kept): {rerun_command()}",
              file=sys.stderr)
        return 130
    return 0
