"""Grade one submission: static checks, the worker, every rubric test, scores (the orchestrator).

:func:`grade_submission` returns the Gradescope ``results.json`` dict. It never raises for a
broken submission (every problem becomes a failed test with a message); it raises only when the
grader itself cannot run (no such directory, a broken rubric, no sandbox).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from autograder.engine import localize, pack, reference
from autograder.engine import submission as submission_checks
from autograder.engine.checks import CheckFailed, unpack
from autograder.engine.checks import failure as checks_failure
from autograder.engine.hidden_tests import EVIDENCE, Grader, TestOutcome, requires, run_test, shows_inputs
from autograder.engine.pack import function
from autograder.engine.score import RubricTest, function_scores, load_rubric
from autograder.engine.spec import Function
from autograder.engine.strategies import describe_inputs, materialize
from autograder.feedback import messages
from autograder.sandbox import registry as sandbox_registry
from autograder.sandbox.limits import GRADING
from autograder.worker.client import Failure, WorkerClient

SHOWN_OUTPUT_CHARS = 2000  # of the student's prints, in the results' top-level output


class GraderError(RuntimeError):
    """The grader itself cannot run (not a problem of the submission)."""


def grade_submission(submission: Path, *, sandbox: str = "auto") -> Dict[str, Any]:
    """Grade ``submission`` (a directory with the pack's graded modules); return the results.json dict."""
    started = time.monotonic()
    directory = Path(submission)
    if not directory.is_dir():
        raise GraderError(f"submission directory {directory} does not exist or is not a directory")
    rubric = load_rubric()
    active = pack.current()
    mode = _resolve(sandbox)
    static = submission_checks.inspect(directory, active.module_functions)
    limits = GRADING  # autograder/sandbox/limits.py
    tests: List[Dict[str, Any]] = []
    with WorkerClient(directory, sandbox_mode=mode, limits=limits, call_seconds=limits.call_seconds) as client:
        loadable = {m: active.module_functions.get(m, ()) for m, c in static.items() if c.problem is None}
        imports = client.load_modules(loadable) if loadable else {}
        grader = Grader(client)
        deadline = started + limits.submission_seconds
        for fn in active.functions:
            blocked = _blocked(fn, static, imports)
            outcomes: List[Tuple[RubricTest, TestOutcome]] = []
            for test in (t for t in rubric if t.function == fn.name):
                if blocked is not None:
                    outcome = TestOutcome(False, blocked)
                elif _unmet(test, outcomes, grader.evidence) is not None:
                    outcome = _unmet(test, outcomes, grader.evidence)  # type: ignore[assignment]
                elif time.monotonic() > deadline:
                    outcome = TestOutcome(False, f"not run: grading this submission took longer than "
                                                 f"{limits.submission_seconds:g} s")
                else:
                    outcome = run_test(grader, fn, test.kind, test.profile, test.examples)
                outcomes.append((test, outcome))
            for test, outcome in outcomes:
                outcome = _unmet(test, outcomes, grader.evidence) or outcome  # a requirement that ran after the test
                tests.append(_test_result(fn, test, outcome, grader))
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
            "examples": {f.name: grader.examples_run.get(f.name, 0) for f in active.functions},
            "worker_restarts": client.restarts,
        },
    }
    return results


def _unmet(test: RubricTest, outcomes: List[Tuple[RubricTest, TestOutcome]],
           evidence: set) -> Optional[TestOutcome]:
    """A failed outcome when none of what the test's points need (hidden_tests.requires(): the first
    test of another kind of the same function passing, or evidence that the function computes) holds
    once those tests have run; None otherwise."""
    needed = requires().get(test.kind)
    if not needed or (EVIDENCE in needed and test.function in evidence):
        return None
    required = [next(((t, o) for t, o in outcomes if t.kind == kind), None) for kind in needed if kind != EVIDENCE]
    ran = [r for r in required if r is not None]
    if not ran or len(ran) < len(required) or any(o.passed for _, o in ran):
        return None
    return TestOutcome(False, messages.needs_values(test.function, [t.name for t, _ in ran], EVIDENCE in needed))


