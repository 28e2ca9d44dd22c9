"""`make check-installs`: constraints.txt must install on every Python this repository claims.

For each version given (the first patch release of each claimed minor, e.g. 3.11.0), uv resolves
requirements.txt under constraints.txt for exactly that interpreter version on x86_64 manylinux,
wheels only, as `make setup` installs them. A pin whose Requires-Python excludes that version (like
soupsieve 4.x, which needs 3.11.5) or that has no wheel for it fails the resolution, and uv's
message names it. Every package the resolution needs must also have a pin in constraints.txt that
applies to that version, so a requirement added without `make constraints` is caught too. And
each package has one version on every Python (see :func:`pinned_twice`).

With ``--code DIR ...`` it also checks that every ``import tomllib`` (3.11+) in those folders
falls back to ``tomli`` when tomllib is missing; `make check-installs` runs vermin for the rest of
the standard library and syntax (vermin cannot see such fallbacks, so it is told to skip tomllib).

Runs with the interpreter of .venv-tools (uv, packaging and vermin, pinned in
tools/requirements-uv.txt); it reads package metadata from the index, so it needs the network but
installs nothing.

    python tools/check_installs.py --uv .venv-tools/bin/uv --code autograder tests -- 3.10.0 3.11.0
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

REPO = Path(__file__).resolve().parent.parent
# The machines we grade on: Linux x86_64 with glibc 2.35 or newer (Ubuntu 22.04, Debian 12).
PLATFORM = "x86_64-manylinux_2_35"


def marker_environment(python_full_version: str) -> Dict[str, str]:
    """PEP 508 marker values of CPython ``python_full_version`` (e.g. "3.11.0") on Linux x86_64."""
    release = Version(python_full_version).release
    return {
        "python_version": f"{release[0]}.{release[1]}",
        "python_full_version": python_full_version,
        "implementation_name": "cpython",
        "implementation_version": python_full_version,
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
    }


def parse_pins(text: str, source: str) -> List[Requirement]:
    """The ``name==version`` lines of a requirements-format ``text`` (comments and blanks skipped)."""
    pins = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise ValueError(f"{source}:{number}: not a requirement: {line!r} ({exc})") from exc
        if len(requirement.specifier) != 1 or next(iter(requirement.specifier)).operator != "==":
            raise ValueError(f"{source}:{number}: not an exact pin (name==version): {line!r}")
        pins.append(requirement)
    return pins


def unpinned(resolved: Sequence[Requirement], constraints: Sequence[Requirement], python_full_version: str) -> List[str]:
    """Packages of ``resolved`` without a pin of that exact version in ``constraints`` for that Python.

    Returns one sentence per problem; an empty list means every resolved package is pinned.
    """
    environment = marker_environment(python_full_version)
    applicable: Dict[str, List[str]] = {}
    for pin in constraints:
        if pin.marker is None or pin.marker.evaluate(environment):
            applicable.setdefault(canonicalize_name(pin.name), []).append(str(next(iter(pin.specifier)).version))
    problems = []
    for package in resolved:
        name = canonicalize_name(package.name)
        version = str(next(iter(package.specifier)).version)
        pinned = applicable.get(name, [])
        if not pinned:
            problems.append(f"{package.name}=={version} is needed on Python {python_full_version} but constraints.txt has no pin for it there")
        elif pinned != [version]:
            problems.append(f"{package.name}: constraints.txt pins {' and '.join(pinned)} on Python {python_full_version}, the resolution needs {version}")
    return problems


def pinned_twice(constraints: Sequence[Requirement]) -> List[str]:
    """Packages pinned to different versions on different Pythons, one sentence each.

    A grade must not depend on the Python that computed it: numpy's arithmetic and Hypothesis'
    draws are part of it, and so is everything that could change them. `make constraints` resolves
    with uv's ``--fork-strategy fewest`` so that every package has one version on every claimed
    Python; a package that exists only on some (a backport such as tomli) has one pin with a marker.
    """
    versions: Dict[str, List[str]] = {}
    for pin in constraints:
        versions.setdefault(canonicalize_name(pin.name), []).append(str(next(iter(pin.specifier)).version))
    return [f"{name} is pinned to {' and '.join(found)} on different Pythons: a grade could depend on the Python"
            for name, found in sorted(versions.items()) if len(set(found)) > 1]


def _catches_import_error(node: ast.Try) -> bool:
    """Whether a handler of ``node`` catches ImportError (or ModuleNotFoundError, or everything)."""
    for handler in node.handlers:
        caught = handler.type
        names = [caught] if not isinstance(caught, ast.Tuple) else list(caught.elts)
        if caught is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception") for n in names):
            return True
    return False


def bare_tomllib_imports(source: str, filename: str) -> List[str]:
    """``file:line`` of each ``import tomllib`` in ``source`` outside a try that catches ImportError."""
    tree = ast.parse(source, filename)
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and _catches_import_error(node):
            guarded.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    found = []
    for node in ast.walk(tree):
        imports_it = (isinstance(node, ast.Import) and any(a.name == "tomllib" for a in node.names)) or (
            isinstance(node, ast.ImportFrom) and node.module == "tomllib")
        if imports_it and id(node) not in guarded:
            found.append(f"{filename}:{node.lineno}")
    return found


def resolve(uv: str, python_full_version: str) -> subprocess.CompletedProcess:
    """uv's resolution of requirements.txt under constraints.txt for one Python (output: pins)."""
    command = [
        uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--no-python-downloads",
        "--python-version", python_full_version, "--python-platform", PLATFORM, "--only-binary", ":all:",
        "requirements.txt", "-c", "constraints.txt",
    ]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Check each version on the command line; prints what is wrong and returns 1 if anything is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uv", required=True, help="path of the uv binary")
    parser.add_argument("--code", nargs="*", default=[], help="folders whose tomllib imports must fall back to tomli")
    parser.add_argument("versions", nargs="+", help="full Python versions, e.g. 3.10.0")
    args = parser.parse_args(argv)
    for version in args.versions:
        try:
            Version(version)
        except InvalidVersion:
            parser.error(f"not a Python version: {version!r}")
    constraints = parse_pins((REPO / "constraints.txt").read_text(encoding="utf-8"), "constraints.txt")
    problems = pinned_twice(constraints)
    for problem in problems:
        print(f"check-installs: {problem} (run `make constraints`)")
    failed = bool(problems)
    for version in args.versions:
        result = resolve(args.uv, version)
        if result.returncode != 0:
            failed = True
            print(f"check-installs: constraints.txt does not install on Python {version}:\n{result.stderr.strip()}")
            continue
        problems = unpinned(parse_pins(result.stdout, f"uv output for {version}"), constraints, version)
        for problem in problems:
            print(f"check-installs: {problem} (run `make constraints`)")
        failed = failed or bool(problems)
        if not problems:
            print(f"check-installs: Python {version}: all {len(result.stdout.splitlines())} pins install (wheels for {PLATFORM})")
    for folder in args.code:
        for path in sorted((REPO / folder).rglob("*.py")):
            for where in bare_tomllib_imports(path.read_text(encoding="utf-8"), str(path.relative_to(REPO))):
                failed = True
                print(f"check-installs: {where}: `import tomllib` fails on Python 3.10; use\n"
                      "    try:\n        import tomllib\n    except ModuleNotFoundError:\n        import tomli as tomllib")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
