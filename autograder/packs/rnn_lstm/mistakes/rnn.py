"""Common mistakes in rnn_layers.py, each a small modified copy of the reference function.

Reference cache formats: a step cache is ``(x, prev_h, Wx, Wh, next_h)``; the sequence cache is the
list of step caches, one per time step.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from autograder.packs.rnn_lstm.mistakes._reference import module
from autograder.packs.rnn_lstm.mistakes.model import Mistake, listed


def _step_grads(da: np.ndarray, cache):
    """The reference tail of rnn_step_backward, from the gradient on the pre-activation."""
    x, prev_h, Wx, Wh, _ = cache
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


# --- rnn_step_forward -------------------------------------------------------------------------

def step_forward_no_tanh(x, prev_h, Wx, Wh, b):
    next_h = x @ Wx + prev_h @ Wh + b  # mistake: activation forgotten
    return next_h, (x, prev_h, Wx, Wh, next_h)


def step_forward_Wh_transposed(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh.T + b)  # mistake: Wh.T (shape-valid: Wh is square)
    return next_h, (x, prev_h, Wx, Wh, next_h)


# --- rnn_step_backward ------------------------------------------------------------------------

def step_backward_tanh_grad_forgot_square(dnext_h, cache):
    next_h = cache[4]
    return _step_grads(dnext_h * (1.0 - next_h), cache)  # mistake: 1 - tanh, not 1 - tanh**2


def step_backward_tanh_grad_on_preactivation(dnext_h, cache):
    next_h = cache[4]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.arctanh(next_h)  # the pre-activation (inf where tanh saturated to exactly +-1)
    return _step_grads(dnext_h * (1.0 - a**2), cache)  # mistake: 1 - a**2 on the pre-activation


def step_backward_tanh_grad_tanh_twice(dnext_h, cache):
    next_h = cache[4]
    return _step_grads(dnext_h * (1.0 - np.tanh(next_h) ** 2), cache)  # mistake: tanh of tanh(a)


def step_backward_no_tanh_grad(dnext_h, cache):
    return _step_grads(dnext_h, cache)  # mistake: tanh derivative left out


def step_backward_dprev_h_Wh_not_transposed(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1.0 - next_h**2)
    return da @ Wx.T, da @ Wh, x.T @ da, prev_h.T @ da, da.sum(axis=0)  # mistake: da @ Wh


def step_backward_dWh_uses_next_h(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1.0 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, next_h.T @ da, da.sum(axis=0)  # mistake: next_h.T


def step_backward_db_averaged(dnext_h, cache):
    dx, dprev_h, dWx, dWh, db = _step_grads(dnext_h * (1.0 - cache[4] ** 2), cache)
    return dx, dprev_h, dWx, dWh, db / dnext_h.shape[0]  # mistake: mean over the batch


# --- rnn_forward ------------------------------------------------------------------------------

def forward_h_shifted(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    step_caches = []
    prev_h = h0
    for t in range(T):
        h[:, t, :] = prev_h  # mistake: stored before the step, so h[:, t] is h_{t-1}
        prev_h, step_cache = module("rnn_layers").rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        step_caches.append(step_cache)
    return h, step_caches


def forward_not_chained(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    step_caches = []
    for t in range(T):
        next_h, step_cache = module("rnn_layers").rnn_step_forward(x[:, t, :], h0, Wx, Wh, b)  # mistake: h0 every step
        h[:, t, :] = next_h
        step_caches.append(step_cache)
    return h, step_caches


# --- rnn_backward -----------------------------------------------------------------------------

def _bptt(dh, cache, *, carry=True, accumulate=True, cut=lambda t, T: False):
    """The reference BPTT loop with the knobs the mistakes below turn.

    ``carry``: add the gradient from t+1 to dh[:, t]; ``accumulate``: sum the weight gradients
    over time (else each step overwrites them); ``cut(t, T)``: after step t, stop the gradient
    from flowing into h_{t-1}.
    """
    N, T, H = dh.shape
    step_backward = module("rnn_layers").rnn_step_backward
    dx_steps = []
    dWx = dWh = db = 0.0
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        upstream = dh[:, t, :] + dprev_h if carry else dh[:, t, :]
        dx_t, dprev_h, dWx_t, dWh_t, db_t = step_backward(upstream, cache[t])
        dx_steps.append(dx_t)
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
        if cut(t, T):
            dprev_h = np.zeros((N, H))
    return np.stack(dx_steps[::-1], axis=1), dprev_h, dWx, dWh, db


def _chunk(truncate: Optional[int], T: int) -> int:
    return T if truncate is None else int(truncate)


def backward_no_carry(dh, cache, truncate=None):
    return _bptt(dh, cache, carry=False)  # mistake: the gradient from h_{t+1} is dropped


def backward_weights_overwritten(dh, cache, truncate=None):
    k = _chunk(truncate, dh.shape[1])
    return _bptt(dh, cache, accumulate=False, cut=lambda t, T: t > 0 and t % k == 0)


def backward_truncate_ignored(dh, cache, truncate=None):
    return _bptt(dh, cache)  # mistake: always full BPTT


def backward_truncate_from_end(dh, cache, truncate=None):
    k = _chunk(truncate, dh.shape[1])
    return _bptt(dh, cache, cut=lambda t, T: t > 0 and (T - t) % k == 0)  # chunks end at T


def backward_truncate_off_by_one(dh, cache, truncate=None):
    k = _chunk(truncate, dh.shape[1])
    return _bptt(dh, cache, cut=lambda t, T: t > 0 and t % k == k - 1)  # cut one step early


def backward_truncate_cuts_h0(dh, cache, truncate=None):
    # mistake: every chunk start is cut, t = 0 included, so h0 gets no gradient once truncate is given
    return _bptt(dh, cache, cut=lambda t, T: truncate is not None and t % int(truncate) == 0)


# --- the catalogue ----------------------------------------------------------------------------

STEP_F = "rnn_layers.rnn_step_forward"
STEP_B = "rnn_layers.rnn_step_backward"
SEQ_F = "rnn_layers.rnn_forward"
SEQ_B = "rnn_layers.rnn_backward"

MISTAKES: List[Mistake] = [
    *listed("rnn.step_forward_no_tanh", "rnn_step_forward",
            "next_h is missing its activation: apply np.tanh to x @ Wx + prev_h @ Wh + b.",
            {STEP_F: step_forward_no_tanh}, also=("rnn_forward",)),
    *listed("rnn.step_forward_Wh_transposed", "rnn_step_forward",
            "The recurrent term uses Wh.T: with row vectors it is prev_h @ Wh (Wh is (H, H), so the "
            "transpose has the right shape but the wrong values).",
            {STEP_F: step_forward_Wh_transposed}, also=("rnn_forward",)),
    *listed("rnn.tanh_grad_forgot_square", "rnn_step_backward",
            "The tanh derivative is 1 - tanh(a)**2, not 1 - tanh(a): square next_h in "
            "da = dnext_h * (1 - next_h**2).",
            {STEP_B: step_backward_tanh_grad_forgot_square}, also=("rnn_backward",)),
    *listed("rnn.tanh_grad_on_preactivation", "rnn_step_backward",
            "The tanh derivative was taken on the pre-activation (1 - a**2): it is 1 - tanh(a)**2, "
            "that is 1 - next_h**2 with the output you cached.",
            {STEP_B: step_backward_tanh_grad_on_preactivation}, also=("rnn_backward",)),
    *listed("rnn.tanh_grad_tanh_twice", "rnn_step_backward",
            "next_h is already tanh(a), so the derivative is 1 - next_h**2: 1 - np.tanh(next_h)**2 "
            "applies tanh twice.",
            {STEP_B: step_backward_tanh_grad_tanh_twice}, also=("rnn_backward",)),
    *listed("rnn.no_tanh_grad", "rnn_step_backward",
            "The gradient skips the tanh: first multiply dnext_h by tanh'(a) = 1 - next_h**2, "
            "then use that da for dx, dprev_h, dWx, dWh and db.",
            {STEP_B: step_backward_no_tanh_grad}, also=("rnn_backward",)),
    *listed("rnn.dprev_h_Wh_not_transposed", "rnn_step_backward",
            "dprev_h must be da @ Wh.T (the forward pass multiplied prev_h @ Wh); da @ Wh only has "
            "the right shape because Wh is square.",
            {STEP_B: step_backward_dprev_h_Wh_not_transposed}, also=("rnn_backward",)),
    *listed("rnn.dWh_uses_next_h", "rnn_step_backward",
            "dWh multiplies da by the state that entered the step: prev_h.T @ da, not next_h.T @ da.",
            {STEP_B: step_backward_dWh_uses_next_h}, also=("rnn_backward",)),
    *listed("rnn.db_averaged", "rnn_step_backward",
            "db is averaged over the batch: the loss is a sum, so db = da.sum(axis=0), not the mean.",
            {STEP_B: step_backward_db_averaged}, also=("rnn_backward",)),
    *listed("rnn.forward_h_shifted", "rnn_forward",
            "h[:, t] holds the state from before step t: store the state after reading x[:, t] "
            "(so h[:, 0] is the first new state, never h0).",
            {SEQ_F: forward_h_shifted}),
    *listed("rnn.forward_not_chained", "rnn_forward",
            "Every step starts from h0: feed each step the previous step's new state.",
            {SEQ_F: forward_not_chained}),
    *listed("rnn.bptt_no_carry", "rnn_backward",
            "The gradient from h_{t+1} is not added: step t must backpropagate dh[:, t] + dprev_h "
            "(the dprev_h returned by step t+1).",
            {SEQ_B: backward_no_carry}),
    *listed("rnn.bptt_weights_overwritten", "rnn_backward",
            "dWx, dWh and db are overwritten at every step, so only one step counts: the weights are "
            "shared over time, so add each step's gradients (dWx += dWx_t ...).",
            {SEQ_B: backward_weights_overwritten}),
    *listed("rnn.truncate_ignored", "rnn_backward",
            "truncate is ignored: with truncate=k, stop the gradient flowing from step t into h_{t-1} "
            "whenever t is a multiple of k (t > 0).",
            {SEQ_B: backward_truncate_ignored}),
    *listed("rnn.truncate_chunks_from_end", "rnn_backward",
            "The truncation chunks are counted from the end of the sequence: they start at t = 0 "
            "([0, k), [k, 2k), ...), so cut where t % k == 0, not where (T - t) % k == 0.",
            {SEQ_B: backward_truncate_from_end}),
    *listed("rnn.truncate_off_by_one", "rnn_backward",
            "The truncation cuts one step early: the chunk boundary is at t % k == 0 (the gradient "
            "does not flow from step t = k, 2k, ... into h_{t-1}), not at t % k == k - 1.",
            {SEQ_B: backward_truncate_off_by_one}),
    *listed("rnn.truncate_cuts_h0", "rnn_backward",
            "Truncation also cut the gradient of h0: only chunk boundaries inside the sequence "
            "(t > 0) are cut, h0 still gets the gradient of the first chunk.",
            {SEQ_B: backward_truncate_cuts_h0}),
]
