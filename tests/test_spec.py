"""The declarative spec, the strategies and the rubric derived from it, and reference.run_scenario."""
from __future__ import annotations

import ast

import numpy as np
import pytest
from hypothesis import given, settings

from autograder.engine import reference
from autograder.engine.pack import function, scenario_args
from autograder.engine.score import load_rubric
from autograder.engine.strategies import Example, examples, expected_structure, materialize
from autograder.packs.rnn_lstm import FUNCTIONS, SOLUTIONS_DIR

SEQ = Example(dims=(('D', 2), ('H', 3), ('N', 2), ('T', 4)), cell='rnn', seed=5, scale=1.0, truncate=2)
DEEP = Example(dims=(('D', 2), ('H', 3), ('H@0', 2), ('H@1', 3), ('L', 2), ('N', 2), ('T', 3)), cell='rnn', seed=6, scale=1.0)


def _graded_names():
    """Functions of the reference modules that hold a solution (not the provided helpers)."""
    names = set()
    for module in ("rnn_layers", "lstm_layers", "deep_layers", "gradient_flow"):
        tree = ast.parse((SOLUTIONS_DIR / f"{module}.py").read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and "provided, not graded" not in (ast.get_docstring(node) or ""):
                names.add((module, node.name))
    return names


def test_spec_describes_every_graded_function_of_the_reference():
    assert {(f.module, f.name) for f in FUNCTIONS} == _graded_names()


def test_rubric_covers_every_function_and_totals_100():
    tests = load_rubric()
    assert {t.function for t in tests} == {f.name for f in FUNCTIONS}
    assert sum(t.points for t in tests) == 100
    assert all(t.full_name.startswith(t.function + ": ") for t in tests)


def test_backward_functions_pair_with_a_forward_and_name_gradients_of_its_inputs():
    for fn in FUNCTIONS:
        if fn.is_backward:
            forward_inputs = {name for name, _ in function(fn.forward).args}
            assert {o.grad_of for o in fn.array_outputs} <= forward_inputs, fn.name


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.name)
def test_reference_outputs_have_the_contracted_shapes(fn):
    @settings(max_examples=5, derandomize=True, database=None, deadline=None)
    @given(examples(fn))
    def check(ex):
        inputs = materialize(fn, ex)
        assert set(inputs) == set(scenario_args(fn))
        got = reference.expected(fn, inputs)
        for out in fn.array_outputs:
            want = expected_structure(out.template, ex.size, ex.cell)
            leaves = {k: v for k, v in got.items() if k == out.name or k.startswith(out.name + "[")
                      or k.startswith(out.name + ".")}
            if isinstance(want, tuple):
                assert leaves[out.name].shape == want
            else:
                assert leaves  # structured outputs are flattened to named leaves

    check()


def test_materialize_is_deterministic():
    fn = function("stacked_backward")
    ex = DEEP
    a, b = materialize(fn, ex), materialize(fn, ex)
    assert all(np.array_equal(x, y) for x, y in zip(a["params"][0].values(), b["params"][0].values()))


def test_run_scenario_overrides_reach_the_reference_internal_calls():
    fn = function("rnn_backward")
    inputs = materialize(fn, SEQ)
    plain = reference.run_scenario("rnn_backward", inputs)

    def zero_step_backward(dnext_h, cache):
        x, prev_h, Wx, Wh, _ = cache
        return (np.zeros_like(x), np.zeros_like(prev_h), np.zeros_like(Wx), np.zeros_like(Wh),
                np.zeros(Wh.shape[0]))

    changed = reference.run_scenario("rnn_backward", inputs, {"rnn_layers.rnn_step_backward": zero_step_backward})
    assert set(changed) == set(plain) == {"dx", "dh0", "dWx", "dWh", "db"}
    assert all(not np.any(v) for v in changed.values())
    # deep layers import rnn_forward by name: the override must still reach them
    deep = function("stacked_forward")
    deep_inputs = materialize(deep, DEEP)
    out = reference.run_scenario("stacked_forward", deep_inputs,
                                 {"rnn_layers.rnn_forward": lambda x, h0, Wx, Wh, b: (np.zeros(x.shape[:2] + (h0.shape[1],)), None)})
    assert not np.any(out["h"])
