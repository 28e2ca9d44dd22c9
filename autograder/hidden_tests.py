"""The hidden tests: one check per test kind, run as a derandomized Hypothesis property.

A rubric test names a ``kind`` (below), a size ``profile`` (strategies.PROFILES) and a number of
``examples``. Kinds:

- ``values``: the student's outputs equal the reference's (for a backward function: the student's
  forward then backward vs the reference's), or the reference composition of the student's own
  parts (spec ``parts``), so a bug in a cell is not paid again in what is built on it;
- ``gradcheck``: a backward function agrees with central differences of the student's OWN
  forward along random directions (two forward calls per input);
- ``inplace``: no input array is modified;
- ``truncate_full`` (truncate >= T is full BPTT), ``truncate_chunks`` (truncated BPTT equals
  BPTT chunk by chunk, with the student's own rnn_forward/rnn_backward; the chunks start from the
  states of the student's rnn_forward, or else from those of the reference rnn_forward composed on
  the student's rnn_step_forward, so a wrong ``h`` of rnn_forward is not paid here), ``carousel`` (an LSTM
  step with the forget gate saturated open and the input gate shut carries c, and its gradient,
  unchanged), ``invalid_cell`` (an unknown cell name raises ValueError).

A function built on graded parts is not charged for what its parts do: an exception raised in a
part that fails the reference composition too is excused (:meth:`Grader.excused`), and so are NaN
and inf in its outputs when the reference composed on the student's parts gives the same NaN and
inf (:func:`unpack_excused`). NaN or inf where that composition is finite always fail.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings

from . import reference
from .checks import (FD_STEP, CheckFailed, all_finite, directional_check, failure, leaves, loss, mismatch, modified,
                     shifted, unpack)
from .client import Batch, Failure, Ok, Outcome, WorkerClient
from .spec import Function, function
from .strategies import Example, examples, explicit_examples, materialize


@dataclass
class TestOutcome:
    passed: bool
    message: str = ""
    failure: Optional[CheckFailed] = None
    examples: int = 0


@dataclass
class Grader:
    """What the checks need: the worker client, and counters."""

    client: WorkerClient
    examples_run: Dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------ student calls
    def forward_call(self, batch: Batch, fn: Function, inputs: Dict[str, Any], echo: bool = False) -> Any:
        args, kwargs = reference.call_arguments(fn, inputs)
        opaque = [fn.cache_index] if fn.cache_index is not None else []
        return batch.call(fn.module, fn.name, *args, opaque=opaque, echo=echo, **kwargs)

    def backward_call(self, batch: Batch, fn: Function, inputs: Dict[str, Any], cache: Any, echo: bool = False,
                      **extra: Any) -> Any:
        args, kwargs = reference.backward_arguments(fn, inputs, cache)
        kwargs.update(extra)
        return batch.call(fn.module, fn.name, *args, echo=echo, **kwargs)

    def run_scenario(self, fn: Function, inputs: Dict[str, Any], echo: bool = False) -> List[Outcome]:
        """The student's outcome(s): [forward] or [forward, backward]."""
        batch = Batch(self.client)
        if fn.forward:
            fwd = function(fn.forward)
            ref = self.forward_call(batch, fwd, inputs)
            self.backward_call(batch, fn, inputs, ref[fwd.cache_index], echo=echo)
        else:
            self.forward_call(batch, fn, inputs, echo=echo)
        return batch.run()

    # ------------------------------------------------------------ composition
    def composed(self, fn: Function, inputs: Dict[str, Any]) -> Optional[Dict[str, np.ndarray]]:
        """The reference built on the student's parts; None if a part failed."""
        try:
            raw = reference.composed(self.client, fn, inputs)
            return reference.named_outputs(fn, raw)
        except Exception:  # noqa: BLE001 - a student part failed or returned garbage
            return None

    def excused(self, fn: Function, outcome: Failure, inputs: Dict[str, Any]) -> bool:
        """A failure that comes from one of fn's parts, which fail the reference composition too."""
        if not fn.parts:
            return False
        # Only an exception raised inside a part counts: a timeout or crash cannot be attributed.
        in_part = (outcome.kind == "exception" and outcome.traceback
                   and _frame_function(outcome.traceback[-1]) in fn.parts)
        return bool(in_part) and self.composed(fn, inputs) is None


