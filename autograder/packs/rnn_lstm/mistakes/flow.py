"""Common mistakes in gradient_flow.py, each a small modified copy of the reference function.

hidden_grad_norms variants take the step functions from the ``gradient_flow`` module at call time
(the scenario may plug other cells into it).
"""
from __future__ import annotations

from typing import List

import numpy as np

from autograder.packs.rnn_lstm.mistakes._reference import module
from autograder.packs.rnn_lstm.mistakes.model import Mistake, listed


def _norms(x, h0, Wx, Wh, b, cell, *, c_path=True, norm_after_step=False, loss_on_all=False,
           include_dc=False):
    """The reference hidden_grad_norms with the knobs the mistakes below turn."""
    flow = module("gradient_flow")
    N, T, _ = x.shape
    H = h0.shape[1]
    caches = []
    prev_h, prev_c = h0, np.zeros((N, H))
    for t in range(T):
        if cell == "rnn":
            prev_h, step_cache = flow.rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        else:
            prev_h, prev_c, step_cache = flow.lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        caches.append(step_cache)

    def norm(dh, dc):
        return np.sqrt(np.sum(dh**2) + np.sum(dc**2)) if include_dc else np.linalg.norm(dh)

    norms = np.zeros(T)
    dh, dc = np.ones((N, H)), np.zeros((N, H))
    if not norm_after_step:
        norms[T - 1] = norm(dh, dc)
    for t in range(T - 1, -1 if norm_after_step else 0, -1):
        if cell == "rnn":
            _, dh, _, _, _ = flow.rnn_step_backward(dh, caches[t])
        else:
            _, dh, dc, _, _, _ = flow.lstm_step_backward(dh, dc if c_path else np.zeros((N, H)), caches[t])
        if loss_on_all:
            dh = dh + 1.0
        norms[t if norm_after_step else t - 1] = norm(dh, dc)
    return norms


def norms_reversed(x, h0, Wx, Wh, b, cell="rnn"):
    return _norms(x, h0, Wx, Wh, b, cell)[::-1]


def norms_lstm_no_c_path(x, h0, Wx, Wh, b, cell="rnn"):
    return _norms(x, h0, Wx, Wh, b, cell, c_path=False)


def norms_lstm_include_dc(x, h0, Wx, Wh, b, cell="rnn"):
    return _norms(x, h0, Wx, Wh, b, cell, include_dc=True)


def norms_after_step(x, h0, Wx, Wh, b, cell="rnn"):
    return _norms(x, h0, Wx, Wh, b, cell, norm_after_step=True)


def norms_loss_on_all_states(x, h0, Wx, Wh, b, cell="rnn"):
    return _norms(x, h0, Wx, Wh, b, cell, loss_on_all=True)


# --- clip_grad_norm ---------------------------------------------------------------------------

def _global_norm(grads):
    return float(np.sqrt(sum(np.sum(np.square(g)) for g in grads.values())))


def clip_per_array(grads, max_norm):
    clipped = {}
    for name, g in grads.items():
        norm = float(np.linalg.norm(g))  # mistake: each array against max_norm on its own
        clipped[name] = np.array(g, dtype=np.float64) * (max_norm / norm if norm > max_norm else 1.0)
    return clipped, _global_norm(grads)


def clip_comparison_flipped(grads, max_norm):
    total_norm = _global_norm(grads)
    scale = max_norm / total_norm if total_norm <= max_norm else 1.0  # mistake: <= instead of >
    return {name: np.array(g, dtype=np.float64) * scale for name, g in grads.items()}, total_norm


def clip_returns_norm_after(grads, max_norm):
    total_norm = _global_norm(grads)
    scale = max_norm / total_norm if total_norm > max_norm else 1.0
    clipped = {name: np.array(g, dtype=np.float64) * scale for name, g in grads.items()}
    return clipped, _global_norm(clipped)  # mistake: the norm after clipping


def clip_sum_of_norms(grads, max_norm):
    total_norm = float(sum(np.linalg.norm(g) for g in grads.values()))  # mistake: sum of norms
    scale = max_norm / total_norm if total_norm > max_norm else 1.0
    return {name: np.array(g, dtype=np.float64) * scale for name, g in grads.items()}, total_norm


# --- the catalogue ----------------------------------------------------------------------------

NORMS = "gradient_flow.hidden_grad_norms"
CLIP = "gradient_flow.clip_grad_norm"

MISTAKES: List[Mistake] = [
    *listed("flow.norms_reversed", "hidden_grad_norms",
            "The norms are indexed from the wrong end: norms[t] belongs to h_t, so norms[T-1] (the "
            "last state, where the loss is) is sqrt(N*H) and the vanishing ones sit near t = 0.",
            {NORMS: norms_reversed}),
    *listed("flow.norms_lstm_no_c_path", "hidden_grad_norms",
            "For the LSTM the gradient must flow back through the cell state too: pass the dprev_c "
            "of each step on as dnext_c of the step before.",
            {NORMS: norms_lstm_no_c_path}),
    *listed("flow.norms_lstm_include_dc", "hidden_grad_norms",
            "The norm includes the cell-state gradient: norms[t] is the norm of dL/dh_t alone (dc "
            "only flows along to the earlier steps).",
            {NORMS: norms_lstm_include_dc}),
    *listed("flow.norms_after_step", "hidden_grad_norms",
            "The norms are shifted by one step: record ||dL/dh_t|| before backpropagating through "
            "step t, so norms[T-1] is sqrt(N*H) and norms[t-1] comes from step t's dprev_h.",
            {NORMS: norms_after_step}),
    *listed("flow.norms_loss_on_all_states", "hidden_grad_norms",
            "The loss is on the last state only (L = sum(h_{T-1})): do not add an upstream gradient "
            "of ones at every step.",
            {NORMS: norms_loss_on_all_states}),
    *listed("flow.clip_per_array", "clip_grad_norm",
            "Each array was clipped by its own norm: compute one global norm over all arrays together "
            "and scale every array by the same max_norm / total_norm.",
            {CLIP: clip_per_array}),
    *listed("flow.clip_comparison_flipped", "clip_grad_norm",
            "The comparison is flipped: scale only when total_norm > max_norm, otherwise return the "
            "gradients unchanged.",
            {CLIP: clip_comparison_flipped}),
    *listed("flow.clip_returns_norm_after", "clip_grad_norm",
            "total_norm must be the norm before clipping (it tells how large the gradient was), not "
            "the norm of the clipped arrays.",
            {CLIP: clip_returns_norm_after}),
    *listed("flow.clip_sum_of_norms", "clip_grad_norm",
            "The global norm is sqrt(sum of all squared entries), not the sum of the per-array norms.",
            {CLIP: clip_sum_of_norms}),
]
