"""The hidden tests: one check per test kind, run as a derandomized Hypothesis property.

A rubric test names a ``kind`` (below, or one of the pack's), a size ``profile`` (the pack's) and a number of
``examples``. Every point is evidence of a correct behaviour of the function the test grades, and
a mistake is charged once, in the function that has it: an example counts for a function F only
when F's dependencies (its forward, its graded parts) are right on it, and otherwise Hypothesis
draws another one (:mod:`autograder.engine.dependencies`, which also says how F is judged when a
dependency is wrong everywhere). Kinds:

- ``values``: F's outputs equal the reference's (for a backward function: the student's forward
  then backward, judged against the reference backward);
- ``gradcheck``: a backward function agrees with central differences of the student's OWN forward
  along random directions, on examples where that forward is right;
- ``inplace``: no input array is modified;
- ``cache``: a forward's cache carries what the student's own backward reads (:func:`check_cache`).

Every values test (and the pack's boundary kinds) also runs fixed boundary examples after its draws
(strategies.boundary_examples). A test passes only when at least one example counted and none
failed; ``inplace`` and ``cache`` points (and the pack's :attr:`~autograder.engine.pack.Pack.requires`)
count only with evidence that the function computes: its first ``values`` test passes, or it was right
on some of its values examples whose expected outputs are not all zero (:data:`EVIDENCE`; see
:func:`autograder.engine.grade.grade_submission`).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

import numpy as np

from autograder.engine import draws, oracle, pack, reference
from autograder.engine.checks import (
    FD_STEP,
    CheckFailed,
    directional_check,
    failure,
    leaves,
    loss,
    mismatch,
    modified,
    shifted,
    unpack,
)
from autograder.engine.dependencies import (
    TRIAL,
    UNINFORMATIVE,
    Mode,
    Notes,
    Rejected,
    Run,
    cache_positions,
    copied_parts,
    escalate,
    parts_to_serve,
    served_parts,
)
from autograder.engine.lookahead import Lookahead
from autograder.engine.pack import function
from autograder.engine.spec import Function, Tol
from autograder.engine.strategies import Example, boundary_examples, describe_special, examples, materialize
from autograder.feedback import messages
from autograder.worker.client import Batch, Failure, Ok, WorkerClient

DEGENERATE = 1e-8  # an expected output no larger than this everywhere is "zero" (proves nothing on specials)
# A cache test counts an example only where the forward's outputs are right to rounding: a saturated tanh
# hides a wrong forward (1 - 1.7e-10 vs 1 - 0.2e-10) whose cache then feeds its backward visibly different
# derivatives, and that would be charged to the cache.
CACHE_TOL = Tol(rtol=1e-12, atol=1e-14)


@dataclass
class TestOutcome:
    passed: bool
    message: str = ""
    failure: Optional[CheckFailed] = None
    examples: int = 0
    note: str = ""  # what the feedback should say about F's dependencies (wrong forward, parts served)
    claims: List[Tuple[str, str]] = field(default_factory=list)  # (dependency, claim) the note makes
    # the function to fix before this test can be judged here (the student CI's oracle lacked an answer)
    not_judged: str = ""


@dataclass
class Grader:
    """What the checks need: the worker client, each function's judging mode, and counters."""

    client: WorkerClient
    examples_run: Dict[str, int] = field(default_factory=dict)
    # functions right on at least one example of a values test with expected outputs not all zero
    evidence: set = field(default_factory=set)
    kind: str = "values"  # the kind of the test under way
    # (function, size profile) -> how its examples are judged: a dependency may be wrong only for
    # some sizes (e.g. only for large ones), so each profile escalates on its own.
    modes: Dict[Tuple[str, str], Mode] = field(default_factory=dict)
    profile: str = "general"  # the profile of the test under way
    # functions with an example that failed or was set aside: their examples go to the worker one ahead
    # (each such example drops what was sent ahead of it), the others' all at once (engine/lookahead.py)
    troubled: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.client.part_server = lambda key, args, kwargs: oracle.current().serve_part(key, args, kwargs)

    def mode(self, fn: Function) -> Mode:
        return self.modes.get((fn.name, self.profile), Mode())

    def run_scenario(self, fn: Function, inputs: Dict[str, Any], echo: bool = False) -> List[Any]:
        """The student's outcome(s) on a scenario: [forward] or [forward, backward] (for feedback)."""
        batch = Batch(self.client)
        if fn.forward:
            fwd = function(fn.forward)
            args, kwargs = reference.call_arguments(fwd, inputs)
            ref = batch.call(fwd.module, fwd.name, *args, opaque=[fwd.cache_index], copies=copied_parts(fwd),
                             caches=cache_positions(), **kwargs)
            args, kwargs = reference.backward_arguments(fn, inputs, ref[fwd.cache_index])
            batch.call(fn.module, fn.name, *args, echo=echo, copies=copied_parts(fn), caches=cache_positions(), **kwargs)
        else:
            args, kwargs = reference.call_arguments(fn, inputs)
            opaque = [fn.cache_index] if fn.cache_index is not None else []
            batch.call(fn.module, fn.name, *args, opaque=opaque, echo=echo, copies=copied_parts(fn),
                       caches=cache_positions(), **kwargs)
        return batch.run()


# ---------------------------------------------------------------- judging F's outputs


