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
    H = Wh.shape[0]
    z = np.dot(x, Wx) + np.dot(prev_h, Wh) + b
    sig = sigmoid(z)                                  # used for i, f, o
    i, f, o = sig[:, 0:H], sig[:, H:2 * H], sig[:, 3 * H:4 * H]
    g = np.tanh(z[:, 2 * H:3 * H])
    c = f * prev_c + i * g
    tc = np.tanh(c)
    return o * tc, c, [x, prev_h, prev_c, Wx, Wh, i, f, g, o, tc]


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
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tc = cache
    dc = dnext_c + dnext_h * o * (1 - tc * tc)
    dz = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                         dc * i * (1 - g * g), dnext_h * tc * o * (1 - o)], axis=-1)
    return dz.dot(Wx.T), dz.dot(Wh.T), dc * f, x.T.dot(dz), prev_h.T.dot(dz), dz.sum(0)


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
    xs = np.transpose(x, (1, 0, 2))
    T, N, _ = xs.shape
    H = Wh.shape[0]
    proj = np.einsum("tnd,dk->tnk", xs, Wx) + b
    hs = np.empty((T + 1, N, H)); hs[0] = h0
    cs = np.zeros((T + 1, N, H))
    acts = np.empty((T, N, 4 * H))
    for t in range(T):
        z = proj[t] + hs[t] @ Wh
        acts[t] = sigmoid(z)
        acts[t, :, 2 * H:3 * H] = np.tanh(z[:, 2 * H:3 * H])
        i, f, g, o = (acts[t, :, k * H:(k + 1) * H] for k in range(4))
        cs[t + 1] = f * cs[t] + i * g
        hs[t + 1] = o * np.tanh(cs[t + 1])
    return np.transpose(hs[1:], (1, 0, 2)).copy(), (xs, hs, cs, acts, Wx, Wh)


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
    xs, hs, cs, acts, Wx, Wh = cache
    T, N, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
    dh_tm = np.transpose(dh, (1, 0, 2))
    dz = np.empty((T, N, 4 * H))
    bh = np.zeros((N, H))
    bc = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        i, f, g, o = (acts[t, :, k * H:(k + 1) * H] for k in range(4))
        tc = np.tanh(cs[t + 1])
        dht = dh_tm[t] + bh
        dc = bc + dht * o * (1 - tc ** 2)
        dz[t, :, 0:H] = dc * g * i * (1 - i)
        dz[t, :, H:2 * H] = dc * cs[t] * f * (1 - f)
        dz[t, :, 2 * H:3 * H] = dc * i * (1 - g ** 2)
        dz[t, :, 3 * H:] = dht * tc * o * (1 - o)
        bh = dz[t] @ Wh.T
        bc = dc * f
    dx = np.transpose(np.einsum("tnk,dk->tnd", dz, Wx), (1, 0, 2)).copy()
    return dx, bh, np.tensordot(xs, dz, axes=([0, 1], [0, 1])), np.tensordot(hs[:-1], dz, axes=([0, 1], [0, 1])), dz.sum(axis=(0, 1))
