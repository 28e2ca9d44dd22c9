"""A correct lstm_layers written differently: naive sigmoid (overflows with warnings), loops over gates."""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    gates = {}
    for k, name in enumerate("ifgo"):
        block = a[:, k * H:(k + 1) * H]
        gates[name] = np.tanh(block) if name == "g" else sigmoid(block)
    c = gates["f"] * prev_c + gates["i"] * gates["g"]
    h = gates["o"] * np.tanh(c)
    return h, c, dict(gates, x=x, prev_h=prev_h, prev_c=prev_c, c=c, Wx=Wx, Wh=Wh)


def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, g, o, c = cache["i"], cache["f"], cache["g"], cache["o"], cache["c"]
    tc = np.tanh(c)
    dc = dnext_c + dnext_h * o * (1 - tc * tc)
    da = np.hstack([dc * g * i * (1 - i), dc * cache["prev_c"] * f * (1 - f), dc * i * (1 - g * g),
                    dnext_h * tc * o * (1 - o)])
    return (da @ cache["Wx"].T, da @ cache["Wh"].T, dc * f, cache["x"].T @ da, cache["prev_h"].T @ da,
            da.sum(axis=0))


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, c = h0, np.zeros_like(h0)
    out, caches = np.zeros((N, T, h0.shape[1])), []
    for t in range(T):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        out[:, t] = h
        caches.append(cache)
    return out, caches


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    grads = None
    dx = [None] * T
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[t], dprev_h, dprev_c, dWx, dWh, db = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])
        grads = (dWx, dWh, db) if grads is None else (grads[0] + dWx, grads[1] + dWh, grads[2] + db)
    return (np.stack(dx, axis=1), dprev_h) + grads
