"""The mutator and the mutation report: cheap checks (no grading of the 400+ mutants here).

The committed report (reports/mutation.json) must be current: same fingerprint and mutant ids as
what the mutator generates now, kill rate >= 95% of non-equivalent mutants, every survivor
explained in autograder/packs/rnn_lstm/mutation_equivalents.toml. `make mutation` regrades everything.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Dict

import pytest

from autograder.packs.rnn_lstm import GRADED_MODULES
from autograder.quality.mutation import (
    fingerprint,
    generate_mutants,
    mutants_of_module,
    reference_sources,
    unparse,
    write_submission,
)
from autograder.quality.mutation_report import (
    REPORT_JSON,
    Explanation,
    ReportError,
    build_report,
    grade_mutants,
    load_equivalents,
    load_report,
    reexplain,
    render_markdown,
    report_problems,
)

MUTANTS = generate_mutants()


def test_mutants_are_valid_distinct_python_that_differ_from_the_reference():
    sources = reference_sources()
    unparsed = {name: ast.unparse(ast.parse(sources[name])) for name in GRADED_MODULES}
    assert len(MUTANTS) > 200
    assert len({m.id for m in MUTANTS}) == len(MUTANTS)
    assert len({(m.module, m.source) for m in MUTANTS}) == len(MUTANTS)
    for m in MUTANTS:
        ast.parse(m.source)
        assert m.source != unparsed[m.module], m.id
        assert m.id.startswith(f"{m.module}.{m.function}:{m.line}:")


def test_every_operator_family_is_generated():
    operators = {m.operator for m in MUTANTS}
    for family in ("binop swap", "transpose removal", "constant change", "slice bound shift", "reversed() removal",
                   "index shift", "range bound shift",
                   "comparison flip", "statement dropped", "tanh() removal", "slice step removal", "drop right term"):
        assert family in operators


def test_generation_is_deterministic_and_fingerprinted():
    assert [m.id for m in generate_mutants()] == [m.id for m in MUTANTS]
    sources = reference_sources()
    changed = dict(sources, rnn_layers=sources["rnn_layers"] + "\n# edited\n")
    assert fingerprint(changed)["reference_sha256"] != fingerprint()["reference_sha256"]
    assert fingerprint(changed)["mutants_sha256"] == fingerprint()["mutants_sha256"]  # a comment is no mutant
    changed["rnn_layers"] = changed["rnn_layers"].replace("next_h**2", "next_h ** 2 * 1.0")
    assert fingerprint(changed)["mutants_sha256"] != fingerprint()["mutants_sha256"]


def test_known_mutations_of_a_small_function():
    text = "def f(a, b):\n    '''doc'''\n    return np.tanh(a @ b.T + 1.0)\n"
    ids = {m.id for m in mutants_of_module("m", text)}
    assert "m.f:3:11: tanh() removal: np.tanh(a @ b.T + 1.0) -> a @ b.T + 1.0" in ids
    assert "m.f:3:23: transpose removal: a @ b.T + 1.0 -> a @ b + 1.0" in ids
    assert "m.f:3:29: constant change: a @ b.T + 1.0 -> a @ b.T + 0.0" in ids
    assert "m.f:3:19: binop swap: a @ b.T + 1.0 -> a @ b.T - 1.0" in ids
    assert "m.f:3:4: statement dropped: return np.tanh(a @ b.T + 1.0) -> <dropped>" in ids
    assert not any("doc" in i for i in ids)


def test_index_shifts_apply_to_loop_variables_only_and_annotations_are_never_mutated():
    text = ("def f(x, mask):\n    out: List[int] = []\n    for t in range(3):\n"
            "        out.append(x[:, t] + x[mask])\n    return out\n")
    ids = {m.id for m in mutants_of_module("m", text)}
    assert "m.f:4:19: index shift: x[:, t] + x[mask] -> x[:, t - 1] + x[mask]" in ids
    assert not any("range bound shift" in i for i in ids)  # range(3): the constant change covers it
    assert not any("mask - 1" in i for i in ids)
    assert [i for i in ids if "List[" in i] == ["m.f:2:4: statement dropped: out: List[int] = [] -> <dropped>"]


def test_write_submission_has_the_four_modules_with_one_mutated(tmp_path: Path):
    m = MUTANTS[0]
    path = write_submission(m, tmp_path / "sub")
    assert sorted(p.name for p in path.iterdir()) == sorted(f"{n}.py" for n in GRADED_MODULES)
    assert (path / f"{m.module}.py").read_text() == m.source


# --- grading and the report, with a stand-in grader --------------------------------------------


def stand_in_grade(path: Path, sandbox: str = "process") -> Dict[str, Any]:
    """Kills a mutant when its rnn_layers differs from the reference (a grader that only grades rnn)."""
    same = (path / "rnn_layers.py").read_text() == reference_sources()["rnn_layers"]
    return {"score": 100.0 if same else 60.0,
            "tests": [{"name": "rnn: all", "score": 60.0 if same else 20.0, "max_score": 60.0},
                      {"name": "rest", "score": 40.0, "max_score": 40.0}]}


def test_report_counts_kills_and_explained_survivors(tmp_path: Path):
    sample = [m for m in MUTANTS if m.module == "rnn_layers"][:3] + [m for m in MUTANTS if m.module == "deep_layers"][:2]
    outcomes = grade_mutants(sample, jobs=2, grader="test_mutation:stand_in_grade")
    assert [o["score"] < o["max_score"] for o in outcomes] == [True] * 3 + [False] * 2
    assert outcomes[0]["failed"] == ["rnn: all"]
    toml = tmp_path / "eq.toml"
    toml.write_text(f'[[survivor]]\nid = "{sample[3].id}"\nkind = "equivalent"\nreason = "because"\n')
    explanations = load_equivalents(toml)
    report = build_report(sample, outcomes, explanations, sandbox="process")
    s = report["summary"]
    assert (s["killed"], s["survived"], s["equivalent"], s["non_equivalent"]) == (3, 2, 1, 4)
    assert s["kill_rate"] == 0.75
    problems = report_problems(report, sample, explanations)
    assert any("below the goal" in p for p in problems)
    assert any(sample[4].id in p for p in problems)  # the unexplained survivor
    assert not any(sample[3].id in p for p in problems)
    assert "| equivalent | because |" in render_markdown(report)
    explanations[sample[4].id] = Explanation("grader-gap", "the stand-in grades rnn only")
    again = reexplain(report, sample, explanations)
    assert again["summary"] == dict(report["summary"])  # a grader gap still counts against the kill rate
    assert [r["reason"] for r in again["mutants"]][3:] == ["because", "the stand-in grades rnn only"]
    assert report_problems(again, sample, explanations) == [p for p in problems if sample[4].id not in p]
    with pytest.raises(ReportError, match="regrade"):
        reexplain(report, sample[:4], explanations)


@pytest.mark.parametrize("text, message", [
    ("[[survivor]]\nid = 'x'\n", "needs non-empty strings"),
    ("[[survivor]]\nid = 'x'\nkind = 'maybe'\nreason = 'r'\n", "kind must be one of"),
    ("[[survivor\n", "not valid TOML"),
])
def test_malformed_equivalents_file_is_named(tmp_path: Path, text: str, message: str):
    path = tmp_path / "eq.toml"
    path.write_text(text)
    with pytest.raises(ReportError, match=message):
        load_equivalents(path)


def test_missing_report_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ReportError, match="no mutation report"):
        load_report(tmp_path / "none.json")


# --- the committed report is current -----------------------------------------------------------


def test_committed_report_is_current_and_meets_the_goal():
    report = load_report(REPORT_JSON)
    assert report_problems(report, MUTANTS, load_equivalents()) == []
    rows = report["mutants"]
    assert all(r["status"] == "killed" or r["reason"] for r in rows)
    assert report["summary"]["kill_rate"] >= 0.95


def test_committed_markdown_matches_the_json():
    report = json.loads(REPORT_JSON.read_text())
    assert REPORT_JSON.with_suffix(".md").read_text() == render_markdown(report)


def test_mutant_ids_and_sources_are_the_same_on_every_python():
    """ast.unparse of 3.10 writes "(a, b) = c": ids and sources use the 3.11+ form everywhere, so the
    committed report's fingerprint holds on every claimed Python."""
    text = "def f(c):\n    a, b = c\n    return {k: v * a for (k, v) in b.items()}\n"
    mutants = mutants_of_module("m", text)
    assert "m.f:2:4: statement dropped: a, b = c -> <dropped>" in {m.id for m in mutants}
    assert all("(a, b) =" not in m.source and "for (k, v)" not in m.source for m in mutants)
    nested = "(n, t), (d, h) = c\nfor (k, v), w[f(0)] in z:\n    pass"  # as 3.11+ writes it
    assert unparse(ast.parse(nested)) == nested
