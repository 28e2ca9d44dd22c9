"""Hypothesis strategies derived from :mod:`autograder.engine.spec`.

Hypothesis draws an :class:`Example` (sizes, cell, options, a seed and a value scale); the inputs
are then made from it deterministically by :func:`materialize`. Drawing a seed rather than every
float keeps inputs dense and generic (Hypothesis would shrink floats to zeros, which hide most
bugs) while shrinking still finds the smallest failing sizes. Values are bounded float64: standard
normal times a scale of 1, 0.25 or 4 (4 makes tanh/sigmoid pre-activations saturate).

Sizes come from the active pack's profiles (:attr:`autograder.engine.pack.Pack.profiles`).
Coverage by construction: besides the draws, every test runs fixed **boundary examples**
(:func:`boundary_examples`): every size at its minimum; coinciding widths (D = H = every H@l); L at
its maximum; T at its minimum; for a ``truncate`` option, truncate = 1, T-1, T and T+1; for a
``max_norm`` option, an all-zero gradient dict (total norm 0) at max_norm 0 and at max_norm 1, and,
where the profile has a size ``S``, a gradient dict that also holds S 0-d arrays, clipped and not.

**Specials** (``Example.special``) are structured inputs a pack defines
(:attr:`~autograder.engine.pack.Pack.specials`), on which many wrong forward functions are right
(zero initial states, say). A backward function whose forward is wrong on every ordinary input is
judged on such inputs when its forward is right there (:mod:`autograder.engine.dependencies`).
"""
from __future__ import annotations

import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import numpy as np

from autograder.engine import pack
from autograder.engine.pack import function, scenario_args
from autograder.engine.spec import A, Function, GradDict, Layers, Params, Template

if TYPE_CHECKING:  # imported where a strategy is made: a grading that replays its draws never needs Hypothesis
    from hypothesis import strategies as st


