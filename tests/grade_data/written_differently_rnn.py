"""A correct rnn_layers written very differently: einsum, explicit loops, dict caches, views, prints."""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b[None, :]
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = np.tanh(a[i, j])
    print("step!")  # debug print left in
    return out, {"x": x, "prev": prev_h, "Wx": Wx, "Wh": Wh, "out": out}


def rnn_step_backward(dnext_h, cache):
    da = dnext_h * (1 - cache["out"] * cache["out"])
    return (np.einsum("nh,dh->nd", da, cache["Wx"]), np.einsum("nh,kh->nk", da, cache["Wh"]),
            np.einsum("nd,nh->dh", cache["x"], da), np.einsum("nk,nh->kh", cache["prev"], da), np.sum(da, 0))


def rnn_forward(x, h0, Wx, Wh, b):
    hs, h = [], h0
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    h_all = np.stack(hs, axis=1)
    return h_all, {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "h": h_all}


def rnn_backward(dh, cache, truncate=None):
    x, h0, Wx, Wh, h = cache["x"], cache["h0"], cache["Wx"], cache["Wh"], cache["h"]
    N, T, H = dh.shape
    k = T if truncate is None else truncate
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H)
    carry = np.zeros((N, H))
    dh0 = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        if (t + 1) % k == 0 and t + 1 < T:
            carry = np.zeros((N, H))  # a new chunk starts at t + 1
        prev = h0 if t == 0 else h[:, t - 1]
        da = (dh[:, t] + carry) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += prev.T @ da
        db += da.sum(0)
        carry = da @ Wh.T
        if t == 0:
            dh0 = carry
    return dx, dh0, dWx, dWh, db
