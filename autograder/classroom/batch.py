"""Grade a whole class: find the students, grade each submission in its own process, keep the results.

``grade_all(SUBMISSIONS_DIR, OUT_DIR)`` is what ``python -m autograder grade-all`` runs:

- every folder in SUBMISSIONS_DIR is one student (the folder name is the student id); the pack's
  graded modules sit at its top level or, in nbgrader's layout ``submitted/<student>/<assignment>/``,
  in the assignment folder inside it;
- each submission is one :class:`Job`, graded by :func:`grade_job` in a process of its own
  (N at a time, see :func:`run_local`), or on a Dask cluster (:mod:`autograder.classroom.distributed`);
- OUT_DIR/<student>/ receives results.json, feedback.md, feedback.html and meta.json (the content
  hash that makes reruns resumable); OUT_DIR/gradebook.csv, OUT_DIR/summary.md and the class page
  OUT_DIR/index.html (:mod:`autograder.classroom.class_page`) cover the class.

A submission that cannot be graded becomes an error row (score 0, the reason in the ``error``
column) and an ``error.txt`` in its folder; earlier results are never deleted. When the reason is
the submission's own (no graded module where one was expected, a reserved folder name), the student
also gets a feedback.md and feedback.html saying so, to hand back.

A run can be stopped (:class:`~autograder.classroom.jobs.Stop`, ``grade-all``'s first Ctrl-C): no
job starts after it, running ones finish or are killed within seconds, and the files above are
written for the students that finished; the next run grades the others.
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
    Stop,
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
CLASS_FILES = {"gradebook.csv", "summary.md", "score_histogram.png", "function_means.png", "similarity.csv", "similarity.html",
               "index.html"}


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
    """The result of :func:`grade_all`: one outcome per student that finished (sorted by id), plus warnings.

    ``not_graded``: students an interrupted run left out (empty when the run completed);
    ``handed_back``: students with an error row whose feedback file says why; ``sandbox``: the
    mode that graded (resolved: ``bwrap`` or ``process``).
    """

    out: Path
    outcomes: List[JobResult] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    graded: int = 0
    cached: int = 0
    seconds: float = 0.0
    not_graded: List[str] = field(default_factory=list)
    handed_back: List[str] = field(default_factory=list)
    sandbox: str = ""

    @property
    def interrupted(self) -> bool:
        return bool(self.not_graded)

    @property
    def errors(self) -> List[JobResult]:
        return [o for o in self.outcomes if o.error is not None]


# --------------------------------------------------------------------------- discovery


def _module_dir(folder: Path) -> Optional[Path]:
    for candidate in (folder, folder / pack.current().name):
        if candidate.is_dir() and any((candidate / name).is_file() for name in module_files()):
            return candidate
    return None


SHOWN_FILES = 12  # files named in a "no graded module found" message


def _present(folder: Path) -> List[str]:
    """What a student folder holds, for a message: its entries, and the files of its assignment
    folder (nbgrader's layout) as ``<assignment>/<file>`` instead of the folder's bare name."""
    assignment = pack.current().name
    names = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in IGNORED_FOLDERS:
            continue
        if entry.name == assignment and entry.is_dir():
            inside = sorted(p.name + ("/" if p.is_dir() else "") for p in entry.iterdir()
                            if not p.name.startswith(".") and p.name not in IGNORED_FOLDERS)
            names += [f"{assignment}/{name}" for name in inside] or [f"{assignment}/ (empty)"]
        else:
            names.append(entry.name + ("/" if entry.is_dir() else ""))
    return names


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
            present = _present(entry)
            problem = (
                f"no graded module found: expected {', '.join(module_files())} in {entry.name}/ or "
                f"{entry.name}/{pack.current().name}/; found: {', '.join(present[:SHOWN_FILES]) or 'nothing'}"
                + (f" and {len(present) - SHOWN_FILES} more" if len(present) > SHOWN_FILES else "")
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


def write_student(folder: Path, outcome: JobResult, spec: GraderSpec, hand_back: bool = False) -> None:
    """Write results.json, feedback.md, feedback.html, meta.json (or error.txt) for one student.

    ``hand_back``: the error is the submission's own, so the student gets feedback saying why too.
    """
    from autograder.feedback.html import markdown_to_html

    folder.mkdir(parents=True, exist_ok=True)
    if outcome.error is not None:
        _write_atomic(folder / ERROR_FILE, outcome.error + "\n")
        if hand_back:
            from autograder.feedback.messages import not_graded_feedback

            feedback = not_graded_feedback(outcome.error)
            _write_atomic(folder / "feedback.md", feedback)
            _write_atomic(folder / "feedback.html", markdown_to_html(feedback, title=f"Feedback for {outcome.student}"))
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
    stop: Optional[Stop] = None,
) -> BatchReport:
    """Grade every student in ``submissions`` into ``out``; see the module docstring.

    ``jobs`` parallel processes (default: the number of cores); ``scheduler`` a Dask scheduler
    address instead. ``stop``: a :class:`Stop` that another thread or a signal handler may
    request, ending the run early (``BatchReport.not_graded`` names who was left out). Raises
    :class:`BatchInputError` on bad input, before anything is written.
    """

    start = time.perf_counter()
    submissions, out = Path(submissions), Path(out)
    if out.resolve() == submissions.resolve():
        raise BatchInputError(f"the output folder is the submissions folder ({out}); give another --out")
    students, warnings = discover(submissions, exclude=[out])
    check_writable(out)
    sandbox = _resolved_sandbox(sandbox, scheduler)
    report = BatchReport(out=out, warnings=warnings, sandbox=sandbox)
    report.handed_back = [s.id for s in students if s.module_dir is None and s.id not in CLASS_FILES]

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
        # The key names the mode that runs (resolved here or by the cluster's workers), so a local
        # run and a cluster run share results whenever they grade the same way.
        key = content_hash(files, sandbox, spec.grade, fingerprint)
        cached = None if force else load_cached(out / student.id, key)
        if cached is not None:
            outcomes[student.id] = JobResult(student.id, key, results=cached, cached=True)
        else:
            # Only a cluster's workers can hold another version of the grader than this process.
            todo.append(Job(student.id, str(student.module_dir.resolve()), files, key, sandbox, spec.grade,
                            fingerprint if scheduler else ""))

    if summary and todo:
        from autograder.classroom.summary import warm_up

        warm_up()
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
            report.graded += 1
            bar.update(task, advance=1, last=f"{outcome.student}: " + ("error" if outcome.error else f"{outcome.results['score']:g}"))

        if todo and scheduler:
            from autograder.classroom.distributed import run_on_cluster

            run_on_cluster(todo, scheduler, done, stop)
        elif todo:
            run_local(todo, jobs or os.cpu_count() or 1, done, job_seconds, stop)

    handed_back = set(report.handed_back)
    for student in students:
        outcome = outcomes.get(student.id)
        if outcome is not None and outcome.key == "" and student.id not in CLASS_FILES:  # never reached a job
            write_student(out / student.id, outcome, spec, hand_back=student.id in handed_back)
    report.outcomes = [outcomes[s.id] for s in students if s.id in outcomes]
    report.not_graded = [s.id for s in students if s.id not in outcomes]
    report.cached = sum(o.cached for o in report.outcomes)
    write_class_files(report, summary)
    report.seconds = time.perf_counter() - start
    return report


def write_class_files(report: BatchReport, summary: bool = True) -> None:
    """gradebook.csv, and with ``summary`` summary.md (with its charts) and the class page index.html."""
    from autograder.classroom.gradebook import write_gradebook

    write_gradebook(report.outcomes, report.out / "gradebook.csv", report.handed_back)
    if summary:
        from autograder.classroom.class_page import write_class_page
        from autograder.classroom.summary import write_summary

        write_summary(report.outcomes, report.out, report.not_graded)
        write_class_page(report.outcomes, report.out, handed_back=report.handed_back, not_graded=report.not_graded)


def _resolved_sandbox(sandbox: str, scheduler: Optional[str]) -> str:
    """The mode ``sandbox`` resolves to where the jobs run: here, or on every worker of ``scheduler``."""
    if scheduler:
        from autograder.classroom.distributed import ClusterError, cluster_sandbox

        try:
            return cluster_sandbox(scheduler, sandbox)
        except ClusterError as exc:
            raise BatchInputError(str(exc)) from exc
    from autograder.sandbox import registry as sandbox_registry

    try:
        backend = sandbox_registry.resolve(sandbox)
    except (ValueError, RuntimeError) as exc:
        raise BatchInputError(str(exc)) from exc
    backend.prepare()  # warns here, once for the class (workers that would run as root)
    return backend.name


def time_grade_all(submissions: Path, jobs: int, *, sandbox: str = "auto", spec: GraderSpec = GraderSpec()) -> float:
    """Wall-clock seconds to grade ``submissions`` from scratch with ``jobs`` processes (for ``make bench``)."""
    with tempfile.TemporaryDirectory(prefix="bench-grade-all-") as tmp:
        start = time.perf_counter()
        grade_all(Path(submissions), Path(tmp), jobs=jobs, force=True, sandbox=sandbox, spec=spec,
                  progress=False, summary=False)
        return time.perf_counter() - start
