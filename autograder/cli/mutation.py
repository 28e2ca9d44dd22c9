"""``python -m autograder mutation``: grade every mutant of the reference and write reports/mutation.*"""
from __future__ import annotations

import argparse
import sys
import time

from autograder.quality.mutation import generate_mutants
from autograder.quality.mutation_report import (
    GRADER,
    REPORT_JSON,
    REPORT_MD,
    ReportError,
    build_realistic,
    build_report,
    grade_corpus,
    grade_mutants,
    killed,
    load_equivalents,
    load_report,
    reexplain,
    report_problems,
    write_report,
)

NAME = "mutation"
HELP = "mutation testing: grade every mutant of the reference solutions, report the kill rate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=2, help="grading processes (default 2)")
    parser.add_argument("--sandbox", default="process", help="sandbox mode for the grader (default process)")
    parser.add_argument("--grader", default=GRADER, help=f"the grading function, module:function (default {GRADER})")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="print the mutant ids and exit (no grading)")
    mode.add_argument("--check", action="store_true", help="check the committed report is current (no grading)")
    mode.add_argument("--explain", action="store_true",
                      help="rewrite the report with the current mutation_equivalents.toml, without regrading")
    mode.add_argument("--only", metavar="TEXT", help="grade only the mutants and corpus submissions whose id or name contains TEXT; print, write no report")


def run(args: argparse.Namespace) -> int:
    mutants = generate_mutants()
    if args.list:
        for m in mutants:
            print(m.id)
        return 0
    try:
        explanations = load_equivalents()
        if args.check:
            problems = report_problems(load_report(), mutants, explanations)
            for p in problems:
                print(f"mutation report: {p}", file=sys.stderr)
            return 1 if problems else 0
        if args.explain:
            report = reexplain(load_report(), mutants, explanations)
            write_report(report)
            print(f"rewrote {REPORT_JSON} and {REPORT_MD}: kill rate {report['summary']['kill_rate']:.1%}")
            return 0
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    if args.only:
        mutants = [m for m in mutants if args.only in m.id]
        if not mutants:
            print(f"error: no mutant id contains {args.only!r}", file=sys.stderr)
            return 2

    def progress(n: int, mutant, outcome) -> None:
        status = "error" if "error" in outcome else "killed" if killed(outcome) else "SURVIVED"
        if args.only or status != "killed":
            print(f"[{n}/{len(mutants)}] {status}: {mutant.id}" + (f" ({outcome['error']})" if "error" in outcome else ""),
                  flush=True)

    def corpus_progress(n: int, name: str, outcome) -> None:
        if args.only or "error" in outcome or outcome.get("false_sentences"):
            false = len(outcome.get("false_sentences") or [])
            print(f"[realistic {n}] {name}: {outcome.get('score', outcome.get('error'))}"
                  + (f", {false} false sentence(s)" if false else ""), flush=True)

    start = time.perf_counter()
    outcomes = grade_mutants(mutants, jobs=args.jobs, sandbox=args.sandbox, grader=args.grader, on_done=progress)
    corpus = grade_corpus(jobs=args.jobs, sandbox=args.sandbox, grader=args.grader, only=args.only,
                          on_done=corpus_progress)
    report = build_report(mutants, outcomes, explanations, sandbox=args.sandbox, grader=args.grader,
                          seconds=time.perf_counter() - start)
    report["realistic"] = build_realistic(corpus)
    s = report["summary"]
    print(f"{s['mutants']} mutants: {s['killed']} killed, {s['survived']} survived ({s['equivalent']} equivalent), "
          f"{s['errors']} errors; kill rate {s['kill_rate']:.1%} of non-equivalent (goal >= {s['goal']:.0%}); "
          f"{report['seconds']:.0f} s")
    r = report["realistic"]["summary"]
    print(f"realistic corpus: {r['killed']} of {r['bugs']} bugs killed, collateral {r['collateral_points']:g} points, "
          f"{r['correct_full']} of {r['correct']} correct variants at 100, diagnosed {r['diagnosed_share']:.1%}; "
          f"false sentences: {s.get('false_sentences', 0)} (mutants) + {r['false_sentences']} (corpus)")
    if not args.only:
        write_report(report)
        print(f"wrote {REPORT_JSON} and {REPORT_MD}")
    return 0
