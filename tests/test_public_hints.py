"""The public tests' first failure names the mistake a student made, with the hint that fits it.

Each case edits the reference solutions into one realistic mistake and runs the released public
tests on it, as a student would (``pytest -x`` stops at the first failure).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from test_skeleton import run_public_tests

from autograder.packs.rnn_lstm import RELEASE_DIR, SOLUTIONS_DIR

# name -> (module, [(text of the solution, the mistake)], words the first failure must hold, test it must be)
MISTAKES: Dict[str, Tuple[str, List[Tuple[str, str]], Tuple[str, ...], str]] = {
    "lstm step forward updates prev_c in place": (
        "lstm_layers", [("    next_c = f * prev_c + i * g\n    tanh_c", "    prev_c *= f\n    prev_c += i * g\n    next_c = prev_c\n    tanh_c")],
        ("lstm_step_forward modified its input prev_c in place",), "test_lstm_step_forward_matches_torch"),
    "rnn forward writes its states into x": (
        "rnn_layers", [("        h[:, t, :] = prev_h\n", "        h[:, t, :] = prev_h\n        x[:, t, 0] = 0.0\n")],
        ("rnn_forward modified its input x in place",), "test_rnn_forward_matches_torch"),
    "stacked backward returns the lists top layer first": (
        "deep_layers", [("    return d, dh0s[::-1], grads[::-1]\n", "    return d, dh0s, grads\n")],
        ("Lists are in layer order, layer 0 first", "dh0s[0]"), "test_stacked_backward_gradient_check"),
    "bidirectional backward swaps the directions' initial-state gradients": (
        "deep_layers", [("    return dx, dh0_f, dh0_b, grads_f, grads_b\n", "    return dx, dh0_b, dh0_f, grads_f, grads_b\n")],
        ("your dh0_f is the other direction's",), "test_bidirectional_backward_gradient_check"),
}


def _submission(tmp_path: Path, module: str, edits: List[Tuple[str, str]]) -> Path:
    folder = tmp_path / "rnn_lstm"
    shutil.copytree(RELEASE_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("rnn_layers", "lstm_layers", "deep_layers", "gradient_flow"):
        shutil.copy(SOLUTIONS_DIR / f"{name}.py", folder / f"{name}.py")
    path = folder / f"{module}.py"
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"the solution of {module} no longer has {old!r}: update this test's mistake"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_the_first_failure_names_the_mistake_and_fits_its_hint(tmp_path, mistake):
    module, edits, words, test = MISTAKES[mistake]
    folder = _submission(tmp_path, module, edits)
    results = run_public_tests(folder, tmp_path)
    failed = [(name, text) for name, outcome, text in results if outcome == "failed"]
    assert failed, f"no public test fails with the mistake {mistake!r}"
    name, text = failed[0]
    assert f"::{test}" in name, f"the first failure is {name}, not {test}: {text[-1500:]}"
    for word in words:
        assert word in text, f"{name}: {text[-1500:]}"
    if "in place" in words[0]:
        # the mistake is reported by the forward's own tests only: every other test passes or says why it is skipped
        forward = words[0].split()[0]
        assert {n.split("::")[-1].split("[")[0] for n, _ in failed} == {test}, [n for n, _ in failed]
        assert forward in test