def unpack_excused(g: Grader, fn: Function, value: Any, ex: Example,
                   inputs: Dict[str, Any]) -> Tuple[Dict[str, np.ndarray], bool]:
    """unpack() the student's result; (outputs, excused).

    NaN/inf in the outputs fail, unless ``fn`` is built on graded parts and the reference composed on
    the student's own parts is non-finite too and equals the outputs (NaN where NaN, the same inf):
    then the outputs are returned with ``excused`` True (the part is graded, and charged, on its own).
    """
    try:
        return unpack(fn, value, ex.size, ex.cell), False
    except CheckFailed as exc:
        if not (exc.nonfinite and fn.parts):
            raise
        alt = g.composed(fn, inputs)
        if alt is None or all_finite(alt):
            raise exc
        actual = unpack(fn, value, ex.size, ex.cell, finite=False)
        if mismatch(actual, alt, fn.tol, equal_nan=True) is not None:
            raise exc
        return actual, True


def _frame_function(line: str) -> str:
    # "rnn_layers.py:42 in rnn_forward: code"
    try:
        return line.split(" in ", 1)[1].split(":", 1)[0]
    except IndexError:
        return ""


def _first_failure(outcomes: List[Outcome]) -> Optional[Failure]:
    for o in outcomes:
        if isinstance(o, Failure):
            return o
    return None


# ---------------------------------------------------------------- kinds


def check_values(g: Grader, fn: Function, ex: Example) -> None:
    inputs = materialize(fn, ex)
    outcomes = g.run_scenario(fn, inputs)
    bad = _first_failure(outcomes)
    if bad is not None:
        if g.excused(fn, bad, inputs):
            return
        raise failure(bad)
    actual, excused = unpack_excused(g, fn, outcomes[-1].value, ex, inputs)
    if excused:
        return  # NaN/inf, as the reference composed on the student's parts gives
    with np.errstate(all="ignore"):
        wrong = mismatch(actual, reference.expected(fn, inputs), fn.tol)
    if wrong is not None and fn.parts:
        alt = g.composed(fn, inputs)
        if alt is not None and mismatch(actual, alt, fn.tol) is None:
            return
    if wrong is not None:
        raise wrong


def check_gradcheck(g: Grader, fn: Function, ex: Example) -> None:
    fwd = function(fn.forward)
    inputs = materialize(fn, ex)
    if "truncate" in inputs:
        inputs["truncate"] = None  # truncated BPTT is not the true gradient; it has tests of its own
    try:
        _gradcheck(g, fn, fwd, ex, inputs)
    except CheckFailed as exc:
        exc.inputs = inputs  # the feedback shows what ran (truncate None)
        raise


def _gradcheck(g: Grader, fn: Function, fwd: Function, ex: Example, inputs: Dict[str, Any]) -> None:
    rng = np.random.default_rng(ex.seed + 7919)
    # One leaf per gradient output: (output leaf name, input leaf name, direction).
    pairs = [(_rename(in_name, out.grad_of, out.name), in_name, rng.standard_normal(leaf.shape))
             for out in fn.array_outputs for in_name, leaf in leaves(inputs[out.grad_of], out.grad_of)]
    batch = Batch(g.client)
    base = g.forward_call(batch, fwd, inputs)
    g.backward_call(batch, fn, inputs, base[fwd.cache_index])
    for _, in_name, v in pairs:
        g.forward_call(batch, fwd, shifted(inputs, in_name, FD_STEP * v))
        g.forward_call(batch, fwd, shifted(inputs, in_name, -FD_STEP * v))
    outcomes = batch.run()
    bad = _first_failure(outcomes)
    if bad is not None:
        if g.excused(fn, bad, inputs):
            return
        raise failure(bad, "" if bad is outcomes[1] else "the gradient check needs your forward function: ")
    grads, excused = unpack_excused(g, fn, outcomes[1].value, ex, inputs)
    if excused:
        return  # NaN/inf, as the reference composed on the student's parts gives
    try:
        forwards = [unpack(fwd, o.value, ex.size, ex.cell) for i, o in enumerate(outcomes) if i != 1]
    except CheckFailed as exc:
        raise CheckFailed(f"the gradient check needs your forward function: {exc.message}", output=exc.output)
    upstream = {fwd_out: inputs[up] for up, fwd_out in fn.upstream.items()}
    with np.errstate(all="ignore"):
        loss_0 = loss(forwards[0], upstream)
        for k, (out_name, _, v) in enumerate(pairs):
            wrong = directional_check(out_name, grads[out_name], v, loss(forwards[1 + 2 * k], upstream),
                                      loss(forwards[2 + 2 * k], upstream), loss_0)
            if wrong is not None:
                if fn.parts:  # correct given its parts (a bug in rnn_step_backward is graded there)
                    alt = g.composed(fn, inputs)
                    if alt is not None and mismatch(grads, alt, fn.tol) is None:
                        return
                wrong.actual = grads
                raise wrong


