"""The reference's answers kept on disk (autograder/engine/answers.py): the same grades from them,
the reference computed once per input, and never in the student-CI bundle."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from autograder.engine import answers
from autograder.engine.grade import grade_submission
from autograder.integrations import student_bundle
from autograder.paths import REPO_ROOT

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "submissions"


def test_an_answer_is_keyed_by_the_content_of_its_inputs() -> None:
    x = {"x": np.arange(6.0).reshape(2, 3), "cell": "lstm", "truncate": None}
    assert answers.digest("f", x) == answers.digest("f", {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                                          for k, v in x.items()})
    assert answers.digest("f", x) != answers.digest("g", x)
    assert answers.digest("f", x) != answers.digest("f", dict(x, x=x["x"].reshape(3, 2)))
    assert answers.digest("f", x) != answers.digest("f", dict(x, x=x["x"].astype(np.float32)))
    assert answers.digest("f", x) != answers.digest("f", dict(x, x=x["x"] + 1e-12))
    assert answers.digest("f", x) != answers.digest("f", dict(x, truncate=3))


def test_kept_answers_give_the_same_grade_and_the_reference_runs_once_per_input(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(answers, "ANSWERS_DIR", tmp_path)
    computed = []  # the reference's answers computed while a function's tests ran
    get = answers.Answers.get

    def counted(self, function, inputs, compute):
        return get(self, function, inputs, lambda: computed.append(function) or compute())

    monkeypatch.setattr(answers.Answers, "get", counted)
    student = EXAMPLES / "rnn_step_tanh_twice"
    first = grade_submission(student, sandbox="process")
    cold = len(computed)
    assert cold > 100 and sorted(tmp_path.glob("*.npz")), "the answers were not kept"
    computed.clear()
    second = grade_submission(student, sandbox="process")
    for results in (first, second):
        results.pop("execution_time")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert not computed, computed  # every answer the tests needed was kept
    for file in tmp_path.glob("*.npz"):  # a damaged file is computed again, never trusted
        file.write_bytes(b"not an npz")
    computed.clear()
    third = grade_submission(student, sandbox="process")
    third.pop("execution_time")
    assert json.dumps(third, sort_keys=True) == json.dumps(first, sort_keys=True) and len(computed) >= cold / 2


def test_answers_past_the_cap_are_computed_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(answers, "MAX_KEPT", 2)
    kept = answers.Answers(tmp_path / "f.npz")
    computed = []
    for k in range(3):
        got = kept.get("f", {"x": np.full(2, float(k))}, lambda k=k: computed.append(k) or {"y": np.full(3, float(k))})
        assert np.array_equal(got["y"], np.full(3, float(k)))
    kept.save()
    again = answers.Answers(tmp_path / "f.npz")
    assert len(again.known) == 2 and computed == [0, 1, 2]
    assert np.array_equal(again.get("f", {"x": np.full(2, 1.0)}, lambda: {"y": np.zeros(3)})["y"], np.ones(3))


def test_the_student_ci_bundle_never_carries_the_reference_answers(tmp_path: Path) -> None:
    """Answers to the marking draws are a lookup table for whoever reads them: the student-CI bundle is an
    allow-list (the modules the CI imports, their data, the pins), so answers kept inside the package (as
    a cache folder there would put them) are not in it."""
    kept = answers.ANSWERS_DIR.name
    folder = REPO_ROOT / "autograder" / kept
    made = not folder.exists()
    folder.mkdir(exist_ok=True)
    try:
        np.savez(folder / "0123.npz", index=np.zeros(1, dtype=np.uint8), data=np.zeros(1))
        names = [name for name, _ in student_bundle.contents()]
    finally:
        (folder / "0123.npz").unlink()
        if made:
            folder.rmdir()
    assert "autograder/engine/hidden_tests.py" in names  # the control: the grading rules are there
    assert not [n for n in names if kept in n or n.endswith(".npz") or ".cache" in n]
