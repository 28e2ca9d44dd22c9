"""Grade a whole class: find the students, grade each submission in its own process, keep the results.

``grade_all(SUBMISSIONS_DIR, OUT_DIR)`` is what ``python -m autograder grade-all`` runs:

- every folder in SUBMISSIONS_DIR is one student (the folder name is the student id); the pack's
  graded modules sit at its top level or, in nbgrader's layout ``submitted/<student>/<assignment>/``,
  in the assignment folder inside it;
- each submission is one :class:`Job`, graded by :func:`grade_job` in a process of its own
  (N at a time, see :func:`run_local`), or on a Dask cluster (:mod:`autograder.classroom.distributed`);
- OUT_DIR/<student>/ receives results.json, feedback.md, feedback.html and meta.json (the content
  hash that makes reruns resumable); OUT_DIR/gradebook.csv and OUT_DIR/summary.md cover the class.

A submission that cannot be graded becomes an error row (score 0, the reason in the ``error``
column) and an ``error.txt`` in its folder; earlier results are never deleted.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from autograder.classroom.jobs import (
    JOB_SECONDS,
    GraderSpec,
    Job,
    JobResult,
    content_hash,
    grader_fingerprint,
    load,
    module_files,
    read_modules,
    run_local,
)
from autograder.engine import pack

IGNORED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", ".git", ".hypothesis", ".pytest_cache"}
META_FILE = "meta.json"
ERROR_FILE = "error.txt"
# Files grade-all writes at the top of OUT_DIR: a student folder may not take these names.
CLASS_FILES = {"gradebook.csv", "summary.md", "score_histogram.png", "function_means.png", "similarity.csv", "similarity.html"}


class BatchInputError(Exception):
    """The batch cannot start (missing or empty submissions folder, unwritable output folder)."""


@dataclass(frozen=True)
class Student:
    """One student's submission as found on disk.

    ``module_dir`` is the folder holding the graded modules, or None with ``problem`` saying why
    the submission cannot be graded.
    """

    id: str
    folder: Path
    module_dir: Optional[Path]
    problem: Optional[str] = None


@dataclass
class BatchReport:
    """The result of :func:`grade_all`: one outcome per student (sorted by id), plus warnings."""

    out: Path
    outcomes: List[JobResult] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    graded: int = 0
    cached: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> List[JobResult]:
        return [o for o in self.outcomes if o.error is not None]


# --------------------------------------------------------------------------- discovery


def _module_dir(folder: Path) -> Optional[Path]:
    for candidate in (folder, folder / pack.current().name):
        if candidate.is_dir() and any((candidate / name).is_file() for name in module_files()):
            return candidate
    return None


def discover(submissions: Path, exclude: Iterable[Path] = ()) -> Tuple[List[Student], List[str]]:
    """Students in ``submissions`` (sorted by id) and warnings about entries that are not students.

    Raises :class:`BatchInputError` if ``submissions`` is missing, not a folder, or holds no
    student folder. A student folder without any graded module is kept, with ``problem`` set.
    """
    if not submissions.exists():
        raise BatchInputError(f"submissions folder not found: {submissions}")
    if not submissions.is_dir():
        raise BatchInputError(f"{submissions} is a file; expected a folder with one sub-folder per student")
    excluded = {p.resolve() for p in exclude}
    students: List[Student] = []
    warnings: List[str] = []
    for entry in sorted(submissions.iterdir()):
        if entry.name.startswith(".") or entry.name in IGNORED_FOLDERS or entry.resolve() in excluded:
            continue
        if not entry.is_dir():
            warnings.append(f"ignored {entry.name}: a file, not a student folder")
            continue
        found = _module_dir(entry)
        if entry.name in CLASS_FILES:
            students.append(Student(entry.name, entry, None, f"the folder name {entry.name} is reserved for a class report; rename the folder"))
        elif found is None:
            present = sorted(p.name for p in entry.iterdir() if not p.name.startswith("."))[:8]
            problem = (
                f"no graded module found: expected {', '.join(module_files())} in {entry.name}/ or "
                f"{entry.name}/{pack.current().name}/; found: {', '.join(present) or 'nothing'}"
            )
            students.append(Student(entry.name, entry, None, problem))
        else:
            students.append(Student(entry.name, entry, found))
    if not students:
        raise BatchInputError(f"no student folders in {submissions}")
    return students, warnings


# --------------------------------------------------------------------------- output files


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def check_writable(out: Path) -> None:
    """Create ``out`` if needed and prove a file can be written there, or raise BatchInputError."""
    if out.exists() and not out.is_dir():
        raise BatchInputError(f"output folder {out} is a file; give a folder (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise BatchInputError(f"output folder {out} is not writable: {exc.strerror or exc}") from exc


def load_cached(folder: Path, key: str) -> Optional[Dict[str, Any]]:
    """The results.json of an earlier run whose meta.json records ``key``, else None."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        return results if isinstance(results, dict) and "score" in results else None
    except (OSError, ValueError):
        return None


