"""Common mistakes in deep_layers.py, each a small modified copy of the reference function.

Reference cache formats: stacked ``(cell, [layer caches, layer 0 first])``; bidirectional
``(cell, H, cache_f, cache_b)`` where cache_b belongs to the run over the time-reversed input.
The variants take the cell functions from ``deep_layers.cell_functions`` at call time, so they run
with whatever cells the scenario plugs into the reference composition.
"""
from __future__ import annotations

from typing import List

import numpy as np

from autograder.packs.rnn_lstm.mistakes._reference import module
from autograder.packs.rnn_lstm.mistakes.model import Mistake, listed


def _cells(cell):
    return module("deep_layers").cell_functions(cell)


# --- stacked_forward -------------------------------------------------------------------------

def stacked_forward_every_layer_reads_x(x, h0s, params, cell="rnn"):
    forward, _ = _cells(cell)
    h, caches = x, []
    for h0, p in zip(h0s, params):
        h, layer_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])  # mistake: x, not the layer below's h
        caches.append(layer_cache)
    return h, (cell, caches)


# --- stacked_backward -------------------------------------------------------------------------

def _stacked_backward(dh, cache, *, reorder_dh0s=True, reorder_grads=True):
    cell, caches = cache
    _, backward = _cells(cell)
    dh0s, grads = [], []
    d = dh
    for layer_cache in reversed(caches):
        d, dh0, dWx, dWh, db = backward(d, layer_cache)
        dh0s.append(dh0)
        grads.append({"Wx": dWx, "Wh": dWh, "b": db})
    return d, dh0s[::-1] if reorder_dh0s else dh0s, grads[::-1] if reorder_grads else grads


def stacked_backward_lists_top_first(dh, cache):
    return _stacked_backward(dh, cache, reorder_dh0s=False, reorder_grads=False)


def stacked_backward_dh0s_top_first(dh, cache):
    return _stacked_backward(dh, cache, reorder_dh0s=False)


def stacked_backward_grads_top_first(dh, cache):
    return _stacked_backward(dh, cache, reorder_grads=False)


# --- bidirectional_forward --------------------------------------------------------------------

def _bidirectional_forward(x, h0_f, h0_b, params_f, params_b, cell, *, reverse_input, realign):
    forward, _ = _cells(cell)
    h_f, cache_f = forward(x, h0_f, params_f["Wx"], params_f["Wh"], params_f["b"])
    x_b = x[:, ::-1] if reverse_input else x
    h_b, cache_b = forward(x_b, h0_b, params_b["Wx"], params_b["Wh"], params_b["b"])
    h = np.concatenate([h_f, h_b[:, ::-1] if realign else h_b], axis=2)
    return h, (cell, h_f.shape[2], cache_f, cache_b)


def bidirectional_forward_not_realigned(x, h0_f, h0_b, params_f, params_b, cell="rnn"):
    return _bidirectional_forward(x, h0_f, h0_b, params_f, params_b, cell, reverse_input=True, realign=False)


def bidirectional_forward_never_reversed(x, h0_f, h0_b, params_f, params_b, cell="rnn"):
    return _bidirectional_forward(x, h0_f, h0_b, params_f, params_b, cell, reverse_input=False, realign=False)


def bidirectional_forward_input_not_reversed(x, h0_f, h0_b, params_f, params_b, cell="rnn"):
    return _bidirectional_forward(x, h0_f, h0_b, params_f, params_b, cell, reverse_input=False, realign=True)


# --- bidirectional_backward -------------------------------------------------------------------

