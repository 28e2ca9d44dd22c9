"""Grade every mutant with the real grader and keep the kill rate in a committed report.

``reports/mutation.json`` (machine-readable) and ``reports/mutation.md`` (for people) record, for
the mutants of :mod:`autograder.quality.mutation`: killed (score below full marks) or survived, each
survivor's explanation from the pack's ``mutation_equivalents.toml``, the kill rate over the
non-equivalent mutants, and the fingerprint (reference modules + mutator) they were computed from.
"""
from __future__ import annotations

import importlib
import json
import os
import tempfile
import time

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli is the same parser, backported
    import tomli as tomllib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

from autograder.engine import GRADE_ENTRY_POINT, pack
from autograder.engine.localize import DIAGNOSES
from autograder.paths import REPO_ROOT
from autograder.quality.mutation import Mutant, fingerprint, generate_mutants, reference_sources, write_submission

GRADER = GRADE_ENTRY_POINT
REPORT_JSON = REPO_ROOT / "reports" / "mutation.json"
REPORT_MD = REPO_ROOT / "reports" / "mutation.md"
GOAL = 0.95
# Provided helpers (not graded functions): their mutants break every function that calls them, by design.
COLLATERAL_CAP = 8.0  # no mutant may lose more points than this outside the function it mutates
KINDS = ("equivalent", "grader-gap")  # a survivor is equivalent, or a known gap of the grader


class ReportError(Exception):
    """A missing or malformed equivalents file or report (the message names the file and problem)."""


@dataclass(frozen=True)
class Explanation:
    kind: str  # one of KINDS
    reason: str


def equivalents_path() -> Path:
    """The active pack's explained survivors (``mutation_equivalents.toml`` in its folder by default)."""
    active = pack.current()
    return active.mutation_equivalents or active.folder / "mutation_equivalents.toml"


def load_equivalents(path: Optional[Path] = None) -> Dict[str, Explanation]:
    """mutant id -> explanation, from ``[[survivor]]`` tables with ``id``, ``kind`` and ``reason``
    (default: :func:`equivalents_path`)."""
    path = equivalents_path() if path is None else path
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ReportError(f"{path}: not valid TOML: {exc}") from exc
    out: Dict[str, Explanation] = {}
    for n, entry in enumerate(data.get("survivor", []), start=1):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry.get(k) for k in ("id", "kind", "reason")):
            raise ReportError(f"{path}: [[survivor]] #{n} needs non-empty strings id, kind and reason")
        if entry["kind"] not in KINDS:
            raise ReportError(f"{path}: [[survivor]] #{n}: kind must be one of {', '.join(KINDS)}, got {entry['kind']!r}")
        if entry["id"] in out:
            raise ReportError(f"{path}: [[survivor]] #{n}: id listed twice: {entry['id']}")
        out[entry["id"]] = Explanation(entry["kind"], entry["reason"])
    return out


# --- grading ----------------------------------------------------------------------------------


