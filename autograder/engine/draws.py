"""The examples Hypothesis draws for a property that passes every example, recorded once and kept.

Hidden tests are derandomized Hypothesis properties: for a given property (the test body's source,
the strategy, the settings and Hypothesis' version) the examples drawn while every one of them
passes are always the same sequence. Running Hypothesis' engine for each test of each submission
costs more than most checks, so the sequence is recorded once (by running the same property with
a body that accepts everything), kept on disk, and replayed: the checks run on the recorded
examples in order, and Hypothesis itself runs only when one of them fails or is set aside
(:func:`autograder.engine.hidden_tests._run_property`), to draw on and shrink exactly as it would have.
Grades are the same with and without replay (``tests/test_replay.py`` grades the example class
both ways).

Where an example is set aside, Hypothesis draws on otherwise. A whole run of the property that
ended with no failure is kept (:func:`keep_run`) with, for each example, whether it counted, under
each prefix of those decisions that ends with an example set aside; a later grading that sets
aside the same examples replays it (:func:`traced`) as long as its own decisions match, and runs
Hypothesis from the start where they do not. So a warm grading of the reference, which sets
aside a few examples whose expected gradients are all zero, runs (and imports) no Hypothesis.

The cache key holds everything the sequence depends on: Hypothesis' version, the source of the
test body (its derandomized seed), of the strategies and of the spec, the function, size profile
and number of examples. A file that cannot be read, or that does not hold examples, is recorded
again.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from autograder.engine import pack, spec, strategies
from autograder.engine.strategies import Example
from autograder.paths import REPO_ROOT

# Where recorded draws are kept (one small JSON file per property); AUTOGRADER_CACHE moves it.
CACHE_DIR = Path(os.environ.get("AUTOGRADER_CACHE") or REPO_ROOT / ".cache") / "draws"

_memory: Dict[str, Tuple[Example, ...]] = {}
_runs: Dict[str, Tuple[Tuple[Example, ...], Tuple[bool, ...]]] = {}  # traced(): examples, and whether each counted
_sources: Dict[str, str] = {}


def _sources_hash() -> str:
    """sha256 of what decides the draws: the spec types, the strategies and the active pack's code."""
    active = pack.current()
    if active.name not in _sources:
        files = [Path(m.__file__) for m in (spec, strategies)]  # type: ignore[arg-type]
        files += sorted(active.folder.rglob("*.py"))
        _sources[active.name] = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    return _sources[active.name]


_body_sources: Dict[Any, str] = {}


def _hypothesis_version() -> str:
    """Hypothesis' version, without importing it where it is not imported yet (its installed metadata)."""
    module = sys.modules.get("hypothesis")
    if module is not None:
        return str(module.__version__)
    from importlib import metadata

    return metadata.version("hypothesis")


def key(body: Callable[..., Any], function: str, profile: str, max_examples: int,
        decisions: Tuple[bool, ...] = ()) -> str:
    """The cache key of one property's draws (see the module docstring)."""
    source = _body_sources.get(body.__code__)
    if source is None:
        source = _body_sources[body.__code__] = inspect.getsource(body)
    parts: List[Any] = [_hypothesis_version(), sys.version_info[:2], source, _sources_hash(), function, profile,
                        max_examples]
    if decisions:  # (the all-pass key is what it always was: recorded draws stay valid)
        parts.append("".join("1" if d else "0" for d in decisions))
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()[:32]


def drawn(body: Callable[..., Any], build: Callable[[Callable[..., Any]], Callable[[], None]], function: str,
          profile: str, max_examples: int, decisions: Tuple[bool, ...] = (),
          record_missing: bool = True) -> Optional[Tuple[Example, ...]]:
    """The examples ``build(body)`` (a Hypothesis property) draws when the first examples count or
    are set aside as ``decisions`` says (True: it counted; False: the body rejected it) and every
    later one passes (None if they could not be recorded, or, ``record_missing=False``, are not
    kept already: recording runs Hypothesis' engine for the whole property, which costs as much
    as running the real property with it).

    ``body`` is the test body: a function whose free variables ``attempt``, ``state`` and
    ``failures`` are its judge, its counters and its failures. It is recorded through a twin with
    the same code (so the same source and derandomized seed) whose ``attempt`` answers from
    ``decisions``, then accepts everything.
    """
    name = key(body, function, profile, max_examples, decisions)
    if name not in _memory:
        found = _load(CACHE_DIR / f"{name}.json")
        if found is None and not record_missing:
            return None
        if found is None:
            try:
                found = record(body, build, decisions)
            except Exception:  # noqa: BLE001 - no replay then: Hypothesis runs the test as it always did
                return None
            _store(CACHE_DIR / f"{name}.json", found)
        _memory[name] = found
    return _memory[name]


