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
    a = x @ Wx + prev_h @ Wh + b
    next_h = np.tanh(a)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


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
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1.0 - next_h ** 2)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


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
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    caches = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(step_cache)
    return h, caches


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
    caches = cache
    N, T, H = dh.shape
    D = caches[0][0].shape[1]
    k = T if truncate is None else min(truncate, T)

    dx = np.zeros((N, T, D))
    dWx = np.zeros_like(caches[0][2])
    dWh = np.zeros_like(caches[0][3])
    db = np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dh[:, t] += dprev_h
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t], caches[t])
        dx[:, t] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
        if t > 0 and t % k == 0:
            # h_{t-1} enters the chunk starting at t: treat it as a constant
            dprev_h = np.zeros((N, H))
    dh0 = dprev_h
    return dx, dh0, dWx, dWh, db
