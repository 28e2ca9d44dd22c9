"""Assignment packs: everything the engine needs to grade one assignment, loaded by name.

The engine knows no assignment. A pack says which functions are graded (:mod:`autograder.engine.spec`
entries), where their reference lives, the rubric, the size profiles examples are drawn from, and
any check kinds, structured inputs, mistake diagnoses or feedback facts of its own. Built-in packs
live in ``autograder/packs/<name>/`` and expose ``PACK``; a pack elsewhere is a folder with a
``pack.py`` that defines ``PACK`` (``--pack path/to/folder``).

The active pack is named by the environment variable ``AUTOGRADER_PACK`` (default ``rnn_lstm``), so
grading subprocesses (batch jobs, Gradescope) inherit it; :func:`use` sets it.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

from autograder.paths import REPO_ROOT

if TYPE_CHECKING:  # spec looks functions up in the active pack
    from autograder.engine.spec import Function

DEFAULT = "rnn_lstm"
ENV = "AUTOGRADER_PACK"

CheckKind = Callable[..., None]  # (grader, function, example) -> None; raises CheckFailed or Rejected


class Lazy(Mapping):
    """A mapping defined in another module (``"package.module:NAME"``), imported when first read.

    For a pack's parts that only some commands use: the student CI neither imports nor ships the
    pack's localization facts, which compute reference quantities.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self._mapping: Optional[Mapping[str, Any]] = None

    def _load(self) -> Mapping[str, Any]:
        if self._mapping is None:
            module, _, name = self.where.partition(":")
            self._mapping = getattr(importlib.import_module(module), name)
        return self._mapping

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"Lazy({self.where!r})"


@dataclass(frozen=True)
class Pack:
    """One assignment, as data and checks (see the module docstring)."""

    name: str  # the assignment's folder name under source/, assignments/ and solutions/
    folder: Path  # the pack's own code and data (rubric.toml, ...)
    functions: Tuple[Function, ...]  # the graded functions, in the order reports list them
    reference_dir: Path  # the reference solutions (imported by the grader, never by the worker)
    profiles: Mapping[str, Mapping[str, Tuple[int, int]]]  # profile -> symbol -> (low, high) sizes
    boundary_profiles: Tuple[str, ...] = ()  # profiles whose tests also run the boundary examples
    cell_gates: Mapping[str, int] = field(default_factory=dict)  # cell -> gate blocks of G (default 1)
    gate_names: Tuple[str, ...] = ()  # the gate blocks of G in order, one letter each ("i", "f", "g", "o")
    # activations of the reference beside numpy's tanh ("module.function" -> its name in
    # counterfactual.ACTIVATIONS): localization tries the reference with each replaced by another
    activations: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, CheckKind] = field(default_factory=dict)  # check kinds beside the engine's
    # kind -> what its points need: kinds of which one test must pass, or "evidence" (hidden_tests.requires)
    requires: Mapping[str, Any] = field(default_factory=dict)
    shows_inputs: Tuple[str, ...] = ()  # pack kinds whose failing inputs may be shown
    boundary_kinds: Tuple[str, ...] = ()  # pack kinds that also run the boundary examples
    localized_kinds: Tuple[str, ...] = ()  # pack kinds whose failures are localized like values
    option_kinds: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)  # option -> the kinds that draw it
    # Structured inputs (strategies.Example.special) on which many wrong forwards are right:
    specials: Tuple[str, ...] = ()
    cell_specials: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)  # special -> cells it applies to
    apply_special: Optional[Callable[[str, Dict[str, Any], str], None]] = None
    special_words: Mapping[str, str] = field(default_factory=dict)  # special -> words for the feedback
    # The reference backward at the student's own forward outputs, where that is defined:
    backward_at_outputs: Optional[Callable[..., Optional[Dict[str, Any]]]] = None
    retry_inputs: Mapping[str, Callable[[Function, Any], Dict[str, Any]]] = field(default_factory=dict)
    # The student CI (autograder.integrations.student_ci) stores the reference's answers for these of
    # the pack's kinds, on these inputs, keeping these outputs; its other kinds run live there.
    stored_inputs: Mapping[str, Callable[[Function, Any], Dict[str, Any]]] = field(default_factory=dict)
    stored_outputs: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)
    diagnose: Optional[Callable[..., Any]] = None  # the mistakes catalogue
    mistakes: Optional[Callable[[str], Any]] = None  # function name -> the catalogue's mistakes of it
    facts: Mapping[str, Tuple[Callable[..., Any], ...]] = field(default_factory=dict)  # function -> fact checks
    fact_checks: Mapping[str, Callable[..., Any]] = field(default_factory=dict)  # fact kind -> its check
    extra_modules: Tuple[str, ...] = ()  # modules the release ships beside the graded ones
    # the pack's submodules only staff commands use (reference maths, the mistakes catalogue): the student
    # CI neither imports nor ships them (autograder/integrations/student_bundle.py)
    staff_only: Tuple[str, ...] = ()
    source_dir: Optional[Path] = None  # the instructor version (built-in packs)
    release_dir: Optional[Path] = None
    mutation_equivalents: Optional[Path] = None  # the mutation report's explained survivors
    helpers: Tuple[str, ...] = ()  # ungraded functions of the reference (their mutants cost nothing)
    bench: Mapping[str, Any] = field(default_factory=dict)  # what `make bench` grades (a buggy mutant, ...)

    @property
    def rubric(self) -> Path:
        """The pack's rubric: ``rubric.toml`` in its folder."""
        return self.folder / "rubric.toml"

    @cached_property
    def graded_modules(self) -> Tuple[str, ...]:
        """The modules a submission contains, in the order the functions list them (no ``.py``)."""
        return tuple(dict.fromkeys(f.module for f in self.functions))

    @cached_property
    def by_name(self) -> Dict[str, Function]:
        """function name -> its spec entry."""
        return {f.name: f for f in self.functions}

    @cached_property
    def module_functions(self) -> Dict[str, Tuple[str, ...]]:
        """module -> the graded functions it must define, in order."""
        found: Dict[str, Tuple[str, ...]] = {}
        for f in self.functions:
            found[f.module] = found.get(f.module, ()) + (f.name,)
        return found


