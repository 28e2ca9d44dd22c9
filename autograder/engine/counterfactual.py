"""Counterfactual references: the reference evaluated with one of its inputs changed, derived from spec.py.

A wrong output that equals what the reference gives on changed inputs says where the mistake is:
``next_h`` is the reference's with ``Wh`` transposed, or with the LSTM's gate blocks read in another
order. The changes are generic, derived from the templates of the function's arguments (and, for a
backward function, of its forward's):

- ``zero`` / ``negated``: one input array zero, or negated;
- ``transposed``: a square weight transposed (a template whose two axes are the same width);
- ``gates``: the gate blocks of the fused weights permuted (axes of width ``G`` = gates x H);
- ``swapped``: two inputs of the same template exchanged (``prev_h`` and ``prev_c``);
- ``shifted``: a sequence moved by one step in time, a zero step entering at the free end;
- ``offset``: one gate block of a bias (the whole bias of a one-gate cell) moved by 1 or -1;
- ``activation``: numpy's tanh, or an activation the pack names, replaced by another one,
  everywhere or at one place of the reference (the call that makes ``g``, found in its source).

:func:`changes` lists the changes that apply to a scenario; :func:`evaluate` gives the reference's
named outputs under one. Localization states a fact only when the student's outputs equal them on
two independent examples (:mod:`autograder.engine.localize`).
"""
from __future__ import annotations

import ast
import itertools
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Tuple

import numpy as np

from autograder.engine import pack, reference
from autograder.engine.pack import function
from autograder.engine.spec import A, Function, Layers, Params, Template

Arrays = Dict[str, np.ndarray]


def _relu(z: Any) -> Any:
    return np.maximum(z, 0.0)


def _identity(z: Any) -> Any:
    return np.asarray(z, dtype=np.float64) * 1.0


def _sigmoid(z: Any) -> Any:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


# name -> (function, words); the replacements tried for an activation are the others
ACTIVATIONS: Dict[str, Tuple[Callable[[Any], Any], str]] = {
    "tanh": (np.tanh, "tanh"), "relu": (_relu, "ReLU"), "identity": (_identity, "no activation at all"),
    "sigmoid": (_sigmoid, "the sigmoid")}


@dataclass(frozen=True)
class Change:
    """One change of a scenario's inputs (or of the reference's activation)."""

    kind: str  # zero | negated | transposed | gates | swapped | shifted | offset | activation
    input: str = ""  # the input changed (a leaf name such as params[1].Wh), "" for gates; for an
    # activation at one place, the name the reference assigns its result to ("g"), else ""
    detail: str = ""  # gates: the order the blocks are read in ("ifog"); swapped: the other input;
    # shifted: "+1" (step t gets step t-1) or "-1"; offset: "<block>:<+1|-1>" (block "" for a one-gate
    # cell); activation: "tanh>relu" (replaced>by), with "@module:line" for one place


# ---------------------------------------------------------------- the leaves of the inputs


def _gates(cell: str) -> int:
    return int(pack.current().cell_gates.get(cell, 1))


def _leaves(name: str, template: Template, value: Any, cell: str) -> Iterator[Tuple[str, Tuple[str, ...], Any]]:
    """(leaf name, axis symbols, array) of one argument; "G" stands for gates x H."""
    if isinstance(template, A) and isinstance(value, np.ndarray):
        yield name, tuple(template.dims), value
    elif isinstance(template, Params) and isinstance(value, dict):
        axes = {"Wx": (template.inp, "G"), "Wh": (template.hid, "G"), "b": ("G",)}
        for key, symbols in axes.items():
            if isinstance(value.get(key), np.ndarray):
                yield f"{name}.{key}", symbols, value[key]
    elif isinstance(template, Layers) and isinstance(value, list):
        for layer, item in enumerate(value):
            yield from _leaves(f"{name}[{layer}]", template.item, item, cell)