def traced(body: Callable[..., Any], function: str, profile: str, max_examples: int,
           decisions: Tuple[bool, ...]) -> Optional[Tuple[Tuple[Example, ...], Tuple[bool, ...]]]:
    """A whole run of the property kept by :func:`keep_run` whose first examples counted or were set
    aside as ``decisions`` says (its last one set aside): the examples it drew and, for each, whether
    it counted; None if none is kept. Its examples are what Hypothesis draws for as long as a run's
    examples count or are set aside as that one's did."""
    name = key(body, function, profile, max_examples, decisions) + ".run"
    if name not in _runs:
        found = _load_run(CACHE_DIR / f"{name}.json")
        if found is None:
            return None
        _runs[name] = found
    return _runs[name]


def keep_run(body: Callable[..., Any], function: str, profile: str, max_examples: int,
             seen: List[Tuple[Example, bool]]) -> None:
    """Keep a whole run of the property that ended with no failure (``seen``: each example drawn, in
    order, and whether it counted), under each of its prefixes that ends with an example set aside:
    a later run that sets aside the same examples replays it without running Hypothesis."""
    decisions = tuple(counted for _, counted in seen)
    for position, counted in enumerate(decisions):
        if counted:
            continue
        name = key(body, function, profile, max_examples, decisions[:position + 1]) + ".run"
        path = CACHE_DIR / f"{name}.json"
        if name not in _runs and not path.exists():
            _store(path, tuple(ex for ex, _ in seen), decisions)
        _runs.setdefault(name, (tuple(ex for ex, _ in seen), decisions))


def record(body: Callable[..., Any], build: Callable[[Callable[..., Any]], Callable[[], None]],
           decisions: Tuple[bool, ...] = ()) -> Tuple[Example, ...]:
    """Run the property ``build`` makes of ``body``'s twin; the examples it drew, in order (when
    every example is rejected, Hypothesis gives up: what it drew until then)."""
    seen: List[Example] = []

    def attempt(ex: Example) -> bool:
        seen.append(ex)
        return decisions[len(seen) - 1] if len(seen) <= len(decisions) else True

    free = {"attempt": attempt, "state": {"stopped": False, "spent": 0, "budget": 10**9}, "failures": {}}
    twin = types.FunctionType(body.__code__, body.__globals__, body.__name__, body.__defaults__,
                              tuple(types.CellType(free[v]) for v in body.__code__.co_freevars))
    twin.__annotations__ = dict(body.__annotations__)
    twin.__qualname__, twin.__module__ = body.__qualname__, body.__module__
    try:
        build(twin)()
    except Exception as exc:  # noqa: BLE001 - Unsatisfiable: the property ends as the real one would
        if type(exc).__name__ != "Unsatisfiable":
            raise
    return tuple(seen)


def _load(path: Path) -> Optional[Tuple[Example, ...]]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        found = tuple(_example(row) for row in rows)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return found


def _load_run(path: Path) -> Optional[Tuple[Tuple[Example, ...], Tuple[bool, ...]]]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        found = tuple(_example(row) for row in rows)
        counted = tuple(row["counted"] for row in rows)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not all(isinstance(c, bool) for c in counted):
        return None
    return found, counted


def _example(row: Dict[str, Any]) -> Example:
    values = {f.name: row[f.name] for f in dataclasses.fields(Example)}
    example = Example(**dict(values, dims=tuple((str(k), int(v)) for k, v in values["dims"])))
    if [type(getattr(example, f.name)).__name__ for f in dataclasses.fields(Example)] != row["types"]:
        raise ValueError("field types differ")
    return example


def _store(path: Path, found: Tuple[Example, ...], counted: Optional[Tuple[bool, ...]] = None) -> None:
    """Write atomically (``counted``: a kept run's, beside each example); a cache that cannot be
    written is only slower, never wrong."""
    rows = []
    for index, ex in enumerate(found):
        row = dataclasses.asdict(ex)
        row["types"] = [type(getattr(ex, f.name)).__name__ for f in dataclasses.fields(Example)]
        if counted is not None:
            row["counted"] = counted[index]
        rows.append(row)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as out:
            json.dump(rows, out)
        os.replace(out.name, path)
    except OSError:
        pass
