"""Grade a whole class: find the students, grade each submission in its own process, keep the results.

``grade_all(SUBMISSIONS_DIR, OUT_DIR)`` is what ``python -m autograder grade-all`` runs:

- every folder in SUBMISSIONS_DIR is one student (the folder name is the student id); the four
  graded modules sit at its top level or, in nbgrader's layout ``submitted/<student>/rnn_lstm/``,
  in the assignment folder inside it;
- each submission is one :class:`Job`, graded by :func:`grade_job` in a process of its own
  (N at a time, see :func:`run_local`), or on a Dask cluster (:mod:`autograder.classroom.distributed`);
- OUT_DIR/<student>/ receives results.json, feedback.md, feedback.html and meta.json (the content
  hash that makes reruns resumable); OUT_DIR/gradebook.csv and OUT_DIR/summary.md cover the class.

A submission that cannot be graded becomes an error row (score 0, the reason in the ``error``
column) and an ``error.txt`` in its folder; earlier results are never deleted.
"""
from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import importlib
import json
import multiprocessing
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from autograder.paths import ASSIGNMENT, GRADED_MODULES, SOLUTIONS_DIR
from autograder.sandbox.limits import GRADING

MODULE_FILES: Tuple[str, ...] = tuple(f"{name}.py" for name in GRADED_MODULES)
IGNORED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", ".git", ".hypothesis", ".pytest_cache"}
META_FILE = "meta.json"
ERROR_FILE = "error.txt"
SYMLINK = b"\0symbolic link to: "  # cannot start a Python source file
# Last-resort wall clock for one submission's job (seconds); the grader has its own, shorter limits.
JOB_SECONDS = GRADING.job_seconds
# Files grade-all writes at the top of OUT_DIR: a student folder may not take these names.
CLASS_FILES = {"gradebook.csv", "summary.md", "score_histogram.png", "function_means.png", "similarity.csv", "similarity.html"}


class BatchInputError(Exception):
    """The batch cannot start (missing or empty submissions folder, unwritable output folder)."""


@dataclass(frozen=True)
class GraderSpec:
    """Where the grading functions live, as ``"module:function"`` strings.

    Strings, not callables, so a job can be sent to another process or machine and imported there.
    Tests put a stand-in here; the defaults are the real grader's interface.
    """

    grade: str = "autograder.engine.grade:grade_submission"
    feedback: str = "autograder.feedback.report:feedback_markdown"
    write_results: str = "autograder.feedback.report:write_results"


def load(spec: str) -> Callable[..., Any]:
    """Import ``"package.module:function"``."""
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


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


@dataclass(frozen=True)
class Job:
    """Everything needed to grade one submission, picklable and self-contained.

    ``files`` holds the graded modules' bytes, so a worker on another machine can grade without
    sharing a filesystem; a local worker grades ``path`` directly when it still holds those bytes
    (so paths in the feedback are the same whichever worker ran).
    """

    student: str
    path: str
    files: Dict[str, bytes]
    key: str
    sandbox: str = "auto"
    grader: str = GraderSpec.grade
    fingerprint: str = ""  # grader_fingerprint() where the job was made; a worker must match it


@dataclass
class Outcome:
    """What grading one submission produced: ``results`` (the results.json dict) or ``error``."""

    student: str
    key: str
    results: Optional[Dict[str, Any]] = None
    error: Optional[str] = None
    seconds: float = 0.0
    cached: bool = False


@dataclass
class BatchReport:
    """The result of :func:`grade_all`: one outcome per student (sorted by id), plus warnings."""

    out: Path
    outcomes: List[Outcome] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    graded: int = 0
    cached: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.error is not None]


# --------------------------------------------------------------------------- discovery


def _module_dir(folder: Path) -> Optional[Path]:
    for candidate in (folder, folder / ASSIGNMENT):
        if candidate.is_dir() and any((candidate / name).is_file() for name in MODULE_FILES):
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
                f"no graded module found: expected {', '.join(MODULE_FILES)} in {entry.name}/ or "
                f"{entry.name}/{ASSIGNMENT}/; found: {', '.join(present) or 'nothing'}"
            )
            students.append(Student(entry.name, entry, None, problem))
        else:
            students.append(Student(entry.name, entry, found))
    if not students:
        raise BatchInputError(f"no student folders in {submissions}")
    return students, warnings