def judge(run: Run, actual: Dict[str, np.ndarray], expected: Dict[str, np.ndarray],
          inputs: Optional[Dict[str, Any]] = None, truncate: Any = None,
          consistency: Optional[Callable[[], Optional[CheckFailed]]] = None) -> None:
    """Raise CheckFailed unless ``actual`` is right (see dependencies: the ``own`` mode's yardsticks)."""
    fn = run.fn
    with np.errstate(all="ignore"):
        wrong = mismatch(actual, expected, fn.tol)
    if wrong is None:
        _require_informative(run, expected)
        if run.evidence is not None and any(np.any(np.abs(v) > DEGENERATE) for v in expected.values()):
            run.evidence.add(fn.name)
        return
    if run.mode.own:
        unsure: Optional[oracle.NotJudged] = None
        try:
            at_outputs = oracle.current().backward_at_outputs(fn, inputs or run.inputs, run.forward_outputs(), truncate)
        except oracle.NotJudged as exc:  # the student CI has no reference at the student's own states
            at_outputs, unsure = None, exc
        if at_outputs is not None:
            with np.errstate(all="ignore"):
                if mismatch(actual, {k: at_outputs[k] for k in expected}, fn.tol) is None:
                    return
        if consistency is not None and consistency() is None:
            if unsure is not None and unsure in oracle.current().misses:
                oracle.current().misses.remove(unsure)  # right by the other yardstick: judged after all
            return
        if unsure is not None:
            raise unsure
    wrong.expected = expected
    raise wrong


def _require_informative(run: Run, expected: Dict[str, np.ndarray]) -> None:
    """A pass proves nothing where the expected gradients are zero: such an example does not count."""
    fn = run.fn
    if fn.forward and not any(np.any(np.abs(value) > DEGENERATE) for value in expected.values()):
        # saturated tanh/sigmoid: every true gradient vanishes, so a backward returning zeros would "pass"
        raise Rejected(UNINFORMATIVE, "every expected gradient is zero on this input (saturated)", run.ex)
    if run.mode.special:
        flat = [name for name, value in expected.items() if not np.any(np.abs(value) > DEGENERATE)]
        if flat:  # e.g. dWh with zero states: zeros there would prove nothing
            raise Rejected(UNINFORMATIVE, f"on {describe_special(run.mode.special)} the expected "
                                          f"{', '.join(flat)} is zero", run.ex)


def _directions(fn: Function, inputs: Dict[str, Any], seed: int) -> List[Tuple[str, str, np.ndarray]]:
    """One random direction per gradient leaf: (output leaf name, input leaf name, direction)."""
    rng = np.random.default_rng(seed + 7919)
    return [(_rename(in_name, out.grad_of, out.name), in_name, rng.standard_normal(leaf.shape))
            for out in fn.array_outputs for in_name, leaf in leaves(inputs[out.grad_of], out.grad_of)]


def _rename(leaf_name: str, old: str, new: str) -> str:
    return new + leaf_name[len(old):]


def _add_shifted_forwards(run: Run, pairs: List[Tuple[str, str, np.ndarray]]) -> List[Tuple[int, int]]:
    indices = []
    for _, in_name, v in pairs:
        plus = run.call_forward(shifted(run.inputs, in_name, FD_STEP * v))
        minus = run.call_forward(shifted(run.inputs, in_name, -FD_STEP * v))
        indices.append((plus, minus))
    return indices


def _consistency(run: Run, grads: Dict[str, np.ndarray], pairs: List[Tuple[str, str, np.ndarray]],
                 indices: List[Tuple[int, int]], require_signal: bool) -> Optional[CheckFailed]:
    """The directional check of ``grads`` against the student's own forward (None: consistent).

    ``require_signal``: an output whose central difference and analytic value are both zero
    proves nothing (a constant forward and a zero backward agree): the example is rejected.
    """
    fwd = function(run.fn.forward)
    try:
        base = run.forward_outputs()
        forwards = [(unpack(fwd, run.outcomes[p].value, run.ex.size, run.ex.cell),
                     unpack(fwd, run.outcomes[m].value, run.ex.size, run.ex.cell))
                    if isinstance(run.outcomes[p], Ok) and isinstance(run.outcomes[m], Ok) else None
                    for p, m in indices]
    except CheckFailed as exc:
        return CheckFailed(f"the gradient check needs your forward function: {exc.message}", output=exc.output)
    upstream = {fwd_out: run.inputs[up] for up, fwd_out in run.fn.upstream.items()}
    signal: Dict[str, bool] = {}
    with np.errstate(all="ignore"):
        loss_0 = loss(base, upstream)
        for (out_name, _, v), pair in zip(pairs, forwards):
            if pair is None:
                return CheckFailed("the gradient check needs your forward function, which failed on a shifted input")
            plus, minus = loss(pair[0], upstream), loss(pair[1], upstream)
            wrong = directional_check(out_name, grads[out_name], v, plus, minus, loss_0)
            if wrong is not None:
                wrong.actual = grads
                return wrong
            numeric = abs(plus - minus) / (2 * FD_STEP)
            top = out_name.split(".")[0].split("[")[0]
            signal[top] = signal.get(top, False) or numeric > 1e-7 or float(np.max(np.abs(grads[out_name]), initial=0)) > 1e-12
    if require_signal:
        silent = [name for name, seen in signal.items() if not seen]
        if silent:  # this example proves nothing about those outputs: it does not count
            raise Rejected(UNINFORMATIVE, f"{', '.join(silent)} and the central differences of your "
                                        f"{fwd.name} are all zero on this input", run.ex)
    return None


