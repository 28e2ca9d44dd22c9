"""Explain a failed test: where the mistake is (verified facts), and which known mistake it is.

Every fact and catalogued mistake is shown only when it holds on examples drawn independently of the
failing one (:func:`autograder.engine.localize.independent_example`), never on the failing example
alone, whose small sizes and structured values can make unrelated mistakes coincide. The grader
(:mod:`autograder.engine.grade`) calls :func:`explain` and :func:`breakage_again`; the truth check
(:mod:`autograder.quality.truth`) uses the same helpers to check them again on other examples.
"""
from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional

import numpy as np

from autograder.engine import localize, pack, reference
from autograder.engine.checks import CheckFailed, unpack
from autograder.engine.checks import failure as checks_failure
from autograder.engine.dependencies import Mode, Run
from autograder.engine.hidden_tests import Grader, kinds
from autograder.engine.score import RubricTest
from autograder.engine.spec import Function
from autograder.engine.strategies import materialize
from autograder.feedback import messages
from autograder.worker.client import Failure


def breakage_of(fn: Function, failure: CheckFailed) -> Optional[localize.Fact]:
    """Where a call that returned no comparable arrays broke (the line that raised, or the contract)."""
    problem = failure.outcome
    if problem is not None:
        return localize.breakage(fn, problem.kind, problem.type, problem.traceback)
    if failure.contract:
        return localize.breakage(fn, "contract", problem=failure.contract, output=failure.output)
    return None


def breakage_again(fn: Function, test: RubricTest, fact: localize.Fact, ex: Any, inputs: Dict[str, Any],
                   grader: Grader) -> bool:
    """True when the scenario breaks the same way on the examples drawn independently of the failing one
    (:func:`autograder.engine.localize.independent_example`), judged as the test judged it."""
    make = inputs_like(fn, test, inputs)
    alone = judged_alone(grader.modes.get((fn.name, test.profile)))
    for k in range(1, localize.INDEPENDENT + 1):
        other = localize.independent_example(fn, ex, k, test.kind, test.profile)
        try:
            if breaks(grader, fn, make(other), other, alone) != fact:
                return False
        except Exception:  # noqa: BLE001 - no independent example, no verified fact
            return False
    return True


