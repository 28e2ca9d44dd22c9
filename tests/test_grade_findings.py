"""The grader findings of reports/mutation-survivors-for-grader.md, each graded end to end.

Every submission is solutions/rnn_lstm with one change: a textual edit (``copy_solutions`` of
test_grade) or variants from the mistakes catalogue (``write_mistake_submission`` of
test_mistakes_grading, which imports them from autograder.packs.rnn_lstm.mistakes: `process` sandbox mode only).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from test_grade import MODE, copy_solutions, failed_tests, full
from test_mistakes_grading import write_mistake_submission

from autograder.engine.grade import grade_submission
from autograder.packs.rnn_lstm.mistakes import MISTAKES, Mistake

BY_KEY: Dict[str, Mistake] = {m.key: m for m in MISTAKES}
CHUNKS = "rnn_backward: truncated BPTT equals chunk by chunk"
DOWNSTREAM_OF_RNN_STEP_BACKWARD = ("rnn_backward", "stacked_backward", "bidirectional_backward", "hidden_grad_norms")


def with_mistakes(folder: Path, *keys: str) -> Path:
    """A submission with the variants of every mistake in ``keys`` swapped in."""
    overrides: Dict[str, object] = {}
    for key in keys:
        overrides.update(BY_KEY[key].overrides)
    return write_mistake_submission(Mistake("+".join(keys), BY_KEY[keys[0]].function, "", overrides), folder)


def grade(folder: Path) -> dict:
    return grade_submission(folder, sandbox=MODE)


def named_test(results: dict, name: str) -> dict:
    return next(t for t in results["tests"] if t["name"] == name)


def not_full(results: dict) -> List[str]:
    return sorted(name for name, ok in full(results).items() if not ok)


# --- 1. clip_grad_norm: `>=` instead of `>` (all-zero gradients, max_norm 0) ----------------------


def test_clip_grad_norm_with_ge_instead_of_gt_fails_on_all_zero_gradients(tmp_path):
    folder = copy_solutions(tmp_path / "clip_ge", {"gradient_flow": [
        ("if total_norm > max_norm else 1.0", "if total_norm >= max_norm else 1.0")]})
    results = grade(folder)
    assert not_full(results) == ["clip_grad_norm"]
    values = named_test(results, "clip_grad_norm: values (below, at and above max_norm)")
    assert values["status"] == "failed"
    assert "ZeroDivisionError" in values["output"]
    assert "max_norm=0.0, every gradient array zero" in values["output"]  # the failing input is named


# --- 2. the chunk-by-chunk test and rnn_forward bugs ----------------------------------------------


def test_a_correct_rnn_backward_keeps_its_points_when_rnn_forward_stores_h_shifted(tmp_path):
    results = grade(with_mistakes(tmp_path / "h_shifted", "rnn.forward_h_shifted"))
    assert not_full(results) == ["rnn_forward"]
    assert named_test(results, CHUNKS)["status"] == "passed"


@pytest.mark.parametrize("truncation_bug", ["rnn.truncate_chunks_from_end", "rnn.truncate_off_by_one"])
def test_a_wrong_truncation_still_fails_the_chunk_test_beside_a_shifted_rnn_forward(tmp_path, truncation_bug):
    results = grade(with_mistakes(tmp_path / "both", "rnn.forward_h_shifted", truncation_bug))
    chunks = named_test(results, CHUNKS)
    if truncation_bug == "rnn.truncate_off_by_one":  # it also cuts at t = T-1 with truncate=None: full BPTT is
        # wrong, so truncation cannot be judged and is not paid twice (rnn_backward computes: right on some of
        # its values examples); the full-BPTT tests charge it
        assert chunks["status"] == "passed", chunks
        assert "Not judged, and not charged: rnn_backward with truncate=None (full BPTT) is wrong" in chunks["output"]
        assert named_test(results, "rnn_backward: backward vs reference")["status"] == "failed"
        return
    assert chunks["status"] == "failed", chunks
    # The truncate the message names is the one the shown input holds (it used to show truncate = None).
    said = re.search(r"with truncate=(\d+),", chunks["output"])
    header = re.search(r"Failing input sizes: .*truncate=(\w+)|Smallest failing input found \(.*truncate=(\w+)",
                       chunks["output"])
    assert said and header, chunks["output"]
    assert (header.group(1) or header.group(2)) == said.group(1), chunks["output"]
    shown = re.search(r"^\s*truncate = (\w+)$", chunks["output"], re.M)
    assert shown is None or shown.group(1) == said.group(1), chunks["output"]


# --- 3. non-finite results that come from the student's own cells --------------------------------


def test_a_cell_returning_inf_is_not_paid_again_by_correct_functions_built_on_it(tmp_path):
    results = grade(with_mistakes(tmp_path / "arctanh", "rnn.tanh_grad_on_preactivation"))
    assert not_full(results) == ["rnn_step_backward"], [
        (t["name"], t["output"][:200]) for name in DOWNSTREAM_OF_RNN_STEP_BACKWARD for t in failed_tests(results, name)]


def test_a_sequence_function_returning_nan_where_the_composed_reference_is_finite_still_fails(tmp_path):
    # rnn_backward feeds NaN into the step wherever tanh saturated to exactly +-1; every cell is correct,
    # so the reference built on them is finite there (tanh' is 0).
    folder = copy_solutions(tmp_path / "nan_at_saturation", {"rnn_layers": [
        ("rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])",
         "rnn_step_backward(np.where(np.abs(cache[t][4]) == 1.0, np.nan, dh[:, t, :] + dprev_h), cache[t])")]})
    results = grade(folder)
    # rnn_backward pays; stacked_backward and bidirectional_backward, built on it, give what the reference
    # composed on the student's rnn_backward gives (the same NaN), so they do not.
    assert not_full(results) == ["rnn_backward"]
    assert any("dx contains NaN" in t["output"] for t in failed_tests(results, "rnn_backward"))


def test_equal_nan_comparison_wants_the_same_nan_and_inf_and_close_finite_values():
    from autograder.engine.checks import mismatch
    from autograder.engine.spec import Tol

    want = {"dx": np.array([1.0, np.nan, np.inf, -np.inf])}
    assert mismatch({"dx": want["dx"] + 1e-12}, want, Tol(), equal_nan=True) is None
    with np.errstate(invalid="ignore"):
        assert mismatch({"dx": want["dx"]}, want, Tol()) is not None  # without equal_nan, NaN never passes
    for bad in ([1.1, np.nan, np.inf, -np.inf], [1.0, 0.0, np.inf, -np.inf], [1.0, np.nan, -np.inf, -np.inf],
                [1.0, np.nan, np.nan, -np.inf], [np.nan, np.nan, np.inf, -np.inf]):
        assert mismatch({"dx": np.array(bad)}, want, Tol(), equal_nan=True) is not None, bad