# ---------------------------------------------------------------- kinds


def check_values(g: Grader, fn: Function, ex: Example, only: Optional[Tuple[str, ...]] = None,
                 inputs: Optional[Dict[str, Any]] = None) -> None:
    mode = g.mode(fn)
    inputs = inputs if inputs is not None else materialize(fn, ex)
    run = Run(g.client, fn, ex, inputs, mode)
    run.evidence = g.evidence if g.kind == "values" else None
    target = run.scenario()
    pairs: List[Tuple[str, str, np.ndarray]] = []
    indices: List[Tuple[int, int]] = []
    if mode.own and fn.forward:
        pairs = _directions(fn, inputs, ex.seed)
        indices = _add_shifted_forwards(run, pairs)
    run.execute()

    def check() -> None:
        actual = run.outputs(target)
        expected = run.expected()
        if only is not None:
            actual, expected = {k: actual[k] for k in only}, {k: expected[k] for k in only}
        consistency = (lambda: _consistency(run, run.outputs(target), pairs, indices, True)) if pairs else None
        judge(run, actual, expected, consistency=consistency)

    run.charge(check)


def check_gradcheck(g: Grader, fn: Function, ex: Example) -> None:
    mode = g.mode(fn)
    inputs = materialize(fn, ex)
    if "truncate" in inputs:
        inputs["truncate"] = None  # truncated BPTT is not the true gradient; it has tests of its own
    run = Run(g.client, fn, ex, inputs, mode)
    target = run.scenario()
    pairs = [] if mode.special else _directions(fn, inputs, ex.seed)
    indices = _add_shifted_forwards(run, pairs)
    run.execute()

    def check() -> None:
        grads = run.outputs(target)
        if mode.special:  # the forward is right on the special inputs, not around them: no differences
            judge(run, grads, run.expected())
            return
        if mode.own:
            judge(run, grads, run.expected(), consistency=lambda: _consistency(run, grads, pairs, indices, True))
            return
        wrong = _consistency(run, grads, pairs, indices, require_signal=False)
        if wrong is not None:
            wrong.expected = run.expected()
            raise wrong
        _require_informative(run, run.expected())

    try:
        run.charge(check)
    except CheckFailed as exc:
        exc.inputs = inputs  # the feedback shows what ran (truncate None)
        raise


def check_inplace(g: Grader, fn: Function, ex: Example) -> None:
    mode = g.mode(fn)
    inputs = materialize(fn, ex)
    sent = copy.deepcopy(inputs)
    run = Run(g.client, fn, ex, inputs, mode)
    run.compares_values = False
    target = run.scenario(echo=True)
    run.execute()

    def check() -> None:
        outcome = run.outcomes[target]
        if not isinstance(outcome, Ok):
            run.compares_values = True  # a backward that cannot run may be reading a wrong cache (charged there)
            raise failure(outcome)
        unpack(fn, outcome.value, ex.size, ex.cell, strict=False)  # returning garbage earns nothing here
        if fn.forward:
            names = list(fn.upstream) + ["cache"]
        else:
            names = [n for n, _ in fn.args] + (["max_norm"] if "max_norm" in fn.options else [])
        changed = modified(sent, outcome.args_after or [], names)
        if changed is not None:
            raise CheckFailed(f"{fn.name} modified its input {changed} in place (work on a copy: the caller's "
                              f"arrays must not change)", output=changed)
        fresh = {i for i, out in enumerate(fn.outputs) if out.new}
        shared = [(o, a) for o, a in outcome.shared if o and (o[0] in fresh if len(fn.outputs) > 1 else 0 in fresh)]
        if shared and not fn.forward:
            out_path, arg_path = shared[0]
            output = _path_name([o.name for o in fn.outputs], out_path, len(fn.outputs) > 1)
            argument = _path_name(names, arg_path, True)
            raise CheckFailed(f"{fn.name} returns {output} sharing memory with its input {argument}: the contract asks "
                              f"for new arrays (changing the result would change the caller's array)", output=output)

    run.charge(check)


def _path_name(names: List[str], path: List[Any], tupled: bool) -> str:
    """``clipped.b`` for the path [0, "b"] of a returned tuple (names: the tuple's), or of an argument list."""
    if tupled:
        head, rest = (names[path[0]] if isinstance(path[0], int) and path[0] < len(names) else str(path[0])), path[1:]
    else:
        head, rest = names[0], path
    return head + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in rest)


def showing_inputs(inputs: Dict[str, Any], check: Callable[[], None]) -> None:
    """Run ``check``; a failure shows ``inputs`` (what ran, e.g. the truncate actually used)."""
    try:
        check()
    except CheckFailed as exc:
        if exc.inputs is None:
            exc.inputs = inputs
        raise


def backward_of(fn: Function) -> Function:
    """The graded backward function whose forward is ``fn``."""
    return next(f for f in pack.current().functions if f.forward == fn.name)


