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
from autograder.quality import realistic
from autograder.quality.mutation import Mutant, fingerprint, generate_mutants, reference_sources, write_submission

GRADER = GRADE_ENTRY_POINT
REPORT_JSON = REPO_ROOT / "reports" / "mutation.json"
REPORT_MD = REPO_ROOT / "reports" / "mutation.md"
GOAL = 0.95
# Provided helpers (not graded functions): their mutants break every function that calls them, by design.
COLLATERAL_CAP = 8.0  # no mutant may lose more points than this outside the function it mutates
COLLATERAL_GOAL = 1.0  # points all mutants together may lose outside the functions they mutate
DIAGNOSED_GOAL = 0.90  # share of realistic bugs (and of step-forward mutants) diagnosed by more than where they break
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
    mutant, sources, grader, sandbox, check_truth = args
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        path = write_submission(mutant, Path(tmp) / pack.current().name, sources)
        return grade_and_check(path, mutant.function, grader, sandbox, check_truth)


def grade_and_check(path: Path, function: str, grader: str = GRADER, sandbox: str = "process",
                    check_truth: bool = True) -> Dict[str, Any]:
    """Grade one submission whose mistake is in ``function``: its score, the points lost per function,
    how its feedback diagnoses ``function`` and, with ``check_truth``, the sentences the truth check
    (:mod:`autograder.quality.truth`) found false."""
    start = time.perf_counter()
    try:
        results = _load(grader)(path, sandbox=sandbox)
    except Exception as exc:  # noqa: BLE001 - a grader crash is recorded, not fatal for the run
        return {"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - start}
    outcome = _outcome(results, function)
    if check_truth:
        from autograder.quality import truth

        try:
            checked = truth.summary(truth.check(path, results, sandbox=sandbox))
        except Exception as exc:  # noqa: BLE001 - a truth-check crash is recorded as such
            checked = {"sentences": 0, "false": [{"test": "", "function": function, "what": "truth check",
                                                  "sentence": "", "true": False, "why": f"{type(exc).__name__}: {exc}"}]}
        outcome.update(sentences=checked["sentences"], false_sentences=checked["false"])
    outcome["seconds"] = time.perf_counter() - start
    return outcome


def _outcome(results: Dict[str, Any], function: str) -> Dict[str, Any]:
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

    # the function's failing shown tests compared values (not only: it raised, or broke the contract)
    values = any((t.get("extra_data") or {}).get("function") == function and (t.get("extra_data") or {}).get("outputs")
                 and t.get("status") == "failed" for t in tests)
    return {"score": float(results.get("score", 0)), "max_score": max_score, "failed": failed, "lost": lost,
            "localized": diagnosis(results, function), "wrong_values": bool(values)}


def grade_mutants(mutants: List[Mutant], *, jobs: int = 2, sandbox: str = "process", grader: str = GRADER,
                  on_done: Optional[Callable[[int, Mutant, Dict[str, Any]], None]] = None,
                  check_truth: bool = True) -> List[Dict[str, Any]]:
    """Grade every mutant (``jobs`` processes); outcomes in the order of ``mutants``."""
    sources = reference_sources()
    tasks = [(m, sources, grader, sandbox, check_truth) for m in mutants]
    outcomes: List[Dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for n, (mutant, outcome) in enumerate(zip(mutants, pool.map(_grade_one, tasks)), start=1):
            outcomes.append(outcome)
            if on_done:
                on_done(n, mutant, outcome)
    return outcomes


def _grade_corpus_one(args: tuple) -> Dict[str, Any]:
    """Grade one submission of the realistic corpus in a pool process (a bug, or a correct variant)."""
    kind, name, grader, sandbox, check_truth = args
    with tempfile.TemporaryDirectory(prefix="realistic-") as tmp:
        dest = Path(tmp) / pack.current().name
        if kind == "bug":
            bug = next(b for b in realistic.bugs() if b.name == name)
            return grade_and_check(realistic.submission([bug], dest), bug.function, grader, sandbox, check_truth)
        folder = realistic.CORPUS / "correct" / name
        path = realistic.assemble(dest, {f.name: f for f in folder.glob("*.py")})
        return grade_and_check(path, "", grader, sandbox, check_truth)


def grade_corpus(*, jobs: int = 2, sandbox: str = "process", grader: str = GRADER, only: Optional[str] = None,
                 on_done: Optional[Callable[[int, str, Dict[str, Any]], None]] = None,
                 check_truth: bool = True) -> Dict[str, List[Dict[str, Any]]]:
    """Grade every bug and correct variant of the realistic corpus (:mod:`autograder.quality.realistic`):
    {"bugs": [outcome with "name"], "correct": [outcome with "name"]}, in name order."""
    tasks = [("bug", b.name, grader, sandbox, check_truth) for b in realistic.bugs()]
    tasks += [("correct", c.name, grader, sandbox, check_truth) for c in realistic.correct()]
    if only:
        tasks = [t for t in tasks if only in t[1]]
    found: Dict[str, List[Dict[str, Any]]] = {"bugs": [], "correct": []}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for n, (task, outcome) in enumerate(zip(tasks, pool.map(_grade_corpus_one, tasks)), start=1):
            found["bugs" if task[0] == "bug" else "correct"].append(dict(outcome, name=task[1]))
            if on_done:
                on_done(n, task[1], outcome)
    return found


def build_realistic(graded: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    """The realistic corpus's section of the report: one row per bug and per correct variant, and its summary."""
    meta = {b.name: b for b in realistic.bugs()}
    bugs = []
    for outcome in graded["bugs"]:
        bug = meta[outcome["name"]]
        status = "error" if "error" in outcome else "killed" if killed(outcome) else "survived"
        lost = outcome.get("lost", {})
        bugs.append({"name": bug.name, "function": bug.function, "module": bug.module, "kind": bug.kind,
                     "truth": bug.truth, "wrong_outputs": bug.wrong_outputs, "status": status,
                     "score": outcome.get("score"), "error": outcome.get("error"),
                     "lost_inside": round(lost.get(bug.function, 0.0), 6),
                     "lost_outside": round(sum(v for k, v in lost.items() if k != bug.function), 6),
                     "lost": {k: round(v, 6) for k, v in sorted(lost.items())},
                     "localized": outcome.get("localized"), "sentences": outcome.get("sentences", 0),
                     "false_sentences": outcome.get("false_sentences", [])})
    correct = [{"name": o["name"], "score": o.get("score"), "error": o.get("error"),
                "lost": {k: round(v, 6) for k, v in sorted(o.get("lost", {}).items())},
                "sentences": o.get("sentences", 0), "false_sentences": o.get("false_sentences", [])}
               for o in graded["correct"]]
    wrong = [b for b in bugs if b["wrong_outputs"]]
    diagnosed = [b for b in wrong if b["localized"] in ("catalogue", "values", "property")]
    rows = bugs + correct
    return {"bugs": bugs, "correct": correct, "summary": {
        "bugs": len(bugs), "killed": sum(b["status"] == "killed" for b in bugs),
        "kill_rate": round(sum(b["status"] == "killed" for b in bugs) / len(bugs), 4) if bugs else 1.0,
        "collateral_points": round(sum(b["lost_outside"] for b in bugs), 6),
        "with_collateral": sum(b["lost_outside"] > 0 for b in bugs),
        "correct": len(correct), "correct_full": sum(c["score"] == 100 for c in correct),
        "wrong_outputs": len(wrong), "diagnosed": len(diagnosed),
        "diagnosed_by": {d: sum(b["localized"] == d for b in wrong) for d in DIAGNOSES},
        "diagnosed_share": round(len(diagnosed) / len(wrong), 4) if wrong else 1.0,
        "sentences": sum(r["sentences"] for r in rows),
        "false_sentences": sum(len(r["false_sentences"]) for r in rows)}}


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
                     "localized": outcome.get("localized"), "wrong_values": outcome.get("wrong_values"),
                     "sentences": outcome.get("sentences", 0), "false_sentences": outcome.get("false_sentences", []),
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
                    "localized_by": {d: sum(r["localized"] == d for r in graded) for d in DIAGNOSES},
                    "sentences": sum(r["sentences"] for r in rows),
                    "false_sentences": sum(len(r["false_sentences"]) for r in rows),
                    "step_forward": _step_forward(graded)},
        "stale_equivalents": sorted(i for i in explanations if i not in {r["id"] for r in rows if r["status"] != "killed"}),
        "mutants": rows,
    }


def _step_forward(graded: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Mutants of the step forwards (forward functions built from no graded part) whose outputs are wrong
    values: how many carry a catalogue sentence or a verified fact about the values."""
    steps = {f.name for f in pack.current().functions if not f.forward and not f.parts and f.cache_index is not None}
    rows = [r for r in graded if r["function"] in steps and r.get("wrong_values")]
    by_values = [r for r in rows if r["localized"] in ("catalogue", "values")]
    return {"functions": sorted(steps), "wrong_values": len(rows), "by_values": len(by_values),
            "share": round(len(by_values) / len(rows), 4) if rows else 1.0}


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
                 "localized": r.get("localized"), "wrong_values": r.get("wrong_values"),
                 "sentences": r.get("sentences", 0), "false_sentences": r.get("false_sentences", [])} for r in rows]
    rebuilt = build_report(mutants, outcomes, explanations, sandbox=report["sandbox"], grader=report["grader"],
                           seconds=report.get("seconds", 0.0))
    if "realistic" in report:
        rebuilt["realistic"] = report["realistic"]
    return rebuilt


def _diagnosed_by(summary: Dict[str, Any]) -> str:
    by = summary.get("localized_by") or {}
    words = {"catalogue": "by a catalogued mistake", "values": "by a verified fact about the values (gate block, "
             "time steps, factor, a counterfactual reference, a size condition, ...) and no catalogued mistake",
             "property": "by a property test's failure verified again (an input changed in place, the cache, an "
             "unknown cell accepted)", "breakage": "only by where it breaks (the line of "
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
        f"- **Step forwards** ({', '.join(f'`{f}`' for f in s.get('step_forward', {}).get('functions', []))}): "
        f"{s.get('step_forward', {}).get('by_values', 0)} of the {s.get('step_forward', {}).get('wrong_values', 0)} killed "
        f"mutants whose outputs are wrong values ({s.get('step_forward', {}).get('share', 0):.1%}) are diagnosed by a "
        f"catalogued mistake or a verified fact about the values.",
        f"- **False sentences** (the truth check, `autograder/quality/truth.py`: every fact, catalogue sentence and "
        f"claim about another function, checked again on 5 fresh independent examples): "
        f"{s.get('false_sentences', 0)} of {s.get('sentences', 0)}.",
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
    lines += _false_lines([(r["id"], r) for r in report["mutants"]])
    worst = sorted((r for r in report["mutants"] if (r.get("lost_outside") or 0) > 0 and r["function"] not in pack.current().helpers),
                   key=lambda r: -r["lost_outside"])[:15]
    if worst:
        lines += ["", "## Most collateral", "", "| mutant | lost inside | lost outside | failing tests outside |",
                  "|---|---|---|---|"]
        for r in worst:
            outside = [t for t in r["failed_tests"] if not t.startswith(r["function"] + ":")]
            lines.append(f"| `{r['id'].replace('|', '¦')}` | {r['lost_inside']:g} | {r['lost_outside']:g} | "
                         f"{'; '.join(outside)[:300]} |")
    if "realistic" in report:
        lines += _realistic_lines(report["realistic"])
    return "\n".join(lines) + "\n"


def _false_lines(rows: List[Any]) -> List[str]:
    found = [(name, f) for name, r in rows for f in r.get("false_sentences") or []]
    if not found:
        return []
    lines = ["", f"## False sentences ({len(found)})", "", "| submission | test | what | sentence | where it failed |",
             "|---|---|---|---|---|"]
    for name, f in found:
        cells = [name, f.get("test", ""), f.get("what", ""), f.get("sentence", ""), f.get("why", "")]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ")[:300] for c in cells) + " |")
    return lines


def _realistic_lines(section: Dict[str, Any]) -> List[str]:
    s = section["summary"]
    lines = ["", "# The realistic corpus", "",
             "Bugs written by someone who saw only the student release (`tests/realistic/`, see its README): each is "
             "their own correct submission (`base/`) with one module changed, graded by the same grader; and correct "
             "submissions in other styles.", "",
             f"- **Kill rate: {s['kill_rate']:.1%}** ({s['killed']} of {s['bugs']} bugs score below full marks).",
             f"- **Collateral**: {s['collateral_points']:g} points lost outside the function that has the bug "
             f"({s['with_collateral']} bugs lose points elsewhere).",
             f"- **Correct variants**: {s['correct_full']} of {s['correct']} score 100.",
             f"- **Diagnosed**: {s['diagnosed']} of the {s['wrong_outputs']} bugs whose outputs are wrong "
             f"({s['diagnosed_share']:.1%}) carry, about the function that has the bug, a catalogued mistake or a "
             f"verified fact about its values or about a property it breaks (its inputs changed, its cache, the "
             f"cells it accepts), not only where it breaks: "
             + ", ".join(f"{s.get('diagnosed_by', {}).get(d, 0)} by {d}" for d in DIAGNOSES) + ".",
             f"- **False sentences**: {s['false_sentences']} of {s['sentences']}.", "",
             "| bug | function | kind | score | lost inside | lost outside | diagnosed |", "|---|---|---|---|---|---|---|"]
    for b in section["bugs"]:
        lines.append(f"| `{b['name']}` | `{b['function']}` | {b['kind']} | {b['score'] if b['score'] is not None else b['error']} "
                     f"| {b['lost_inside']:g} | {b['lost_outside']:g} | {b['localized'] or '-'} |")
    lines += ["", "| correct variant | score |", "|---|---|"]
    lines += [f"| `{c['name']}` | {c['score'] if c['score'] is not None else c['error']} |" for c in section["correct"]]
    lines += _false_lines([(b["name"], b) for b in section["bugs"]] + [(c["name"], c) for c in section["correct"]])
    return lines


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


def _realistic_problems(section: Optional[Dict[str, Any]]) -> List[str]:
    """Why the realistic corpus's section is out of date or not good enough ([] when it passes)."""
    if not section:
        return ["no realistic-corpus section: run `python -m autograder mutation`"]
    names = sorted(b.name for b in realistic.bugs()) + sorted(c.name for c in realistic.correct())
    if sorted(b["name"] for b in section["bugs"]) + sorted(c["name"] for c in section["correct"]) != names:
        return ["the realistic corpus changed since the report: regrade it"]
    s, problems = section["summary"], []
    if s["killed"] < s["bugs"]:
        problems.append(f"{s['bugs'] - s['killed']} realistic bugs survive (goal: every one killed)")
    if s["collateral_points"] > 0:
        problems.append(f"realistic bugs lose {s['collateral_points']:g} points outside their function (goal 0)")
    if s["correct_full"] < s["correct"]:
        problems.append(f"{s['correct'] - s['correct_full']} correct variants score below 100")
    if s["diagnosed_share"] < DIAGNOSED_GOAL:
        problems.append(f"realistic bugs diagnosed: {s['diagnosed_share']:.1%} (goal >= {DIAGNOSED_GOAL:.0%})")
    if s["false_sentences"]:
        problems.append(f"{s['false_sentences']} false sentences in the realistic corpus's feedback (goal 0)")
    return problems


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
    if summary.get("collateral_points", 0) > COLLATERAL_GOAL:
        problems.append(f"mutants lose {summary['collateral_points']:g} points outside the mutated function "
                        f"(goal <= {COLLATERAL_GOAL:g})")
    if summary.get("false_sentences", 0):
        problems.append(f"{summary['false_sentences']} false sentences in the mutants' feedback (goal 0)")
    step = summary.get("step_forward", {})
    if step.get("share", 1.0) < DIAGNOSED_GOAL:
        problems.append(f"step-forward mutants diagnosed by values: {step.get('share', 0):.1%} (goal >= {DIAGNOSED_GOAL:.0%})")
    problems += _realistic_problems(report.get("realistic"))
    for r in report.get("mutants", []):
        if r["status"] != "killed":
            explanation = explanations.get(r["id"])
            if explanation is None or not r.get("reason"):
                problems.append(f"survivor without a reason in {equivalents_path().name}: {r['id']}")
    return problems
