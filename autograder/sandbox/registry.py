"""The sandbox backends by mode name, and the choice ``auto`` makes.

Modes (``--sandbox``): ``bwrap`` (:class:`~autograder.sandbox.bwrap_backend.BwrapBackend`),
``process`` (:class:`~autograder.sandbox.process_backend.ProcessBackend`), and ``auto``: the first
of :data:`AUTO_ORDER` that works here, i.e. bubblewrap when its trial run works on this machine
(probed once per process), else process mode.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from autograder.sandbox.backend import Backend, Readiness
from autograder.sandbox.bwrap_backend import BwrapBackend
from autograder.sandbox.process_backend import ProcessBackend

_BACKENDS: Dict[str, Backend] = {b.name: b for b in (BwrapBackend(), ProcessBackend())}
AUTO_ORDER: Tuple[str, ...] = ("bwrap", "process")  # the last one always works
MODES: Tuple[str, ...] = ("auto", *_BACKENDS)


def backend(name: str) -> Backend:
    """The backend called ``name`` (not ``auto``), whether or not it works here; ValueError if none is."""
    if name not in _BACKENDS:
        raise ValueError(f"unknown sandbox mode {name!r}; choose one of {', '.join(MODES)}")
    return _BACKENDS[name]


def resolve(mode: str) -> Backend:
    """The backend that will actually run for a requested mode (``auto``: bwrap if it works here).

    Raises ValueError for an unknown mode and the backend's ``unavailable_error`` (a RuntimeError:
    :class:`~autograder.sandbox.bwrap.BwrapUnavailable` for bwrap) when a backend that does not
    work on this machine is requested by name.
    """
    if mode == "auto":
        return next(b for b in (backend(n) for n in AUTO_ORDER) if b.available())
    chosen = backend(mode)
    works, why = chosen.available()
    if not works:
        raise chosen.unavailable_error(f"sandbox mode {mode} was requested but {chosen.label} does not work here: "
                                       f"{why}")
    return chosen


def resolve_mode(mode: str) -> str:
    """The name of :func:`resolve`'s backend (what results and resume keys record)."""
    return resolve(mode).name


def passed_over(chosen: Backend, *, probe: bool) -> List[Tuple[Backend, str]]:
    """The backends ``auto`` tried before ``chosen`` and why each does not work. With ``probe``
    False, only those whose answer is known already (nothing is run)."""
    found = []
    for name in AUTO_ORDER[:AUTO_ORDER.index(chosen.name)] if chosen.name in AUTO_ORDER else ():
        status = backend(name).available() if probe else backend(name).probed()
        if status is not None and not status.works:
            found.append((backend(name), status.why))
    return found


def describe(mode: str) -> str:
    """One line for the results' ``output``: what the sandbox that ran protects against
    (:meth:`Backend.describe`) and, when bubblewrap was found unusable, why (so the results say
    which mode ran and why). ``bwrap`` and ``process`` are described whether or not they work here.
    """
    chosen = resolve(mode) if mode == "auto" else backend(mode)
    text = chosen.describe()
    for skipped, why in passed_over(chosen, probe=False):
        text += f" ({skipped.label} does not work here: {why[:300]})"
    return text


def readiness() -> Readiness:
    """Every backend's part of ``bundle check``, in ``auto``'s order: the lines to print, and the
    first problem that must fail the image build (``""`` if none)."""
    lines: List[str] = []
    for name in AUTO_ORDER:
        part = backend(name).readiness()
        lines.extend(part.lines)
        if part.problem:
            return Readiness(tuple(lines), part.problem)
    return Readiness(tuple(lines))


def probe_in_background() -> None:
    """Start bubblewrap's trial run now, beside the caller's imports (see
    :meth:`~autograder.sandbox.bwrap_backend.BwrapBackend.probe_in_background`)."""
    bwrap = backend("bwrap")
    assert isinstance(bwrap, BwrapBackend)
    bwrap.probe_in_background()