def check_cache(g: Grader, fn: Function, ex: Example) -> None:
    """A forward's cache carries what the student's own backward reads.

    The cache is opaque (only the student's backward reads it), so it is judged through that
    backward B, on examples where the forward's outputs are right: a pass where B is right with
    this cache, or where B does the same with it as with the reference forward's cache (the same
    outputs, or the same exception at the same line: the cache is as good as the reference's for the
    code that reads it, and a wrong or missing B is charged in B's own tests, not here); a failure
    only where B is right with the reference cache but not with this one (the mistake then lives in
    the cache). Where B is wrong with both, differently, B's graded parts that are wrong on the example
    are served (as B's own tests would) and B is asked again; if none is, the example proves nothing
    about the cache.
    """
    back = backward_of(fn)
    inputs = materialize(back, ex)
    # F's parts that F's own tests serve keep the student's cache (worker ``caches``): B reads them
    # through the reference backward parts, as in F's backward's own tests
    back_serve = parts_to_serve(back, g.mode(fn).serve, ())
    while True:
        problem = _cache_verdict(g, fn, back, ex, inputs, back_serve)
        if problem is None:
            return
        try:  # B is wrong with both caches: is one of B's own parts wrong here?
            Run(g.client, back, ex, inputs, Mode(serve=back_serve)).require_dependencies()
            wrong: Tuple[str, ...] = ()
        except Rejected as rejection:
            wrong = tuple(d for d in (rejection.dependency,) + rejection.also if d in back.parts and d not in back_serve)
        if not wrong:
            raise Rejected(back.name, problem, ex, claim="wrong")
        back_serve += wrong


def _cache_verdict(g: Grader, fn: Function, back: Function, ex: Example, inputs: Dict[str, Any],
                   back_serve: Tuple[str, ...]) -> Optional[str]:
    """None when F's cache is as good as the reference's for the student's backward B (B's parts in
    ``back_serve`` served); CheckFailed when B is right with the reference cache only; else the
    problem of B, wrong with both caches."""
    run = Run(g.client, back, ex, inputs, Mode(serve=back_serve))
    own_parts = served_parts(g.mode(fn).serve)  # judged as F's other tests judge it
    own = run.call_backward(run.call_forward(serve=own_parts))
    run.forward_index = 0
    served = run.call_backward(run.call_forward(serve=own_parts + run.forward_key()))
    run.execute()
    try:
        got = run.forward_outputs()
    except CheckFailed as exc:
        _forward_wrong(g, fn, ex, inputs, f"{fn.name} fails on this input ({exc.message.splitlines()[0]})")
    with np.errstate(all="ignore"):
        wrong = mismatch(got, run.reference_forward(), CACHE_TOL)
    if wrong is not None:
        _forward_wrong(g, fn, ex, inputs, f"{fn.name} is wrong on this input ({wrong.output})")
    expected = run.expected()
    try:
        mine: Optional[Dict[str, np.ndarray]] = run.outputs(own)
    except CheckFailed as exc:
        mine, problem = None, exc.message.splitlines()[0]
    else:
        with np.errstate(all="ignore"):
            wrong = mismatch(mine, expected, back.tol)
        if wrong is None:
            _require_informative(run, expected)
            return None
        problem = f"{wrong.output} is wrong"
    if _same_failure(run.outcomes[own], run.outcomes[served]):
        return None  # B fails the same way with the reference cache: the cache makes no difference to it
    try:
        theirs = run.outputs(served)
    except CheckFailed as exc:
        if mine is None and exc.contract and exc.message.splitlines()[0] == problem:
            return None  # B returns the same malformed value with the reference cache
        theirs = None
    with np.errstate(all="ignore"):
        if theirs is not None and mine is not None and mismatch(mine, theirs, back.tol) is None:
            return None  # the same as with the reference cache: this cache is as good for B
        if theirs is None or mismatch(theirs, expected, back.tol) is not None:
            return f"{back.name} is wrong on this input, even with the reference {fn.name}'s cache"
    unserved = [p for p in fn.parts if p not in g.mode(fn).serve]
    if unserved:  # a part not served (even where another wrong part is) may be the one whose cache is wrong
        _require_part_caches(g, fn, back, ex, inputs, expected, unserved)
    wrong_outputs = "raises" if mine is None else ", ".join(
        n for n in expected if mismatch({n: mine[n]}, {n: expected[n]}, back.tol) is not None)
    raise CheckFailed(f"your {back.name} is right with the reference {fn.name}'s cache but not with yours "
                      f"({problem}): your {fn.name}'s cache misses or garbles something {back.name} reads",
                      output=wrong_outputs)


def _forward_wrong(g: Grader, fn: Function, ex: Example, inputs: Dict[str, Any], problem: str) -> NoReturn:
    """Set aside an example of a cache test where the forward F itself is wrong: charged to the graded part
    of F that is wrong on it (F's mode then serves that part, as in F's other tests), or else to F's
    values tests (Rejected with F's own name)."""
    Run(g.client, fn, ex, inputs, Mode(serve=g.mode(fn).serve)).require_dependencies()
    raise Rejected(fn.name, problem, ex)


def _same_failure(a: Any, b: Any) -> bool:
    """Both calls failed, with the same kind of failure, exception type and innermost line."""
    return (isinstance(a, Failure) and isinstance(b, Failure) and (a.kind, a.type, a.traceback[-1:])
            == (b.kind, b.type, b.traceback[-1:]))


def _require_part_caches(g: Grader, fn: Function, back: Function, ex: Example, inputs: Dict[str, Any],
                         expected: Dict[str, np.ndarray], unserved: Sequence[str]) -> None:
    """Raise Rejected when the backward is right once F's graded parts are served: the cache that is
    wrong is a part's (charged by that part's own cache test), not the one F assembles."""
    run = Run(g.client, back, ex, inputs, Mode(serve=parts_to_serve(back, fn.parts, ())))
    index = run.call_backward(run.call_forward())
    run.execute()
    try:
        got = run.outputs(index)
    except CheckFailed:
        return
    with np.errstate(all="ignore"):
        if mismatch(got, expected, back.tol) is not None:
            return
    parts = [p for p in unserved if ex.cell in function(p).cells] or list(unserved)
    raise Rejected(parts[0], f"the cache of your {' or '.join(parts)} is wrong on this input (your {back.name} is "
                             f"right when the reference's replace them)", ex, cache=True, claim="cache")


