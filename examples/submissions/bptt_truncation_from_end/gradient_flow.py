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
    if cell not in ("rnn", "lstm"):
        raise ValueError(f"cell must be 'rnn' or 'lstm', got {cell!r}")
    N, T, _ = x.shape
    H = h0.shape[1]
    caches = []
    prev_h, prev_c = h0, np.zeros((N, H))
    for t in range(T):
        if cell == "rnn":
            prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        else:
            prev_h, prev_c, step_cache = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        caches.append(step_cache)

    norms = np.zeros(T)
    dh = np.ones((N, H))
    dc = np.zeros((N, H))
    norms[T - 1] = np.linalg.norm(dh)
    for t in range(T - 1, 0, -1):
        if cell == "rnn":
            _, dh, _, _, _ = rnn_step_backward(dh, caches[t])
        else:
            _, dh, dc, _, _, _ = lstm_step_backward(dh, dc, caches[t])
        norms[t - 1] = np.linalg.norm(dh)
    return norms


def clip_grad_norm(
    grads: Dict[str, np.ndarray], max_norm: float
) -> Tuple[Dict[str, np.ndarray], float]:
    """Clip a set of gradients by their global L2 norm.

    total_norm = sqrt(sum over arrays of sum(g**2)). If total_norm > max_norm, every array is
    scaled by max_norm / total_norm (so the clipped set has norm max_norm and keeps its
    direction); otherwise the values are returned unchanged.

    Inputs:
    - grads: dict of name -> gradient array (any shapes, a 0-d array included)
    - max_norm: the largest allowed global norm (>= 0)

    Returns a tuple of:
    - clipped: a new dict with the same keys, holding new arrays of the same shapes (the input is not
      modified, and no array shares memory with it). Careful with 0-d arrays: g * scale is then a
      numpy scalar, not an array.
    - total_norm: the global norm before clipping, as a Python float
    """
    if max_norm < 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm!r}")
    total_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads.values())))
    scale = max_norm / total_norm if total_norm > max_norm else 1.0
    clipped = {}
    for name, g in grads.items():
        new = np.array(g, dtype=np.float64)  # a new array (a 0-d one stays an array: not g * scale)
        new *= scale
        clipped[name] = new
    return clipped, total_norm
