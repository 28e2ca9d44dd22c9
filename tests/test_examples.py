"""The example class in examples/submissions: current with the reference, and each bug real.

The harness here runs every graded function of a submission and of the reference on the same
random inputs (in this process; the hostile student is never imported) and lists the functions
whose outputs differ, that raise, or that modify their inputs.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Set

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import make_examples  # noqa: E402
from conftest import load_tree  # noqa: E402

from autograder.packs.rnn_lstm import GRADED_MODULES  # noqa: E402

EXAMPLES = REPO / "examples" / "submissions"


def _load(folder: Path) -> Dict[str, Any]:
    functions = {}
    for module in vars(load_tree(folder, GRADED_MODULES)).values():
        functions.update({k: v for k, v in vars(module).items() if callable(v)})
    return functions


def _flat(value: Any) -> List[np.ndarray]:
    if isinstance(value, dict):
        return [a for k in sorted(value) for a in _flat(value[k])]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _flat(v)]
    if value is None or isinstance(value, str):
        return []
    return [np.asarray(value, dtype=float)]


def _cases(rng: np.random.Generator, N: int, T: int, D: int, H: int) -> Dict[str, List[tuple]]:
    """Calls of every graded function: name -> list of (argument tuple, forward to make a cache)."""
    r = lambda *shape: rng.normal(size=shape)  # noqa: E731
    x, h0, dh, dh2 = r(N, T, D), r(N, H), r(N, T, H), r(N, T, 2 * H)
    rnn = {"Wx": r(D, H), "Wh": r(H, H), "b": r(H)}
    lstm = {"Wx": r(D, 4 * H), "Wh": r(H, 4 * H), "b": 2 * r(4 * H)}
    top = {"rnn": {"Wx": r(H, H), "Wh": r(H, H), "b": r(H)}, "lstm": {"Wx": r(H, 4 * H), "Wh": r(H, 4 * H), "b": r(4 * H)}}
    cases = {
        "rnn_step_forward": [((x[:, 0], h0, rnn["Wx"], rnn["Wh"], rnn["b"]), None)],
        "rnn_step_backward": [((dh[:, 0],), ("rnn_step_forward", (x[:, 0], h0, rnn["Wx"], rnn["Wh"], rnn["b"]), 1))],
        "rnn_forward": [((x, h0, rnn["Wx"], rnn["Wh"], rnn["b"]), None)],
        "rnn_backward": [((dh, k), ("rnn_forward", (x, h0, rnn["Wx"], rnn["Wh"], rnn["b"]), 1)) for k in (None, 1, 2, 3)],
        "lstm_step_forward": [((x[:, 0], h0, h0 / 2, lstm["Wx"], lstm["Wh"], lstm["b"]), None)],
        "lstm_step_backward": [((dh[:, 0], dh[:, -1]), ("lstm_step_forward", (x[:, 0], h0, h0 / 2, lstm["Wx"], lstm["Wh"], lstm["b"]), 2))],
        "lstm_forward": [((x, h0, lstm["Wx"], lstm["Wh"], lstm["b"]), None)],
        "lstm_backward": [((dh,), ("lstm_forward", (x, h0, lstm["Wx"], lstm["Wh"], lstm["b"]), 1))],
        "clip_grad_norm": [((dict(rnn), m), None) for m in (0.5, 1e6)],
    }
    for cell, p in (("rnn", rnn), ("lstm", lstm)):
        stacked = (x, [h0, h0 * 0.5], [p, top[cell]], cell)
        bidir = (x, h0, h0 * 0.3, p, top[cell] if D == H else p, cell)
        cases.setdefault("stacked_forward", []).append((stacked, None))
        cases.setdefault("stacked_backward", []).append(((dh,), ("stacked_forward", stacked, 1)))
        cases.setdefault("bidirectional_forward", []).append((bidir, None))
        cases.setdefault("bidirectional_backward", []).append(((dh2,), ("bidirectional_forward", bidir, 1)))
        cases.setdefault("hidden_grad_norms", []).append(((x, h0, p["Wx"], p["Wh"], p["b"], cell), None))
    return cases


def _run(functions: Dict[str, Any], name: str, args: tuple, forward: Any) -> List[np.ndarray]:
    call_args = copy.deepcopy(args)
    if forward is not None:
        fname, fargs, index = forward
        call_args = call_args + (functions[fname](*copy.deepcopy(fargs))[index],)
        if name == "rnn_backward":  # truncate goes after the cache
            call_args = (call_args[0], call_args[2], call_args[1])
    before = copy.deepcopy(call_args)
    out = functions[name](*call_args)
    if name.endswith("forward") and isinstance(out, tuple):
        out = out[:-1]  # drop the cache
    modified = [not np.array_equal(a, b) for a, b in zip(_flat(before[:len(args)]), _flat(call_args[:len(args)]))]
    if any(modified):
        raise AssertionError(f"{name} modified its inputs")
    return _flat(out)


def differing_functions(folder: Path, seed: int = 0) -> Set[str]:
    """Graded functions of ``folder`` that disagree with the reference, raise, or modify inputs."""
    student, reference = _load(folder), _load(make_examples.SOLUTIONS)
    differ = set()
    for shapes in ((2, 5, 3, 3), (1, 1, 1, 1), (3, 7, 2, 4)):
        cases = _cases(np.random.default_rng(seed), *shapes)
        for name, calls in cases.items():
            for args, forward in calls:
                expected = _run(reference, name, args, forward)
                try:
                    got = _run(student, name, args, forward)
                    same = len(got) == len(expected) and all(
                        g.shape == e.shape and np.allclose(g, e, rtol=1e-7, atol=1e-9) for g, e in zip(got, expected))
                except Exception:  # noqa: BLE001 - any failure counts as a difference
                    same = False
                if not same:
                    differ.add(name)
    return differ


def test_generated_examples_are_current():
    assert make_examples.stale() == [], "run .venv/bin/python tools/make_examples.py"


def test_the_class_has_the_students_the_demo_needs():
    students = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    assert len(students) >= 8
    assert {"perfect", "skeleton", "written_differently", "hostile", "misnamed_files"} <= set(students)
    for student in students:
        assert (EXAMPLES / student / "NOTES.md").is_file(), student
    assert set(make_examples.HAND_WRITTEN) | set(make_examples.EXAMPLES) == set(students)


@pytest.mark.parametrize("student", ["perfect", "written_differently"])
def test_correct_students_agree_with_the_reference(student):
    assert differing_functions(EXAMPLES / student) == set()


@pytest.mark.parametrize("student", sorted(set(make_examples.EXAMPLES) - {"perfect"}))
def test_every_bug_is_real_and_where_the_notes_say(student):
    expected = set(make_examples.EXAMPLES[student].costs)
    assert expected, f"{student} names no function that must lose points"
    assert expected <= differing_functions(EXAMPLES / student)


@pytest.mark.parametrize("student", sorted(make_examples.EXAMPLES))
def test_each_student_loses_points_exactly_where_its_notes_say(student):
    """The notes' "Must lose points in" names exactly the functions that lose points in the student's golden
    results (the grades make demo prints; tests/test_golden_results.py checks them against real grading),
    so the example class agrees with itself."""
    golden = json.loads((REPO / "tests" / "golden" / f"{student}.json").read_text(encoding="utf-8"))
    lost = {f for f, e in golden["extra_data"]["functions"].items() if e["max_score"] - e["score"] > 1e-9}
    assert lost == set(make_examples.EXAMPLES[student].costs)