ENGINE_KINDS: Dict[str, Callable[[Grader, Function, Example], None]] = {
    "values": check_values,
    "gradcheck": check_gradcheck,
    "inplace": check_inplace,
    "cache": check_cache,
}


def kinds() -> Dict[str, Callable[[Grader, Function, Example], None]]:
    """Every check kind a rubric may name: the engine's and the active pack's."""
    return {**ENGINE_KINDS, **pack.current().kinds}

# Kinds whose points count only with evidence that the function computes: a property test checks a
# property of working code (a function that computes nothing must not earn it). Each kind lists what
# suffices, any one of: the first test of another kind of the same function passing, or EVIDENCE (the
# function was right on at least one example of its values tests whose expected outputs are not all
# zero). A pack adds its own (:attr:`autograder.engine.pack.Pack.requires`).
EVIDENCE = "evidence"
ENGINE_REQUIRES: Dict[str, Tuple[str, ...]] = {"inplace": ("values", EVIDENCE), "cache": ("values", EVIDENCE)}
# Hidden tests show the inputs of a failing example only when they are visible to students.
ENGINE_SHOWS_INPUTS = ("values", "gradcheck", "inplace")


def requires() -> Dict[str, Tuple[str, ...]]:
    """kind -> what suffices for its points to count (kinds whose first test passes, or EVIDENCE)."""
    found = {**ENGINE_REQUIRES, **pack.current().requires}
    return {k: (v,) if isinstance(v, str) else tuple(v) for k, v in found.items()}


def shows_inputs() -> Tuple[str, ...]:
    """The kinds whose failing inputs a visible test may show."""
    return ENGINE_SHOWS_INPUTS + pack.current().shows_inputs


# Judge the examples Hypothesis would draw without running its engine, where they all pass
# (autograder.engine.draws); False runs Hypothesis for every test (the grades are the same).
REPLAY_DRAWS = True
# Send each example's first batch to the worker while the one before is judged (grades are the same).
LOOKAHEAD = True
SHRINK_BUDGET = 24  # examples run while shrinking a failure (beyond it the smallest so far is reported)
# Examples rejected with none counted, after which a dependency is taken to be wrong everywhere and the
# mode escalates: generous in the ordinary mode (Hypothesis' first draws are small, where many bugs sit),
# short for a special (either the structured inputs fix the forward or they do not). The last mode never
# stops early.
REJECT_LIMIT = 10
REJECT_LIMIT_SPECIAL = 4


def run_test(g: Grader, fn: Function, kind: str, profile: str, max_examples: int,
             shrink: bool = True) -> TestOutcome:
    """Run one rubric test; when a dependency of ``fn`` is wrong on every example, escalate its mode.

    The mode is kept per function (:attr:`Grader.modes`): the later tests of ``fn`` start where the
    first one ended. ``shrink``: a failure is shrunk to a small failing input (for a test whose
    feedback shows it); otherwise the first failing example is the test's failure (a hidden test
    shows no input, and its pass or fail is the same).
    """
    cells = function(fn.forward).cells if fn.forward else fn.cells
    g.profile, g.kind = profile, kind
    if (fn.name, profile) not in g.modes:  # start where another profile of fn ended (it escalates on if need be)
        known = [m for (name, _), m in g.modes.items() if name == fn.name]
        if known:
            g.modes[(fn.name, profile)] = known[0]
    while True:
        mode = g.mode(fn)
        last = escalate(mode, fn, list(fn.parts) + [fn.forward or ""], cells) is None
        limit = None if last else REJECT_LIMIT_SPECIAL if mode.special else REJECT_LIMIT
        outcome, notes = _run_property(g, fn, kind, profile, max_examples, limit, shrink)
        if outcome.not_judged:
            break
        dependencies = [d for d in notes.dependencies if d not in (fn.name, UNINFORMATIVE)]
        if dependencies and not mode.strict:  # judge again, counting only inputs where the dependencies are right
            g.modes[(fn.name, profile)] = dataclasses.replace(mode, strict=True)
            continue
        useless_special = bool(mode.special and notes.uninformative)  # the structured inputs prove nothing here
        if not notes.trial_failed and (notes.counted or outcome.failure is not None
                                       or not (dependencies or useless_special)):
            # The examples left once those with a wrong dependency are set aside must still cover what the
            # test is for (each cell, every size above 1); where they do not, F is judged again with its
            # wrong parts served, so a bug of F that only bigger inputs show cannot hide behind a part's.
            wrong_parts = parts_to_serve(fn, dependencies, mode.serve)
            if outcome.failure is not None or not wrong_parts or coverage_needed(fn, profile) <= notes.covered:
                break
            first = notes.first_dependency()
            g.modes[(fn.name, profile)] = dataclasses.replace(
                mode, serve=mode.serve + wrong_parts,
                reason=mode.reason or (_on_how_many(first, notes) if first else ""),
                claims=mode.claims or (((first.dependency, first.claim),) if first else ()))
            continue
        following = escalate(mode, fn, dependencies, cells, notes.cache_wrong)
        if following is None:
            break
        first = notes.first_dependency()
        reason = mode.reason or (_on_how_many(first, notes) if first else "")
        claims = mode.claims or (((first.dependency, first.claim),) if first else ())
        g.modes[(fn.name, profile)] = dataclasses.replace(following, reason=reason, claims=claims)
    outcome.note = _note(g, fn, notes)
    claims = list(dict.fromkeys(list(g.mode(fn).claims) + notes.claims()))
    outcome.claims = claims
    if outcome.passed and not notes.counted:
        dependency = notes.first_dependency()
        itself = notes.firsts.get(fn.name)
        if dependency is None and itself is not None and fn.name in g.evidence and not outcome.not_judged:
            # F's own mistake elsewhere (e.g. its full BPTT, which this test compares with) keeps every
            # example out, and F computes: that mistake is charged by the tests that judge it, not again here
            kept = messages.own_mistake_kept(fn.name, itself.problem.replace(" on this input", "", 1))
            outcome = TestOutcome(True, "", None, outcome.examples, (outcome.note + "\n" if outcome.note else "") + kept,
                                  claims)
        elif dependency is not None and fn.name in g.evidence:
            # Another function's mistake keeps this test from judging F, and F computes: F is not charged
            # for it (that function's own tests are); the point stands on F's evidence.
            kept = messages.not_judged_kept(fn.name, dependency.dependency, _how_often(notes, dependency.dependency),
                                            dependency.problem)
            outcome = TestOutcome(True, "", None, outcome.examples, (outcome.note + "\n" if outcome.note else "") + kept,
                                  claims)
        else:
            outcome = TestOutcome(False, _not_judged(fn, notes), None, outcome.examples, outcome.note, claims)
    return outcome


