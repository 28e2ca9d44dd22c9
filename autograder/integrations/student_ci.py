"""Formative feedback for student CI: the real grader's rules on other examples, from stored answers.

The Gradescope bundle carries the reference (``solutions/``), which a student who edits the workflow
of their own repository could print. The student-CI bundle (``python -m autograder bundle --student-ci
--out F.zip``, :func:`build_student_bundle`) carries no reference code. It runs the real grader's own
orchestration (:func:`autograder.engine.grade.grade_submission`: the same rubric, dependency rules,
evidence rule, escalation of how a function is judged, worker and sandbox) with another *oracle*
(:mod:`autograder.engine.oracle`), :class:`StoredOracle`:

- **Examples.** The same kinds as the marking draws (derandomized Hypothesis draws of each test's size
  profile, as many as the test draws, then the boundary examples: every size at its minimum, equal
  widths, huge scales, the truncation boundaries: the sizes, cells and options of the examples a correct
  submission's marking draws judge, and as many draws again of their own), but with other seeds, made
  from the test and the example's place alone (:func:`ci_seed`, all at or above ``SEED_OFFSET``; marking
  seeds are below it): no stored example is one that grades for marks, none reveals a marking seed, and
  the stored answers are answers to these examples only.
- **Answers.** Recorded at build time (:func:`record`) by grading the reference solution on these
  examples in every way the grader may judge a function (its dependencies checked on every example, its
  graded parts served, each structured input, the reference forward's cache): the reference outputs at
  the examples' inputs, the part calls a correct composite makes on them (so a dependency is checked
  with stored answers only) and the parts and caches served for a correct composite.
- **Not judged here.** Where the real grade needs the reference at inputs only the student's code
  determines (a part served to a composite whose own calls differ from a correct one's, a backward
  evaluated at the student's own wrong states), the oracle has no answer: the example is not judged,
  and a test with such an example and no failure is shown "not judged here: fix X first". The score is
  then a range: judged points up to judged plus not-judged points.

``python -m autograder.student_ci SUBMISSION --results R.json --feedback F.md`` (run from the unzipped
bundle) writes results in the real grade's format (``extra_data.formative`` holds the range). Marks
come from ``grade-all`` or Gradescope.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from autograder.engine import oracle, pack
from autograder.engine.oracle import NotJudged, ReferenceOracle
from autograder.engine.pack import function
from autograder.engine.score import load_rubric
from autograder.engine.spec import Function
from autograder.paths import REPO_ROOT
from autograder.sandbox import launch as sandbox

DATA_DIR = Path(__file__).resolve().parent / "student_ci_data"
CASES = "cases.json"  # the stored examples, answers and part calls (arrays by key in ARRAYS)
ARRAYS = "arrays.npz"
# Stored examples have seeds at or above this (ci_seed); the marking draws' seeds are at most 2**16
# (strategies.examples) and the boundary examples' below 4000: no stored example has a marking example's inputs.
SEED_OFFSET = 2**16 + 1
# Stored examples per test: this many times the test's own number of draws (a fixed list cannot draw
# again where an example is set aside), plus the boundary examples.
EXAMPLE_FACTOR = 2
CLOSE = dict(rtol=1e-9, atol=1e-12)  # a served part's arguments "are" a stored call's (dependencies.GATE_TOL)
FORMATIVE = ("FORMATIVE FEEDBACK, not your grade: the course's hidden tests and grading rules, run on other examples "
             "than those that grade for marks, against answers stored in the course's student-CI bundle (it holds no "
             "reference code). A test marked \"not judged here\" needs the reference at inputs your own code "
             "determines: its points are shown as a range. Marks come from the course's autograder.")


# ------------------------------------------------------------------ storing trees of arrays


def digest(value: Any) -> str:
    """A content hash of a tree of arrays, dicts, lists, tuples and scalars (arrays by dtype, shape, bytes)."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()[:32]


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, (np.ndarray, np.generic)):
        a = np.ascontiguousarray(value)
        h.update(b"A" + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    elif isinstance(value, dict):
        h.update(b"D%d" % len(value))
        for k in sorted(value, key=str):
            h.update(repr(k).encode())
            _feed(h, value[k])
    elif isinstance(value, (list, tuple)):
        h.update(b"L%d" % len(value))
        for v in value:
            _feed(h, v)
    else:
        h.update(b"S" + repr(value).encode())


class _Arrays:
    """Arrays stored once each (by content) under short keys; saved as one flat array per dtype and an
    index (key -> dtype, offset, shape), so that loading reads a few zip members, not one per array."""

    def __init__(self, flat: Optional[Dict[str, np.ndarray]] = None, index: Optional[Dict[str, Any]] = None) -> None:
        self.by_key: Dict[str, np.ndarray] = {}
        self.by_digest: Dict[str, str] = {}
        self.flat, self.index = flat, index

    def put(self, a: np.ndarray) -> str:
        d = digest(a)
        if d not in self.by_digest:
            key = f"a{len(self.by_digest)}"
            self.by_digest[d], self.by_key[key] = key, np.array(a)
        return self.by_digest[d]

    def get(self, key: str) -> np.ndarray:
        if self.flat is None or self.index is None:
            return np.array(self.by_key[key])
        dtype, offset, shape = self.index[key]
        size = int(np.prod(shape, dtype=np.int64))
        return self.flat[dtype][offset:offset + size].reshape(shape).copy()

    def packed(self) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
        """(dtype name -> every array of that dtype raveled end to end, key -> [dtype, offset, shape])."""
        parts: Dict[str, List[np.ndarray]] = {}
        sizes: Dict[str, int] = {}
        index: Dict[str, Any] = {}
        for key, a in self.by_key.items():
            dtype = a.dtype.str
            index[key] = [dtype, sizes.get(dtype, 0), list(a.shape)]
            parts.setdefault(dtype, []).append(a.ravel())
            sizes[dtype] = sizes.get(dtype, 0) + a.size
        return {f"d{i}": np.concatenate(v) for i, v in enumerate(parts.values())}, {
            k: [f"d{list(parts).index(v[0])}", v[1], v[2]] for k, v in index.items()}


def _encode(value: Any, arrays: _Arrays) -> Any:
    if isinstance(value, np.ndarray):
        return {"array": arrays.put(value)}
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v, arrays) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, np.generic):
        return {"scalar": _encode(np.asarray(value), arrays)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in the student-CI bundle")


def _decode(node: Any, arrays: _Arrays) -> Any:
    if isinstance(node, dict):
        if "array" in node:
            return arrays.get(node["array"])
        if "scalar" in node:
            return _decode(node["scalar"], arrays)[()]
        if "dict" in node:
            return {k: _decode(v, arrays) for k, v in node["dict"].items()}
        if "list" in node:
            return [_decode(v, arrays) for v in node["list"]]
        return tuple(_decode(v, arrays) for v in node["tuple"])
    return node


def _close(a: Any, b: Any) -> bool:
    """Whether a served part's argument tree equals a stored one (arrays to CLOSE)."""
    if isinstance(b, (np.ndarray, np.generic)) or isinstance(a, (np.ndarray, np.generic)):
        try:
            x, y = np.asarray(a), np.asarray(b)
            if x.shape != y.shape or x.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
                return bool(x.shape == y.shape and np.array_equal(x, y))
            with np.errstate(all="ignore"):
                return bool(np.allclose(x, y, equal_nan=True, **CLOSE))
        except (TypeError, ValueError):
            return False
    if isinstance(b, dict):
        return isinstance(a, dict) and set(a) == set(b) and all(_close(a[k], b[k]) for k in b)
    if isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(b, float) and isinstance(a, (int, float)) and not isinstance(a, bool):
        return bool(np.isclose(a, b, **CLOSE))
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------ the examples (not the marking draws)


_DRAWN: Dict[Tuple[str, str, str, int], List[Any]] = {}


def ci_examples(fn: Function, kind: str, profile: str, count: int, shapes: Sequence[Any] = ()) -> List[Any]:
    """The stored examples of a test, seeds moved by SEED_OFFSET (other values than any marking example):
    ``shapes`` (the examples a correct submission's marking draws judge, boundary ones included: the same
    sizes, cells and options) and then ``EXAMPLE_FACTOR - 1`` times ``count`` derandomized Hypothesis draws
    of the test's profile of their own (a fixed list cannot draw again where an example is set aside)."""
    key = (pack.current().name, fn.name, profile, count)
    if key not in _DRAWN:
        _DRAWN[key] = _draw(fn, profile, count * (EXAMPLE_FACTOR - 1)) if EXAMPLE_FACTOR > 1 else []
    found = list(dict.fromkeys(list(shapes) + [ex for ex in _DRAWN[key] if ex not in shapes]))
    return [dataclasses.replace(ex, seed=ci_seed(fn, kind, profile, i)) for i, ex in enumerate(found)]


def ci_seed(fn: Function, kind: str, profile: str, index: int) -> int:
    """The seed of a stored example: from the test and the example's place alone (never from a marking
    example's seed, which it would reveal), at or above SEED_OFFSET."""
    made = hashlib.sha256(f"student-ci|{fn.name}|{kind}|{profile}|{index}".encode()).hexdigest()
    return SEED_OFFSET + int(made[:8], 16)


def marking_shapes(grader: Any, fn: Function, kind: str, profile: str, count: int) -> List[Any]:
    """The examples the real grade judges for one test of a submission that passes it (the worker of
    ``grader`` runs the reference): the marking draws and boundary examples, in order, as prepared."""
    from autograder.engine import hidden_tests

    seen: List[Any] = []
    original = hidden_tests.kinds

    def spying() -> Dict[str, Any]:
        def spy(check: Any) -> Any:
            def checked(g: Any, f: Function, ex: Any) -> None:
                seen.append(ex)
                return check(g, f, ex)
            return checked
        return {k: spy(c) for k, c in original().items()}

    hidden_tests.kinds = spying  # type: ignore[assignment]
    try:
        grader.modes = {}
        hidden_tests.run_test(grader, fn, kind, profile, count)
    finally:
        hidden_tests.kinds = original  # type: ignore[assignment]
    return list(dict.fromkeys(seen))


def _draw(fn: Function, profile: str, count: int) -> List[Any]:
    """``count`` distinct examples of a derandomized Hypothesis run of its own (the same on every build)."""
    from hypothesis import HealthCheck, Phase, given, settings

    from autograder.engine.strategies import examples

    found: List[Any] = []

    @settings(max_examples=count * 3, derandomize=True, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(examples(fn, profile))
    def collect_for_the_student_ci(ex: Any) -> None:
        if ex not in found:
            found.append(ex)

    collect_for_the_student_ci()
    return found[:count]


# ------------------------------------------------------------------ the store of answers


@dataclasses.dataclass
class Store:
    """What the student CI knows: examples per test, reference outputs and part calls at their inputs."""

    examples: Dict[str, List[Any]] = dataclasses.field(default_factory=dict)  # "fn|kind|profile|count" -> encoded
    expected: Dict[str, Any] = dataclasses.field(default_factory=dict)  # "fn|digest(inputs)" -> encoded outputs
    calls: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # {"key", "args", "kwargs", "result"}
    call_index: Dict[str, int] = dataclasses.field(default_factory=dict)  # digest of (key, args, kwargs) -> index
    traces: Dict[str, List[List[Any]]] = dataclasses.field(default_factory=dict)  # "fn|digest" -> [[call, refs]]
    # backward -> whether the pack evaluates it at the student's own forward outputs (pack.backward_at_outputs)
    at_outputs: Dict[str, bool] = dataclasses.field(default_factory=dict)
    arrays: _Arrays = dataclasses.field(default_factory=_Arrays)

    def add_call(self, key: str, args: Sequence[Any], kwargs: Dict[str, Any], result: Any) -> int:
        d = digest([key, list(args), kwargs])
        if d not in self.call_index:
            self.call_index[d] = len(self.calls)
            self.calls.append({"key": key, "args": _encode(list(args), self.arrays),
                               "kwargs": _encode(dict(kwargs), self.arrays), "result": _encode(result, self.arrays)})
        return self.call_index[d]

    def save(self) -> Tuple[bytes, bytes]:
        """(the JSON of CASES, the npz of ARRAYS)."""
        flat, index = self.arrays.packed()
        cases = {"seed_offset": SEED_OFFSET, "examples": self.examples, "expected": self.expected,
                 "calls": self.calls, "traces": self.traces, "at_outputs": self.at_outputs, "arrays": index}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **flat)
        return json.dumps(cases, sort_keys=True).encode(), buffer.getvalue()

    @classmethod
    def load(cls, folder: Path = DATA_DIR) -> "Store":
        if not (folder / CASES).is_file():
            raise FileNotFoundError(f"no stored examples in {folder}: this is not a student-CI bundle "
                                    f"(python -m autograder bundle --student-ci)")
        cases = json.loads((folder / CASES).read_text(encoding="utf-8"))
        if "calls" not in cases:
            raise ValueError(f"{folder / CASES} is from an older student-CI bundle: build it again")
        store = cls(cases["examples"], cases["expected"], cases["calls"], {}, cases["traces"], cases["at_outputs"],
                    _Arrays(_read_arrays(folder / ARRAYS), cases["arrays"]))
        return store


def _read_arrays(path: Path) -> Dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        return {k: stored[k] for k in stored.files}


def _test_key(fn: Function, kind: str, profile: str, count: int) -> str:
    return f"{fn.name}|{kind}|{profile}|{count}"


class RecordingOracle(ReferenceOracle):
    """The reference, on the stored examples, writing down every answer it gives (build time)."""

    def __init__(self) -> None:
        super().__init__()
        self.store = Store()
        self.shapes: Dict[str, List[Any]] = {}  # test key -> the marking examples' shapes (marking_shapes)

    def examples(self, fn: Function, kind: str, profile: str, count: int) -> Optional[Sequence[Any]]:
        found = ci_examples(fn, kind, profile, count, self.shapes.get(_test_key(fn, kind, profile, count), ()))
        self.store.examples[_test_key(fn, kind, profile, count)] = [dataclasses.asdict(ex) for ex in found]
        return found

    def expected(self, fn: Function, inputs: Any) -> Dict[str, np.ndarray]:
        answer = super().expected(fn, inputs)
        self.store.expected.setdefault(f"{fn.name}|{digest(dict(inputs))}", _encode(answer, self.store.arrays))
        if fn.forward and fn.name not in self.store.at_outputs:  # a property of the function, not of the inputs
            right = super().expected(function(fn.forward), inputs)
            at = super().backward_at_outputs(fn, inputs, right, inputs.get("truncate"))
            self.store.at_outputs[fn.name] = at is not None
        return answer

    def trace(self, fn: Function, inputs: Any) -> Tuple[Any, List[Tuple[Function, tuple, dict, Any]]]:
        raw, calls = super().trace(fn, inputs)
        key = f"{fn.name}|{digest(dict(inputs))}"
        if key not in self.store.traces:
            rows = []
            for i, (part, args, kwargs, result) in enumerate(calls):
                refs = []  # (argument position, earlier call) where the argument IS that call's cache
                for p, a in enumerate(args):
                    for j, (earlier, _, _, made) in enumerate(calls[:i]):
                        if earlier.cache_index is not None and isinstance(made, tuple) and a is made[earlier.cache_index]:
                            refs.append([p, j])
                            break
                rows.append([self.store.add_call(f"{part.module}.{part.name}", args, kwargs, result), refs])
            self.store.traces[key] = rows
        return raw, calls

    def serve_part(self, key: str, args: list, kwargs: dict) -> Any:
        from autograder.engine import reference

        resolved = [reference._derived_cache(a) if type(a).__name__ == "Derived" else a for a in args]
        result = super().serve_part(key, resolved, kwargs)
        self.store.add_call(key, resolved, kwargs, result)
        return result

    def backward_at_outputs(self, fn: Function, inputs: Any, forward: Any, truncate: Any = None) -> Any:
        raise NotJudged(fn.forward or fn.name)  # not recorded: only a wrong forward's states need it

    def localizes(self) -> bool:
        return False


class StoredOracle:
    """The student CI's oracle: stored examples and answers; a missing answer is :class:`NotJudged`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.misses: List[NotJudged] = []
        self._by_key: Dict[str, List[int]] = {}
        for i, call in enumerate(store.calls):
            self._by_key.setdefault(call["key"], []).append(i)
        self._decoded: Dict[int, Tuple[Any, Any, Any]] = {}

    def examples(self, fn: Function, kind: str, profile: str, count: int) -> Optional[Sequence[Any]]:
        from autograder.engine.strategies import Example

        rows = self.store.examples.get(_test_key(fn, kind, profile, count))
        if rows is None:
            raise ValueError(f"the student-CI bundle has no examples for {fn.name} ({kind}, {profile}, {count}): "
                             f"it was built for another rubric; build it again")
        return [Example(**dict(r, dims=tuple((str(k), int(v)) for k, v in r["dims"]))) for r in rows]

    def _miss(self, fix: str, what: str) -> NotJudged:
        found = NotJudged(fix, what)
        self.misses.append(found)
        return found

    def expected(self, fn: Function, inputs: Any) -> Dict[str, np.ndarray]:
        node = self.store.expected.get(f"{fn.name}|{digest(dict(inputs))}")
        if node is None:
            raise self._miss(fn.forward or fn.name, f"no stored answer of {fn.name} for these inputs")
        return _decode(node, self.store.arrays)

    def _call(self, i: int) -> Tuple[Any, Any, Any]:
        if i not in self._decoded:
            c = self.store.calls[i]
            self._decoded[i] = (_decode(c["args"], self.store.arrays), _decode(c["kwargs"], self.store.arrays),
                                _decode(c["result"], self.store.arrays))
        return self._decoded[i]

    def trace(self, fn: Function, inputs: Any) -> Tuple[Any, List[Tuple[Function, tuple, dict, Any]]]:
        rows = self.store.traces.get(f"{fn.name}|{digest(dict(inputs))}")
        if rows is None:
            raise self._miss(fn.name, f"no stored part calls of {fn.name} for these inputs")
        calls: List[Tuple[Function, tuple, dict, Any]] = []
        for index, refs in rows:
            args, kwargs, result = (_decode(self.store.calls[index][k], self.store.arrays) for k in ("args", "kwargs", "result"))
            for position, earlier in refs:  # the very cache object an earlier call returned
                args[position] = calls[earlier][3][calls[earlier][0].cache_index]
            calls.append((function(self.store.calls[index]["key"].partition(".")[2]), tuple(args), kwargs, result))
        return None, calls

    def answer(self, key: str, args: Sequence[Any], kwargs: Dict[str, Any]) -> Any:
        """The stored result of a part call whose arguments equal a stored call's (to CLOSE)."""
        exact = self.store.call_index.get(digest([key, list(args), kwargs])) if self.store.call_index else None
        candidates = [exact] if exact is not None else self._by_key.get(key, [])
        for i in candidates:
            s_args, s_kwargs, result = self._call(i)
            if _close(list(args), s_args) and _close(dict(kwargs), s_kwargs):
                return _decode(self.store.calls[i]["result"], self.store.arrays)  # a fresh copy
        name = key.partition(".")[2]  # (the code that made these arguments is named by the test: hidden_tests)
        raise self._miss("", f"{name} was called with arguments that a correct submission does not pass it")

    def serve_part(self, key: str, args: list, kwargs: dict) -> Any:
        resolved = []
        for a in args:
            if type(a).__name__ == "Derived":  # the cache a student's forward part made: stored for a right call
                fwd = function(a.forward.partition(".")[2])
                resolved.append(self.answer(a.forward, a.args, a.kwargs)[fwd.cache_index])
            else:
                resolved.append(a)
        return self.answer(key, resolved, kwargs)

    def backward_at_outputs(self, fn: Function, inputs: Any, forward: Any, truncate: Any = None) -> Any:
        if not self.store.at_outputs.get(fn.name, True):
            return None  # as the real grade: this backward reads its forward's internals (no such yardstick)
        raise self._miss(fn.forward or fn.name, f"the reference {fn.name} at the states your {fn.forward} computed")

    def localizes(self) -> bool:
        return False


# ------------------------------------------------------------------ recording (staff side)


def recording_modes(fn: Function) -> List[Any]:
    """Every way the grader may judge ``fn`` whose answers depend on the example alone: dependencies checked
    on every example, its graded parts served, each structured input, the reference forward's cache."""
    from autograder.engine.dependencies import Mode, parts_to_serve

    active = pack.current()
    serves = [()] + ([parts_to_serve(fn, fn.parts, ())] if fn.parts else [])
    cells = function(fn.forward).cells if fn.forward else fn.cells
    specials = [s for s in active.specials
                if all(set(active.cell_specials.get(p, cells)) & set(cells) for p in s.split("+"))]
    modes = []
    for serve in serves:
        modes.append(Mode(serve=serve, strict=True))
        if fn.forward:
            modes += [Mode(serve=serve, special=s, strict=True) for s in specials]
            modes.append(Mode(serve=serve, serve_forward=True, trial=True))
    return modes


def record(sandbox_mode: str = "process", progress: Any = None) -> Store:
    """Grade the reference solution on the stored examples in every recording mode; the answers it needed."""
    from autograder.engine import hidden_tests
    from autograder.sandbox.limits import GRADING
    from autograder.worker.client import WorkerClient

    active = pack.current()
    recorder = RecordingOracle()
    with oracle.using(recorder), WorkerClient(active.reference_dir, sandbox_mode=sandbox.resolve_mode(sandbox_mode),
                                              limits=GRADING, call_seconds=GRADING.call_seconds) as client:
        client.load_modules({m: active.module_functions.get(m, ()) for m in active.graded_modules})
        grader = hidden_tests.Grader(client)
        for test in load_rubric():
            fn = function(test.function)
            with oracle.using(ReferenceOracle()):
                shapes = marking_shapes(grader, fn, test.kind, test.profile, test.examples)
            recorder.shapes[_test_key(fn, test.kind, test.profile, test.examples)] = shapes
            for mode in recording_modes(fn):
                grader.modes = {(fn.name, test.profile): mode}
                grader.profile, grader.kind = test.profile, test.kind
                outcome, _ = hidden_tests._run_property(grader, fn, test.kind, test.profile, test.examples, None)
                if not outcome.passed and not mode.special:
                    raise RuntimeError(f"the reference fails {test.full_name} on a stored example: {outcome.message}")
            if progress:
                progress(test.full_name)
    return recorder.store


def _sources_key(repo: Path) -> str:
    files = sorted((repo / "autograder").rglob("*.py")) + sorted(pack.current().reference_dir.glob("*.py"))
    files.append(repo / "autograder" / "packs" / pack.current().name / "rubric.toml")
    h = hashlib.sha256()
    for f in files:
        if "__pycache__" not in f.parts:
            h.update(str(f.relative_to(repo) if f.is_relative_to(repo) else f.name).encode() + f.read_bytes())
    import hypothesis

    h.update(hypothesis.__version__.encode() + np.__version__.encode())
    return h.hexdigest()[:24]


def stored_data(repo: Path = REPO_ROOT) -> Tuple[bytes, bytes]:
    """(CASES, ARRAYS) of the current grader and reference, recorded once and kept in .cache/student_ci."""
    import os

    folder = Path(os.environ.get("AUTOGRADER_CACHE") or repo / ".cache") / "student_ci" / _sources_key(repo)
    if (folder / CASES).is_file() and (folder / ARRAYS).is_file():
        return (folder / CASES).read_bytes(), (folder / ARRAYS).read_bytes()
    cases, arrays = record().save()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in ((ARRAYS, arrays), (CASES, cases)):
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(data)
            tmp.replace(folder / name)
    except OSError:
        pass  # a cache that cannot be written is only slower
    return cases, arrays


def build_student_bundle(out: Path, repo: Path = REPO_ROOT) -> List[str]:
    """Write the student-CI zip to ``out`` (atomically): the modules the CI imports and their pinned
    requirements (:mod:`autograder.integrations.student_bundle`), and the stored examples. Returns
    the names it holds."""
    from autograder.integrations.student_bundle import write_bundle

    cases, arrays = stored_data(repo)
    return write_bundle(out, {f"autograder/integrations/student_ci_data/{CASES}": cases,
                              f"autograder/integrations/student_ci_data/{ARRAYS}": arrays}, repo)


# ------------------------------------------------------------------ replaying (student CI)


def grade_formative(submission: Path, *, sandbox_mode: str = "auto", folder: Path = DATA_DIR,
                    store: Optional[Store] = None) -> Dict[str, Any]:
    """The results.json dict of the stored examples: the real grader's orchestration with
    :class:`StoredOracle`. ``extra_data.formative_range`` is [judged points, judged + not-judged points]."""
    from autograder.engine.grade import grade_submission

    source = StoredOracle(store if store is not None else Store.load(folder))
    results = grade_submission(Path(submission), sandbox=sandbox_mode, source=source)
    return formative_results(results)


def formative_results(results: Dict[str, Any]) -> Dict[str, Any]:
    """Mark a grade made with the stored oracle as formative: the lead sentence and the range of scores."""
    unsure = [t for t in results["tests"] if (t.get("extra_data") or {}).get("not_judged")]
    low = float(results["score"])
    high = round(low + sum(float(t["max_score"]) for t in unsure), 6)
    results["output"] = FORMATIVE + "\n" + str(results.get("output") or "")
    results["extra_data"].update(formative=True, formative_range=[low, high],
                                 not_judged={t["name"]: t["extra_data"]["not_judged"] for t in unsure})
    return results


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.student_ci", description=__doc__.splitlines()[0],
        epilog="Run from the unzipped student-CI bundle (python -m autograder bundle --student-ci). The score is "
               "formative, not a grade: other examples than the marking ones, stored answers, no reference code. "
               "Exit status: 0 when the feedback was written, whatever the score; 2 when it could not run.")
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
    low, high = results["extra_data"]["formative_range"]
    shown = f"{low:g}" if low == high else f"{low:g}-{high:g}"
    print(f"{args.submission}: {shown} / {sum(t['max_score'] for t in results['tests']):g} (formative, not your "
          f"grade) -> {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
