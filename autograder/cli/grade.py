"""``grade``: grade one submission with the hidden tests; write results.json (and feedback)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.engine.grade import GraderError, grade_submission
from autograder.feedback.report import feedback_markdown, write_results
from autograder.sandbox.launch import MODES, UNSAFE_FLAG, refusal

NAME = "grade"
HELP = "grade one submission directory: Gradescope results.json and optional feedback (Markdown or HTML)"
HTML_SUFFIXES = (".html", ".htm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", type=Path, help="directory holding the graded modules (the pack's)")
    parser.add_argument("--results", type=Path, required=True, help="where to write results.json")
    parser.add_argument("--feedback", type=Path, action="append", metavar="FEEDBACK",
                        help="where to write the feedback: HTML if the name ends in .html or .htm (the page grade-all "
                             "writes), Markdown otherwise; give it twice for both")
    parser.add_argument("--sandbox", choices=MODES, default="auto", help="how to confine the student's code")
    parser.add_argument(UNSAFE_FLAG, action="store_true", dest="unsafe_no_sandbox",
                        help="grade even where nothing can contain student code (no bubblewrap, Landlock or seccomp)")


def run(args: argparse.Namespace) -> int:
    if not args.submission.is_dir():
        print(f"grade: submission directory {args.submission} does not exist or is not a directory", file=sys.stderr)
        return 2
    try:
        refused = "" if args.unsafe_no_sandbox else refusal(args.sandbox)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"grade: the grader could not run: {exc}", file=sys.stderr)
        return 2
    if refused:
        print(f"grade: {refused}", file=sys.stderr)
        return 2
    try:
        results = grade_submission(args.submission, sandbox=args.sandbox)
    except (GraderError, ValueError, OSError) as exc:
        print(f"grade: the grader could not run: {exc}", file=sys.stderr)
        return 2
    write_results(results, args.results)
    for path in args.feedback or ():
        write_feedback(results, path, title=f"Feedback for {args.submission.resolve().name}")
    print(f"{args.submission}: {results['score']:g} / {sum(t['max_score'] for t in results['tests']):g} "
          f"-> {args.results}")
    return 0


def write_feedback(results: dict, path: Path, title: str = "Feedback") -> None:
    """The feedback of ``results`` at ``path``: an HTML page for a .html/.htm name, else Markdown."""
    text = feedback_markdown(results)
    if path.suffix.lower() in HTML_SUFFIXES:
        from autograder.feedback.html import markdown_to_html

        text = markdown_to_html(text, title=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
