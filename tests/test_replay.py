"""Replayed draws (autograder/engine/draws.py) change how fast a grade is computed, never the grade.

Every student of the example class is graded twice in this process: with the recorded draws
replayed (the default) and with Hypothesis' engine run for every test. The two results must be
identical apart from ``execution_time``: the same scores, the same feedback, the same failing
examples after shrinking, the same counts of examples run.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
from hypothesis import given, settings

from autograder.engine import draws, hidden_tests
from autograder.engine.grade import grade_submission
from autograder.engine.strategies import Example

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "submissions"
STUDENTS = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


def _grade(submission: Path, replay: bool, monkeypatch: pytest.MonkeyPatch) -> Dict[str, Any]:
    monkeypatch.setattr(hidden_tests, "REPLAY_DRAWS", replay)
    results = grade_submission(submission, sandbox="process")
    results.pop("execution_time")
    return results


@pytest.mark.slow  # a sweep over the example class, graded with and without replay: about two minutes
@pytest.mark.parametrize("student", STUDENTS)
def test_replayed_draws_give_the_same_results_as_hypothesis(student: str, graded, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hidden_tests.REPLAY_DRAWS, "the default grader replays recorded draws"
    replayed = graded(EXAMPLES / student)  # the default grader's results, graded once per session
    replayed.pop("execution_time")
    engine = _grade(EXAMPLES / student, False, monkeypatch)
    assert json.dumps(replayed, sort_keys=True) == json.dumps(engine, sort_keys=True)


def _build(test):
    """The property the twin tests record: 7 examples of rnn_forward, derandomized."""
    return settings(max_examples=7, derandomize=True, database=None)(
        given(hidden_tests.examples(hidden_tests.function("rnn_forward"), "general"))(test))


def _body(seen: list, decisions: tuple = ()):
    """A test body that notes each example and rejects those ``decisions`` sets aside (then passes)."""
    state = {"stopped": False, "spent": 0, "budget": 100}
    failures: dict = {}

    def attempt(ex: Example) -> bool:
        seen.append(ex)
        return decisions[len(seen) - 1] if len(seen) <= len(decisions) else True

    def body(ex: Example) -> None:
        if not attempt(ex):
            if state["stopped"] or failures:
                raise AssertionError
            hidden_tests.reject()
    return body


def test_the_twin_draws_what_hypothesis_gives_the_real_body() -> None:
    """The recording twin has the body's code, so the same derandomized seed and examples."""
    seen: list = []
    body = _body(seen)
    _build(body)()
    assert len(seen) == 7 and draws.record(body, _build) == tuple(seen)
    assert draws.key(body, "f", "general", 7) != draws.key(_build, "f", "general", 7)  # another source, another key
    assert draws.key(body, "f", "general", 7) != draws.key(body, "f", "general", 8)


@pytest.mark.parametrize("decisions", [(False,), (True, False, True, False), (False,) * 12])
def test_the_twin_draws_what_hypothesis_gives_a_body_that_rejects_some_examples(decisions: tuple) -> None:
    """After a rejected example Hypothesis draws on otherwise; the twin answering ``decisions`` draws
    the same examples as a body that rejects exactly those (then passes), and the all-pass draws up
    to the first rejection. Twelve rejections in a row: Hypothesis gives up (Unsatisfiable) after
    what it drew, the same for both."""
    seen: list = []
    body = _body(seen, decisions)
    try:
        _build(body)()
    except Exception as exc:  # noqa: BLE001
        assert type(exc).__name__ == "Unsatisfiable"
    all_pass = draws.record(body, _build)
    recorded = draws.record(body, _build, decisions)
    assert recorded == tuple(seen) and len(recorded) > len(decisions)
    first = decisions.index(False)
    assert recorded[:first + 1] == all_pass[:first + 1] and recorded != all_pass
    assert draws.key(body, "f", "general", 7, decisions) != draws.key(body, "f", "general", 7)


