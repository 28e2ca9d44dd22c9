"""The rnn_lstm pack's own check kinds and judging aids.

- ``truncate_full`` (truncate >= T is full BPTT) and ``truncate_chunks`` (truncated BPTT equals
  BPTT chunk by chunk, as the reference computes it): judged only on examples where the
  student's full BPTT is right, so a BPTT bug is charged to the tests of full BPTT and truncation
  is graded by these tests alone (the other tests of rnn_backward use full BPTT);
- ``carousel``: an LSTM step with the forget gate saturated open and the input gate shut carries c
  (next_c = prev_c), and its gradient (dprev_c = dnext_c), unchanged;
- ``invalid_cell``: an unknown cell name raises ValueError;
- :func:`backward_at_outputs`: the reference backward evaluated at the student's own forward
  outputs (an RNN backward depends on its forward only through the hidden states and the inputs).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional

import numpy as np

from autograder.engine import reference
from autograder.engine.checks import CheckFailed
from autograder.engine.dependencies import UNINFORMATIVE, Rejected, Run
from autograder.engine.hidden_tests import Grader, check_values, judge, showing_inputs
from autograder.engine.spec import Function
from autograder.engine.strategies import Example, materialize
from autograder.worker.client import Batch, Ok


def check_truncate_full(g: Grader, fn: Function, ex: Example) -> None:
    """``truncate_full``: with truncate >= T the result equals full BPTT (where full BPTT is right)."""
    T = ex.size["T"]
    inputs = truncate_full_inputs(fn, ex)
    k = inputs["truncate"]
    showing_inputs(inputs, lambda: _truncated(g, fn, ex, inputs, f"with truncate={k} >= T={T} the result must equal full "
                                                                 f"BPTT (truncate=None)", cuts=False))


def check_truncate_chunks(g: Grader, fn: Function, ex: Example) -> None:
    """``truncate_chunks``: truncated BPTT equals BPTT chunk by chunk (where full BPTT is right)."""
    inputs = truncate_chunks_inputs(fn, ex)
    k = inputs["truncate"]
    showing_inputs(inputs, lambda: _truncated(g, fn, ex, inputs, f"with truncate={k}, the result must equal BPTT run "
                                                                 f"chunk by chunk ([0, k), [k, 2k), ... from t = 0), the "
                                                                 f"weight gradients summed", cuts=True))


def _truncated(g: Grader, fn: Function, ex: Example, inputs: Dict[str, Any], rule: str, cuts: bool) -> None:
    """Judge truncated BPTT on an example where the student's full BPTT is right."""
    mode = g.mode(fn)
    full_inputs = dict(inputs, truncate=None)
    run = Run(g.client, fn, ex, full_inputs, mode)
    full = run.scenario()
    truncated = run.call_backward(run.forward_index, inputs)
    run.execute()
    try:
        run.charge(lambda: judge(run, run.outputs(full), run.expected(full_inputs), full_inputs, None))
    except CheckFailed as exc:
        raise Rejected(fn.name, f"{fn.name} with truncate=None (full BPTT) is wrong on this input "
                                f"({exc.output})", ex) from None
    run.compares_values = False  # full BPTT was right with this cache: a truncation mistake is not the cache's
    try:
        run.charge(lambda: judge(run, run.outputs(truncated), run.expected(inputs), inputs, inputs["truncate"]))
    except CheckFailed as exc:
        exc.message = f"{rule}: {exc.message}"
        raise
    T, k = ex.size["T"], inputs["truncate"]
    if T == 1 or (cuts and k >= T):  # right, but nothing was cut: no evidence about truncation
        raise Rejected(UNINFORMATIVE, f"truncate={k} cuts nothing in a sequence of T={T} steps", ex)


SATURATE = 60.0


def carousel_inputs(fn: Function, ex: Example) -> Dict[str, Any]:
    """An LSTM step's inputs with the input gate shut and the forget gate saturated open (and, for
    the backward, no upstream gradient on next_h)."""
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
    """``carousel``: on :func:`carousel_inputs`, next_c = prev_c (forward) and dprev_c = dnext_c (backward)."""
    name = "dprev_c" if fn.forward else "next_c"
    what = ("dprev_c must equal dnext_c (the gradient passes unchanged)" if fn.forward
            else "next_c must equal prev_c (c is carried unchanged)")
    try:
        check_values(g, fn, ex, only=(name,), inputs=carousel_inputs(fn, ex))
    except CheckFailed as exc:
        raise CheckFailed(f"with the forget gate saturated open (f = 1) and the input gate shut (i = 0), {what}: "
                          f"{exc.message}", output=exc.output, max_abs=exc.max_abs, max_rel=exc.max_rel,
                          actual=exc.actual, inputs=carousel_inputs(fn, ex), expected=exc.expected,
                          outcome=exc.outcome, contract=exc.contract) from None


