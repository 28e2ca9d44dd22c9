"""The student skeleton (assignments/rnn_lstm): stubs only, no solution or hidden-test text, and
public tests that pass on the reference and fail on the skeleton in the order students work."""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, Iterable, List, Set, Tuple

import numpy as np
import pytest

from autograder.authoring.markers import ALL_MARKERS, BEGIN_HIDDEN, BEGIN_SOLUTION, CODE_STUB, END_HIDDEN, END_SOLUTION
from autograder.packs.rnn_lstm import GRADED_MODULES, RELEASE_DIR, SOLUTIONS_DIR, SOURCE_DIR

# ASSIGNMENT_API.md, "Modules a submission contains", in the order students implement them.
GRADED: Dict[str, Tuple[str, ...]] = {
    "rnn_layers": ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"),
    "lstm_layers": ("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"),
    "deep_layers": ("stacked_forward", "stacked_backward", "bidirectional_forward", "bidirectional_backward"),
    "gradient_flow": ("hidden_grad_norms", "clip_grad_norm"),
}
ORDER: List[str] = [name for names in GRADED.values() for name in names]


def functions(path: Path) -> Dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(node, ast.FunctionDef)}


def solution_functions(path: Path) -> Set[str]:
    """Top-level functions of a source file whose body holds a solution region."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return {name for name, node in functions(path).items() if any(BEGIN_SOLUTION in line for line in lines[node.lineno - 1 : node.end_lineno])}


def test_graded_modules_are_the_contracts() -> None:
    assert tuple(GRADED) == GRADED_MODULES


def test_source_marks_exactly_the_graded_functions_as_solutions() -> None:
    for module, names in GRADED.items():
        assert solution_functions(SOURCE_DIR / f"{module}.py") == set(names), module


@pytest.mark.parametrize("module", GRADED)
def test_skeleton_bodies_are_docstring_and_stub(module: str) -> None:
    path = RELEASE_DIR / f"{module}.py"
    lines = path.read_text(encoding="utf-8").split("\n")
    for name in GRADED[module]:
        node = functions(path)[name]
        assert len(node.body) == 2, f"{module}.{name}: body should be a docstring and the stub"
        docstring, stub = node.body
        assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant) and isinstance(docstring.value.value, str)
        assert len(docstring.value.value.strip().splitlines()) >= 5, f"{module}.{name}: the docstring should explain inputs and outputs"
        assert isinstance(stub, ast.Raise) and ast.unparse(stub) == "raise NotImplementedError()"
        tail = [line.strip() for line in lines[docstring.end_lineno : node.end_lineno] if line.strip()]
        assert tail == list(CODE_STUB), f"{module}.{name}: after the docstring, only the stub: {tail}"


def test_provided_helpers_are_given_in_full() -> None:
    """Everything not graded (helpers, gradient_check.py) is identical in skeleton and solutions."""
    for module in (*GRADED, "gradient_check"):
        release, solution = functions(RELEASE_DIR / f"{module}.py"), functions(SOLUTIONS_DIR / f"{module}.py")
        assert set(release) == set(solution), module
        for name in set(solution) - set(GRADED.get(module, ())):
            assert ast.dump(release[name]) == ast.dump(solution[name]), f"{module}.{name} differs between skeleton and solutions"


def call_all(m, ref) -> Dict[str, object]:
    """Call every graded function of ``m`` with valid arguments (caches come from ``ref``)."""
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 3, 4, 5
    x, h0, c0, dh = rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))
    r = {"Wx": rng.standard_normal((D, H)), "Wh": rng.standard_normal((H, H)), "b": rng.standard_normal(H)}
    l4 = {"Wx": rng.standard_normal((D, 4 * H)), "Wh": rng.standard_normal((H, 4 * H)), "b": rng.standard_normal(4 * H)}
    R, L, Dp = ref.rnn_layers, ref.lstm_layers, ref.deep_layers
    calls = {
        "rnn_step_forward": lambda: m.rnn_layers.rnn_step_forward(x[:, 0], h0, r["Wx"], r["Wh"], r["b"]),
        "rnn_step_backward": lambda: m.rnn_layers.rnn_step_backward(dh[:, 0], R.rnn_step_forward(x[:, 0], h0, r["Wx"], r["Wh"], r["b"])[1]),
        "rnn_forward": lambda: m.rnn_layers.rnn_forward(x, h0, r["Wx"], r["Wh"], r["b"]),
        "rnn_backward": lambda: m.rnn_layers.rnn_backward(dh, R.rnn_forward(x, h0, r["Wx"], r["Wh"], r["b"])[1], truncate=2),
        "lstm_step_forward": lambda: m.lstm_layers.lstm_step_forward(x[:, 0], h0, c0, l4["Wx"], l4["Wh"], l4["b"]),
        "lstm_step_backward": lambda: m.lstm_layers.lstm_step_backward(dh[:, 0], c0, L.lstm_step_forward(x[:, 0], h0, c0, l4["Wx"], l4["Wh"], l4["b"])[2]),
        "lstm_forward": lambda: m.lstm_layers.lstm_forward(x, h0, l4["Wx"], l4["Wh"], l4["b"]),
        "lstm_backward": lambda: m.lstm_layers.lstm_backward(dh, L.lstm_forward(x, h0, l4["Wx"], l4["Wh"], l4["b"])[1]),
        "stacked_forward": lambda: m.deep_layers.stacked_forward(x, [h0], [r], cell="rnn"),
        "stacked_backward": lambda: m.deep_layers.stacked_backward(dh, Dp.stacked_forward(x, [h0], [r], cell="rnn")[1]),
        "bidirectional_forward": lambda: m.deep_layers.bidirectional_forward(x, h0, c0, l4, l4, cell="lstm"),
        "bidirectional_backward": lambda: m.deep_layers.bidirectional_backward(
            np.concatenate([dh, dh], axis=2), Dp.bidirectional_forward(x, h0, c0, l4, l4, cell="lstm")[1]
        ),
        "hidden_grad_norms": lambda: m.gradient_flow.hidden_grad_norms(x, h0, r["Wx"], r["Wh"], r["b"], cell="rnn"),
        "clip_grad_norm": lambda: m.gradient_flow.clip_grad_norm(dict(r), 1.0),
    }
    assert list(calls) == ORDER
    return calls


@pytest.mark.parametrize("name", ORDER)
def test_every_skeleton_function_raises_not_implemented(skeleton, solutions, name: str) -> None:
    call_all(solutions, solutions)[name]()  # the arguments are valid: the reference accepts them
    with pytest.raises(NotImplementedError):
        call_all(skeleton, solutions)[name]()


# --------------------------------------------------------------------------------------------
# no solution or hidden-test text in the release


def region_lines(text: str, begin: str, end: str) -> Tuple[Set[str], Set[str]]:
    """(stripped lines inside begin/end regions, stripped lines outside them)."""
    inside, outside, depth = set(), set(), False
    for line in text.split("\n"):
        if begin in line:
            depth = True
        elif end in line:
            depth = False
        elif line.strip():
            (inside if depth else outside).add(line.strip())
    return inside, outside


def tree_files(root: Path) -> Iterable[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".npz")


@pytest.mark.parametrize("begin, end, kind", [(BEGIN_SOLUTION, END_SOLUTION, "solution"), (BEGIN_HIDDEN, END_HIDDEN, "hidden-test")])
def test_no_region_text_reaches_the_release(begin: str, end: str, kind: str) -> None:
    inside, outside = set(), set()
    for path in tree_files(SOURCE_DIR):
        i, o = region_lines(path.read_text(encoding="utf-8", errors="replace"), begin, end)
        inside |= i
        outside |= o
    secret = inside - outside
    if kind == "solution":
        assert len(secret) > 50, "the source should hold the reference code inside solution markers"
    leaks = []
    for path in tree_files(RELEASE_DIR):
        text = path.read_text(encoding="utf-8", errors="replace")
        leaks += [f"{path.relative_to(RELEASE_DIR)}: {line}" for line in (l.strip() for l in text.split("\n")) if line in secret]
    assert not leaks, f"{kind} text in the release:\n" + "\n".join(leaks[:20])


def test_no_marker_in_either_generated_tree() -> None:
    for root in (RELEASE_DIR, SOLUTIONS_DIR):
        for path in tree_files(root):
            text = path.read_text(encoding="utf-8", errors="replace")
            found = [marker for marker in ALL_MARKERS if marker in text]
            assert not found, f"{path}: {found}"


# --------------------------------------------------------------------------------------------
# the public tests, run as a student runs them


def run_public_tests(folder: Path, tmp_path: Path, *extra: str) -> List[Tuple[str, str, str]]:
    """Run ``pytest`` inside an assignment folder; [(test id, outcome, failure text)] in run order."""
    report = tmp_path / f"{folder.parent.name}-{folder.name}.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=native", f"--junitxml={report}", *extra],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300,
    )
    assert report.is_file(), f"pytest wrote no report (exit {completed.returncode}):\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    results = []
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped") is not None
        outcome = "failed" if problem is not None else "skipped" if skipped else "passed"
        results.append((f"{case.get('classname')}::{case.get('name')}", outcome, (problem.text or "") if problem is not None else ""))
    return results


def raising_function(failure: str) -> str:
    """The function whose ``raise NotImplementedError()`` ended a native traceback, or ''."""
    if not re.search(r"^NotImplementedError\s*$", failure, re.M):
        return ""
    frames = re.findall(r'File "[^"]+", line \d+, in (\w+)', failure)
    return frames[-1] if frames else ""


def test_public_tests_pass_on_the_reference(tmp_path: Path) -> None:
    results = run_public_tests(SOLUTIONS_DIR, tmp_path)
    assert len(results) > 40
    bad = [(name, outcome) for name, outcome, _ in results if outcome != "passed"]
    assert not bad, bad


def test_public_tests_fail_on_the_skeleton_in_the_order_students_work(tmp_path: Path) -> None:
    results = run_public_tests(RELEASE_DIR, tmp_path)
    assert results and all(outcome == "failed" for _, outcome, _ in results), [r[:2] for r in results if r[1] != "failed"]
    raisers = [raising_function(text) for _, _, text in results]
    assert all(raisers), [name for (name, _, _), r in zip(results, raisers) if not r]
    assert raisers[0] == "rnn_step_forward"
    positions = [ORDER.index(r) for r in raisers]
    assert positions == sorted(positions), "a public test fails on a function that students do later than the next test's"
    every_module_tested = {module for module, names in GRADED.items() if set(names) & set(raisers)}
    assert every_module_tested == set(GRADED)


def partial_solution(text: str, done: Set[str]) -> str:
    """A source file with the solutions of the ``done`` functions kept and the others stubbed."""
    out, keep, current = [], None, ""
    for line in text.split("\n"):
        match = re.match(r"def (\w+)\(", line)
        current = match.group(1) if match else current
        if BEGIN_SOLUTION in line:
            keep = current in done
            if not keep:
                indent = line[: len(line) - len(line.lstrip())]
                out += [indent + stub for stub in CODE_STUB]
        elif END_SOLUTION in line:
            keep = None
        elif keep is None or keep:
            out.append(line)
    return "\n".join(out)


@pytest.mark.slow
@pytest.mark.parametrize("next_function", ORDER[1:])
def test_with_earlier_functions_done_the_first_failure_is_the_next_function(tmp_path: Path, next_function: str) -> None:
    """A student who finished everything before ``next_function`` sees its NotImplementedError first."""
    done = set(ORDER[: ORDER.index(next_function)])
    folder = tmp_path / "rnn_lstm"
    shutil.copytree(RELEASE_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for module in GRADED:
        source = (SOURCE_DIR / f"{module}.py").read_text(encoding="utf-8")
        (folder / f"{module}.py").write_text(partial_solution(source, done), encoding="utf-8")
    results = run_public_tests(folder, tmp_path, "-x")
    failed = [(name, text) for name, outcome, text in results if outcome == "failed"]
    assert failed, f"no public test failed with {next_function} not implemented"
    name, text = failed[0]
    assert raising_function(text) == next_function, f"first failure {name} should be {next_function}'s NotImplementedError:\n{text[-1500:]}"
