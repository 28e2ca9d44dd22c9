"""Faithful grades: every point is evidence, every mistake costs once, in the function that has it.

Each submission is hand-written for one rule: the reference with a textual edit (``copy_solutions``),
or, for the submissions that compute nothing, written out in full here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
from test_grade import MODE, copy_solutions, failed_tests

from autograder.engine.grade import grade_submission
from autograder.engine.score import load_rubric

STEP = "    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)\n    cache = (x, prev_h, Wx, Wh, next_h)"


def grade(folder: Path) -> dict:
    return grade_submission(folder, sandbox=MODE)


def function_points(results: dict) -> Dict[str, float]:
    return {name: entry["max_score"] - entry["score"] for name, entry in results["extra_data"]["functions"].items()}


def lost_outside(results: dict, function: str) -> Dict[str, float]:
    return {name: lost for name, lost in function_points(results).items() if lost > 0 and name != function}


def notes(results: dict, function: str) -> str:
    return "\n".join(t["output"] for t in results["tests"] if t["extra_data"]["function"] == function)


@pytest.fixture(scope="module")
def squeezed(tmp_path_factory) -> dict:
    """rnn_step_forward squeezes next_h: wrong (a shape error) only when N or H is 1."""
    folder = copy_solutions(tmp_path_factory.mktemp("squeezed"), {"rnn_layers": [
        (STEP, STEP.replace("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)",
                            "next_h = np.squeeze(np.tanh(x @ Wx + prev_h @ Wh + b))"))]})
    return grade(folder)


@pytest.fixture(scope="module")
def relu(tmp_path_factory) -> dict:
    """rnn_step_forward uses ReLU instead of tanh: wrong on every input; rnn_step_backward is the reference's."""
    folder = copy_solutions(tmp_path_factory.mktemp("relu"), {"rnn_layers": [
        (STEP, STEP.replace("np.tanh(x @ Wx + prev_h @ Wh + b)", "np.maximum(0.0, x @ Wx + prev_h @ Wh + b)"))]})
    return grade(folder)


def test_a_forward_bug_that_is_right_on_some_inputs_costs_nothing_in_its_backward(squeezed):
    assert function_points(squeezed)["rnn_step_forward"] > 0
    assert lost_outside(squeezed, "rnn_step_forward") == {}
    said = notes(squeezed, "rnn_step_backward")
    assert "rnn_step_backward is judged on inputs where your rnn_step_forward is right" in said


def test_an_rnn_forward_bug_wrong_everywhere_costs_nothing_in_its_correct_backward(relu):
    lost = function_points(relu)
    assert lost["rnn_step_forward"] > 0
    assert lost["rnn_step_backward"] == 0
    said = notes(relu, "rnn_step_backward")
    assert "rnn_step_forward is wrong on every input tried" in said
    assert "rnn_step_backward: dx is wrong" not in said  # the feedback never blames the backward


def test_a_broken_part_does_not_excuse_a_buggy_composite(tmp_path):
    """rnn_step_forward returns zeros AND rnn_forward stores 2 h: rnn_forward is tested with the reference
    step served in its place, and loses its points for its own bug."""
    folder = copy_solutions(tmp_path, {"rnn_layers": [
        (STEP, STEP.replace("next_h = np.tanh(", "next_h = 0 * np.tanh(")),
        ("        h[:, t, :] = prev_h\n", "        h[:, t, :] = 2 * prev_h\n")]})
    results = grade(folder)
    lost = function_points(results)
    assert lost["rnn_step_forward"] > 0 and lost["rnn_forward"] > 0
    values = next(t for t in failed_tests(results, "rnn_forward") if t["name"] == "rnn_forward: forward values")
    assert "h is wrong" in values["output"]
    assert lost["rnn_step_backward"] == 0 and lost["rnn_backward"] == 0


