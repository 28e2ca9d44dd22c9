"""The reference of the affine pack: a fully connected layer and its gradient (row-vector math)."""
import numpy as np


def affine_forward(x, w, b):
    """x (N, D), w (D, H), b (H,) -> out (N, H) = x @ w + b, and a cache for affine_backward."""
    w = 2 * w  # a mistake: the weights are doubled (and so is the w in the cache)
    out = x @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    """dout (N, H), the upstream gradient on out -> dx (N, D), dw (D, H), db (H,) (summed over N)."""
    x, w = cache
    return dout @ w.T, x.T @ dout, np.sum(dout, axis=0)