def check_invalid_cell(g: Grader, fn: Function, ex: Example) -> None:
    """``invalid_cell``: an unknown cell name raises ValueError, whatever the weights are shaped for.

    Each example tries a name that is no cell ("gru") and a cell name in other letters ("RNN"), with
    weights shaped for each cell in turn: code that never checks the name would run one of the cells
    on its own weights without error, and fail this test, however the other cell's shapes make numpy
    raise."""
    batch = Batch(g.client)
    tried = []
    for cell in fn.cells:
        for name in INVALID_CELLS:
            inputs = dict(materialize(fn, dataclasses.replace(ex, cell=cell)), cell=name)
            args, kwargs = reference.call_arguments(fn, inputs)
            batch.call(fn.module, fn.name, *args, opaque=[fn.cache_index] if fn.cache_index is not None else [], **kwargs)
            tried.append((cell, name))
    for (cell, name), outcome in zip(tried, batch.run()):
        shaped = f"with weights shaped for {cell!r}"
        if isinstance(outcome, Ok):
            raise CheckFailed(f"{fn.name}(..., cell={name!r}) {shaped} must raise ValueError, but it returned")
        if outcome.kind != "exception" or outcome.type != "ValueError":
            raise CheckFailed(f"{fn.name}(..., cell={name!r}) {shaped} must raise ValueError, but: {outcome.describe()}")


INVALID_CELLS = ("gru", "RNN")  # no cell; a cell's name in other letters (the contract's names are "rnn", "lstm")


def _rnn_step_cache(x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, next_h: np.ndarray) -> tuple:
    return (x, prev_h, Wx, Wh, next_h)  # the reference's cache format (solutions/rnn_lstm/rnn_layers.py)


def backward_at_outputs(fn: Function, inputs: Mapping[str, Any], forward: Mapping[str, np.ndarray],
                        truncate: Any = None) -> Optional[Dict[str, np.ndarray]]:
    """The reference backward evaluated at the student's own forward outputs, where that is defined.

    An RNN backward depends on its forward only through the hidden states and the inputs, so
    "your backward is right for what your forward computed" can be checked exactly even when that
    forward is wrong. None for functions whose backward reads the forward's internals (LSTM gates).
    """
    rnn = reference.pure()["rnn_layers"]
    with np.errstate(all="ignore"):
        if fn.name == "rnn_step_backward":
            cache = _rnn_step_cache(inputs["x"], inputs["prev_h"], inputs["Wx"], inputs["Wh"], forward["next_h"])
            return reference.named_outputs(fn, rnn.rnn_step_backward(inputs["dnext_h"], cache))
        if fn.name == "rnn_backward":
            h, x = forward["h"], inputs["x"]
            caches = [_rnn_step_cache(x[:, t], inputs["h0"] if t == 0 else h[:, t - 1], inputs["Wx"], inputs["Wh"],
                                      h[:, t]) for t in range(x.shape[1])]
            return reference.named_outputs(fn, rnn.rnn_backward(inputs["dh"], caches, truncate))
    return None


def truncate_full_inputs(fn: Function, ex: Example) -> Dict[str, Any]:
    """The inputs of ``truncate_full``: the drawn truncate if it is >= T, else one of T, T+1, T+2
    (also the student CI's stored inputs)."""
    T = ex.size["T"]
    k = ex.truncate if ex.truncate is not None and ex.truncate >= T else T + ex.seed % 3
    return dict(materialize(fn, ex), truncate=k)


def truncate_chunks_inputs(fn: Function, ex: Example) -> Dict[str, Any]:
    """The inputs of ``truncate_chunks``: the drawn truncate, or 1 (also the student CI's stored inputs)."""
    return dict(materialize(fn, ex), truncate=ex.truncate if ex.truncate is not None else 1)
