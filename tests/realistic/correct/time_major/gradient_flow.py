"""Measuring and taming gradient flow through time: vanishing/exploding gradients and clipping."""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from lstm_layers import lstm_step_backward, lstm_step_forward
from rnn_layers import rnn_step_backward, rnn_step_forward


def hidden_grad_norms(
    x: np.ndarray,
    h0: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    cell: str = "rnn",
) -> np.ndarray:
    """How strongly the last state depends on every earlier state.

    For the loss L = sum(h_{T-1}) (a loss on the last hidden state only), compute the gradient
    dL/dh_t for every t by backpropagating step by step, and return its Frobenius norm over the
    whole batch. norms[T-1] is therefore sqrt(N * H). Small Wh makes the norms shrink
    geometrically towards t = 0 (vanishing gradients); large Wh can make them grow (exploding).

    For cell="lstm" (Wx (D, 4H), Wh (H, 4H), b (4H,), cell state starting at zero) the gradient
    flows back through both h and c; the norm is that of dL/dh_t.

    Inputs:
    - x: input sequence, of shape (N, T, D)
    - h0: initial hidden state, of shape (N, H)
    - Wx, Wh, b: the cell's weights
    - cell: "rnn" or "lstm"; anything else raises ValueError

    Returns:
    - norms: array of shape (T,), norms[t] = ||dL/dh_t||_F
    """
    if not (cell == "rnn" or cell == "lstm") or not isinstance(cell, str):
        raise ValueError("cell must be 'rnn' or 'lstm', got %r" % (cell,))
    N, T, _ = x.shape
    H = h0.shape[1]
    # forward, keeping what the Jacobians need
    h, c = h0, np.zeros((N, H))
    caches = []
    for t in range(T):
        if cell == "rnn":
            h, cache = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        else:
            h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        caches.append(cache)
    norms = np.empty(T)
    gh, gc = np.ones((N, H)), np.zeros((N, H))
    norms[T - 1] = np.sqrt(N * H)
    for t in range(T - 1, 0, -1):
        if cell == "rnn":
            gh = (gh * (1 - caches[t][4] ** 2)) @ Wh.T          # the Jacobian of h_t w.r.t. h_{t-1}
        else:
            _, _, prev_c, _, _, i, f, g, o, tc = caches[t]
            dc = gc + gh * o * (1 - tc ** 2)
            dz = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                                 dc * i * (1 - g ** 2), gh * tc * o * (1 - o)], axis=1)
            gh, gc = dz @ Wh.T, dc * f
        norms[t - 1] = np.linalg.norm(gh)
    return norms


def clip_grad_norm(
    grads: Dict[str, np.ndarray], max_norm: float
) -> Tuple[Dict[str, np.ndarray], float]:
    """Clip a set of gradients by their global L2 norm.

    total_norm = sqrt(sum over arrays of sum(g**2)). If total_norm > max_norm, every array is
    scaled by max_norm / total_norm (so the clipped set has norm max_norm and keeps its
    direction); otherwise the values are returned unchanged.

    Inputs:
    - grads: dict of name -> gradient array (any shapes)
    - max_norm: the largest allowed global norm (>= 0)

    Returns a tuple of:
    - clipped: a new dict with the same keys, holding new arrays (the input is not modified)
    - total_norm: the global norm before clipping, as a Python float
    """
    flat = [np.ravel(np.asarray(g, dtype=np.float64)) for g in grads.values()]
    total_norm = float(np.linalg.norm(np.concatenate(flat))) if flat else 0.0
    factor = 1.0 if total_norm <= max_norm else max_norm / total_norm
    clipped = {}
    for name, g in grads.items():
        arr = np.empty(np.shape(g), dtype=np.float64)
        np.multiply(g, factor, out=arr)
        clipped[name] = arr
    return clipped, total_norm
