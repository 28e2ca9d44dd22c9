"""Vanilla RNN layers: one time step, a whole sequence, and backpropagation through time.

Conventions (the same in every module of this assignment):

- Everything is numpy float64 and batch-first: an input sequence ``x`` has shape (N, T, D) and the
  hidden states have shape (N, T, H), where N is the batch size, T the number of time steps, D the
  input width and H the hidden width. Any of them may be 1.
- Row-vector math: the pre-activation is ``a = x @ Wx + prev_h @ Wh + b``.
- Every gradient is the gradient of a scalar loss ``L = sum(upstream * output)``. Weight and bias
  gradients are *summed* over the batch and over time, never averaged.
- ``cache`` is whatever your forward function returns; only your own backward function reads it.
- No function modifies its input arrays.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np


def rnn_step_forward(
    x: np.ndarray, prev_h: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> Tuple[np.ndarray, Any]:
    """Run one time step of a vanilla RNN with a tanh activation.

        next_h = tanh(x @ Wx + prev_h @ Wh + b)

    Inputs:
    - x: input at this time step, of shape (N, D)
    - prev_h: hidden state from the previous time step, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden (recurrent) weights, of shape (H, H)
    - b: bias, of shape (H,)

    Returns a tuple of:
    - next_h: next hidden state, of shape (N, H)
    - cache: whatever rnn_step_backward needs. Hint: tanh'(a) = 1 - tanh(a)**2, so next_h itself
      is all you need to keep of the activation.
    """
    out = np.tanh(np.dot(x, Wx) + np.dot(prev_h, Wh) + b[np.newaxis, :])
    return out, [x, prev_h, Wx, Wh, out]


def rnn_step_backward(
    dnext_h: np.ndarray, cache: Any
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one vanilla RNN time step.

    Inputs:
    - dnext_h: gradient of the loss with respect to next_h, of shape (N, H)
    - cache: the cache returned by rnn_step_forward

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, D)
    - dprev_h: gradient with respect to prev_h, of shape (N, H)
    - dWx: gradient with respect to Wx, of shape (D, H)
    - dWh: gradient with respect to Wh, of shape (H, H)
    - db: gradient with respect to b, of shape (H,) (summed over the batch)
    """
    x, prev_h, Wx, Wh, out = cache
    g = dnext_h * (1 - out * out)
    return g.dot(Wx.T), g.dot(Wh.T), x.T.dot(g), prev_h.T.dot(g), g.sum(0)


def rnn_forward(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> Tuple[np.ndarray, Any]:
    """Run a vanilla RNN over a whole sequence (the network unrolled in time).

    The same weights are shared by every time step: h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b),
    starting from h_{-1} = h0.

    Inputs:
    - x: input sequence, of shape (N, T, D)
    - h0: initial hidden state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden weights, of shape (H, H)
    - b: bias, of shape (H,)

    Returns a tuple of:
    - h: hidden states for every time step, of shape (N, T, H); h[:, t] is the state after
      reading x[:, t]
    - cache: whatever rnn_backward needs. Hint: a list of the step caches works well.
    """
    xs = np.transpose(x, (1, 0, 2))                 # (T, N, D), a view
    T, N, _ = xs.shape
    H = Wh.shape[0]
    proj = np.einsum("tnd,dh->tnh", xs, Wx) + b       # all input projections at once
    hs = np.empty((T + 1, N, H))                      # hs[0] = h0, hs[t + 1] = h_t
    hs[0] = h0
    for t in range(T):
        hs[t + 1] = np.tanh(proj[t] + hs[t] @ Wh)
    return np.ascontiguousarray(np.transpose(hs[1:], (1, 0, 2))), (xs, hs, Wx, Wh)


def rnn_backward(
    dh: np.ndarray, cache: Any, truncate: Optional[int] = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time (BPTT) for a vanilla RNN, full or truncated.

    The loss depends on every hidden state, so the gradient reaching h_t is the upstream
    gradient dh[:, t] *plus* the gradient flowing back from h_{t+1}.

    Truncated BPTT: with ``truncate=k`` the sequence is cut into consecutive chunks of k steps
    starting at t = 0 ([0, k), [k, 2k), ...). Gradient flows through time inside a chunk but not
    from a chunk into the one before it: the hidden state entering each chunk is treated as a
    constant, except h0, which still receives the gradient from the first chunk.
    ``truncate=None`` or ``truncate >= T`` is full BPTT.

    Inputs:
    - dh: upstream gradients on all hidden states, of shape (N, T, H)
    - cache: the cache returned by rnn_forward
    - truncate: None for full BPTT, or the chunk length k (an int >= 1)

    Returns a tuple of:
    - dx: gradient with respect to the inputs, of shape (N, T, D)
    - dh0: gradient with respect to the initial hidden state, of shape (N, H)
    - dWx: gradient with respect to Wx, of shape (D, H), summed over time
    - dWh: gradient with respect to Wh, of shape (H, H), summed over time
    - db: gradient with respect to b, of shape (H,), summed over time
    """
    xs, hs, Wx, Wh = cache
    T, N, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    dh_tm = np.transpose(dh, (1, 0, 2))
    cut = np.zeros(T, dtype=bool)                    # cut[t]: no gradient from step t into h_{t-1}
    if truncate is not None and truncate < T:
        cut[truncate::truncate] = True
    da = np.empty((T, N, H))
    back = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        da[t] = (dh_tm[t] + back) * (1.0 - hs[t + 1] ** 2)
        back = da[t] @ Wh.T
        if cut[t]:
            back = np.zeros((N, H))
    dx = np.transpose(np.einsum("tnh,dh->tnd", da, Wx), (1, 0, 2)).copy()
    dWx = np.tensordot(xs, da, axes=([0, 1], [0, 1]))
    dWh = np.tensordot(hs[:-1], da, axes=([0, 1], [0, 1]))
    db = da.sum(axis=(0, 1))
    return dx, back, dWx, dWh, db