def _bidirectional_backward(dh, cache, *, reverse_dh=True, realign_dx=True, backward_dx=True):
    cell, H, cache_f, cache_b = cache
    _, backward = _cells(cell)
    dx_f, dh0_f, dWx_f, dWh_f, db_f = backward(dh[:, :, :H], cache_f)
    dh_b = dh[:, ::-1, H:] if reverse_dh else dh[:, :, H:]
    dx_b, dh0_b, dWx_b, dWh_b, db_b = backward(dh_b, cache_b)
    dx = dx_f
    if backward_dx:
        dx = dx + (dx_b[:, ::-1] if realign_dx else dx_b)
    return (dx, dh0_f, dh0_b, {"Wx": dWx_f, "Wh": dWh_f, "b": db_f}, {"Wx": dWx_b, "Wh": dWh_b, "b": db_b})


def bidirectional_backward_dh_not_reversed(dh, cache):
    return _bidirectional_backward(dh, cache, reverse_dh=False)


def bidirectional_backward_dx_not_realigned(dh, cache):
    return _bidirectional_backward(dh, cache, realign_dx=False)


def bidirectional_backward_dx_forward_only(dh, cache):
    return _bidirectional_backward(dh, cache, backward_dx=False)


# --- the catalogue ----------------------------------------------------------------------------

STACKED_F = "deep_layers.stacked_forward"
STACKED_B = "deep_layers.stacked_backward"
BI_F = "deep_layers.bidirectional_forward"
BI_B = "deep_layers.bidirectional_backward"

MISTAKES: List[Mistake] = [
    *listed("deep.stacked_every_layer_reads_x", "stacked_forward",
            "Every layer reads x: layer l must read the hidden sequence of layer l-1 (only layer 0 "
            "reads x), so feed each layer the h returned by the layer below.",
            {STACKED_F: stacked_forward_every_layer_reads_x}),
    *listed("deep.stacked_lists_top_first", "stacked_backward",
            "dh0s and grads come out top layer first (the order the backward loop visits the "
            "layers): reverse them so that layer 0 comes first.",
            {STACKED_B: stacked_backward_lists_top_first}),
    *listed("deep.stacked_dh0s_top_first", "stacked_backward",
            "dh0s comes out top layer first: reverse it so that dh0s[0] belongs to layer 0.",
            {STACKED_B: stacked_backward_dh0s_top_first}),
    *listed("deep.stacked_grads_top_first", "stacked_backward",
            "grads comes out top layer first: reverse it so that grads[0] belongs to layer 0.",
            {STACKED_B: stacked_backward_grads_top_first}),
    *listed("deep.bidirectional_not_realigned", "bidirectional_forward",
            "The backward direction's states are not re-aligned: its output over the reversed input "
            "must be reversed in time again (h_b[:, ::-1]) so that h[:, t, H:] belongs to x[:, t].",
            {BI_F: bidirectional_forward_not_realigned}),
    *listed("deep.bidirectional_never_reversed", "bidirectional_forward",
            "The backward direction reads x in the forward order: run it on x[:, ::-1] and reverse "
            "its states back (h_b[:, ::-1]).",
            {BI_F: bidirectional_forward_never_reversed}),
    *listed("deep.bidirectional_input_not_reversed", "bidirectional_forward",
            "Only the backward direction's output is reversed: it must also read the reversed input "
            "x[:, ::-1].",
            {BI_F: bidirectional_forward_input_not_reversed}),
    *listed("deep.bidirectional_dh_not_reversed", "bidirectional_backward",
            "The backward direction's upstream gradient is not reversed in time: its states were "
            "re-aligned with [:, ::-1], so pass dh[:, ::-1, H:] to its backward.",
            {BI_B: bidirectional_backward_dh_not_reversed}),
    *listed("deep.bidirectional_dx_not_realigned", "bidirectional_backward",
            "The backward direction's dx is still in reversed time: add dx_b[:, ::-1] to the forward "
            "direction's dx.",
            {BI_B: bidirectional_backward_dx_not_realigned}),
    *listed("deep.bidirectional_dx_forward_only", "bidirectional_backward",
            "dx has only the forward direction's part: both directions read x, so add the backward "
            "direction's dx (re-aligned with [:, ::-1]).",
            {BI_B: bidirectional_backward_dx_forward_only}),
]
