"""Helpers shared by the public tests: golden data from torch and assertions that explain failures.

The files in data/ were computed by torch.nn.RNN and torch.nn.LSTM (float64, weights mapped into
this assignment's layout: Wx = weight_ih.T, Wh = weight_hh.T, b = bias_ih + bias_hh). Each file
is a plain .npz: np.load("data/rnn_step__N1_D1_H1.npz") shows what is inside.
"""
from __future__ import annotations

import copy
import importlib
import inspect
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
    ``kind`` (``run(case)`` returns the forward's output ``key``) and leaves its inputs unchanged: a
    gradient check compares the backward with the forward, so a wrong forward would make a correct
    backward fail."""
    for param in golden(kind):
        case = param.values[0]
        before = copy.deepcopy(case)
        output = run(case)
        changed = _changed(before, case)
        if changed is not None:
            pytest.skip(f"{in_place(forward, changed)}, so this test cannot tell whether {backward} is right: "
                        f"fix {forward} first (its own test says the same)")
        require_forward(output, case[key], forward, backward)


def in_place(function: str, changed: str) -> str:
    return (f"{function} modified its input {changed} in place (the caller's array changed); work on copies "
            f"(e.g. c = c.copy()) or new arrays (c = c * f, not c *= f)")


def _changed(old: Any, new: Any, where: str = "") -> Any:
    """The first place (e.g. ``prev_c`` or ``params[1]['Wx']``) where ``new`` differs from ``old``, else None."""
    if isinstance(old, dict):
        for key in old:
            found = _changed(old[key], new[key], f"{where}[{key!r}]" if where else str(key))
            if found is not None:
                return found
        return None
    if isinstance(old, (list, tuple)):
        for i, (o, n) in enumerate(zip(old, new)):
            found = _changed(o, n, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    return None if np.array_equal(old, new) else where


def call_forward(forward: Callable[..., Any], *args: Any, backward: str = "", **kwargs: Any) -> Any:
    """``forward(*args, **kwargs)``, checking that it left every input unchanged (the contract).

    If it changed one, the test fails naming the input; a test of ``backward`` (which needs the
    forward) is skipped instead, since the mistake is the forward's and its own test reports it.
    """
    __tracebackhide__ = True  # a failure shows the test and the student's function, not this helper
    before = copy.deepcopy((args, kwargs))
    result = forward(*args, **kwargs)
    try:
        names = list(inspect.signature(forward).bind(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        names = [f"argument {i + 1}" for i in range(len(args))] + list(kwargs)
    values = list(args) + list(kwargs.values())
    changed = _changed(dict(zip(names, before[0] + tuple(before[1].values()))), dict(zip(names, values)))
    if changed is not None:
        message = in_place(forward.__name__, changed)
        if backward:
            pytest.skip(f"{message}, so this test cannot tell whether {backward} is right: fix {forward.__name__} first "
                        f"(its own test says the same)")
        pytest.fail(message, pytrace=False)
    return result


# The forwards other functions are built on: (cell, "step" or "sequence") -> module, function, golden data, arguments.
FORWARDS = {("rnn", "step"): ("rnn_layers", "rnn_step_forward", "rnn_step", ("x", "prev_h", "Wx", "Wh", "b")),
            ("lstm", "step"): ("lstm_layers", "lstm_step_forward", "lstm_step", ("x", "prev_h", "prev_c", "Wx", "Wh", "b")),
            ("rnn", "sequence"): ("rnn_layers", "rnn_forward", "rnn_seq", ("x", "h0", "Wx", "Wh", "b")),
            ("lstm", "sequence"): ("lstm_layers", "lstm_forward", "lstm_seq", ("x", "h0", "Wx", "Wh", "b"))}


def require_unchanged(cell: Any, function: str, sequence: bool = False) -> None:
    """Skip a test of ``function`` (built on your step forward of ``cell``, and with ``sequence`` on your
    sequence forward too) when one of those forwards changes its inputs in place: ``function`` would
    look wrong although the mistake is the forward's, which its own test reports."""
    __tracebackhide__ = True
    for level in ("step", "sequence") if sequence else ("step",):
        module, name, kind, args = FORWARDS[(str(cell), level)]
        forward = getattr(importlib.import_module(module), name)
        case = golden(kind)[0].values[0]
        before = copy.deepcopy(case)
        try:
            forward(*(case[a] for a in args))
        except Exception:  # noqa: BLE001 - not written yet, or it fails: its own test says so
            continue
        changed = _changed(before, case)
        if changed is not None:
            pytest.skip(f"{in_place(name, changed)}; {function} is built on it, so this test cannot tell whether "
                        f"{function} is right: fix {name} first (its own test says the same)")


def which_other(analytic: Any, candidates: List[np.ndarray], index: int, rtol: float = RTOL, atol: float = ATOL) -> Any:
    """The index of another candidate that ``analytic`` equals (a list in the wrong order), else None."""
    for other, value in enumerate(candidates):
        if other != index and isinstance(analytic, np.ndarray) and analytic.shape == value.shape \
                and np.allclose(analytic, value, rtol=rtol, atol=atol):
            return other
    return None


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
