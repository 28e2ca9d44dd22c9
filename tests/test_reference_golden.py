"""solutions/rnn_lstm against golden vectors from torch (tools/make_golden.py; no torch needed here).

Every graded function is covered: the step functions by single-step fixtures, the sequence
functions by nn.RNN / nn.LSTM runs (truncated BPTT by torch run chunk by chunk with detach()),
the deep layers by stacked (num_layers and chained) and bidirectional modules, the gradient-flow
functions by autograd with retain_grad and by torch's global norm. The provided sigmoid too.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import pytest
from conftest import load_fixtures

RTOL, ATOL = 1e-7, 1e-12

Case = Dict[str, np.ndarray]


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert isinstance(actual, np.ndarray), f"{what}: expected a numpy array, got {type(actual).__name__}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, torch has {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=f"{what} differs from torch")


def cases(kind: str) -> List:
    return [pytest.param(case, id=name) for name, case in load_fixtures(kind).items()]


def layer_params(case: Case, suffix: str) -> Dict[str, np.ndarray]:
    return {key: case[f"{key}{suffix}"] for key in ("Wx", "Wh", "b")}


def assert_grads(actual: Dict[str, np.ndarray], case: Case, suffix: str, what: str) -> None:
    assert set(actual) == {"Wx", "Wh", "b"}, f"{what}: gradient dict keys {sorted(actual)}"
    for key in ("Wx", "Wh", "b"):
        assert_close(actual[key], case[f"d{key}{suffix}"], f"{what} d{key}")


@pytest.mark.parametrize("case", cases("rnn_step"))
def test_rnn_step(solutions, case: Case) -> None:
    rnn = solutions.rnn_layers
    next_h, cache = rnn.rnn_step_forward(case["x"], case["prev_h"], case["Wx"], case["Wh"], case["b"])
    assert_close(next_h, case["next_h"], "rnn_step_forward next_h")
    grads = rnn.rnn_step_backward(case["dnext_h"], cache)
    for value, name in zip(grads, ("dx", "dprev_h", "dWx", "dWh", "db"), strict=True):
        assert_close(value, case[name], f"rnn_step_backward {name}")


@pytest.mark.parametrize("case", cases("lstm_step"))
def test_lstm_step(solutions, case: Case) -> None:
    lstm = solutions.lstm_layers
    next_h, next_c, cache = lstm.lstm_step_forward(case["x"], case["prev_h"], case["prev_c"], case["Wx"], case["Wh"], case["b"])
    assert_close(next_h, case["next_h"], "lstm_step_forward next_h")
    assert_close(next_c, case["next_c"], "lstm_step_forward next_c")
    grads = lstm.lstm_step_backward(case["dnext_h"], case["dnext_c"], cache)
    for value, name in zip(grads, ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), strict=True):
        assert_close(value, case[name], f"lstm_step_backward {name}")


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_sequence(solutions, cell: str) -> None:
    module = solutions.rnn_layers if cell == "rnn" else solutions.lstm_layers
    forward, backward = getattr(module, f"{cell}_forward"), getattr(module, f"{cell}_backward")
    for name, case in load_fixtures(f"{cell}_seq").items():
        h, cache = forward(case["x"], case["h0"], case["Wx"], case["Wh"], case["b"])
        assert_close(h, case["h"], f"{cell}_forward h [{name}]")
        grads = backward(case["dh"], cache)
        for value, key in zip(grads, ("dx", "dh0", "dWx", "dWh", "db"), strict=True):
            assert_close(value, case[key], f"{cell}_backward {key} [{name}]")


@pytest.mark.parametrize("case", cases("rnn_truncated"))
def test_rnn_backward_truncated(solutions, case: Case) -> None:
    rnn = solutions.rnn_layers
    h, cache = rnn.rnn_forward(case["x"], case["h0"], case["Wx"], case["Wh"], case["b"])
    assert_close(h, case["h"], "rnn_forward h")
    T = case["x"].shape[1]
    assert list(case["truncates"]) == list(range(1, T + 2)), "fixture should hold every truncate value 1..T+1"
    for truncate in [None, *map(int, case["truncates"])]:
        suffix = "" if truncate is None else f"_k{truncate}"
        grads = rnn.rnn_backward(case["dh"], cache, truncate=truncate)
        for value, key in zip(grads, ("dx", "dh0", "dWx", "dWh", "db"), strict=True):
            assert_close(value, case[key + suffix], f"rnn_backward(truncate={truncate}) {key}")


@pytest.mark.parametrize("case", cases("stacked"))
def test_stacked(solutions, case: Case) -> None:
    deep = solutions.deep_layers
    layers, cell = int(case["layers"]), str(case["cell"])
    h0s = [case[f"h0_{l}"] for l in range(layers)]
    params = [layer_params(case, f"_{l}") for l in range(layers)]
    h, cache = deep.stacked_forward(case["x"], h0s, params, cell=cell)
    assert_close(h, case["h"], "stacked_forward h")
    dx, dh0s, grads = deep.stacked_backward(case["dh"], cache)
    assert_close(dx, case["dx"], "stacked_backward dx")
    assert len(dh0s) == len(grads) == layers, "one dh0 and one gradient dict per layer"
    for l in range(layers):
        assert_close(dh0s[l], case[f"dh0_{l}"], f"stacked_backward dh0s[{l}]")
        assert_grads(grads[l], case, f"_{l}", f"stacked_backward grads[{l}]")


@pytest.mark.parametrize("case", cases("bidirectional"))
def test_bidirectional(solutions, case: Case) -> None:
    deep = solutions.deep_layers
    h, cache = deep.bidirectional_forward(
        case["x"], case["h0_f"], case["h0_b"], layer_params(case, "_f"), layer_params(case, "_b"), cell=str(case["cell"])
    )
    assert_close(h, case["h"], "bidirectional_forward h")
    dx, dh0_f, dh0_b, grads_f, grads_b = deep.bidirectional_backward(case["dh"], cache)
    assert_close(dx, case["dx"], "bidirectional_backward dx")
    assert_close(dh0_f, case["dh0_f"], "bidirectional_backward dh0_f")
    assert_close(dh0_b, case["dh0_b"], "bidirectional_backward dh0_b")
    assert_grads(grads_f, case, "_f", "bidirectional_backward grads_f")
    assert_grads(grads_b, case, "_b", "bidirectional_backward grads_b")


@pytest.mark.parametrize("case", cases("grad_norms"))
def test_hidden_grad_norms(solutions, case: Case) -> None:
    norms = solutions.gradient_flow.hidden_grad_norms(case["x"], case["h0"], case["Wx"], case["Wh"], case["b"], cell=str(case["cell"]))
    assert_close(norms, case["norms"], "hidden_grad_norms")


@pytest.mark.parametrize("case", cases("clip"))
def test_clip_grad_norm(solutions, case: Case) -> None:
    names = [str(n) for n in case["names"]]
    grads = {name: case[f"g_{name}"] for name in names}
    clipped, total = solutions.gradient_flow.clip_grad_norm(grads, float(case["max_norm"]))
    assert type(total) is float, f"total_norm should be a Python float, got {type(total).__name__}"
    np.testing.assert_allclose(total, float(case["total_norm"]), rtol=1e-12, err_msg="clip_grad_norm total_norm")
    assert sorted(clipped) == sorted(names), "clip_grad_norm keys"
    for name in names:
        assert_close(clipped[name], case[f"clipped_{name}"], f"clip_grad_norm clipped[{name!r}]")


def test_sigmoid_matches_torch_at_extremes(solutions) -> None:
    (case,) = load_fixtures("sigmoid").values()
    with np.errstate(over="raise"):
        y = solutions.lstm_layers.sigmoid(case["x"])
    np.testing.assert_allclose(y, case["y"], rtol=1e-12, atol=1e-300, err_msg="sigmoid differs from torch.sigmoid")


def test_every_graded_function_has_golden_coverage() -> None:
    """The fixture kinds above exist and cover the contract's shapes down to 1 and T >= 12."""
    seen_small, seen_long = set(), set()
    for kind in ("rnn_step", "lstm_step", "rnn_seq", "lstm_seq", "rnn_truncated", "stacked", "bidirectional", "grad_norms"):
        for case in load_fixtures(kind).values():
            shape = case["x"].shape
            if all(size == 1 for size in shape):
                seen_small.add(kind)
            if len(shape) == 3 and shape[1] >= 12:
                seen_long.add(kind)
    assert seen_small == {"rnn_step", "lstm_step", "rnn_seq", "lstm_seq", "rnn_truncated", "stacked", "bidirectional", "grad_norms"}
    assert seen_long == {"rnn_seq", "lstm_seq", "rnn_truncated", "stacked", "bidirectional", "grad_norms"}
