"""Does the student CI show the grade the student will get? (``python -m autograder formative-check``)

For each submission of three corpora (the example class ``examples/submissions``, the mutants of
``make mutation`` and the realistic corpus ``tests/realistic``) the formative grade
(:func:`autograder.integrations.student_ci.grade_formative`: the real grader's rules, other examples,
stored answers) is compared with the real grade (:func:`autograder.engine.grade.grade_submission`):

- *equal*: the formative range is one score, the real one;
- *in range*: judged points <= real grade <= judged + not-judged points.

Real grades of mutants and of the realistic corpus are taken from ``reports/mutation.json`` (``make
mutation``) when its reference fingerprint is current, else graded here. ``reports/formative.md`` and
``reports/formative.json`` say how many submissions of each corpus were measured and which differ.
"""
from __future__ import annotations

import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from autograder.engine import pack
from autograder.paths import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "submissions"
REPORT_JSON = REPO_ROOT / "reports" / "formative.json"
REPORT_MD = REPO_ROOT / "reports" / "formative.md"
CORPORA = ("examples", "realistic", "mutants")
# Not submissions of the pack's modules: the example class keeps a few folders that test the grader's handling
# of broken submissions; they are compared like the others (a grade of 0 is a grade).


def example_class() -> List[Tuple[str, Path]]:
    return [(p.name, p) for p in sorted(EXAMPLES.iterdir()) if p.is_dir()]


def _materialize(corpus: str, name: str, dest: Path) -> Path:
    """The submission folder of one entry (mutants and corpus entries are assembled under ``dest``)."""
    if corpus == "examples":
        return EXAMPLES / name
    if corpus == "mutants":
        from autograder.quality.mutation import generate_mutants, write_submission

        mutant = next(m for m in generate_mutants() if m.id == name)
        return write_submission(mutant, dest / pack.current().name)
    from autograder.quality import realistic

    target = dest / pack.current().name
    kind, _, short = name.partition(":")
    if kind == "bug":
        return realistic.submission([b for b in realistic.bugs() if b.name == short], target)
    folder = realistic.CORPUS / "correct" / short
    return realistic.assemble(target, {f.name: f for f in folder.glob("*.py")})


def realistic_names() -> List[str]:
    from autograder.quality import realistic

    return [f"bug:{b.name}" for b in realistic.bugs()] + [f"correct:{c.name}" for c in realistic.correct()]


