"""The mistake catalogue: every variant is a real mistake, and diagnose() recognises each one.

Every check runs twice: with the grader's own ``reference.run_scenario`` (what grading uses) and
with the stand-in below (the reference modules from solutions/, freshly loaded, overrides swapped
in, variants pointed at them through ``use_modules``).
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

import numpy as np
import pytest

from autograder.engine.reference import run_scenario as grader_run_scenario
from autograder.packs.rnn_lstm import GRADED_MODULES
from autograder.packs.rnn_lstm.mistakes import MISTAKES, Mistake, diagnose, mistakes_for
from autograder.packs.rnn_lstm.mistakes._reference import load_reference_modules, use_modules
from autograder.packs.rnn_lstm.mistakes.diagnose import outputs_differ

# --- a stand-in for the grader's reference.run_scenario --------------------------------------


def _flatten(prefix: str, value: Any, out: Dict[str, np.ndarray]) -> None:
    if isinstance(value, dict):
        for key in value:
            _flatten(f"{prefix}.{key}", value[key], out)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _flatten(f"{prefix}[{i}]", item, out)
    else:
        out[prefix] = np.asarray(value, dtype=np.float64)


def _named(names: List[str], values: tuple) -> Dict[str, np.ndarray]:
    out: Dict[str, np.ndarray] = {}
    for name, value in zip(names, values):
        _flatten(name, value, out)
    return out


def _call(mods: Mapping[str, Any], function: str, p: Dict[str, Any]) -> Dict[str, np.ndarray]:
    rnn, lstm, deep, flow = (mods[name] for name in GRADED_MODULES)
    w = (p["Wx"], p["Wh"], p["b"]) if "Wx" in p else ()
    if function == "rnn_step_forward":
        return _named(["next_h"], rnn.rnn_step_forward(p["x"], p["prev_h"], *w)[:1])
    if function == "rnn_step_backward":
        _, cache = rnn.rnn_step_forward(p["x"], p["prev_h"], *w)
        return _named(["dx", "dprev_h", "dWx", "dWh", "db"], rnn.rnn_step_backward(p["dnext_h"], cache))
    if function == "rnn_forward":
        return _named(["h"], rnn.rnn_forward(p["x"], p["h0"], *w)[:1])
    if function == "rnn_backward":
        _, cache = rnn.rnn_forward(p["x"], p["h0"], *w)
        return _named(["dx", "dh0", "dWx", "dWh", "db"], rnn.rnn_backward(p["dh"], cache, truncate=p["truncate"]))
    if function == "lstm_step_forward":
        return _named(["next_h", "next_c"], lstm.lstm_step_forward(p["x"], p["prev_h"], p["prev_c"], *w)[:2])
    if function == "lstm_step_backward":
        _, _, cache = lstm.lstm_step_forward(p["x"], p["prev_h"], p["prev_c"], *w)
        names = ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"]
        return _named(names, lstm.lstm_step_backward(p["dnext_h"], p["dnext_c"], cache))
    if function == "lstm_forward":
        return _named(["h"], lstm.lstm_forward(p["x"], p["h0"], *w)[:1])
    if function == "lstm_backward":
        _, cache = lstm.lstm_forward(p["x"], p["h0"], *w)
        return _named(["dx", "dh0", "dWx", "dWh", "db"], lstm.lstm_backward(p["dh"], cache))
    if function in ("stacked_forward", "stacked_backward"):
        h, cache = deep.stacked_forward(p["x"], p["h0s"], p["params"], cell=p["cell"])
        if function == "stacked_forward":
            return _named(["h"], (h,))
        return _named(["dx", "dh0s", "grads"], deep.stacked_backward(p["dh"], cache))
    if function in ("bidirectional_forward", "bidirectional_backward"):
        h, cache = deep.bidirectional_forward(p["x"], p["h0_f"], p["h0_b"], p["params_f"], p["params_b"], cell=p["cell"])
        if function == "bidirectional_forward":
            return _named(["h"], (h,))
        names = ["dx", "dh0_f", "dh0_b", "grads_f", "grads_b"]
        return _named(names, deep.bidirectional_backward(p["dh"], cache))
    if function == "hidden_grad_norms":
        return _named(["norms"], (flow.hidden_grad_norms(p["x"], p["h0"], *w, cell=p["cell"]),))
    if function == "clip_grad_norm":
        return _named(["clipped", "total_norm"], flow.clip_grad_norm(p["grads"], p["max_norm"]))
    raise KeyError(function)


def stand_in_run_scenario(function: str, inputs: Dict[str, Any],
                          overrides: Optional[Mapping[str, Callable]] = None) -> Dict[str, np.ndarray]:
    """Run ``function``'s scenario on fresh reference modules with ``overrides`` swapped in."""
    mods = load_reference_modules()
    for target, variant in (overrides or {}).items():
        module_name, attr = target.split(".")
        assert hasattr(mods[module_name], attr), target
        setattr(mods[module_name], attr, variant)
    with use_modules(mods):
        return _call(mods, function, inputs)