ZEROS = {
    "rnn_layers": '''
import numpy as np
def rnn_step_forward(x, prev_h, Wx, Wh, b): return np.zeros_like(prev_h), (x, prev_h, Wx, Wh, b)
def rnn_step_backward(dnext_h, cache): return tuple(np.zeros_like(a) for a in cache)
def rnn_forward(x, h0, Wx, Wh, b): return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), (x, h0, Wx, Wh, b)
def rnn_backward(dh, cache, truncate=None): return tuple(np.zeros_like(a) for a in cache)
''',
    "lstm_layers": '''
import numpy as np
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    return np.zeros_like(prev_h), np.zeros_like(prev_c), (x, prev_h, prev_c, Wx, Wh, b)
def lstm_step_backward(dnext_h, dnext_c, cache): return tuple(np.zeros_like(a) for a in cache)
def lstm_forward(x, h0, Wx, Wh, b): return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), (x, h0, Wx, Wh, b)
def lstm_backward(dh, cache): return tuple(np.zeros_like(a) for a in cache)
''',
    "deep_layers": '''
import numpy as np
def _cell(cell):
    if cell not in ("rnn", "lstm"):
        raise ValueError(cell)
def _zero(p): return {k: np.zeros_like(v) for k, v in p.items()}
def stacked_forward(x, h0s, params, cell="rnn"):
    _cell(cell)
    return np.zeros((x.shape[0], x.shape[1], h0s[-1].shape[1])), (x, h0s, params)
def stacked_backward(dh, cache):
    x, h0s, params = cache
    return np.zeros_like(x), [np.zeros_like(h) for h in h0s], [_zero(p) for p in params]
def bidirectional_forward(x, h0_f, h0_b, params_f, params_b, cell="rnn"):
    _cell(cell)
    return np.zeros((x.shape[0], x.shape[1], 2 * h0_f.shape[1])), (x, h0_f, h0_b, params_f, params_b)
def bidirectional_backward(dh, cache):
    x, h0_f, h0_b, params_f, params_b = cache
    return np.zeros_like(x), np.zeros_like(h0_f), np.zeros_like(h0_b), _zero(params_f), _zero(params_b)
''',
    "gradient_flow": '''
import numpy as np
def hidden_grad_norms(x, h0, Wx, Wh, b, cell="rnn"):
    if cell not in ("rnn", "lstm"):
        raise ValueError(cell)
    return np.zeros(x.shape[1])
def clip_grad_norm(grads, max_norm): return {k: np.zeros_like(v) for k, v in grads.items()}, 0.0
''',
}


def write(folder: Path, modules: Dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in modules.items():
        (folder / f"{name}.py").write_text(text)
    return folder


def test_a_submission_of_zeros_scores_0(tmp_path):
    results = grade(write(tmp_path, ZEROS))
    assert results["score"] == 0, [t["name"] for t in results["tests"] if t["status"] == "passed"]


def test_zero_forwards_and_backwards_that_raise_score_0(tmp_path):
    modules = dict(ZEROS)
    backwards = {"rnn_layers": ("rnn_step_backward", "rnn_backward"),
                 "lstm_layers": ("lstm_step_backward", "lstm_backward"),
                 "deep_layers": ("stacked_backward", "bidirectional_backward")}
    for name, functions in backwards.items():  # a later def replaces the zeros one
        modules[name] += "".join(f"\ndef {f}(*args, **kwargs):\n    raise NotImplementedError\n" for f in functions)
    results = grade(write(tmp_path, modules))
    assert results["score"] == 0, [t["name"] for t in results["tests"] if t["status"] == "passed"]


def test_full_bptt_without_truncation_loses_exactly_the_chunk_test(tmp_path):
    """A backward that ignores truncate computes full BPTT right: "truncate >= T equals full BPTT" holds
    for it and counts (its full BPTT is right); only the chunk-by-chunk test is lost."""
    folder = copy_solutions(tmp_path, {"rnn_layers": [("        if t > 0 and t % chunk == 0:", "        if False:")]})
    results = grade(folder)
    truncation = {t.full_name: t.points for t in load_rubric() if t.kind.startswith("truncate")}
    assert set(truncation) == {"rnn_backward: truncate >= T equals full BPTT",
                               "rnn_backward: truncated BPTT equals chunk by chunk"}
    chunks = "rnn_backward: truncated BPTT equals chunk by chunk"
    assert {t["name"] for t in results["tests"] if t["status"] == "failed"} == {chunks}
    assert results["score"] == 100 - truncation[chunks]


def test_a_shortcut_that_only_works_for_small_sizes_loses_points(tmp_path):
    folder = copy_solutions(tmp_path, {"lstm_layers": [
        ("    next_h = o * tanh_c\n", "    next_h = o * tanh_c if H <= 4 else 0.5 * o * tanh_c\n")]})
    results = grade(folder)
    assert [t["name"] for t in failed_tests(results, "lstm_step_forward")] == ["lstm_step_forward: realistic sizes"]
    assert lost_outside(results, "lstm_step_forward") == {}


def test_an_lstm_forward_that_changes_prev_c_in_place_is_charged_there_only(tmp_path):
    folder = copy_solutions(tmp_path, {"lstm_layers": [
        ("    next_c = f * prev_c + i * g\n    tanh_c", "    prev_c *= f\n    next_c = prev_c + i * g\n    tanh_c")]})
    results = grade(folder)
    # its cache holds the prev_c it changed, so the backward reading that cache goes wrong too: both
    # failures are the forward's own
    assert [t["name"] for t in failed_tests(results, "lstm_step_forward")] == [
        "lstm_step_forward: no in-place modification", "lstm_step_forward: cache feeds your backward"]
    assert lost_outside(results, "lstm_step_forward") == {}
    assert "lstm_step_forward modified its input prev_c in place" in notes(results, "lstm_step_backward")


def test_the_public_tests_charge_a_forward_bug_to_the_forward_only(tmp_path):
    """A release with the reference in it and the bias dropped from rnn_step_forward: the public tests of
    rnn_step_backward skip, naming the forward, instead of failing a correct backward."""
    import shutil
    import subprocess
    import sys

    from autograder.packs.rnn_lstm import SOLUTIONS_DIR

    release = tmp_path / "rnn_lstm"
    shutil.copytree(SOLUTIONS_DIR, release)
    module = release / "rnn_layers.py"
    module.write_text(module.read_text().replace(STEP, STEP.replace(" + b)", ")")))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider",
                          "tests/test_1_rnn_step.py"], cwd=release, capture_output=True, text=True)
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
    assert failed and all("rnn_step_forward" in line for line in failed), run.stdout
    assert "rnn_step_forward is wrong on this input, so this test cannot tell whether rnn_step_backward" in run.stdout


