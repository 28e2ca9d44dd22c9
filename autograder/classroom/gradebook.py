"""The class gradebook: one CSV row per student, and its merge with nbgrader's notebook grades.

``gradebook.csv`` (written by ``grade-all``) has the columns ``student, score, max_score``, one
column per graded function (points), then ``status`` (graded, cached, error) and ``error``.

The merged CSV (``python -m autograder gradebook`` or the nbgrader exporter
:class:`autograder.integrations.nbgrader_export.ModuleGradesExportPlugin`) adds nbgrader's grade of the lecture notebook, read from
``gradebook.db`` through nbgrader's :class:`~nbgrader.api.Gradebook`:
``student, modules_score, modules_max, notebook_score, notebook_max, total, total_max, <functions>,
notes``. A student found in only one of the two sources still gets a row; ``notes`` says what is
missing.
"""
from __future__ import annotations

import contextlib
import csv
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from autograder.engine import pack

if TYPE_CHECKING:  # pragma: no cover
    from nbgrader.api import Gradebook

    from autograder.classroom.jobs import JobResult

BASE_COLUMNS = ("student", "score", "max_score")
TAIL_COLUMNS = ("status", "error")
DEFAULT_MAX_SCORE = 100.0


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


def gradebook_rows(outcomes: Sequence["JobResult"]) -> Tuple[List[str], List[Dict[str, str]]]:
    """Header and rows of gradebook.csv; an error row scores 0 out of the class's max_score."""
    graded = [o.results for o in outcomes if o.results is not None]
    functions = function_columns(graded)
    class_max = max((max_score(r) for r in graded), default=DEFAULT_MAX_SCORE)
    header = list(BASE_COLUMNS) + functions + list(TAIL_COLUMNS)
    rows = []
    for outcome in outcomes:
        row = {"student": outcome.student}
        if outcome.results is None:
            row.update(score="0", max_score=_number(class_max), status="error", error=outcome.error or "not graded")
            row.update({name: "0" for name in functions})
        else:
            per_function = points_by_function(outcome.results)
            row.update(score=_number(outcome.results["score"]), max_score=_number(max_score(outcome.results)),
                       status="cached" if outcome.cached else "graded", error="")
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


def write_gradebook(outcomes: Sequence["JobResult"], path: Path) -> None:
    """Write gradebook.csv for ``outcomes`` (atomically: a reader never sees half a file)."""
    header, rows = gradebook_rows(outcomes)
    write_csv(path, header, rows)


def read_gradebook(path: Path) -> List[Dict[str, str]]:
    """Rows of a gradebook.csv written by :func:`write_gradebook`."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in BASE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise GradebookError(f"{path} is not a module gradebook: no column {', '.join(missing)}")
            return list(reader)
    except OSError as exc:
        raise GradebookError(f"cannot read {path}: {exc.strerror or exc}") from exc


# --------------------------------------------------------------------------- nbgrader


def notebook_grades(gradebook: "Gradebook", assignment: Optional[str] = None) -> Dict[str, Tuple[Optional[float], float]]:
    """``{student: (score or None if not submitted, max_score)}`` of an nbgrader assignment (default:
    the active pack's)."""
    from nbgrader.api import MissingEntry

    assignment = pack.current().name if assignment is None else assignment
    try:
        top = float(gradebook.find_assignment(assignment).max_score)
    except MissingEntry:
        return {}
    grades: Dict[str, Tuple[Optional[float], float]] = {}
    for student in gradebook.students:
        try:
            submission = gradebook.find_submission(assignment, student.id)
            grades[student.id] = (float(submission.score), top)
        except MissingEntry:
            grades[student.id] = (None, top)
    return grades


def merge(module_rows: Sequence[Dict[str, str]], notebooks: Dict[str, Tuple[Optional[float], float]]) -> Tuple[List[str], List[Dict[str, str]]]:
    """Header and rows of the merged gradebook (one row per student of either source, sorted)."""
    functions = [c for c in (module_rows[0].keys() if module_rows else []) if c not in BASE_COLUMNS + TAIL_COLUMNS]
    by_student = {row["student"]: row for row in module_rows}
    modules_max = max((float(r["max_score"]) for r in module_rows), default=DEFAULT_MAX_SCORE)
    notebook_max = max((top for _, top in notebooks.values()), default=0.0)
    header = ["student", "modules_score", "modules_max", "notebook_score", "notebook_max", "total", "total_max"]
    header += functions + ["notes"]
    rows = []
    for student in sorted(set(by_student) | set(notebooks)):
        module = by_student.get(student)
        notebook_score, top = notebooks.get(student, (None, notebook_max))
        notes = []
        if module is None:
            notes.append("no module submission")
        elif module.get("error"):
            notes.append(f"modules not graded: {module['error']}")
        if student not in notebooks:
            notes.append("not in the nbgrader gradebook")
        elif notebook_score is None:
            notes.append("no notebook submission")
        modules_score = float(module["score"]) if module else 0.0
        row = {
            "student": student,
            "modules_score": _number(modules_score),
            "modules_max": _number(modules_max),
            "notebook_score": _number(notebook_score or 0.0),
            "notebook_max": _number(top),
            "total": _number(modules_score + (notebook_score or 0.0)),
            "total_max": _number(modules_max + top),
            "notes": "; ".join(notes),
        }
        row.update({name: (module or {}).get(name, "0") for name in functions})
        rows.append(row)
    return header, rows


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


def merge_files(modules_csv: Path, db_url: str, out: Path, assignment: Optional[str] = None) -> int:
    """Merge ``modules_csv`` with the notebook grades in ``db_url`` into ``out``; returns the row count."""
    module_rows = read_gradebook(modules_csv)  # first: a wrong path fails fast, before importing nbgrader
    from nbgrader.api import Gradebook

    try:
        with alembic_on_path(), Gradebook(db_url) as gradebook:
            notebooks = notebook_grades(gradebook, assignment)
    except Exception as exc:  # sqlalchemy raises many kinds; all mean "this database cannot be read"
        raise GradebookError(f"cannot read the nbgrader gradebook {db_url}: {exc}") from exc
    header, rows = merge(module_rows, notebooks)
    write_csv(out, header, rows)
    return len(rows)
