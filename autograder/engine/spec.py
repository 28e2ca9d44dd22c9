"""The types a pack describes its graded functions in, once and declaratively (a pack's
``functions``; for rnn_lstm, :mod:`autograder.packs.rnn_lstm.functions`, from ASSIGNMENT_API.md).

Each :class:`Function` says which module holds it, its arguments and their shapes as symbols,
what it returns (and which returned values are gradients of which inputs), which forward function
a backward pairs with, and which other graded functions it is built from. Strategies
(:mod:`autograder.engine.strategies`), comparisons and gradient checks (:mod:`autograder.engine.checks`,
:mod:`autograder.engine.hidden_tests`) are derived from the pack's table: grading a new function is a new entry.

Shape symbols: ``N`` batch, ``T`` time steps, ``D`` input width, ``H`` hidden width, ``G`` the gate
width of the cell (``H`` times the pack's ``cell_gates``, e.g. 4H for an LSTM), ``2H``. In stacked layers, ``H@l`` is the
hidden width of layer ``l``, ``IN@l`` its input width (``D`` for layer 0, ``H@{l-1}`` above) and
``H@top`` the top layer's width.

**Scenario inputs** (the ``inputs`` dict of :func:`autograder.engine.reference.run_scenario` and of
the pack's mistakes catalogue): the argument names of the contract of the function, or for a
backward function the argument names of its *forward* function (e.g. ``x, prev_h, Wx, Wh, b`` for
a step backward; ``x, h0s, params`` for a stacked backward) plus its upstream gradients
(``dnext_h``, ``dnext_c``, ``dh``), plus options: ``truncate`` (None = full BPTT), ``cell``
("rnn"/"lstm"), ``max_norm``.

**Output names** (dict keys returned by ``run_scenario`` and passed as ``student_outputs``): the
return names of the pack's entries, with structured values flattened: ``dh0s[1]``, ``grads[0].Wx``,
``grads_f.b``, ``clipped.Wx``; ``total_norm`` is a 0-d float64 array. Caches are not outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Dict, Optional, Sequence, Tuple, Union


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
    """A dict of gradient arrays (a max_norm option's input): keys Wx, Wh, b shaped like Params()."""


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
    new: bool = False  # the contract asks for new arrays: none may share memory with an input (in-place test)


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
    cells: Tuple[str, ...] = ("",)  # variants the function is graded with (an RNN pack's cells: "rnn", "lstm")
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

    @cached_property  # asked for every call of every example
    def cache_index(self) -> Optional[int]:
        for i, o in enumerate(self.outputs):
            if isinstance(o.template, Cache):
                return i
        return None


# The drawn sizes (strategies.Example.dims) each shape symbol is made of; "H@l" stands for every H@0, H@1, ...
SYMBOL_SIZES: Dict[str, Tuple[str, ...]] = {"G": ("H",), "2H": ("H",), "H@l": ("H@l",), "IN@l": ("D", "H@l"),
                                            "H@top": ("H@l",)}
SIZE_ORDER = ("N", "T", "D", "H", "L")


def _template_sizes(template: Template) -> Tuple[str, ...]:
    if isinstance(template, A):
        return tuple(k for s in template.dims for k in SYMBOL_SIZES.get(s, (s,)))
    if isinstance(template, Params):
        return _template_sizes(A((template.inp, template.hid, "G")))
    if isinstance(template, Layers):
        return ("L",) + _template_sizes(template.item)
    return ()  # a GradDict is shaped by its arrays (array_shaped_args); scalars and caches have no size


def input_sizes(functions: Sequence[Function], size: Dict[str, int]) -> Tuple[Tuple[str, int], ...]:
    """The sizes of an example (``Example.size``) that the arguments of ``functions`` are written in (a
    test's inputs are made for a function and, for a backward one, its forward too), in the order
    N, T, D, H, L, H@0, H@1, ...: a step function has no T; G (the gates' width) and 2H are told by H;
    a dict of gradients has none (:func:`array_shaped_args`)."""
    used = {k for fn in functions for _, t in fn.args for k in _template_sizes(t)}
    kept = [(k, v) for k, v in size.items() if k in used or ("H@l" in used and k.startswith("H@"))]
    return tuple(sorted(kept, key=lambda kv: (SIZE_ORDER.index(kv[0]) if kv[0] in SIZE_ORDER else len(SIZE_ORDER),
                                              len(kv[0]), kv[0])))


def array_shaped_args(functions: Sequence[Function]) -> Tuple[str, ...]:
    """The arguments of ``functions`` whose size is the shapes of their arrays, not named sizes (a GradDict)."""
    return tuple(n for fn in functions for n, t in fn.args if isinstance(t, GradDict))