def _square(symbols: Tuple[str, ...], cell: str) -> bool:
    """Two axes of the same width by construction (``H x H``; ``H x G`` for a one-gate cell)."""
    if len(symbols) != 2:
        return False
    a, b = (s.replace("@top", "").replace("@l", "") for s in symbols)
    if _gates(cell) == 1:
        a, b = ("H" if s == "G" else s for s in (a, b))
    return a == b


def _base(fn: Function) -> Function:
    return function(fn.forward) if fn.forward else fn


def changes(fn: Function, inputs: Mapping[str, Any], cell: str) -> List[Change]:
    """Every change that applies to this scenario of ``fn`` (the arguments of ``fn``, or of its forward)."""
    base = _base(fn)
    found: List[Change] = []
    leaves = [(leaf, symbols, value) for name, template in base.args
              for leaf, symbols, value in _leaves(name, template, inputs.get(name), cell)]
    for name, _ in base.args:
        if isinstance(inputs.get(name), np.ndarray) and np.any(inputs[name]):
            found += [Change("zero", name), Change("negated", name)]
    found += [Change("transposed", leaf) for leaf, symbols, value in leaves
              if _square(symbols, cell) and value.shape[0] > 1 and not np.allclose(value, value.T)]
    gates = _gates(cell)
    if gates > 1 and any(symbols and symbols[-1] == "G" for _, symbols, _ in leaves):
        names = pack.current().gate_names or tuple("abcdefgh"[:gates])
        for order in itertools.permutations(range(gates)):
            if list(order) != list(range(gates)):
                found.append(Change("gates", "", "".join(names[k] for k in order)))
    templates = [(name, template) for name, template in base.args if name in inputs]
    for (a, ta), (b, tb) in itertools.combinations(templates, 2):
        if ta == tb and not isinstance(ta, Layers):
            found.append(Change("swapped", a, b))
    for name, template in base.args:
        if isinstance(template, A) and "T" in template.dims and isinstance(inputs.get(name), np.ndarray) \
                and inputs[name].shape[template.dims.index("T")] > 1:
            found += [Change("shifted", name, "+1"), Change("shifted", name, "-1")]
    for leaf, symbols, value in leaves:
        if symbols == ("G",) and np.ndim(value) == 1:
            blocks = pack.current().gate_names if gates > 1 else ("",)
            found += [Change("offset", leaf, f"{block}:{sign}") for block in blocks for sign in ("+1", "-1")]
    for site in _sites_of(fn):  # one place first: the more specific explanation
        found += [Change("activation", site.name, f"{site.target}>{other}@{site.module}:{site.line}")
                  for other in ACTIVATIONS if other != _activation_name(site.target)]
    for target in activations():
        found += [Change("activation", "", f"{target}>{other}") for other in ACTIVATIONS
                  if other != _activation_name(target)]
    return found


@dataclass(frozen=True)
class Site:
    """One call of an activation in the reference's source: which, where, and the name it assigns."""

    target: str  # "np.tanh" or a pack activation "module.function"
    module: str
    line: int
    function: str  # the reference function it is in
    name: str  # the variable the call's value is assigned to ("" when none)


_SITES: Dict[str, Tuple[Site, ...]] = {}


def sites() -> Tuple[Site, ...]:
    """Every call of an activation in the reference modules' functions (read from their source)."""
    active = pack.current()
    if active.name not in _SITES:
        helpers = {key.partition(".")[2]: key for key in active.activations}
        found: List[Site] = []
        for module in active.graded_modules:
            tree = ast.parse((active.reference_dir / f"{module}.py").read_text(encoding="utf-8"))
            for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
                for node in ast.walk(fn):
                    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                        continue
                    name = node.targets[0].id if isinstance(node.targets[0], ast.Name) else ""
                    for call in (c for c in ast.walk(node.value) if isinstance(c, ast.Call)):
                        f = call.func
                        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np" \
                                and f.attr == "tanh":
                            found.append(Site("np.tanh", module, call.lineno, fn.name, name))
                        elif isinstance(f, ast.Name) and f.id in helpers:
                            found.append(Site(helpers[f.id], module, call.lineno, fn.name, name))
        _SITES[active.name] = tuple(found)
    return _SITES[active.name]


