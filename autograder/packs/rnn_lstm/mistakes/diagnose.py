"""Name the likely mistake behind a failed test by rerunning the failing input with each variant."""
from __future__ import annotations

import copy
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from autograder.packs.rnn_lstm.mistakes.model import Mistake

# A variant "matches" a student output when they agree this closely (the student's code and the
# variant compute the same wrong formula, maybe in another order).
MATCH_RTOL = 1e-6
MATCH_ATOL = 1e-8
# An output is "wrong" (and must be explained) when it is further than this from the reference.
WRONG_RTOL = 1e-6
WRONG_ATOL = 1e-8

RunScenario = Callable[..., Mapping[str, Any]]


def close(a: Any, b: Any, rtol: float = MATCH_RTOL, atol: float = MATCH_ATOL) -> bool:
    """Same shape and np.allclose (NaNs equal); False for anything that is not numeric."""
    try:
        a_arr = np.asarray(a, dtype=np.float64)
        b_arr = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return a_arr.shape == b_arr.shape and bool(np.allclose(a_arr, b_arr, rtol=rtol, atol=atol, equal_nan=True))


def wrong_outputs(student: Mapping[str, Any], reference: Mapping[str, Any]) -> List[str]:
    """Names of the reference outputs that the student got wrong (missing counts as wrong)."""
    return [name for name, ref in reference.items()
            if name not in student or not close(student[name], ref, WRONG_RTOL, WRONG_ATOL)]


def _run(run_scenario: RunScenario, function: str, inputs: Mapping[str, Any],
         overrides: Mapping[str, Callable]) -> Optional[Mapping[str, Any]]:
    """The scenario's outputs, or None when the variant cannot run on this input (e.g. a shape error)."""
    try:
        return run_scenario(function, copy.deepcopy(dict(inputs)), overrides=dict(overrides))
    except Exception:  # a variant that crashes on this input simply does not explain it
        return None


def diagnose(function: str, inputs: Mapping[str, Any], student_outputs: Mapping[str, Any],
             run_scenario: RunScenario, mistakes: Optional[Sequence[Mistake]] = None) -> List[Mistake]:
    """The catalogued mistakes that explain a student's outputs on one failing input, best first.

    ``run_scenario(function, inputs, overrides=...)`` reruns the failing scenario with the reference
    modules (with the functions in ``overrides`` swapped) and returns named outputs, the same names
    as ``student_outputs``. A mistake matches when every output the student got wrong equals the
    variant's (same shape, np.allclose with MATCH_RTOL/MATCH_ATOL) and the variant differs from the
    reference there. Matches that also reproduce the outputs the student got right come first.
    Returns [] when the student got nothing wrong or the reference itself cannot run.
    """
    if mistakes is None:
        from autograder.packs.rnn_lstm.mistakes.catalogue import MISTAKES as mistakes
    reference = _run(run_scenario, function, inputs, {})
    if reference is None:
        return []
    wrong = wrong_outputs(student_outputs, reference)
    if not wrong or any(name not in student_outputs for name in wrong):
        return []
    right = [name for name in reference if name not in wrong]
    ranked: List[Tuple[int, int, Mistake]] = []
    for index, mistake in enumerate(m for m in mistakes if m.function == function):
        variant = _run(run_scenario, function, inputs, mistake.overrides)
        if variant is None or any(name not in variant for name in wrong):
            continue
        if not all(close(variant[name], student_outputs[name]) for name in wrong):
            continue
        if all(close(variant[name], reference[name], WRONG_RTOL, WRONG_ATOL) for name in wrong):
            continue  # the variant equals the reference here: it explains nothing
        unexplained = sum(1 for name in right if name not in variant or not close(variant[name], reference[name], WRONG_RTOL, WRONG_ATOL))
        ranked.append((unexplained, index, mistake))
    return [mistake for _, _, mistake in sorted(ranked, key=lambda item: item[:2])]


def outputs_differ(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when two named-output dicts differ in any output (or in their names)."""
    return set(a) != set(b) or any(not close(a[name], b[name], WRONG_RTOL, WRONG_ATOL) for name in a)


__all__ = ["diagnose", "wrong_outputs", "close", "outputs_differ", "MATCH_RTOL", "MATCH_ATOL"]