def _load(spec: str) -> Callable[..., Dict[str, Any]]:
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _grade_one(args: tuple) -> Dict[str, Any]:
    """Grade one mutant in a pool process: {'score', 'max_score', 'failed', 'seconds'} or {'error'}."""
    mutant, sources, grader, sandbox = args
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        path = write_submission(mutant, Path(tmp) / pack.current().name, sources)
        try:
            results = _load(grader)(path, sandbox=sandbox)
        except Exception as exc:  # noqa: BLE001 - a grader crash is recorded, not fatal for the run
            return {"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - start}
    tests = results.get("tests", [])
    max_score = sum(float(t.get("max_score", 0)) for t in tests)
    failed = [t["name"] for t in tests if float(t.get("score", 0)) < float(t.get("max_score", 0))]
    lost: Dict[str, float] = {}
    for t in tests:
        missing = float(t.get("max_score", 0)) - float(t.get("score", 0))
        if missing > 0:
            function = (t.get("extra_data") or {}).get("function") or t["name"].split(":")[0]
            lost[function] = lost.get(function, 0.0) + missing
    from autograder.engine.localize import diagnosis

    return {"score": float(results.get("score", 0)), "max_score": max_score, "failed": failed, "lost": lost,
            "localized": diagnosis(results, mutant.function), "seconds": time.perf_counter() - start}


def grade_mutants(mutants: List[Mutant], *, jobs: int = 2, sandbox: str = "process", grader: str = GRADER,
                  on_done: Optional[Callable[[int, Mutant, Dict[str, Any]], None]] = None) -> List[Dict[str, Any]]:
    """Grade every mutant (``jobs`` processes); outcomes in the order of ``mutants``."""
    sources = reference_sources()
    tasks = [(m, sources, grader, sandbox) for m in mutants]
    outcomes: List[Dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for n, (mutant, outcome) in enumerate(zip(mutants, pool.map(_grade_one, tasks)), start=1):
            outcomes.append(outcome)
            if on_done:
                on_done(n, mutant, outcome)
    return outcomes


def killed(outcome: Dict[str, Any]) -> bool:
    return "error" not in outcome and outcome["score"] < outcome["max_score"]


# --- the report -------------------------------------------------------------------------------


def build_report(mutants: List[Mutant], outcomes: List[Dict[str, Any]], explanations: Dict[str, Explanation],
                 *, sandbox: str, grader: str = GRADER, seconds: float = 0.0) -> Dict[str, Any]:
    rows = []
    for m, outcome in zip(mutants, outcomes):
        status = "error" if "error" in outcome else "killed" if killed(outcome) else "survived"
        explanation = explanations.get(m.id)
        rows.append({"id": m.id, "module": m.module, "function": m.function, "line": m.line, "operator": m.operator,
                     "original": m.original, "mutated": m.mutated, "status": status,
                     "score": outcome.get("score"), "max_score": outcome.get("max_score"),
                     "failed_tests": outcome.get("failed", []), "error": outcome.get("error"),
                     "lost_inside": round(outcome.get("lost", {}).get(m.function, 0.0), 6),
                     "lost_outside": round(sum(v for k, v in outcome.get("lost", {}).items() if k != m.function), 6),
                     "localized": outcome.get("localized"),
                     "kind": explanation.kind if explanation and status != "killed" else None,
                     "reason": explanation.reason if explanation and status != "killed" else None})
    graded = [r for r in rows if r["status"] == "killed" and r["function"] not in pack.current().helpers]
    collateral = [r for r in graded if (r["lost_outside"] or 0) > 0]
    equivalent = [r for r in rows if r["status"] == "survived" and r["kind"] == "equivalent"]
    non_equivalent = len(rows) - len(equivalent)
    n_killed = sum(r["status"] == "killed" for r in rows)
    return {
        "fingerprint": fingerprint(),
        "grader": grader,
        "sandbox": sandbox,
        "seconds": round(seconds, 1),
        "summary": {"mutants": len(rows), "killed": n_killed,
                    "survived": sum(r["status"] == "survived" for r in rows),
                    "errors": sum(r["status"] == "error" for r in rows),
                    "equivalent": len(equivalent), "non_equivalent": non_equivalent,
                    "kill_rate": round(n_killed / non_equivalent, 4) if non_equivalent else 1.0, "goal": GOAL,
                    # over the killed mutants of graded functions (the pack's helpers apart), points from rubric.toml
                    "graded_killed": len(graded), "with_collateral": len(collateral),
                    "collateral_points": round(sum(r["lost_outside"] for r in graded), 6),
                    "max_collateral": max((r["lost_outside"] for r in graded), default=0.0),
                    "over_collateral_cap": sum(r["lost_outside"] > COLLATERAL_CAP for r in graded),
                    "localized": sum(bool(r["localized"]) for r in graded),
                    "localized_share": round(sum(bool(r["localized"]) for r in graded) / len(graded), 4)
                    if graded else 1.0,
                    # how: a catalogue sentence, a fact about the values, or where it breaks (localize.DIAGNOSES)
                    "localized_by": {d: sum(r["localized"] == d for r in graded) for d in DIAGNOSES}},
        "stale_equivalents": sorted(i for i in explanations if i not in {r["id"] for r in rows if r["status"] != "killed"}),
        "mutants": rows,
    }


def reexplain(report: Dict[str, Any], mutants: List[Mutant], explanations: Dict[str, Explanation]) -> Dict[str, Any]:
    """The report rebuilt with new explanations, from its recorded outcomes (no regrading).

    Raises ReportError when the report was computed from other mutants (then regrade).
    """
    rows = report.get("mutants", [])
    if report.get("fingerprint") != fingerprint() or [r["id"] for r in rows] != [m.id for m in mutants]:
        raise ReportError("the report was computed from other mutants or reference modules: regrade them all")
    outcomes = [{"error": r["error"]} if r["status"] == "error" else
                {"score": r["score"], "max_score": r["max_score"], "failed": r["failed_tests"],
                 "lost": dict({r["function"]: r.get("lost_inside") or 0.0}, **({"(outside)": r["lost_outside"]}
                                                                             if r.get("lost_outside") else {})),
                 "localized": r.get("localized")} for r in rows]
    return build_report(mutants, outcomes, explanations, sandbox=report["sandbox"], grader=report["grader"],
                        seconds=report.get("seconds", 0.0))


def _diagnosed_by(summary: Dict[str, Any]) -> str:
    by = summary.get("localized_by") or {}
    words = {"catalogue": "by a catalogued mistake", "values": "by a verified fact about the values (gate block, "
             "time steps, factor, ...) and no catalogued mistake", "breakage": "only by where it breaks (the line of "
             "the function that raises, or the return value that breaks the contract)"}
    return "; ".join(f"{by.get(d, 0)} {words[d]}" for d in DIAGNOSES)


def render_markdown(report: Dict[str, Any]) -> str:
    s = report["summary"]
    fp = report["fingerprint"]
    lines = [
        "# Mutation testing of the grader",
        "",
        "Generated by `python -m autograder mutation` (`make mutation`); do not edit by hand. Each mutant is the",
        "reference submission with one small change (see `autograder/quality/mutation.py`), graded by the real grader;",
        "it is killed when it scores below full marks.",
        "",
        f"- **Kill rate: {s['kill_rate']:.1%}** of {s['non_equivalent']} non-equivalent mutants "
        f"(goal >= {s['goal']:.0%}); {s['killed']} killed, {s['survived']} survived "
        f"({s['equivalent']} equivalent), {s['errors']} grader errors; {s['mutants']} mutants in all.",
        f"- Graded with `{report['grader']}`, sandbox `{report['sandbox']}`, in {report['seconds']:.0f} s.",
        f"- Fingerprint: reference modules sha256 `{fp['reference_sha256'][:16]}`, "
        f"mutants (mutator output) sha256 `{fp['mutants_sha256'][:16]}`.",
        "",
        f"- **Collateral** (points lost outside the mutated function, over the {s['graded_killed']} killed mutants "
        f"of graded functions; the helpers {', '.join(pack.current().helpers)} apart): {s['with_collateral']} mutants lose points "
        f"elsewhere, {s['collateral_points']:g} points in all; the most any mutant loses elsewhere is "
        f"{s['max_collateral']:g} (cap {COLLATERAL_CAP:g}; {s['over_collateral_cap']} over it).",
        f"- **Diagnosed**: {s['localized']} of {s['graded_killed']} ({s['localized_share']:.1%}) carry, in a failing "
        f"visible or after-due-date test of the mutated function, a verified localization or catalogue sentence "
        f"about it: {_diagnosed_by(s)}.",
        "",
        "## Survivors",
        "",
        "| mutant | kind | reason |",
        "|---|---|---|",
    ]
    for r in report["mutants"]:
        if r["status"] != "killed":
            kind = r["kind"] or ("grader error" if r["status"] == "error" else "**unexplained**")
            reason = (r["reason"] or r.get("error") or "").replace("|", "\\|")
            lines.append(f"| `{r['id'].replace('|', '¦')}` | {kind} | {reason} |")
    if report["stale_equivalents"]:
        lines += ["", "## Listed in mutation_equivalents.toml but killed or no longer generated", ""]
        lines += [f"- `{i}`" for i in report["stale_equivalents"]]
    lines += ["", "## Mutants per function", "",
              "| function | mutants | killed | survived | points lost inside | with collateral | points lost outside "
              "| diagnosed |", "|---|---|---|---|---|---|---|---|"]
    per: Dict[str, List[float]] = {}
    for r in report["mutants"]:
        counts = per.setdefault(f"{r['module']}.{r['function']}", [0, 0, 0, 0.0, 0, 0.0, 0])
        counts[0] += 1
        counts[1] += r["status"] == "killed"
        counts[2] += r["status"] != "killed"
        counts[3] += r.get("lost_inside") or 0.0
        counts[4] += (r.get("lost_outside") or 0) > 0
        counts[5] += r.get("lost_outside") or 0.0
        counts[6] += bool(r.get("localized")) and r["status"] == "killed"
    lines += [f"| `{name}` | {a} | {b} | {c} | {d:g} | {e} | {f:g} | {g} |" for name, (a, b, c, d, e, f, g) in per.items()]
    undiagnosed = [r for r in report["mutants"] if r["status"] == "killed" and r["function"] not in pack.current().helpers
                   and not r.get("localized")]
    if undiagnosed:
        lines += ["", f"## Killed but not diagnosed ({len(undiagnosed)})", "",
                  "The feedback of these says that the function is wrong, and where it fails, but not where in it the "
                  "mistake lives.", ""]
        lines += [f"- `{r['id'].replace('|', '¦')}`" for r in undiagnosed]
    worst = sorted((r for r in report["mutants"] if (r.get("lost_outside") or 0) > 0 and r["function"] not in pack.current().helpers),
                   key=lambda r: -r["lost_outside"])[:15]
    if worst:
        lines += ["", "## Most collateral", "", "| mutant | lost inside | lost outside | failing tests outside |",
                  "|---|---|---|---|"]
        for r in worst:
            outside = [t for t in r["failed_tests"] if not t.startswith(r["function"] + ":")]
            lines.append(f"| `{r['id'].replace('|', '¦')}` | {r['lost_inside']:g} | {r['lost_outside']:g} | "
                         f"{'; '.join(outside)[:300]} |")
    return "\n".join(lines) + "\n"


def write_report(report: Dict[str, Any], json_path: Path = REPORT_JSON, md_path: Path = REPORT_MD) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((json_path, json.dumps(report, indent=1, sort_keys=True) + "\n"), (md_path, render_markdown(report))):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def load_report(path: Path = REPORT_JSON) -> Dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportError(f"{path}: no mutation report; run `python -m autograder mutation`") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON: {exc}") from exc


def report_problems(report: Dict[str, Any], mutants: Optional[Iterable[Mutant]] = None,
                    explanations: Optional[Dict[str, Explanation]] = None) -> List[str]:
    """Why a committed report is out of date or not good enough ([] when it is current and passes).

    Cheap: it regenerates the mutant list (no grading) and compares ids and the fingerprint.
    """
    problems = []
    mutants = generate_mutants() if mutants is None else list(mutants)
    explanations = load_equivalents() if explanations is None else explanations
    if report.get("fingerprint") != fingerprint():
        problems.append("the fingerprint differs: the reference modules or the mutator changed since the report")
    ids = [m.id for m in mutants]
    reported = [r["id"] for r in report.get("mutants", [])]
    if ids != reported:
        missing, extra = sorted(set(ids) - set(reported)), sorted(set(reported) - set(ids))
        problems.append(f"the mutant list differs: {len(missing)} new ({missing[:3]}), {len(extra)} gone ({extra[:3]})")
    summary = report.get("summary", {})
    if summary.get("kill_rate", 0) < GOAL:
        problems.append(f"kill rate {summary.get('kill_rate', 0):.1%} is below the goal {GOAL:.0%}")
    for r in report.get("mutants", []):
        if r["status"] != "killed":
            explanation = explanations.get(r["id"])
            if explanation is None or not r.get("reason"):
                problems.append(f"survivor without a reason in {equivalents_path().name}: {r['id']}")
    return problems
