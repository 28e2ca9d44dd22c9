"""The class gradebook: one CSV row per student, and its merge with nbgrader's notebook grades.

``gradebook.csv`` (written by ``grade-all``) has the columns ``student, score, max_score``, one
column per graded function (points), then ``status`` (graded or error), ``feedback`` (the
student's feedback.html, relative to the CSV's folder; empty when there is none to hand back) and
``error``. Nothing in it depends on when or where a grade was computed (whether it came from an
earlier run is printed, not stored), so two runs on the same submissions give the same bytes.

The merged CSV (``python -m autograder gradebook`` or the nbgrader exporter
:class:`autograder.integrations.nbgrader_export.ModuleGradesExportPlugin`) adds nbgrader's grade of the lecture notebook, read from
``gradebook.db`` through nbgrader's :class:`~nbgrader.api.Gradebook`:
``student, modules_score, modules_max, notebook_score, notebook_max, pending, total, total_max,
<functions>, notes``. ``pending`` counts the notebook's answers still waiting for a human grade
(their points are missing from ``notebook_score`` and ``total`` until then). A student found in
only one of the two sources still gets a row; ``notes`` says what is missing or pending.
"""
from __future__ import annotations

import contextlib
import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from autograder.engine import pack

if TYPE_CHECKING:  # pragma: no cover
    from nbgrader.api import Gradebook

    from autograder.classroom.jobs import JobResult

BASE_COLUMNS = ("student", "score", "max_score")
TAIL_COLUMNS = ("status", "feedback", "error")
DEFAULT_MAX_SCORE = 100.0
FEEDBACK_FILE = "feedback.html"


class GradebookError(Exception):
    """A gradebook file or database that cannot be read."""


def points_by_function(results: Dict[str, Any]) -> Dict[str, Tuple[float, float]]:
    """``{function: (score, max_score)}`` of one results.json dict.

    Taken from ``extra_data.functions`` when the grader gives it, else summed over the tests whose
    name starts with ``"function:"``.
    """
    given = (results.get("extra_data") or {}).get("functions") or {}
    if given:
        return {name: (float(v["score"]), float(v["max_score"])) for name, v in given.items()}
    scores: Dict[str, Tuple[float, float]] = {}
    for test in results.get("tests", []):
        name = str(test.get("name", "")).split(":", 1)[0].strip()
        score, top = scores.get(name, (0.0, 0.0))
        scores[name] = (score + float(test.get("score", 0.0)), top + float(test.get("max_score", 0.0)))
    return scores


def max_score(results: Dict[str, Any]) -> float:
    """The submission's maximum: the sum of its tests' ``max_score``."""
    return float(sum(float(t.get("max_score", 0.0)) for t in results.get("tests", [])))


def function_columns(all_results: Iterable[Dict[str, Any]]) -> List[str]:
    """Function column names for a set of results, in the contract's order."""
    seen: List[str] = []
    for results in all_results:
        for name in points_by_function(results):
            if name not in seen:
                seen.append(name)
    # the pack's functions in their order; functions a results file names that the pack does not
    # list follow, in the order they first appear
    order = [f.name for f in pack.current().functions]
    known = [name for name in order if name in seen]
    return known + [name for name in seen if name not in order] if seen else order


def _number(value: float) -> str:
    return f"{round(float(value), 6):g}"


def feedback_path(student: str) -> str:
    """Where a student's feedback.html is, relative to the class folder (a POSIX path)."""
    return f"{student}/{FEEDBACK_FILE}"


def gradebook_rows(outcomes: Sequence["JobResult"], handed_back: Iterable[str] = ()) -> Tuple[List[str], List[Dict[str, str]]]:
    """Header and rows of gradebook.csv; an error row scores 0 out of the class's max_score.

    Every graded student's row links their feedback; an error row only when its student is in
    ``handed_back`` (a submission that could not be graded was told why in a feedback file).
    """
    graded = [o.results for o in outcomes if o.results is not None]
    functions = function_columns(graded)
    class_max = max((max_score(r) for r in graded), default=DEFAULT_MAX_SCORE)
    header = list(BASE_COLUMNS) + functions + list(TAIL_COLUMNS)
    told = set(handed_back)
    rows = []
    for outcome in outcomes:
        row = {"student": outcome.student}
        if outcome.results is None:
            row.update(score="0", max_score=_number(class_max), status="error", error=outcome.error or "not graded",
                       feedback=feedback_path(outcome.student) if outcome.student in told else "")
            row.update({name: "0" for name in functions})
        else:
            per_function = points_by_function(outcome.results)
            row.update(score=_number(outcome.results["score"]), max_score=_number(max_score(outcome.results)),
                       status="graded", feedback=feedback_path(outcome.student), error="")
            row.update({name: _number(per_function.get(name, (0.0, 0.0))[0]) for name in functions})
        rows.append(row)
    return header, rows


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Dict[str, str]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def write_gradebook(outcomes: Sequence["JobResult"], path: Path, handed_back: Iterable[str] = ()) -> None:
    """Write gradebook.csv for ``outcomes`` (atomically: a reader never sees half a file); see :func:`gradebook_rows`."""
    header, rows = gradebook_rows(outcomes, handed_back)
    write_csv(path, header, rows)


def read_gradebook(path: Path) -> List[Dict[str, str]]:
    """Rows of a gradebook.csv written by :func:`write_gradebook`.

    Raises :class:`GradebookError` naming the file when it is missing, unreadable or not a gradebook."""
    path = Path(path)
    if not path.is_file():
        hint = " (grade-all writes it: python -m autograder grade-all SUBMISSIONS --out OUT)" if not path.exists() else ""
        raise GradebookError(f"no module gradebook at {path}: {'not a file' if path.exists() else 'no such file'}{hint}")
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in BASE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise GradebookError(f"{path} is not a module gradebook: no column {', '.join(missing)}")
            return list(reader)
    except OSError as exc:
        raise GradebookError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise GradebookError(f"{path} is not a module gradebook (not a UTF-8 CSV file: {exc})") from exc


