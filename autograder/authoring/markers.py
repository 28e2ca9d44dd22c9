"""nbgrader's solution and hidden-test markers, applied to plain text (``.py`` files, cell sources).

nbgrader strips markers only inside notebooks and copies ``.py`` files unchanged, so this module
gives ``.py`` files the same treatment with exactly nbgrader's delimiters and semantics: a line that
contains ``### BEGIN SOLUTION`` starts a region that ends at the next line containing
``### END SOLUTION``; the release replaces the region (marker lines included) by nbgrader's Python
code stub at the indentation of the BEGIN line. Hidden-test regions are deleted from the release.
Unlike nbgrader we also reject an END without a BEGIN, and errors name the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")

ALL_MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)


class MarkerError(ValueError):
    """Unbalanced or nested markers; the message names the file and the line."""


@dataclass(frozen=True)
class _Region:
    begin: str
    end: str
    kind: str


_SOLUTION = _Region(BEGIN_SOLUTION, END_SOLUTION, "solution")
_HIDDEN = _Region(BEGIN_HIDDEN, END_HIDDEN, "hidden tests")


def _transform(text: str, region: _Region, name: str, stub: bool, keep: bool) -> str:
    """Walk ``text`` once; inside ``region`` keep the lines (solutions) or drop them (release)."""
    out: List[str] = []
    begin_line = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if region.begin in line:
            if begin_line:
                raise MarkerError(f"{name}:{number}: nested {region.begin!r} (the region opened at line {begin_line} is not closed)")
            begin_line = number
            if stub:
                indent = re.match(r"\s*", line).group(0)
                out.extend(indent + stub_line for stub_line in CODE_STUB)
        elif region.end in line:
            if not begin_line:
                raise MarkerError(f"{name}:{number}: {region.end!r} without a matching {region.begin!r}")
            begin_line = 0
        elif keep or not begin_line:
            out.append(line)
    if begin_line:
        raise MarkerError(f"{name}:{begin_line}: {region.begin!r} has no matching {region.end!r}")
    return "\n".join(out)


def release_text(text: str, name: str = "<text>") -> str:
    """The student version: solutions replaced by the code stub, hidden tests removed."""
    text = _transform(text, _HIDDEN, name, stub=False, keep=False)
    return _transform(text, _SOLUTION, name, stub=True, keep=False)


def solution_text(text: str, name: str = "<text>") -> str:
    """The reference version: every marker line removed, all code (and hidden tests) kept."""
    text = _transform(text, _HIDDEN, name, stub=False, keep=True)
    return _transform(text, _SOLUTION, name, stub=False, keep=True)


def has_markers(text: str) -> bool:
    """True when any nbgrader marker appears in ``text``."""
    return any(marker in text for marker in ALL_MARKERS)
