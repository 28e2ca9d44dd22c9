"""Where a wrong output is wrong: verified facts about a student's outputs, derived from spec.py.

A TA looking at a wrong array asks: which outputs are wrong, which LSTM gate block, which time
steps, which half or layer, is it the expected value times 1/N, -1 or 0, another output's value,
its transpose, the value without one input, or does it fail only at some size. :func:`detect`
answers those questions for one example (the arrays of the student and the expected ones); every
answer is a :class:`Fact` whose relation holds on those arrays. :func:`localize` keeps only the
facts that hold on examples drawn independently of the failing one, and adds the size
conditions, found by re-running the student's function with one size changed.

Everything here is derived from the output templates of :mod:`autograder.engine.spec` (axes named ``T``,
``G`` (4H for an LSTM), ``2H``, per-layer lists), so it applies to any graded function. The
wording is in :mod:`autograder.feedback.messages`; facts are plain data (``Fact.as_dict``).
"""
from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from autograder.engine import counterfactual as counterfactual_changes
from autograder.engine import pack, reference
from autograder.engine.pack import function
from autograder.engine.spec import A, Function, GradDict, Layers, Params, Template
from autograder.engine.strategies import SCALES, Example

Arrays = Dict[str, np.ndarray]
Rerun = Callable[[Example, Dict[str, Any]], Optional[Arrays]]  # the student's named outputs on other inputs, or None
Expect = Callable[[Dict[str, Any]], Arrays]  # what the student's outputs are compared with
MakeInputs = Callable[[Example], Dict[str, Any]]  # the inputs a test runs for an example

GATES = ("i", "f", "g", "o")
# Two arrays "agree" when max|a - b| <= ATOL + RTOL * max(|a|, |b|): far tighter than any real
# difference and far looser than float64 rounding of equivalent formulas.
RTOL, ATOL = 1e-6, 1e-9
SIZE_SYMBOLS = ("N", "T", "D", "H")
MAX_T_SCAN = 8  # the T condition is searched only for T up to this (each T is one more run)


@dataclass(frozen=True)
class Fact:
    """One verified statement about the outputs of one graded function.

    ``kind``: outputs | gates | steps | shifted | reversed | halves | halves_swapped | layers_reversed |
    scale | transpose | other_output | intermediate | plus_intermediate | changed_input | missing_tanh |
    squared | h_follows_c | one_da | clip_scaled | clip_not_scaled | size_one | size_from | equal_sizes |
    scaled | raised |
    contract (:func:`breakage`). ``outputs``: the output names (spec) it is about (for a
    half, ``h[..., :H]``). ``detail``: sorted (key, value) pairs, values JSON-friendly.
    """

    kind: str
    function: str
    outputs: Tuple[str, ...]
    detail: Tuple[Tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.detail).get(key, default)

    def as_dict(self) -> Dict[str, Any]:
        """The fact as plain data (the feedback adds its sentence: ``messages.fact_record``)."""
        return {"kind": self.kind, "function": self.function, "outputs": list(self.outputs),
                **{k: list(v) if isinstance(v, tuple) else v for k, v in self.detail}}


def _fact(kind: str, fn: Function, outputs: Iterable[str], **detail: Any) -> Fact:
    return Fact(kind, fn.name, tuple(outputs), tuple(sorted(detail.items())))


# ---------------------------------------------------------------- comparisons


