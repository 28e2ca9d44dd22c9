"""Grade one submission: static checks, the worker, every rubric test, scores (the orchestrator).

:func:`grade_submission` returns the Gradescope ``results.json`` dict. It never raises for a
broken submission (every problem becomes a failed test with a message); it raises only when the
grader itself cannot run (no such directory, a broken rubric, no sandbox).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from autograder.engine import answers, oracle, pack
from autograder.engine import submission as submission_checks
from autograder.engine.hidden_tests import EVIDENCE, Grader, TestOutcome, requires, run_test, shows_inputs
from autograder.engine.pack import function
from autograder.engine.score import RubricTest, function_scores, load_rubric
from autograder.engine.spec import Function, array_shaped_args, input_sizes
from autograder.engine.strategies import describe_inputs, materialize
from autograder.feedback import messages
from autograder.sandbox import registry as sandbox_registry
from autograder.sandbox.limits import GRADING
from autograder.worker.client import Failure, WorkerClient

SHOWN_OUTPUT_CHARS = 2000  # of the student's prints, in the results' top-level output


class GraderError(RuntimeError):
    """The grader itself cannot run (not a problem of the submission)."""


def grade_submission(submission: Path, *, sandbox: str = "auto", source: Any = None) -> Dict[str, Any]:
    """Grade ``submission`` (a directory with the pack's graded modules); return the results.json dict.

    ``source``: where answers and examples come from (:mod:`autograder.engine.oracle`); None is the real
    grade (the reference solutions and the marking draws)."""
    if source is not None:
        with oracle.using(source):
            return grade_submission(submission, sandbox=sandbox)
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
            with answers.kept(fn.name):  # the reference's answers, kept on disk (engine/answers.py)
                for test in (t for t in rubric if t.function == fn.name):
                    if blocked is not None:
                        outcome = TestOutcome(False, blocked)
                    elif _unmet(test, outcomes, grader.evidence) is not None:
                        outcome = _unmet(test, outcomes, grader.evidence)  # type: ignore[assignment]
                    elif time.monotonic() > deadline:
                        outcome = TestOutcome(False, f"not run: grading this submission took longer than "
                                                     f"{limits.submission_seconds:g} s")
                    else:
                        outcome = run_test(grader, fn, test.kind, test.profile, test.examples,
                                           shrink=test.visibility != "hidden")  # the input is shown: keep it small
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
    unsure = [o.not_judged for _, o in ran if o.not_judged]
    if unsure:  # the student CI could not judge what this test rests on: neither can it judge this one
        return TestOutcome(False, messages.not_judged_requires(test.function, [t.name for t, _ in ran]),
                           not_judged=unsure[0])
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
    if outcome.not_judged:  # the student CI's range: these points are neither earned nor lost here
        extra["not_judged"] = outcome.not_judged
    if not oracle.current().localizes():
        grader = None  # localizing a failure needs the reference at the student's inputs
    output = "passed" if outcome.passed else _failure_text(fn, test, outcome, extra, grader)
    if outcome.note:  # how the function was judged when a dependency of it is wrong
        extra["note"] = outcome.note
        output = f"{output}\n{outcome.note}"
    if grader is not None and not outcome.passed:  # how its outputs were looked at (the truth check does the same)
        from autograder.engine import explain  # staff-side only: the student CI never localizes

        alone = explain.judged_alone(grader.modes.get((fn.name, test.profile)))
        extra["judged_with"] = {"serve": list(alone.serve), "serve_forward": alone.serve_forward}
    if outcome.claims:  # what its sentences say of other functions (checked by autograder.quality.truth)
        extra["claims"] = [{"function": name, "claim": claim} for name, claim in outcome.claims]
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
    extra["example"] = dataclasses.asdict(ex)  # the failing example (the truth check draws others from it)
    inputs = failure.inputs if failure.inputs is not None else materialize(fn, ex)  # what the check ran
    made_for = (function(fn.forward), fn) if fn.forward else (fn,)  # a backward's inputs include its forward's
    arrays = {n: {k: getattr(v, "shape", ()) for k, v in inputs[n].items()} for n in array_shaped_args(made_for)
              if isinstance(inputs.get(n), dict)}
    sizes = messages.input_sizes(input_sizes(made_for, ex.size), arrays)  # only the sizes these inputs have
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
    if grader is not None or oracle.current().localizes():
        # localizing needs the reference at the student's inputs: never in the student CI, whose bundle
        # does not carry this module (autograder.integrations.student_bundle)
        from autograder.engine import explain
    if failure.actual is not None and test.kind in localized_kinds and oracle.current().localizes():
        found = explain.explain(fn, test, failure, ex, inputs, extra, grader if not hidden else None)
        if found is not None and not hidden:
            sentence = found.sentence
            extra["mistake"], extra["mistake_sentence"] = found.key, found.sentence
    elif test.kind in localized_kinds and grader is not None and not hidden:
        fact = explain.breakage_of(fn, failure)
        if fact is not None and explain.breakage_again(fn, test, fact, ex, inputs, grader):
            extra["facts"] = [messages.fact_record(fact)]
        extra["facts"] += [messages.fact_record(f) for f in explain.conditions(fn, test, ex, inputs, grader)]
    elif grader is not None and not hidden and test.kind in explain.PROPERTY_KINDS:
        fact = explain.property_fact(fn, test, failure, ex, grader)
        if fact is not None:
            extra["facts"] = [messages.fact_record(fact)]
    return messages.failure_text(outcome.message, header, dump, extra["facts"], sentence)


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
        lines.append(messages.printed_output(len(printed), shown))
    return "\n".join(lines)
