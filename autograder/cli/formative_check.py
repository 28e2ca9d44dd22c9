"""``python -m autograder formative-check``: compare the student CI's formative grades with the real grades."""
from __future__ import annotations

import argparse
import json
import time

NAME = "formative-check"
HELP = ("compare the student CI's formative grade (or range) with the real grade over the example class, the "
        "realistic corpus and the mutants; write reports/formative.{md,json}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.quality.formative import CORPORA

    parser.add_argument("--corpus", action="append", choices=CORPORA,
                        help="measure this corpus (repeatable; default: all three)")
    parser.add_argument("--mutants", type=int, metavar="N",
                        help="measure an evenly spread sample of N mutants (default: every one)")
    parser.add_argument("--only", metavar="TEXT", help="only submissions whose name or id contains TEXT")
    parser.add_argument("--jobs", type=int, default=2, help="grading processes (default 2)")
    parser.add_argument("--sandbox", default="process", help="sandbox mode (default process)")
    parser.add_argument("--regrade", action="store_true",
                        help="grade every submission for real here (default: reuse make mutation's grades)")
    parser.add_argument("--no-report", action="store_true", help="print only; do not write reports/formative.*")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of reports/formative.json for the corpora not measured in this run")


def run(args: argparse.Namespace) -> int:
    from autograder.quality import formative

    corpora = tuple(args.corpus or formative.CORPORA)
    chosen = formative.select(corpora, args.mutants, args.only)
    totals = {c: len(formative.select((c,))) for c in corpora}
    started = time.monotonic()

    def done(i: int, row: dict) -> None:
        if "error" in row:
            print(f"[{i}/{len(chosen)}] {row['corpus']} {row['name']}: ERROR {row['error']}", flush=True)
        else:
            shown = f"{row['low']:g}" if row["low"] == row["high"] else f"{row['low']:g}-{row['high']:g}"
            mark = "=" if row["equal"] else "in range" if row["in_range"] else "OUT OF RANGE"
            print(f"[{i}/{len(chosen)}] {row['corpus']} {row['name']}: formative {shown}, real {row['real']:g} ({mark})",
                  flush=True)

    rows = formative.measure(chosen, jobs=args.jobs, sandbox=args.sandbox, reuse=not args.regrade, on_done=done)
    seconds = time.monotonic() - started
    if args.merge and formative.REPORT_JSON.is_file():
        before = json.loads(formative.REPORT_JSON.read_text(encoding="utf-8"))
        rows = [r for r in before["rows"] if r["corpus"] not in corpora] + rows
        totals = {**before.get("totals", {}), **totals}
        seconds += float(before.get("seconds", 0))
    print(json.dumps(formative.summary(rows), indent=1))
    if not args.no_report:
        formative.write(rows, totals, seconds)
        print(f"wrote {formative.REPORT_MD}")
    return 0
