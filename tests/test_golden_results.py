"""The example class's results, kept: a change that alters any grade or any feedback shows here.

``tests/golden/<student>.json`` holds each example student's ``results.json`` as graded in process
mode, without ``execution_time`` and with this checkout's paths replaced by ``<repo>`` and the
Python prefix by ``<python>``. A change meant to alter grades or feedback regenerates them::

    AUTOGRADER_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden_results.py

and the diff of ``tests/golden/`` shows, in review, every grade and every sentence it changed.
Changes meant to alter nothing (speed, structure) must leave them as they are.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

pytestmark = pytest.mark.slow  # a sweep over the example class: about a minute

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "submissions"
GOLDEN = Path(__file__).resolve().parent / "golden"
STUDENTS = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
UPDATE = os.environ.get("AUTOGRADER_UPDATE_GOLDEN") == "1"


def normalized(results: Dict[str, Any]) -> str:
    """The results as kept: no execution time, no path of this machine, and not the first line of
    the output (what the sandbox protects against on this machine, whoever is graded)."""
    kept = {k: v for k, v in results.items() if k != "execution_time"}
    kept["output"] = "\n".join(["<sandbox>"] + str(kept.get("output", "")).split("\n")[1:])
    text = json.dumps(kept, sort_keys=True, indent=1)
    for path, name in ((str(REPO), "<repo>"), (sys.prefix, "<python>"), (sys.base_prefix, "<python>")):
        text = text.replace(json.dumps(path)[1:-1], name)
    return text + "\n"


@pytest.mark.parametrize("student", STUDENTS)
def test_the_example_class_gets_the_results_it_always_got(student: str, graded) -> None:
    got = normalized(graded(EXAMPLES / student))  # grade_submission(..., sandbox="process"), once per session
    kept = GOLDEN / f"{student}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        kept.write_text(got, encoding="utf-8")
    assert kept.is_file(), f"no kept results for {student}: regenerate them (see the module docstring)"
    assert got == kept.read_text(encoding="utf-8")
