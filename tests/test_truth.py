"""The truth check (autograder/quality/truth.py) finds the sentences that are false.

It must not be a check that cannot fail: sentences planted false in real results are found false,
and the grader's own sentences on a bug found true. The report's own numbers (0 false sentences over
the mutants and the realistic corpus) are in reports/mutation.md, kept current by `make mutation`.
"""
from __future__ import annotations

import copy
import json

import pytest
from test_grade import MODE, copy_solutions

from autograder.engine.grade import grade_submission
from autograder.paths import REPO_ROOT
from autograder.quality import truth

WH_T = ("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = np.tanh(x @ Wx + prev_h @ Wh.T + b)")


@pytest.fixture(scope="module")
def transposed(tmp_path_factory):
    """rnn_step_forward with prev_h @ Wh.T (wrong only when H > 1), and its grade."""
    folder = copy_solutions(tmp_path_factory.mktemp("transposed"), {"rnn_layers": [WH_T]})
    return folder, grade_submission(folder, sandbox=MODE)


def _shown(results: dict, kind: str) -> tuple:
    for t in results["tests"]:
        for i, fact in enumerate((t.get("extra_data") or {}).get("facts") or []):
            if fact["kind"] == kind:
                return t, i
    raise AssertionError(f"no {kind} fact shown")


def test_the_graders_sentences_about_a_bug_are_true(transposed):
    folder, results = transposed
    verdicts = truth.check(folder, results)
    assert any(v.what == "fact:changed_input" for v in verdicts)
    assert any(v.what == "mistake" for v in verdicts)
    assert [v for v in verdicts if not v.true] == []


def test_a_fact_planted_false_is_found_false(transposed):
    folder, results = transposed
    planted = copy.deepcopy(results)
    test, i = _shown(planted, "changed_input")
    test["extra_data"]["facts"][i]["change"] = "negated"  # "next_h is the reference's with Wh negated": false
    false = [v for v in truth.check(folder, planted) if not v.true]
    assert [v.what for v in false] == ["fact:changed_input"] * len(false) and false
    assert "does not hold" in false[0].why


def test_a_catalogued_mistake_planted_false_is_found_false(transposed):
    folder, results = transposed
    planted = copy.deepcopy(results)
    for t in planted["tests"]:
        extra = t.get("extra_data") or {}
        if extra.get("mistake"):
            extra["mistake"] = "rnn.step_forward_no_tanh"  # the activation forgotten: not this student's mistake
    false = [v for v in truth.check(folder, planted) if not v.true]
    assert false and {v.what for v in false} == {"mistake"}


def test_a_claim_about_a_correct_function_is_found_false(tmp_path):
    """A note saying the reference's lstm_step_backward is wrong (what the grader once said of a correct one)."""
    folder = REPO_ROOT / "solutions" / "rnn_lstm"
    results = json.loads(json.dumps(grade_submission(folder, sandbox=MODE)))
    results["tests"][0]["extra_data"]["claims"] = [{"function": "lstm_step_backward", "claim": "wrong"},
                                                   {"function": "lstm_forward", "claim": "cache"}]
    verdicts = truth.check(folder, results)
    assert [(v.what, v.true) for v in verdicts] == [("claim:wrong", False), ("claim:cache", False)]


def test_a_size_condition_planted_false_is_found_false(transposed):
    """"wrong with H = 1 and right with a larger H" is the opposite of this bug: found false."""
    folder, results = transposed
    planted = copy.deepcopy(results)
    test, _ = _shown(planted, "changed_input")
    test["extra_data"]["facts"].append({"kind": "size_one", "function": "rnn_step_forward", "outputs": [],
                                        "size": "H", "sentence": "planted"})
    false = [v for v in truth.check(folder, planted) if not v.true]
    assert [v.sentence for v in false] == ["planted"]
