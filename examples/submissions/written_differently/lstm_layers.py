"""My LSTM. Sigmoid via tanh (never overflows), gates split with np.split."""
import numpy as np


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    pre = x.dot(Wx) + prev_h.dot(Wh) + b
    ai, af, ag, ao = np.split(pre, 4, axis=1)
    gates = {"i": sigmoid(ai), "f": sigmoid(af), "g": np.tanh(ag), "o": sigmoid(ao)}
    c = gates["f"] * prev_c + gates["i"] * gates["g"]
    tc = np.tanh(c)
    h = gates["o"] * tc
    cache = dict(gates, x=x.copy(), prev_h=prev_h.copy(), prev_c=prev_c.copy(), Wx=Wx.copy(), Wh=Wh.copy(), tc=tc)
    return h, c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, g, o, tc = cache["i"], cache["f"], cache["g"], cache["o"], cache["tc"]
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)
    dpre = np.hstack([
        dc * g * i * (1 - i),
        dc * cache["prev_c"] * f * (1 - f),
        dc * i * (1 - g ** 2),
        dnext_h * tc * o * (1 - o),
    ])
    dx = dpre.dot(cache["Wx"].T)
    dprev_h = dpre.dot(cache["Wh"].T)
    dprev_c = f * dc
    dWx = cache["x"].T.dot(dpre)
    dWh = cache["prev_h"].T.dot(dpre)
    db = dpre.sum(0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, c = h0, np.zeros_like(h0, dtype=float)
    out = np.empty((N, T, h0.shape[1]))
    steps = []
    for t in range(T):
        h, c, step = lstm_step_forward(x[:, t, :], h, c, Wx, Wh, b)
        out[:, t, :] = h
        steps.append(step)
    return out, steps


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0]["x"].shape[1]
    dx = np.empty((N, T, D))
    grads = {"Wx": np.zeros((D, 4 * H)), "Wh": np.zeros((H, 4 * H)), "b": np.zeros(4 * H)}
    carry_h, carry_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], carry_h, carry_c, gWx, gWh, gb = lstm_step_backward(dh[:, t, :] + carry_h, carry_c, cache[t])
        grads["Wx"] += gWx
        grads["Wh"] += gWh
        grads["b"] += gb
    return dx, carry_h, grads["Wx"], grads["Wh"], grads["b"]