def coverage(fn: Function, profile: str, ex: Example) -> Tuple[str, ...]:
    """What a counted example covers: its cell, when every size is above 1 (as far as the profile
    allows: L, T and the widths at 2 or more). See :func:`coverage_needed`."""
    ranges = pack.current().profiles[profile]
    floor = {k: min(2, hi) for k, (_, hi) in ranges.items()}
    rich = all(v >= floor.get(k.split("@")[0], 2) for k, v in ex.dims if k != "S")
    return (ex.cell,) if rich else ()


def coverage_needed(fn: Function, profile: str) -> set:
    """What the counted examples of a test of ``fn`` must cover: every cell it runs, each on an
    example whose sizes are all above 1 (several layers, T > 1, N, D, H > 1)."""
    return set(function(fn.forward).cells if fn.forward else fn.cells)


def _note(g: Grader, fn: Function, notes: Notes) -> str:
    """What the feedback says about a dependency of ``fn`` that is wrong (never blames ``fn`` for it)."""
    described = g.mode(fn).describe(fn)
    if described:
        return "Note: " + described
    first = notes.first_dependency()
    if first is not None:
        dependencies = [d for d in notes.by_name if d not in (fn.name, UNINFORMATIVE, TRIAL)]
        return messages.judged_where_right(_on_how_many(first, notes), fn.name, dependencies, notes.by_dependencies)
    return ""


def _on_how_many(rejection: Rejected, notes: Notes) -> str:
    """A rejection's problem, said of the inputs tried rather than of one ("X is wrong on 3 of the 5 inputs
    tried (dx: ...)")."""
    return rejection.problem.replace(" on this input", " on " + _how_often(notes, rejection.dependency), 1)


def _how_often(notes: Notes, dependency: str) -> str:
    """"every input tried" or "k of the n inputs tried": how often ``dependency`` kept an example out."""
    k, n = notes.by_name.get(dependency, 0), notes.by_dependencies
    return "every input tried" if k >= n else f"{k} of the {n} inputs tried"


def _not_judged(fn: Function, notes: Notes) -> str:
    dependency = notes.first_dependency()
    if dependency is not None:
        return (f"could not be judged: {dependency.dependency} is wrong on {_how_often(notes, dependency.dependency)} "
                f"({dependency.problem}); fix it first")
    itself = notes.firsts.get(fn.name)
    if itself is not None:
        return (f"could not be judged: {itself.problem} on every input tried, and this test counts only "
                f"where it is right (its own tests charge that mistake)")
    if notes.first is not None:
        return f"could not be judged: no input tried could show {fn.name} right or wrong ({notes.first.problem})"
    return f"could not be judged: no example ran for {fn.name}"


def reject() -> NoReturn:
    """``hypothesis.reject()``, imported where a property runs (a grading that replays its draws never
    imports Hypothesis). The test body calls it by this name: its source seeds the draws."""
    from hypothesis import reject as hypothesis_reject

    hypothesis_reject()
    raise AssertionError("hypothesis.reject() returned")  # pragma: no cover


class _StopProperty(BaseException):
    """Ends a Hypothesis property at once (a BaseException, so Hypothesis neither records nor shrinks it)."""


def _lookahead(g: Grader, check: Callable[[Grader, Function, Example], None], fn: Function, mode: Mode) -> Lookahead:
    """Examples sent to the worker ahead of their turn: their first batch, and in a strict mode the
    second too (every example's dependencies, checked whatever the first batch gives)."""
    return Lookahead(g.client, lambda ex: check(g, fn, ex), enabled=LOOKAHEAD, batches=2 if mode.strict else 1)


