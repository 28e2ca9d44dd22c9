"""Numerical gradient checking (provided, not graded).

Use these to check every backward function you write: compare its analytic gradient with a
central-difference estimate, and look at the relative error (below ~1e-7 is a pass for float64).
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """Largest elementwise relative error max |x - y| / max(1e-8, |x| + |y|)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Central-difference gradient of the scalar sum(f(x) * df) with respect to x.

    f is a function of x alone (close over the other arguments); it may return an array of any
    shape, and df is the upstream gradient of that shape. x is perturbed in place one entry at a
    time and restored exactly, so on return it holds its original values.

    Returns an array shaped like x: grad[i] ~ (sum(f(x + h e_i) * df) - sum(f(x - h e_i) * df)) / 2h.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Central-difference gradient of a scalar function f at x (x is restored on return)."""
    return eval_numerical_gradient_array(lambda v: np.asarray(f(v), dtype=np.float64), x, np.array(1.0), h)