# --- generic inputs ---------------------------------------------------------------------------


def _params(rng: np.random.Generator, d: int, h: int, cell: str) -> Dict[str, np.ndarray]:
    g = 4 * h if cell == "lstm" else h
    return {"Wx": rng.normal(0, 0.6, (d, g)), "Wh": rng.normal(0, 0.6, (h, g)), "b": rng.normal(0, 0.3, g)}


def input_family(function: str, seed: int = 0) -> Iterator[Dict[str, Any]]:
    """A few generic inputs for ``function`` (N=2, T=7, D=3, H=4; every truncate; both cells; stacked
    layers of different widths and of equal widths, where shape-valid-only-then mistakes show)."""
    rng = np.random.default_rng(seed)
    N, T, D, H = 2, 7, 3, 4
    r = lambda *shape: rng.normal(0, 1, shape)  # noqa: E731
    cell = "lstm" if function.startswith("lstm") else "rnn"
    if function.startswith(("rnn_step", "lstm_step")):
        p = {"x": r(N, D), "prev_h": r(N, H), **_params(rng, D, H, cell)}
        if cell == "lstm":
            p["prev_c"] = r(N, H)
            p.update(dnext_h=r(N, H), dnext_c=r(N, H))
        else:
            p["dnext_h"] = r(N, H)
        yield p
    elif function.startswith(("rnn_", "lstm_")):
        base = {"x": r(N, T, D), "h0": r(N, H), **_params(rng, D, H, cell), "dh": r(N, T, H)}
        for truncate in ((None, 1, 2, 3, T, T + 2) if function == "rnn_backward" else (None,)):
            yield {**base, "truncate": truncate}
    elif function.startswith("stacked"):
        for c, sizes in (("rnn", [D, H, H + 1]), ("lstm", [D, H, H + 1]), ("rnn", [H, H, H]), ("lstm", [H, H, H])):
            params = [_params(rng, sizes[l], sizes[l + 1], c) for l in range(2)]
            yield {"x": r(N, T, sizes[0]), "h0s": [r(N, s) for s in sizes[1:]], "params": params, "cell": c,
                   "dh": r(N, T, sizes[-1])}
    elif function.startswith("bidirectional"):
        for c in ("rnn", "lstm"):
            yield {"x": r(N, T, D), "h0_f": r(N, H), "h0_b": r(N, H), "params_f": _params(rng, D, H, c),
                   "params_b": _params(rng, D, H, c), "cell": c, "dh": r(N, T, 2 * H)}
    elif function == "hidden_grad_norms":
        for c in ("rnn", "lstm"):
            yield {"x": r(N, T, D), "h0": r(N, H), **_params(rng, D, H, c), "cell": c}
    elif function == "clip_grad_norm":
        grads = {"Wx": r(D, H), "Wh": 3 * r(H, H), "b": 0.1 * r(H)}
        total = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
        for max_norm in (0.5 * total, 2.0 * total):
            yield {"grads": grads, "max_norm": max_norm}
    else:
        raise KeyError(function)


def _revealing_input(mistake: Mistake, run_scenario) -> Optional[Dict[str, Any]]:
    """The first generic input on which the variant's outputs differ from the reference's (inputs on
    which the variant raises, e.g. a shape error of a mistake that is shape-valid only for equal
    widths, are passed over)."""
    for inputs in input_family(mistake.function):
        reference = run_scenario(mistake.function, inputs, overrides={})
        try:
            variant = run_scenario(mistake.function, inputs, overrides=mistake.overrides)
        except ValueError:  # numpy's shape mismatch
            continue
        if outputs_differ(reference, variant):
            return inputs
    return None


