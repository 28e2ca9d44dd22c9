"""The realistic corpus (tests/realistic/, autograder/quality/realistic.py): its layout, and grades that
add up: a submission with one realistic bug per module loses exactly what each bug loses alone.

The corpus was written by a student who saw only the release: their own correct submission (base/),
correct ones in other styles (correct/), and single bugs, each the one module it changes plus a
bug.toml (the function that has the bug, a one-line truth, whether the outputs are wrong).
"""
from __future__ import annotations

import ast
import json
import random
from pathlib import Path
from typing import Dict, List

import pytest

from autograder.engine import pack
from autograder.engine.grade import grade_submission
from autograder.quality import realistic

MODE = "process"


def _functions(path: Path) -> Dict[str, str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name: ast.dump(n) for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_the_corpus_covers_every_function_with_realistic_bugs():
    bugs = realistic.bugs()
    assert len(bugs) >= 30
    assert {b.function for b in bugs} == {f.name for f in pack.current().functions}
    kinds = {b.kind for b in bugs}
    assert {"aliasing", "in-place", "cache-layout", "size-dependent"} <= kinds, kinds
    assert len(realistic.correct()) >= 5


@pytest.mark.parametrize("bug", realistic.bugs(), ids=lambda b: b.name)
def test_each_bug_changes_its_own_function_only(bug):
    """The bug's module differs from base/ in the function bug.toml names, and nowhere else."""
    module = bug.module.removesuffix(".py")
    assert pack.current().by_name[bug.function].module == module
    mine, base = _functions(bug.folder / bug.module), _functions(realistic.base() / bug.module)
    changed = {name for name in set(mine) | set(base) if mine.get(name) != base.get(name)}
    assert changed == {bug.function}, changed
    assert bug.truth.strip()


def test_a_bug_folder_without_its_module_is_named(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "bugs" / "broken").mkdir(parents=True)
    (corpus / "bugs" / "broken" / "bug.toml").write_text(
        'function = "rnn_forward"\nmodule = "rnn_layers.py"\nkind = "x"\ntruth = "y"\nwrong_outputs = true\n')
    with pytest.raises(realistic.CorpusError, match="broken has no rnn_layers.py"):
        realistic.bugs(corpus)
    (corpus / "bugs" / "broken" / "bug.toml").write_text('function = "rnn_forward"\n')
    with pytest.raises(realistic.CorpusError, match="lacks module, kind, truth, wrong_outputs"):
        realistic.bugs(corpus)


def test_two_bugs_of_one_module_do_not_combine(tmp_path):
    same = [b for b in realistic.bugs() if b.module == "rnn_layers.py"][:2]
    with pytest.raises(realistic.CorpusError, match="one bug per module"):
        realistic.submission(same, tmp_path / "both")


def test_a_part_whose_cache_is_wrong_is_found_beside_another_wrong_part(tmp_path):
    """rnn_forward's cache is wrong (it writes every state into the caller's h0) and lstm_forward's outputs
    are wrong (its step forward has a sigmoid candidate): stacked_forward and bidirectional_forward, which
    run both, must serve rnn_forward too, not charge its cache to their own 'cache feeds your backward'."""
    by_name = {b.name: b for b in realistic.bugs()}
    combo = [by_name["rf_state_buffer_is_h0"], by_name["lsf_candidate_sigmoid"]]
    results = grade_submission(realistic.submission(combo, tmp_path / "combined"), sandbox=MODE)
    assert set(_lost(results)) == {b.function for b in combo}


def test_a_served_backward_reads_what_the_forward_computed_at_its_call(tmp_path):
    """hidden_grad_norms keeps its state in the caller's h0 and overwrites it after each step (its norms are
    right: the step backward's dprev_h never reads prev_h), and lstm_step_forward is wrong, so both LSTM
    step parts are served: the reference step backward must read a cache made from the arguments as they
    were at the forward call, not one recomputed from the state overwritten since."""
    by_name = {b.name: b for b in realistic.bugs()}
    combo = [by_name["hgn_state_kept_in_h0"], by_name["lsf_candidate_sigmoid"]]
    results = grade_submission(realistic.submission(combo, tmp_path / "combined"), sandbox=MODE)
    assert set(_lost(results)) == {b.function for b in combo}
    lost = [t["name"] for t in results["tests"] if t["name"].startswith("hidden_grad_norms") and t["score"] < t["max_score"]]
    assert lost == ["hidden_grad_norms: no in-place modification"]


# ---------------------------------------------------------------- combinations (slow: 20 gradings and their singles)

COMBINATIONS = 20
SEED = 20261206


def combinations() -> List[List[realistic.Bug]]:
    """A fixed sample: one bug from each module (every module), drawn with a fixed seed."""
    by_module: Dict[str, List[realistic.Bug]] = {}
    for bug in realistic.bugs():
        by_module.setdefault(bug.module, []).append(bug)
    rng = random.Random(SEED)
    found: List[List[realistic.Bug]] = []
    while len(found) < COMBINATIONS:
        pick = [rng.choice(by_module[m]) for m in sorted(by_module)]
        if pick not in found:
            found.append(pick)
    return found


def _lost(results: dict) -> Dict[str, float]:
    return {name: round(e["max_score"] - e["score"], 6) for name, e in results["extra_data"]["functions"].items()
            if e["max_score"] - e["score"] > 1e-9}


@pytest.fixture(scope="module")
def singles(tmp_path_factory) -> Dict[str, Dict[str, float]]:
    root = tmp_path_factory.mktemp("singles")
    needed = {b.name: b for combo in combinations() for b in combo}
    return {name: _lost(grade_submission(realistic.submission([bug], root / name), sandbox=MODE))
            for name, bug in needed.items()}


@pytest.mark.slow
@pytest.mark.parametrize("index", range(COMBINATIONS))
def test_bugs_from_different_modules_cost_the_sum_of_what_each_costs_alone(index, singles, tmp_path):
    combo = combinations()[index]
    results = grade_submission(realistic.submission(combo, tmp_path / "combined"), sandbox=MODE)
    expected: Dict[str, float] = {}
    for bug in combo:
        for function, points in singles[bug.name].items():
            expected[function] = round(expected.get(function, 0.0) + points, 6)
    assert _lost(results) == expected, json.dumps({b.name: singles[b.name] for b in combo})
