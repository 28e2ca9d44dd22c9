"""The rubric (the active pack's ``rubric.toml``) and the scores it gives."""
from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli is the same parser, backported
    import tomli as tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from autograder.engine import pack

VISIBILITIES = ("visible", "after_due_date", "hidden")
TOTAL = 100


class RubricError(ValueError):
    """The rubric file is malformed (a TA edit gone wrong): grading cannot start."""


@dataclass(frozen=True)
class RubricTest:
    function: str
    name: str
    kind: str
    points: float
    profile: str
    examples: int
    visibility: str

    @property
    def full_name(self) -> str:
        return f"{self.function}: {self.name}"


def load_rubric(path: Optional[Path] = None) -> List[RubricTest]:
    """Read and validate the rubric (default: the active pack's): every graded function, known kinds
    and profiles, total 100."""
    from autograder.engine.hidden_tests import kinds

    active = pack.current()
    path = active.rubric if path is None else path
    known_kinds, profiles = kinds(), active.profiles
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(f"cannot read rubric {path}: {exc}") from None
    tests: List[RubricTest] = []
    for function, table in data.items():
        if function not in active.by_name:
            raise RubricError(f"rubric: unknown function [{function}]")
        for entry in table.get("tests", []):
            try:
                test = RubricTest(function, str(entry["name"]), str(entry["kind"]), float(entry["points"]),
                                  str(entry.get("profile", "general")), int(entry.get("examples", 10)),
                                  str(entry.get("visibility", "after_due_date")))
            except (KeyError, TypeError, ValueError) as exc:
                raise RubricError(f"rubric: [{function}] test {entry!r}: {exc}") from None
            if test.kind not in known_kinds or test.profile not in profiles or test.visibility not in VISIBILITIES:
                raise RubricError(f"rubric: [{function}] {test.name!r}: unknown kind, profile or visibility")
            if test.points < 0 or test.examples < 1:
                raise RubricError(f"rubric: [{function}] {test.name!r}: points must be >= 0 and examples >= 1")
            tests.append(test)
    missing = [f.name for f in active.functions if f.name not in data]
    if missing:
        raise RubricError(f"rubric: no tests for {', '.join(missing)}")
    total = sum(t.points for t in tests)
    if abs(total - TOTAL) > 1e-9:
        raise RubricError(f"rubric: the points add up to {total:g}, not {TOTAL}")
    names = [t.full_name for t in tests]
    if len(set(names)) != len(names):
        raise RubricError("rubric: two tests have the same name")
    return tests


def function_scores(tests: List[dict]) -> Dict[str, Dict[str, float]]:
    """{function: {"score", "max_score"}} from results.json tests (in spec order)."""
    scores: Dict[str, Dict[str, float]] = {f.name: {"score": 0.0, "max_score": 0.0} for f in pack.current().functions}
    for test in tests:
        entry = scores[test["extra_data"]["function"]]
        entry["score"] += test["score"]
        entry["max_score"] += test["max_score"]
    return scores
