"""make bench's plumbing, with a stand-in grader (the timings themselves are never asserted)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from autograder.packs.rnn_lstm import SOLUTIONS_DIR
from autograder.quality.bench import buggy_mutant, run_bench, time_submission


def stand_in_grade(path: Path, sandbox: str = "process") -> Dict[str, Any]:
    """Full marks for the reference's rnn_layers, 90 otherwise; refuses bwrap like a machine without it."""
    if sandbox == "bwrap":
        raise RuntimeError("bwrap is not available here")
    good = (path / "rnn_layers.py").read_text() == (SOLUTIONS_DIR / "rnn_layers.py").read_text()
    score = 100.0 if good else 90.0
    return {"score": score, "execution_time": 0.0,
            "tests": [{"name": "rnn_step_backward: values", "score": score, "max_score": 100.0, "status": "passed",
                       "output": "", "visibility": "visible"}],
            "extra_data": {"examples": {"rnn_step_backward": 7, "clip_grad_norm": 3}}}


def test_the_buggy_submission_is_the_tanh_derivative_bug():
    m = buggy_mutant()
    assert m.function == "rnn_step_backward" and "next_h ** 2" in m.original and m.mutated.endswith("next_h ** 1")


def test_time_submission_records_scores_examples_and_grader_errors():
    t = time_submission(SOLUTIONS_DIR, "solutions", "process", 2, grader="test_mutation_bench:stand_in_grade")
    assert len(t.seconds) == 2 and t.error is None
    assert (t.score, t.max_score) == (100.0, 100.0)
    assert t.examples == {"rnn_step_backward": 7, "clip_grad_norm": 3}
    refused = time_submission(SOLUTIONS_DIR, "solutions", "bwrap", 2, grader="test_mutation_bench:stand_in_grade")
    assert refused.seconds == [] and "bwrap is not available" in refused.error


def test_bench_prints_every_measurement_beside_its_target():
    lines: List[str] = []
    assert run_bench(reps=1, class_size=2, grader="test_mutation_bench:stand_in_grade", out=lines.append,
                     similarity_class=6) == 0
    text = "\n".join(lines)
    assert "target < 10 s" in text
    assert "solutions  process  median" in text and "buggy      process  median" in text
    assert "score 90/100" in text  # the buggy submission really is graded as buggy
    assert "rnn_step_backward        7" in text
    assert "grading over starting Python: not measured" in text  # the command line would not use the stand-in
    assert "grade-all of 2 submissions: 1 job" in text and "target >= 1.5x" in text
    assert "similarity of a 6-student class and 1 known solution, 2 jobs:" in text and "target < 60 s" in text


def test_what_people_wait_for_prints_ratios_measured_in_one_run_beside_their_targets(monkeypatch, tmp_path):
    """The cold/warm section (make bench): each grading's median, its ratio and whether the target is met.
    The timings are stand-ins here (the section itself is timed only by make bench)."""
    from autograder.quality import bench

    seconds = {"numpy, hypothesis": 0.4, "warm": 0.9, "cold-0": 1.5, "cold-a": 2.9, "cold-b": 3.2}
    calls: List[Any] = []

    def wall(argv, env=None):
        calls.append((argv, env))
        if argv[-1] == "import numpy, hypothesis":
            return seconds["numpy, hypothesis"]
        cache = Path(env["AUTOGRADER_CACHE"]).name
        return seconds[cache if cache in seconds else cache[:len("cold-a")]]

    monkeypatch.setattr(bench, "_wall", wall)
    extra: List[str] = []
    monkeypatch.setattr(bench, "WAITED_FOR_EXTRAS", [lambda out: (out("  student CI end to end: stand-in"), extra.append(1))])
    lines: List[str] = []
    median = bench.waited_for(1, lines.append, [("a", tmp_path), ("b", tmp_path)])
    text = "\n".join(lines)
    assert median == {"start": 0.4, "warm": 0.9, "cold": 1.5, "a": 2.9, "b": 3.2}
    assert "reference, warm   0.90 s = 2.25x start-and-import  target <= 2.5x [ok]" in text
    assert "reference, cold   1.50 s = 1.67x warm reference  target <= 1.5x [MISSED]" in text
    assert "a, cold   2.90 s = 1.93x cold reference  target <= 2.0x [ok]" in text
    assert "b, cold   3.20 s = 2.13x cold reference  target <= 2.0x [MISSED]" in text
    assert "student CI end to end: stand-in" in text and extra == [1]
    caches = [Path(env["AUTOGRADER_CACHE"]).name for argv, env in calls if env]
    assert caches == ["warm", "warm", "cold-0", "cold-a-0", "cold-b-0"]  # warm filled first; each cold one fresh
    assert all(argv[1:4] == ["-m", "autograder", "grade"] for argv, env in calls if env)
