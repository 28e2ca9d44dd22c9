"""Step 1: one time step of a vanilla RNN (rnn_layers.py: rnn_step_forward, then rnn_step_backward)."""
import pytest

from rnn_layers import rnn_step_backward, rnn_step_forward
from rnn_lstm_testing import (call_forward, check_close, check_gradient, check_unchanged, golden, numerical_gradient, random_arrays,
                              require_forward, require_forward_golden, snapshot)


@pytest.mark.parametrize("case", golden("rnn_step"))
def test_rnn_step_forward_matches_torch(case):
    next_h, _ = call_forward(rnn_step_forward, case["x"], case["prev_h"], case["Wx"], case["Wh"], case["b"])
    check_close(next_h, case["next_h"], "rnn_step_forward: next_h", "next_h = tanh(x @ Wx + prev_h @ Wh + b), shape (N, H).")


@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 1, 1)])
def test_rnn_step_backward_gradient_check(N, D, H):
    require_forward_golden("rnn_step", lambda c: rnn_step_forward(c["x"], c["prev_h"], c["Wx"], c["Wh"], c["b"])[0],
                           "next_h", "rnn_step_forward", "rnn_step_backward")
    a = random_arrays(1, x=(N, D), prev_h=(N, H), Wx=(D, H), Wh=(H, H), b=(H,), dnext_h=(N, H))
    inputs = [a["x"], a["prev_h"], a["Wx"], a["Wh"], a["b"]]
    _, cache = rnn_step_forward(*inputs)
    before = snapshot(a["dnext_h"], *inputs)
    grads = rnn_step_backward(a["dnext_h"], cache)
    check_unchanged(before, [a["dnext_h"], *inputs], "rnn_step_backward")
    for name, wrt, analytic in zip(("dx", "dprev_h", "dWx", "dWh", "db"), inputs, grads):
        numeric = numerical_gradient(lambda: rnn_step_forward(*inputs)[0], wrt, a["dnext_h"])
        check_gradient(analytic, numeric, f"rnn_step_backward: {name}", "d tanh(a)/da = 1 - tanh(a)**2; db sums over the batch.")


@pytest.mark.parametrize("case", golden("rnn_step"))
def test_rnn_step_backward_matches_torch(case):
    next_h, cache = call_forward(rnn_step_forward, case["x"], case["prev_h"], case["Wx"], case["Wh"], case["b"],
                                 backward="rnn_step_backward")
    require_forward(next_h, case["next_h"], "rnn_step_forward", "rnn_step_backward")
    grads = rnn_step_backward(case["dnext_h"], cache)
    assert len(grads) == 5, "rnn_step_backward returns (dx, dprev_h, dWx, dWh, db)"
    for name, value in zip(("dx", "dprev_h", "dWx", "dWh", "db"), grads):
        check_close(value, case[name], f"rnn_step_backward: {name}")