def _draw_from_the_strategies_alone() -> None:
    """Hypothesis (6.1xx) also draws, now and then, constants it finds in the source of the "local"
    modules loaded in the process (our own package, run from a checkout; a test module): which ones
    depends on what the process has imported, so one derandomized property could draw different
    examples in ``grade``, ``grade-all`` and the tests, and a grade depend on it. Grading draws from
    the strategies alone: the local constants are always none."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - another Hypothesis layout: nothing of the kind there
        return
    if callable(getattr(providers, "_get_local_constants", None)) and hasattr(providers, "Constants"):
        none = providers.Constants()
        providers._get_local_constants = lambda: none
        cache = getattr(providers, "CONSTANTS_CACHE", None)
        if cache is not None and hasattr(cache, "cache"):
            cache.cache.clear()


if "hypothesis" in sys.modules:  # otherwise once a strategy is first made (a replayed grading never imports it)
    _draw_from_the_strategies_alone()

SCALES = (1.0, 0.25, 4.0)
HUGE = 100.0  # the scale of the boundary example with huge pre-activations (forward functions)
MAX_NORM_RATIOS = (0.5, 2.0, 1.0, 0.0)

@dataclass(frozen=True)
class Example:
    """One drawn test case; :func:`materialize` turns it into inputs."""

    dims: Tuple[Tuple[str, int], ...]
    cell: str
    seed: int
    scale: float
    truncate: Optional[int] = None
    max_norm_ratio: float = 2.0  # max_norm = ratio * the drawn total norm (or max_norm itself if zero_grads)
    zero_grads: bool = False  # a max_norm option's gradients are all zero (explicit examples only)
    special: str = ""  # "+"-joined names of the pack's specials applied to the inputs ("" = none)

    @property
    def size(self) -> Dict[str, int]:
        return dict(self.dims)


_STRATEGIES: Dict[Tuple[str, str, str], st.SearchStrategy[Example]] = {}


def examples(fn: Function, profile: str = "general") -> st.SearchStrategy[Example]:
    """Examples for ``fn`` (a backward function draws what its forward needs). Made once per function
    and profile (making a composite strategy reads its source): the same strategy draws the same."""
    key = (pack.current().name, fn.name, profile)
    if key not in _STRATEGIES:
        if not _STRATEGIES:
            _draw_from_the_strategies_alone()
        _STRATEGIES[key] = _examples(fn, profile)
    return _STRATEGIES[key]


def _examples(fn: Function, profile: str) -> st.SearchStrategy[Example]:
    from hypothesis import strategies as st

    ranges = pack.current().profiles[profile]
    base = function(fn.forward) if fn.forward else fn

    @st.composite
    def draw_example(draw: Any) -> Example:
        # every symbol of the profile in its order; layered functions draw L and then an H per layer
        # S (0-d arrays in a gradient dict) is for the boundary examples only
        symbols = tuple(k for k in ranges if k not in ("L", "S") and not (base.layered and k == "H"))
        dims = {k: draw(st.integers(*ranges[k]), label=k) for k in symbols}
        if base.layered:
            dims["L"] = draw(st.integers(*ranges["L"]), label="L")
            for layer in range(dims["L"]):
                dims[f"H@{layer}"] = draw(st.integers(*ranges["H"]), label=f"H@{layer}")
        cell = draw(st.sampled_from(base.cells), label="cell")
        truncate = None
        if "truncate" in fn.options:
            truncate = draw(st.one_of(st.none(), st.integers(1, dims["T"] + 2)), label="truncate")
        ratio = draw(st.sampled_from(MAX_NORM_RATIOS), label="max_norm ratio") if "max_norm" in fn.options else 2.0
        seed = draw(st.integers(0, 2**16), label="seed")
        scale = draw(st.sampled_from(SCALES), label="scale")
        return Example(tuple(sorted(dims.items())), cell, seed, scale, truncate, ratio)

    return draw_example()


def boundary_examples(fn: Function, profile: str = "general", kind: str = "values") -> Tuple[Example, ...]:
    """Fixed examples every test of ``kind`` runs after its drawn ones (see the module docstring).

    Sizes come from the profile's range: every size at its minimum, coinciding widths (D, H and
    every H@l equal) at the maximum L, and T = 1; a function with no forward also runs inputs scaled
    by HUGE (pre-activations in the thousands: tanh and sigmoid saturate, and must not overflow).
    Truncation kinds run truncate = 1, T-1, T, T+1; a max_norm option also runs all-zero gradients
    at max_norm 0 and 1.
    """
    ranges = pack.current().profiles[profile]
    base = function(fn.forward) if fn.forward else fn
    lo = {k: r[0] for k, r in ranges.items() if k != "S"}
    hi = {k: r[1] for k, r in ranges.items() if k != "S"}
    width = min(max(lo["H"], 3), hi["H"], hi["D"])
    def sizes(**given: int) -> Dict[str, int]:  # the profile's minimum, with ``given`` for its symbols
        return {k: given.get(k, v) for k, v in lo.items()}

    shapes = [dict(lo), sizes(T=max(lo.get("T", 1), min(4, hi.get("T", 1))), D=width, H=width, L=hi.get("L", 1)),
              sizes(N=min(2, hi["N"]), D=width, H=width)]
    cells = base.cells
    found: List[Example] = []
    for n, dims in enumerate(shapes):
        if not base.layered:
            dims.pop("L", None)
        else:
            dims.update({f"H@{layer}": dims["H"] for layer in range(dims["L"])})
            del dims["H"]
        for cell in cells:
            found.append(Example(tuple(sorted(dims.items())), cell, 1000 + n, 1.0))
    if not fn.forward and "max_norm" not in fn.options:  # huge pre-activations: tanh and sigmoid saturate
        for cell in cells:  # (computed stably, they give +-1 and 0 or 1 there, never nan)
            found.append(Example(tuple(sorted(shapes[2].items())), cell, 1003, HUGE))  # (sizes made per layer above)
    if kind in pack.current().option_kinds.get("truncate", ()):
        T = max(lo["T"], min(5, hi["T"]))
        dims = dict(lo, T=T, D=width, H=width)
        dims.pop("L", None)
        found = [Example(tuple(sorted(dims.items())), base.cells[0], 2000 + k, 1.0, truncate=k)
                 for k in sorted({1, max(T - 1, 1), T, T + 1})]
    if "max_norm" in fn.options:
        dims = tuple(sorted((k, lo[k]) for k in ("N", "T", "D", "H")))
        found += [Example(dims, base.cells[0], 0, 1.0, max_norm_ratio=m, zero_grads=True) for m in (0.0, 1.0)]
        if "S" in ranges:  # a 0-d array beside the others, clipped and not (S: how many the gradient dict holds)
            with_scalar = tuple(sorted(dict(dims, D=width, H=width, S=max(ranges["S"])).items()))
            found += [Example(with_scalar, base.cells[0], 3000 + k, 1.0, max_norm_ratio=m)
                      for k, m in enumerate((0.5, 2.0))]
    return tuple(found)


def dim(symbol: str, size: Dict[str, int], cell: str, layer: Optional[int] = None) -> int:
    """The value of one shape symbol (see spec's module docstring)."""
    if symbol == "G":
        return size["H"] * pack.current().cell_gates.get(cell, 1)
    if symbol == "2H":
        return 2 * size["H"]
    if symbol == "H@top":
        return size[f"H@{size['L'] - 1}"]
    if symbol == "H@l":
        return size[f"H@{layer}"]
    if symbol == "IN@l":
        return size["D"] if layer == 0 else size[f"H@{layer - 1}"]
    return size[symbol]


def shape(template: A, size: Dict[str, int], cell: str, layer: Optional[int] = None) -> Tuple[int, ...]:
    return tuple(dim(s, size, cell, layer) for s in template.dims)


def params_shapes(template: Params, size: Dict[str, int], cell: str, layer: Optional[int] = None) -> Dict[str, Tuple[int, ...]]:
    inp, hid = dim(template.inp, size, cell, layer), dim(template.hid, size, cell, layer)
    gates = hid * pack.current().cell_gates.get(cell, 1)
    return {"Wx": (inp, gates), "Wh": (hid, gates), "b": (gates,)}


def expected_structure(template: Template, size: Dict[str, int], cell: str, layer: Optional[int] = None) -> Any:
    """The shapes a value of ``template`` must have: a shape tuple, a dict or list of them, or a marker."""
    if isinstance(template, A):
        return shape(template, size, cell, layer)
    if isinstance(template, Params):
        return params_shapes(template, size, cell, layer)
    if isinstance(template, Layers):
        return [expected_structure(template.item, size, cell, l) for l in range(size["L"])]
    if isinstance(template, GradDict):  # one gate block, and size["S"] 0-d arrays (a dict may hold any arrays)
        return dict(params_shapes(Params(), size, ""), **{f"s{i}": () for i in range(size.get("S", 0))})
    return template  # FloatScalar / Cache markers


def _make(structure: Any, rng: np.random.Generator, scale: float) -> Any:
    if isinstance(structure, tuple):
        return np.asarray(rng.standard_normal(structure) * scale)  # a 0-d array stays an array
    if isinstance(structure, dict):
        return {k: _make(v, rng, scale) for k, v in structure.items()}
    if isinstance(structure, list):
        return [_make(v, rng, scale) for v in structure]
    raise TypeError(structure)


_RECENT: "OrderedDict[Tuple[str, str, Example], Dict[str, Any]]" = OrderedDict()
RECENT_SIZE = 64  # an example is materialized when it is planned (engine/lookahead.py), then judged


def materialize(fn: Function, ex: Example) -> Dict[str, Any]:
    """The scenario inputs (named as in pack.scenario_args) for an example, deterministically (a new
    copy each time: the caller may change it)."""
    key = (pack.current().name, fn.name, ex)
    found = _RECENT.get(key)
    if found is None:
        found = _RECENT[key] = _materialize(fn, ex)
        if len(_RECENT) > RECENT_SIZE:
            _RECENT.popitem(last=False)
    return _copy(found)


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy(order="K")  # the same memory layout: the same bytes reach the worker
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return value


def _materialize(fn: Function, ex: Example) -> Dict[str, Any]:
    rng = np.random.default_rng(ex.seed)
    size = ex.size
    base = function(fn.forward) if fn.forward else fn
    inputs: Dict[str, Any] = {}
    for name, template in base.args:
        inputs[name] = _make(expected_structure(template, size, ex.cell), rng, ex.scale)
        if ex.zero_grads and isinstance(template, GradDict):
            inputs[name] = {k: np.zeros_like(v) for k, v in inputs[name].items()}
    for up, out_name in fn.upstream.items():
        out = next(o for o in base.outputs if o.name == out_name)
        inputs[up] = _make(expected_structure(out.template, size, ex.cell), rng, 1.0)
    names = scenario_args(fn)
    if "cell" in names:
        inputs["cell"] = ex.cell
    if "truncate" in names:
        inputs["truncate"] = ex.truncate
    if "max_norm" in names:
        total = float(np.sqrt(sum(np.sum(g**2) for g in inputs["grads"].values())))
        inputs["max_norm"] = float(ex.max_norm_ratio) if ex.zero_grads else ex.max_norm_ratio * total
    active = pack.current()
    for special in filter(None, ex.special.split("+")):
        if active.apply_special is None:
            raise ValueError(f"the {active.name} pack has no special inputs ({special!r})")
        active.apply_special(special, inputs, ex.cell)
    return inputs


def describe_special(special: str) -> str:
    """Words for the feedback: on which structured inputs a function was judged."""
    words = pack.current().special_words
    return " and ".join(words[s] for s in special.split("+") if s)




def describe_inputs(inputs: Dict[str, Any], show_values: bool = True, max_values: int = 48) -> str:
    """Shapes of the inputs, and their values when they are all small."""
    leaves = list(flatten(inputs))
    total = sum(v.size for _, v in leaves if isinstance(v, np.ndarray))
    lines = []
    for name, value in leaves:
        if isinstance(value, np.ndarray):
            text = f"{name}: shape {value.shape}"
            if show_values and total <= max_values:
                text += " = " + np.array2string(value, precision=4, separator=", ").replace("\n", "")
            lines.append(text)
        else:
            lines.append(f"{name} = {value!r}")
    return "\n".join(lines)


def flatten(value: Any, prefix: str = "") -> Any:
    """Yield (name, leaf) pairs: ``dh0s[1]``, ``grads[0].Wx``, ``clipped.b`` (spec's output names)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{i}]")
    else:
        yield prefix, value


__all__ = ["Example", "examples", "boundary_examples", "describe_special", "materialize", "expected_structure", "flatten", "describe_inputs"]
