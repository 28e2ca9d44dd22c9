"""Step 6: stacked recurrent layers (deep_layers.py: stacked_forward, then stacked_backward)."""
import pytest

from deep_layers import stacked_backward, stacked_forward
from rnn_lstm_testing import (GRAD_ATOL, GRAD_RTOL, call_forward, check_close, check_gradient, check_unchanged, golden,
                              numerical_gradient, random_arrays, require_forward, require_forward_golden, require_unchanged, snapshot,
                              which_other)

KEYS = ("Wx", "Wh", "b")


def layers_of(case):
    count = int(case["layers"])
    h0s = [case[f"h0_{l}"] for l in range(count)]
    params = [{key: case[f"{key}_{l}"] for key in KEYS} for l in range(count)]
    return h0s, params


@pytest.mark.parametrize("case", golden("stacked"))
def test_stacked_forward_matches_torch(case):
    require_unchanged(case["cell"], "stacked_forward", sequence=True)
    h0s, params = layers_of(case)
    h, _ = call_forward(stacked_forward, case["x"], h0s, params, cell=str(case["cell"]))
    check_close(h, case["h"], f"stacked_forward({case['cell']}): h", "Layer l reads the hidden sequence of layer l-1; return the top layer's states.")


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_stacked_backward_gradient_check(cell):
    require_unchanged(cell, "stacked_backward", sequence=True)
    require_forward_golden("stacked", lambda c: stacked_forward(c["x"], *layers_of(c), cell=str(c["cell"]))[0], "h",
                           "stacked_forward", "stacked_backward")
    N, T, D, widths = 2, 3, 3, (4, 2)
    gates = 4 if cell == "lstm" else 1
    a = random_arrays(7, x=(N, T, D), dh=(N, T, widths[-1]))
    h0s = [random_arrays(8 + l, h0=(N, H))["h0"] for l, H in enumerate(widths)]
    params = [random_arrays(10 + l, Wx=(i, gates * H), Wh=(H, gates * H), b=(gates * H,)) for l, (i, H) in enumerate(zip((D, *widths[:-1]), widths))]
    _, cache = stacked_forward(a["x"], h0s, params, cell=cell)
    before = snapshot(a["dh"], a["x"], h0s, params)
    dx, dh0s, grads = stacked_backward(a["dh"], cache)
    check_unchanged(before, [a["dh"], a["x"], h0s, params], "stacked_forward/stacked_backward")
    assert len(dh0s) == len(grads) == len(widths), "stacked_backward returns lists with one entry per layer, layer 0 first"
    forward = lambda: stacked_forward(a["x"], h0s, params, cell=cell)[0]  # noqa: E731
    check_gradient(dx, numerical_gradient(forward, a["x"], a["dh"]), f"stacked_backward({cell}): dx")
    numeric_dh0s = [numerical_gradient(forward, h0, a["dh"]) for h0 in h0s]
    numeric_grads = [{key: numerical_gradient(forward, p[key], a["dh"]) for key in KEYS} for p in params]
    for l in range(len(widths)):
        for what, analytic, numerics in [(f"dh0s[{l}]", dh0s[l], numeric_dh0s)] + \
                [(f"grads[{l}][{key!r}]", grads[l][key], [g[key] for g in numeric_grads]) for key in KEYS]:
            other = which_other(analytic, numerics, l, rtol=GRAD_RTOL, atol=GRAD_ATOL)
            hint = (f"Lists are in layer order, layer 0 first: your entry {l} is layer {other}'s." if other is not None
                    else "Go through the layers top to bottom; each layer's dx is the dh of the layer below.")
            check_gradient(analytic, numerics[l], f"stacked_backward({cell}): {what}", hint)


@pytest.mark.parametrize("case", golden("stacked"))
def test_stacked_backward_matches_torch(case):
    require_unchanged(case["cell"], "stacked_backward", sequence=True)
    h0s, params = layers_of(case)
    h, cache = call_forward(stacked_forward, case["x"], h0s, params, cell=str(case["cell"]), backward="stacked_backward")
    require_forward(h, case["h"], "stacked_forward", "stacked_backward")
    dx, dh0s, grads = stacked_backward(case["dh"], cache)
    check_close(dx, case["dx"], "stacked_backward: dx")
    for l in range(len(params)):
        check_close(dh0s[l], case[f"dh0_{l}"], f"stacked_backward: dh0s[{l}]", "Lists are in layer order, layer 0 first.")
        for key in KEYS:
            check_close(grads[l][key], case[f"d{key}_{l}"], f"stacked_backward: grads[{l}][{key!r}]", "Lists are in layer order, layer 0 first.")


@pytest.mark.parametrize("bad", ["gru", "RNN"])
def test_stacked_forward_rejects_unknown_cell(bad):
    a = random_arrays(12, x=(1, 2, 2), h0=(1, 2), Wx=(2, 2), Wh=(2, 2), b=(2,))
    with pytest.raises(ValueError):
        stacked_forward(a["x"], [a["h0"]], [{"Wx": a["Wx"], "Wh": a["Wh"], "b": a["b"]}], cell=bad)
