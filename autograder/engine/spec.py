"""The graded functions, described once and declaratively (ASSIGNMENT_API.md is the source).

Each :class:`Function` says which module holds it, its arguments and their shapes as symbols,
what it returns (and which returned values are gradients of which inputs), which forward function
a backward pairs with, and which other graded functions it is built from. Strategies
(:mod:`autograder.engine.strategies`), comparisons and gradient checks (:mod:`autograder.engine.checks`,
:mod:`autograder.engine.hidden_tests`) are derived from this table: grading a new function is a new entry.

Shape symbols: ``N`` batch, ``T`` time steps, ``D`` input width, ``H`` hidden width, ``G`` the gate
width of the cell (``H`` for "rnn", ``4H`` for "lstm"), ``2H``. In stacked layers, ``H@l`` is the
hidden width of layer ``l``, ``IN@l`` its input width (``D`` for layer 0, ``H@{l-1}`` above) and
``H@top`` the top layer's width.

**Scenario inputs** (the ``inputs`` dict of :func:`autograder.engine.reference.run_scenario` and of
:func:`autograder.packs.rnn_lstm.mistakes.diagnose`): the argument names of the contract of the function, or for a
backward function the argument names of its *forward* function (e.g. ``x, prev_h, Wx, Wh, b`` for
``rnn_step_backward``; ``x, h0s, params`` for ``stacked_backward``) plus its upstream gradients
(``dnext_h``, ``dnext_c``, ``dh``), plus options: ``truncate`` (rnn_backward; None = full BPTT),
``cell`` ("rnn"/"lstm", deep layers and hidden_grad_norms), ``max_norm`` (clip_grad_norm).

**Output names** (dict keys returned by ``run_scenario`` and passed as ``student_outputs``): the
return names below, with structured values flattened: ``dh0s[1]``, ``grads[0].Wx``,
``grads_f.b``, ``clipped.Wx``; ``total_norm`` is a 0-d float64 array. Caches are not outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple, Union


@dataclass(frozen=True)
class A:
    """An array whose shape is a tuple of dimension symbols."""

    dims: Tuple[str, ...]


@dataclass(frozen=True)
class Params:
    """A parameter dict ``{"Wx": (IN, G), "Wh": (HID, G), "b": (G,)}`` for the current cell."""

    inp: str = "D"
    hid: str = "H"


@dataclass(frozen=True)
class Layers:
    """A list with one ``item`` per layer (``L`` of them); ``@l`` in its symbols is the layer index."""

    item: Union[A, Params]


@dataclass(frozen=True)
class GradDict:
    """A dict of gradient arrays of any shapes (clip_grad_norm): keys Wx, Wh, b shaped like Params()."""


@dataclass(frozen=True)
class FloatScalar:
    """A Python float (numpy floating scalars and 0-d arrays are accepted too)."""


@dataclass(frozen=True)
class Cache:
    """Whatever the student's forward returns for its backward: stays in the worker."""


Template = Union[A, Params, Layers, GradDict, FloatScalar, Cache]


@dataclass(frozen=True)
class Out:
    name: str
    template: Template
    grad_of: Optional[str] = None  # the forward input this output is the gradient of


@dataclass(frozen=True)
class Tol:
    """A value passes when max|actual - expected| <= atol + rtol * max|expected| (per output)."""

    rtol: float = 1e-6
    atol: float = 1e-9


@dataclass(frozen=True)
class Function:
    name: str
    module: str
    args: Tuple[Tuple[str, Template], ...]  # positional arguments of the contract, in order
    outputs: Tuple[Out, ...]  # returned values, in order
    cells: Tuple[str, ...] = ("rnn",)  # cells the function is graded with ("rnn", "lstm")
    forward: Optional[str] = None  # a backward function's forward
    upstream: Dict[str, str] = field(default_factory=dict)  # upstream arg -> forward output it is the gradient on
    options: Tuple[str, ...] = ()  # keyword options drawn by strategies: truncate, cell, max_norm
    parts: Tuple[str, ...] = ()  # graded functions the reference implementation is built from
    layered: bool = False  # draws a number of layers L (stacked)
    tol: Tol = Tol()

    @property
    def is_backward(self) -> bool:
        return self.forward is not None

    @property
    def array_outputs(self) -> Tuple[Out, ...]:
        return tuple(o for o in self.outputs if not isinstance(o.template, Cache))

    @property
    def cache_index(self) -> Optional[int]:
        for i, o in enumerate(self.outputs):
            if isinstance(o.template, Cache):
                return i
        return None


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

FUNCTIONS: Tuple[Function, ...] = (
    Function("rnn_step_forward", "rnn_layers", STEP_ARGS, (Out("next_h", NH), CACHE)),
    Function("rnn_step_backward", "rnn_layers", (("dnext_h", NH), ("cache", Cache())), _step_grads(False),
             forward="rnn_step_forward", upstream={"dnext_h": "next_h"}),
    Function("rnn_forward", "rnn_layers", SEQ_ARGS, (Out("h", NTH), CACHE), parts=("rnn_step_forward",)),
    Function("rnn_backward", "rnn_layers", (("dh", NTH), ("cache", Cache())), SEQ_GRADS,
             forward="rnn_forward", upstream={"dh": "h"}, options=("truncate",),
             parts=("rnn_step_forward", "rnn_step_backward")),
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
             (Out("clipped", GradDict()), Out("total_norm", FloatScalar())), options=("max_norm",)),
)

BY_NAME: Dict[str, Function] = {f.name: f for f in FUNCTIONS}
MODULE_FUNCTIONS: Dict[str, Tuple[str, ...]] = {}
for _f in FUNCTIONS:
    MODULE_FUNCTIONS.setdefault(_f.module, ())
    MODULE_FUNCTIONS[_f.module] += (_f.name,)


def function(name: str) -> Function:
    return BY_NAME[name]


def scenario_args(fn: Function) -> Tuple[str, ...]:
    """Names of the scenario inputs (see the module docstring) for a function."""
    base = function(fn.forward) if fn.forward else fn
    names = tuple(n for n, _ in base.args) + tuple(fn.upstream) + base.options + fn.options
    return tuple(dict.fromkeys(names))
