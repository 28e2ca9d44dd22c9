"""The class page, OUT/index.html: the whole class at a glance, for the TA (static HTML, no server).

- one row per student: the total and the points per function, flags (not graded, 0 points, a
  timeout, code that ended the sandboxed worker), and a link to the student's feedback.html;
  the table sorts by any column (a few lines of inline script; without it, rows stay by student);
- per-function pass rates as a chart (inline SVG, so the page is one file that looks the same
  everywhere);
- the most frequent diagnosed mistakes with the sentence the students read and who they are;
- links to gradebook.csv, summary.md and, when it is there, similarity.html.

``grade-all`` writes it after every run (:func:`write_class_page`), a resumed one too;
``similarity --out`` refreshes it from the files of the folder (:func:`rebuild_class_page`).
Nothing on it depends on when it was made: two runs on the same submissions give the same page.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from autograder.classroom.gradebook import DEFAULT_MAX_SCORE, FEEDBACK_FILE, function_columns, max_score, points_by_function
from autograder.classroom.summary import (
    FUNCTIONS_PNG,
    HISTOGRAM_PNG,
    Flag,
    diagnosed_mistakes,
    flags,
    function_stats,
    plural,
)

if TYPE_CHECKING:  # pragma: no cover
    from autograder.classroom.jobs import JobResult

PAGE = "index.html"
INTERRUPTED_FILE = ".interrupted.json"  # the students an interrupted run left out, for a later rebuild
SIMILARITY_PAGE = "similarity.html"
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Row:
    """One student's row: ``cells`` holds (points, max) per function column, None when not graded;
    ``anchor`` the row's id on the page."""

    anchor: str
    student: str
    link: Optional[str]
    score: float
    max_score: float
    graded: bool
    cells: List[Optional[Tuple[float, float]]]
    flags: List[Flag]


def href(path: str) -> str:
    """A relative path as a URL (a student id may hold spaces, ``#`` or ``%``)."""
    return quote(path, safe="/")


def rows(outcomes: Sequence["JobResult"], handed_back: Iterable[str] = ()) -> Tuple[List[str], List[Row]]:
    """The function columns and one :class:`Row` per outcome, in the outcomes' order."""
    graded = [o.results for o in outcomes if o.results is not None]
    functions = function_columns(graded)
    class_max = max((max_score(r) for r in graded), default=DEFAULT_MAX_SCORE)  # as gradebook.csv says
    told = set(handed_back)
    table = []
    for index, outcome in enumerate(outcomes, start=1):
        anchor = f"student-{index}"
        link = href(f"{outcome.student}/{FEEDBACK_FILE}") if outcome.results is not None or outcome.student in told else None
        if outcome.results is None:
            table.append(Row(anchor, outcome.student, link, 0.0, class_max, False, [None] * len(functions), flags(outcome)))
            continue
        points = points_by_function(outcome.results)
        table.append(Row(anchor, outcome.student, link, float(outcome.results["score"]), max_score(outcome.results), True,
                         [points.get(name) for name in functions], flags(outcome)))
    return functions, table


def page_html(outcomes: Sequence["JobResult"], *, handed_back: Iterable[str] = (), not_graded: Sequence[str] = (),
              similarity: bool = False, charts: bool = False) -> str:
    """The class page's HTML. ``similarity``/``charts``: link similarity.html / show the summary's PNGs."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["points"] = lambda value: f"{round(float(value), 6):g}"
    env.filters["href"] = href
    functions, table = rows(outcomes, handed_back)
    graded = [row for row in table if row.graded]
    scores = sorted(row.score for row in graded)
    return env.get_template("index.html.j2").render(
        functions=functions, rows=table, stats=function_stats(outcomes), mistakes=diagnosed_mistakes(outcomes, top=None),
        needs=[row for row in table if row.flags], graded=graded, errors=[row for row in table if not row.graded],
        mean=sum(scores) / len(scores) if scores else None, median=_median(scores), not_graded=list(not_graded),
        similarity=SIMILARITY_PAGE if similarity else None, charts=charts, histogram=HISTOGRAM_PNG,
        functions_png=FUNCTIONS_PNG, plural=plural, top=max((row.max_score for row in graded), default=0.0))


def _median(values: List[float]) -> Optional[float]:
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_class_page(outcomes: Sequence["JobResult"], out: Path, *, handed_back: Iterable[str] = (),
                     not_graded: Sequence[str] = ()) -> Path:
    """Write OUT/index.html (and remember ``not_graded`` for :func:`rebuild_class_page`); returns its path."""
    out = Path(out)
    state = out / INTERRUPTED_FILE
    if not_graded:
        _write_atomic(state, json.dumps({"not_graded": list(not_graded)}, indent=1) + "\n")
    else:
        state.unlink(missing_ok=True)
    charts = (out / HISTOGRAM_PNG).is_file() and (out / FUNCTIONS_PNG).is_file()
    _write_atomic(out / PAGE, page_html(outcomes, handed_back=handed_back, not_graded=not_graded,
                                        similarity=(out / SIMILARITY_PAGE).is_file(), charts=charts))
    return out / PAGE


def outcomes_from_folder(out: Path) -> Tuple[List["JobResult"], List[str]]:
    """The outcomes of the last grade-all run into ``out``, read back from its gradebook.csv and each
    graded student's results.json; and the students whose error was handed back as feedback.

    Raises :class:`~autograder.classroom.gradebook.GradebookError` when there is no gradebook.
    """
    from autograder.classroom.gradebook import GradebookError, read_gradebook
    from autograder.classroom.jobs import JobResult

    outcomes: List[JobResult] = []
    handed_back: List[str] = []
    for row in read_gradebook(Path(out) / "gradebook.csv"):
        student = row["student"]
        if row.get("status") == "error":
            outcomes.append(JobResult(student, "", error=row.get("error") or "not graded"))
            if row.get("feedback"):
                handed_back.append(student)
            continue
        try:
            results: Dict[str, Any] = json.loads((Path(out) / student / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GradebookError(f"{out / student / 'results.json'} cannot be read: {exc}") from exc
        outcomes.append(JobResult(student, "", results=results))
    return outcomes, handed_back


def rebuild_class_page(out: Path) -> Optional[Path]:
    """Write OUT/index.html again from the folder's files (after ``similarity --out``); None when
    the folder holds no graded class."""
    from autograder.classroom.gradebook import GradebookError

    try:
        outcomes, handed_back = outcomes_from_folder(out)
    except GradebookError:
        return None
    try:
        not_graded = json.loads((Path(out) / INTERRUPTED_FILE).read_text(encoding="utf-8"))["not_graded"]
    except (OSError, ValueError, KeyError, TypeError):
        not_graded = []
    return write_class_page(outcomes, out, handed_back=handed_back, not_graded=not_graded)