def standard_dirs(name: str) -> Dict[str, Path]:
    """Where a built-in pack's trees live: source/, assignments/ and solutions/ of this repository."""
    return {"source_dir": REPO_ROOT / "source" / name, "release_dir": REPO_ROOT / "assignments" / name,
            "reference_dir": REPO_ROOT / "solutions" / name}


class PackError(Exception):
    """A pack that cannot be found or loaded (the message names it)."""


_loaded: Dict[str, Pack] = {}


def load(name: str) -> Pack:
    """The pack called ``name`` (``autograder/packs/<name>``) or the pack in folder ``name``."""
    if name in _loaded:
        return _loaded[name]
    folder = Path(name)
    if os.sep in name or "/" in name or (folder / "pack.py").is_file():
        path = folder.resolve() / "pack.py"
        if not path.is_file():
            raise PackError(f"no assignment pack at {folder}: {path} does not exist")
        module_name = f"_autograder_pack_{path.parent.name}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(f"autograder.packs.{name}")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"autograder.packs.{name}",):
                raise
            known = sorted(p.name for p in (Path(__file__).resolve().parent.parent / "packs").iterdir()
                           if (p / "__init__.py").is_file())
            raise PackError(f"no assignment pack called {name!r} (built-in packs: {', '.join(known)}; "
                            f"or give the path of a folder with a pack.py)") from None
    pack = getattr(module, "PACK", None)
    if not isinstance(pack, Pack):
        raise PackError(f"the assignment pack {name!r} defines no PACK = Pack(...)")
    _loaded[name] = pack
    return pack


def current() -> Pack:
    """The active pack (``AUTOGRADER_PACK``, default ``rnn_lstm``)."""
    return load(os.environ.get(ENV) or DEFAULT)


def function(name: str) -> "Function":
    """The graded function ``name`` of the active pack."""
    return current().by_name[name]


def scenario_args(fn: "Function") -> Tuple[str, ...]:
    """Names of the scenario inputs (see :mod:`autograder.engine.spec`) of a graded function."""
    base = function(fn.forward) if fn.forward else fn
    names = tuple(n for n, _ in base.args) + tuple(fn.upstream) + base.options + fn.options
    return tuple(dict.fromkeys(names))


def use(name: str) -> Pack:
    """Make ``name`` the active pack, for this process and the grading processes it starts."""
    pack = load(name)
    os.environ[ENV] = str(Path(name).resolve()) if (Path(name) / "pack.py").is_file() else name
    return pack
