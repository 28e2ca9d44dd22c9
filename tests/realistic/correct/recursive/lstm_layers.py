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
    H = np.shape(prev_h)[1]
    a = np.matmul(x, Wx) + np.matmul(prev_h, Wh) + b
    blocks = [a[:, k * H:(k + 1) * H] for k in range(4)]
    i, f, g, o = [np.tanh(blk) if k == 2 else sigmoid(blk) for k, blk in enumerate(blocks)]
    next_c = np.add(f * prev_c, i * g)
    next_h = o * np.tanh(next_c)
    return next_h, next_c, {"x": x, "h": prev_h, "c": prev_c, "W": (Wx, Wh), "gates": (i, f, g, o), "c_next": next_c}


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
    i, f, g, o = cache["gates"]
    Wx, Wh = cache["W"]
    tc = np.tanh(cache["c_next"])
    dc = dnext_c + dnext_h * o * (1.0 - np.square(tc))
    dgates = [dc * g, dc * cache["c"], dc * i, dnext_h * tc]
    local = [i * (1 - i), f * (1 - f), 1 - np.square(g), o * (1 - o)]
    da = np.concatenate([d * l for d, l in zip(dgates, local)], axis=1)
    return (np.matmul(da, Wx.T), np.matmul(da, Wh.T), dc * f,
            np.matmul(cache["x"].T, da), np.matmul(cache["h"].T, da), np.add.reduce(da, axis=0))


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
    def run(lo, hi, h, c):
        if hi - lo == 1:
            nh, nc, step = lstm_step_forward(x[:, lo], h, c, Wx, Wh, b)
            return [nh], nc, [step]
        mid = (lo + hi) // 2
        hs_l, c_mid, st_l = run(lo, mid, h, c)
        hs_r, c_end, st_r = run(mid, hi, hs_l[-1], c_mid)
        return hs_l + hs_r, c_end, st_l + st_r

    hs, _, steps = run(0, x.shape[1], h0, np.zeros(np.shape(h0)))
    return np.stack(hs, axis=1), steps


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
    steps = cache

    def back(lo, hi, gh, gc):
        if hi - lo == 1:
            dx_t, gh, gc, *g = lstm_step_backward(dh[:, lo] + gh, gc, steps[lo])
            return [dx_t], gh, gc, g
        mid = (lo + hi) // 2
        dx_r, gh, gc, g_r = back(mid, hi, gh, gc)
        dx_l, gh, gc, g_l = back(lo, mid, gh, gc)
        return dx_l + dx_r, gh, gc, [p + q for p, q in zip(g_l, g_r)]

    zero = np.zeros_like(dh[:, 0])
    dxs, dh0, _, (dWx, dWh, db) = back(0, dh.shape[1], zero, zero)
    return np.stack(dxs, axis=1), dh0, dWx, dWh, db