def read_modules(module_dir: Path) -> Dict[str, bytes]:
    """The graded modules present in ``module_dir``, by file name.

    A symbolic link is recorded as SYMLINK + its target, never followed: reading through it could
    put someone else's file (the reference, say) into a job that is graded on another machine.
    """
    modules = {}
    for name in MODULE_FILES:
        path = module_dir / name
        if path.is_symlink():
            modules[name] = SYMLINK + os.readlink(path).encode()
        elif path.is_file():
            modules[name] = path.read_bytes()
    return modules


def write_modules(files: Dict[str, bytes], folder: Path) -> None:
    """Recreate what :func:`read_modules` read (symbolic links as links) in ``folder``."""
    for name, data in files.items():
        if data.startswith(SYMLINK):
            os.symlink(data[len(SYMLINK):].decode(), folder / name)
        else:
            (folder / name).write_bytes(data)


# The parts of the package that decide a grade (the rest only moves, stores or reports grades).
GRADING_PARTS = ("engine", "worker", "sandbox", "feedback", "packs")


# Installed packages that are part of a grade: numpy's arithmetic and Hypothesis' draws.
GRADING_PACKAGES = ("numpy", "hypothesis")


def package_versions() -> str:
    """``numpy==2.2.6;hypothesis==6.168.5``: the installed versions of :data:`GRADING_PACKAGES`."""
    from importlib import metadata

    return ";".join(f"{name}=={metadata.version(name)}" for name in GRADING_PACKAGES)


def grader_fingerprint() -> str:
    """sha256 of what decides a grade: the grader's code, rubric and templates, the reference, and
    the versions of the packages that compute it.

    Part of every submission's key, so a changed rubric, hidden test or pin regrades the class on
    the next run instead of mixing old and new grades.
    """
    package = Path(__file__).resolve().parent.parent
    files = [p for part in GRADING_PARTS for p in (package / part).rglob("*")
             if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts]
    files += sorted(SOLUTIONS_DIR.glob("*.py"))
    digest = hashlib.sha256(package_versions().encode())
    for path in sorted(files):
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def content_hash(files: Dict[str, bytes], sandbox: str = "auto", grader: str = GraderSpec.grade, fingerprint: str = "") -> str:
    """sha256 of the graded modules (names and bytes) and of how they are graded.

    ``fingerprint``: :func:`grader_fingerprint`, computed once per batch by the caller.
    """
    digest = hashlib.sha256()
    digest.update(f"{grader}\0{sandbox}\0{fingerprint}\0".encode())
    for name in MODULE_FILES:
        data = files.get(name)
        digest.update(name.encode() + b"\0" + (b"missing" if data is None else hashlib.sha256(data).digest()))
    return digest.hexdigest()


# --------------------------------------------------------------------------- one job


def grade_job(job: Job) -> Outcome:
    """Grade one submission (runs in a worker process); never raises.

    The grader's own exceptions become ``Outcome.error``: the grader promises not to raise for a
    broken submission, so an exception here is an error row a TA must look at.
    """
    start = time.perf_counter()
    tmp: Optional[str] = None
    try:
        if job.fingerprint and job.fingerprint != grader_fingerprint():
            raise RuntimeError("this worker's grader, rubric or reference differs from the one that made the job; "
                               "install the same version of the course repository on every worker")
        path = Path(job.path)
        if not (path.is_dir() and read_modules(path) == job.files):
            # Another machine, or the files changed since discovery: grade the bytes we hashed.
            tmp = tempfile.mkdtemp(prefix=f"grade-{job.student}-")
            path = Path(tmp) / ASSIGNMENT
            path.mkdir()
            write_modules(job.files, path)
        results = load(job.grader)(path, sandbox=job.sandbox)
        if not isinstance(results, dict) or "score" not in results or "tests" not in results:
            raise TypeError(f"the grader returned {type(results).__name__}, not a results.json dict")
        json.dumps(results)  # only plain data may come back
        return Outcome(job.student, job.key, results=results, seconds=time.perf_counter() - start)
    except BaseException as exc:  # noqa: BLE001 - a SystemExit from below must not end the worker's loop either
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Outcome(job.student, job.key, error=f"grader failed: {last}", seconds=time.perf_counter() - start)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _kill_tree(pid: int) -> None:
    """SIGKILL a job process and everything it started (sandbox workers leave its process group)."""
    try:
        import psutil

        family = psutil.Process(pid).children(recursive=True) + [psutil.Process(pid)]
    except Exception:  # noqa: BLE001 - psutil missing, or the process just ended
        family = []
    for member in family:
        try:
            member.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass
    try:
        os.kill(pid, 9)
    except OSError:
        pass