def agree(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and equal within RTOL/ATOL (NaN never agrees)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    if a.size == 0:
        return True
    with np.errstate(all="ignore"):
        err = np.max(np.abs(a - b))
        scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return bool(np.isfinite(err) and err <= ATOL + RTOL * scale)


def _nonzero(a: np.ndarray) -> bool:
    return a.size > 0 and not agree(a, np.zeros_like(a))


# ---------------------------------------------------------------- shape symbols of the outputs


def output_symbols(fn: Function, size: Mapping[str, int]) -> Dict[str, Tuple[str, ...]]:
    """Output name -> the shape symbols of each axis (``("N", "T", "H")``, ``("D", "G")``)."""
    out: Dict[str, Tuple[str, ...]] = {}
    for o in fn.array_outputs:
        _symbols(o.template, o.name, size, out)
    return out


def _symbols(template: Template, name: str, size: Mapping[str, int], out: Dict[str, Tuple[str, ...]]) -> None:
    if isinstance(template, A):
        out[name] = template.dims
    elif isinstance(template, (Params, GradDict)):
        inp, hid = (template.inp, template.hid) if isinstance(template, Params) else ("D", "H")
        gate = "G" if isinstance(template, Params) else "H"  # a GradDict is shaped like a one-gate Params
        out.update({f"{name}.Wx": (inp, gate), f"{name}.Wh": (hid, gate), f"{name}.b": (gate,)})
    elif isinstance(template, Layers):
        for layer in range(int(size.get("L", 0))):
            _symbols(template.item, f"{name}[{layer}]", size, out)
    else:
        out[name] = ()  # a float


# ---------------------------------------------------------------- one example


@dataclass
class Case:
    """The arrays of one example: inputs, the student's outputs and the expected ones."""

    fn: Function
    inputs: Dict[str, Any]
    actual: Arrays
    expected: Arrays
    size: Dict[str, int]
    cell: str
    example: Optional[Example] = None  # the example the inputs were made from, when known

    @property
    def wrong(self) -> List[str]:
        return [n for n, e in self.expected.items() if n in self.actual and not agree(self.actual[n], e)]


def detect(case: Case, counterfactual: Optional[Expect] = None) -> List[Fact]:
    """Every fact that holds on this example, most specific first (none if nothing is wrong).

    ``counterfactual(inputs)``: the expected outputs for other inputs (the "ignores an input" facts
    are looked for only when it is given).
    """
    fn, wrong = case.fn, case.wrong
    if not wrong:
        return []
    symbols = output_symbols(fn, case.size)
    facts: List[Fact] = []
    facts += _relations(case, wrong, counterfactual)
    for name in wrong:
        facts += _structure(case, name, symbols.get(name, ()))
    facts += _layers(case, wrong)
    facts += _clip(case)
    ties = pack.current().facts.get(fn.name, ())
    facts += [_fact(kind, fn, outputs) for kind, outputs in [c(case) for c in ties] if outputs]
    right = [n for n in case.expected if n not in wrong]
    if right:  # "every output is wrong" says nothing the message does not
        facts.append(_fact("outputs", fn, wrong, right=tuple(right)))
    return _merge(facts)


def _merge(facts: List[Fact]) -> List[Fact]:
    """One fact per (kind, detail), its outputs joined (``db`` and ``dWx`` are both 1/N times ...)."""
    merged: Dict[Tuple[str, Tuple[Tuple[str, Any], ...]], List[str]] = {}
    for f in facts:
        names = merged.setdefault((f.kind, f.detail), [])
        names.extend(n for n in f.outputs if n not in names)
    function_name = facts[0].function if facts else ""
    return [Fact(kind, function_name, tuple(names), detail) for (kind, detail), names in merged.items()]


def _scales(size: Mapping[str, int]) -> List[Tuple[str, float]]:
    n, t = size.get("N", 1), size.get("T", 1)
    out = [("0", 0.0), ("-1", -1.0), ("1/N", 1.0 / n), ("1/T", 1.0 / t), ("1/(N*T)", 1.0 / (n * t)), ("2", 2.0)]
    seen, unique = set(), []
    for label, c in out:
        if c != 1.0 and c not in seen:
            seen.add(c)
            unique.append((label, c))
    return unique


def _relations(case: Case, wrong: Sequence[str], counterfactual: Optional[Expect]) -> List[Fact]:
    fn, facts = case.fn, []
    others = {n: e for n, e in case.expected.items()}
    inter = intermediates(fn, case.inputs)
    blanks = _counterfactuals(case) if counterfactual is not None else []
    # a change that explains every wrong output at once comes first (one cause, said once)
    blanks.sort(key=lambda b: not all(n in b[1] and agree(case.actual[n], b[1][n]) for n in wrong))
    for name in wrong:
        act, exp = case.actual[name], case.expected[name]
        if _nonzero(exp):
            found = [label for label, c in _scales(case.size) if agree(act, c * exp)]
            if found:
                facts.append(_fact("scale", fn, [name], factor=found[0]))
                continue
        elif not _nonzero(act):
            continue
        if exp.ndim == 2 and exp.shape[0] == exp.shape[1] > 1 and not agree(exp, exp.T) and agree(act, exp.T):
            facts.append(_fact("transpose", fn, [name]))
            continue
        other = next((o for o, e in others.items() if o != name and e.shape == exp.shape and not agree(e, exp)
                      and agree(act, e)), None)
        if other is not None:
            facts.append(_fact("other_output", fn, [name], other=other))
            continue
        blank = next((change for change, outs in blanks if name in outs and agree(act, outs[name])
                      and not agree(outs[name], exp)), None)
        if blank is not None:
            facts.append(_fact("changed_input", fn, [name], **counterfactual_changes.as_detail(blank)))
            continue
        if _nonzero(exp) and bool(np.all(exp >= 0)) and agree(act, exp**2):
            facts.append(_fact("squared", fn, [name]))
            continue
        if fn.name.endswith("forward") and _nonzero(exp):
            with np.errstate(all="ignore"):
                squashed = np.tanh(act)
            if agree(squashed, exp):
                facts.append(_fact("missing_tanh", fn, [name]))
                continue
        same = [(label, v) for label, v in inter if v.shape == exp.shape and _nonzero(v)]
        hit = next((label for label, v in same if agree(act, v) and not agree(v, exp)), None)
        if hit is not None:
            facts.append(_fact("intermediate", fn, [name], value=hit))
            continue
        for sign in (1, -1):
            hit = next((label for label, v in same if agree(act, exp + sign * v)), None)
            if hit is not None:
                facts.append(_fact("plus_intermediate", fn, [name], value=hit, sign="+" if sign > 0 else "-"))
                break
    return facts


def _counterfactuals(case: Case) -> List[Tuple[counterfactual_changes.Change, Arrays]]:
    """(change, the reference's outputs with it) for the changes that apply to this case: every change
    of :mod:`autograder.engine.counterfactual` for a forward function; for a backward function, its
    forward's arguments zero or negated (the upstream gradients are what "scale" covers)."""
    found = []
    for change in counterfactual_changes.changes(case.fn, case.inputs, case.cell):
        if case.fn.forward and change.kind not in ("zero", "negated"):
            continue
        try:
            with np.errstate(all="ignore"):
                found.append((change, counterfactual_changes.evaluate(case.fn, change, case.inputs, case.cell)))
        except Exception:  # noqa: BLE001 - no counterfactual, no fact
            continue
    return found


def _structure(case: Case, name: str, symbols: Tuple[str, ...]) -> List[Fact]:
    """Gate blocks, time steps and halves of one wrong output."""
    fn, facts = case.fn, []
    act, exp = case.actual[name], case.expected[name]
    H = case.size.get("H", 0)
    if "G" in symbols and case.cell == "lstm" and H:
        axis = symbols.index("G")
        bad = tuple(g for k, g in enumerate(GATES)
                    if not agree(np.take(act, range(k * H, (k + 1) * H), axis), np.take(exp, range(k * H, (k + 1) * H), axis)))
        if 0 < len(bad) < 4:
            facts.append(_fact("gates", fn, [name], gates=bad))
    views = [(name, act, exp)]
    if "2H" in symbols and H:
        axis = symbols.index("2H")
        halves = [(f"{name}[..., :H]", np.take(act, range(H), axis), np.take(exp, range(H), axis)),
                  (f"{name}[..., H:]", np.take(act, range(H, 2 * H), axis), np.take(exp, range(H, 2 * H), axis))]
        if agree(halves[0][1], halves[1][2]) and agree(halves[1][1], halves[0][2]) and not agree(halves[0][2], halves[1][2]):
            facts.append(_fact("halves_swapped", fn, [name]))
            return facts
        bad_halves = [v for v in halves if not agree(v[1], v[2])]
        if len(bad_halves) == 1:
            facts.append(_fact("halves", fn, [name], half="first" if bad_halves[0] is halves[0] else "second"))
        views = bad_halves
    if "T" in symbols:
        axis = symbols.index("T")
        for label, a, e in views:
            facts += _time(case, label, np.moveaxis(a, axis, 0), np.moveaxis(e, axis, 0))
    return facts


def _time(case: Case, name: str, act: np.ndarray, exp: np.ndarray) -> List[Fact]:
    """Facts about the time steps of one output (time moved to axis 0)."""
    fn, T = case.fn, act.shape[0]
    if T < 2:
        return []
    if agree(act, exp[::-1]) and not agree(exp, exp[::-1]):
        return [_fact("reversed", fn, [name])]
    facts = []
    if agree(act[1:], exp[:-1]) and not agree(exp[1:], exp[:-1]):
        facts.append(_fact("shifted", fn, [name], by=1))
    elif agree(act[:-1], exp[1:]) and not agree(exp[1:], exp[:-1]):
        facts.append(_fact("shifted", fn, [name], by=-1))
    if T > MAX_T_SCAN:  # over a long sequence a difference can fade below the tolerance: no pattern of steps
        return facts
    bad = [t for t in range(T) if not agree(act[t], exp[t])]
    if not bad:
        return facts
    if len(bad) == T:
        pattern: Dict[str, Any] = {"when": "every"}
    elif bad == [0]:
        pattern = {"when": "first"}
    elif bad == [T - 1]:
        pattern = {"when": "last"}
    elif bad == list(range(bad[0], T)):
        pattern = {"when": "from", "step": bad[0]}
    elif bad == list(range(0, bad[-1] + 1)):
        pattern = {"when": "until", "step": bad[-1]}
    else:
        pattern = {"when": "steps", "steps": tuple(bad)}
    facts.append(_fact("steps", fn, [name], **pattern))
    return facts


_LAYER = re.compile(r"\[(\d+)\]")


def _layers(case: Case, wrong: Sequence[str]) -> List[Fact]:
    """Per-layer outputs that hold the expected layers in the other order."""
    L = case.size.get("L", 0)
    if L < 2:
        return []
    groups: Dict[str, List[str]] = {}
    for name in case.expected:
        if _LAYER.search(name):
            groups.setdefault(_LAYER.sub("[*]", name, count=1), []).append(name)
    facts = []
    for pattern, names in groups.items():
        if not any(n in wrong for n in names):
            continue
        flipped = [_LAYER.sub(f"[{L - 1 - int(_LAYER.search(n).group(1))}]", n, count=1) for n in names]
        if all(f in case.expected and agree(case.actual[n], case.expected[f]) for n, f in zip(names, flipped)):
            facts.append(_fact("layers_reversed", case.fn, [pattern.replace("[*]", "")]))
    return facts


def _clip(case: Case) -> List[Fact]:
    """A max_norm option: scaled although the total norm is within max_norm, or not scaled although above."""
    if "max_norm" not in case.inputs or "grads" not in case.inputs:
        return []
    grads = case.inputs["grads"]
    names = [f"clipped.{k}" for k in grads]
    if not all(n in case.actual for n in names):
        return []
    total = float(np.sqrt(sum(np.sum(np.asarray(g, dtype=np.float64) ** 2) for g in grads.values())))
    unchanged = all(agree(case.actual[f"clipped.{k}"], g) for k, g in grads.items())
    max_norm = float(case.inputs["max_norm"])
    if total > max_norm and unchanged and total > 0:
        return [_fact("clip_not_scaled", case.fn, names)]
    if total <= max_norm and not unchanged and total > 0:
        ratios = {k: float(np.sum(case.actual[f"clipped.{k}"] * g) / np.sum(g * g)) for k, g in grads.items() if _nonzero(g)}
        if ratios:
            c = next(iter(ratios.values()))
            if all(agree(case.actual[f"clipped.{k}"], c * g) for k, g in grads.items()):
                return [_fact("clip_scaled", case.fn, names)]
    return []


# ---------------------------------------------------------------- consistent outputs (the pack's)
# Some functions have outputs tied to each other by the contract; when the student's outputs still
# satisfy that tie, the error lives upstream of it. A pack names such checks per function
# (:attr:`autograder.engine.pack.Pack.facts`): each returns ``(fact kind, outputs)``, outputs empty
# when the tie does not hold.


# ---------------------------------------------------------------- reference intermediates


def intermediates(fn: Function, inputs: Mapping[str, Any]) -> List[Tuple[str, np.ndarray]]:
    """(label, array) for the values the reference computes on the way: the outputs and upstream
    gradients of every graded function it calls, one per call, and per-step values stacked over
    time into ``(N, T, ...)`` arrays (the per-step outputs of a step function called at every step
    form a sequence). Labels name the function and the value (see messages.intermediate_label)."""
    calls: List[Tuple[str, Arrays]] = []

    def recorder(name: str, inner: Callable[..., Any]) -> Callable[..., Any]:
        sub = function(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = inner(*args, **kwargs)
            named = {k: np.array(v, dtype=np.float64) for k, v in reference.named_outputs(sub, result).items()}
            for up, value in zip(sub.upstream, args):
                named[up] = np.array(value, dtype=np.float64)
            calls.append((name, named))
            return result

        return call

    mods = reference.modules()  # a fresh copy, patched in place: internal calls are recorded too
    parts = _all_parts(fn)
    if not parts:
        return []
    wrapped = {p: recorder(p, getattr(mods[function(p).module], p)) for p in parts}
    for module in mods.values():
        for p, wrapper in wrapped.items():
            if p in vars(module):  # defined here, or imported by name from another graded module
                setattr(module, p, wrapper)
    try:
        with np.errstate(all="ignore"):
            reference.scenario(mods, fn, dict(inputs))
    except Exception:  # noqa: BLE001 - the reference cannot run here: no intermediates
        return []
    return _label(calls)


def _all_parts(fn: Function) -> List[str]:
    seen: List[str] = []
    todo = list(fn.parts) + ([fn.forward] if fn.forward else [])
    while todo:
        name = todo.pop(0)
        if name not in seen and name != fn.name:
            seen.append(name)
            todo.extend(function(name).parts)
    return seen


def _label(calls: List[Tuple[str, Arrays]]) -> List[Tuple[str, np.ndarray]]:
    by_function: Dict[str, List[Arrays]] = {}
    for name, named in calls:
        by_function.setdefault(name, []).append(named)
    out: List[Tuple[str, np.ndarray]] = []
    for name, runs in by_function.items():
        step = "_step_" in name  # one call per time step; any other function: one call per layer/direction
        if step and function(name).is_backward:  # a backward loop calls its steps from t = T-1 down to 0
            runs = runs[::-1]
        for value in runs[0]:
            if len(runs) == 1:
                out.append((f"{value} of {name}", runs[0][value]))
                continue
            for k, run in enumerate(runs):
                out.append((f"{value} of {name} {'at step' if step else 'in call'} {k if step else k + 1}", run[value]))
            shapes = {r[value].shape for r in runs}
            if step and len(shapes) == 1 and len(next(iter(shapes))) == 2:
                stacked = np.stack([r[value] for r in runs], axis=1)
                out.append((f"{value} of {name} at every step", stacked))
                out.append((f"{value} of {name} at every step, in reverse order", stacked[:, ::-1]))
    return out


# ---------------------------------------------------------------- the verified facts


@dataclass
class Localization:
    """The verified facts, and the independent examples' cases they were verified on (to verify other
    claims on them, e.g. a catalogued mistake; None where the student's function did not return)."""

    facts: List[Fact]
    cases: List[Optional[Case]] = dataclasses.field(default_factory=list)

    @property
    def independent(self) -> List[Case]:
        return [c for c in self.cases if c is not None]


INDEPENDENT_SEED = 7919  # independent examples are drawn from (failing seed, k) with this offset
INDEPENDENT = 3  # independent examples a fact must hold on before it is shown
# max_norm / total norm of the k-th independent example (k % 3) on each side of the threshold
CLIPPED_BANDS = ((0.02, 0.1), (0.1, 0.4), (0.4, 0.9))
UNCLIPPED_BANDS = ((1.2, 1.8), (1.8, 4.0), (4.0, 20.0))


def independent_example(fn: Function, failing: Example, k: int, kind: str = "values",
                        profile: str = "general", other_side: bool = False) -> Example:
    """The ``k``-th example drawn independently of ``failing`` (k = 1, 2, ... deterministic): the same
    cell and the same kind of scenario, everything else fresh and generic. Sizes are drawn from the
    test's profile widened to at least 2 .. 6 (T at least 3, of the parity k is not; L the profile's most),
    widths all different from each other (one width for all the layers of a stack), values at scale 1,
    no structured input (no special, no all-zero gradients); a truncate option stays on the failing
    example's side (a chunk length below T that does not divide it, or >= T) with a fresh value; a
    max_norm option stays on the failing example's side of the threshold (clipped or not) with a
    random, untied ratio from one of three bands of that side (far from the threshold to near it), or on
    the other side with ``other_side`` (a claim about the code, such as a
    catalogued mistake, must hold on both sides: a submission that always scales is not one whose
    comparison is flipped)."""
    rng = np.random.default_rng([failing.seed, k, INDEPENDENT_SEED])
    ranges = pack.current().profiles[profile]
    symbols = [key.split("@")[0] for key, _ in failing.dims]
    dims: Dict[str, int] = {}
    used: List[int] = []

    def draw(symbol: str) -> int:
        """A size of ``symbol``: at least 2 (T at least 3), up to the profile's top or 6, and for a width
        one no other width has (no coinciding widths: D = H is one of the structured boundary cases)."""
        lo, hi = ranges.get(symbol, (2, 6))
        lo = max(lo, 3 if symbol == "T" else 2)
        hi = max(hi, lo, 6 if symbol != "L" else 3)
        if symbol == "L":
            hi = max(ranges.get("L", (2, 3))[1], 2)
        choices = list(range(lo, hi + 1))
        if symbol == "T":  # T even on odd k and odd on even k: a fact must hold for both parities
            choices = [t for t in choices if t % 2 != k % 2] or choices
        elif symbol != "L":
            choices = [c for c in choices if c not in used] or choices
        value = int(rng.choice(choices))
        if symbol not in ("T", "L"):
            used.append(value)
        return value

    for key, value in failing.dims:
        symbol = key.split("@")[0]
        if symbol == "S":  # how many 0-d arrays a gradient dict holds: the failing example's own
            dims[key] = value
        elif symbol == "L":  # the most layers the profile has (at least 2): a fact about a layer holds for all
            dims[key] = max(ranges.get("L", (2, 2))[1], 2)
        elif "@" not in key:
            dims[key] = draw(symbol)
    if "L" in symbols:  # one width for every layer (layers of one width keep a layer mixed up a value, not a shape error)
        width = draw("H")
        for layer in range(dims["L"]):
            dims[f"H@{layer}"] = width
    truncate = failing.truncate
    if truncate is not None:  # a chunk length that does not divide T: chunks counted from either end differ
        T = dims["T"]
        chunks = [c for c in range(2, T) if T % c] or list(range(1, T))
        truncate = int(rng.integers(T, T + 3)) if truncate >= failing.size.get("T", 1) else int(rng.choice(chunks))
    ratio = failing.max_norm_ratio
    if "max_norm" in _options(fn):
        clipped = failing.zero_grads or ratio < 1.0
        # one of three bands by k (max_norm / total norm): far below, near and well above the threshold, so a
        # fact such as "not scaled although above max_norm" holds across the side, not in one window of it
        low, high = CLIPPED_BANDS[k % 3] if clipped != other_side else UNCLIPPED_BANDS[k % 3]
        ratio = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return Example(tuple(sorted(dims.items())), failing.cell, int(rng.integers(0, 2**16)), 1.0, truncate, ratio)


def has_sides(fn: Function) -> bool:
    """Whether ``fn``'s scenarios have two sides that examples keep (a max_norm option: clipped or not)."""
    return "max_norm" in _options(fn)


def _options(fn: Function) -> Tuple[str, ...]:
    base = function(fn.forward) if fn.forward else fn
    return tuple(base.options) + tuple(fn.options)


def independent_cases(fn: Function, failing: Example, rerun: Rerun, expect: Expect, make_inputs: MakeInputs,
                      kind: str = "values", profile: str = "general", first: int = 1,
                      count: int = INDEPENDENT) -> List[Optional[Case]]:
    """The cases of the independent examples ``first`` .. ``first + count - 1`` (None where the
    student's function or the reference could not run)."""
    return [case(fn, independent_example(fn, failing, k, kind, profile), rerun, expect, make_inputs)
            for k in range(first, first + count)]


def localize(fn: Function, example: Example, first: Optional[Case], rerun: Rerun, expect: Expect,
             make_inputs: MakeInputs, counterfactual: Optional[Expect] = None, kind: str = "values",
             profile: str = "general") -> Localization:
    """The facts that hold on two examples drawn independently of the failing one
    (:func:`independent_example`), most specific first: never on the failing example alone, whose
    small sizes and structured values can make unrelated mistakes coincide.

    Where the function is wrong on both, the facts of :func:`detect` found on both (when it returns
    values there), and the size conditions :func:`wrong_conditions` finds on both. Where it is right
    on both (it fails only on some inputs), the conditions :func:`right_conditions` finds on both.
    Otherwise nothing. ``rerun`` runs the student's function (None where it fails); ``expect`` gives
    what its outputs are compared with; ``make_inputs`` makes a test's inputs from an example;
    ``first`` is the failing example's case (None where it raised), not used again."""
    examples = [independent_example(fn, example, k, kind, profile) for k in range(1, INDEPENDENT + 1)]
    cases = [case(fn, ex, rerun, expect, make_inputs) for ex in examples]
    verdicts = [verdict(fn, ex, rerun, expect, make_inputs) for ex in examples]
    if verdicts == [False] * INDEPENDENT:
        kept: List[Fact] = []
        if all(c is not None and c.wrong for c in cases):
            found = [set(detect(c, counterfactual)) for c in cases[1:]]  # type: ignore[arg-type]
            kept = [f for f in detect(cases[0], counterfactual) if all(f in other for other in found)]  # type: ignore[arg-type]
        return Localization(wrong_conditions(fn, examples, rerun, expect, make_inputs) + _ordered(kept), cases)
    if verdicts == [True] * INDEPENDENT:
        return Localization(right_conditions(fn, example, examples, rerun, expect, make_inputs), cases)
    return Localization([], cases)


def verdict(fn: Function, ex: Example, rerun: Rerun, expect: Expect, make_inputs: MakeInputs) -> Optional[bool]:
    """Whether the student's function is right on ``ex``: True, False (wrong values, or it fails to
    return the contract's arrays), or None where the reference itself cannot run it."""
    try:
        inputs = make_inputs(ex)
        with np.errstate(all="ignore"):
            expected = expect(inputs)
    except Exception:  # noqa: BLE001 - the reference cannot run this input
        return None
    actual = rerun(ex, inputs)
    if actual is None or set(expected) - set(actual):
        return False
    return not Case(fn, inputs, actual, expected, ex.size, ex.cell, ex).wrong


SCANNED = ("T", "L")  # the sizes whose smallest wrong value is looked for (``size_from``)
WIDTHS = ("N", "D", "H")  # the sizes that may be made equal to another (``equal_sizes``)


def wrong_conditions(fn: Function, examples: Sequence[Example], rerun: Rerun, expect: Expect,
                     make_inputs: MakeInputs) -> List[Fact]:
    """For a function wrong on every one of ``examples``, the conditions that hold on all of them:
    ``size_from`` (right for T (or L) = 1 .. k-1, wrong from k on) and ``equal_sizes`` (right on the
    same inputs with two widths made equal)."""
    def judge(ex: Example) -> Optional[bool]:
        return verdict(fn, ex, rerun, expect, make_inputs)

    facts = []
    for symbol in SCANNED:
        found, tried = set(), []
        for ex in examples:
            top = ex.size.get(symbol, 0)
            if not 2 <= top <= MAX_T_SCAN:
                break
            verdicts = [judge(resized(ex, symbol, v)) for v in range(1, top)]
            if None in verdicts or not verdicts[0]:
                break
            k = next((v for v, ok in enumerate(verdicts, start=1) if not ok), top)
            if any(verdicts[k - 1:]):
                break
            found.add(k)
            tried.append(top)
        else:
            if len(found) == 1:
                facts.append(_fact("size_from", fn, [], size=symbol, value=found.pop(), tried=min(tried)))
    for a, b in itertools.combinations(WIDTHS, 2):
        if all(a in ex.size and b in ex.size and judge(resized(ex, b, ex.size[a])) for ex in examples):
            facts.append(_fact("equal_sizes", fn, [], sizes=(a, b)))
    return facts


def right_conditions(fn: Function, failing: Example, examples: Sequence[Example], rerun: Rerun, expect: Expect,
                     make_inputs: MakeInputs) -> List[Fact]:
    """For a function right on every one of ``examples`` (all sizes >= 2, values at scale 1), what makes
    it wrong on all of them: ``size_one`` (one size made 1) and, when the failing example was scaled
    beyond the drawn scales, ``scaled`` (the same inputs scaled as the failing one was)."""
    def judge(ex: Example) -> Optional[bool]:
        return verdict(fn, ex, rerun, expect, make_inputs)

    facts = []
    for symbol in SIZE_SYMBOLS:
        if all(symbol in ex.size and judge(resized(ex, symbol, 1)) is False for ex in examples):
            facts.append(_fact("size_one", fn, [], size=symbol))
    if failing.scale > max(SCALES) and all(judge(dataclasses.replace(ex, scale=failing.scale)) is False
                                           for ex in examples):
        facts.append(_fact("scaled", fn, [], scale=failing.scale))
    return facts


def _example_of(case: Case) -> Example:
    assert case.example is not None
    return case.example


ORDER = ("clip_scaled", "clip_not_scaled", "halves_swapped", "layers_reversed", "reversed", "shifted", "transpose",
         "other_output", "changed_input", "missing_tanh", "squared", "h_follows_c", "one_da", "intermediate", "plus_intermediate", "scale", "gates", "halves", "steps",
         "outputs")


def _ordered(facts: List[Fact]) -> List[Fact]:
    return sorted(facts, key=lambda f: ORDER.index(f.kind) if f.kind in ORDER else len(ORDER))


def case(fn: Function, ex: Example, rerun: Rerun, expect: Expect, make_inputs: MakeInputs) -> Optional[Case]:
    """The student's and the expected outputs on ``ex`` (None where either cannot run)."""
    try:
        inputs = make_inputs(ex)
        actual = rerun(ex, inputs)
        if actual is None:
            return None
        with np.errstate(all="ignore"):
            expected = expect(inputs)
    except Exception:  # noqa: BLE001 - no second example, no verified fact
        return None
    if set(expected) - set(actual):
        return None
    return Case(fn, inputs, actual, expected, ex.size, ex.cell, ex)


def passes(fn: Function, ex: Example, rerun: Rerun, expect: Expect, make_inputs: MakeInputs) -> Optional[bool]:
    """Whether the student's function is right on ``ex`` (None where it cannot be told)."""
    found = case(fn, ex, rerun, expect, make_inputs)
    return None if found is None else not found.wrong


def resized(ex: Example, symbol: str, value: int) -> Example:
    """``ex`` with one size changed (more layers take the width of the last one)."""
    dims = tuple((k, value if k == symbol else v) for k, v in ex.dims)
    if symbol == "L":
        size = dict(dims)
        last = size.get(f"H@{ex.size['L'] - 1}")
        if last is not None:
            size.update({f"H@{layer}": last for layer in range(ex.size["L"], value)})
            dims = tuple(sorted(size.items()))
    truncate = ex.truncate
    return dataclasses.replace(ex, dims=dims, truncate=truncate)


# ---------------------------------------------------------------- for reports


def fails(fn: Function, fact: Fact, ex: Example, rerun: Rerun, expect: Expect, make_inputs: MakeInputs) -> str:
    """Why ``fact`` (a fact about values or a size condition) does not hold on the example ``ex``, or ""
    when it does: the truth check's question for each fresh example (autograder.quality.truth)."""
    def judge(e: Example) -> Optional[bool]:
        return verdict(fn, e, rerun, expect, make_inputs)

    if fact.kind == "size_one":
        symbol = fact.get("size")
        if symbol not in ex.size:
            return f"no size {symbol}"
        if judge(ex) is not True:
            return f"it is not right with {symbol} = {ex.size[symbol]}"
        return "" if judge(resized(ex, symbol, 1)) is False else f"it is not wrong with {symbol} = 1"
    if fact.kind == "size_from":
        symbol, k, tried = fact.get("size", "T"), int(fact.get("value")), int(fact.get("tried"))
        for v in range(1, max(k, min(tried, ex.size.get(symbol, 0))) + 1):
            found = judge(resized(ex, symbol, v))
            if found is not (v < k):
                return f"with {symbol} = {v} it is {'right' if found else 'wrong' if found is False else 'not run'}"
        return ""
    if fact.kind == "equal_sizes":
        a, b = fact.get("sizes")
        if judge(ex) is not False:
            return "it is not wrong there"
        return "" if judge(resized(ex, b, ex.size[a])) is True else f"it is not right with {b} = {a}"
    if fact.kind == "scaled":
        if judge(ex) is not True:
            return "it is not right there"
        scaled = dataclasses.replace(ex, scale=float(fact.get("scale")))
        return "" if judge(scaled) is False else f"it is not wrong scaled by {fact.get('scale')}"
    found = case(fn, ex, rerun, expect, make_inputs)
    if found is None:
        return "it could not run there"
    if not found.wrong:
        return "it is right there"
    return "" if verify(fact, found, expect) else "the relation does not hold there"



def verify(fact: Fact, case: Case, counterfactual: Optional[Expect] = None) -> bool:
    """Re-check one non-size fact against a case's arrays (independently of :func:`detect`'s search)."""
    act, exp = case.actual, case.expected
    outs = fact.outputs
    named = set(outs) | set(fact.get("right", ())) | ({fact.get("other")} if fact.kind == "other_output" else set())
    if not named <= set(act) & set(exp) and fact.kind not in ("halves", "halves_swapped", "steps", "shifted", "reversed",
                                                              "layers_reversed"):
        return False  # the fact names an output this case does not have (another number of layers)
    if fact.kind == "outputs":
        return set(case.wrong) == set(outs) and all(agree(act[n], exp[n]) for n in fact.get("right", ()))
    if fact.kind == "scale":
        c = dict(_scales(case.size)).get(fact.get("factor"))
        return c is not None and all(agree(act[n], c * exp[n]) and not agree(act[n], exp[n]) for n in outs)
    if fact.kind == "transpose":
        return all(agree(act[n], exp[n].T) and not agree(act[n], exp[n]) for n in outs)
    if fact.kind == "other_output":
        return all(agree(act[n], exp[fact.get("other")]) and not agree(act[n], exp[n]) for n in outs)
    if fact.kind in ("intermediate", "plus_intermediate"):
        values = dict(intermediates(case.fn, case.inputs))
        v = values.get(fact.get("value"))
        if v is None:
            return False
        want = v if fact.kind == "intermediate" else (lambda n: exp[n] + (1 if fact.get("sign") == "+" else -1) * v)
        return all(agree(act[n], want(n) if callable(want) else want) and not agree(act[n], exp[n]) for n in outs)
    if fact.kind == "changed_input":
        change = counterfactual_changes.from_detail(dict(fact.detail))
        try:
            with np.errstate(all="ignore"):
                blank = counterfactual_changes.evaluate(case.fn, change, case.inputs, case.cell)
        except Exception:  # noqa: BLE001 - the change does not apply to this case
            return False
        return all(agree(act[n], blank[n]) and not agree(act[n], exp[n]) for n in outs)
    if fact.kind == "squared":
        return all(agree(act[n], exp[n] ** 2) and not agree(act[n], exp[n]) for n in outs)
    tie = pack.current().fact_checks.get(fact.kind)
    if tie is not None:
        return case.fn.name in pack.current().facts and bool(case.wrong) and tie(case)[1] == outs
    if fact.kind == "missing_tanh":
        return all(agree(np.tanh(act[n]), exp[n]) and not agree(act[n], exp[n]) for n in outs)
    if fact.kind == "gates":
        H, bad = case.size["H"], set(fact.get("gates"))
        symbols = output_symbols(case.fn, case.size)
        for n in outs:
            axis = symbols[n].index("G")
            for k, g in enumerate(GATES):
                block = range(k * H, (k + 1) * H)
                if agree(np.take(act[n], block, axis), np.take(exp[n], block, axis)) == (g in bad):
                    return False
        return True
    if fact.kind in ("halves", "halves_swapped", "steps", "shifted", "reversed"):
        return _verify_time_or_halves(fact, case)
    if fact.kind == "layers_reversed":
        L = case.size["L"]
        names = [n for n in exp if n.startswith(outs[0] + "[")]
        return bool(names) and all(agree(act[n], exp[_LAYER.sub(f"[{L - 1 - int(_LAYER.search(n).group(1))}]", n, count=1)])
                                   for n in names) and any(not agree(act[n], exp[n]) for n in names)
    if fact.kind in ("clip_scaled", "clip_not_scaled"):
        return fact in _clip(case)
    raise ValueError(f"verify: unknown fact kind {fact.kind!r}")


def _view(case: Case, label: str) -> Tuple[np.ndarray, np.ndarray, Tuple[str, ...]]:
    base = label.split("[..., ")[0]
    symbols = output_symbols(case.fn, case.size)[base]
    act, exp = case.actual[base], case.expected[base]
    if label.endswith(("[..., :H]", "[..., H:]")):
        H, axis = case.size["H"], symbols.index("2H")
        part = range(H) if label.endswith(":H]") else range(H, 2 * H)
        act, exp = np.take(act, part, axis), np.take(exp, part, axis)
    return act, exp, symbols


def _verify_time_or_halves(fact: Fact, case: Case) -> bool:
    for n in fact.outputs:
        act, exp, symbols = _view(case, n)
        if fact.kind in ("halves", "halves_swapped"):
            H, axis = case.size["H"], symbols.index("2H")
            a0, a1 = np.take(act, range(H), axis), np.take(act, range(H, 2 * H), axis)
            e0, e1 = np.take(exp, range(H), axis), np.take(exp, range(H, 2 * H), axis)
            if fact.kind == "halves_swapped":
                ok = agree(a0, e1) and agree(a1, e0) and not agree(e0, e1)
            else:
                first_bad = fact.get("half") == "first"
                ok = agree(a0, e0) != first_bad and agree(a1, e1) == first_bad
            if not ok:
                return False
            continue
        a, e = np.moveaxis(act, symbols.index("T"), 0), np.moveaxis(exp, symbols.index("T"), 0)
        T = a.shape[0]
        if fact.kind == "reversed":
            ok = agree(a, e[::-1]) and not agree(a, e)
        elif fact.kind == "shifted":
            ok = agree(a[1:], e[:-1]) if fact.get("by") == 1 else agree(a[:-1], e[1:])
        else:
            bad = [t for t in range(T) if not agree(a[t], e[t])]
            want = {"every": list(range(T)), "first": [0], "last": [T - 1],
                    "from": list(range(fact.get("step", 0), T)), "until": list(range(0, fact.get("step", 0) + 1)),
                    "steps": list(fact.get("steps", ()))}[fact.get("when")]
            ok = bad == want
        if not ok:
            return False
    return True


# ---------------------------------------------------------------- where a function breaks

BREAKING_KINDS = ("raised", "contract")
_FRAME = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+) in (?P<function>[\w<>]+): (?P<code>.*)$")


def breakage(fn: Function, kind: str, exception: str = "", traceback: Sequence[str] = (),
             problem: str = "", output: Optional[str] = None) -> Optional[Fact]:
    """The fact about a call of ``fn`` that returned no comparable arrays.

    ``kind`` "exception": a ``raised`` fact naming the innermost line of the student's code in the
    ``traceback`` (worker format ``file:line in function: code``) and the ``exception`` type; its
    ``function`` is the student function that line belongs to, which may be a helper or a part.
    ``kind`` "contract": a ``contract`` fact, the return value's ``problem`` (its first line).
    None when there is nothing to say (a timeout, a crash, a traceback outside the student's code)."""
    if kind == "exception":
        frame = _FRAME.match(traceback[-1]) if traceback else None
        if frame is None:
            return None
        return Fact("raised", frame["function"], (), tuple(sorted({
            "type": exception, "file": frame["file"], "line": int(frame["line"]), "code": frame["code"]}.items())))
    if kind == "contract" and problem:
        return _fact("contract", fn, (output,) if output else (), problem=problem.splitlines()[0])
    return None


CONDITION_KINDS = ("size_one", "size_from", "equal_sizes", "scaled")  # when the function is wrong (localize)
PROPERTY_FACTS = ("property",)  # a property test's failure, verified again (explain.property_fact)
LOCALIZING_KINDS = frozenset(ORDER) | frozenset(CONDITION_KINDS) | frozenset(BREAKING_KINDS) | frozenset(PROPERTY_FACTS)


DIAGNOSES = ("catalogue", "values", "property", "breakage")  # best first


def diagnosis(results: Mapping[str, Any], function_name: str,
              visibilities: Sequence[str] = ("visible", "after_due_date")) -> Optional[str]:
    """How the feedback of ``results`` locates a mistake of ``function_name``, best first: a
    "catalogue" sentence, a verified fact about its "values" (other than "every output is wrong"),
    or where it "breaks" (the line that raises, the return value that breaks the contract), in a
    failing test shown with ``visibilities``; None when it only says that the function is wrong."""
    found = set()
    for test in results.get("tests", []):
        extra = test.get("extra_data") or {}
        if test.get("status") == "passed" or test.get("visibility") not in visibilities:
            continue
        if extra.get("function") != function_name:
            continue
        if extra.get("mistake"):
            found.add("catalogue")
        for fact in extra.get("facts") or []:
            if fact.get("function") == function_name and fact.get("kind") in LOCALIZING_KINDS and not (
                    fact.get("kind") == "outputs" and not fact.get("right")):
                found.add("breakage" if fact.get("kind") in BREAKING_KINDS else
                          "property" if fact.get("kind") in PROPERTY_FACTS else "values")
    return next((d for d in DIAGNOSES if d in found), None)


def localized(results: Mapping[str, Any], function_name: str,
              visibilities: Sequence[str] = ("visible", "after_due_date")) -> bool:
    """True when the feedback locates a mistake of ``function_name`` (:func:`diagnosis`)."""
    return diagnosis(results, function_name, visibilities) is not None


__all__ = ["Fact", "Case", "Localization", "agree", "breakage", "detect", "diagnosis", "localize", "verify",
           "case", "passes", "verdict", "fails", "resized", "independent_example", "independent_cases",
           "localized", "intermediates", "output_symbols"]