RUN_SCENARIOS = [pytest.param(stand_in_run_scenario, id="stand-in"), pytest.param(grader_run_scenario, id="grader")]
IDS = [m.key for m in MISTAKES]


# --- the catalogue itself ---------------------------------------------------------------------


def test_catalogue_has_at_least_15_distinct_mistakes_with_unique_keys():
    assert len({m.key for m in MISTAKES}) == len(MISTAKES)
    distinct = {m.key.split("@")[0] for m in MISTAKES}
    assert len(distinct) >= 15


@pytest.mark.parametrize("mistake", MISTAKES, ids=IDS)
def test_mistake_is_one_teaching_sentence(mistake: Mistake):
    text = mistake.sentence
    assert text.endswith(".") and len(text) < 300
    assert not re.search(r"[.!?]\s+[A-Z]", text), "more than one sentence"


@pytest.mark.parametrize("mistake", MISTAKES, ids=IDS)
def test_overrides_replace_real_functions_with_the_same_signature(mistake: Mistake):
    mods = load_reference_modules()
    graded = {name for mod in mods.values() for name, obj in vars(mod).items()
              if inspect.isfunction(obj) and obj.__module__ == mod.__name__}
    assert mistake.function in graded
    assert mistake.overrides
    for target, variant in mistake.overrides.items():
        module_name, attr = target.split(".")
        original = getattr(mods[module_name], attr)
        assert inspect.signature(variant).parameters.keys() == inspect.signature(original).parameters.keys()
        defaults = lambda f: [p.default for p in inspect.signature(f).parameters.values()]  # noqa: E731
        assert defaults(variant) == defaults(original), target


# --- every variant is a real mistake, and diagnose() names it ---------------------------------


@pytest.mark.parametrize("run_scenario", RUN_SCENARIOS)
@pytest.mark.parametrize("mistake", MISTAKES, ids=IDS)
def test_variant_differs_from_reference_and_is_diagnosed(mistake: Mistake, run_scenario):
    inputs = _revealing_input(mistake, run_scenario)
    assert inputs is not None, f"{mistake.key} equals the reference on every generic input"
    student = run_scenario(mistake.function, inputs, overrides=mistake.overrides)
    found = diagnose(mistake.function, inputs, student, run_scenario)
    assert mistake in found, [m.key for m in found]
    best = run_scenario(mistake.function, inputs, overrides=found[0].overrides)
    assert not outputs_differ(best, student), f"{found[0].key} ranked first but does not reproduce {mistake.key}"


@pytest.mark.parametrize("run_scenario", RUN_SCENARIOS)
@pytest.mark.parametrize("function", sorted({m.function for m in MISTAKES}))
def test_correct_or_unrelated_outputs_are_not_diagnosed(function: str, run_scenario):
    inputs = next(input_family(function, seed=1))
    reference = run_scenario(function, inputs, overrides={})
    assert diagnose(function, inputs, reference, run_scenario) == []
    rng = np.random.default_rng(2)
    garbage = {name: value + rng.normal(0, 1, value.shape) for name, value in reference.items()}
    assert diagnose(function, inputs, garbage, run_scenario) == []


def test_a_crashing_variant_is_no_match_and_a_missing_output_is_no_diagnosis():
    inputs = next(input_family("rnn_step_backward"))
    student = stand_in_run_scenario("rnn_step_backward", inputs, overrides=mistakes_for("rnn_step_backward")[0].overrides)

    def broken(*args, **kwargs):
        raise ValueError("shapes (2,4) and (3,4) not aligned")

    crashing = Mistake("test.crash", "rnn_step_backward", "x.", {"rnn_layers.rnn_step_backward": broken})
    assert diagnose("rnn_step_backward", inputs, student, stand_in_run_scenario, mistakes=[crashing]) == []
    del student["dx"]
    assert diagnose("rnn_step_backward", inputs, student, stand_in_run_scenario) == []
