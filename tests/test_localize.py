"""Localization (autograder/engine/localize.py): hand-written buggy submissions graded end to end, and no
false sentence over the mutants of the reference.

The end-to-end submissions are solutions/rnn_lstm with one textual edit (test_grade.copy_solutions).
The mutant test runs each mutant in this process (its modules executed like the reference's), so
it can afford all of them: every fact localize() states about a mutant's outputs is re-checked
with localize.verify (an independent check of each relation) on the arrays it was stated about.
"""
from __future__ import annotations

import dataclasses
import sys
import types
from typing import Any, Dict, List, Optional

import numpy as np
import pytest
from test_grade import MODE, copy_solutions

from autograder.engine import localize, reference
from autograder.engine.checks import CheckFailed, unpack
from autograder.engine.grade import grade_submission
from autograder.engine.spec import Function
from autograder.engine.strategies import Example, materialize
from autograder.feedback.messages import fact_sentence
from autograder.packs.rnn_lstm import BY_NAME, FUNCTIONS, GRADED_MODULES
from autograder.packs.rnn_lstm import SOLUTIONS_DIR as SOLUTIONS
from autograder.packs.rnn_lstm.mistakes import diagnose
from autograder.quality.mutation import Mutant, generate_mutants, reference_sources


def _failed(results: dict, function: str, visible_only: bool = True) -> List[dict]:
    return [t for t in results["tests"] if t["status"] == "failed" and t["name"].startswith(f"{function}:")
            and (not visible_only or t["visibility"] != "hidden")]


def _facts(results: dict, function: str) -> List[dict]:
    return [f for t in _failed(results, function) for f in t["extra_data"]["facts"]]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Dict[str, dict]:
    """Four realistic one-edit bugs, graded once."""
    edits = {
        "forget_gate_derivative": {"lstm_layers": [("df * f * (1.0 - f)", "df * (1.0 - f)")]},
        "loop_stops_before_t0": {"rnn_layers": [
            ("for t in reversed(range(T)):", "for t in reversed(range(1, T)):"),
            ("    dWx = dWh = db = 0.0\n", "    dWx, dWh, db = np.zeros_like(cache[0][2]), np.zeros_like(cache[0][3]), np.zeros(H)\n"),
            ("    dx = np.stack(dx_steps[::-1], axis=1)", "    dx_steps.append(np.zeros_like(cache[0][0]))\n    dx = np.stack(dx_steps[::-1], axis=1)")]},
        "lstm_db_mean": {"lstm_layers": [("db = da.sum(axis=0)", "db = da.mean(axis=0)")]},
        "bidirectional_halves_swapped": {"deep_layers": [
            ("h = np.concatenate([h_f, h_b_reversed[:, ::-1]], axis=2)", "h = np.concatenate([h_b_reversed[:, ::-1], h_f], axis=2)")]},
    }
    root = tmp_path_factory.mktemp("localize")
    return {name: grade_submission(copy_solutions(root / name, e), sandbox=MODE) for name, e in edits.items()}


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Dict[str, dict]:
    """Two bugs that return no array to compare: one raises, one returns None."""
    edits = {
        "index_past_the_end": {"gradient_flow": [("norms[t - 1] = np.linalg.norm(dh)", "norms[t + 1] = np.linalg.norm(dh)")]},
        "no_return": {"rnn_layers": [("    return next_h, cache\n", "")]},
    }
    root = tmp_path_factory.mktemp("broken")
    return {name: grade_submission(copy_solutions(root / name, e), sandbox=MODE) for name, e in edits.items()}


def test_an_exception_names_the_line_that_raises(broken):
    facts = [f for f in _facts(broken["index_past_the_end"], "hidden_grad_norms") if f["kind"] == "raised"]
    assert facts, "no fact says where hidden_grad_norms breaks"
    line = next(n for n, text in enumerate((SOLUTIONS / "gradient_flow.py").read_text().splitlines(), 1)
                if "norms[t - 1] = np.linalg.norm(dh)" in text)
    assert {(f["function"], f["file"], f["line"], f["type"]) for f in facts} == {
        ("hidden_grad_norms", "gradient_flow.py", line, "IndexError")}
    assert f"line {line} of gradient_flow.py" in facts[0]["sentence"]
    # norms[t + 1] is past the end only once t + 1 reaches T: right with T = 1, wrong from T = 2 on, a
    # condition on the values that counts as more than where it breaks
    conditions = [f for f in _facts(broken["index_past_the_end"], "hidden_grad_norms") if f["kind"] == "size_from"]
    assert conditions and all((f["size"], f["value"]) == ("T", 2) for f in conditions)
    assert localize.diagnosis(broken["index_past_the_end"], "hidden_grad_norms") == "values"


