"""End to end: grade real submissions (the reference, the skeleton, buggy copies, broken ones)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from autograder.engine.grade import GraderError, grade_submission
from autograder.feedback.report import feedback_markdown, write_results
from autograder.packs.rnn_lstm import FUNCTIONS, GRADED_MODULES, RELEASE_DIR, SOLUTIONS_DIR
from autograder.paths import REPO_ROOT

DATA = Path(__file__).resolve().parent / "grade_data"
MODE = "process"  # the sandbox hardening is tested elsewhere; process mode runs everywhere


def copy_solutions(folder: Path, edits: Dict[str, list]) -> Path:
    """A copy of solutions/ with textual edits [(old, new), ...] per module (each must apply)."""
    folder.mkdir(parents=True, exist_ok=True)
    for module in GRADED_MODULES:
        text = (SOLUTIONS_DIR / f"{module}.py").read_text()
        for old, new in edits.get(module, []):
            assert old in text, f"edit does not apply to {module}.py: {old!r}"
            text = text.replace(old, new)
        (folder / f"{module}.py").write_text(text)
    return folder


def scores(results: dict) -> Dict[str, float]:
    return {name: entry["score"] for name, entry in results["extra_data"]["functions"].items()}


def full(results: dict) -> Dict[str, bool]:
    return {name: entry["score"] == entry["max_score"] for name, entry in results["extra_data"]["functions"].items()}


def failed_tests(results: dict, function: str) -> list:
    return [t for t in results["tests"] if t["extra_data"]["function"] == function and t["status"] == "failed"]


@pytest.fixture(scope="module")
def tanh_bug(tmp_path_factory) -> dict:
    """rnn_step_backward uses 1 - next_h instead of 1 - next_h**2."""
    folder = copy_solutions(tmp_path_factory.mktemp("tanh_bug"), {
        "rnn_layers": [("da = dnext_h * (1.0 - next_h**2)", "da = dnext_h * (1.0 - next_h)")]})
    return {"folder": folder, "results": grade_submission(folder, sandbox=MODE)}


def test_reference_solutions_get_100_through_the_command_line(tmp_path):
    results_path, feedback_path = tmp_path / "out" / "results.json", tmp_path / "feedback.md"
    page = tmp_path / "pages" / "feedback.html"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(SOLUTIONS_DIR), "--results",
                           str(results_path), "--feedback", str(feedback_path), "--feedback", str(page), "--sandbox", MODE],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(results_path.read_text())
    assert results["score"] == 100 == sum(t["max_score"] for t in results["tests"])
    assert all(t["status"] == "passed" for t in results["tests"])
    assert all(t["name"].startswith(t["extra_data"]["function"] + ": ") for t in results["tests"])
    assert results["extra_data"]["sandbox"] == MODE
    assert set(results["extra_data"]["examples"]) == {f.name for f in FUNCTIONS}
    assert all(n > 0 for n in results["extra_data"]["examples"].values())
    feedback = feedback_path.read_text()
    assert "100 / 100" in feedback and "| `lstm_backward` | 8 / 8 |" in feedback
    # an .html name gets grade-all's page of the same feedback
    html = page.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "<title>Feedback for rnn_lstm</title>" in html
    assert "<code>lstm_backward</code>" in html and "8 / 8" in html and "| `lstm_backward`" not in html


def test_missing_submission_directory_is_a_grader_error(tmp_path):
    with pytest.raises(GraderError, match="does not exist"):
        grade_submission(tmp_path / "nope", sandbox=MODE)
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "nope"), "--results",
                           str(tmp_path / "r.json")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "does not exist" in done.stderr and not (tmp_path / "r.json").exists()


def test_skeleton_gets_0_and_each_function_names_its_NotImplementedError():
    results = grade_submission(RELEASE_DIR, sandbox=MODE)
    assert results["score"] == 0
    assert sum(t["max_score"] for t in results["tests"]) == 100
    for fn in FUNCTIONS:
        outputs = [t["output"] for t in failed_tests(results, fn.name)]
        assert outputs, fn.name
        assert any("NotImplementedError" in o for o in outputs), fn.name


def test_a_bug_costs_points_only_in_the_function_that_holds_it(tanh_bug):
    results = tanh_bug["results"]
    ok = full(results)
    assert not ok["rnn_step_backward"]
    assert [name for name, good in ok.items() if not good] == ["rnn_step_backward"]
    failing = failed_tests(results, "rnn_step_backward")
    assert any(t["name"].endswith("gradient check") for t in failing)
    text = "\n".join(t["output"] for t in failing)
    assert "max abs error" in text and "Smallest failing input found" in text
    assert any(line.split(" is wrong")[0] in ("dx", "dprev_h", "dWx", "dWh", "db") for line in text.splitlines()
               if " is wrong" in line)


def test_a_known_mistake_is_named(tanh_bug):
    failing = failed_tests(tanh_bug["results"], "rnn_step_backward")
    assert any(t["extra_data"]["mistakes"] for t in failing)
    assert any("Likely mistake:" in t["output"] for t in failing)


def test_grading_is_deterministic(tanh_bug, tmp_path):
    again = grade_submission(tanh_bug["folder"], sandbox=MODE)
    first = dict(tanh_bug["results"], execution_time=0)
    second = dict(again, execution_time=0)
    write_results(first, tmp_path / "a.json")
    write_results(second, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert feedback_markdown(first) == feedback_markdown(second)


def test_forward_bugs_are_not_paid_again_in_the_layers_built_on_them(tmp_path):
    folder = copy_solutions(tmp_path / "fwd_bugs", {
        "rnn_layers": [("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = np.tanh(x @ Wx + prev_h @ Wh)")],
        "lstm_layers": [("g = np.tanh(a[:, 2 * H : 3 * H])", "g = np.tanh(a[:, 3 * H : 4 * H])"),
                        ("o = sigmoid(a[:, 3 * H : 4 * H])", "o = sigmoid(a[:, 2 * H : 3 * H])")],
    })
    results = grade_submission(folder, sandbox=MODE)
    ok = full(results)
    assert not ok["rnn_step_forward"] and not ok["lstm_step_forward"]
    for downstream in ("rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward", "stacked_forward",
                       "stacked_backward", "bidirectional_forward", "bidirectional_backward", "hidden_grad_norms",
                       "clip_grad_norm"):
        assert ok[downstream], (downstream, failed_tests(results, downstream))


def test_a_correct_submission_written_very_differently_gets_100(tmp_path):
    folder = copy_solutions(tmp_path / "different", {})
    shutil.copy(DATA / "written_differently_rnn.py", folder / "rnn_layers.py")
    shutil.copy(DATA / "written_differently_lstm.py", folder / "lstm_layers.py")
    results = grade_submission(folder, sandbox=MODE)
    assert results["score"] == 100, [t["name"] + ": " + t["output"] for t in results["tests"] if t["status"] == "failed"]
    assert "step!" in results["output"]  # its debug prints are shown, capped, and harmless


def test_broken_submissions_get_clear_messages(tmp_path):
    folder = copy_solutions(tmp_path / "broken", {
        "rnn_layers": [("    return next_h, cache\n", "    return next_h.tolist(), cache\n")],
        "deep_layers": [("def stacked_backward(", "def stacked_backward_renamed("),
                        ("h = np.concatenate([h_f, h_b_reversed[:, ::-1]], axis=2)",
                         "h = np.concatenate([h_f, h_b_reversed[:, ::-1]], axis=2) * np.nan")],
    })
    lines = (folder / "gradient_flow.py").read_text().splitlines()
    bad_line = next(i for i, line in enumerate(lines) if line.startswith("def clip_grad_norm")) + 1
    lines.insert(bad_line - 1, "if True print('the colon is missing')")
    (folder / "gradient_flow.py").write_text("\n".join(lines) + "\n")
    results = grade_submission(folder, sandbox=MODE)
    outputs = {fn.name: "\n".join(t["output"] for t in failed_tests(results, fn.name)) for fn in FUNCTIONS}
    assert f"SyntaxError in gradient_flow.py, line {bad_line}" in outputs["clip_grad_norm"]
    assert "stacked_backward is missing from deep_layers.py" in outputs["stacked_backward"]
    assert "next_h must be a numpy.ndarray, got list" in outputs["rnn_step_forward"]
    assert "h contains NaN" in outputs["bidirectional_forward"]
    assert scores(results)["hidden_grad_norms"] == 0 and scores(results)["stacked_backward"] == 0
    assert full(results)["lstm_backward"] and full(results)["stacked_forward"]


def test_hidden_tests_show_no_inputs():
    from autograder.engine.checks import CheckFailed
    from autograder.engine.grade import _test_result
    from autograder.engine.hidden_tests import TestOutcome
    from autograder.engine.pack import function
    from autograder.engine.score import RubricTest
    from autograder.engine.strategies import Example

    fn = function("rnn_forward")
    failure = CheckFailed("h is wrong: max abs error 1, max rel error 1", output="h")
    failure.example = Example(dims=(("D", 1), ("H", 1), ("N", 1), ("T", 1)), cell="rnn", seed=0, scale=1.0)
    for visibility, shown in (("visible", True), ("hidden", False)):
        test = RubricTest("rnn_forward", "long sequences", "values", 1, "long", 1, visibility)
        result = _test_result(fn, test, TestOutcome(False, failure.message, failure))
        assert result["output"].startswith("h is wrong")
        assert ("x: shape (1, 1, 1)" in result["output"]) is shown
        assert result["visibility"] == visibility and result["score"] == 0
