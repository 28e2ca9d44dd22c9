"""Common mistakes in lstm_layers.py, each a small modified copy of the reference function.

Reference cache formats: a step cache is ``(x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)``; the
sequence cache is the list of step caches. Gate blocks of the fused weights: i, f, g, o.
"""
from __future__ import annotations

from typing import List

import numpy as np

from autograder.packs.rnn_lstm.mistakes._reference import module
from autograder.packs.rnn_lstm.mistakes.model import Mistake, listed


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return module("lstm_layers").sigmoid(a)


def _gates(x, prev_h, Wx, Wh, b):
    """The four pre-activation blocks in the order they sit in a (i, f, g, o)."""
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    return a[:, 0:H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:4 * H]


def _step_grads(da: np.ndarray, cache):
    """The reference tail of lstm_step_backward, from the gradient on the pre-activation."""
    x, prev_h, _, Wx, Wh = cache[:5]
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


# --- lstm_step_forward ------------------------------------------------------------------------

def step_forward_gate_order_ifog(x, prev_h, prev_c, Wx, Wh, b):
    a_i, a_f, a_o, a_g = _gates(x, prev_h, Wx, Wh, b)  # mistake: blocks read as i, f, o, g
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    return o * tanh_c, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)


def step_forward_h_without_tanh(x, prev_h, prev_c, Wx, Wh, b):
    a_i, a_f, a_g, a_o = _gates(x, prev_h, Wx, Wh, b)
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
    next_c = f * prev_c + i * g
    next_h = o * next_c  # mistake: o * c, not o * tanh(c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, np.tanh(next_c))


def step_forward_candidate_sigmoid(x, prev_h, prev_c, Wx, Wh, b):
    a_i, a_f, a_g, a_o = _gates(x, prev_h, Wx, Wh, b)
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), _sigmoid(a_g), _sigmoid(a_o)  # mistake: sigmoid g
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    return o * tanh_c, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)


def step_forward_no_input_gate(x, prev_h, prev_c, Wx, Wh, b):
    a_i, a_f, a_g, a_o = _gates(x, prev_h, Wx, Wh, b)
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
    next_c = f * prev_c + g  # mistake: the candidate is written without the input gate
    tanh_c = np.tanh(next_c)
    return o * tanh_c, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)


# --- lstm_step_backward -----------------------------------------------------------------------

def _step_backward(dnext_h, dnext_c, cache, *, dc_through_h=True, sigmoid_grad=lambda s: s * (1.0 - s),
                   tanh_c_grad=None, dprev_c_times_f=True, order="ifgo"):
    """The reference lstm_step_backward with the knobs the mistakes below turn."""
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c = cache
    tanh_grad = (1.0 - tanh_c**2) if tanh_c_grad is None else tanh_c_grad(cache)
    dc = dnext_c + dnext_h * o * tanh_grad if dc_through_h else dnext_c
    do = dnext_h * tanh_c
    blocks = {"i": dc * g * sigmoid_grad(i), "f": dc * prev_c * sigmoid_grad(f),
              "g": dc * i * (1.0 - g**2), "o": do * sigmoid_grad(o)}
    da = np.concatenate([blocks[name] for name in order], axis=1)
    dx, dprev_h, dWx, dWh, db = _step_grads(da, cache)
    dprev_c = dc * f if dprev_c_times_f else dc
    return dx, dprev_h, dprev_c, dWx, dWh, db


def step_backward_dprev_c_missing_f(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, dprev_c_times_f=False)


def step_backward_dc_missing_h_path(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, dc_through_h=False)


def step_backward_sigmoid_grad_s(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, sigmoid_grad=lambda s: s)


def _one_minus_c_squared(cache):
    prev_c, i, f, g = cache[2], cache[5], cache[6], cache[7]
    next_c = f * prev_c + i * g
    return 1.0 - next_c**2


def step_backward_tanh_grad_on_c(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, tanh_c_grad=_one_minus_c_squared)


