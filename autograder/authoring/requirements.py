"""The student release's ``requirements.txt``: what its public tests and notebook need, every package pinned.

``source/<pack>/requirements.in`` names the top-level packages (by hand: the release's own imports, and
Jupyter to open the notebook; ``tests/test_student_flow.py`` checks that it covers every import).
``python -m autograder.authoring.requirements`` (run by ``make release``) writes
``source/<pack>/requirements.txt`` beside it: those packages and everything they depend on, at the
versions of the course's ``constraints.txt`` (its ``# via`` notes are the dependency graph), with the
same environment markers. So ``pip install -r requirements.txt`` gives a student the versions the
course tested, on every Python it claims.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set

from autograder.paths import REPO_ROOT

HEADER = ("# Generated from requirements.in by `make release` (python -m autograder.authoring.requirements): the\n"
          "# packages the public tests and the notebook need, and their dependencies, at the versions the course tested.\n"
          "# Install them with: pip install -r requirements.txt\n")


def canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    """One line of constraints.txt: ``name==version ; marker`` and the packages that need it."""

    name: str
    version: str
    marker: str = ""
    needed_by: Set[str] = field(default_factory=set)  # canonical names; "-r requirements.txt" for top level

    @property
    def line(self) -> str:
        return f"{self.name}=={self.version}" + (f" ; {self.marker}" if self.marker else "")


def read_constraints(path: Path) -> Dict[str, Pin]:
    """canonical name -> Pin, from a ``uv pip compile`` output with its ``# via`` notes."""
    pins: Dict[str, Pin] = {}
    current: Optional[Pin] = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.*))?$", line)
        if match:
            current = Pin(match.group(1), match.group(2), (match.group(3) or "").strip())
            pins[canonical(current.name)] = current
            continue
        via = re.match(r"^\s+#\s+(?:via\s+)?(\S.*)$", line)
        if current is not None and via and via.group(1) != "via":
            current.needed_by.add(via.group(1) if via.group(1).startswith("-r") else canonical(via.group(1)))
    return pins


def read_top_level(path: Path) -> List[str]:
    """The package names of a requirements.in (comments and blank lines skipped)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            match = re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*", text)
            if not match or match.group(0) != text:
                raise ValueError(f"{path}: write only a package name per line (versions come from constraints.txt): {line!r}")
            names.append(text)
    return names


def closure(top: List[str], pins: Dict[str, Pin]) -> List[Pin]:
    """The pins of ``top`` and of everything they depend on, sorted by name."""
    needs: Dict[str, Set[str]] = {}
    for name, pin in pins.items():
        for parent in pin.needed_by:
            needs.setdefault(parent, set()).add(name)
    missing = [n for n in top if canonical(n) not in pins]
    if missing:
        raise ValueError(f"not pinned in constraints.txt: {', '.join(missing)} (add them to requirements.txt, "
                         f"then run `make constraints`)")
    found: Set[str] = set()
    todo = [canonical(n) for n in top]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(needs.get(name, ()))
    return sorted((pins[n] for n in found), key=lambda p: canonical(p.name))


def requirements_text(requirements_in: Path, constraints: Path) -> str:
    """The pinned requirements.txt for ``requirements_in``."""
    lines = [pin.line for pin in closure(read_top_level(requirements_in), read_constraints(constraints))]
    return HEADER + "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    from autograder.engine import pack

    parser = argparse.ArgumentParser(prog="python -m autograder.authoring.requirements", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="the instructor version (default: source/<pack>)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if requirements.txt is out of date")
    args = parser.parse_args(argv)
    source = args.source or pack.current().source_dir
    if source is None or not (source / "requirements.in").is_file():
        print(f"requirements: no requirements.in in {source}", file=sys.stderr)
        return 2
    try:
        text = requirements_text(source / "requirements.in", REPO_ROOT / "constraints.txt")
    except ValueError as exc:
        print(f"requirements: {exc}", file=sys.stderr)
        return 2
    target = source / "requirements.txt"
    if args.check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is out of date: run `make release`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