# --------------------------------------------------------------------------- nbgrader


@dataclass(frozen=True)
class NotebookGrade:
    """One student's notebook in nbgrader's gradebook.

    ``score`` is None when nothing was submitted; ``pending`` counts the answers that still need a
    human grade (``Grade.needs_manual_grade``), worth ``pending_points`` at most, which nbgrader
    counts as 0 in ``score`` until they are graded.
    """

    score: Optional[float]
    max_score: float
    pending: int = 0
    pending_points: float = 0.0


def notebook_grades(gradebook: "Gradebook", assignment: Optional[str] = None) -> Dict[str, NotebookGrade]:
    """Every student's :class:`NotebookGrade` of an nbgrader assignment (default: the active pack's)."""
    from nbgrader.api import MissingEntry

    assignment = pack.current().name if assignment is None else assignment
    try:
        top = float(gradebook.find_assignment(assignment).max_score)
    except MissingEntry:
        return {}
    grades: Dict[str, NotebookGrade] = {}
    for student in gradebook.students:
        try:
            submission = gradebook.find_submission(assignment, student.id)
        except MissingEntry:
            grades[student.id] = NotebookGrade(None, top)
            continue
        waiting = [grade for notebook in submission.notebooks for grade in notebook.grades if grade.needs_manual_grade]
        grades[student.id] = NotebookGrade(float(submission.score), top, len(waiting),
                                           float(sum(grade.max_score or 0.0 for grade in waiting)))
    return grades


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def merge(module_rows: Sequence[Dict[str, str]], notebooks: Mapping[str, NotebookGrade]) -> Tuple[List[str], List[Dict[str, str]]]:
    """Header and rows of the merged gradebook (one row per student of either source, sorted)."""
    functions = [c for c in (module_rows[0].keys() if module_rows else []) if c not in BASE_COLUMNS + TAIL_COLUMNS]
    by_student = {row["student"]: row for row in module_rows}
    modules_max = max((float(r["max_score"]) for r in module_rows), default=DEFAULT_MAX_SCORE)
    notebook_max = max((n.max_score for n in notebooks.values()), default=0.0)
    header = ["student", "modules_score", "modules_max", "notebook_score", "notebook_max", "pending", "total", "total_max"]
    header += functions + ["notes"]
    rows = []
    for student in sorted(set(by_student) | set(notebooks)):
        module = by_student.get(student)
        notebook = notebooks.get(student, NotebookGrade(None, notebook_max))
        notes = []
        if module is None:
            notes.append("no module submission")
        elif module.get("error"):
            notes.append(f"modules not graded: {module['error']}")
        if student not in notebooks:
            notes.append("not in the nbgrader gradebook")
        elif notebook.score is None:
            notes.append("no notebook submission")
        if notebook.pending:
            notes.append(f"manual grading pending: {_plural(notebook.pending, 'answer', 'answers')} "
                         f"({notebook.pending_points:g} points) not graded yet in formgrader, counted as 0 in "
                         f"notebook_score and total")
        modules_score = float(module["score"]) if module else 0.0
        row = {
            "student": student,
            "modules_score": _number(modules_score),
            "modules_max": _number(modules_max),
            "notebook_score": _number(notebook.score or 0.0),
            "notebook_max": _number(notebook.max_score),
            "pending": str(notebook.pending),
            "total": _number(modules_score + (notebook.score or 0.0)),
            "total_max": _number(modules_max + notebook.max_score),
            "notes": "; ".join(notes),
        }
        row.update({name: (module or {}).get(name, "0") for name in functions})
        rows.append(row)
    return header, rows


def pending_summary(rows: Sequence[Dict[str, str]]) -> Optional[str]:
    """One sentence for the TA when some rows of a merged gradebook still wait for manual grading, else None."""
    waiting = [row["student"] for row in rows if int(row.get("pending") or 0)]
    if not waiting:
        return None
    answers = sum(int(row["pending"]) for row in rows)
    shown = ", ".join(waiting[:10]) + (", ..." if len(waiting) > 10 else "")
    return (f"manual grading is not finished: {_plural(answers, 'answer', 'answers')} of "
            f"{_plural(len(waiting), 'student', 'students')} ({shown}) still need a grade in formgrader; "
            f"their totals are incomplete (see the pending column)")


@contextlib.contextmanager
def alembic_on_path() -> Iterator[None]:
    """nbgrader runs the ``alembic`` executable when it creates a gradebook; make ours findable.

    ``.venv/bin`` is not on PATH when the venv's python is called directly (``make test``).
    """
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), old]) if old else str(Path(sys.executable).parent)
    try:
        yield
    finally:
        os.environ["PATH"] = old


def merge_files(modules_csv: Path, db_url: str, out: Path, assignment: Optional[str] = None) -> List[Dict[str, str]]:
    """Merge ``modules_csv`` with the notebook grades in ``db_url`` into ``out``; returns the rows written."""
    module_rows = read_gradebook(modules_csv)  # first: a wrong path fails fast, before importing nbgrader
    from nbgrader.api import Gradebook

    try:
        with alembic_on_path(), Gradebook(db_url) as gradebook:
            notebooks = notebook_grades(gradebook, assignment)
    except Exception as exc:  # sqlalchemy raises many kinds; all mean "this database cannot be read"
        raise GradebookError(f"cannot read the nbgrader gradebook {db_url}: {exc}") from exc
    header, rows = merge(module_rows, notebooks)
    write_csv(out, header, rows)
    return rows