def step_backward_tanh_c_grad_tanh_twice(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, tanh_c_grad=lambda c: 1.0 - np.tanh(c[9]) ** 2)


def step_backward_da_order_ifog(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, order="ifog")


# --- lstm_forward -----------------------------------------------------------------------------

def _lstm_sequence(x, h0, Wx, Wh, b, *, c0, carry_c=True):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev_h, prev_c = h0, c0
    step_caches = []
    for t in range(T):
        prev_h, next_c, step_cache = module("lstm_layers").lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        if carry_c:
            prev_c = next_c
        h[:, t, :] = prev_h
        step_caches.append(step_cache)
    return h, step_caches


def forward_c_starts_at_h0(x, h0, Wx, Wh, b):
    return _lstm_sequence(x, h0, Wx, Wh, b, c0=h0)


def forward_c_not_carried(x, h0, Wx, Wh, b):
    return _lstm_sequence(x, h0, Wx, Wh, b, c0=np.zeros_like(h0), carry_c=False)


# --- lstm_backward ----------------------------------------------------------------------------

def _bptt(dh, cache, *, carry_h=True, carry_c=True, accumulate=True, h_c_swapped=False):
    N, T, H = dh.shape
    step_backward = module("lstm_layers").lstm_step_backward
    dx_steps = []
    dWx = dWh = db = 0.0
    dprev_h = np.zeros((N, H))
    dprev_c = np.zeros((N, H))
    for t in reversed(range(T)):
        upstream_h = dh[:, t, :] + dprev_h if carry_h else dh[:, t, :]
        upstream_c = dprev_c if carry_c else np.zeros((N, H))
        dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = step_backward(upstream_h, upstream_c, cache[t])
        if h_c_swapped:  # mistake: the results taken as (dx, dprev_c, dprev_h, ...)
            dprev_h, dprev_c = dprev_c, dprev_h
        dx_steps.append(dx_t)
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return np.stack(dx_steps[::-1], axis=1), dprev_h, dWx, dWh, db


def backward_no_h_carry(dh, cache):
    return _bptt(dh, cache, carry_h=False)


def backward_no_c_carry(dh, cache):
    return _bptt(dh, cache, carry_c=False)


def backward_weights_overwritten(dh, cache):
    return _bptt(dh, cache, accumulate=False)


def backward_h_c_swapped(dh, cache):
    return _bptt(dh, cache, h_c_swapped=True)


# --- the catalogue ----------------------------------------------------------------------------

STEP_F = "lstm_layers.lstm_step_forward"
STEP_B = "lstm_layers.lstm_step_backward"
SEQ_F = "lstm_layers.lstm_forward"
SEQ_B = "lstm_layers.lstm_backward"

