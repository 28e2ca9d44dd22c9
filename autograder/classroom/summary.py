"""The class summary for the TA: OUT_DIR/summary.md with two PNG charts.

- per function: mean points, mean as a percentage, and pass rate (the share of graded students
  with full points on it);
- who needs attention (:func:`attention`): not graded, 0 points, a timeout, code that ended the
  sandboxed worker;
- the most frequent diagnosed mistakes: the catalogue entry each failed test's feedback showed
  (``extra_data.mistake``; not every entry that matched), counted once per student, with the
  sentence the students read and who they are;
- ``score_histogram.png`` (total scores) and ``function_means.png`` (mean % per function).

Statistics cover the graded submissions; error rows are listed separately, never averaged in as
zeros silently. The class page (:mod:`autograder.classroom.class_page`) shows the same numbers.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from autograder.classroom.gradebook import function_columns, max_score, points_by_function

if TYPE_CHECKING:  # pragma: no cover
    from autograder.classroom.jobs import JobResult

HISTOGRAM_PNG = "score_histogram.png"
FUNCTIONS_PNG = "function_means.png"
TOP_MISTAKES = 10
STUDENTS_SHOWN = 20  # names listed per mistake in summary.md (the class page lists all)

# What a failed test's output says when a call or the submission ran out of time
# (autograder/worker/client.py, autograder/engine/grade.py) or the batch stopped its job
# (autograder/classroom/jobs.py), and when student code ended the sandboxed worker or sent back
# something the grader refused.
TIMEOUT_SIGNS = ("did not return within", "did not finish within", "took longer than")
WORKER_SIGNS = ("ended the worker process",)


def plural(count: int, one: str, many: str = "") -> str:
    """``1 student``, ``2 students``."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class Flag:
    """Why a student needs a TA's look: a short ``label`` and, unless the label says it all, the ``reason``."""

    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}" if self.reason else self.label


def _outputs(results: Dict[str, Any]) -> List[str]:
    return [str(t.get("output") or "") for t in results.get("tests", [])]


def flags(outcome: "JobResult") -> List[Flag]:
    """What a TA should look at for one student (empty when nothing)."""
    if outcome.results is None:
        found = [Flag("not graded", outcome.error or "not graded")]
        if any(sign in (outcome.error or "") for sign in TIMEOUT_SIGNS):
            found.append(Flag("timeout", "the grading job ran out of time"))
        return found
    found = []
    if float(outcome.results.get("score", 0.0)) == 0.0:
        found.append(Flag("0 points", ""))
    outputs = _outputs(outcome.results)
    timed_out = sum(any(sign in text for sign in TIMEOUT_SIGNS) for text in outputs)
    if timed_out:
        found.append(Flag("timeout", f"{plural(timed_out, 'test')} ran out of time (an infinite loop?)"))
    ended = sum(any(sign in text for sign in WORKER_SIGNS) for text in outputs)
    if ended:
        found.append(Flag("ended the worker", f"{plural(ended, 'test')} report that its code ended the sandboxed worker "
                                               "process (sys.exit, os._exit, a crash, too much memory, or a reply the "
                                               "grader refused): what hostile code does, and broken code too"))
    return found


def attention(outcomes: Sequence["JobResult"]) -> List[Tuple[str, List[Flag]]]:
    """``(student, flags)`` for every student with a flag, in the outcomes' order."""
    return [(o.student, found) for o in outcomes for found in [flags(o)] if found]


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


@dataclass
class Mistake:
    """A diagnosed mistake of the class: the catalogue ``key``, the ``sentence`` the students were
    shown (None in results written before it was recorded), the functions and the students."""

    key: str
    sentence: Optional[str]
    functions: List[str] = field(default_factory=list)
    students: List[str] = field(default_factory=list)