def _run_property(g: Grader, fn: Function, kind: str, profile: str, max_examples: int,
                  reject_limit: Optional[int], shrink: bool = True) -> Tuple[TestOutcome, Notes]:
    """Run the test as a derandomized Hypothesis property, then its boundary examples.

    Rejected examples (a dependency wrong on them) do not count; after ``reject_limit`` rejections
    with nothing counted, the property stops early so the caller can escalate the mode. The
    smallest failing example is kept (``shrink``), or else the first one (Hypothesis draws the same
    examples up to it either way). NB: derandomized Hypothesis seeds its draws with the source
    of ``body``: editing ``body`` changes every example drawn (and so, maybe, grades).
    """
    check = kinds()[kind]
    failures: Dict[Example, CheckFailed] = {}
    notes = Notes(fn.name)
    state = {"spent": 0, "budget": max_examples + SHRINK_BUDGET + max_examples, "stopped": False}
    mode = g.mode(fn)

    def prepare(ex: Example) -> Example:
        if kind not in pack.current().option_kinds.get("truncate", ()) and ex.truncate is not None:
            ex = dataclasses.replace(ex, truncate=None)  # full BPTT: truncation is graded by its own tests
        if mode.special:
            ex = dataclasses.replace(ex, special=mode.special)
        return ex

    def judge(ex: Example) -> Optional[Exception]:
        """Run one (prepared) example's check: None, or what it raised (Rejected, CheckFailed...)."""
        g.client.clear_handles()
        try:
            check(g, fn, ex)
        except Exception as exc:  # noqa: BLE001 - raised again where the example is attempted
            return exc
        return None

    def attempt(ex: Example) -> bool:
        """Run one example; False when it does not count (rejected, or the budget is spent)."""
        counted = counts(ex)
        seen.append((ex, counted))  # (a failure ends the run: it is not kept then)
        return counted

    def counts(ex: Example) -> bool:
        ex = prepare(ex)
        if ex in failures:  # Hypothesis replays the smallest failure: answer it without the worker
            raise failures[ex]
        if state["stopped"] or state["spent"] >= state["budget"]:
            return False
        state["spent"] += 1
        g.examples_run[fn.name] = g.examples_run.get(fn.name, 0) + 1
        if judged and judged[0][0] == ex:  # judged already, in this order, by the replay
            outcome = judged.pop(0)[1]
        else:
            judged.clear()
            outcome = judge(ex)
        return settle(ex, outcome)

    def settle(ex: Example, outcome: Optional[Exception]) -> bool:
        """Count a judged example (see ``attempt``): raise its failure, or whether it counted."""
        try:
            if outcome is not None:
                raise outcome
        except Rejected as rejection:
            notes.add(rejection)
            if rejection.dependency == TRIAL:
                state["stopped"] = True  # the reference cache does not suit F: run_test escalates
            if not mode.strict and rejection.dependency not in (fn.name, UNINFORMATIVE, TRIAL):
                state["stopped"] = True  # a dependency is wrong: run_test judges again, strictly
            escalating = notes.by_dependencies + (notes.uninformative if mode.special else 0)
            if not notes.counted and (escalating >= (reject_limit or 10**9) or notes.by_self >= REJECT_LIMIT):
                state["stopped"] = True
            return False
        except CheckFailed as exc:
            exc.example = ex
            failures[ex] = exc
            notes.counted += 1
            raise
        notes.counted += 1
        notes.covered.update(coverage(fn, profile, ex))
        return True

    def body(ex: Example) -> None:
        if not attempt(ex):
            if state["stopped"] or (state["spent"] >= state["budget"] and not failures):
                raise _StopProperty()  # no more draws: Hypothesis would keep generating (and rejecting) many
            reject()

    def build(test: Callable[[Example], None]) -> Callable[[], None]:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings

        return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                        suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                        verbosity=Verbosity.quiet, print_blob=False,
                        phases=(Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ()))(
            given(examples(fn, profile))(test))

    fixed = oracle.current().examples(fn, kind, profile, max_examples)
    if fixed is not None:
        return _run_fixed(g, fn, [prepare(ex) for ex in fixed], judge, settle, state, notes)

    # Replay: judge, in order, the examples Hypothesis draws given whether each one so far counted
    # or was set aside (recorded once per such history, engine/draws.py), until one fails. If none
    # fails, that is the whole property; otherwise Hypothesis runs from the start (its counters put
    # back), the examples judged here answer its first calls, and it shrinks: every check runs
    # once, in the order it always has. Without shrinking, the first failure is the test's: no
    # Hypothesis run then.
    judged: List[Tuple[Example, Optional[Exception]]] = []
    log: List[Tuple[Example, Optional[Exception]]] = []
    seen: List[Tuple[Example, bool]] = []  # what Hypothesis' run drew, and whether each counted (draws.keep_run)
    expected: Optional[Tuple[bool, ...]] = None  # a kept run's decisions, replayed (None: every later one counts)
    before = (copy.deepcopy(notes), dict(state), g.examples_run.get(fn.name, 0))
    decisions: List[bool] = []
    first_failure: Optional[Exception] = None
    sequence = draws.drawn(body, build, fn.name, profile, max_examples) if REPLAY_DRAWS else None
    replayed = sequence is not None
    ahead = _lookahead(g, check, fn, mode)
    depth = 1 if fn.name in g.troubled else 10**9  # every example at once, until one fails or is set aside
    try:
        upcoming = [prepare(ex) for ex in sequence or ()]
        position = 0
        while sequence is not None and position < len(sequence):
            ahead.through(upcoming, position + depth)  # the worker runs the next examples while this one is judged
            outcome = judge(upcoming[position])
            log.append((upcoming[position], outcome))
            judged[:] = [log[-1]]
            if outcome is not None:
                g.troubled.add(fn.name)
            if outcome is not None and not isinstance(outcome, Rejected):
                if shrink:
                    replayed = False  # a failure: Hypothesis runs, and shrinks it
                    break
                try:
                    attempt(sequence[position])  # counted and kept, as Hypothesis' run would
                except Exception as exc:  # noqa: BLE001 - raised below, where the property ends
                    first_failure = exc
                break
            if attempt(sequence[position]):
                decisions.append(True)
                if expected is not None and not expected[position]:
                    replayed = False  # the kept run set this one aside: Hypothesis draws on otherwise
                    break
            elif state["stopped"] or (state["spent"] >= state["budget"] and not failures):
                break  # where the body ends the property
            else:
                decisions.append(False)  # rejected: Hypothesis draws on otherwise from here
                # drawn on only where kept already: recording them would cost a run of Hypothesis'
                # engine per rejection, where running the property with it (below) costs one
                following = draws.drawn(body, build, fn.name, profile, max_examples, tuple(decisions),
                                        record_missing=False)
                expected = None
                if following is None:  # a whole run kept that set aside the same examples so far
                    kept = draws.traced(body, fn.name, profile, max_examples, tuple(decisions))
                    following, expected = kept if kept is not None else (None, None)
                if following is None or following[:position + 1] != sequence[:position + 1]:
                    replayed = False
                    break
                sequence, upcoming = following, upcoming[:position + 1] + [prepare(ex) for ex in following[position + 1:]]
                ahead.restart(position + 1)
                depth = 1  # more may be set aside: each would drop what was sent ahead of it
            position += 1
    finally:
        ahead.settle()
    judged[:] = [] if replayed else log
    if not replayed:  # Hypothesis runs the property from the start: as if the replay had not counted
        saved_notes, saved_state, saved_count = before
        notes.__dict__.update(copy.deepcopy(saved_notes).__dict__)
        state.clear()
        state.update(saved_state)
        g.examples_run[fn.name] = saved_count
    try:
        try:
            if first_failure is not None:
                raise first_failure
            if not replayed:
                seen.clear()
                build(body)()
                if not failures and not state["stopped"] and any(not counted for _, counted in seen):
                    draws.keep_run(body, fn.name, profile, max_examples, seen)
        except _StopProperty:
            pass
        except Exception as exc:  # noqa: BLE001 - Unsatisfiable: every example rejected
            if type(exc).__name__ != "Unsatisfiable":
                raise
        if state["stopped"]:
            return TestOutcome(True, "", None, state["spent"]), notes
        active = pack.current()
        boundary = (boundary_examples(fn, profile, kind) if profile in active.boundary_profiles
                    and kind in ("values",) + active.boundary_kinds else ())
        state["budget"] = state["spent"] + len(boundary)
        ahead, fixed = _lookahead(g, check, fn, mode), [prepare(ex) for ex in boundary]
        try:
            for ex in boundary:
                ahead.through(fixed, len(fixed))
                attempt(ex)
        finally:
            ahead.settle()
    except CheckFailed as exc:
        return TestOutcome(False, exc.message, exc, state["spent"]), notes
    except Exception as exc:  # noqa: BLE001 - e.g. Hypothesis errors on a nondeterministic submission
        return TestOutcome(False, f"could not be graded: {type(exc).__name__}: {exc}", None, state["spent"]), notes
    return TestOutcome(True, "", None, state["spent"]), notes


