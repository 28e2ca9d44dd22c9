"""Step 7: a bidirectional layer (deep_layers.py: bidirectional_forward, then bidirectional_backward)."""
import pytest

from deep_layers import bidirectional_backward, bidirectional_forward
from rnn_lstm_testing import (GRAD_ATOL, GRAD_RTOL, call_forward, check_close, check_gradient, check_unchanged, golden,
                              numerical_gradient, random_arrays, require_forward, require_forward_golden, require_unchanged, snapshot,
                              which_other)

KEYS = ("Wx", "Wh", "b")
ALIGN = "h[:, t, H:] is the backward direction's state after reading x[:, T-1], ..., x[:, t] (reverse its outputs back)."


def params_of(case, suffix):
    return {key: case[f"{key}{suffix}"] for key in KEYS}


@pytest.mark.parametrize("case", golden("bidirectional"))
def test_bidirectional_forward_matches_torch(case):
    require_unchanged(case["cell"], "bidirectional_forward", sequence=True)
    h, _ = call_forward(bidirectional_forward, case["x"], case["h0_f"], case["h0_b"], params_of(case, "_f"), params_of(case, "_b"),
                        cell=str(case["cell"]))
    check_close(h, case["h"], f"bidirectional_forward({case['cell']}): h", ALIGN)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_bidirectional_backward_gradient_check(cell):
    require_unchanged(cell, "bidirectional_backward", sequence=True)
    require_forward_golden("bidirectional", lambda c: bidirectional_forward(c["x"], c["h0_f"], c["h0_b"], params_of(c, "_f"),
                                                                            params_of(c, "_b"), cell=str(c["cell"]))[0],
                           "h", "bidirectional_forward", "bidirectional_backward")
    N, T, D, H = 2, 4, 3, 2
    gates = 4 if cell == "lstm" else 1
    a = random_arrays(13, x=(N, T, D), h0_f=(N, H), h0_b=(N, H), dh=(N, T, 2 * H))
    p_f = random_arrays(14, Wx=(D, gates * H), Wh=(H, gates * H), b=(gates * H,))
    p_b = random_arrays(15, Wx=(D, gates * H), Wh=(H, gates * H), b=(gates * H,))
    _, cache = bidirectional_forward(a["x"], a["h0_f"], a["h0_b"], p_f, p_b, cell=cell)
    before = snapshot(a["dh"], a["x"], a["h0_f"], a["h0_b"], p_f, p_b)
    dx, dh0_f, dh0_b, grads_f, grads_b = bidirectional_backward(a["dh"], cache)
    check_unchanged(before, [a["dh"], a["x"], a["h0_f"], a["h0_b"], p_f, p_b], "bidirectional_forward/bidirectional_backward")
    forward = lambda: bidirectional_forward(a["x"], a["h0_f"], a["h0_b"], p_f, p_b, cell=cell)[0]  # noqa: E731
    check_gradient(dx, numerical_gradient(forward, a["x"], a["dh"]), f"bidirectional_backward({cell}): dx", "Both directions read x: add their dx (re-aligned).")
    numeric_h0 = [numerical_gradient(forward, a["h0_f"], a["dh"]), numerical_gradient(forward, a["h0_b"], a["dh"])]
    numeric_p = [{key: numerical_gradient(forward, p[key], a["dh"]) for key in KEYS} for p in (p_f, p_b)]
    checks = [("dh0_f", dh0_f, numeric_h0, 0, ""), ("dh0_b", dh0_b, numeric_h0, 1, "")]
    checks += [(f"{label}[{key!r}]", grads[key], [n[key] for n in numeric_p], d, ALIGN)
               for d, (label, grads) in enumerate((("grads_f", grads_f), ("grads_b", grads_b))) for key in KEYS]
    for what, analytic, numerics, direction, hint in checks:
        if which_other(analytic, numerics, direction, rtol=GRAD_RTOL, atol=GRAD_ATOL) is not None:
            hint = ("The _f results belong to the forward direction (h0_f, params_f), the _b results to the reversed one "
                    f"(h0_b, params_b): your {what} is the other direction's.")
        check_gradient(analytic, numerics[direction], f"bidirectional_backward({cell}): {what}", hint)


@pytest.mark.parametrize("case", golden("bidirectional"))
def test_bidirectional_backward_matches_torch(case):
    require_unchanged(case["cell"], "bidirectional_backward", sequence=True)
    h, cache = call_forward(bidirectional_forward, case["x"], case["h0_f"], case["h0_b"], params_of(case, "_f"), params_of(case, "_b"),
                            cell=str(case["cell"]), backward="bidirectional_backward")
    require_forward(h, case["h"], "bidirectional_forward", "bidirectional_backward")
    dx, dh0_f, dh0_b, grads_f, grads_b = bidirectional_backward(case["dh"], cache)
    check_close(dx, case["dx"], "bidirectional_backward: dx")
    check_close(dh0_f, case["dh0_f"], "bidirectional_backward: dh0_f")
    check_close(dh0_b, case["dh0_b"], "bidirectional_backward: dh0_b")
    for key in KEYS:
        check_close(grads_f[key], case[f"d{key}_f"], f"bidirectional_backward: grads_f[{key!r}]")
        check_close(grads_b[key], case[f"d{key}_b"], f"bidirectional_backward: grads_b[{key!r}]")


def test_bidirectional_forward_rejects_unknown_cell():
    a = random_arrays(16, x=(1, 2, 2), h0=(1, 2), Wx=(2, 2), Wh=(2, 2), b=(2,))
    p = {"Wx": a["Wx"], "Wh": a["Wh"], "b": a["b"]}
    with pytest.raises(ValueError):
        bidirectional_forward(a["x"], a["h0"], a["h0"], p, p, cell="gru")
