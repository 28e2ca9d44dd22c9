"""Batches sent to the worker ahead of their turn (autograder/engine/lookahead.py) change how fast a
grade is computed, never what any call returns, prints or costs.

The worker client takes a reply sent ahead only for exactly the batch asked for; anything else is
dropped. These tests hold the client to that: what is taken, what is dropped, what a student
prints, and which call a crash or a timeout is charged to.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

from autograder.engine import hidden_tests
from autograder.engine.grade import grade_submission
from autograder.worker.client import Batch, Failure, Ok, Planned, WorkerClient

STUDENT = '''
import os, time
import numpy as np

CALLS = []

def double(x):
    return 2 * x

def count(x):
    CALLS.append(1)
    return x + len(CALLS)

def chatty(x):
    print("chatty saw", x.shape)
    return x

def die(x):
    os._exit(7)

def nap(x):
    time.sleep(30)
'''


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("student")
    (folder / "tools.py").write_text(textwrap.dedent(STUDENT))
    return folder


@pytest.fixture()
def client(submission: Path):
    with WorkerClient(submission, sandbox_mode="process", call_seconds=2.0) as c:
        c.load_modules({"tools": ["double", "count", "chatty", "die", "nap"]})
        yield c


def _calls(name: str, x: np.ndarray) -> list:
    batch = Batch.__new__(Batch)
    batch.calls = []
    Batch.call(batch, "tools", name, x)
    return batch.calls


def _run(client: WorkerClient, name: str, x: np.ndarray) -> Any:
    batch = Batch(client)
    batch.call("tools", name, x)
    return batch.run()[0]


def test_a_batch_sent_ahead_is_taken_when_the_same_batch_is_asked_for(client: WorkerClient) -> None:
    x = np.arange(3.0)
    assert client.send_ahead(_calls("count", x), clear=False)
    assert client.send_ahead(_calls("count", x + 1), clear=False)
    first, second = _run(client, "count", x), _run(client, "count", x + 1)
    assert np.array_equal(first.value, x + 1) and np.array_equal(second.value, x + 3)
    assert client.ahead_counts == {"sent": 2, "taken": 2}


def test_another_batch_drops_what_was_sent_ahead_and_runs_in_its_turn(client: WorkerClient) -> None:
    x = np.arange(3.0)
    assert client.send_ahead(_calls("double", x), clear=False)
    other = _run(client, "double", x + 1)  # not the batch sent ahead: its reply is read and dropped
    assert np.array_equal(other.value, 2 * (x + 1))
    assert client.ahead_counts == {"sent": 1, "taken": 0}
    assert np.array_equal(_run(client, "double", x).value, 2 * x)  # nothing left over in the pipe


def test_the_same_calls_with_another_clearing_flag_are_not_the_same_batch(client: WorkerClient) -> None:
    x = np.ones(2)
    assert client.send_ahead(_calls("double", x), clear=True)
    assert np.array_equal(_run(client, "double", x).value, 2 * x)  # sent with clear=False: run again
    assert client.ahead_counts["taken"] == 0


def test_what_a_batch_sent_ahead_prints_is_printed_once_in_its_turn(client: WorkerClient) -> None:
    x = np.ones((2, 5))
    assert client.send_ahead(_calls("chatty", x), clear=False)
    assert client.send_ahead(_calls("double", x), clear=False)
    assert isinstance(_run(client, "chatty", x), Ok)  # it printed: its held text was dropped, it ran again
    assert not client.lookahead and client.ahead_counts["taken"] == 0
    assert not client.send_ahead(_calls("double", x), clear=False)
    client.close()
    assert client.student_output().count("chatty saw (2, 5)") == 1


def test_a_printing_batch_sent_ahead_whose_turn_never_comes_prints_nothing(client: WorkerClient) -> None:
    assert client.send_ahead(_calls("chatty", np.ones(4)), clear=False)
    client.settle()
    client.close()
    assert "chatty saw" not in client.student_output()


def test_a_crash_sent_ahead_is_charged_to_its_call_when_its_turn_comes(client: WorkerClient) -> None:
    x = np.ones(1)
    assert client.send_ahead(_calls("double", x), clear=False)
    assert client.send_ahead(_calls("die", x), clear=False)
    assert np.array_equal(_run(client, "double", x).value, [2.0])
    out = _run(client, "die", x)
    assert isinstance(out, Failure) and out.kind == "crash" and "die ended the worker" in out.message
    assert client.restarts == 1
    assert np.array_equal(_run(client, "double", x).value, [2.0])  # a new worker


def test_a_crash_sent_ahead_whose_turn_never_comes_costs_the_submission_nothing(client: WorkerClient) -> None:
    x = np.ones(1)
    assert client.send_ahead(_calls("die", x), clear=False)
    client.settle()
    assert client.restarts == 0 and not client.broken and not client.lookahead
    assert np.array_equal(_run(client, "double", x).value, [2.0])


def test_a_timeout_sent_ahead_is_charged_to_its_call(client: WorkerClient) -> None:
    x = np.ones(1)
    assert client.send_ahead(_calls("nap", x), clear=False)
    out = _run(client, "nap", x)
    assert isinstance(out, Failure) and out.kind == "timeout" and "nap did not return" in out.message
    assert "tools.nap" in client.broken


def test_batches_that_serve_parts_are_not_sent_ahead(client: WorkerClient) -> None:
    calls = _calls("double", np.ones(1))
    calls[0]["serve"] = ["tools.count"]
    assert not client.send_ahead(calls, clear=False)


def test_planning_runs_nothing_and_keeps_the_clearing_flag(client: WorkerClient) -> None:
    client.clear_handles()
    with client.planning(batches=2):
        client.clear_handles()
        first = _run(client, "count", np.zeros(1))  # answered "not run": the check goes on
        assert isinstance(first, Failure) and first.kind == "dependency"
        with pytest.raises(Planned) as planned:
            _run(client, "double", np.zeros(1))
    (calls, clear), (then, clear_then) = planned.value.batches
    assert (calls[0]["function"], clear, then[0]["function"], clear_then) == ("count", True, "double", False)
    assert client.calls_run == 0 and client.ahead_counts["sent"] == 0 and client._needs_clear


STATELESS = ["perfect", "rnn_step_tanh_twice", "lstm_gate_order_ifog", "hostile"]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "submissions"


def _grade(submission: Path, lookahead: bool, monkeypatch: pytest.MonkeyPatch) -> Dict[str, Any]:
    monkeypatch.setattr(hidden_tests, "LOOKAHEAD", lookahead)
    results = grade_submission(submission, sandbox="process")
    results.pop("execution_time")
    return results


@pytest.mark.slow  # a sweep over students of the example class, graded with and without lookahead
@pytest.mark.parametrize("student", STATELESS)
def test_grades_are_the_same_with_and_without_lookahead(student: str, graded, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hidden_tests.LOOKAHEAD, "the default grader sends batches ahead"
    ahead = graded(EXAMPLES / student)  # the default grader's results, graded once per session
    ahead.pop("execution_time")
    alone = _grade(EXAMPLES / student, False, monkeypatch)
    assert json.dumps(ahead, sort_keys=True) == json.dumps(alone, sort_keys=True)
