"""Step 4: one time step of an LSTM (lstm_layers.py: lstm_step_forward, then lstm_step_backward)."""
import numpy as np
import pytest

from lstm_layers import lstm_step_backward, lstm_step_forward
from rnn_lstm_testing import (call_forward, check_close, check_gradient, check_unchanged, golden, numerical_gradient, random_arrays,
                              require_forward, require_forward_golden, snapshot)

GATES = "a = x @ Wx + prev_h @ Wh + b is split into the blocks i, f, g, o, in that order (like torch.nn.LSTM)."


@pytest.mark.parametrize("case", golden("lstm_step"))
def test_lstm_step_forward_matches_torch(case):
    next_h, next_c, _ = call_forward(lstm_step_forward, case["x"], case["prev_h"], case["prev_c"], case["Wx"], case["Wh"], case["b"])
    check_close(next_c, case["next_c"], "lstm_step_forward: next_c", "next_c = f * prev_c + i * g. " + GATES)
    check_close(next_h, case["next_h"], "lstm_step_forward: next_h", "next_h = o * tanh(next_c). " + GATES)


@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 1, 1)])
def test_lstm_step_backward_gradient_check(N, D, H):
    require_forward_golden("lstm_step", lambda c: lstm_step_forward(c["x"], c["prev_h"], c["prev_c"], c["Wx"], c["Wh"],
                                                                    c["b"])[1], "next_c", "lstm_step_forward",
                           "lstm_step_backward")
    a = random_arrays(5, x=(N, D), prev_h=(N, H), prev_c=(N, H), Wx=(D, 4 * H), Wh=(H, 4 * H), b=(4 * H,), dnext_h=(N, H), dnext_c=(N, H))
    inputs = [a["x"], a["prev_h"], a["prev_c"], a["Wx"], a["Wh"], a["b"]]
    _, _, cache = lstm_step_forward(*inputs)
    before = snapshot(a["dnext_h"], a["dnext_c"], *inputs)
    grads = lstm_step_backward(a["dnext_h"], a["dnext_c"], cache)
    check_unchanged(before, [a["dnext_h"], a["dnext_c"], *inputs], "lstm_step_backward")

    def both_outputs():  # the loss sum(dnext_h * next_h) + sum(dnext_c * next_c) in one array
        next_h, next_c, _ = lstm_step_forward(*inputs)
        return np.concatenate([next_h, next_c], axis=1)

    upstream = np.concatenate([a["dnext_h"], a["dnext_c"]], axis=1)
    for name, wrt, analytic in zip(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), inputs, grads):
        numeric = numerical_gradient(both_outputs, wrt, upstream)
        check_gradient(analytic, numeric, f"lstm_step_backward: {name}", "next_c reaches the loss twice: through dnext_c and through next_h.")


@pytest.mark.parametrize("case", golden("lstm_step"))
def test_lstm_step_backward_matches_torch(case):
    next_h, next_c, cache = call_forward(lstm_step_forward, case["x"], case["prev_h"], case["prev_c"], case["Wx"], case["Wh"],
                                         case["b"], backward="lstm_step_backward")
    require_forward(next_h, case["next_h"], "lstm_step_forward", "lstm_step_backward")
    require_forward(next_c, case["next_c"], "lstm_step_forward", "lstm_step_backward")
    grads = lstm_step_backward(case["dnext_h"], case["dnext_c"], cache)
    assert len(grads) == 6, "lstm_step_backward returns (dx, dprev_h, dprev_c, dWx, dWh, db)"
    for name, value in zip(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), grads):
        check_close(value, case[name], f"lstm_step_backward: {name}")
