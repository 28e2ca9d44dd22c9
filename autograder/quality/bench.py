"""Time the grader (``make bench``): seconds per submission, sandbox overhead, examples, grade-all, similarity.

Measurements only: the targets are printed beside the numbers, never asserted (timings depend on
the machine and on what else runs on it).
"""
from __future__ import annotations

import importlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from autograder.engine import GRADE_ENTRY_POINT, pack
from autograder.quality.mutation import Mutant, generate_mutants, write_submission

TARGET_SECONDS = 10.0  # per submission, on a 2-core machine
TARGET_OVERHEAD = 0.30  # bwrap over process mode
TARGET_SPEEDUP = 1.5  # grade-all with 2 jobs over 1 job
TARGET_RATIO = 2.5  # grading the reference from the command line over starting Python and importing numpy, hypothesis
TARGET_RATIO_BUGGY = 3.5  # the same for a buggy submission
TARGET_SIMILARITY_SECONDS = 60.0  # a 100-student class compared, on 2 cores
TARGET_STUDENT_CI_MB = 150.0  # the venv the student CI installs from its bundle's requirements.txt
# What people wait for (issue 25), command-line gradings measured side by side in one run:
TARGET_WARM = 2.5  # a warm grading of the reference over start-and-import
TARGET_COLD = 1.5  # a cold grading of the reference (empty AUTOGRADER_CACHE) over a warm one
TARGET_BUGGY_COLD = 2.0  # a cold grading of each buggy student over the cold reference
SIMILARITY_CLASS = 100
GRADER = GRADE_ENTRY_POINT


@dataclass
class Timing:
    """Wall-clock seconds of the repetitions of grading one submission in one sandbox mode."""

    submission: str
    sandbox: str
    seconds: List[float] = field(default_factory=list)
    # CPU of the grader and its waited-for children; a bwrap worker (a grandchild in its own
    # namespace) may be missing from it, so compare CPU only within one mode.
    cpu_seconds: List[float] = field(default_factory=list)
    score: Optional[float] = None
    max_score: Optional[float] = None
    examples: Dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


def _load(spec: str) -> Callable[..., Dict[str, Any]]:
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def buggy_mutant() -> Mutant:
    """A fixed, realistic bug the pack names (``bench``: ``buggy_function`` and the end of its
    mutated text); for rnn_lstm, the tanh derivative 1 - next_h**2 written as 1 - next_h."""
    mutants = generate_mutants()
    wanted = pack.current().bench
    for m in mutants:
        if m.function == wanted["buggy_function"] and m.mutated.endswith(wanted["buggy_text"]):
            return m
    return next(m for m in mutants if m.function == wanted["buggy_function"])


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_submission(path: Path, name: str, sandbox: str, reps: int, grader: str = GRADER) -> Timing:
    """Grade ``path`` ``reps`` times; a grader exception ends the series and is recorded."""
    grade = _load(grader)
    timing = Timing(name, sandbox)
    for _ in range(reps):
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        try:
            results = grade(path, sandbox=sandbox)
        except Exception as exc:  # noqa: BLE001 - e.g. bwrap not available here: reported, not fatal
            timing.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            break
        timing.seconds.append(time.perf_counter() - start)
        timing.cpu_seconds.append(_cpu_seconds() - cpu_start)
        timing.score = float(results.get("score", 0))
        timing.max_score = sum(float(t.get("max_score", 0)) for t in results.get("tests", []))
        timing.examples = dict((results.get("extra_data") or {}).get("examples") or {})
    return timing