def write_student(folder: Path, outcome: JobResult, spec: GraderSpec) -> None:
    """Write results.json, feedback.md, feedback.html, meta.json (or error.txt) for one student."""
    from autograder.feedback.html import markdown_to_html

    folder.mkdir(parents=True, exist_ok=True)
    if outcome.error is not None:
        _write_atomic(folder / ERROR_FILE, outcome.error + "\n")
        return
    assert outcome.results is not None
    load(spec.write_results)(outcome.results, folder / "results.json")
    feedback = load(spec.feedback)(outcome.results)
    _write_atomic(folder / "feedback.md", feedback)
    _write_atomic(folder / "feedback.html", markdown_to_html(feedback, title=f"Feedback for {outcome.student}"))
    _write_atomic(folder / META_FILE, json.dumps({"student": outcome.student, "key": outcome.key}, indent=1) + "\n")
    (folder / ERROR_FILE).unlink(missing_ok=True)


# --------------------------------------------------------------------------- the whole class


def _progress_bar(enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"), disable=not enabled,
    )


def grade_all(
    submissions: Path,
    out: Path,
    *,
    jobs: Optional[int] = None,
    force: bool = False,
    sandbox: str = "auto",
    scheduler: Optional[str] = None,
    spec: GraderSpec = GraderSpec(),
    progress: bool = True,
    summary: bool = True,
    job_seconds: float = JOB_SECONDS,
) -> BatchReport:
    """Grade every student in ``submissions`` into ``out``; see the module docstring.

    ``jobs`` parallel processes (default: the number of cores); ``scheduler`` a Dask scheduler
    address instead. Raises :class:`BatchInputError` on bad input, before anything is written.
    """
    from autograder.classroom.gradebook import write_gradebook

    start = time.perf_counter()
    submissions, out = Path(submissions), Path(out)
    if out.resolve() == submissions.resolve():
        raise BatchInputError(f"the output folder is the submissions folder ({out}); give another --out")
    students, warnings = discover(submissions, exclude=[out])
    check_writable(out)
    if not scheduler:  # a cluster's workers resolve "auto" themselves
        from autograder.sandbox import registry as sandbox_registry

        try:  # the mode that will run here, so the resume key records it
            backend = sandbox_registry.resolve(sandbox)
        except (ValueError, RuntimeError) as exc:
            raise BatchInputError(str(exc)) from exc
        backend.prepare()  # warns here, once for the class (workers that would run as root)
        sandbox = backend.name
    report = BatchReport(out=out, warnings=warnings)

    fingerprint = grader_fingerprint()
    outcomes: Dict[str, JobResult] = {}
    todo: List[Job] = []
    for student in students:
        if student.module_dir is None:
            outcomes[student.id] = JobResult(student.id, "", error=student.problem)
            continue
        try:
            files = read_modules(student.module_dir)
        except OSError as exc:
            outcomes[student.id] = JobResult(student.id, "", error=f"cannot read the submission: {exc}")
            continue
        key = content_hash(files, sandbox, spec.grade, fingerprint)
        cached = None if force else load_cached(out / student.id, key)
        if cached is not None:
            outcomes[student.id] = JobResult(student.id, key, results=cached, cached=True)
        else:
            # Only a cluster's workers can hold another version of the grader than this process.
            todo.append(Job(student.id, str(student.module_dir.resolve()), files, key, sandbox, spec.grade,
                            fingerprint if scheduler else ""))

    bar = _progress_bar(progress and bool(todo))
    with bar:
        task = bar.add_task("grading", total=len(todo), last="")

        def done(outcome: JobResult) -> None:
            try:
                write_student(out / outcome.student, outcome, spec)
            except Exception as exc:  # noqa: BLE001 - a report that cannot be written is an error row
                outcome = JobResult(outcome.student, outcome.key, error=f"could not write the reports: {exc}")
                write_student(out / outcome.student, outcome, spec)
            outcomes[outcome.student] = outcome
            bar.update(task, advance=1, last=f"{outcome.student}: " + ("error" if outcome.error else f"{outcome.results['score']:g}"))

        if todo and scheduler:
            from autograder.classroom.distributed import run_on_cluster

            run_on_cluster(todo, scheduler, done)
        elif todo:
            run_local(todo, jobs or os.cpu_count() or 1, done, job_seconds)

    for student in students:
        if outcomes[student.id].key == "" and student.id not in CLASS_FILES:  # never reached a job
            write_student(out / student.id, outcomes[student.id], spec)
    report.outcomes = [outcomes[s.id] for s in students]
    report.cached = sum(o.cached for o in report.outcomes)
    report.graded = len(todo)
    write_gradebook(report.outcomes, out / "gradebook.csv")
    if summary:
        from autograder.classroom.summary import write_summary

        write_summary(report.outcomes, out)
    report.seconds = time.perf_counter() - start
    return report


def time_grade_all(submissions: Path, jobs: int, *, sandbox: str = "auto", spec: GraderSpec = GraderSpec()) -> float:
    """Wall-clock seconds to grade ``submissions`` from scratch with ``jobs`` processes (for ``make bench``)."""
    with tempfile.TemporaryDirectory(prefix="bench-grade-all-") as tmp:
        start = time.perf_counter()
        grade_all(Path(submissions), Path(tmp), jobs=jobs, force=True, sandbox=sandbox, spec=spec,
                  progress=False, summary=False)
        return time.perf_counter() - start
