"""Formative feedback for student CI, from a bundle that holds no solution code.

The Gradescope bundle carries the reference (``solutions/``), which a student who edits the
workflow of their own repository could print. The student-CI bundle (``python -m autograder bundle
--student-ci --out F.zip``, :func:`build_student_bundle`) instead carries, per rubric test, a
fixed derandomized set of examples (``EXAMPLES_PER_TEST`` at most) with their inputs and, for
``values``, ``carousel``, truncation and ``cache`` tests (a forward's cache, judged through the
student's backward), the reference's outputs computed at build time; the
other kinds need no reference values (the gradient checks compare the student's backward with
central differences of the student's OWN forward, and a constant forward proves nothing there;
the in-place and invalid-cell checks look at the student alone). As in the real grade, in-place,
invalid-cell and "truncate >= T" points count only with the test they rest on.
It holds the grader package without ``mistakes/`` (the mistake variants) and the mutation tools,
no ``solutions/``, and nothing compiled; ``tests/test_bundle.py`` checks by AST comparison that
no function body of ``solutions/`` is in it.

``python -m autograder.student_ci SUBMISSION --results R.json --feedback F.md`` (run from the
unzipped bundle) replays the stored examples through the same worker, client and sandbox as the
real grade, with the hidden tests' own checks (``autograder/engine/checks.py``,
``hidden_tests.kinds()``), and writes results with the same test names and format. Differences from
the real grade, said in the feedback: few fixed examples instead of fresh draws, no shrinking to
the smallest failing input, no "likely mistake" sentence, and a function built on your parts is
compared with the stored reference outputs only. Marks come from ``grade-all`` or Gradescope.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from autograder.engine import pack
from autograder.engine import submission as submission_checks
from autograder.engine.pack import function
from autograder.engine.score import RubricTest, function_scores, load_rubric
from autograder.engine.spec import Function
from autograder.paths import REPO_ROOT
from autograder.sandbox import launch as sandbox
from autograder.sandbox.limits import GRADING

DATA_DIR = Path(__file__).resolve().parent / "student_ci_data"
CASES = "cases.json"
ARRAYS = "arrays.npz"
EXAMPLES_PER_TEST = 4
# What the student-CI bundle must not carry: mistake variants, mutation tools, compiled code.
# (reference_answers: the reference's answers to the marking draws, autograder/engine/answers.py, wherever
# AUTOGRADER_CACHE put them)
LEFT_OUT_PARTS = {"mistakes", "__pycache__", ".pytest_cache", ".hypothesis", "student_ci_data", "reference_answers"}
LEFT_OUT_FILES = {"mutation.py", "mutation_report.py", "mutation_equivalents.toml"}
LEFT_OUT_SUFFIXES = (".pyc", ".so", ".pyd", ".dylib", ".o")
FORMATIVE = ("FORMATIVE FEEDBACK, not your grade: {examples} fixed examples checked against answers stored in the "
             "course's student-CI bundle (it holds no reference code). Marks come from the course's autograder, "
             "on fresh examples, with smallest failing inputs and likely-mistake hints; a function built on your "
             "own parts is compared here with the stored reference outputs only.")


# ------------------------------------------------------------------ storing trees of arrays


def _encode(value: Any, arrays: Dict[str, np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"array": key}
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v, arrays) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in the student-CI bundle")


def _decode(node: Any, arrays: Any) -> Any:
    if isinstance(node, dict):
        if "array" in node:
            return np.array(arrays[node["array"]])
        if "dict" in node:
            return {k: _decode(v, arrays) for k, v in node["dict"].items()}
        if "list" in node:
            return [_decode(v, arrays) for v in node["list"]]
        return tuple(_decode(v, arrays) for v in node["tuple"])
    return node


# ------------------------------------------------------------------ building (staff side)


def draw(fn: Function, profile: str, count: int) -> List[Any]:
    """``count`` examples of a derandomized Hypothesis run (the same on every build)."""
    from hypothesis import HealthCheck, Phase, given, settings

    from autograder.engine.strategies import examples

    found: List[Any] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(examples(fn, profile))
    def collect(ex: Any) -> None:
        if ex not in found:
            found.append(ex)

    collect()
    return found[:count]


def build_cases(per_test: int = EXAMPLES_PER_TEST) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """The stored examples of every rubric test: (JSON-able cases, arrays by key)."""
    from autograder.engine import reference

    arrays: Dict[str, np.ndarray] = {}
    tests: Dict[str, Any] = {}
    active = pack.current()
    for test in load_rubric():
        fn = function(test.function)
        stored = []
        for ex in draw(fn, test.profile, min(per_test, test.examples)):
            if ex.truncate is not None and test.kind not in active.option_kinds.get("truncate", ()):
                ex = dataclasses.replace(ex, truncate=None)  # full BPTT, as the real grade
            case: Dict[str, Any] = {"example": _encode(dataclasses.asdict(ex), arrays)}
            inputs = _stored_inputs(fn, test.kind, ex)
            if inputs is not None:
                with np.errstate(all="ignore"):
                    expected = reference.expected(_judged(fn, test.kind), inputs)
                    if test.kind in active.stored_outputs:
                        expected = {k: v for k, v in expected.items() if k in active.stored_outputs[test.kind]}
                    case["inputs"] = _encode(inputs, arrays)
                    case["expected"] = _encode(expected, arrays)
            stored.append(case)
        tests[test.full_name] = stored
    return {"examples_per_test": per_test, "tests": tests}, arrays


def _stored_inputs(fn: Function, kind: str, ex: Any) -> Optional[Dict[str, Any]]:
    """The inputs of a test whose answer comes from the reference (None: the kind needs no answer)."""
    from autograder.engine.strategies import materialize

    if kind == "values":
        return materialize(fn, ex)
    stored = pack.current().stored_inputs.get(kind)
    if stored is not None:
        return stored(fn, ex)
    if kind == "cache":
        return materialize(_judged(fn, kind), ex)
    return None


def _judged(fn: Function, kind: str) -> Function:
    """The function whose outputs a test compares: a forward's cache test compares its backward's."""
    from autograder.engine.hidden_tests import backward_of

    return backward_of(fn) if kind == "cache" else fn


def student_bundle_files(repo: Path = REPO_ROOT) -> List[Tuple[str, Path]]:
    """(name in the zip, file) for the grader package minus what the student-CI bundle leaves out."""
    files = []
    for path in sorted((repo / "autograder").rglob("*")):
        rel = path.relative_to(repo)
        if (path.is_file() and LEFT_OUT_PARTS.isdisjoint(rel.parts) and path.name not in LEFT_OUT_FILES
                and not path.name.endswith(LEFT_OUT_SUFFIXES)):
            files.append((rel.as_posix(), path))
    for name in ("requirements.txt", "constraints.txt"):
        files.append((name, repo / name))
    return files


def build_student_bundle(out: Path, repo: Path = REPO_ROOT) -> List[str]:
    """Write the student-CI zip to ``out`` (atomically); returns the names it holds."""
    from autograder.integrations.bundle import _info

    cases, arrays = build_cases()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    names = []
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, file in student_bundle_files(repo):
            archive.writestr(_info(name, executable=False), file.read_bytes())
            names.append(name)
        for name, data in ((f"autograder/integrations/student_ci_data/{CASES}", json.dumps(cases, sort_keys=True).encode()),
                           (f"autograder/integrations/student_ci_data/{ARRAYS}", buffer.getvalue())):
            archive.writestr(_info(name, executable=False), data)
            names.append(name)
    tmp.replace(out)
    return names


# ------------------------------------------------------------------ replaying (student CI)


def load_cases(folder: Path = DATA_DIR) -> Tuple[Dict[str, Any], Any]:
    if not (folder / CASES).is_file():
        raise FileNotFoundError(f"no stored examples in {folder}: this is not a student-CI bundle "
                                f"(python -m autograder bundle --student-ci)")
    cases = json.loads((folder / CASES).read_text(encoding="utf-8"))
    arrays = np.load(folder / ARRAYS, allow_pickle=False)
    return cases, arrays


def _example(stored: Dict[str, Any], arrays: Any) -> Any:
    from autograder.engine.strategies import Example

    fields = _decode(stored["example"], arrays)
    fields["dims"] = tuple(tuple(d) for d in fields["dims"])
    return Example(**fields)


def _replay_values(grader: Any, fn: Function, ex: Any, inputs: Dict[str, Any], expected: Dict[str, np.ndarray]) -> None:
    from autograder.engine.checks import CheckFailed, failure, mismatch, unpack

    outcomes = grader.run_scenario(fn, inputs)
    for outcome in outcomes:
        if hasattr(outcome, "kind"):  # a Failure
            raise failure(outcome)
    try:
        actual = unpack(fn, outcomes[-1].value, ex.size, ex.cell)
    except CheckFailed as exc:
        exc.inputs = inputs
        raise
    with np.errstate(all="ignore"):
        wrong = mismatch({k: actual[k] for k in expected}, expected, fn.tol)
    if wrong is not None:
        wrong.inputs = inputs
        raise wrong


def _replay_gradcheck(grader: Any, fn: Function, ex: Any) -> None:
    """The student's backward against central differences of the student's own forward (no reference)."""
    from autograder.engine.dependencies import Mode, Run
    from autograder.engine.hidden_tests import _add_shifted_forwards, _consistency, _directions
    from autograder.engine.strategies import materialize

    inputs = materialize(fn, ex)
    run = Run(grader.client, fn, ex, inputs, Mode())
    target = run.scenario()
    pairs = _directions(fn, inputs, ex.seed)
    indices = _add_shifted_forwards(run, pairs)
    run.execute()
    wrong = _consistency(run, run.outputs(target), pairs, indices, require_signal=True)
    if wrong is not None:
        raise wrong


def _replay_inplace(grader: Any, fn: Function, ex: Any) -> None:
    import copy

    from autograder.engine.checks import CheckFailed, failure, modified, unpack
    from autograder.engine.strategies import materialize

    inputs = materialize(fn, ex)
    sent = copy.deepcopy(inputs)
    outcome = grader.run_scenario(fn, inputs, echo=True)[-1]
    if hasattr(outcome, "kind"):  # a Failure
        raise failure(outcome)
    unpack(fn, outcome.value, ex.size, ex.cell, strict=False)
    names = list(fn.upstream) + ["cache"] if fn.forward else \
        [n for n, _ in fn.args] + (["max_norm"] if "max_norm" in fn.options else [])
    changed = modified(sent, outcome.args_after or [], names)
    if changed is not None:
        raise CheckFailed(f"{fn.name} modified its input {changed} in place (work on a copy: the caller's arrays "
                          f"must not change)", output=changed)


def run_test(grader: Any, fn: Function, test: RubricTest, stored: List[Dict[str, Any]], arrays: Any) -> Tuple[bool, str]:
    """Replay the stored examples of one test; (passed, message of the first failure)."""
    from autograder.engine.checks import CheckFailed
    from autograder.engine.dependencies import Rejected

    live = {k: check for k, check in pack.current().kinds.items() if k not in pack.current().stored_inputs}
    replay = {"gradcheck": _replay_gradcheck, "inplace": _replay_inplace, **live}
    counted = cache_unsure = 0
    for index, case in enumerate(stored):
        ex = _example(case, arrays)
        grader.examples_run[fn.name] = grader.examples_run.get(fn.name, 0) + 1
        grader.client.clear_handles()
        try:
            if "expected" in case and test.kind == "cache":
                try:
                    _replay_values(grader, _judged(fn, test.kind), ex, _decode(case["inputs"], arrays),
                                   _decode(case["expected"], arrays))
                except CheckFailed:
                    cache_unsure += 1  # the cache or the backward: only the real grade can tell (reference cache)
                    continue
            elif "expected" in case:
                _replay_values(grader, fn, ex, _decode(case["inputs"], arrays), _decode(case["expected"], arrays))
            else:
                replay[test.kind](grader, fn, ex)
            counted += 1
        except Rejected:
            continue  # proves nothing (e.g. a constant forward in a gradient check): does not count
        except CheckFailed as exc:
            sizes = ", ".join(f"{k}={v}" for k, v in ex.dims)
            where = f"\nFailing example {index + 1} of {len(stored)} (sizes {sizes}, cell {ex.cell})" \
                if test.visibility != "hidden" else ""
            return False, exc.message + where
        except Exception as exc:  # noqa: BLE001 - the same as the real grade: a test that cannot run fails
            return False, f"could not be checked: {type(exc).__name__}: {exc}"
    if stored and not counted and cache_unsure:
        return False, (f"could not be checked here: with your {fn.name}'s cache, your {_judged(fn, test.kind).name} is "
                       f"wrong on every stored example; the real grade tells which of the two is wrong")
    if stored and not counted:
        return False, "could not be checked: on every stored example your functions' outputs were all zero"
    return True, ""


def _blocked(fn: Function, static: Dict[str, Any], imports: Dict[str, Any]) -> Optional[str]:
    from autograder.worker.client import Failure

    needed = [fn.module] + ([function(fn.forward).module] if fn.forward else [])
    for module in dict.fromkeys(needed):
        if static[module].problem:
            return static[module].problem
        outcome = imports.get(module)
        if isinstance(outcome, Failure):
            return f"importing {module}.py failed: {outcome.describe() if outcome.kind == 'exception' else outcome.message}"
    for name in [fn.name] + ([fn.forward] if fn.forward else []):
        present = imports.get(function(name).module)
        if present is not None and not isinstance(present, Failure) and name not in present.value:
            return f"{name} is missing from {function(name).module}.py"
    return None


def grade_formative(submission: Path, *, sandbox_mode: str = "auto", folder: Path = DATA_DIR) -> Dict[str, Any]:
    """The results.json dict of the stored examples (same test names and format as the real grade)."""
    from autograder.engine.hidden_tests import Grader, requires
    from autograder.feedback.messages import needs_values
    from autograder.worker.client import WorkerClient

    started = time.monotonic()
    cases, arrays = load_cases(folder)
    rubric = load_rubric()
    mode = sandbox.resolve_mode(sandbox_mode)
    active = pack.current()
    static = submission_checks.inspect(Path(submission), active.module_functions)
    limits = GRADING  # the real grade's limits (autograder/sandbox/limits.py)
    tests: List[Dict[str, Any]] = []
    with WorkerClient(Path(submission), sandbox_mode=mode, limits=limits, call_seconds=limits.call_seconds) as client:
        loadable = {m: active.module_functions.get(m, ()) for m, c in static.items() if c.problem is None}
        imports = client.load_modules(loadable) if loadable else {}
        grader = Grader(client)
        for fn in active.functions:
            blocked = _blocked(fn, static, imports)
            ran: Dict[str, Tuple[str, bool]] = {}  # kind -> (test name, passed) of its first test
            mine = [t for t in rubric if t.function == fn.name]
            outcomes = []
            for test in mine:
                if blocked is not None:
                    passed, message = False, blocked
                else:
                    passed, message = run_test(grader, fn, test, cases["tests"].get(test.full_name, []), arrays)
                ran.setdefault(test.kind, (test.name, passed))
                outcomes.append((test, passed, message))
            for test, passed, message in outcomes:
                required = ran.get(requires().get(test.kind, ""))
                if required is not None and not required[1]:  # as the real grade (hidden_tests.requires)
                    passed, message = False, needs_values(fn.name, required[0])
                tests.append({"name": test.full_name, "score": test.points if passed else 0.0,
                              "max_score": test.points, "status": "passed" if passed else "failed",
                              "output": "passed" if passed else message, "visibility": test.visibility,
                              "extra_data": {"function": fn.name, "kind": test.kind, "mistakes": []}})
        client.close()
        printed = client.student_output()
    output = [FORMATIVE.format(examples=cases["examples_per_test"]), sandbox.describe(mode)]
    output += [c.problem for c in static.values() if c.problem]
    if printed.strip():
        output.append(f"Your code printed {len(printed)} characters; the first ones:\n{printed[:2000]}")
    return {"score": round(sum(t["score"] for t in tests), 6), "execution_time": round(time.monotonic() - started, 3),
            "output": "\n".join(output), "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"formative": True, "sandbox": mode, "functions": function_scores(tests),
                           "examples": {f.name: grader.examples_run.get(f.name, 0) for f in active.functions}}}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.student_ci", description=__doc__.splitlines()[0],
        epilog="Run from the unzipped student-CI bundle (python -m autograder bundle --student-ci). The score is "
               "formative, not a grade: fixed stored examples, no reference code. Exit status: 0 when the "
               "feedback was written, whatever the score; 2 when it could not run.")
    parser.add_argument("submission", type=Path, metavar="SUBMISSION_DIR",
                        help="the student's repository (the folder with the graded modules)")
    parser.add_argument("--results", type=Path, required=True, metavar="RESULTS_JSON",
                        help="where to write the results (Gradescope's results.json format)")
    parser.add_argument("--feedback", type=Path, metavar="FEEDBACK_MD",
                        help="where to write the feedback as Markdown (the workflow posts it to the job summary)")
    parser.add_argument("--sandbox", choices=sandbox.MODES, default="auto",
                        help="how student code is confined (default: %(default)s: bwrap where it runs, else process)")
    args = parser.parse_args(argv)
    if not args.submission.is_dir():
        print(f"student_ci: submission directory {args.submission} does not exist", file=sys.stderr)
        return 2
    try:
        results = grade_formative(args.submission, sandbox_mode=args.sandbox)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"student_ci: could not run: {exc}", file=sys.stderr)
        return 2
    from autograder.feedback.report import feedback_markdown, write_results

    write_results(results, args.results)
    if args.feedback:
        args.feedback.parent.mkdir(parents=True, exist_ok=True)
        args.feedback.write_text(feedback_markdown(results), encoding="utf-8")
    print(f"{args.submission}: {results['score']:g} / {sum(t['max_score'] for t in results['tests']):g} (formative) "
          f"-> {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
