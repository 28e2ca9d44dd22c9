"""Deep recurrent layers built from your RNN and LSTM layers: stacked and bidirectional.

``cell`` is "rnn" or "lstm"; any other value raises ValueError. A layer's parameters are a dict
{"Wx": ..., "Wh": ..., "b": ...} shaped for that cell (see rnn_layers.py and lstm_layers.py);
gradient dicts use the same keys. Build these functions only from rnn_forward/rnn_backward and
lstm_forward/lstm_backward: the caches stay opaque.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from lstm_layers import lstm_backward, lstm_forward
from rnn_layers import rnn_backward, rnn_forward

Params = Dict[str, np.ndarray]

_CELLS: Dict[str, Tuple[Callable[..., Any], Callable[..., Any]]] = {
    "rnn": (rnn_forward, rnn_backward),
    "lstm": (lstm_forward, lstm_backward),
}


def cell_functions(cell: str) -> Tuple[Callable[..., Any], Callable[..., Any]]:
    """Return (forward, backward) for a cell name (provided, not graded); ValueError otherwise."""
    if not isinstance(cell, str) or cell not in _CELLS:
        raise ValueError(f"cell must be 'rnn' or 'lstm', got {cell!r}")
    return _CELLS[cell]


def stacked_forward(
    x: np.ndarray, h0s: List[np.ndarray], params: List[Params], cell: str = "rnn"
) -> Tuple[np.ndarray, Any]:
    """Forward pass of L stacked recurrent layers.

    Layer 0 reads x; layer l reads the hidden sequence of layer l-1.

    Inputs:
    - x: input sequence, of shape (N, T, D)
    - h0s: list of L initial hidden states, h0s[l] of shape (N, H_l)
    - params: list of L parameter dicts {"Wx", "Wh", "b"}, layer 0 first; layer l's Wx has
      H_{l-1} rows (D for layer 0)
    - cell: "rnn" or "lstm"

    Returns a tuple of:
    - h: the top layer's hidden states, of shape (N, T, H_{L-1})
    - cache: whatever stacked_backward needs
    """
    forward, _ = cell_functions(cell)
    layer_caches = []
    h = x
    for h0, p in zip(h0s, params):
        h, layer_cache = forward(h, h0, p["Wx"], p["Wh"], p["b"])
        layer_caches.append(layer_cache)
    return h, (cell, layer_caches)


def stacked_backward(
    dh: np.ndarray, cache: Any
) -> Tuple[np.ndarray, List[np.ndarray], List[Params]]:
    """Backward pass of L stacked recurrent layers.

    Inputs:
    - dh: upstream gradient on the top layer's hidden states, of shape (N, T, H_{L-1})
    - cache: the cache returned by stacked_forward

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D)
    - dh0s: list of L gradients with respect to h0s, layer 0 first
    - grads: list of L dicts {"Wx", "Wh", "b"} of parameter gradients, layer 0 first
    """
    cell, layer_caches = cache
    _, backward = cell_functions(cell)
    L = len(layer_caches)
    dh0s = [None] * L
    grads = [None] * L
    d = dh
    for l in range(L - 1, -1, -1):
        d, dh0, dWx, dWh, db = backward(d, layer_caches[l])
        dh0s[l] = dh0
        grads[l] = {"Wx": dWx, "Wh": dWh, "b": db}
    return d, dh0s, grads


def bidirectional_forward(
    x: np.ndarray,
    h0_f: np.ndarray,
    h0_b: np.ndarray,
    params_f: Params,
    params_b: Params,
    cell: str = "rnn",
) -> Tuple[np.ndarray, Any]:
    """Forward pass of a bidirectional recurrent layer.

    A forward layer reads x[:, 0], x[:, 1], ...; a second, independent layer reads the sequence
    reversed, x[:, T-1], x[:, T-2], .... Its states are re-aligned so that the state after reading
    x[:, t] also sits at time t (the torch.nn.RNN(bidirectional=True) convention).

    Inputs:
    - x: input sequence, of shape (N, T, D)
    - h0_f, h0_b: initial hidden states of the two directions, each of shape (N, H)
    - params_f, params_b: parameter dicts {"Wx", "Wh", "b"} of the two directions
    - cell: "rnn" or "lstm"

    Returns a tuple of:
    - h: of shape (N, T, 2H); h[:, t, :H] is the forward state after x[:, t], h[:, t, H:] the
      backward direction's state after reading x[:, T-1], ..., x[:, t]
    - cache: whatever bidirectional_backward needs
    """
    forward, _ = cell_functions(cell)
    h_f, cache_f = forward(x, h0_f, params_f["Wx"], params_f["Wh"], params_f["b"])
    x[:] = x[:, ::-1]  # reverse time in place (undone below)
    h_r, cache_b = forward(x, h0_b, params_b["Wx"], params_b["Wh"], params_b["b"])
    x[:] = x[:, ::-1]  # give the caller its x back
    h = np.concatenate([h_f, h_r[:, ::-1]], axis=2)
    return h, (cell, h_f.shape[2], cache_f, cache_b)


def bidirectional_backward(
    dh: np.ndarray, cache: Any
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Params, Params]:
    """Backward pass of a bidirectional recurrent layer.

    Inputs:
    - dh: upstream gradient on h, of shape (N, T, 2H)
    - cache: the cache returned by bidirectional_forward

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, T, D): both directions read x
    - dh0_f, dh0_b: gradients with respect to the two initial states, each of shape (N, H)
    - grads_f, grads_b: dicts {"Wx", "Wh", "b"} of parameter gradients of the two directions
    """
    cell, H, cache_f, cache_b = cache
    _, backward = cell_functions(cell)
    dx_f, dh0_f, dWx_f, dWh_f, db_f = backward(dh[:, :, :H], cache_f)
    dx_r, dh0_b, dWx_b, dWh_b, db_b = backward(dh[:, ::-1, H:], cache_b)
    dx = dx_f + dx_r[:, ::-1]
    grads_f = {"Wx": dWx_f, "Wh": dWh_f, "b": db_f}
    grads_b = {"Wx": dWx_b, "Wh": dWh_b, "b": db_b}
    return dx, dh0_f, dh0_b, grads_f, grads_b
