"""The class summary for the TA: OUT_DIR/summary.md with two PNG charts.

- per function: mean points, mean as a percentage, and pass rate (the share of graded students
  with full points on it);
- the most frequent diagnosed mistakes: the catalogue entry each failed test's feedback showed
  (``extra_data.mistake``; not every entry that matched), counted once per student;
- ``score_histogram.png`` (total scores) and ``function_means.png`` (mean % per function).

Statistics cover the graded submissions; error rows are listed separately, never averaged in as
zeros silently.
"""
from __future__ import annotations

import collections
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from autograder.classroom.gradebook import function_columns, max_score, points_by_function

if TYPE_CHECKING:  # pragma: no cover
    from autograder.classroom.jobs import JobResult

HISTOGRAM_PNG = "score_histogram.png"
FUNCTIONS_PNG = "function_means.png"
TOP_MISTAKES = 10


@dataclass(frozen=True)
class FunctionStats:
    """Class statistics of one graded function (points, and pass rate in [0, 1])."""

    name: str
    mean: float
    max_score: float
    pass_rate: float

    @property
    def mean_percent(self) -> float:
        return 100.0 * self.mean / self.max_score if self.max_score else 0.0


def function_stats(outcomes: Sequence["JobResult"]) -> List[FunctionStats]:
    """Per-function mean and pass rate over the graded outcomes (empty if none was graded)."""
    graded = [o.results for o in outcomes if o.results is not None]
    if not graded:
        return []
    stats = []
    for name in function_columns(graded):
        pairs = [points_by_function(r).get(name, (0.0, 0.0)) for r in graded]
        top = max(m for _, m in pairs)
        passed = sum(1 for s, m in pairs if m > 0 and s >= m - 1e-9)
        stats.append(FunctionStats(name, sum(s for s, _ in pairs) / len(pairs), top, passed / len(pairs)))
    return stats


def shown_mistake(extra: Dict[str, object]) -> Optional[str]:
    """The catalogue entry a test's feedback told the student (``extra_data.mistake``), or None.

    ``mistakes`` lists every entry that matched, not what was said; results written before
    ``mistake`` existed showed the first of them."""
    if "mistake" in extra:
        return extra["mistake"] or None  # type: ignore[return-value]
    listed = extra.get("mistakes") or []
    return listed[0] if listed else None  # type: ignore[index,return-value]


def frequent_mistakes(outcomes: Sequence["JobResult"], top: int = TOP_MISTAKES) -> List[Tuple[str, str, int]]:
    """``(mistake, functions, students)`` for the most frequent diagnosed mistakes, most frequent first."""
    students: Dict[str, int] = collections.Counter()
    where: Dict[str, set] = collections.defaultdict(set)
    for outcome in outcomes:
        if outcome.results is None:
            continue
        seen = set()
        for test in outcome.results.get("tests", []):
            extra = test.get("extra_data") or {}
            mistake = shown_mistake(extra)
            if mistake:
                seen.add(mistake)
                where[mistake].add(extra.get("function") or str(test.get("name", "")).split(":", 1)[0])
        students.update(seen)
    ranked = sorted(students.items(), key=lambda item: (-item[1], item[0]))[:top]
    return [(mistake, ", ".join(sorted(where[mistake])), count) for mistake, count in ranked]


def _plots(outcomes: Sequence["JobResult"], stats: List[FunctionStats], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    graded = [o.results for o in outcomes if o.results is not None]
    top = max((max_score(r) for r in graded), default=100.0) or 100.0
    scores = [float(r["score"]) for r in graded] + [0.0 for o in outcomes if o.results is None]

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=10, range=(0, top), color="#4477aa", edgecolor="white")
    ax.set_xlabel(f"total score (out of {top:g})")
    ax.set_ylabel("students")
    ax.set_title(f"Scores of {len(scores)} students (errors count as 0)")
    fig.tight_layout()
    fig.savefig(out / HISTOGRAM_PNG, dpi=100, metadata={"Software": None})
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(stats), 1) + 1.2))
    names = [s.name for s in stats][::-1]
    ax.barh(names, [s.mean_percent for s in stats][::-1], color="#66aa55")
    ax.set_xlim(0, 100)
    ax.set_xlabel("mean score (% of the function's points)")
    ax.set_title("Per-function mean")
    fig.tight_layout()
    fig.savefig(out / FUNCTIONS_PNG, dpi=100, metadata={"Software": None})
    plt.close(fig)


def summary_markdown(outcomes: Sequence["JobResult"]) -> str:
    """The text of summary.md (the PNGs are referenced by file name)."""
    graded = [o for o in outcomes if o.results is not None]
    errors = [o for o in outcomes if o.results is None]
    lines = ["# Class summary", ""]
    lines.append(f"{len(outcomes)} students: {len(graded)} graded, {len(errors)} could not be graded.")
    if graded:
        scores = sorted(float(o.results["score"]) for o in graded)  # type: ignore[index]
        top = max(max_score(o.results) for o in graded)  # type: ignore[arg-type]
        mid = len(scores) // 2
        median = scores[mid] if len(scores) % 2 else (scores[mid - 1] + scores[mid]) / 2
        lines.append(f"Graded scores (out of {top:g}): mean {sum(scores) / len(scores):.1f}, "
                     f"median {median:g}, min {scores[0]:g}, max {scores[-1]:g}.")
    modes = sorted({str((o.results.get("extra_data") or {}).get("sandbox", "unknown")) for o in graded})  # type: ignore[union-attr]
    if modes:
        lines.append(f"Sandbox: {', '.join(modes)}."
                     + (" The `process` mode does not hide files: grade with `--sandbox bwrap` for grades that count."
                        if "process" in modes else ""))
    lines += ["", f"![score histogram]({HISTOGRAM_PNG})", "", "## Per function", ""]
    stats = function_stats(outcomes)
    if stats:
        lines += ["| function | mean | max | mean % | pass rate |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {s.name} | {s.mean:.2f} | {s.max_score:g} | {s.mean_percent:.0f}% | {100 * s.pass_rate:.0f}% |" for s in stats]
        lines += ["", "Pass rate: the share of graded students with full points on the function.", "",
                  f"![per-function mean]({FUNCTIONS_PNG})"]
    else:
        lines.append("No submission could be graded.")
    lines += ["", "## Most frequent diagnosed mistakes", ""]
    mistakes = frequent_mistakes(outcomes)
    if mistakes:
        lines += ["| mistake | in | students |", "|---|---|---:|"]
        lines += [f"| `{m}` | {where} | {n} |" for m, where, n in mistakes]
    else:
        lines.append("None diagnosed.")
    if errors:
        lines += ["", "## Could not be graded", ""]
        lines += [f"- **{o.student}**: {_one_line(o.error or '')}" for o in errors]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def write_summary(outcomes: Sequence["JobResult"], out: Path) -> Path:
    """Write OUT/summary.md and the two PNGs; returns the path of summary.md."""
    out = Path(out)
    _plots(outcomes, function_stats(outcomes), out)
    path = out / "summary.md"
    tmp = path.with_name(".summary.md.tmp")
    tmp.write_text(summary_markdown(outcomes), encoding="utf-8")
    os.replace(tmp, path)
    return path