def _run_fixed(g: Grader, fn: Function, fixed: List[Example], judge: Callable[[Example], Optional[Exception]],
               settle: Callable[[Example, Optional[Exception]], bool], state: Dict[str, Any],
               notes: Notes) -> Tuple[TestOutcome, Notes]:
    """Judge the oracle's fixed examples in order (the student CI's stored examples: no Hypothesis, no
    shrinking), with the same rules as the marking draws. An example whose judging needed an answer
    the oracle does not have (:class:`~autograder.engine.oracle.NotJudged`) neither counts nor fails;
    when one did and none failed, the test is not judged (``TestOutcome.not_judged``)."""
    source = oracle.current()
    unsure: List[oracle.NotJudged] = []
    for ex in fixed:
        if state["stopped"]:
            break
        state["spent"] += 1
        g.examples_run[fn.name] = g.examples_run.get(fn.name, 0) + 1
        source.misses.clear()
        outcome = judge(ex)
        if source.misses or isinstance(outcome, oracle.NotJudged):
            unsure.append(source.misses[0] if source.misses else outcome)  # type: ignore[arg-type]
            continue
        try:
            settle(ex, outcome)
        except CheckFailed as exc:
            return TestOutcome(False, exc.message, exc, state["spent"]), notes
        except Exception as exc:  # noqa: BLE001 - as the marking draws: a test that cannot run fails
            return TestOutcome(False, f"could not be graded: {type(exc).__name__}: {exc}", None, state["spent"]), notes
    if unsure:  # a served part's arguments were not a correct call's: made by fn (or by the forward it reads)
        fix = unsure[0].fix or (fn.name if not fn.forward else f"{fn.forward} or {fn.name}")
        return TestOutcome(False, messages.not_judged_here(fix, unsure[0].what), None, state["spent"],
                           not_judged=fix), notes
    return TestOutcome(True, "", None, state["spent"]), notes