def test_a_missing_return_is_named(broken):
    facts = [f for f in _facts(broken["no_return"], "rnn_step_forward") if f["kind"] == "contract"]
    assert facts and "returns None" in facts[0]["sentence"]
    # rnn_forward, built on it, is not told that its own code breaks
    assert localize.diagnosis(broken["no_return"], "rnn_forward") is None


def test_a_gate_derivative_bug_names_the_gate_block(graded):
    results = graded["forget_gate_derivative"]
    gates = [f for f in _facts(results, "lstm_step_backward") if f["kind"] == "gates"]
    assert gates and all(f["gates"] == ["f"] for f in gates)
    assert {"dWx", "dWh", "db"} <= set(gates[0]["outputs"])
    text = "\n".join(t["output"] for t in _failed(results, "lstm_step_backward"))
    assert "forget gate f (H:2H)" in text


def test_the_t0_loop_bug_names_t0(graded):
    results = graded["loop_stops_before_t0"]
    steps = [f for f in _facts(results, "rnn_backward") if f["kind"] == "steps"]
    assert steps and all(f["when"] == "first" and "dx" in f["outputs"] for f in steps)
    assert "only at t = 0" in "\n".join(t["output"] for t in _failed(results, "rnn_backward"))


def test_a_mean_instead_of_a_sum_names_the_factor_1_over_n(graded):
    results = graded["lstm_db_mean"]
    scale = [f for f in _facts(results, "lstm_step_backward") if f["kind"] == "scale"]
    assert scale and all(f["factor"] == "1/N" and f["outputs"] == ["db"] for f in scale)
    outputs = [f for f in _facts(results, "lstm_step_backward") if f["kind"] == "outputs"]
    assert outputs and outputs[0]["outputs"] == ["db"] and set(outputs[0]["right"]) == {"dx", "dprev_h", "dprev_c", "dWx", "dWh"}
    assert "1/N times the expected value" in "\n".join(t["output"] for t in _failed(results, "lstm_step_backward"))


def test_swapped_halves_are_named(graded):
    results = graded["bidirectional_halves_swapped"]
    facts = _facts(results, "bidirectional_forward")
    assert any(f["kind"] == "halves_swapped" and f["outputs"] == ["h"] for f in facts)
    assert "two halves swapped" in "\n".join(t["output"] for t in _failed(results, "bidirectional_forward"))


def test_hidden_tests_stay_vague(graded):
    for results in graded.values():
        for test in results["tests"]:
            if test["status"] == "failed" and test["visibility"] == "hidden":
                extra = test["extra_data"]
                assert extra["facts"] == [] and extra["mistake"] is None and extra["input"] is None
                assert test["output"] == extra["message"]


def test_grades_do_not_depend_on_localization(graded, tmp_path, monkeypatch):
    """Localization only adds text: with it switched off the scores and statuses are the same."""
    folder = copy_solutions(tmp_path / "again", {"lstm_layers": [("db = da.sum(axis=0)", "db = da.mean(axis=0)")]})
    monkeypatch.setattr(localize, "localize", lambda *a, **k: localize.Localization([]))
    plain = grade_submission(folder, sandbox=MODE)
    assert [(t["name"], t["score"], t["status"]) for t in plain["tests"]] == \
        [(t["name"], t["score"], t["status"]) for t in graded["lstm_db_mean"]["tests"]]
    assert not any(t["extra_data"].get("facts") for t in plain["tests"])


def test_localized_predicate(graded):
    assert localize.localized(graded["lstm_db_mean"], "lstm_step_backward")
    assert not localize.localized(graded["lstm_db_mean"], "rnn_forward")
    hidden_only = {"tests": [dict(t, visibility="hidden") for t in graded["lstm_db_mean"]["tests"]]}
    assert not localize.localized(hidden_only, "lstm_step_backward")


# ---------------------------------------------------------------- no false sentence, over the mutants


def _load(sources: Dict[str, str]) -> Dict[str, types.ModuleType]:
    """The four graded modules from source texts, importing each other by bare name."""
    loaded: Dict[str, types.ModuleType] = {}
    for name in GRADED_MODULES:
        module = types.ModuleType(name)
        saved = {k: sys.modules.get(k) for k in loaded}
        sys.modules.update(loaded)
        try:
            exec(compile(sources[name], f"<mutant {name}>", "exec"), module.__dict__)
        finally:
            for k, v in saved.items():
                if v is None:
                    sys.modules.pop(k, None)
                else:
                    sys.modules[k] = v
        loaded[name] = module
    return loaded