def diagnosed_mistakes(outcomes: Sequence["JobResult"], top: Optional[int] = TOP_MISTAKES) -> List[Mistake]:
    """The most frequent diagnosed mistakes (each counted once per student), most frequent first,
    then by key; students in the outcomes' order."""
    found: Dict[str, Mistake] = {}
    for outcome in outcomes:
        if outcome.results is None:
            continue
        for test in outcome.results.get("tests", []):
            extra = test.get("extra_data") or {}
            key = shown_mistake(extra)
            if not key:
                continue
            mistake = found.setdefault(key, Mistake(key, None))
            if mistake.sentence is None and extra.get("mistake_sentence"):
                mistake.sentence = str(extra["mistake_sentence"])
            function = extra.get("function") or str(test.get("name", "")).split(":", 1)[0]
            if function not in mistake.functions:
                mistake.functions.append(function)
            if outcome.student not in mistake.students:
                mistake.students.append(outcome.student)
    ranked = sorted(found.values(), key=lambda m: (-len(m.students), m.key))
    for mistake in ranked:
        mistake.functions.sort()
    return ranked if top is None else ranked[:top]


def frequent_mistakes(outcomes: Sequence["JobResult"], top: int = TOP_MISTAKES) -> List[Tuple[str, str, int]]:
    """``(mistake, functions, students)`` for the most frequent diagnosed mistakes, most frequent first."""
    return [(m.key, ", ".join(m.functions), len(m.students)) for m in diagnosed_mistakes(outcomes, top)]


def warm_up() -> None:
    """Import matplotlib in a background thread while the class is graded, so that the charts at
    the end of a run (an interrupted one too) do not wait seconds for it."""

    def load() -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401

    threading.Thread(target=load, name="warm-matplotlib", daemon=True).start()


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
    ax.set_title(f"Scores of {plural(len(scores), 'student')} (errors count as 0)")
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


def summary_markdown(outcomes: Sequence["JobResult"], not_graded: Sequence[str] = ()) -> str:
    """The text of summary.md (the PNGs are referenced by file name).

    ``not_graded``: students of the class left out because the run was interrupted.
    """
    graded = [o for o in outcomes if o.results is not None]
    errors = [o for o in outcomes if o.results is None]
    lines = ["# Class summary", ""]
    if not_graded:
        lines += [f"**Incomplete: the run was interrupted before {plural(len(not_graded), 'student')} "
                  f"{'was' if len(not_graded) == 1 else 'were'} graded** ({', '.join(not_graded)}); "
                  "run the same grade-all command again to grade them.", ""]
    lines.append(f"{plural(len(outcomes), 'student')}: {len(graded)} graded, {len(errors)} could not be graded.")
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
    lines += ["", "The class page, index.html, has every student with a link to their feedback.", ""]
    lines += ["## Needs attention", ""]
    needs = attention(outcomes)
    if needs:
        lines += [f"- **{_one_line(student)}**: " + "; ".join(_one_line(str(f)) for f in found) for student, found in needs]
    else:
        lines.append("Nobody: every student was graded, above 0, with no timeout and no ended worker.")
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
    mistakes = diagnosed_mistakes(outcomes)
    if mistakes:
        lines += ["| mistake | in | students | who |", "|---|---|---:|---|"]
        for m in mistakes:
            said = f"{_one_line(m.sentence)} (`{m.key}`)" if m.sentence else f"`{m.key}`"
            who = ", ".join(_one_line(s) for s in m.students[:STUDENTS_SHOWN])
            who += f", and {len(m.students) - STUDENTS_SHOWN} more (index.html)" if len(m.students) > STUDENTS_SHOWN else ""
            lines.append(f"| {said} | {', '.join(m.functions)} | {len(m.students)} | {who} |")
    else:
        lines.append("None diagnosed.")
    if errors:
        lines += ["", "## Could not be graded", ""]
        lines += [f"- **{o.student}**: {_one_line(o.error or '')}" for o in errors]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def write_summary(outcomes: Sequence["JobResult"], out: Path, not_graded: Sequence[str] = ()) -> Path:
    """Write OUT/summary.md and the two PNGs; returns the path of summary.md."""
    out = Path(out)
    _plots(outcomes, function_stats(outcomes), out)
    path = out / "summary.md"
    tmp = path.with_name(".summary.md.tmp")
    tmp.write_text(summary_markdown(outcomes, not_graded), encoding="utf-8")
    os.replace(tmp, path)
    return path
