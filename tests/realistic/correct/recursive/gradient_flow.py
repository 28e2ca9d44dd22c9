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
        raise ValueError(cell)
    T = x.shape[1]

    def _caches(lo, hi, h, c):
        """Step caches of steps lo..hi-1 (recursion on halves keeps the depth small)."""
        if hi - lo == 1:
            if cell == "rnn":
                h, st = rnn_step_forward(x[:, lo], h, Wx, Wh, b)
            else:
                h, c, st = lstm_step_forward(x[:, lo], h, c, Wx, Wh, b)
            return [st], h, c
        mid = (lo + hi) // 2
        left, h, c = _caches(lo, mid, h, c)
        right, h, c = _caches(mid, hi, h, c)
        return left + right, h, c

    caches = _caches(0, T, h0, np.zeros_like(h0))[0]

    def back(t, gh, gc):
        """Norms of dL/dh_s for s = 0..t, given dL/dh_t = gh and dL/dc_t = gc."""
        norms = [np.linalg.norm(gh)]
        while t > 0:   # a loop here: a chain of T steps would be too deep a recursion
            if cell == "rnn":
                gh = rnn_step_backward(gh, caches[t])[1]
            else:
                gh, gc = lstm_step_backward(gh, gc, caches[t])[1:3]
            norms.append(np.linalg.norm(gh))
            t -= 1
        return norms[::-1]

    return np.asarray(back(T - 1, np.ones_like(h0), np.zeros_like(h0)), dtype=np.float64)


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
    from functools import reduce

    total_norm = float(np.sqrt(reduce(lambda acc, g: acc + float(np.sum(np.square(g))), grads.values(), 0.0)))
    ratio = max_norm / total_norm if total_norm > max_norm else 1.0
    return {name: np.array(g, dtype=np.float64) * ratio if np.ndim(g) else np.array(np.asarray(g) * ratio, dtype=np.float64)
            for name, g in grads.items()}, total_norm