MISTAKES: List[Mistake] = [
    *listed("lstm.gate_order_ifog", "lstm_step_forward",
            "The gate blocks are read in the order i, f, o, g: the contract's order is i, f, g, o "
            "(a[:, 2H:3H] is the candidate g, a[:, 3H:4H] the output gate o).",
            {STEP_F: step_forward_gate_order_ifog}, also=("lstm_forward",)),
    *listed("lstm.h_without_tanh", "lstm_step_forward",
            "next_h is o * next_c: squash the cell first, next_h = o * tanh(next_c).",
            {STEP_F: step_forward_h_without_tanh}, also=("lstm_forward",)),
    *listed("lstm.candidate_sigmoid", "lstm_step_forward",
            "The candidate g uses a sigmoid: it is g = tanh(a[:, 2H:3H]) (values in (-1, 1)); only "
            "the gates i, f, o use the sigmoid.",
            {STEP_F: step_forward_candidate_sigmoid}, also=("lstm_forward",)),
    *listed("lstm.no_input_gate", "lstm_step_forward",
            "The candidate is added to the cell without the input gate: next_c = f * prev_c + i * g.",
            {STEP_F: step_forward_no_input_gate}, also=("lstm_forward",)),
    *listed("lstm.dprev_c_missing_f", "lstm_step_backward",
            "dprev_c is missing the forget gate: next_c = f * prev_c + i * g, so dprev_c = dc * f.",
            {STEP_B: step_backward_dprev_c_missing_f}, also=("lstm_backward",)),
    *listed("lstm.dc_missing_h_path", "lstm_step_backward",
            "dc misses the path through next_h = o * tanh(next_c): "
            "dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2).",
            {STEP_B: step_backward_dc_missing_h_path}, also=("lstm_backward",)),
    *listed("lstm.sigmoid_grad_s", "lstm_step_backward",
            "The sigmoid derivative is s * (1 - s), not s: multiply the gradients of i, f and o by "
            "i * (1 - i), f * (1 - f) and o * (1 - o).",
            {STEP_B: step_backward_sigmoid_grad_s}, also=("lstm_backward",)),
    *listed("lstm.tanh_grad_on_c", "lstm_step_backward",
            "The derivative of tanh(next_c) was taken as 1 - next_c**2: it is 1 - tanh(next_c)**2.",
            {STEP_B: step_backward_tanh_grad_on_c}, also=("lstm_backward",)),
    *listed("lstm.tanh_c_grad_tanh_twice", "lstm_step_backward",
            "The cached tanh(next_c) was passed through tanh again: the derivative of tanh(next_c) is "
            "1 - tanh_c**2 with tanh_c = tanh(next_c), not 1 - tanh(tanh_c)**2.",
            {STEP_B: step_backward_tanh_c_grad_tanh_twice}, also=("lstm_backward",)),
    *listed("lstm.gate_order_ifog_both_passes", "lstm_step_backward",
            "Forward and backward both use the gate order i, f, o, g: the contract's order is i, f, g, o "
            "(a[:, 2H:3H] is the candidate g, a[:, 3H:4H] the output gate o), in the forward pass and "
            "in the concatenation of da.",
            {STEP_F: step_forward_gate_order_ifog, STEP_B: step_backward_da_order_ifog}, also=("lstm_backward",)),
    *listed("lstm.da_order_ifog", "lstm_step_backward",
            "The gate gradients are concatenated in the order i, f, o, g: da must use the forward "
            "pass's block order i, f, g, o.",
            {STEP_B: step_backward_da_order_ifog}, also=("lstm_backward",)),
    *listed("lstm.c_starts_at_h0", "lstm_forward",
            "The cell state starts at h0: lstm_forward starts from c = 0 (np.zeros_like(h0)).",
            {SEQ_F: forward_c_starts_at_h0}),
    *listed("lstm.c_not_carried", "lstm_forward",
            "The cell state is not carried from step to step: pass each step's next_c to the next step.",
            {SEQ_F: forward_c_not_carried}),
    *listed("lstm.bptt_no_h_carry", "lstm_backward",
            "The gradient from h_{t+1} is not added: step t must backpropagate dh[:, t] + dprev_h.",
            {SEQ_B: backward_no_h_carry}),
    *listed("lstm.bptt_no_c_carry", "lstm_backward",
            "The cell-state gradient is not carried back: pass the dprev_c of step t+1 as dnext_c "
            "of step t (it starts at zero only at the last step).",
            {SEQ_B: backward_no_c_carry}),
    *listed("lstm.bptt_weights_overwritten", "lstm_backward",
            "dWx, dWh and db are overwritten at every step: the weights are shared over time, so add "
            "each step's gradients.",
            {SEQ_B: backward_weights_overwritten}),
    *listed("lstm.bptt_h_c_swapped", "lstm_backward",
            "lstm_step_backward's results are taken in the wrong order: it returns dx, dprev_h, dprev_c, "
            "dWx, dWh, db, so the gradient carried as the hidden state's is the cell state's, and the other "
            "way round.",
            {SEQ_B: backward_h_c_swapped}),
]
