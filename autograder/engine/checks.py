"""Comparisons: return types and shapes, values with tolerances, directional gradient checks, in-place.

Every check raises :class:`CheckFailed` with a short message naming the output that is wrong;
the hidden tests attach the (smallest) failing example to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from autograder.engine.spec import Cache, FloatScalar, Function, Tol
from autograder.engine.strategies import expected_structure, flatten
from autograder.worker.client import Failure, Handle
from autograder.worker.protocol import Scalar

FD_STEP = 1e-6  # central-difference step of the gradient checks


@dataclass
class CheckFailed(Exception):
    message: str
    output: Optional[str] = None
    max_abs: Optional[float] = None
    max_rel: Optional[float] = None
    actual: Optional[Dict[str, np.ndarray]] = None  # the student's outputs (for the mistakes catalogue)
    example: Any = None
    inputs: Optional[Dict[str, Any]] = None  # the inputs the check ran (when not materialize(example))
    mistakes: List[Any] = field(default_factory=list)
    nonfinite: bool = False  # raised because an output holds NaN or inf
    expected: Optional[Dict[str, np.ndarray]] = None  # what the outputs were compared with (None: the reference)
    outcome: Any = None  # the worker's Failure, when the function raised (client.Failure)
    contract: str = ""  # the contract problem (type, shape, NaN) as unpack said it, when that is the failure

    def __str__(self) -> str:
        return self.message


def type_name(value: Any) -> str:
    if isinstance(value, Handle):
        return value.type_name
    if isinstance(value, Scalar):
        return value.type_name
    if isinstance(value, np.ndarray):
        return "numpy.ndarray"
    return type(value).__name__


def failure(outcome: Failure, what: str = "") -> CheckFailed:
    return CheckFailed(f"{what}{outcome.describe()}", outcome=outcome)


# ---------------------------------------------------------------- types and shapes


def unpack(fn: Function, value: Any, size: Dict[str, int], cell: str, strict: bool = True,
           finite: bool = True) -> Dict[str, np.ndarray]:
    """Validate a student's return value against the contract; return its outputs by name (float64).

    ``strict=False`` checks only the types (arrays where arrays are due), not shapes or values;
    ``finite=False`` accepts NaN and inf (the caller compares with ``equal_nan``).
    """
    names = [o.name for o in fn.outputs]
    if len(fn.outputs) == 1:
        items: Any = [value]
    else:
        if not isinstance(value, (tuple, list)) or len(value) != len(fn.outputs):
            got = f"{type_name(value)} of {len(value)} values" if isinstance(value, (tuple, list)) else type_name(value)
            raise CheckFailed(f"{fn.name} must return a tuple ({', '.join(names)}), got {got}")
        items = value
    named: Dict[str, np.ndarray] = {}
    for out, item in zip(fn.outputs, items):
        if isinstance(out.template, Cache):
            continue
        _leaf(out.name, item, expected_structure(out.template, size, cell), named, strict, finite)
    return named


def _leaf(name: str, value: Any, structure: Any, named: Dict[str, np.ndarray], strict: bool = True,
          finite: bool = True) -> None:
    if isinstance(structure, FloatScalar):
        if isinstance(value, Scalar) and not isinstance(value.value, bool):
            named[name] = np.asarray(float(value.value))
        elif isinstance(value, np.ndarray) and value.size == 1:
            named[name] = np.asarray(float(value.reshape(())), dtype=np.float64)
        else:
            raise CheckFailed(f"{name} must be a float, got {type_name(value)}", output=name)
        if strict and finite:
            _finite(name, named[name])
        return
    if isinstance(structure, tuple):
        if not isinstance(value, np.ndarray):
            raise CheckFailed(f"{name} must be a numpy.ndarray, got {type_name(value)}", output=name)
        if not strict:
            return
        if value.shape != structure:
            raise CheckFailed(f"{name} has shape {value.shape}, expected {structure}", output=name)
        named[name] = value.astype(np.float64)
        if finite:
            _finite(name, named[name])
        return
    if isinstance(structure, dict):
        if not isinstance(value, dict):
            raise CheckFailed(f"{name} must be a dict with keys {', '.join(structure)}, got {type_name(value)}",
                              output=name)
        if set(value) != set(structure):
            raise CheckFailed(f"{name} must have the keys {', '.join(structure)}, got {', '.join(map(str, value))}",
                              output=name)
        for key, sub in structure.items():
            _leaf(f"{name}.{key}", value[key], sub, named, strict, finite)
        return
    if isinstance(structure, list):
        if not isinstance(value, (list, tuple)) or len(value) != len(structure):
            got = f"{type_name(value)} of length {len(value)}" if isinstance(value, (list, tuple)) else type_name(value)
            raise CheckFailed(f"{name} must be a list of {len(structure)} values (one per layer), got {got}",
                              output=name)
        for i, sub in enumerate(structure):
            _leaf(f"{name}[{i}]", value[i], sub, named, strict, finite)
        return
    raise TypeError(structure)  # pragma: no cover - spec error


def _finite(name: str, value: np.ndarray) -> None:
    if not np.all(np.isfinite(value)):
        what = "NaN" if np.any(np.isnan(value)) else "inf"
        raise CheckFailed(f"{name} contains {what} (overflow? a naive sigmoid 1/(1+exp(-a)) overflows for large "
                          f"negative a; np.exp of a large number is inf)", output=name, nonfinite=True)


def all_finite(named: Mapping[str, np.ndarray]) -> bool:
    return all(bool(np.all(np.isfinite(v))) for v in named.values())


# ---------------------------------------------------------------- values


def compare(name: str, actual: np.ndarray, expected: np.ndarray, tol: Tol,
            equal_nan: bool = False) -> Tuple[bool, float, float]:
    """(passes, max abs error, max error relative to max|expected|).

    ``equal_nan``: NaN and inf must sit where the expected value has the same NaN or inf (else the
    error is inf); the finite entries are compared as usual.
    """
    if equal_nan:
        odd_a, odd_e = ~np.isfinite(actual), ~np.isfinite(expected)
        if odd_a.any() or odd_e.any():
            if not (np.array_equal(odd_a, odd_e) and np.array_equal(actual[odd_a], expected[odd_e], equal_nan=True)):
                return False, float("inf"), float("inf")
            actual, expected = actual[~odd_a], expected[~odd_e]
    err = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return err <= tol.atol + tol.rtol * scale, err, err / max(scale, 1e-300) if err else 0.0


def mismatch(actual: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], tol: Tol,
             equal_nan: bool = False) -> Optional[CheckFailed]:
    """The first output that differs from the expected one, or None (``equal_nan``: see compare)."""
    for name, want in expected.items():
        ok, err, rel = compare(name, actual[name], want, tol, equal_nan)
        if not ok:
            return CheckFailed(f"{name} is wrong: max abs error {err:.3g}, max rel error {rel:.3g}", output=name,
                               max_abs=err, max_rel=rel, actual=dict(actual))
    return None


# ---------------------------------------------------------------- gradient checks


def loss(outputs: Mapping[str, np.ndarray], upstream: Mapping[str, np.ndarray]) -> float:
    """L = sum over outputs of <output, upstream> (upstream keyed by output name)."""
    return float(sum(np.sum(outputs[name] * up) for name, up in upstream.items()))


def directional_check(name: str, analytic: np.ndarray, direction: np.ndarray, loss_plus: float, loss_minus: float,
                      loss_0: float) -> Optional[CheckFailed]:
    """Compare <analytic, direction> with (L(x + hv) - L(x - hv)) / 2h."""
    ana = float(np.sum(analytic * direction))
    num = (loss_plus - loss_minus) / (2 * FD_STEP)
    scale = float(np.linalg.norm(analytic)) * float(np.linalg.norm(direction))
    tol = 1e-6 * (1 + abs(loss_0)) + 1e-5 * (abs(num) + abs(ana)) + 1e-7 * scale
    err = abs(num - ana)
    if err <= tol:
        return None
    rel = err / max(abs(num), abs(ana), 1e-300)
    return CheckFailed(
        f"{name} does not match your own forward function: along a random direction v, "
        f"<{name}, v> = {ana:.6g} but central differences of your forward give {num:.6g} "
        f"(abs error {err:.3g}, rel error {rel:.3g})", output=name, max_abs=err, max_rel=rel)


def shifted(inputs: Dict[str, Any], path: str, delta: np.ndarray) -> Dict[str, Any]:
    """A copy of the inputs with ``delta`` added to the leaf named ``path`` (``params[1].Wh``)."""
    import copy

    out = copy.copy(inputs)
    top = path.split("[")[0].split(".")[0]
    out[top] = copy.deepcopy(inputs[top])
    container: Any = out
    keys = _path_keys(path)
    for key in keys[:-1]:
        container = container[key]
    container[keys[-1]] = container[keys[-1]] + delta
    return out


def _path_keys(path: str) -> List[Any]:
    keys: List[Any] = []
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        keys.append(int(part[1:-1]) if part.startswith("[") else part)
    return keys


def leaves(value: Any, prefix: str) -> List[Tuple[str, np.ndarray]]:
    return [(n, v) for n, v in flatten(value, prefix) if isinstance(v, np.ndarray)]


# ---------------------------------------------------------------- in place


def modified(sent: Mapping[str, Any], after: List[Any], arg_names: List[str]) -> Optional[str]:
    """The name of the first input leaf the call changed, or None."""
    for name, value in zip(arg_names, after):
        if value is None or name not in sent:
            continue
        before = dict(leaves(sent[name], name))
        for leaf_name, leaf in flatten(value, name):
            if leaf_name in before and (not isinstance(leaf, np.ndarray) or leaf.shape != before[leaf_name].shape
                                        or not np.array_equal(leaf, before[leaf_name], equal_nan=True)):
                return leaf_name
    return None