def _rename(leaf_name: str, old: str, new: str) -> str:
    return new + leaf_name[len(old):]


def check_inplace(g: Grader, fn: Function, ex: Example) -> None:
    inputs = materialize(fn, ex)
    sent = copy.deepcopy(inputs)
    outcomes = g.run_scenario(fn, inputs, echo=True)
    bad = _first_failure(outcomes)
    if bad is not None:
        if g.excused(fn, bad, inputs):
            return
        raise failure(bad)
    target = outcomes[-1]
    assert isinstance(target, Ok)
    unpack(fn, target.value, ex.size, ex.cell, strict=False)  # returning garbage earns nothing here
    if fn.forward:
        names = list(fn.upstream) + ["cache"]
    else:
        names = [n for n, _ in fn.args] + (["max_norm"] if "max_norm" in fn.options else [])
    changed = modified(sent, target.args_after or [], names)
    if changed is not None:
        raise CheckFailed(f"{fn.name} modified its input {changed} in place (work on a copy: the caller's arrays "
                          f"must not change)", output=changed)


def _showing(inputs: Dict[str, Any], check: Callable[[], None]) -> None:
    """Run ``check``; a failure shows ``inputs`` (what ran, e.g. the truncate actually used)."""
    try:
        check()
    except CheckFailed as exc:
        if exc.inputs is None:
            exc.inputs = inputs
        raise


def check_truncate_full(g: Grader, fn: Function, ex: Example) -> None:
    k = ex.size["T"] + ex.seed % 3
    inputs = dict(materialize(fn, ex), truncate=k)
    _showing(inputs, lambda: _truncate_full(g, fn, ex, inputs))


def _truncate_full(g: Grader, fn: Function, ex: Example, inputs: Dict[str, Any]) -> None:
    fwd = function(fn.forward)
    k = inputs["truncate"]
    batch = Batch(g.client)
    base = g.forward_call(batch, fwd, inputs)
    full = dict(inputs, truncate=None)
    g.backward_call(batch, fn, full, base[fwd.cache_index])
    g.backward_call(batch, fn, inputs, base[fwd.cache_index])
    outcomes = batch.run()
    bad = _first_failure(outcomes)
    if bad is not None:
        raise failure(bad)
    a, _ = unpack_excused(g, fn, outcomes[1].value, ex, full)
    b, _ = unpack_excused(g, fn, outcomes[2].value, ex, inputs)
    wrong = mismatch(b, a, fn.tol, equal_nan=True)
    if wrong is not None:
        raise CheckFailed(f"with truncate={k} >= T={ex.size['T']} the result must equal full BPTT "
                          f"(truncate=None): {wrong.message}", output=wrong.output)


def check_truncate_chunks(g: Grader, fn: Function, ex: Example) -> None:
    k = ex.truncate if ex.truncate is not None else 1
    inputs = dict(materialize(fn, ex), truncate=k)
    _showing(inputs, lambda: _truncate_chunks(g, fn, ex, inputs))


