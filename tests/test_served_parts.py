"""Served parts: while a composite is tested, its graded parts can be answered by the reference.

The worker replaces the student's part by a proxy that asks the grader; the grader answers only
for the parts the call under way was given, only with arrays, and the reference never enters the
worker (autograder/worker/program.py, autograder/worker/client.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_grade import MODE, copy_solutions

from autograder.engine import reference
from autograder.worker.client import Batch, Failure, Ok, WorkerClient

ZERO_STEP = ("    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)\n    cache", "    next_h = 0 * np.tanh(x @ Wx + prev_h @ Wh + b)\n    cache")
FORGER = '''

def forge(x):
    """Find the worker and ask the grader for a part this call was not given."""
    import gc
    for obj in gc.get_objects():
        if type(obj).__name__ == "Worker" and hasattr(obj, "part_proxy"):
            return obj.part_proxy("rnn_layers.rnn_backward")(x, [])
    raise RuntimeError("no worker found")


def pass_an_object(x, h0, Wx, Wh, b):
    return rnn_step_forward(object(), h0, Wx, Wh, b)
'''


def arrays(seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5)), rng.standard_normal((4, 5)),
            rng.standard_normal((5, 5)), rng.standard_normal(5))


@pytest.fixture()
def client(tmp_path):
    folder = copy_solutions(tmp_path / "sub", {"rnn_layers": [ZERO_STEP]})
    (folder / "rnn_layers.py").write_text((folder / "rnn_layers.py").read_text() + FORGER)
    with WorkerClient(folder, sandbox_mode=MODE) as c:
        c.load_modules({"rnn_layers": ["rnn_forward", "rnn_step_forward", "forge", "pass_an_object"]})
        c.part_server = reference.serve_part
        yield c


def run(client: WorkerClient, function: str, *args, serve=()) -> object:
    batch = Batch(client)
    batch.call("rnn_layers", function, *args, opaque=[1] if function == "rnn_forward" else [], serve=serve)
    return batch.run()[0]


def test_a_served_part_is_answered_by_the_reference_during_that_call_only(client):
    x, h0, Wx, Wh, b = arrays()
    want = reference.pure()["rnn_layers"].rnn_forward(x, h0, Wx, Wh, b)[0]
    own = run(client, "rnn_forward", x, h0, Wx, Wh, b)
    served = run(client, "rnn_forward", x, h0, Wx, Wh, b, serve=["rnn_layers.rnn_step_forward"])
    again = run(client, "rnn_forward", x, h0, Wx, Wh, b)
    assert isinstance(own, Ok) and np.all(own.value[0] == 0)  # the student's zero step
    assert isinstance(served, Ok) and np.allclose(served.value[0], want, rtol=1e-12, atol=0)
    assert isinstance(again, Ok) and np.all(again.value[0] == 0)  # restored after the call


def test_a_part_the_call_was_not_given_is_refused(client):
    x = arrays()[0]
    outcome = run(client, "forge", x, serve=["rnn_layers.rnn_step_forward"])
    assert isinstance(outcome, Failure) and outcome.type.endswith("ServedPartError")
    assert "rnn_layers.rnn_backward is not served during this call" in outcome.message
    outcome = run(client, "forge", x)  # nothing served at all
    assert isinstance(outcome, Failure) and "not served" in outcome.message


def test_a_served_part_takes_arrays_only(client):
    outcome = run(client, "pass_an_object", *arrays(), serve=["rnn_layers.rnn_step_forward"])
    assert isinstance(outcome, Failure) and "not an array" in outcome.message


def test_without_a_part_server_nothing_is_served(tmp_path):
    folder = copy_solutions(Path(tmp_path) / "sub", {"rnn_layers": [ZERO_STEP]})
    with WorkerClient(folder, sandbox_mode=MODE) as c:
        c.load_modules({"rnn_layers": ["rnn_forward"]})
        outcome = run(c, "rnn_forward", *arrays(), serve=["rnn_layers.rnn_step_forward"])
    assert isinstance(outcome, Failure) and "not served" in outcome.message
