"""The reference solutions, loaded in the grader process (never in the worker).

- :func:`modules` gives fresh reference modules (the pack's graded modules), optionally with some functions replaced (``overrides``, visible to the
  reference's own internal calls too). :func:`trace` records the part calls a composite makes, so
  the grader can check the student's parts at those very calls (autograder/engine/dependencies.py), and
  :func:`serve_part` answers a part the worker asks for while a composite is tested alone.
- :func:`scenario` runs the computation a hidden test runs (for a backward function: forward on
  the inputs, then backward on the upstream gradient) and returns the named outputs.
- :func:`run_scenario` is that, on the pure reference with overrides, for the mistakes catalogue.
"""
from __future__ import annotations

import sys
import types
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from autograder.engine import answers, pack
from autograder.engine.pack import function
from autograder.engine.spec import Function
from autograder.engine.strategies import flatten


@lru_cache(maxsize=None)
def _code(path: Path) -> types.CodeType:
    return compile(path.read_text(encoding="utf-8"), str(path), "exec")


def _exec(name: str, deps: Mapping[str, types.ModuleType]) -> types.ModuleType:
    module = types.ModuleType(name)
    path = pack.current().reference_dir / f"{name}.py"
    module.__file__ = str(path)
    saved = {k: sys.modules.get(k) for k in deps}
    sys.modules.update(deps)  # the reference's imports of its own modules resolve to these
    try:
        exec(_code(path), module.__dict__)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return module


def modules(overrides: Optional[Mapping[str, Callable[..., Any]]] = None) -> Dict[str, types.ModuleType]:
    """Fresh reference modules; ``overrides`` maps "module.function" to a replacement."""
    overrides = dict(overrides or {})
    loaded: Dict[str, types.ModuleType] = {}
    for name in pack.current().graded_modules:
        loaded[name] = _exec(name, {k: v for k, v in loaded.items()})
        for key, variant in overrides.items():
            mod, _, fname = key.partition(".")
            if mod == name:
                setattr(loaded[name], fname, variant)
    return loaded


_pure: Dict[str, Dict[str, types.ModuleType]] = {}


def pure() -> Dict[str, types.ModuleType]:
    """The reference modules without overrides (one set per pack, kept)."""
    name = pack.current().name
    if name not in _pure:
        _pure[name] = modules()
    return _pure[name]


def call_arguments(fn: Function, inputs: Mapping[str, Any]) -> tuple:
    """(args, kwargs) of a call of ``fn`` (a forward or plain function) on scenario inputs."""
    args = [inputs[name] for name, _ in fn.args]
    kwargs: Dict[str, Any] = {}
    if "cell" in fn.options:
        kwargs["cell"] = inputs["cell"]
    if "max_norm" in fn.options:
        args.append(inputs["max_norm"])
    return args, kwargs


def backward_arguments(fn: Function, inputs: Mapping[str, Any], cache: Any) -> tuple:
    args = [inputs[name] for name in fn.upstream] + [cache]
    kwargs = {"truncate": inputs["truncate"]} if "truncate" in fn.options and inputs.get("truncate") is not None else {}
    return args, kwargs


def scenario(mods: Mapping[str, types.ModuleType], fn: Function, inputs: Mapping[str, Any]) -> Any:
    """The raw return value of ``fn`` on the scenario (forward first for a backward function)."""
    if fn.forward:
        fwd = function(fn.forward)
        args, kwargs = call_arguments(fwd, inputs)
        result = getattr(mods[fwd.module], fwd.name)(*args, **kwargs)
        args, kwargs = backward_arguments(fn, inputs, result[fwd.cache_index])
        return getattr(mods[fn.module], fn.name)(*args, **kwargs)
    args, kwargs = call_arguments(fn, inputs)
    return getattr(mods[fn.module], fn.name)(*args, **kwargs)


def named_outputs(fn: Function, raw: Any) -> Dict[str, np.ndarray]:
    """Flatten a (trusted, reference-shaped) return value into spec's output names."""
    values = raw if len(fn.outputs) > 1 else (raw,)
    named: Dict[str, np.ndarray] = {}
    for out, value in zip(fn.outputs, values):
        if out.name == "cache":
            continue
        for name, leaf in flatten(value, out.name):
            named[name] = np.asarray(leaf, dtype=np.float64)
    return named