def _truncate_chunks(g: Grader, fn: Function, ex: Example, inputs: Dict[str, Any]) -> None:
    fwd = function(fn.forward)
    k = inputs["truncate"]
    batch = Batch(g.client)
    base = g.forward_call(batch, fwd, inputs)
    g.backward_call(batch, fn, inputs, base[fwd.cache_index])
    first = batch.run()
    bad = _first_failure(first)
    if bad is not None:
        raise failure(bad)
    got, _ = unpack_excused(g, fn, first[1].value, ex, inputs)
    # The chunks start from the states of the student's rnn_forward; if that disagrees (a bug in the
    # h it returns, graded in rnn_forward), from the states of the reference rnn_forward composed on
    # the student's rnn_step_forward. Either way the chunks run the student's rnn_forward/rnn_backward.
    wrong: List[CheckFailed] = []  # chunk results that differ from the student's truncated result
    errors: List[CheckFailed] = []  # start states or chunk runs that could not be used
    for states in (lambda: unpack(fwd, first[0].value, ex.size, ex.cell)["h"],
                   lambda: _composed_states(g, fwd, inputs)):
        try:
            h = states()
            if h is None:
                continue
            differs = mismatch(got, _chunk_by_chunk(g, fn, fwd, ex, inputs, h), fn.tol, equal_nan=True)
        except CheckFailed as exc:
            errors.append(exc)
            continue
        if differs is None:
            return
        wrong.append(differs)
    if not wrong:
        raise errors[0]
    raise CheckFailed(f"with truncate={k}, the result must equal running your rnn_forward/rnn_backward chunk by "
                      f"chunk ([0, k), [k, 2k), ... from t = 0) and summing the weight gradients: "
                      f"{wrong[0].message}", output=wrong[0].output)


def _composed_states(g: Grader, fwd: Function, inputs: Dict[str, Any]) -> Optional[np.ndarray]:
    """The hidden states of the reference ``fwd`` composed on the student's cell (None if that failed)."""
    states = g.composed(fwd, inputs)
    return None if states is None else states["h"]


def _chunk_by_chunk(g: Grader, fn: Function, fwd: Function, ex: Example, inputs: Dict[str, Any],
                    h: np.ndarray) -> Dict[str, np.ndarray]:
    """The student's rnn_forward/rnn_backward run chunk by chunk from the states ``h``, combined."""
    T, k = ex.size["T"], inputs["truncate"]
    batch = Batch(g.client)
    starts = list(range(0, T, k))
    for s in starts:
        chunk = dict(inputs, x=inputs["x"][:, s:s + k], h0=inputs["h0"] if s == 0 else h[:, s - 1],
                     dh=inputs["dh"][:, s:s + k], truncate=None)
        ref = g.forward_call(batch, fwd, chunk)
        g.backward_call(batch, fn, chunk, ref[fwd.cache_index])
    outcomes = batch.run()
    bad = _first_failure(outcomes)
    if bad is not None:
        raise failure(bad)
    parts = []
    for i, s in enumerate(starts):
        size = dict(ex.size, T=min(k, T - s))
        parts.append(unpack(fn, outcomes[2 * i + 1].value, size, ex.cell, finite=False))
    want = {"dx": np.concatenate([p["dx"] for p in parts], axis=1), "dh0": parts[0]["dh0"]}
    with np.errstate(all="ignore"):  # inf + -inf: NaN, as in the student's truncated result
        for name in ("dWx", "dWh", "db"):
            want[name] = sum(p[name] for p in parts)
    return want


SATURATE = 60.0


def _carousel_inputs(fn: Function, ex: Example) -> Dict[str, Any]:
    inputs = materialize(fn, ex)
    H = ex.size["H"]
    for name in ("Wx", "Wh"):
        inputs[name][:, : 2 * H] = 0.0
    inputs["b"][:H] = -SATURATE  # input gate shut
    inputs["b"][H:2 * H] = SATURATE  # forget gate open
    if "dnext_h" in inputs:
        inputs["dnext_h"] = np.zeros_like(inputs["dnext_h"])
    return inputs


