"""Step 6: stacked recurrent layers (deep_layers.py: stacked_forward, then stacked_backward)."""
import pytest

from deep_layers import stacked_backward, stacked_forward
from rnn_lstm_testing import (check_close, check_gradient, check_unchanged, golden, numerical_gradient, random_arrays,
                              require_forward, require_forward_golden, snapshot)

KEYS = ("Wx", "Wh", "b")


def layers_of(case):
    count = int(case["layers"])
    h0s = [case[f"h0_{l}"] for l in range(count)]
    params = [{key: case[f"{key}_{l}"] for key in KEYS} for l in range(count)]
    return h0s, params


@pytest.mark.parametrize("case", golden("stacked"))
def test_stacked_forward_matches_torch(case):
    h0s, params = layers_of(case)
    h, _ = stacked_forward(case["x"], h0s, params, cell=str(case["cell"]))
    check_close(h, case["h"], f"stacked_forward({case['cell']}): h", "Layer l reads the hidden sequence of layer l-1; return the top layer's states.")


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_stacked_backward_gradient_check(cell):
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
    for l in range(len(widths)):
        check_gradient(dh0s[l], numerical_gradient(forward, h0s[l], a["dh"]), f"stacked_backward({cell}): dh0s[{l}]")
        for key in KEYS:
            numeric = numerical_gradient(forward, params[l][key], a["dh"])
            check_gradient(grads[l][key], numeric, f"stacked_backward({cell}): grads[{l}][{key!r}]", "Go through the layers top to bottom; each layer's dx is the dh of the layer below.")


@pytest.mark.parametrize("case", golden("stacked"))
def test_stacked_backward_matches_torch(case):
    h0s, params = layers_of(case)
    h, cache = stacked_forward(case["x"], h0s, params, cell=str(case["cell"]))
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
