"""Deep layers: stacks and two directions, built on my rnn/lstm layers."""
import numpy as np

import lstm_layers
import rnn_layers


def _cell(cell):
    if isinstance(cell, str) and cell == "rnn":
        return rnn_layers.rnn_forward, rnn_layers.rnn_backward
    if isinstance(cell, str) and cell == "lstm":
        return lstm_layers.lstm_forward, lstm_layers.lstm_backward
    raise ValueError("unknown cell type: %r" % (cell,))


def stacked_forward(x, h0s, params, cell="rnn"):
    fwd, _ = _cell(cell)
    if len(params) != len(h0s):
        raise ValueError("need one initial state per layer")
    layer_caches = []
    inp = x
    for layer in range(len(params)):
        p = params[layer]
        inp, cache = fwd(inp, h0s[layer], p["Wx"], p["Wh"], p["b"])
        layer_caches.append(cache)
    return inp, {"cell": cell, "layers": layer_caches}


def stacked_backward(dh, cache):
    _, bwd = _cell(cache["cell"])
    L = len(cache["layers"])
    dh0s, grads = [None] * L, [None] * L
    upstream = dh
    for layer in range(L - 1, -1, -1):
        upstream, dh0s[layer], dWx, dWh, db = bwd(upstream, cache["layers"][layer])
        grads[layer] = dict(Wx=dWx, Wh=dWh, b=db)
    return upstream, dh0s, grads


def bidirectional_forward(x, h0_f, h0_b, params_f, params_b, cell="rnn"):
    fwd, _ = _cell(cell)
    hf, cf = fwd(x, h0_f, params_f["Wx"], params_f["Wh"], params_f["b"])
    hb, cb = fwd(np.flip(x, axis=1), h0_b, params_b["Wx"], params_b["Wh"], params_b["b"])
    out = np.concatenate((hf, np.flip(hb, axis=1)), axis=-1)
    return out, {"cell": cell, "H": hf.shape[-1], "f": cf, "b": cb}


def bidirectional_backward(dh, cache):
    _, bwd = _cell(cache["cell"])
    H = cache["H"]
    dxf, dh0f, gWxf, gWhf, gbf = bwd(dh[..., :H], cache["f"])
    dxb, dh0b, gWxb, gWhb, gbb = bwd(np.flip(dh[..., H:], axis=1), cache["b"])
    dx = dxf + np.flip(dxb, axis=1)
    return dx, dh0f, dh0b, {"Wx": gWxf, "Wh": gWhf, "b": gbf}, {"Wx": gWxb, "Wh": gWhb, "b": gbb}
