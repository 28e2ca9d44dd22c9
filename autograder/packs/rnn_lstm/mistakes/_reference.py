"""Where a variant finds the reference helpers it calls (``rnn_step_backward``, ``cell_functions``...).

Variants are modified copies of reference functions; most of them still call other reference
functions. They look those up *at call time*, by module name, through :func:`module`, so that a
scenario that swaps a function (``run_scenario(..., overrides=...)``) or plugs other cells into the
reference composition is seen by the variant as well.

Lookup order for ``module("rnn_layers")``:

1. a module registered with :func:`use_modules` (the grader's reference loader may register the
   modules it runs a scenario with);
2. otherwise a private copy of the reference modules, loaded once from ``solutions/rnn_lstm``.

``sys.modules`` is deliberately not consulted: a test or tool may have imported a student's
``rnn_layers`` under that plain name.
"""
from __future__ import annotations

from contextlib import contextmanager
from types import ModuleType
from typing import Dict, Iterator, Mapping

_registered: Dict[str, ModuleType] = {}
_private: Dict[str, ModuleType] = {}


@contextmanager
def use_modules(modules: Mapping[str, ModuleType]) -> Iterator[None]:
    """Within the block, variants call helpers from ``modules`` (name -> module)."""
    saved = dict(_registered)
    _registered.update(modules)
    try:
        yield
    finally:
        _registered.clear()
        _registered.update(saved)


def load_reference_modules() -> Dict[str, ModuleType]:
    """A fresh copy of the four reference modules from solutions/ (name -> module), private to the
    caller: the grader's own loader (:func:`autograder.engine.reference.modules`), imported here lazily."""
    from autograder.engine.reference import modules

    return modules()


def _load_private() -> Dict[str, ModuleType]:
    if not _private:
        _private.update(load_reference_modules())
    return _private


def module(name: str) -> ModuleType:
    """The reference module ``name`` as the current scenario sees it (see the module docstring)."""
    if name in _registered:
        return _registered[name]
    return _load_private()[name]