def _resolve(mode: str) -> str:
    try:
        return sandbox_registry.resolve_mode(mode)
    except (ValueError, RuntimeError, OSError) as exc:
        raise GraderError(str(exc)) from exc


def _blocked(fn: Function, static: Dict[str, Any], imports: Dict[str, Any]) -> Optional[str]:
    """Why none of ``fn``'s tests can run (its module is broken, or it is missing), or None."""
    needed = [fn.module] + ([function(fn.forward).module] if fn.forward else [])
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
        module = function(name).module
        present = imports.get(module)
        if present is not None and not isinstance(present, Failure) and name not in present.value:
            suffix = "" if name == fn.name else f" (it is needed to test {fn.name})"
            return f"{name} is missing from {module}.py{suffix}"
    return None


def _test_result(fn: Function, test: RubricTest, outcome: TestOutcome,
                 grader: Optional[Grader] = None) -> Dict[str, Any]:
    """The results.json entry of one test. ``grader`` (its worker still running) lets the feedback
    re-run the student's function to verify what it says; without it nothing is localized."""
    extra: Dict[str, Any] = {"function": fn.name, "kind": test.kind, "mistakes": []}
    output = "passed" if outcome.passed else _failure_text(fn, test, outcome, extra, grader)
    if outcome.note:  # how the function was judged when a dependency of it is wrong
        extra["note"] = outcome.note
        output = f"{output}\n{outcome.note}"
    return {
        "name": test.full_name,
        "score": test.points if outcome.passed else 0.0,
        "max_score": test.points,
        "status": "passed" if outcome.passed else "failed",
        "output": output,
        "visibility": test.visibility,
        "extra_data": extra,
    }


ENGINE_LOCALIZED_KINDS = ("values", "gradcheck")  # failures localized and diagnosed (and the pack's)


def _failure_text(fn: Function, test: RubricTest, outcome: TestOutcome, extra: Dict[str, Any],
                  grader: Optional[Grader] = None) -> str:
    """The output text of a failed test; fills ``extra`` (extra_data) with the same content as data:
    ``message``, ``input`` (header and dump, or None), ``outputs`` (name -> right on the failing
    example), ``facts`` (localize.Fact.as_dict), ``mistakes`` (catalogue keys that match),
    ``mistake`` (the key shown, or None)."""
    failure = outcome.failure
    extra.update(message=outcome.message, input=None, outputs={}, facts=[], mistake=None)
    if failure is None or failure.example is None:
        return outcome.message
    ex = failure.example
    inputs = failure.inputs if failure.inputs is not None else materialize(fn, ex)  # what the check ran
    order = {k: i for i, k in enumerate(("N", "T", "D", "H", "L"))}
    sizes = ", ".join(f"{k}={v}" for k, v in sorted(ex.dims, key=lambda kv: (order.get(kv[0], 9), kv[0])))
    options = "".join(f", {k}={inputs[k]!r}" for k in ("cell", "truncate", "max_norm") if k in inputs)
    if ex.zero_grads:
        options += messages.zero_grads_option()
    value_problem = failure.output is not None or failure.actual is not None
    hidden = test.visibility == "hidden"
    header = dump = None
    localized_kinds = ENGINE_LOCALIZED_KINDS + pack.current().localized_kinds
    if not hidden and test.kind in shows_inputs() and value_problem:
        header, dump = messages.input_header(sizes, options, ex.scale), describe_inputs(inputs)
    elif not hidden:
        header = messages.sizes_only(sizes, options)
    extra["input"] = {"header": header, "dump": dump} if header else None
    sentence = None
    if failure.actual is not None and test.kind in localized_kinds:
        found = _explain(fn, test, failure, ex, inputs, extra, grader if not hidden else None)
        if found is not None and not hidden:
            sentence = found.sentence
            extra["mistake"], extra["mistake_sentence"] = found.key, found.sentence
    elif test.kind in localized_kinds and grader is not None and not hidden:
        fact = _breakage(fn, failure)
        if fact is not None and _breakage_again(fn, test, fact, ex, inputs, grader):
            extra["facts"] = [messages.fact_record(fact)]
    return messages.failure_text(outcome.message, header, dump, extra["facts"], sentence)


