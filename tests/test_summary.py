"""The class summary: statistics computed by hand here, mistakes counted once per student, PNGs."""
from __future__ import annotations

import pytest

from autograder.classroom.jobs import JobResult
from autograder.classroom.summary import (
    FUNCTIONS_PNG,
    HISTOGRAM_PNG,
    frequent_mistakes,
    function_stats,
    summary_markdown,
    write_summary,
)


def _results(per_function: dict, mistakes: dict = {}) -> dict:
    tests = []
    for name, (score, top) in per_function.items():
        tests.append({"name": f"{name}: values", "score": score, "max_score": top,
                      "extra_data": {"function": name, "mistakes": mistakes.get(name, [])}})
        tests.append({"name": f"{name}: edge shapes", "score": 0.0, "max_score": 0.0,
                      "extra_data": {"function": name, "mistakes": mistakes.get(name, [])}})  # same mistake twice
    return {"score": sum(s for s, _ in per_function.values()), "tests": tests, "extra_data": {"sandbox": "bwrap"}}


OUTCOMES = [
    JobResult("a", "k", results=_results({"rnn_forward": (6.0, 6.0), "clip_grad_norm": (4.0, 4.0)})),
    JobResult("b", "k", results=_results({"rnn_forward": (3.0, 6.0), "clip_grad_norm": (4.0, 4.0)},
                                       {"rnn_forward": ["rnn.no_tanh"]})),
    JobResult("c", "k", results=_results({"rnn_forward": (0.0, 6.0), "clip_grad_norm": (1.0, 4.0)},
                                       {"rnn_forward": ["rnn.no_tanh"], "clip_grad_norm": ["clip.always"]})),
    JobResult("d", "", error="no graded module found"),
]


def test_function_stats_by_hand():
    stats = {s.name: s for s in function_stats(OUTCOMES)}
    assert list(stats) == ["rnn_forward", "clip_grad_norm"]
    assert stats["rnn_forward"].mean == pytest.approx(3.0) and stats["rnn_forward"].pass_rate == pytest.approx(1 / 3)
    assert stats["rnn_forward"].mean_percent == pytest.approx(50.0)
    assert stats["clip_grad_norm"].mean == pytest.approx(3.0) and stats["clip_grad_norm"].pass_rate == pytest.approx(2 / 3)
    assert function_stats([OUTCOMES[-1]]) == []


def test_mistakes_are_counted_once_per_student():
    assert frequent_mistakes(OUTCOMES) == [("rnn.no_tanh", "rnn_forward", 2), ("clip.always", "clip_grad_norm", 1)]


def test_summary_text_and_charts(tmp_path):
    text = summary_markdown(OUTCOMES)
    assert "4 students: 3 graded, 1 could not be graded." in text
    assert "mean 6.0, median 7, min 1, max 10" in text
    assert "| rnn_forward | 3.00 | 6 | 50% | 33% |" in text
    assert "| `rnn.no_tanh` | rnn_forward | 2 | b, c |" in text  # who has it, not only how many
    assert "- **d**: no graded module found" in text and "Sandbox: bwrap." in text
    write_summary(OUTCOMES, tmp_path)
    for name in (HISTOGRAM_PNG, FUNCTIONS_PNG):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 2000
    assert (tmp_path / "summary.md").read_text() == text


def test_who_needs_attention_and_the_mistakes_sentence():
    results = _results({"rnn_forward": (0.0, 6.0)})
    results["tests"][0].update(output="rnn_forward did not return within 10 s (an infinite loop?)")
    results["tests"][0]["extra_data"].update(mistake="rnn.no_tanh", mistake_sentence="The tanh | is missing.")
    outcomes = [JobResult("loops", "k", results=results), OUTCOMES[0], OUTCOMES[3]]
    text = summary_markdown(outcomes)
    attention = text.split("## Needs attention", 1)[1].split("##", 1)[0]
    assert "- **loops**: 0 points; timeout: 1 test ran out of time (an infinite loop?)" in attention
    assert "- **d**: not graded: no graded module found" in attention and "**a**" not in attention
    assert "| The tanh \\| is missing. (`rnn.no_tanh`) | rnn_forward | 1 | loops |" in text
    assert "3 students: 2 graded, 1 could not be graded." in text
    assert "1 student: 1 graded, 0 could not be graded." in summary_markdown([OUTCOMES[0]])
    interrupted = summary_markdown(outcomes, not_graded=["x", "y"])
    assert "**Incomplete: the run was interrupted before 2 students were graded** (x, y)" in interrupted


def test_a_class_where_nothing_could_be_graded(tmp_path):
    write_summary([OUTCOMES[-1]], tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "No submission could be graded." in text and "None diagnosed." in text


def test_only_the_mistake_the_student_was_told_is_counted():
    matched_not_told = {"function": "rnn_backward", "mistakes": ["rnn.bptt_no_carry", "rnn.truncate_off_by_one"],
                        "mistake": "rnn.bptt_no_carry"}
    nothing_told = {"function": "rnn_backward", "mistakes": ["rnn.truncate_off_by_one"], "mistake": None}
    results = {"score": 0.0, "tests": [{"name": "rnn_backward: a", "score": 0.0, "max_score": 1.0, "extra_data": matched_not_told},
                                       {"name": "rnn_backward: b", "score": 0.0, "max_score": 1.0, "extra_data": nothing_told}]}
    assert frequent_mistakes([JobResult("s", "k", results=results)]) == [("rnn.bptt_no_carry", "rnn_backward", 1)]


@pytest.mark.parametrize("student, mistake", [("bptt_no_carry", "rnn.bptt_no_carry"),
                                              ("bptt_truncation_from_end", "rnn.truncate_chunks_from_end")])
def test_example_students_are_counted_for_the_mistake_they_have_only(student, mistake, graded):
    from autograder.paths import REPO_ROOT

    results = graded(REPO_ROOT / "examples" / "submissions" / student)  # grade_submission, once per session
    counted = [m for m, _, _ in frequent_mistakes([JobResult(student, "k", results=results)])]
    assert counted == [mistake]  # not rnn.truncate_off_by_one, which matched their first failing input too
