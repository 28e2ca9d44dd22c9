"""Step 5: an LSTM over a whole sequence (lstm_layers.py: lstm_forward, then lstm_backward)."""
import pytest

from lstm_layers import lstm_backward, lstm_forward
from rnn_lstm_testing import (call_forward, check_close, check_gradient, check_unchanged, golden, numerical_gradient, random_arrays,
                              require_forward, require_forward_golden, require_unchanged, snapshot)

NAMES = ("dx", "dh0", "dWx", "dWh", "db")


@pytest.mark.parametrize("case", golden("lstm_seq"))
def test_lstm_forward_matches_torch(case):
    h, _ = call_forward(lstm_forward, case["x"], case["h0"], case["Wx"], case["Wh"], case["b"])
    check_close(h, case["h"], "lstm_forward: h", "The cell state starts at zero; h[:, t] is the state after reading x[:, t].")


@pytest.mark.parametrize("N, T, D, H", [(2, 4, 3, 5), (1, 1, 1, 1)])
def test_lstm_backward_gradient_check(N, T, D, H):
    require_unchanged("lstm", "lstm_backward")
    require_forward_golden("lstm_seq", lambda c: lstm_forward(c["x"], c["h0"], c["Wx"], c["Wh"], c["b"])[0], "h",
                           "lstm_forward", "lstm_backward")
    a = random_arrays(6, x=(N, T, D), h0=(N, H), Wx=(D, 4 * H), Wh=(H, 4 * H), b=(4 * H,), dh=(N, T, H))
    inputs = [a["x"], a["h0"], a["Wx"], a["Wh"], a["b"]]
    _, cache = lstm_forward(*inputs)
    before = snapshot(a["dh"], *inputs)
    grads = lstm_backward(a["dh"], cache)
    check_unchanged(before, [a["dh"], *inputs], "lstm_backward")
    for name, wrt, analytic in zip(NAMES, inputs, grads):
        numeric = numerical_gradient(lambda: lstm_forward(*inputs)[0], wrt, a["dh"])
        check_gradient(analytic, numeric, f"lstm_backward: {name}", "Both h and c carry gradient from step t+1 back to step t.")


@pytest.mark.parametrize("case", golden("lstm_seq"))
def test_lstm_backward_matches_torch(case):
    require_unchanged("lstm", "lstm_backward")
    h, cache = call_forward(lstm_forward, case["x"], case["h0"], case["Wx"], case["Wh"], case["b"], backward="lstm_backward")
    require_forward(h, case["h"], "lstm_forward", "lstm_backward")
    grads = lstm_backward(case["dh"], cache)
    assert len(grads) == 5, "lstm_backward returns (dx, dh0, dWx, dWh, db)"
    for name, value in zip(NAMES, grads):
        check_close(value, case[name], f"lstm_backward: {name}")