def test_a_kept_run_holds_what_the_twin_draws_for_its_decisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole run that set examples aside (draws.keep_run) is kept under each prefix of its decisions
    that ends with one set aside, and holds what the twin records for those decisions: a later run
    that sets aside the same examples replays it."""
    monkeypatch.setattr(draws, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(draws, "_runs", {})
    decisions = (True, False, True, True, False)
    seen: list = []
    body = _body(seen, decisions)
    _build(body)()
    counted = decisions + (True,) * (len(seen) - len(decisions))
    draws.keep_run(body, "f", "general", 7, list(zip(seen, counted)))
    assert draws.record(body, _build, decisions) == tuple(seen)
    assert len(list(tmp_path.glob("*.run.json"))) == 2
    for prefix in ((True, False), decisions):
        monkeypatch.setattr(draws, "_runs", {})  # read back from the files
        assert draws.traced(body, "f", "general", 7, prefix) == (tuple(seen), counted)
    assert draws.traced(body, "f", "general", 7, (True, True, False)) is None
    assert draws.traced(body, "f", "general", 7, (False,)) is None


def test_kept_runs_give_the_same_results_as_hypothesis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference sets some examples aside (every expected gradient zero): the first grading runs
    Hypothesis on from there and keeps those runs; the second replays them, runs no Hypothesis, and
    gives the same results as Hypothesis' engine."""
    monkeypatch.setattr(draws, "CACHE_DIR", tmp_path)
    for name in ("_memory", "_runs"):
        monkeypatch.setattr(draws, name, {})
    first = _grade(EXAMPLES / "perfect", True, monkeypatch)
    assert list(tmp_path.glob("*.run.json")), "no run with examples set aside was kept"
    for name in ("_memory", "_runs"):
        monkeypatch.setattr(draws, name, {})
    kept: list = []
    monkeypatch.setattr(draws, "keep_run", lambda *args: kept.append(args))  # called after each Hypothesis run
    second = _grade(EXAMPLES / "perfect", True, monkeypatch)
    assert not kept
    assert second == first == _grade(EXAMPLES / "perfect", False, monkeypatch)


def test_a_damaged_cache_file_is_recorded_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draws, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(draws, "_memory", {})
    clean = _grade(EXAMPLES / "bptt_no_carry", True, monkeypatch)
    files = sorted(tmp_path.glob("*.json"))
    assert files, "no draws were kept"
    files[0].write_text("[{\"dims\": 3}]")
    files[-1].write_text("not json")
    monkeypatch.setattr(draws, "_memory", {})
    assert _grade(EXAMPLES / "bptt_no_carry", True, monkeypatch) == clean
    assert all(isinstance(row["seed"], int) for row in json.loads(files[0].read_text()))


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setattr(draws, "CACHE_DIR", blocked / "draws")  # under a file: mkdir fails
    monkeypatch.setattr(draws, "_memory", {})
    assert _grade(EXAMPLES / "perfect", True, monkeypatch)["score"] == 100


CONTEXT = """
import importlib, pathlib, sys, tempfile
if sys.argv[1] == "many":  # a local module full of integers a seed may be drawn as
    folder = tempfile.mkdtemp()
    pathlib.Path(folder, "lots_of_constants.py").write_text(f"A = {tuple(range(1000, 3000, 7))}")
    sys.path.insert(0, folder)
    importlib.import_module("lots_of_constants")
from hypothesis import given, settings
from autograder.engine import hidden_tests
seen = []
def build(test):
    return settings(max_examples=60, derandomize=True, database=None)(
        given(hidden_tests.examples(hidden_tests.function("rnn_forward"), "general"))(test))
def body(ex):
    seen.append(ex)
build(body)()
print(seen)
"""


def test_the_draws_do_not_depend_on_the_modules_the_grader_imported(tmp_path: Path) -> None:
    """Hypothesis draws constants from the source of local modules loaded in the process; grading
    turns that off (engine/strategies.py), or ``grade``, ``grade-all`` and the tests could draw
    different examples for the same property (the same student, two grades)."""
    script = tmp_path / "draw.py"
    script.write_text(CONTEXT)
    drawn = [subprocess.run([sys.executable, str(script), context], capture_output=True, text=True, timeout=300,
                            cwd=REPO).stdout for context in ("few", "many")]
    assert drawn[0] and drawn[0] == drawn[1]
