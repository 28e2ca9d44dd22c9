"""The worker and its wire format: only plain data crosses; failures stay contained."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
import pytest

from autograder.worker import protocol
from autograder.worker.client import Batch, Failure, Handle, Ok, WorkerClient

STUDENT = '''
import os, sys, time
import numpy as np

def echo(*args):
    return args

def add(a, b):
    return a + b

def with_cache(x):
    return x * 2, {"saved": x}

def read_cache(cache):
    return cache["saved"] + 1

def as_list(x):
    return x.tolist()

def as_matrix(x):
    return np.asmatrix(x)

def as_objects(x):
    return np.array([object(), 1], dtype=object)

def boom(x):
    helper(x)

def helper(x):
    raise ValueError("bad value " + str(x.shape))

def leave(x):
    sys.exit(3)

def die(x):
    os._exit(7)

def forever(x):
    while True:
        pass

def chatty(x):
    print("hello from the student", flush=True)
    sys.stdout.write("{not a protocol message}\\n")
    return x

def scale_in_place(x):
    x *= 2
    return x.copy()
'''


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("student")
    (folder / "tools.py").write_text(textwrap.dedent(STUDENT))
    return folder


@pytest.fixture()
def client(submission: Path):
    with WorkerClient(submission, sandbox_mode="process", call_seconds=3.0) as c:
        c.load_modules({"tools": ["add", "echo", "missing_one"]})
        yield c


def call(client: WorkerClient, name: str, *args, **kwargs):
    batch = Batch(client)
    batch.call("tools", name, *args, **kwargs)
    return batch.run()[0]


def test_arrays_and_structures_round_trip(client):
    x = np.arange(6.0).reshape(2, 3)
    out = call(client, "echo", x, [x, {"k": x}], 2.5, 3, "s", None)
    assert isinstance(out, Ok)
    a, (b, d), f, i, s, n = out.value
    assert type(a) is np.ndarray and np.array_equal(a, x) and np.array_equal(d["k"], x)
    assert (f.value, f.type_name, i.value, i.type_name, s, n) == (2.5, "float", 3, "int", "s", None)


def test_cache_stays_in_worker_and_feeds_the_next_call(client):
    batch = Batch(client)
    first = batch.call("tools", "with_cache", np.ones(3), opaque=[1])
    batch.call("tools", "read_cache", first[1])
    fwd, bwd = batch.run()
    assert isinstance(fwd.value[1], Handle) and fwd.value[1].type_name == "dict"
    assert np.array_equal(bwd.value, np.full(3, 2.0))


def test_values_of_the_wrong_type_come_back_as_named_handles(client):
    assert isinstance(call(client, "as_list", np.ones(2)).value, list)
    matrix = call(client, "as_matrix", np.ones((2, 2))).value
    assert isinstance(matrix, Handle) and "matrix" in matrix.type_name
    objects = call(client, "as_objects", np.ones(2)).value
    assert isinstance(objects, Handle) and objects.type_name == "numpy.ndarray of dtype object"


def test_exception_reports_type_message_and_student_frames(client):
    out = call(client, "boom", np.ones((2, 2)))
    assert isinstance(out, Failure) and out.kind == "exception"
    assert out.type == "ValueError" and "bad value (2, 2)" in out.message
    assert [line.split(":")[0] for line in out.traceback] == ["tools.py", "tools.py"]
    assert "in helper" in out.traceback[-1]


def test_missing_function_is_named(client):
    out = call(client, "missing_one", 1)
    assert isinstance(out, Failure) and out.kind == "missing" and "missing_one is missing" in out.message


def test_sys_exit_fails_only_that_call(client):
    out = call(client, "leave", np.ones(1))
    assert isinstance(out, Failure) and out.type == "SystemExit"
    assert np.array_equal(call(client, "add", np.ones(1), np.ones(1)).value, [2.0])


def test_crash_restarts_the_worker_and_is_not_run_again(client):
    out = call(client, "die", np.ones(1))
    assert isinstance(out, Failure) and out.kind == "crash" and "die ended the worker" in out.message
    assert np.array_equal(call(client, "add", np.ones(1), np.ones(1)).value, [2.0])
    again = call(client, "die", np.ones(1))
    assert again.kind == "crash" and client.restarts == 1


def test_timeout_fails_the_call_and_the_worker_recovers(client):
    out = call(client, "forever", np.ones(1))
    assert isinstance(out, Failure) and out.kind == "timeout" and "forever did not return" in out.message
    assert np.array_equal(call(client, "add", np.ones(1), np.ones(1)).value, [2.0])


def test_student_prints_do_not_corrupt_the_protocol(client):
    out = call(client, "chatty", np.ones(2))
    assert isinstance(out, Ok) and np.array_equal(out.value, np.ones(2))
    client.close()
    assert "hello from the student" in client.student_output()


def test_echo_shows_inputs_modified_in_place(client):
    out = call(client, "scale_in_place", np.ones(2), echo=True)
    assert np.array_equal(out.args_after[0], [2.0, 2.0])


def test_protocol_refuses_pickled_objects():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    pickled = buffer.getvalue()
    for dtype in ("|O", "|O8", "<U3", "|V8", "<c16", "<m8", "<M8[s]", "f8", "=f8", "float64", "[('a', '<f8')]",
                  "(2,)<f8", "<f8 ", 8, None):
        with pytest.raises(protocol.ProtocolError, match="dtype"):
            protocol.wire_to_array({"dtype": dtype, "shape": [len(pickled)]}, pickled)


@pytest.mark.parametrize("node, size", [
    ({"dtype": "<f8", "shape": [3]}, 16),  # bytes that do not fill the shape
    ({"dtype": "<f8", "shape": [2]}, 24),  # or more bytes than it holds
    ({"dtype": "<f8", "shape": [-1]}, 8),
    ({"dtype": "<f8", "shape": [2.0]}, 16),
    ({"dtype": "<f8", "shape": "2"}, 16),
    ({"dtype": "<f8", "shape": [1] * 33}, 8),
    ({"dtype": "<f8", "shape": [2 ** 62, 2 ** 62]}, 16),  # no overflow to a size that matches
    ({"dtype": "<f8", "shape": [2], "order": "X"}, 16),
])
def test_protocol_refuses_malformed_arrays(node, size):
    with pytest.raises(protocol.ProtocolError, match="invalid array"):
        protocol.wire_to_array(node, bytes(size))


@pytest.mark.parametrize("array", [
    np.arange(6.0).reshape(2, 3), np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.arange(12.0).reshape(3, 4)[:, ::2],
    np.zeros((0, 3)), np.array(2.5), np.array([True, False]), np.arange(5, dtype=">i4"),
    np.arange(3, dtype=np.float32), np.array([np.nan, -np.inf, -0.0, 5e-324])])
def test_protocol_arrays_arrive_exactly_as_np_save_and_np_load_keep_them(array):
    blobs: list = []
    tree = protocol.encode(array, blobs, lambda v: {"h": 0})
    got = protocol.decode(tree, blobs, lambda node: None)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    loaded = np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False)
    assert got.dtype == loaded.dtype and got.shape == loaded.shape and got.tobytes("A") == loaded.tobytes("A")
    assert got.flags.c_contiguous == loaded.flags.c_contiguous and got.flags.f_contiguous == loaded.flags.f_contiguous
    assert got.flags.writeable and got.flags.aligned


def test_protocol_sends_only_exact_numeric_ndarrays():
    blobs: list = []
    others: list = []
    tree = protocol.encode([np.ones(2), np.ma.masked_array([1.0]), np.array(["a"])], blobs,
                           lambda v: others.append(v) or {"h": len(others)})
    assert tree["l"][0] == {"a": 0, "dtype": "<f8", "shape": [2]} and len(blobs) == 1 and len(others) == 2


def test_import_time_failures_are_attributed_to_their_module(tmp_path):
    (tmp_path / "exits.py").write_text("import os\nos._exit(4)\n")
    (tmp_path / "loops.py").write_text("while True:\n    pass\n")
    (tmp_path / "raises.py").write_text("x = 1\nraise RuntimeError('at import')\n")
    (tmp_path / "fine.py").write_text("def one():\n    return 1.0\n")
    with WorkerClient(tmp_path, sandbox_mode="process", call_seconds=2.0) as client:
        loaded = client.load_modules({"exits": [], "loops": [], "raises": [], "fine": ["one"]})
        assert loaded["exits"].kind == "crash" and "importing exits.py ended the worker" in loaded["exits"].message
        assert loaded["loops"].kind == "timeout" and "importing loops.py did not finish" in loaded["loops"].message
        assert loaded["raises"].type == "RuntimeError" and loaded["raises"].traceback == ["raises.py:2 in <module>: "
                                                                                       "raise RuntimeError('at import')"]
        assert isinstance(loaded["fine"], Ok)
        assert call_module(client, "fine", "one").value.value == 1.0
        assert call_module(client, "raises", "anything").kind == "exception"


def call_module(client: WorkerClient, module: str, name: str):
    batch = Batch(client)
    batch.call(module, name)
    return batch.run()[0]
