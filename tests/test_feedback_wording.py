"""What a failed test's header and size facts say: only the sizes the function's inputs have (no T for a
step function; the arrays' shapes for clip_grad_norm's dict of gradients), ranges that read naturally,
and no guess at a cause that was not verified."""
from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import pytest

from autograder.engine import pack
from autograder.engine.localize import Fact
from autograder.engine.spec import array_shaped_args, input_sizes
from autograder.engine.strategies import boundary_examples, materialize
from autograder.feedback import messages


def _resized(ex: Any, symbol: str) -> Any:
    dims = dict(ex.dims)
    dims[symbol] += 1
    if symbol == "L":  # a new layer, as wide as the last
        dims[f"H@{dims['L'] - 1}"] = dims[f"H@{dims['L'] - 2}"]
    return dataclasses.replace(ex, dims=tuple(sorted(dims.items())))


def _shapes(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.shape
    if isinstance(value, dict):
        return {k: _shapes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shapes(v) for v in value]
    return None


@pytest.mark.parametrize("fn", pack.current().functions, ids=lambda f: f.name)
def test_a_header_names_exactly_the_sizes_that_shape_the_inputs(fn) -> None:
    """A size is named when changing it changes the shape of an input other than a dict of gradients
    (whose arrays' shapes are listed instead); a size that changes none (T of a step function) is not."""
    made_for = (pack.function(fn.forward), fn) if fn.forward else (fn,)
    for ex in boundary_examples(fn):
        named = {k for k, _ in input_sizes(made_for, ex.size)}
        inputs = materialize(fn, ex)
        arrays = set(array_shaped_args(made_for))
        for symbol in ex.size:
            other = materialize(fn, _resized(ex, symbol))
            changed = {n for n in inputs if _shapes(inputs[n]) != _shapes(other[n])}
            assert (symbol in named) == bool(changed - arrays), (fn.name, symbol, changed)
        assert arrays <= set(inputs)
        assert [k for k, _ in input_sizes(made_for, ex.size)] == sorted(named, key=lambda k: (
            ("N", "T", "D", "H", "L").index(k) if k in ("N", "T", "D", "H", "L") else 5, len(k), k))


def test_headers_of_a_step_function_and_of_clip_grad_norm() -> None:
    step = pack.current().by_name["rnn_step_forward"]
    assert input_sizes([step], {"N": 2, "T": 30, "D": 3, "H": 4}) == (("N", 2), ("D", 3), ("H", 4))
    stacked = [pack.function("stacked_forward"), pack.function("stacked_backward")]
    size = {"N": 1, "T": 3, "D": 2, "L": 11, **{f"H@{k}": k + 1 for k in range(11)}}
    assert [k for k, _ in input_sizes(stacked, size)][:6] == ["N", "T", "D", "L", "H@0", "H@1"]
    assert [k for k, _ in input_sizes(stacked, size)][-1] == "H@10"
    clip = pack.current().by_name["clip_grad_norm"]
    assert input_sizes([clip], {"N": 1, "T": 1, "D": 2, "H": 3}) == ()
    sizes = messages.input_sizes((), {"grads": {"Wx": (2, 3), "Wh": (3, 3), "b": (3,)}})
    assert sizes == "grads with Wx 2×3, Wh 3×3 and b of length 3"
    assert messages.sizes_only(sizes, ", max_norm=0.5") == \
        "Failing input sizes: grads with Wx 2×3, Wh 3×3 and b of length 3, max_norm=0.5"
    assert messages.input_header("", ", max_norm=0.5", 1.0) == "Smallest failing input found (max_norm=0.5, values scaled by 1):"


@pytest.mark.parametrize("value, tried", [(2, 2), (2, 5), (4, 4), (4, 6)])
def test_ranges_read_naturally(value: int, tried: int) -> None:
    """No "T = 1 to 1": a range of one value is that value."""
    said = messages.fact_sentence(Fact("size_from", "rnn_forward", (), (("size", "T"), ("tried", tried), ("value", value))))
    assert not re.search(r"T = (\d+) to \1\b", said), said
    assert ("T = 1 to" in said) == (value > 2) and f"T = {value}" in said, said


def test_a_size_of_one_is_said_without_a_guess_at_its_cause() -> None:
    said = messages.fact_sentence(Fact("size_one", "rnn_step_forward", (), (("size", "H"),)))
    assert "squeeze" not in said and "?" not in said and said.endswith("when the hidden width H is 1."), said
