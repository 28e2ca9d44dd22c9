"""True to the student: no charge to a correct function, no point withheld from a property that holds,
no sentence that is false, on the cases realistic bugs showed (issue "True to the student").

Each submission is the reference with a textual edit, the example class's, or a bug of the realistic
corpus (tests/realistic/: written by someone who saw only the release).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
from test_faithful_grades import function_points, grade, lost_outside
from test_grade import copy_solutions, failed_tests

from autograder.paths import REPO_ROOT
from autograder.quality import realistic, truth

EXAMPLES = REPO_ROOT / "examples" / "submissions"


def corpus_bug(tmp_path: Path, name: str) -> Path:
    bug = next(b for b in realistic.bugs() if b.name == name)
    return realistic.submission([bug], tmp_path / name)


def lost(results: dict) -> Dict[str, float]:
    return {name: points for name, points in function_points(results).items() if points}


def sentences(results: dict) -> str:
    return "\n".join(t["output"] for t in results["tests"])


def false_sentences(folder: Path, results: dict) -> list:
    return [v for v in truth.check(folder, results) if not v.true]


def test_a_backward_that_adds_into_its_upstream_in_place_is_charged_there_only(tmp_path):
    """rnn_backward does dh[:, t] += dprev_h on the caller's array: its own in-place point, and nothing of
    stacked_backward or bidirectional_backward, which only pass dh on to it."""
    folder = copy_solutions(tmp_path, {"rnn_layers": [
        ("rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])", "rnn_step_backward(dh[:, t, :].__iadd__(dprev_h), cache[t])")]})
    results = grade(folder)
    assert [t["name"] for t in failed_tests(results, "rnn_backward")] == ["rnn_backward: no in-place modification"]
    assert lost_outside(results, "rnn_backward") == {}


def test_a_step_forward_that_aliases_its_cell_to_prev_c_costs_nothing_elsewhere(tmp_path):
    """next_c = prev_c; next_c *= f; ...: lstm_step_forward changes prev_c and garbles its own cache. The correct
    lstm_backward keeps its points, and no note says that the correct lstm_step_backward is wrong."""
    folder = corpus_bug(tmp_path, "lsf_next_c_aliases_prev_c")
    results = grade(folder)
    assert set(lost(results)) == {"lstm_step_forward"}
    assert "lstm_step_backward is wrong" not in sentences(results)
    assert false_sentences(folder, results) == []


def test_a_step_backward_wrong_everywhere_costs_nothing_in_the_functions_built_on_it(tmp_path):
    """The example class's correct student in another style (dict caches), with the gate gradients of the LSTM
    step backward concatenated in the order i, f, o, g: only lstm_step_backward loses points. lstm_forward keeps
    its "cache feeds your backward" point (its backward is judged with the reference step backward, which reads
    the student's dict caches through the arguments that made them), and lstm_backward keeps full marks."""
    folder = tmp_path / "student"
    folder.mkdir()
    for module in ("rnn_layers.py", "lstm_layers.py", "deep_layers.py", "gradient_flow.py"):
        text = (EXAMPLES / "written_differently" / module).read_text()
        if module == "lstm_layers.py":
            old = "        dc * i * (1 - g ** 2),\n        dnext_h * tc * o * (1 - o),\n"
            assert old in text
            text = text.replace(old, "        dnext_h * tc * o * (1 - o),\n        dc * i * (1 - g ** 2),\n")
        (folder / module).write_text(text)
    results = grade(folder)
    assert set(lost(results)) == {"lstm_step_backward"}


def test_a_forward_wrong_only_for_H_above_1_keeps_its_property_points(tmp_path):
    """prev_h @ Wh.T is right only when H = 1: the values tests fail, but the function computes (it is right on
    its H = 1 examples), so its in-place and cache points, which hold, count."""
    folder = copy_solutions(tmp_path, {"rnn_layers": [
        ("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = np.tanh(x @ Wx + prev_h @ Wh.T + b)")]})
    results = grade(folder)
    failed = {t["name"] for t in failed_tests(results, "rnn_step_forward")}
    assert "rnn_step_forward: forward values" in failed
    assert not failed & {"rnn_step_forward: no in-place modification", "rnn_step_forward: cache feeds your backward"}
    assert "with `Wh` transposed" in sentences(results)


def test_clipping_each_array_by_its_own_norm_is_not_told_a_factor_of_two(tmp_path):
    """The draws tie max_norm to the total norm (2x on the shrunk input): the factor 2 held there by
    construction. Verified on independent examples instead, no such sentence is shown, and every shown one holds."""
    folder = corpus_bug(tmp_path, "cgn_clips_each_array_separately")
    results = grade(folder)
    assert "twice the expected value" not in sentences(results)
    assert false_sentences(folder, results) == []


def test_clip_in_place_is_told_its_in_place_half_and_not_a_flipped_comparison():
    """clip_in_place always scales, and scales the caller's arrays: it is not a flipped comparison (it is right
    where clipping applies), and its in-place mistake is charged and reported."""
    folder = EXAMPLES / "clip_in_place"
    results = grade(folder)
    said = sentences(results)
    assert "comparison is flipped" not in said and "twice the expected value" not in said
    inplace = [t for t in failed_tests(results, "clip_grad_norm") if t["name"] == "clip_grad_norm: no in-place modification"]
    assert inplace and "modified its input grads" in inplace[0]["output"]
    assert false_sentences(folder, results) == []


def test_a_truncation_boundary_one_step_late_is_not_called_a_missing_carry(tmp_path):
    """Zeroing the carry one step late coincides with a missing carry on a T = 2 input only: no such sentence."""
    folder = copy_solutions(tmp_path, {"rnn_layers": [("if t > 0 and t % chunk == 0:", "if t > 1 and (t - 1) % chunk == 0:")]})
    results = grade(folder)
    assert set(lost(results)) == {"rnn_backward"}
    assert "is not added" not in sentences(results)
    assert false_sentences(folder, results) == []


@pytest.mark.parametrize("name", ["sf_every_layer_reads_x", "rf_reshape_not_transpose"])
def test_no_unverified_guess_about_a_squeeze(tmp_path, name):
    folder = corpus_bug(tmp_path, name)
    results = grade(folder)
    assert "squeeze" not in sentences(results)
    assert false_sentences(folder, results) == []
