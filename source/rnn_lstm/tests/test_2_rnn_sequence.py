"""Step 2: a vanilla RNN over a whole sequence (rnn_layers.py: rnn_forward, then rnn_backward)."""
import pytest

from rnn_layers import rnn_backward, rnn_forward
from rnn_lstm_testing import (call_forward, check_close, check_gradient, check_unchanged, golden, numerical_gradient, random_arrays,
                              require_forward, require_forward_golden, require_unchanged, snapshot)

NAMES = ("dx", "dh0", "dWx", "dWh", "db")


@pytest.mark.parametrize("case", golden("rnn_seq"))
def test_rnn_forward_matches_torch(case):
    h, _ = call_forward(rnn_forward, case["x"], case["h0"], case["Wx"], case["Wh"], case["b"])
    check_close(h, case["h"], "rnn_forward: h", "h[:, t] is the state after reading x[:, t]; the first step starts from h0.")


@pytest.mark.parametrize("N, T, D, H", [(2, 4, 3, 5), (1, 1, 1, 1)])
def test_rnn_backward_gradient_check(N, T, D, H):
    require_unchanged("rnn", "rnn_backward")
    require_forward_golden("rnn_seq", lambda c: rnn_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])[0], "h",
                           "rnn_forward", "rnn_backward")
    a = random_arrays(2, x=(N, T, D), h0=(N, H), Wx=(D, H), Wh=(H, H), b=(H,), dh=(N, T, H))
    inputs = [a["x"], a["h0"], a["Wx"], a["Wh"], a["b"]]
    _, cache = rnn_forward(*inputs)
    before = snapshot(a["dh"], *inputs)
    grads = rnn_backward(a["dh"], cache)
    check_unchanged(before, [a["dh"], *inputs], "rnn_backward")
    for name, wrt, analytic in zip(NAMES, inputs, grads):
        numeric = numerical_gradient(lambda: rnn_forward(*inputs)[0], wrt, a["dh"])
        check_gradient(analytic, numeric, f"rnn_backward: {name}", "The gradient reaching h_t is dh[:, t] plus what flows back from h_{t+1}.")


@pytest.mark.parametrize("case", golden("rnn_seq"))
def test_rnn_backward_matches_torch(case):
    require_unchanged("rnn", "rnn_backward")
    h, cache = call_forward(rnn_forward, case["x"], case["h0"], case["Wx"], case["Wh"], case["b"], backward="rnn_backward")
    require_forward(h, case["h"], "rnn_forward", "rnn_backward")
    grads = rnn_backward(case["dh"], cache)
    assert len(grads) == 5, "rnn_backward returns (dx, dh0, dWx, dWh, db)"
    for name, value in zip(NAMES, grads):
        check_close(value, case[name], f"rnn_backward: {name}", "Weight gradients are summed over time and batch.")
