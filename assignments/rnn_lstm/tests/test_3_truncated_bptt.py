"""Step 3: truncated backpropagation through time (rnn_layers.py: rnn_backward(..., truncate=k))."""
import numpy as np
import pytest

from rnn_layers import rnn_backward, rnn_forward
from rnn_lstm_testing import call_forward, check_close, golden, random_arrays, require_forward, require_unchanged

NAMES = ("dx", "dh0", "dWx", "dWh", "db")
HINT = "Chunks are [0, k), [k, 2k), ...; no gradient crosses from a chunk into the one before it, but h0 gets the first chunk's."


def check_against_torch(case, truncates):
    require_unchanged("rnn", "rnn_backward", sequence=True)
    h, cache = call_forward(rnn_forward, case["x"], case["h0"], case["Wx"], case["Wh"], case["b"], backward="rnn_backward")
    require_forward(h, case["h"], "rnn_forward", "rnn_backward")
    for k in truncates:
        grads = rnn_backward(case["dh"], cache, truncate=int(k))
        for name, value in zip(NAMES, grads):
            check_close(value, case[f"{name}_k{k}"], f"rnn_backward(truncate={k}): {name}", HINT)


@pytest.mark.parametrize("case", [p for p in golden("rnn_truncated") if p.id == "N2_T7_D3_H4"])
def test_truncated_bptt_matches_torch(case):
    """torch ran the sequence chunk by chunk, calling detach() on the state entering each chunk."""
    check_against_torch(case, case["truncates"])


def test_truncate_none_or_at_least_T_is_full_bptt():
    require_unchanged("rnn", "rnn_backward", sequence=True)
    N, T, D, H = 2, 5, 3, 4
    a = random_arrays(3, x=(N, T, D), h0=(N, H), Wx=(D, H), Wh=(H, H), b=(H,), dh=(N, T, H))
    _, cache = rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    full = rnn_backward(a["dh"], cache)
    for k in (None, T, T + 3):
        for name, got, want in zip(NAMES, rnn_backward(a["dh"], cache, truncate=k), full):
            check_close(got, want, f"rnn_backward(truncate={k}) with T={T}: {name}", "truncate=None or truncate >= T is full BPTT.")


@pytest.mark.parametrize("k", [1, 2, 3])
def test_truncated_equals_chunk_by_chunk(k):
    """truncate=k gives what running rnn_forward/rnn_backward on each chunk and summing gives."""
    require_unchanged("rnn", "rnn_backward", sequence=True)
    N, T, D, H = 2, 7, 3, 4
    a = random_arrays(4, x=(N, T, D), h0=(N, H), Wx=(D, H), Wh=(H, H), b=(H,), dh=(N, T, H))
    _, cache = rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    dx, dh0, dWx, dWh, db = rnn_backward(a["dh"], cache, truncate=k)
    state, dxs, sums = a["h0"], [], [0.0, 0.0, 0.0]
    for start in range(0, T, k):
        h, chunk_cache = rnn_forward(a["x"][:, start : start + k], state, a["Wx"], a["Wh"], a["b"])
        cdx, cdh0, *cgrads = rnn_backward(a["dh"][:, start : start + k], chunk_cache)
        dxs.append(cdx)
        sums = [s + g for s, g in zip(sums, cgrads)]
        if start == 0:
            expected_dh0 = cdh0
        state = h[:, -1]
    check_close(dx, np.concatenate(dxs, axis=1), f"rnn_backward(truncate={k}): dx", HINT)
    check_close(dh0, expected_dh0, f"rnn_backward(truncate={k}): dh0", "h0 still gets the gradient of the first chunk.")
    for name, got, want in zip(("dWx", "dWh", "db"), (dWx, dWh, db), sums):
        check_close(got, want, f"rnn_backward(truncate={k}): {name}", "Weight gradients of all chunks add up.")


