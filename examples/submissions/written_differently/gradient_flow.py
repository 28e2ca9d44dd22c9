"""Gradient norms through time and clipping."""
import math

import numpy as np

from lstm_layers import lstm_step_backward, lstm_step_forward
from rnn_layers import rnn_step_backward, rnn_step_forward


def hidden_grad_norms(x, h0, Wx, Wh, b, cell="rnn"):
    if cell not in ("rnn", "lstm"):
        raise ValueError("cell must be rnn or lstm")
    N, T, _ = x.shape
    memos = []
    h, c = h0, np.zeros(h0.shape)
    for t in range(T):
        if cell == "rnn":
            h, m = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        else:
            h, c, m = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        memos.append(m)
    norms = []
    g, gc = np.ones(h0.shape), np.zeros(h0.shape)
    for t in range(T - 1, -1, -1):
        norms.append(math.sqrt(float((g ** 2).sum())))
        if t == 0:
            break
        if cell == "rnn":
            g = rnn_step_backward(g, memos[t])[1]
        else:
            _, g, gc, _, _, _ = lstm_step_backward(g, gc, memos[t])
    return np.array(norms[::-1])


def clip_grad_norm(grads, max_norm):
    if max_norm < 0:
        raise ValueError("max_norm must not be negative")
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    factor = max_norm / total if total > max_norm else 1.0
    return {k: np.multiply(v, factor, out=np.empty(np.shape(v))) for k, v in grads.items()}, total  # out=: a 0-d array stays an array