def _breakage(fn: Function, failure: CheckFailed) -> Optional[localize.Fact]:
    """Where a call that returned no comparable arrays broke (the line that raised, or the contract)."""
    problem = failure.outcome
    if problem is not None:
        return localize.breakage(fn, problem.kind, problem.type, problem.traceback)
    if failure.contract:
        return localize.breakage(fn, "contract", problem=failure.contract, output=failure.output)
    return None


def _breakage_again(fn: Function, test: RubricTest, fact: localize.Fact, ex: Any, inputs: Dict[str, Any],
                    grader: Grader) -> bool:
    """True when the scenario breaks the same way on a second example (another seed, the same sizes)."""
    ex2 = localize.second_example(ex)
    try:
        grader.client.clear_handles()
        outcome = grader.run_scenario(fn, _inputs_like(fn, test, inputs)(ex2))[-1]
        if isinstance(outcome, Failure):
            return _breakage(fn, checks_failure(outcome)) == fact
        unpack(fn, outcome.value, ex2.size, ex2.cell)
    except CheckFailed as exc:
        exc.contract = exc.message
        return _breakage(fn, exc) == fact
    except Exception:  # noqa: BLE001 - no second example, no verified fact
        return False
    return False


def _explain(fn: Function, test: RubricTest, failure: Any, ex: Any, inputs: Dict[str, Any], extra: Dict[str, Any],
             grader: Optional[Grader]) -> Any:
    """Localize the failure and ask the catalogue; fill ``extra``; return the mistake to show (or None).

    Facts and the shown mistake must hold on a second example too, which needs ``grader`` (hidden
    tests pass None: they list matching mistakes in extra_data but show nothing)."""
    actual = failure.actual
    try:
        with np.errstate(all="ignore"):
            ref = reference.expected(fn, inputs)
    except Exception:  # noqa: BLE001 - the reference cannot run this input: nothing to compare
        return None
    expected = failure.expected if getattr(failure, "expected", None) is not None else ref
    extra["outputs"] = {n: localize.agree(actual[n], e) for n, e in expected.items() if n in actual}
    found = _diagnose(fn.name, inputs, actual) if _agrees(expected, ref) else []
    extra["mistakes"] = [m.key for m in found]
    if grader is None:
        return None
    expect = _expectation(fn, grader, expected, ref, inputs)
    if expect is None:
        return None
    first = localize.Case(fn, inputs, {n: actual[n] for n in expected if n in actual}, dict(expected), ex.size,
                          ex.cell)  # a test may judge some outputs only (carousel: next_c)
    try:
        with np.errstate(all="ignore"):
            rerun = _rerun(fn, grader)
            if set(expected) != set(ref):  # the test judged some outputs only: so does the second example
                rerun, expect = _restricted(rerun, set(expected)), _restricted(expect, set(expected))
            result = localize.localize(fn, ex, first, rerun, expect, _inputs_like(fn, test, inputs),
                                       reference_counterfactual(fn) if expect is _reference_expect(fn) else None)
    except Exception as exc:  # noqa: BLE001 - localization must never stop grading
        print(f"warning: localizing {fn.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    extra["facts"] = [messages.fact_record(f) for f in result.facts]
    if not found or result.second is None:
        return None
    again = {m.key for m in _diagnose(fn.name, result.second.inputs, result.second.actual)}
    verified = [m for m in found if m.key in again]  # a mistake is shown only when it matches both examples
    extra["mistakes"] = [m.key for m in verified]
    return verified[0] if verified else None


def _agrees(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> bool:
    return set(a) == set(b) and all(localize.agree(a[n], b[n]) for n in a)


_REFERENCE_EXPECT: Dict[str, Any] = {}


def _reference_expect(fn: Function) -> Any:
    if fn.name not in _REFERENCE_EXPECT:
        _REFERENCE_EXPECT[fn.name] = lambda inputs: reference.expected(fn, inputs)
    return _REFERENCE_EXPECT[fn.name]


def reference_counterfactual(fn: Function) -> Any:
    return _reference_expect(fn)


def _expectation(fn: Function, grader: Grader, expected: Dict[str, np.ndarray], ref: Dict[str, np.ndarray],
                 inputs: Dict[str, Any]) -> Any:
    """What the student's outputs on another example are compared with: the reference, when the failing
    test compared with it (or with some of its outputs); None otherwise (nothing is localized)."""
    if expected and all(n in ref and localize.agree(expected[n], ref[n]) for n in expected):
        return _reference_expect(fn)
    return None


def _restricted(produce: Any, names: set) -> Any:
    """``produce`` (a function returning named outputs, or None) keeping only ``names``."""
    def keep(*args: Any) -> Any:
        value = produce(*args)
        return None if value is None else {k: v for k, v in value.items() if k in names}
    return keep


def _rerun(fn: Function, grader: Grader) -> Any:
    """The student's named outputs for (example, inputs), or None if the call failed or returned garbage."""
    def run(ex: Any, inputs: Dict[str, Any]) -> Optional[Dict[str, np.ndarray]]:
        grader.client.clear_handles()
        outcomes = grader.run_scenario(fn, inputs)
        if any(isinstance(o, Failure) for o in outcomes):
            return None
        try:
            return unpack(fn, outcomes[-1].value, ex.size, ex.cell)
        except CheckFailed:
            return None
    return run


def _inputs_like(fn: Function, test: RubricTest, inputs: Dict[str, Any]) -> Any:
    """Inputs for another example, made the way the failing test made its own (the pack's
    ``retry_inputs`` for its kinds; an option the test set, such as truncate=None, kept)."""
    def make(ex: Any) -> Dict[str, Any]:
        special = pack.current().retry_inputs.get(test.kind)
        if special is not None:
            return special(fn, ex)
        made = materialize(fn, ex)
        if "truncate" in made and "truncate" in inputs:  # the truncate the test ran (None in a gradient check)
            made["truncate"] = inputs["truncate"]
        return made
    return make


def _diagnose(function: str, inputs: Dict[str, Any], actual: Dict[str, np.ndarray]) -> List[Any]:
    """Ask the pack's mistakes catalogue which known mistakes match, best first."""
    diagnose = pack.current().diagnose
    if diagnose is None:
        return []
    try:
        with np.errstate(all="ignore"):
            return list(diagnose(function, inputs, actual, reference.run_scenario))
    except Exception as exc:  # noqa: BLE001 - a catalogue bug must not stop grading
        print(f"warning: mistakes.diagnose({function}) failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return []


def _summary(mode: str, static: Dict[str, Any], client: WorkerClient) -> str:
    try:
        lines = [sandbox_registry.describe(mode)]
    except (AttributeError, ValueError):  # an older sandbox module without describe()
        lines = [f"Sandbox: {mode}."]
    problems = [c.problem for c in static.values() if c.problem]
    lines.extend(problems)
    printed = client.student_output()
    if printed.strip():
        shown = printed if len(printed) <= SHOWN_OUTPUT_CHARS else printed[:SHOWN_OUTPUT_CHARS] + "\n[...]"
        lines.append(f"Your code printed {len(printed)} characters; the first ones:\n{shown}")
    return "\n".join(lines)
