"""LSTM layers: one time step, a whole sequence, and their backward passes.

The weights of the four gates are fused into single matrices: Wx (D, 4H), Wh (H, 4H), b (4H,).
The pre-activation a = x @ Wx + prev_h @ Wh + b, of shape (N, 4H), is split into four column
blocks in the order i, f, g, o (the same order as torch.nn.LSTM):

    i = sigmoid(a[:, 0:H])     input gate:  how much of the candidate to write
    f = sigmoid(a[:, H:2H])    forget gate: how much of the old cell to keep
    g = tanh(a[:, 2H:3H])      candidate values
    o = sigmoid(a[:, 3H:4H])   output gate: how much of the cell to show

    next_c = f * prev_c + i * g
    next_h = o * tanh(next_c)

The gates are computed from the data (x and prev_h), so the network decides at every step, from
what it reads, what to remember and what to forget. The cell path next_c = f * prev_c + ... has no
activation on it: with f close to 1 the error flows back through time unchanged (the constant
error carousel).
"""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """A numerically stable logistic sigmoid (provided, not graded).

    1 / (1 + exp(-x)) overflows for large negative x; this version never calls exp on a
    positive number.
    """
    pos = x >= 0
    neg = ~pos
    z = np.zeros_like(x, dtype=np.float64)
    z[pos] = np.exp(-x[pos])
    z[neg] = np.exp(x[neg])
    top = np.ones_like(x, dtype=np.float64)
    top[neg] = z[neg]
    return top / (1 + z)


def lstm_step_forward(
    x: np.ndarray,
    prev_h: np.ndarray,
    prev_c: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
) -> Tuple[np.ndarray, np.ndarray, Any]:
    """Run one time step of an LSTM.

    Inputs:
    - x: input at this time step, of shape (N, D)
    - prev_h: previous hidden state, of shape (N, H)
    - prev_c: previous cell state, of shape (N, H)
    - Wx: input-to-gates weights, of shape (D, 4H), gate blocks in the order i, f, g, o
    - Wh: hidden-to-gates weights, of shape (H, 4H)
    - b: gate biases, of shape (4H,)

    Returns a tuple of:
    - next_h: next hidden state, of shape (N, H)
    - next_c: next cell state, of shape (N, H)
    - cache: whatever lstm_step_backward needs (the gate activations and tanh(next_c) help)
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i = sigmoid(a[:, 0:H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:4 * H])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)
    return next_h, next_c, cache


def lstm_step_backward(
    dnext_h: np.ndarray, dnext_c: np.ndarray, cache: Any
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of one LSTM time step.

    next_c reaches the loss twice: directly (dnext_c) and through next_h = o * tanh(next_c).

    Inputs:
    - dnext_h: gradient with respect to next_h, of shape (N, H)
    - dnext_c: gradient with respect to next_c, of shape (N, H)
    - cache: the cache returned by lstm_step_forward

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, D)
    - dprev_h: gradient with respect to prev_h, of shape (N, H)
    - dprev_c: gradient with respect to prev_c, of shape (N, H)
    - dWx: gradient with respect to Wx, of shape (D, 4H)
    - dWh: gradient with respect to Wh, of shape (H, 4H)
    - db: gradient with respect to b, of shape (4H,)
    """
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c = cache
    dc = dnext_c
    dc += dnext_h * o * (1.0 - tanh_c ** 2)
    do = dnext_h * tanh_c
    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc * f
    da = np.concatenate(
        [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g ** 2), do * o * (1.0 - o)], axis=1
    )
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray
) -> Tuple[np.ndarray, Any]:
    """Run an LSTM over a whole sequence. The cell state starts at zero and is not returned.

    Inputs:
    - x: input sequence, of shape (N, T, D)
    - h0: initial hidden state, of shape (N, H)
    - Wx: input-to-gates weights, of shape (D, 4H)
    - Wh: hidden-to-gates weights, of shape (H, 4H)
    - b: gate biases, of shape (4H,)

    Returns a tuple of:
    - h: hidden states for every time step, of shape (N, T, H)
    - cache: whatever lstm_backward needs
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    prev_h = h0
    prev_c = np.zeros((N, H))
    caches = []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(step_cache)
    return h, caches


def lstm_backward(
    dh: np.ndarray, cache: Any
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of an LSTM over a whole sequence (full BPTT).

    Both the hidden state and the cell state carry gradient from step t+1 back to step t.

    Inputs:
    - dh: upstream gradients on all hidden states, of shape (N, T, H)
    - cache: the cache returned by lstm_forward

    Returns a tuple of:
    - dx: gradient with respect to the inputs, of shape (N, T, D)
    - dh0: gradient with respect to the initial hidden state, of shape (N, H)
    - dWx: gradient with respect to Wx, of shape (D, 4H), summed over time
    - dWh: gradient with respect to Wh, of shape (H, 4H), summed over time
    - db: gradient with respect to b, of shape (4H,), summed over time
    """
    caches = cache
    N, T, H = dh.shape
    D = caches[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx = np.zeros_like(caches[0][3])
    dWh = np.zeros_like(caches[0][4])
    db = np.zeros(4 * H)
    dprev_h = np.zeros((N, H))
    dprev_c = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, caches[t])
        dx[:, t] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    dh0 = dprev_h
    return dx, dh0, dWx, dWh, db