def test_the_example_student_with_a_forward_only_bug_keeps_full_marks_in_its_backward(graded):
    from autograder.paths import REPO_ROOT

    results = graded(REPO_ROOT / "examples" / "submissions" / "rnn_forward_ignores_h0", sandbox=MODE)
    lost = function_points(results)
    assert lost["rnn_forward"] > 0
    assert {name for name, points in lost.items() if points} == {"rnn_forward"}
    assert "rnn_forward is wrong on" in notes(results, "rnn_backward")


def test_a_forward_that_drops_its_step_caches_is_charged_in_its_cache_test_only(tmp_path):
    """rnn_forward's h is right but its cache is empty: rnn_backward (the reference's) raises on it. The mistake
    lives in the cache, so rnn_forward's cache test charges it; rnn_backward, right with the reference cache,
    and the layers built on rnn_forward lose nothing."""
    folder = copy_solutions(tmp_path, {"rnn_layers": [("        step_caches.append(step_cache)\n", "")]})
    results = grade(folder)
    assert [t["name"] for t in failed_tests(results, "rnn_forward")] == ["rnn_forward: cache feeds your backward"]
    assert lost_outside(results, "rnn_forward") == {}
    said = [t["output"] for t in failed_tests(results, "rnn_forward")][0]
    assert "your rnn_backward is right with the reference rnn_forward's cache but not with yours" in said


def test_a_backward_right_for_a_right_cache_keeps_its_points_when_its_forward_is_wrong_everywhere(tmp_path):
    """lstm_step_forward without the sigmoid of the forget gate is wrong on every input (no structured input
    fixes it); lstm_step_backward is the reference's, so it is right with the reference forward's cache."""
    folder = copy_solutions(tmp_path, {"lstm_layers": [("    f = sigmoid(a[:, H : 2 * H])", "    f = a[:, H : 2 * H]")]})
    results = grade(folder)
    assert function_points(results)["lstm_step_forward"] > 0
    assert lost_outside(results, "lstm_step_forward") == {}
    assert "lstm_step_backward was given the reference lstm_step_forward's cache" in notes(results, "lstm_step_backward")


def test_a_cache_laid_out_differently_is_judged_by_the_students_own_backward(tmp_path):
    """A step cache in another order than the reference's, read back in that order, and a forward bug (no
    bias) on every input: the reference cache does not suit this backward, so it is judged by what
    measures it alone (the reference backward at the student's next_h) and keeps full marks."""
    folder = copy_solutions(tmp_path, {"rnn_layers": [
        (STEP, STEP.replace("+ b)", ")").replace("(x, prev_h, Wx, Wh, next_h)", "(next_h, Wh, Wx, prev_h, x)")),
        ("x, prev_h, Wx, Wh, next_h = cache", "next_h, Wh, Wx, prev_h, x = cache")]})
    results = grade(folder)
    assert function_points(results)["rnn_step_forward"] > 0
    assert function_points(results)["rnn_step_backward"] == 0
