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
    def step_fwd(xt, h, c):
        if cell == "rnn":
            h, step_cache = rnn_step_forward(xt, h, Wx, Wh, b)
            return h, c, step_cache
        return lstm_step_forward(xt, h, c, Wx, Wh, b)

    if cell not in ("rnn", "lstm"):
        raise ValueError("cell must be 'rnn' or 'lstm'")
    N, T, _ = x.shape
    h, c = h0, np.zeros_like(h0)
    caches = []
    for t in range(T):
        h, c, step_cache = step_fwd(x[:, t], h, c)
        caches.append(step_cache)
    norms = np.empty(T)
    g_h, g_c = np.ones_like(h0), np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        norms[t] = np.sqrt(np.sum(g_h ** 2))
        if t == 0:
            break
        if cell == "rnn":
            g_h = rnn_step_backward(g_h, caches[t])[1]
        else:
            g_h, g_c = lstm_step_backward(g_h, g_c, caches[t])[1:3]
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
    squares = [np.sum(np.asarray(g, dtype=np.float64) ** 2) for g in grads.values()]
    total_norm = float(np.sqrt(np.sum(squares))) if squares else 0.0
    clipped = {}
    for name, g in grads.items():
        if total_norm > max_norm:
            clipped[name] = np.asarray(g, dtype=np.float64) * (max_norm / total_norm)
        else:
            clipped[name] = np.array(g, dtype=np.float64)
        clipped[name] = np.asarray(clipped[name])
    return clipped, total_norm
