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


class _RNNStepCache:
    """What one RNN step keeps for its backward pass (private float64 copies)."""

    __slots__ = ("x", "prev_h", "Wx", "Wh", "next_h")

    def __init__(self, x, prev_h, Wx, Wh, next_h):
        self.x = np.array(x, dtype=np.float64)
        self.prev_h = np.array(prev_h, dtype=np.float64)
        self.Wx = np.array(Wx, dtype=np.float64)
        self.Wh = np.array(Wh, dtype=np.float64)
        self.next_h = np.array(next_h, dtype=np.float64)


class _RNNSeqCache:
    __slots__ = ("steps", "D")

    def __init__(self, steps, D):
        self.steps = steps
        self.D = D


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
    x = np.asarray(x, dtype=np.float64)
    prev_h = np.asarray(prev_h, dtype=np.float64)
    a = x @ Wx                 # a fresh array: updating it in place is fine
    a += prev_h @ Wh
    a += b
    np.tanh(a, out=a)
    return a, _RNNStepCache(x, prev_h, Wx, Wh, a)


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
    c = cache
    N, H = c.next_h.shape
    da = np.array(dnext_h, dtype=np.float64)   # own copy, then in place
    da *= 1.0 - c.next_h ** 2
    dWx = np.zeros_like(c.Wx)
    dWh = np.zeros_like(c.Wh)
    db = np.zeros(H)
    for n in range(N):
        dWx += np.outer(c.x[n], da[n])
        dWh += np.outer(c.prev_h[n], da[n])
        db += da[n]
    return da @ c.Wx.T, da @ c.Wh.T, dWx, dWh, db


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
    x = np.asarray(x, dtype=np.float64)
    N, T, D = x.shape
    h = np.empty((N, T, h0.shape[1]))
    state = np.array(h0, dtype=np.float64)   # a private buffer, safe to overwrite: the step caches copy
    steps = []
    for t in range(T):
        next_h, step = rnn_step_forward(x[:, t, :], state, Wx, Wh, b)
        steps.append(step)
        state[...] = next_h
        h[:, t, :] = state
    return h, _RNNSeqCache(steps, D)


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
    steps, D = cache.steps, cache.D
    N, T, H = dh.shape
    k = T if (truncate is None or truncate >= T) else truncate
    dx = np.empty((N, T, D))
    dWx = np.zeros((D, H))
    dWh = np.zeros((H, H))
    db = np.zeros(H)
    carry = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        total = dh[:, t, :] + carry          # a new array; dh itself is never written
        dx[:, t, :], carry, g_x, g_h, g_b = rnn_step_backward(total, steps[t])
        dWx += g_x
        dWh += g_h
        db += g_b
        if t > 0 and t % k == 0:
            carry[...] = 0.0                 # carry is our own array (returned by the step)
    return dx, carry, dWx, dWh, db