def _sites_of(fn: Function) -> List[Site]:
    """The activation sites a scenario of ``fn`` runs (in fn, its forward, or the parts they are built from)."""
    names, todo = [], [fn.name] + ([fn.forward] if fn.forward else [])
    while todo:
        name = todo.pop(0)
        if name not in names:
            names.append(name)
            todo.extend(function(name).parts)
    return [s for s in sites() if s.function in names and s.name]


def activations() -> Tuple[str, ...]:
    """What may be replaced: numpy's ``tanh`` and the pack's activations (``module.function``)."""
    return ("np.tanh",) + tuple(pack.current().activations)


def _activation_name(target: str) -> str:
    return "tanh" if target == "np.tanh" else pack.current().activations.get(target, target)


# ---------------------------------------------------------------- applying a change


def apply(change: Change, inputs: Mapping[str, Any], fn: Function, cell: str) -> Dict[str, Any]:
    """A copy of ``inputs`` with ``change`` made (an activation change leaves the inputs as they are)."""
    changed = {k: _copy(v) for k, v in inputs.items()}
    if change.kind in ("zero", "negated"):
        value = changed[change.input]
        changed[change.input] = np.zeros_like(value) if change.kind == "zero" else -value
    elif change.kind == "transposed":
        holder, key = _locate(changed, change.input)
        holder[key] = np.ascontiguousarray(holder[key].T)
    elif change.kind == "gates":
        names = pack.current().gate_names or tuple("abcdefgh"[:_gates(cell)])
        order = [names.index(g) for g in change.detail]
        # the reference reads gate j from block j: give it block order^-1[j] of the original, so that
        # it reads each gate where the student's code does
        source = [order.index(j) for j in range(len(order))]
        for name, template in _base(fn).args:
            for leaf, symbols, value in _leaves(name, template, changed.get(name), cell):
                if symbols and symbols[-1] == "G":
                    holder, key = _locate(changed, leaf)
                    blocks = np.split(value, len(order), axis=-1)
                    holder[key] = np.concatenate([blocks[k] for k in source], axis=-1)
    elif change.kind == "swapped":
        changed[change.input], changed[change.detail] = changed[change.detail], changed[change.input]
    elif change.kind == "offset":
        block, _, sign = change.detail.partition(":")
        holder, key = _locate(changed, change.input)
        value = holder[key].copy()
        if block:
            width = value.shape[-1] // len(pack.current().gate_names)
            k = pack.current().gate_names.index(block)
            value[k * width:(k + 1) * width] += float(sign)
        else:
            value += float(sign)
        holder[key] = value
    elif change.kind == "shifted":
        template = dict(_base(fn).args)[change.input]
        axis = template.dims.index("T")
        value = np.moveaxis(changed[change.input], axis, 0)
        moved = np.zeros_like(value)
        if change.detail == "+1":
            moved[1:] = value[:-1]
        else:
            moved[:-1] = value[1:]
        changed[change.input] = np.moveaxis(moved, 0, axis)
    return changed


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _locate(inputs: Dict[str, Any], leaf: str) -> Tuple[Any, Any]:
    """The container and key of a leaf named like ``params[1].Wh`` or ``Wh``."""
    head, _, key = leaf.partition(".")
    name, _, index = head.partition("[")
    holder: Any = inputs
    if index:
        holder = inputs[name][int(index.rstrip("]"))]
        return (holder, key) if key else (inputs[name], int(index.rstrip("]")))
    return (inputs[name], key) if key else (inputs, name)


def evaluate(fn: Function, change: Change, inputs: Mapping[str, Any], cell: str) -> Arrays:
    """The reference's named outputs on the scenario with ``change`` made."""
    if change.kind != "activation":
        return reference.expected(fn, apply(change, inputs, fn, cell))
    return reference.expected_with(fn, dict(inputs), _overrides(change.detail))