def _plain(value: Any) -> Any:
    """A return value as the worker hands it over: floats as 0-d arrays (unpack checks the rest)."""
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (float, np.floating)):
        return np.asarray(float(value))
    return value


def _runner(mods: Dict[str, types.ModuleType], fn: Function):
    def run(ex: Example, inputs: Dict[str, Any]) -> Optional[Dict[str, np.ndarray]]:
        try:
            with np.errstate(all="ignore"):
                raw = reference.scenario(mods, fn, _copy(inputs))
            return unpack(fn, _plain(raw), ex.size, ex.cell)
        except (CheckFailed, Exception):  # noqa: BLE001 - a crashing mutant states nothing
            return None
    return run


def _copy(inputs: Dict[str, Any]) -> Dict[str, Any]:
    import copy

    return copy.deepcopy(inputs)


def _example(fn: Function, cell: str) -> Example:
    base = BY_NAME[fn.forward] if fn.forward else fn
    dims = {"N": 2, "T": 3, "D": 2, "H": 2}
    if base.layered:
        dims.update({"L": 2, "H@0": 2, "H@1": 3})
        del dims["H"]
    return Example(tuple(sorted(dims.items())), cell, 11, 1.0, truncate=None, max_norm_ratio=0.5)


def _expect(fn: Function):
    return lambda inputs: reference.expected(fn, inputs)


def _verify_all(fn: Function, ex: Example, result: localize.Localization, run, expect) -> List[str]:
    """The facts of ``result`` that do not hold (their sentences) on fresh examples drawn independently
    of ``ex`` (never the ones they were found on), checked by localize.fails."""
    false = []
    for fact in result.facts:
        for k in range(101, 104):
            problem = localize.fails(fn, fact, localize.independent_example(fn, ex, k), run, expect,
                                     lambda e: materialize(fn, e))
            if problem:
                false.append(f"{fact_sentence(fact)} ({problem})")
                break
    return false


def _resize(ex: Example, symbol: str, value: int) -> Example:
    return dataclasses.replace(ex, dims=tuple((k, value if k == symbol else v) for k, v in ex.dims))


def _case(fn: Function, ex: Example, run, expect) -> Optional[localize.Case]:
    inputs = materialize(fn, ex)
    actual = run(ex, inputs)
    if actual is None:
        return None
    return localize.Case(fn, inputs, actual, expect(inputs), ex.size, ex.cell)


def _passes(fn: Function, ex: Example, run, expect) -> Optional[bool]:
    case = _case(fn, ex, run, expect)
    return None if case is None else not case.wrong


def _functions_of(mutant: Mutant) -> List[Function]:
    """The graded function a mutant changes, and the backward functions that pair with it."""
    fns = [f for f in FUNCTIONS if f.name == mutant.function]
    return fns + [f for f in FUNCTIONS if f.forward == mutant.function]


MUTANTS = generate_mutants()


@pytest.mark.slow
def test_no_localization_sentence_is_false_over_all_mutants():
    sources = reference_sources()
    stated = localized = wrong = 0
    false: List[str] = []
    for mutant in MUTANTS:
        try:
            mods = _load(dict(sources, **{mutant.module: mutant.source}))
        except Exception:  # noqa: BLE001 - a mutant that does not even import is graded elsewhere
            continue
        for fn in _functions_of(mutant):
            for cell in fn.cells if not fn.forward else BY_NAME[fn.forward].cells:
                ex, run, expect = _example(fn, cell), _runner(mods, fn), _expect(fn)
                first = _case(fn, ex, run, expect)
                if first is None or not first.wrong:
                    continue
                wrong += 1
                result = localize.localize(fn, ex, first, run, expect, lambda e: materialize(fn, e), expect)
                stated += len(result.facts)
                localized += bool(result.facts) or bool(diagnose(fn.name, first.inputs, first.actual, reference.run_scenario))
                false += [f"{mutant.id} [{fn.name}, {cell}]: {s}" for s in _verify_all(fn, ex, result, run, expect)]
    assert wrong > 200 and stated > wrong  # the mutants really were localized, not skipped
    print(f"\n{wrong} wrong mutant outputs, {stated} facts stated, {localized} with a fact or a catalogue match")
    assert false == []