def conditions(fn: Function, test: RubricTest, ex: Any, inputs: Dict[str, Any], grader: Grader) -> List[localize.Fact]:
    """For a failure that returned no comparable arrays, the size conditions that hold on the examples
    drawn independently of the failing one (localize.CONDITION_KINDS: wrong only with a size 1, ...)."""
    try:
        with np.errstate(all="ignore"):
            found = localize.localize(fn, ex, None, rerun(fn, grader, grader.modes.get((fn.name, test.profile))),
                                      reference_expect(fn), inputs_like(fn, test, inputs), None,
                                      kind=test.kind, profile=test.profile)
    except Exception as exc:  # noqa: BLE001 - localization must never stop grading
        print(f"warning: localizing {fn.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return []
    return [f for f in found.facts if f.kind in localize.CONDITION_KINDS]


PROPERTY_KINDS = ("inplace", "cache", "invalid_cell")  # kinds whose failure says what is wrong in itself


def property_fact(fn: Function, test: RubricTest, failure: CheckFailed, ex: Any, grader: Grader) -> Optional[localize.Fact]:
    """A property test's failure (in place, cache, unknown cell) as a fact, when the test's own check fails
    the same way (the same input changed, the same outputs wrong, ...) on the examples drawn
    independently of the failing one; None otherwise."""
    check = kinds().get(test.kind)
    if check is None or test.kind not in PROPERTY_KINDS:
        return None
    saved = grader.profile, grader.kind
    grader.profile, grader.kind = test.profile, test.kind
    try:
        for k in range(1, localize.INDEPENDENT + 1):
            other = localize.independent_example(fn, ex, k, test.kind, test.profile)
            grader.client.clear_handles()
            try:
                check(grader, fn, other)
            except CheckFailed as exc:
                if exc.output != failure.output or exc.message.splitlines()[0].split(" (")[0] != \
                        failure.message.splitlines()[0].split(" (")[0]:
                    return None
                continue
            except Exception:  # noqa: BLE001 - set aside there (a dependency wrong): nothing verified
                return None
            return None  # it passes there
    finally:
        grader.profile, grader.kind = saved
    return localize.Fact("property", fn.name, (failure.output,) if failure.output else (),
                         (("check", test.kind), ("message", failure.message.splitlines()[0])))


def breaks(grader: Grader, fn: Function, inputs: Dict[str, Any], ex: Any, mode: Mode) -> Optional[localize.Fact]:
    """Where the scenario of ``fn`` on ``inputs`` breaks (:func:`breakage_of`), or None when it returns
    arrays of the contract's shapes."""
    grader.client.clear_handles()
    scenario = Run(grader.client, fn, ex, inputs, mode)
    target = scenario.scenario()
    outcome = scenario.execute()[target]
    if isinstance(outcome, Failure):
        return breakage_of(fn, checks_failure(outcome))
    try:
        unpack(fn, outcome.value, ex.size, ex.cell)
    except CheckFailed as exc:
        exc.contract = exc.message
        return breakage_of(fn, exc)
    return None


def explain(fn: Function, test: RubricTest, failure: Any, ex: Any, inputs: Dict[str, Any], extra: Dict[str, Any],
             grader: Optional[Grader]) -> Any:
    """Localize the failure and ask the catalogue; fill ``extra``; return the mistake to show (or None).

    Facts and the shown mistake must hold on two examples drawn independently of the failing one
    (never on a structured one), which needs ``grader`` (hidden tests pass None: they list the mistakes
    matching the failing example in extra_data but show nothing)."""
    actual = failure.actual
    try:
        with np.errstate(all="ignore"):
            ref = reference.expected(fn, inputs)
    except Exception:  # noqa: BLE001 - the reference cannot run this input: nothing to compare
        return None
    expected = failure.expected if getattr(failure, "expected", None) is not None else ref
    extra["outputs"] = {n: localize.agree(actual[n], e) for n, e in expected.items() if n in actual}
    found = diagnose(fn.name, inputs, actual) if _agrees(expected, ref) else []
    extra["mistakes"] = [m.key for m in found]
    if grader is None:
        return None
    expect = _expectation(fn, grader, expected, ref, inputs)
    if expect is None:
        return None
    first = localize.Case(fn, inputs, {n: actual[n] for n in expected if n in actual}, dict(expected), ex.size,
                          ex.cell, ex)  # a test may judge some outputs only (carousel: next_c)
    try:
        with np.errstate(all="ignore"):
            student = rerun(fn, grader, grader.modes.get((fn.name, test.profile)))
            counterfactual = reference_counterfactual(fn) if expect is reference_expect(fn) else None
            if set(expected) != set(ref):  # the test judged some outputs only: so do the other examples
                student, expect = restricted(student, set(expected)), restricted(expect, set(expected))
            result = localize.localize(fn, ex, first, student, expect, inputs_like(fn, test, inputs), counterfactual,
                                       kind=test.kind, profile=test.profile)
    except Exception as exc:  # noqa: BLE001 - localization must never stop grading
        print(f"warning: localizing {fn.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    extra["facts"] = [messages.fact_record(f) for f in result.facts]
    cases = [c for c in result.independent if c.wrong]
    if len(cases) < localize.INDEPENDENT:
        extra["mistakes"] = []
        return None
    # a mistake is shown only when it explains the student's outputs on every independent example
    matches = [diagnose(fn.name, c.inputs, c.actual) for c in cases]
    verified = [m for m in matches[0] if all(m.key in {o.key for o in other} for other in matches[1:])]
    if verified and localize.has_sides(fn):  # the code's mistake must show on the other side too
        other = localize.independent_example(fn, ex, localize.INDEPENDENT + 1, test.kind, test.profile, other_side=True)
        case = localize.case(fn, other, student, expect, inputs_like(fn, test, inputs))
        verified = [m for m in verified if case is not None and reproduces(m, case)]
    extra["mistakes"] = [m.key for m in verified]
    return verified[0] if verified else None


def reproduces(mistake: Any, case: localize.Case) -> bool:
    """Whether the catalogued ``mistake`` gives exactly the student's outputs on ``case`` (right or wrong)."""
    try:
        with np.errstate(all="ignore"):
            variant = reference.run_scenario(case.fn.name, dict(case.inputs), overrides=dict(mistake.overrides))
    except Exception:  # noqa: BLE001 - the variant cannot run here: it does not reproduce it
        return False
    return all(n in variant and localize.agree(case.actual[n], variant[n]) for n in case.actual)


def _agrees(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> bool:
    return set(a) == set(b) and all(localize.agree(a[n], b[n]) for n in a)


_REFERENCE: Dict[str, Any] = {}


def reference_expect(fn: Function) -> Any:
    if fn.name not in _REFERENCE:
        _REFERENCE[fn.name] = lambda inputs: reference.expected(fn, inputs)
    return _REFERENCE[fn.name]


def reference_counterfactual(fn: Function) -> Any:
    return reference_expect(fn)


def _expectation(fn: Function, grader: Grader, expected: Dict[str, np.ndarray], ref: Dict[str, np.ndarray],
                 inputs: Dict[str, Any]) -> Any:
    """What the student's outputs on another example are compared with: the reference, when the failing
    test compared with it (or with some of its outputs); None otherwise (nothing is localized)."""
    if expected and all(n in ref and localize.agree(expected[n], ref[n]) for n in expected):
        return reference_expect(fn)
    return None


def restricted(produce: Any, names: set) -> Any:
    """``produce`` (a function returning named outputs, or None) keeping only the outputs ``names`` are
    of (``dh0s[1]`` and ``grads[0].Wx`` stand for every layer's ``dh0s`` and ``grads``: another example
    may have other layers)."""
    tops = {_top(n) for n in names}

    def keep(*args: Any) -> Any:
        value = produce(*args)
        return None if value is None else {k: v for k, v in value.items() if _top(k) in tops}
    return keep


def _top(name: str) -> str:
    return name.split(".")[0].split("[")[0]


def judged_alone(mode: Optional[Mode] = None) -> Mode:
    """How a function's outputs are looked at again after its tests: with the parts its tests served,
    and with the reference forward's cache where its forward was found wrong (so what is said is about
    the function itself, not about the forward it reads)."""
    mode = mode or Mode()
    return Mode(serve=mode.serve, serve_forward=bool(mode.special or mode.own or mode.serve_forward or mode.trial))


def rerun(fn: Function, grader: Grader, mode: Optional[Mode] = None) -> Any:
    """The student's named outputs for (example, inputs) in ``mode`` (:func:`judged_alone`), or None if
    the call failed or returned garbage."""
    alone = judged_alone(mode)

    def run(ex: Any, inputs: Dict[str, Any]) -> Optional[Dict[str, np.ndarray]]:
        grader.client.clear_handles()
        scenario = Run(grader.client, fn, ex, inputs, alone)
        target = scenario.scenario()
        scenario.execute()
        try:
            return scenario.outputs(target)
        except CheckFailed:
            return None
    return run


def inputs_like(fn: Function, test: RubricTest, inputs: Dict[str, Any]) -> Any:
    """Inputs for another example, made the way the test makes its own (the pack's maker for the
    test's kind: a truncation or carousel test's inputs; else the example's plain inputs, whose
    truncate, if any, is the example's own)."""
    active = pack.current()
    maker = active.stored_inputs.get(test.kind) or active.retry_inputs.get(test.kind)

    def make(ex: Any) -> Dict[str, Any]:
        return maker(fn, ex) if maker is not None else materialize(fn, ex)
    return make


def diagnose(function: str, inputs: Dict[str, Any], actual: Dict[str, np.ndarray]) -> List[Any]:
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
