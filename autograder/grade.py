"""Grade one submission: static checks, the worker, every rubric test, scores (the orchestrator).

:func:`grade_submission` returns the Gradescope ``results.json`` dict. It never raises for a
broken submission (every problem becomes a failed test with a message); it raises only when the
grader itself cannot run (no such directory, a broken rubric, no sandbox).
"""
from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from . import reference, sandbox, submission as submission_checks
from .client import Failure, WorkerClient
from .hidden_tests import SHOW_INPUT_KINDS, Grader, TestOutcome, run_test
from .score import RubricTest, function_scores, load_rubric
from .spec import BY_NAME, FUNCTIONS, MODULE_FUNCTIONS, Function
from .strategies import describe_inputs, materialize

CALL_SECONDS = 10.0
SHOWN_OUTPUT_CHARS = 2000  # of the student's prints, in the results' top-level output  # wall clock for one call (or one batch of calls) into the worker


class GraderError(RuntimeError):
    """The grader itself cannot run (not a problem of the submission)."""


def grade_submission(submission: Path, *, sandbox: str = "auto") -> Dict[str, Any]:
    """Grade ``submission`` (a directory with the four modules); return the results.json dict."""
    started = time.monotonic()
    directory = Path(submission)
    if not directory.is_dir():
        raise GraderError(f"submission directory {directory} does not exist or is not a directory")
    rubric = load_rubric()
    mode = _resolve(sandbox)
    static = submission_checks.inspect(directory, MODULE_FUNCTIONS)
    limits = sandbox_limits()
    tests: List[Dict[str, Any]] = []
    with WorkerClient(directory, sandbox_mode=mode, limits=limits, call_seconds=CALL_SECONDS) as client:
        loadable = {m: MODULE_FUNCTIONS.get(m, ()) for m, c in static.items() if c.problem is None}
        imports = client.load_modules(loadable) if loadable else {}
        grader = Grader(client)
        deadline = started + limits.submission_seconds
        for fn in FUNCTIONS:
            blocked = _blocked(fn, static, imports)
            for test in (t for t in rubric if t.function == fn.name):
                if blocked is not None:
                    outcome = TestOutcome(False, blocked)
                elif time.monotonic() > deadline:
                    outcome = TestOutcome(False, f"not run: grading this submission took longer than "
                                                 f"{limits.submission_seconds:g} s")
                else:
                    outcome = run_test(grader, fn, test.kind, test.profile, test.examples)
                tests.append(_test_result(fn, test, outcome))
        client.close()
        output = _summary(mode, static, client)
    results: Dict[str, Any] = {
        "score": round(sum(t["score"] for t in tests), 6),
        "execution_time": round(time.monotonic() - started, 3),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "sandbox": mode,
            "functions": function_scores(tests),
            "examples": {f.name: grader.examples_run.get(f.name, 0) for f in FUNCTIONS},
            "worker_restarts": client.restarts,
        },
    }
    return results


def sandbox_limits() -> sandbox.Limits:
    return sandbox.Limits(call_seconds=CALL_SECONDS)


def _resolve(mode: str) -> str:
    try:
        return sandbox.resolve_mode(mode)
    except (ValueError, RuntimeError, OSError) as exc:
        raise GraderError(str(exc)) from exc


def _blocked(fn: Function, static: Dict[str, Any], imports: Dict[str, Any]) -> Optional[str]:
    """Why none of ``fn``'s tests can run (its module is broken, or it is missing), or None."""
    needed = [fn.module] + ([BY_NAME[fn.forward].module] if fn.forward else [])
    for module in dict.fromkeys(needed):
        check = static[module]
        if check.problem:
            return check.problem
        outcome = imports.get(module)
        if isinstance(outcome, Failure):
            what = outcome.describe() if outcome.kind == "exception" else outcome.message
            return f"importing {module}.py failed: {what}"
    names = [fn.name] + ([fn.forward] if fn.forward else [])
    for name in names:
        module = BY_NAME[name].module
        present = imports.get(module)
        if present is not None and not isinstance(present, Failure) and name not in present.value:
            suffix = "" if name == fn.name else f" (it is needed to test {fn.name})"
            return f"{name} is missing from {module}.py{suffix}"
    return None


def _test_result(fn: Function, test: RubricTest, outcome: TestOutcome) -> Dict[str, Any]:
    mistakes: List[str] = []
    output = "passed" if outcome.passed else _failure_text(fn, test, outcome, mistakes)
    return {
        "name": test.full_name,
        "score": test.points if outcome.passed else 0.0,
        "max_score": test.points,
        "status": "passed" if outcome.passed else "failed",
        "output": output,
        "visibility": test.visibility,
        "extra_data": {"function": fn.name, "kind": test.kind, "mistakes": mistakes},
    }


def _failure_text(fn: Function, test: RubricTest, outcome: TestOutcome, mistakes: List[str]) -> str:
    failure = outcome.failure
    lines = [outcome.message]
    if failure is None or failure.example is None:
        return "\n".join(lines)
    ex = failure.example
    inputs = failure.inputs if failure.inputs is not None else materialize(fn, ex)  # what the check ran
    order = {k: i for i, k in enumerate(("N", "T", "D", "H", "L"))}
    sizes = ", ".join(f"{k}={v}" for k, v in sorted(ex.dims, key=lambda kv: (order.get(kv[0], 9), kv[0])))
    options = "".join(f", {k}={inputs[k]!r}" for k in ("cell", "truncate", "max_norm") if k in inputs)
    if ex.zero_grads:
        options += ", every gradient array zero"
    value_problem = failure.output is not None or failure.actual is not None
    if test.visibility != "hidden" and test.kind in SHOW_INPUT_KINDS and value_problem:
        lines.append(f"Smallest failing input found ({sizes}{options}, values scaled by {ex.scale:g}):")
        lines.extend("    " + line for line in describe_inputs(inputs).splitlines())
    elif test.visibility != "hidden":
        lines.append(f"Failing input sizes: {sizes}{options}")
    if failure.actual is not None and test.kind in ("values", "gradcheck", "carousel"):
        found = _diagnose(fn.name, inputs, failure.actual)
        if found:
            mistakes.extend(m.key for m in found)
            lines.append(f"Likely mistake: {found[0].sentence}")
    return "\n".join(lines)


def _diagnose(function: str, inputs: Dict[str, Any], actual: Dict[str, np.ndarray]) -> List[Any]:
    """Ask the mistakes catalogue (autograder/mistakes.py, if present) which known mistake matches."""
    try:
        mistakes = importlib.import_module("autograder.mistakes")
    except ImportError:
        return []
    try:
        with np.errstate(all="ignore"):
            return list(mistakes.diagnose(function, inputs, actual, reference.run_scenario))
    except Exception as exc:  # noqa: BLE001 - a catalogue bug must not stop grading
        print(f"warning: mistakes.diagnose({function}) failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return []


def _summary(mode: str, static: Dict[str, Any], client: WorkerClient) -> str:
    try:
        lines = [sandbox.describe(mode)]
    except (AttributeError, ValueError):  # an older sandbox module without describe()
        lines = [f"Sandbox: {mode}."]
    problems = [c.problem for c in static.values() if c.problem]
    lines.extend(problems)
    printed = client.student_output()
    if printed.strip():
        shown = printed if len(printed) <= SHOWN_OUTPUT_CHARS else printed[:SHOWN_OUTPUT_CHARS] + "\n[...]"
        lines.append(f"Your code printed {len(printed)} characters; the first ones:\n{shown}")
    return "\n".join(lines)
