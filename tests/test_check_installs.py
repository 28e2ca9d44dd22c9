"""tools/check_installs.py (`make check-installs`): its offline half, and the committed pins it reads.

The resolution itself needs uv and the index; `make check-installs` runs it (and .ci/run calls it).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_installs", REPO / "tools" / "check_installs.py")
check_installs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_installs)


def _claimed_pythons() -> list:
    """The Makefile's PYTHONS, e.g. ["3.10", "3.11", "3.12", "3.13"]."""
    match = re.search(r"^PYTHONS\s*:=\s*(.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, "Makefile: no PYTHONS := line"
    return match.group(1).split()


CONSTRAINTS = """\
# comment
Pygments==2.21.0
soupsieve==2.10 ; python_full_version < '3.11.5'
soupsieve==4.1.3 ; python_full_version >= '3.11.5'
tomli==2.5.0 ; python_full_version < '3.11'
    # via pytest
"""


def test_a_bound_inside_a_minor_series_is_read_at_patch_level():
    pins = check_installs.parse_pins(CONSTRAINTS, "c")
    old = check_installs.parse_pins("soupsieve==2.10\n", "uv")
    new = check_installs.parse_pins("soupsieve==4.1.3\n", "uv")
    assert check_installs.unpinned(old, pins, "3.11.0") == []
    assert check_installs.unpinned(new, pins, "3.11.5") == []
    (problem,) = check_installs.unpinned(new, pins, "3.11.2")
    assert "soupsieve" in problem and "2.10" in problem and "4.1.3" in problem


def test_a_package_without_a_pin_for_that_python_is_named():
    pins = check_installs.parse_pins(CONSTRAINTS, "c")
    resolved = check_installs.parse_pins("tomli==2.5.0\npygments==2.21.0\n", "uv")
    assert check_installs.unpinned(resolved, pins, "3.10.0") == []
    (problem,) = check_installs.unpinned(resolved, pins, "3.11.0")
    assert problem.startswith("tomli==2.5.0 is needed on Python 3.11.0") and "no pin" in problem


def test_a_line_that_is_not_an_exact_pin_is_refused_with_its_line_number():
    with pytest.raises(ValueError, match=r"c:2: not an exact pin .*numpy>=2"):
        check_installs.parse_pins("pytest==9.2.0\nnumpy>=2\n", "c")
    with pytest.raises(ValueError, match=r"c:1: not a requirement"):
        check_installs.parse_pins("numpy===\n", "c")


def test_committed_constraints_pin_each_package_once_on_every_claimed_python():
    pins = check_installs.parse_pins((REPO / "constraints.txt").read_text(), "constraints.txt")
    for minor in _claimed_pythons():
        for patch in ("0", "99"):
            environment = check_installs.marker_environment(f"{minor}.{patch}")
            names = [canonicalize_name(p.name) for p in pins if p.marker is None or p.marker.evaluate(environment)]
            assert len(names) == len(set(names)), f"two pins apply on Python {minor}.{patch}"
            assert "numpy" in names and "hypothesis" in names


def test_a_package_pinned_to_two_versions_is_named():
    (problem,) = check_installs.pinned_twice(check_installs.parse_pins(CONSTRAINTS, "c"))
    assert problem.startswith("soupsieve is pinned to 2.10 and 4.1.3")
    committed = check_installs.parse_pins((REPO / "constraints.txt").read_text(), "constraints.txt")
    assert check_installs.pinned_twice(committed) == []  # so numpy and Hypothesis are the same on every Python


def test_claimed_pythons_start_where_pyproject_says():
    match = re.search(r'^requires-python\s*=\s*">=([\d.]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    assert match, "pyproject.toml: no requires-python lower bound"
    assert _claimed_pythons()[0] == match.group(1)


def test_tomllib_without_the_tomli_fallback_is_found():
    bare = "import json\nimport tomllib\n\ndef f():\n    from tomllib import loads\n"
    assert check_installs.bare_tomllib_imports(bare, "x.py") == ["x.py:2", "x.py:5"]
    guarded = ("try:\n    import tomllib\nexcept ModuleNotFoundError:\n    import tomli as tomllib\n"
               "def f():\n    try:\n        import tomllib\n    except (ValueError, ImportError):\n        pass\n")
    assert check_installs.bare_tomllib_imports(guarded, "y.py") == []
    wrong_handler = "try:\n    import tomllib\nexcept ValueError:\n    pass\n"
    assert check_installs.bare_tomllib_imports(wrong_handler, "z.py") == ["z.py:2"]
