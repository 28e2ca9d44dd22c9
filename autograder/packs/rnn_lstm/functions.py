"""The graded functions of the rnn_lstm assignment, one :class:`~autograder.engine.spec.Function` each.

ASSIGNMENT_API.md is the source: each entry says which module holds the function, its arguments and
their shapes as symbols, what it returns (and which returned values are gradients of which inputs),
which forward function a backward pairs with, and which other graded functions it is built from.
"""
from __future__ import annotations

from typing import Tuple

from autograder.engine.spec import A, Cache, FloatScalar, Function, GradDict, Layers, Out, Params

NH, NTD, NTH, ND = A(("N", "H")), A(("N", "T", "D")), A(("N", "T", "H")), A(("N", "D"))
W_X, W_H, B = A(("D", "G")), A(("H", "G")), A(("G",))
CACHE = Out("cache", Cache())


def _step_grads(with_c: bool) -> Tuple[Out, ...]:
    outs = [Out("dx", ND, "x"), Out("dprev_h", NH, "prev_h")]
    if with_c:
        outs.append(Out("dprev_c", NH, "prev_c"))
    return tuple(outs) + (Out("dWx", W_X, "Wx"), Out("dWh", W_H, "Wh"), Out("db", B, "b"))


SEQ_GRADS = (Out("dx", NTD, "x"), Out("dh0", NH, "h0"), Out("dWx", W_X, "Wx"), Out("dWh", W_H, "Wh"),
             Out("db", B, "b"))
SEQ_ARGS = (("x", NTD), ("h0", NH), ("Wx", W_X), ("Wh", W_H), ("b", B))
STEP_ARGS = (("x", ND), ("prev_h", NH), ("Wx", W_X), ("Wh", W_H), ("b", B))
LSTM_STEP_ARGS = (("x", ND), ("prev_h", NH), ("prev_c", NH), ("Wx", W_X), ("Wh", W_H), ("b", B))
CELLS = ("rnn", "lstm")
RNN_ONLY = ("rnn",)

FUNCTIONS: Tuple[Function, ...] = (
    Function("rnn_step_forward", "rnn_layers", STEP_ARGS, (Out("next_h", NH), CACHE), cells=RNN_ONLY),
    Function("rnn_step_backward", "rnn_layers", (("dnext_h", NH), ("cache", Cache())), _step_grads(False),
             forward="rnn_step_forward", upstream={"dnext_h": "next_h"}, cells=RNN_ONLY),
    Function("rnn_forward", "rnn_layers", SEQ_ARGS, (Out("h", NTH), CACHE), parts=("rnn_step_forward",), cells=RNN_ONLY),
    Function("rnn_backward", "rnn_layers", (("dh", NTH), ("cache", Cache())), SEQ_GRADS,
             forward="rnn_forward", upstream={"dh": "h"}, options=("truncate",),
             parts=("rnn_step_forward", "rnn_step_backward"), cells=RNN_ONLY),
    Function("lstm_step_forward", "lstm_layers", LSTM_STEP_ARGS, (Out("next_h", NH), Out("next_c", NH), CACHE),
             cells=("lstm",)),
    Function("lstm_step_backward", "lstm_layers", (("dnext_h", NH), ("dnext_c", NH), ("cache", Cache())),
             _step_grads(True), cells=("lstm",), forward="lstm_step_forward",
             upstream={"dnext_h": "next_h", "dnext_c": "next_c"}),
    Function("lstm_forward", "lstm_layers", SEQ_ARGS, (Out("h", NTH), CACHE), cells=("lstm",),
             parts=("lstm_step_forward",)),
    Function("lstm_backward", "lstm_layers", (("dh", NTH), ("cache", Cache())), SEQ_GRADS, cells=("lstm",),
             forward="lstm_forward", upstream={"dh": "h"}, parts=("lstm_step_forward", "lstm_step_backward")),
    Function("stacked_forward", "deep_layers",
             (("x", NTD), ("h0s", Layers(A(("N", "H@l")))), ("params", Layers(Params("IN@l", "H@l")))),
             (Out("h", A(("N", "T", "H@top"))), CACHE), cells=CELLS, options=("cell",), layered=True,
             parts=("rnn_forward", "lstm_forward")),
    Function("stacked_backward", "deep_layers", (("dh", A(("N", "T", "H@top"))), ("cache", Cache())),
             (Out("dx", NTD, "x"), Out("dh0s", Layers(A(("N", "H@l"))), "h0s"),
              Out("grads", Layers(Params("IN@l", "H@l")), "params")),
             cells=CELLS, forward="stacked_forward", upstream={"dh": "h"}, layered=True,
             parts=("rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward")),
    Function("bidirectional_forward", "deep_layers",
             (("x", NTD), ("h0_f", NH), ("h0_b", NH), ("params_f", Params()), ("params_b", Params())),
             (Out("h", A(("N", "T", "2H"))), CACHE), cells=CELLS, options=("cell",),
             parts=("rnn_forward", "lstm_forward")),
    Function("bidirectional_backward", "deep_layers", (("dh", A(("N", "T", "2H"))), ("cache", Cache())),
             (Out("dx", NTD, "x"), Out("dh0_f", NH, "h0_f"), Out("dh0_b", NH, "h0_b"),
              Out("grads_f", Params(), "params_f"), Out("grads_b", Params(), "params_b")),
             cells=CELLS, forward="bidirectional_forward", upstream={"dh": "h"},
             parts=("rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward")),
    Function("hidden_grad_norms", "gradient_flow", SEQ_ARGS, (Out("norms", A(("T",))),), cells=CELLS,
             options=("cell",), parts=("rnn_step_forward", "rnn_step_backward", "lstm_step_forward",
                                       "lstm_step_backward")),
    Function("clip_grad_norm", "gradient_flow", (("grads", GradDict()),),
             (Out("clipped", GradDict(), new=True), Out("total_norm", FloatScalar())), options=("max_norm",),
             cells=RNN_ONLY),
)