@functools.lru_cache(maxsize=None)
def _job_context(grader: str) -> Any:
    """How job processes start: forked from a clean server that imported the grader once.

    ``forkserver`` (POSIX) makes a job process cost milliseconds instead of the fraction of a
    second a fresh interpreter importing numpy and Hypothesis takes; it never forks this process,
    whose threads (the progress bar, the job threads) a fork would copy. ``spawn`` elsewhere.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, grader.partition(":")[0]])
    return context


def _job_process(job: Job, connection: Any) -> None:  # the body of one job's process
    from autograder.sandbox import drop as sandbox_drop

    sandbox_drop.quiet_root_warning()  # the parent warned once; each student's results say it too
    connection.send(grade_job(job))
    connection.close()


def run_in_process(job: Job, seconds: float = JOB_SECONDS) -> Outcome:
    """Grade ``job`` in a fresh process of its own and wait at most ``seconds`` for it.

    A process that dies (killed, out of memory) or overruns fails this job alone.
    """
    context = _job_context(job.grader)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_job_process, args=(job, sender), name=f"grade-{job.student}")
    process.start()
    sender.close()
    try:
        if receiver.poll(seconds):
            return receiver.recv()
        _kill_tree(process.pid)
        return Outcome(job.student, job.key, error=f"grading took longer than {seconds:g} s and was stopped")
    except (EOFError, OSError):
        process.join(5)
        return Outcome(job.student, job.key, error=f"grading process died (exit code {process.exitcode}: killed or out of memory?)")
    finally:
        receiver.close()
        process.join(5)
        if process.is_alive():  # pragma: no cover - sent a result but does not exit
            process.kill()


def run_local(jobs: List[Job], workers: int, on_done: Callable[[Outcome], None], seconds: float = JOB_SECONDS) -> None:
    """Grade ``jobs``, ``workers`` at a time, each in its own process (:func:`run_in_process`).

    ``on_done`` is called in this thread as each job ends, in the order they finish.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="grade") as pool:
        futures = [pool.submit(run_in_process, job, seconds) for job in jobs]
        for future in concurrent.futures.as_completed(futures):
            on_done(future.result())


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


def write_student(folder: Path, outcome: Outcome, spec: GraderSpec) -> None:
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
    outcomes: Dict[str, Outcome] = {}
    todo: List[Job] = []
    for student in students:
        if student.module_dir is None:
            outcomes[student.id] = Outcome(student.id, "", error=student.problem)
            continue
        try:
            files = read_modules(student.module_dir)
        except OSError as exc:
            outcomes[student.id] = Outcome(student.id, "", error=f"cannot read the submission: {exc}")
            continue
        key = content_hash(files, sandbox, spec.grade, fingerprint)
        cached = None if force else load_cached(out / student.id, key)
        if cached is not None:
            outcomes[student.id] = Outcome(student.id, key, results=cached, cached=True)
        else:
            # Only a cluster's workers can hold another version of the grader than this process.
            todo.append(Job(student.id, str(student.module_dir.resolve()), files, key, sandbox, spec.grade,
                            fingerprint if scheduler else ""))

    bar = _progress_bar(progress and bool(todo))
    with bar:
        task = bar.add_task("grading", total=len(todo), last="")

        def done(outcome: Outcome) -> None:
            try:
                write_student(out / outcome.student, outcome, spec)
            except Exception as exc:  # noqa: BLE001 - a report that cannot be written is an error row
                outcome = Outcome(outcome.student, outcome.key, error=f"could not write the reports: {exc}")
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
