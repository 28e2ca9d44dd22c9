"""My RNN layers. I like einsum and keeping things in dicts."""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    pre = np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b[None, :]
    h = np.tanh(pre)
    memo = {"x": x.copy(), "prev_h": prev_h.copy(), "Wx": Wx.copy(), "Wh": Wh.copy(), "h": h}
    return h, memo


def rnn_step_backward(dnext_h, cache):
    dpre = dnext_h * (1 - cache["h"] * cache["h"])
    dx = np.einsum("nh,dh->nd", dpre, cache["Wx"])
    dprev_h = np.einsum("nh,kh->nk", dpre, cache["Wh"])
    dWx = np.einsum("nd,nh->dh", cache["x"], dpre)
    dWh = np.einsum("nk,nh->kh", cache["prev_h"], dpre)
    db = np.einsum("nh->h", dpre)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    states, memos = [], []
    h = h0
    for t in range(x.shape[1]):
        h, memo = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        states.append(h)
        memos.append(memo)
    return np.stack(states, axis=1), {"memos": memos, "shapes": (x.shape, h0.shape)}


def rnn_backward(dh, cache, truncate=None):
    if truncate is not None:
        if isinstance(truncate, bool) or int(truncate) != truncate or truncate < 1:
            raise ValueError("truncate must be a positive integer or None")
    memos = cache["memos"]
    (N, T, D), (_, H) = cache["shapes"]
    k = T if truncate is None else min(int(truncate), T)
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dh0 = np.zeros((N, H))
    # Treat every chunk [start, stop) as its own little sequence.
    for start in range(0, T, k):
        stop = min(start + k, T)
        carry = np.zeros((N, H))
        for t in range(stop - 1, start - 1, -1):
            dx[:, t], carry, gWx, gWh, gb = rnn_step_backward(dh[:, t] + carry, memos[t])
            dWx += gWx
            dWh += gWh
            db += gb
        if start == 0:
            dh0 = carry
    return dx, dh0, dWx, dWh, db