def expected(fn: Function, inputs: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """The reference answer for a scenario (from the kept answers while a function is graded:
    :mod:`autograder.engine.answers`)."""
    kept = answers.current()
    if kept is None:
        return named_outputs(fn, scenario(pure(), fn, inputs))
    return kept.get(fn.name, inputs, lambda: named_outputs(fn, scenario(pure(), fn, inputs)))


class _Numpy:
    """numpy with some of its functions replaced (``np.tanh``), for reference modules run with another
    activation (:func:`expected_with`)."""

    def __init__(self, replaced: Mapping[str, Any]) -> None:
        self._replaced = dict(replaced)

    def __getattr__(self, name: str) -> Any:
        return self._replaced[name] if name in self._replaced else getattr(np, name)


_WITH: Dict[Tuple[str, Tuple[Tuple[str, int], ...]], Dict[str, types.ModuleType]] = {}


def expected_with(fn: Function, inputs: Mapping[str, Any], overrides: Mapping[str, Callable[..., Any]]) -> Dict[str, np.ndarray]:
    """The reference answer with ``overrides``: "module.function" -> a replacement (as :func:`modules`),
    and "np.NAME" -> a replacement of that numpy function in every reference module."""
    key = (pack.current().name, tuple(sorted((k, id(v)) for k, v in overrides.items())))
    mods = _WITH.get(key)
    if mods is None:
        numpy_names = {k[3:]: v for k, v in overrides.items() if k.startswith("np.")}
        mods = modules({k: v for k, v in overrides.items() if not k.startswith("np.")})
        if numpy_names:
            for module in mods.values():
                if getattr(module, "np", None) is np:
                    module.np = _Numpy(numpy_names)
        _WITH[key] = mods
    with np.errstate(all="ignore"):
        return named_outputs(fn, scenario(mods, fn, inputs))


def run_scenario(function_name: str, inputs: dict, overrides: Optional[dict] = None) -> Dict[str, np.ndarray]:
    """Run a hidden test's computation on the reference with ``overrides`` (the mistakes catalogue).

    ``inputs`` and the returned names are documented in :mod:`autograder.engine.spec`.
    """
    fn = function(function_name)
    with np.errstate(all="ignore"):
        return named_outputs(fn, scenario(modules(overrides), fn, inputs))


def trace(fn: Function, inputs: Mapping[str, Any]) -> Tuple[Any, List[Tuple[Function, tuple, dict, Any]]]:
    """The reference scenario of ``fn`` and the calls it makes of ``fn``'s graded parts, in order.

    Returns ``(raw result, [(part, args, kwargs, result), ...])``. A cache that a part returned is
    the very object the reference later passes to another part (so it can be matched by identity).
    """
    traced, calls = _traced(fn)
    calls.clear()
    with np.errstate(all="ignore"):
        raw = scenario(traced, fn, inputs)
    found = list(calls)
    calls.clear()
    return raw, found


_TRACED: Dict[Tuple[str, str], Tuple[Dict[str, types.ModuleType], List[Tuple[Function, tuple, dict, Any]]]] = {}


def _traced(fn: Function) -> Tuple[Dict[str, types.ModuleType], List[Tuple[Function, tuple, dict, Any]]]:
    """Reference modules whose ``fn.parts`` record their calls into the returned list (made once per
    function: the reference keeps no state between calls)."""
    key = (pack.current().name, fn.name)
    if key not in _TRACED:
        calls: List[Tuple[Function, tuple, dict, Any]] = []
        pure_modules = pure()

        def recorder(part: Function) -> Callable[..., Any]:
            original = getattr(pure_modules[part.module], part.name)

            def record(*args: Any, **kwargs: Any) -> Any:
                result = original(*args, **kwargs)
                calls.append((part, args, kwargs, result))
                return result

            record.__name__ = part.name
            return record

        overrides = {f"{function(p).module}.{p}": recorder(function(p)) for p in fn.parts}
        _TRACED[key] = (modules(overrides), calls)
    return _TRACED[key]


def serve_part(key: str, args: list, kwargs: dict) -> Any:
    """A graded part answered by the reference for a worker that serves it (see autograder.worker.program).

    An argument given as a :class:`~autograder.worker.client.Derived` (a cache the student's forward
    part made, sent as that part and its arguments) is the reference forward part's cache for them."""
    module, _, name = key.partition(".")
    with np.errstate(all="ignore"):
        args = [_derived_cache(a) if type(a).__name__ == "Derived" else a for a in args]
        return getattr(pure()[module], name)(*args, **kwargs)


def _derived_cache(made: Any) -> Any:
    """The reference forward's cache for the arguments as they were at the student's call, with each
    argument that the cache keeps as is replaced by the caller's object as it is now (a cache that
    holds an array sees what the caller did to it afterwards; what the forward computed does not)."""
    module, _, name = made.forward.partition(".")
    fwd = function(name)
    if fwd.module != module or fwd.cache_index is None:
        raise ValueError(f"{made.forward} is not a graded forward function")
    cache = getattr(pure()[module], name)(*made.args, **made.kwargs)[fwd.cache_index]
    live_args = made.args if made.live_args is None else made.live_args
    live_kwargs = made.kwargs if made.live_kwargs is None else made.live_kwargs
    now = {id(a): b for a, b in zip(made.args, live_args)}
    now.update({id(made.kwargs[k]): live_kwargs[k] for k in made.kwargs})
    return _kept_as_now(cache, now)


def _kept_as_now(value: Any, now: Dict[int, Any]) -> Any:
    """``value`` (a cache: arrays in tuples, lists and dicts) with every object kept from the arguments
    replaced by its counterpart in ``now`` (id of an argument -> the caller's object as it is now)."""
    if id(value) in now:
        return now[id(value)]
    if type(value) in (tuple, list):
        return type(value)(_kept_as_now(v, now) for v in value)
    if type(value) is dict:
        return {k: _kept_as_now(v, now) for k, v in value.items()}
    return value