_OVERRIDES: Dict[Tuple[str, str], Dict[str, Any]] = {}


def _overrides(detail: str) -> Dict[str, Any]:
    """The reference overrides of an activation change ("tanh>relu" everywhere, or "...@module:line" at one
    place: the replacement there, the activation itself everywhere else). Made once per change, so the
    reference modules run with them are made once too (reference.expected_with keys on them)."""
    key = (pack.current().name, detail)
    if key not in _OVERRIDES:
        swap, _, place = detail.partition("@")
        target, _, other = swap.partition(">")
        replacement = ACTIVATIONS[other][0]
        if place:
            module, _, line = place.partition(":")
            original = np.tanh if target == "np.tanh" else _reference_function(target)
            replacement = _at_line(original, replacement, str(pack.current().reference_dir / f"{module}.py"), int(line))
        _OVERRIDES[key] = {target: replacement}
    return _OVERRIDES[key]


def _reference_function(key: str) -> Callable[..., Any]:
    module, _, name = key.partition(".")
    return getattr(reference.pure()[module], name)


def _at_line(original: Callable[[Any], Any], replacement: Callable[[Any], Any], filename: str,
             line: int) -> Callable[[Any], Any]:
    """``replacement`` where called from ``filename`` at ``line``, ``original`` everywhere else."""
    def activation(z: Any, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1)
        if caller.f_lineno == line and caller.f_code.co_filename == filename:
            return replacement(z)
        return original(z, *args, **kwargs)

    return activation


# ---------------------------------------------------------------- words


def describe(change: Change) -> str:
    """The change as words after "what the reference gives ..."."""
    if change.kind == "zero":
        return f"when `{change.input}` is zero"
    if change.kind == "negated":
        return f"with `{change.input}` negated"
    if change.kind == "transposed":
        return f"with `{change.input}` transposed"
    if change.kind == "gates":
        names = pack.current().gate_names
        usual = ", ".join(names)
        return (f"with the gate blocks of the weights read in the order {', '.join(change.detail)} "
                f"instead of {usual}")
    if change.kind == "swapped":
        return f"with `{change.input}` and `{change.detail}` swapped"
    if change.kind == "shifted":
        later = change.detail == "+1"
        return (f"with `{change.input}` shifted one step {'later' if later else 'earlier'} in time (step t reads "
                f"step t{'-' if later else '+'}1, a zero step at the {'start' if later else 'end'})")
    if change.kind == "offset":
        block, _, sign = change.detail.partition(":")
        amount = "1 added to" if sign == "+1" else "1 taken from"
        if not block:
            return f"with {amount} every entry of `{change.input}`"
        names = pack.current().gate_names
        k = names.index(block)
        return f"with {amount} the {block} block of `{change.input}` (`{change.input}[{_block(k)}]`)"
    swap, _, place = change.detail.partition("@")
    target, _, other = swap.partition(">")
    where = f"`{change.input}` computed with" if place else ""
    old, new = ACTIVATIONS[_activation_name(target)][1], ACTIVATIONS[other][1]
    if place:
        return f"with {where} {new} instead of {old}"
    return f"with {old} replaced by {new} everywhere"


def _block(k: int) -> str:
    lo = "0" if k == 0 else ("H" if k == 1 else f"{k}H")
    hi = "H" if k == 0 else f"{k + 1}H"
    return f"{lo}:{hi}"


def as_detail(change: Change) -> Dict[str, str]:
    """The change as a fact's detail (JSON-friendly)."""
    return {"change": change.kind, "input": change.input, "other": change.detail}


def from_detail(detail: Mapping[str, Any]) -> Change:
    return Change(str(detail.get("change")), str(detail.get("input", "")), str(detail.get("other", "")))


__all__ = ["Change", "changes", "apply", "evaluate", "describe", "as_detail", "from_detail", "ACTIVATIONS"]