def check_carousel(g: Grader, fn: Function, ex: Example) -> None:
    inputs = _carousel_inputs(fn, ex)
    outcomes = g.run_scenario(fn, inputs)
    bad = _first_failure(outcomes)
    if bad is not None:
        raise failure(bad)
    got = unpack(fn, outcomes[-1].value, ex.size, ex.cell)
    if fn.forward:
        name, want, what = "dprev_c", inputs["dnext_c"], "dprev_c must equal dnext_c (the gradient passes unchanged)"
    else:
        name, want, what = "next_c", inputs["prev_c"], "next_c must equal prev_c (c is carried unchanged)"
    wrong = mismatch({name: got[name]}, {name: want}, fn.tol)
    if wrong is not None:
        raise CheckFailed(f"with the forget gate saturated open (f = 1) and the input gate shut (i = 0), {what}: "
                          f"{wrong.message}", output=name, max_abs=wrong.max_abs, max_rel=wrong.max_rel)


def check_invalid_cell(g: Grader, fn: Function, ex: Example) -> None:
    inputs = dict(materialize(fn, ex), cell="gru")
    batch = Batch(g.client)
    g.forward_call(batch, fn, inputs)
    outcome = batch.run()[0]
    if isinstance(outcome, Ok):
        raise CheckFailed(f"{fn.name}(..., cell='gru') must raise ValueError, but it returned")
    if outcome.kind != "exception" or outcome.type != "ValueError":
        raise CheckFailed(f"{fn.name}(..., cell='gru') must raise ValueError, but: {outcome.describe()}")


KINDS: Dict[str, Callable[[Grader, Function, Example], None]] = {
    "values": check_values,
    "gradcheck": check_gradcheck,
    "inplace": check_inplace,
    "truncate_full": check_truncate_full,
    "truncate_chunks": check_truncate_chunks,
    "carousel": check_carousel,
    "invalid_cell": check_invalid_cell,
}

# Hidden tests show the inputs of a failing example only when they are visible to students.
SHOW_INPUT_KINDS = {"values", "gradcheck", "inplace", "truncate_full", "truncate_chunks", "carousel"}


SHRINK_BUDGET = 24  # examples run while shrinking a failure (beyond it the smallest so far is reported)


def run_test(g: Grader, fn: Function, kind: str, profile: str, max_examples: int) -> TestOutcome:
    """Run one rubric test as a derandomized Hypothesis property; keep the smallest failure.

    In a ``values`` test, once the drawn examples pass, the explicit examples of the function (inputs
    random draws never make, strategies.explicit_examples) run too, in order; the first that fails is
    the failure (other kinds do not run them, so a crash on such an input costs one test, not more).
    Running them after rather than before the drawn ones leaves the failure (and its feedback) of a
    submission that fails a drawn example as it was. NB: derandomized Hypothesis seeds its draws with
    the source of ``body``: editing ``body`` changes every example drawn (and so, maybe, grades).
    """
    check = KINDS[kind]
    failures: Dict[Example, CheckFailed] = {}
    state = {"spent": 0, "budget": max_examples + SHRINK_BUDGET}

    def body(ex: Example) -> None:
        if ex in failures:  # Hypothesis replays the smallest failure: answer it without the worker
            raise failures[ex]
        if state["spent"] >= state["budget"]:
            return  # shrinking budget spent: what we have is small enough
        state["spent"] += 1
        g.examples_run[fn.name] = g.examples_run.get(fn.name, 0) + 1
        g.client.clear_handles()
        try:
            check(g, fn, ex)
        except CheckFailed as exc:
            exc.example = ex
            failures[ex] = exc
            raise

    prop = settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                    verbosity=Verbosity.quiet, print_blob=False,
                    phases=(Phase.explicit, Phase.generate, Phase.shrink))(given(examples(fn, profile))(body))
    try:
        prop()
        explicit = explicit_examples(fn, profile) if kind == "values" else ()  # value edge cases: charged once
        state["budget"] = state["spent"] + len(explicit)
        for ex in explicit:
            body(ex)
    except CheckFailed as exc:
        return TestOutcome(False, exc.message, exc, state["spent"])
    except Exception as exc:  # noqa: BLE001 - e.g. Hypothesis errors on a nondeterministic submission
        return TestOutcome(False, f"could not be graded: {type(exc).__name__}: {exc}", None, state["spent"])
    return TestOutcome(True, "", None, state["spent"])