def _wall(argv: List[str], env: Optional[Dict[str, str]] = None, cwd: Optional[Path] = None,
          check: bool = True) -> float:
    """Seconds of wall time of one command (its output discarded); ``check``: raise if it fails."""
    start = time.perf_counter()
    subprocess.run(argv, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    return time.perf_counter() - start


# More lines for the "what people wait for" section: each is called with ``out`` after the gradings
# (the student CI end to end, install, public tests and formative grade, goes here).
WAITED_FOR_EXTRAS: List[Callable[[Callable[[str], None]], None]] = []


def cold_students(tmp: Path) -> List[Tuple[str, Path]]:
    """The buggy students a cold grading is timed on: the pack's ``bench["cold_students"]`` (folders of
    examples/submissions) and ``bench["cold_realistic"]`` (bugs of the realistic corpus, assembled
    under ``tmp``), e.g. a forward that is wrong only when H > 1."""
    from autograder.paths import REPO_ROOT

    wanted = pack.current().bench
    found = [(name, REPO_ROOT / "examples" / "submissions" / name) for name in wanted.get("cold_students", ())]
    names = tuple(wanted.get("cold_realistic", ()))
    if names:
        from autograder.quality import realistic

        bugs = {bug.name: bug for bug in realistic.bugs()}
        found += [(name, realistic.submission([bugs[name]], tmp / name)) for name in names]
    return [(name, path) for name, path in found if path.is_dir()]


def waited_for(reps: int, out: Callable[[str], None], students: Optional[List[Tuple[str, Path]]] = None) -> Dict[str, float]:
    """Print what people wait for: ``python -m autograder grade`` on the command line (default
    sandbox), the reference warm (draws and reference answers kept) and cold (an empty
    ``AUTOGRADER_CACHE``, as Gradescope without setup.sh's draws, student CI, a class's first
    grade-all), each buggy student cold, and start-and-import; ``reps`` interleaved rounds, medians,
    and the ratios, each beside its target. Returns the medians (seconds) by name."""
    reference_dir = pack.current().reference_dir
    baseline = [sys.executable, "-I", "-c", "import numpy, hypothesis"]
    with tempfile.TemporaryDirectory(prefix="bench-waited-") as folder:
        tmp = Path(folder)
        students = cold_students(tmp) if students is None else students

        def grade(path: Path, cache: Path) -> float:
            command = [sys.executable, "-m", "autograder", "grade", str(path), "--results", str(tmp / "r.json")]
            return _wall(command, dict(os.environ, AUTOGRADER_CACHE=str(cache)))

        grade(reference_dir, tmp / "warm")  # warm: its draws and reference answers kept
        runs: Dict[str, List[float]] = {name: [] for name in ["start", "warm", "cold"] + [n for n, _ in students]}
        for rep in range(reps):  # interleaved: a busy moment slows every kind alike
            runs["start"].append(_wall(baseline))
            runs["warm"].append(grade(reference_dir, tmp / "warm"))
            runs["cold"].append(grade(reference_dir, tmp / f"cold-{rep}"))
            for name, path in students:
                runs[name].append(grade(path, tmp / f"cold-{name}-{rep}"))
    median = {name: statistics.median(times) for name, times in runs.items()}
    start, warm, cold = median["start"], median["warm"], median["cold"]
    out(f"what people wait for: `python -m autograder grade`, default sandbox, {reps} interleaved runs, medians "
        f"(cold: an empty AUTOGRADER_CACHE; warm: draws and reference answers kept)")
    out(f"  start-and-import (python -I -c \"import numpy, hypothesis\") {start:5.2f} s")
    out(f"  reference, warm  {warm:5.2f} s = {warm / start:4.2f}x start-and-import  target <= {TARGET_WARM}x "
        f"[{_verdict(warm / start <= TARGET_WARM)}]")
    out(f"  reference, cold  {cold:5.2f} s = {cold / warm:4.2f}x warm reference  target <= {TARGET_COLD}x "
        f"[{_verdict(cold / warm <= TARGET_COLD)}]")
    for name, _ in students:
        ratio = median[name] / cold
        out(f"  {name}, cold  {median[name]:5.2f} s = {ratio:4.2f}x cold reference  target <= {TARGET_BUGGY_COLD}x "
            f"[{_verdict(ratio <= TARGET_BUGGY_COLD)}]")
    for extra in WAITED_FOR_EXTRAS:
        extra(out)
    return median


def start_ratio(subjects: List[Tuple[str, Path]], reps: int, out: Callable[[str], None]) -> None:
    """Print, per subject, one command-line grading over ``python -I -c "import numpy, hypothesis"``.

    Both are timed side by side (interleaved, ``reps`` times, medians), so a busy machine slows
    both alike. The grading is the whole command a TA or CI runs: interpreter start, imports,
    worker start, every hidden test, results written (recorded draws warm: the first grading of a
    checkout records them). Default sandbox.
    """
    baseline = [sys.executable, "-I", "-c", "import numpy, hypothesis"]
    out(f"grading over starting Python (`python -I -c \"import numpy, hypothesis\"`), {reps} interleaved runs, medians:")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        for name, path in subjects:
            command = [sys.executable, "-m", "autograder", "grade", str(path), "--results", str(Path(tmp) / "r.json")]
            _wall(command)  # warm: recorded draws, page cache
            starts, grades = [], []
            for _ in range(reps):
                starts.append(_wall(baseline))
                grades.append(_wall(command))
            start, grading = statistics.median(starts), statistics.median(grades)
            target = TARGET_RATIO if name == "solutions" else TARGET_RATIO_BUGGY
            out(f"  {name:10s} grade {grading:5.2f} s / start-and-import {start:4.2f} s = {grading / start:4.1f}x  "
                f"target <= {target}x [{_verdict(grading / start <= target)}]")


def bwrap_available() -> Tuple[bool, str]:
    """Whether the bubblewrap sandbox mode works here (the sandbox's own trial run), and why not."""
    from autograder.sandbox import launch as sandbox

    if "bwrap" not in getattr(sandbox, "MODES", ()):
        return False, "the sandbox has no bwrap mode"
    status = getattr(sandbox, "bwrap_status", None)
    return status() if status is not None else (True, "")


def grade_all_timings(submissions: List[Tuple[str, Path]], sandbox: str, grader: str = GRADER) -> Optional[Dict[int, float]]:
    """jobs -> seconds to grade all ``submissions`` with autograder.classroom.batch.time_grade_all, if it exists."""
    try:
        batch = importlib.import_module("autograder.classroom.batch")
    except ImportError:
        return None
    time_grade_all = getattr(batch, "time_grade_all", None)
    if time_grade_all is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        for name, path in submissions:
            shutil.copytree(path, Path(tmp) / name / pack.current().name,
                            ignore=shutil.ignore_patterns("tests", "__pycache__", "*.ipynb"))
        spec = batch.GraderSpec(grade=grader)
        return {jobs: time_grade_all(Path(tmp), jobs, sandbox=sandbox, spec=spec) for jobs in (1, 2)}


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def run_bench(reps: int = 3, class_size: int = 8, grader: str = GRADER, out: Callable[[str], None] = print,
              similarity_class: int = SIMILARITY_CLASS) -> int:
    """Measure and print; returns 0 (targets are reported, not enforced), 1 if grading never worked."""
    code = grading_bench(reps, class_size, grader, out)
    similarity_bench(similarity_class, out=out)
    student_ci_install_bench(out=out)
    return code


@dataclass
class Install:
    """A fresh venv with some pinned requirements installed: where, how long pip took, its size."""

    venv: Path
    seconds: float
    megabytes: float

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def folder_megabytes(folder: Path) -> float:
    """The bytes of the files under ``folder`` (symlinks not followed), in MB (10^6 bytes)."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def install_venv(venv: Path, pip_args: List[str], python: str = sys.executable) -> Install:
    """Make a fresh venv at ``venv`` and ``pip install`` ``pip_args`` into it (pip's own configuration:
    its index and cache). ``seconds`` times the pip install alone; raises CalledProcessError, with pip's
    output, when it fails."""
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
    start = time.perf_counter()
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           *pip_args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout, done.stderr)
    return Install(venv, seconds, folder_megabytes(venv))


def student_ci_install_bench(out: Callable[[str], None] = print, end_to_end: bool = True) -> Optional[Install]:
    """The student CI as a push runs it: install the student-CI bundle's requirements.txt (with
    constraints.txt, as its workflow does) into a fresh venv (pip's seconds, pip cache warm after the first
    run, and the venv's size); then, with ``end_to_end``, the release's public tests on a buggy example
    student and the formative grade from the unzipped bundle, each timed (seconds of wall time)."""
    from autograder.integrations import student_bundle
    from autograder.paths import REPO_ROOT

    with tempfile.TemporaryDirectory(prefix="bench-student-ci-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(student_bundle.requirements_text(student_bundle.modules()), encoding="utf-8")
        try:
            done = install_venv(Path(tmp) / "venv", ["-r", str(requirements), "-c", str(REPO_ROOT / "constraints.txt")])
        except subprocess.CalledProcessError as exc:
            out(f"student-CI install: failed: {(exc.stderr or '').strip()[-300:]}")
            return None
        names = [line.split("==")[0] for line in requirements.read_text().splitlines() if line and not line.startswith("#")]
        out(f"student-CI install ({', '.join(names)}): {done.seconds:.1f} s, venv {done.megabytes:.0f} MB  "
            f"target <= {TARGET_STUDENT_CI_MB:.0f} MB [{_verdict(done.megabytes <= TARGET_STUDENT_CI_MB)}]")
        if end_to_end:
            _student_ci_run(Path(tmp), done, out)
        return done


def _student_ci_run(tmp: Path, venv: Install, out: Callable[[str], None]) -> None:
    """Time the public tests (the course's .venv: the release's own requirements) and the formative grade
    (the bundle's venv, from the unzipped bundle) on the first of the pack's cold students."""
    import zipfile

    from autograder.integrations import student_ci

    students = cold_students(tmp / "students")
    if not students:
        out("student CI end to end: not measured (no cold student in the pack's bench settings)")
        return
    name, student = students[0]
    start = time.perf_counter()
    student_ci.build_student_bundle(tmp / "student-ci.zip")  # stored answers recorded once, then kept
    built = time.perf_counter() - start
    with zipfile.ZipFile(tmp / "student-ci.zip") as archive:
        archive.extractall(tmp / "bundle")
    work = tmp / "work"
    release = pack.current().release_dir
    if release is None:
        out("student CI end to end: not measured (the pack has no release folder)")
        return
    shutil.copytree(release, work)
    for module in student.glob("*.py"):
        shutil.copy(module, work / module.name)
    public = _wall([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=work, check=False)
    formative = _wall([str(venv.python), "-m", "autograder.student_ci", str(work), "--results", str(tmp / "f.json"),
                       "--feedback", str(tmp / "f.md")], cwd=tmp / "bundle")
    out(f"student CI end to end on {name}: public tests {public:.1f} s, formative grade {formative:.1f} s "
        f"(after the install above; building the bundle took {built:.1f} s, not part of a push)")


def similarity_bench(students: int = SIMILARITY_CLASS, jobs: int = 2, out: Callable[[str], None] = print) -> float:
    """Seconds to compare a synthetic class of ``students`` (plus one known solution) with ``jobs`` processes."""
    from autograder.quality.similarity import compare_class
    from autograder.quality.similarity_report import write_report

    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        synthesize_class(Path(tmp) / "class", students)
        start = time.perf_counter()
        report = compare_class(Path(tmp) / "class", against=[pack.current().reference_dir], jobs=jobs)
        write_report(report, Path(tmp) / "out")
        seconds = time.perf_counter() - start
    out(f"similarity of a {students}-student class and 1 known solution, {jobs} jobs: {seconds:.1f} s "
        f"({report.compared} pairs, {len(report.pairs)} above the floor)  target < {TARGET_SIMILARITY_SECONDS:.0f} s "
        f"[{_verdict(seconds < TARGET_SIMILARITY_SECONDS)}]")
    return seconds


def _small_edit(source: str, seed: int) -> str:
    """``source`` with a few names renamed, comments dropped or added, blank lines added (tokenize)."""
    import io
    import keyword
    import random
    import tokenize

    rng = random.Random(seed)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    names = sorted({t.string for t in tokens if t.type == tokenize.NAME and not keyword.iskeyword(t.string)
                    and len(t.string) <= 3 and t.string not in {"np", "x", "b"}})
    renames = {name: f"{name}_{seed}" for name in rng.sample(names, min(3, len(names)))}
    drop_comments = rng.random() < 0.5
    edited = []
    for tok in tokens:
        if tok.type == tokenize.COMMENT and drop_comments:
            continue
        edited.append((tok.type, renames.get(tok.string, tok.string) if tok.type == tokenize.NAME else tok.string))
    text = tokenize.untokenize(edited)
    return f"# student {seed}\n" + text.replace("\ndef ", "\n\n# my version\ndef " if rng.random() < 0.5 else "\n\ndef ")


def synthesize_class(folder: Path, students: int) -> Path:
    """A class of ``students`` made from the example class and the hand-written variants, each lightly edited."""
    from autograder.classroom.jobs import module_files
    from autograder.paths import REPO_ROOT

    active = pack.current()
    files = module_files()

    examples = REPO_ROOT / "examples" / "submissions"
    bases = [{name: (p / name).read_text(encoding="utf-8") for name in files}
             for p in sorted(examples.iterdir()) if all((p / name).is_file() for name in files)
             and p.name != "skeleton"]
    variants = REPO_ROOT / "tests" / "grade_data"
    written = active.bench.get("variants", {})  # module file -> a hand-written variant of it
    if written and all((variants / v).is_file() for v in written.values()) and active.release_dir is not None:
        bases.append({name: ((variants / written[name]) if name in written else active.release_dir / name)
                      .read_text(encoding="utf-8") for name in files})
    for n in range(students):
        student = folder / f"s{n:03d}"
        student.mkdir(parents=True)
        for name, source in bases[n % len(bases)].items():
            (student / name).write_text(_small_edit(source, n), encoding="utf-8")
    return folder


def grading_bench(reps: int, class_size: int, grader: str, out: Callable[[str], None]) -> int:
    """The grading timings of :func:`run_bench`."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        buggy = write_submission(buggy_mutant(), Path(tmp) / "buggy" / pack.current().name)
        subjects = [("solutions", pack.current().reference_dir), ("buggy", buggy)]
        modes = ["process"]
        has_bwrap, why = bwrap_available()
        if has_bwrap:
            modes.append("bwrap")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        out(f"machine: {os.cpu_count()} cores, load average {load} before the run (other work slows every number)")
        out(f"grading time per submission ({reps} repetitions each, median; target < {TARGET_SECONDS:.0f} s)")
        timings: Dict[Tuple[str, str], Timing] = {}
        for name, path in subjects:
            for mode in modes:
                t = time_submission(path, name, mode, reps, grader)
                timings[(name, mode)] = t
                if t.error:
                    out(f"  {name:10s} {mode:8s} could not grade: {t.error}")
                else:
                    out(f"  {name:10s} {mode:8s} median {t.median:6.2f} s  (runs: {', '.join(f'{s:.2f}' for s in t.seconds)}; "
                        f"CPU {statistics.median(t.cpu_seconds):.2f} s) score {t.score:g}/{t.max_score:g}  "
                        f"[{_verdict(t.median < TARGET_SECONDS)}]")
        if not has_bwrap:
            out(f"  bwrap: not measured ({why})")
        for name, _ in subjects:
            base, boxed = timings[(name, "process")], timings.get((name, "bwrap"))
            if boxed and boxed.seconds and base.seconds:
                overhead = boxed.median / base.median - 1.0
                out(f"  sandbox overhead ({name}, bwrap vs process): {overhead:+.0%}  target < {TARGET_OVERHEAD:.0%} "
                    f"[{_verdict(overhead < TARGET_OVERHEAD)}]")
        reference = timings[("solutions", "process")]
        if reference.error:
            return 1
        if grader == GRADER:
            start_ratio(subjects, reps, out)
            waited_for(reps, out)
        else:
            out(f"grading over starting Python: not measured (the command line grades with {GRADER}, not {grader})")
        if reference.examples:
            out("examples run per function (results extra_data.examples):")
            for function, count in reference.examples.items():
                out(f"  {function:24s} {count}")
        else:
            out("examples run per function: not reported (results have no extra_data.examples)")
        mutants = generate_mutants()
        picked = [mutants[(k * len(mutants)) // class_size] for k in range(1, class_size)]  # spread over modules
        class_subjects = [("s00_solutions", pack.current().reference_dir)] + [
            (f"s{n:02d}_mutant", write_submission(m, Path(tmp) / f"class{n}" / pack.current().name))
            for n, m in enumerate(picked, start=1)]
        timing = grade_all_timings(class_subjects, "process", grader)
        if timing is None:
            out("grade-all: autograder.classroom.batch.time_grade_all not available")
        else:
            speedup = timing[1] / timing[2] if timing[2] else float("nan")
            out(f"grade-all of {len(class_subjects)} submissions: 1 job {timing[1]:.1f} s, 2 jobs {timing[2]:.1f} s, "
                f"speed-up {speedup:.2f}x  target >= {TARGET_SPEEDUP}x [{_verdict(speedup >= TARGET_SPEEDUP)}]")
            out(f"  (one grading keeps about one core busy: CPU/wall {statistics.median(reference.cpu_seconds) / reference.median:.2f}; "
                f"the speed-up of 2 jobs is bounded by the cores other work leaves free)")
    return 0