def cached_real_grades() -> Dict[str, float]:
    """Real scores recorded by ``make mutation`` (mutant id, or "bug:NAME"/"correct:NAME" of the realistic
    corpus), when reports/mutation.json was made from the current reference; else {}."""
    from autograder.quality.mutation import fingerprint
    from autograder.quality.mutation_report import REPORT_JSON as MUTATION_JSON

    try:
        report = json.loads(MUTATION_JSON.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if report.get("fingerprint") != fingerprint():
        return {}
    found = {m["id"]: float(m["score"]) for m in report.get("mutants", []) if m.get("score") is not None}
    section = report.get("realistic") or {}
    found.update({f"bug:{b['name']}": float(b["score"]) for b in section.get("bugs", []) if b.get("score") is not None})
    found.update({f"correct:{c['name']}": float(c["score"]) for c in section.get("correct", [])
                  if c.get("score") is not None})
    return found


def _compare_one(task: Tuple[str, str, Optional[float], str]) -> Dict[str, Any]:
    """Formative and (unless given) real grade of one submission, in a pool process."""
    corpus, name, real, sandbox = task
    from autograder.engine.grade import grade_submission
    from autograder.integrations.student_ci import Store, grade_formative, stored_data

    store = _store_cache.get("store")
    if store is None:
        cases, arrays = stored_data()
        with tempfile.TemporaryDirectory(prefix="formative-data-") as tmp:
            (Path(tmp) / "cases.json").write_bytes(cases)
            (Path(tmp) / "arrays.npz").write_bytes(arrays)
            loaded = Store.load(Path(tmp))
        store = _store_cache["store"] = loaded
    with tempfile.TemporaryDirectory(prefix="formative-") as tmp:
        try:
            path = _materialize(corpus, name, Path(tmp))
            formative = grade_formative(path, sandbox_mode=sandbox, store=store)
            reused = real is not None
            if real is None:
                real = float(grade_submission(path, sandbox=sandbox)["score"])
        except Exception as exc:  # noqa: BLE001 - recorded as an error row
            return {"corpus": corpus, "name": name, "error": f"{type(exc).__name__}: {exc}"}
    low, high = formative["extra_data"]["formative_range"]
    return {"corpus": corpus, "name": name, "real": real, "real_reused": reused, "low": low, "high": high,
            "equal": low == high == real, "in_range": low - 1e-9 <= real <= high + 1e-9,
            "not_judged": formative["extra_data"]["not_judged"],
            "failed": [t["name"] for t in formative["tests"] if t["status"] != "passed"
                       and not t["extra_data"].get("not_judged")]}


_store_cache: Dict[str, Any] = {}


def select(corpora: Sequence[str], mutants: Optional[int] = None, only: Optional[str] = None) -> List[Tuple[str, str]]:
    """(corpus, name) to measure: every example and realistic submission; of the mutants, every one or an
    evenly spread sample of ``mutants`` (the same on every run)."""
    chosen: List[Tuple[str, str]] = []
    if "examples" in corpora:
        chosen += [("examples", n) for n, _ in example_class()]
    if "realistic" in corpora:
        chosen += [("realistic", n) for n in realistic_names()]
    if "mutants" in corpora:
        from autograder.quality.mutation import generate_mutants

        ids = [m.id for m in generate_mutants()]
        if mutants is not None and mutants < len(ids):
            step = len(ids) / max(mutants, 1)
            ids = [ids[int(i * step)] for i in range(mutants)]
        chosen += [("mutants", i) for i in ids]
    return [(c, n) for c, n in chosen if not only or only in n]


def measure(chosen: List[Tuple[str, str]], *, jobs: int = 2, sandbox: str = "process", reuse: bool = True,
            on_done: Optional[Callable[[int, Dict[str, Any]], None]] = None) -> List[Dict[str, Any]]:
    """Compare formative and real grades of ``chosen`` (real grades reused from make mutation when ``reuse``)."""
    from autograder.integrations.student_ci import stored_data

    stored_data()  # recorded once, before the pool (each process then reads the cache)
    cached = cached_real_grades() if reuse else {}
    tasks = [(c, n, cached.get(n) if c != "examples" else None, sandbox) for c, n in chosen]
    rows: List[Dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for i, row in enumerate(pool.map(_compare_one, tasks), start=1):
            rows.append(row)
            if on_done:
                on_done(i, row)
    return rows


def summary(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    found: Dict[str, Dict[str, Any]] = {}
    for corpus in CORPORA:
        mine = [r for r in rows if r["corpus"] == corpus]
        if not mine:
            continue
        ok = [r for r in mine if "error" not in r]
        found[corpus] = {"measured": len(mine), "errors": len(mine) - len(ok),
                         "equal": sum(r["equal"] for r in ok), "in_range": sum(r["in_range"] for r in ok),
                         "ranges": sum(r["low"] != r["high"] for r in ok),
                         "real_reused": sum(r["real_reused"] for r in ok)}
    ok = [r for r in rows if "error" not in r]
    found["all"] = {"measured": len(rows), "errors": len(rows) - len(ok), "equal": sum(r["equal"] for r in ok),
                    "in_range": sum(r["in_range"] for r in ok), "ranges": sum(r["low"] != r["high"] for r in ok),
                    "real_reused": sum(r["real_reused"] for r in ok)}
    return found


def _share(k: int, n: int) -> str:
    return f"{k} of {n} ({k / n:.1%})" if n else "none measured"


def render(rows: List[Dict[str, Any]], totals: Dict[str, int], seconds: float) -> str:
    """reports/formative.md."""
    found = summary(rows)
    lines = ["# Formative (student CI) vs real grade", "",
             "Written by `python -m autograder formative-check`. For each submission, the student CI's formative "
             "grade (the real grader's rules on other examples than the marking ones, stored answers; a range where "
             "a test is not judged here) is compared with the real grade. *Equal*: the range is one score, the real "
             "one. *In range*: judged points <= real grade <= judged + not-judged points. Real grades of mutants and "
             "of the realistic corpus come from reports/mutation.json (make mutation) when it is current.", "",
             f"Measured in {seconds:.0f} s.", "",
             "| corpus | measured | of | formative == real | real in range | shown as a range | errors |",
             "|---|---:|---:|---|---|---:|---:|"]
    for corpus in CORPORA + ("all",):
        s = found.get(corpus)
        if s is None:
            continue
        n = s["measured"] - s["errors"]
        lines.append(f"| {corpus} | {s['measured']} | {totals.get(corpus, s['measured'])} | {_share(s['equal'], n)} | "
                     f"{_share(s['in_range'], n)} | {s['ranges']} | {s['errors']} |")
    differ = [r for r in rows if "error" in r or not r["equal"]]
    if differ:
        lines += ["", "## Submissions where the formative grade is not the real grade", "",
                  "| corpus | submission | formative | real | in range | tests not judged here / failed here |",
                  "|---|---|---|---:|---|---|"]
        for r in differ:
            if "error" in r:
                lines.append(f"| {r['corpus']} | `{r['name']}` | error | | | {r['error'][:300]} |")
                continue
            shown = f"{r['low']:g}" if r["low"] == r["high"] else f"{r['low']:g}–{r['high']:g}"
            what = "; ".join(f"{k} (fix {v})" for k, v in r["not_judged"].items()) or ", ".join(r["failed"])
            lines.append(f"| {r['corpus']} | `{r['name']}` | {shown} | {r['real']:g} | "
                         f"{'yes' if r['in_range'] else '**no**'} | {what.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def write(rows: List[Dict[str, Any]], totals: Dict[str, int], seconds: float,
          json_path: Path = REPORT_JSON, md_path: Path = REPORT_MD) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({"summary": summary(rows), "totals": totals, "seconds": round(seconds, 1),
                                     "rows": rows}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    md_path.write_text(render(rows, totals, seconds), encoding="utf-8")
