"""Helpers shared by the public tests: golden data from torch and assertions that explain failures.

The files in data/ were computed by torch.nn.RNN and torch.nn.LSTM (float64, weights mapped into
this assignment's layout: Wx = weight_ih.T, Wh = weight_hh.T, b = bias_ih + bias_hh). Each file
is a plain .npz: np.load("data/rnn_step__N1_D1_H1.npz") shows what is inside.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
import pytest

from gradient_check import eval_numerical_gradient_array, rel_error

DATA_DIR = Path(__file__).resolve().parent / "data"

# Your results may differ from torch's in the last few digits (another order of operations), never more.
RTOL, ATOL = 1e-6, 1e-8
# Central differences (h = 1e-5) are accurate to about 1e-9 here; a wrong gradient is off by far more.
GRAD_RTOL, GRAD_ATOL = 1e-5, 1e-7


def golden(kind: str) -> List[Any]:
    """Every golden case of one kind as pytest parameters (the id is the case's shape)."""
    params = []
    for path in sorted(DATA_DIR.glob(f"{kind}__*.npz")):
        with np.load(path, allow_pickle=False) as data:
            case = {key: data[key] for key in data.files}
        params.append(pytest.param(case, id=path.stem.split("__", 1)[1]))
    if not params:
        raise FileNotFoundError(f"no golden data {kind}__*.npz in {DATA_DIR}")
    return params


def check_close(actual: Any, expected: np.ndarray, what: str, hint: str = "", rtol: float = RTOL, atol: float = ATOL) -> None:
    """Fail with a message naming the output, the error and a hint when actual != expected."""
    expected = np.asarray(expected)
    if not isinstance(actual, np.ndarray):
        pytest.fail(f"{what}: expected a numpy array of shape {expected.shape}, got {type(actual).__name__}", pytrace=False)
    if actual.shape != expected.shape:
        pytest.fail(f"{what}: shape {actual.shape}, expected {expected.shape}. {hint}".strip(), pytrace=False)
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        error = np.abs(actual - expected)
        error = np.where(np.isfinite(error), error, np.inf)  # a nan or inf in your result counts as the worst entry
        index = np.unravel_index(np.argmax(error), error.shape)
        pytest.fail(
            f"{what} is wrong: max abs error {error[index]:.3e}, rel_error {rel_error(actual, expected):.3e}; "
            f"at index {tuple(int(i) for i in index)} you have {actual[index]!r}, expected {expected[index]!r}. {hint}".strip(),
            pytrace=False,
        )


def require_forward(actual: Any, expected: np.ndarray, forward: str, backward: str) -> None:
    """Skip a test of ``backward`` when ``forward`` is wrong on the same input.

    A backward reads what its forward computed, so a forward bug would make a correct backward
    fail here too: the mistake is reported once, by the forward's own test.
    """
    expected = np.asarray(expected)
    if (not isinstance(actual, np.ndarray) or actual.shape != expected.shape
            or not np.allclose(actual, expected, rtol=RTOL, atol=ATOL)):
        pytest.skip(f"{forward} is wrong on this input, so this test cannot tell whether {backward} is right: "
                    f"fix {forward} first (its own test says what is wrong)")


def require_forward_golden(kind: str, run: Callable[[Dict[str, np.ndarray]], Any], key: str, forward: str,
                           backward: str) -> None:
    """Skip a gradient check of ``backward`` unless ``forward`` matches torch on every golden case of
    ``kind`` (``run(case)`` returns the forward's output ``key``): a gradient check compares the backward
    with the forward, so a wrong forward would make a correct backward fail."""
    for param in golden(kind):
        case = param.values[0]
        require_forward(run(case), case[key], forward, backward)


def numerical_gradient(forward: Callable[[], np.ndarray], wrt: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    """Central-difference gradient of sum(forward() * upstream) with respect to ``wrt``.

    ``forward`` takes no argument: it reads ``wrt``, which eval_numerical_gradient_array nudges
    in place (and restores)."""
    return eval_numerical_gradient_array(lambda _: forward(), wrt, upstream)


def check_gradient(analytic: Any, numeric: np.ndarray, what: str, hint: str = "") -> None:
    """Compare your backward pass with central differences of your own forward pass."""
    check_close(
        analytic,
        numeric,
        f"{what} (gradient check against your forward pass)",
        hint or "Check the derivative of every operation on the way back, and that weight gradients are summed over the batch.",
        rtol=GRAD_RTOL,
        atol=GRAD_ATOL,
    )


def snapshot(*values: Any) -> List[Any]:
    """Deep copies of the inputs, to check afterwards that a function did not modify them."""
    return copy.deepcopy(list(values))


def check_unchanged(before: List[Any], after: List[Any], function: str) -> None:
    """Fail if any array (also inside lists and dicts) differs from its snapshot."""

    def walk(old: Any, new: Any, where: str) -> None:
        if isinstance(old, dict):
            for key in old:
                walk(old[key], new[key], f"{where}[{key!r}]")
        elif isinstance(old, (list, tuple)):
            for i, (o, n) in enumerate(zip(old, new)):
                walk(o, n, f"{where}[{i}]")
        elif not np.array_equal(old, new):
            pytest.fail(f"{function} modified its input {where} in place; work on copies (e.g. x = x.copy()) or new arrays", pytrace=False)

    for i, (old, new) in enumerate(zip(before, after)):
        walk(old, new, f"argument {i + 1}")


def random_arrays(seed: int, **shapes: Any) -> Dict[str, np.ndarray]:
    """Reproducible standard-normal arrays, one per keyword: random_arrays(0, x=(2, 3))."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in shapes.items()}
