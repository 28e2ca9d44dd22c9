"""The truth check: every sentence the feedback shows, checked again on fresh independent examples.

The grader shows a verified fact or a catalogued mistake only when it holds on two examples drawn
independently of the failing one (:func:`autograder.engine.localize.independent_example`). This
check draws :data:`FRESH` more examples the same way, never the grader's own, and verifies each
sentence a student is shown on every one of them: random sizes of at least 2 (T at least 3), no
structured values (no special input, no ``max_norm`` tied to the norm). A sentence that fails on
any of them is false.

It also checks what the notes say of other functions (``extra_data.claims``): a function said to be
wrong, to have a wrong cache or to change its inputs in place must lose points for that in its own
tests (or in one of the parts it is built from), or, for "wrong", be wrong on a fresh example.

``make mutation`` runs it on every mutant and every bug of the realistic corpus
(:mod:`autograder.quality.mutation_report`); ``tests/test_truth.py`` keeps it honest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

from autograder.engine import explain, localize, pack
from autograder.engine.checks import CheckFailed
from autograder.engine.dependencies import Mode
from autograder.engine.hidden_tests import Grader, kinds
from autograder.engine.pack import function
from autograder.engine.score import RubricTest, load_rubric
from autograder.engine.spec import Function
from autograder.engine.strategies import Example, boundary_examples
from autograder.sandbox import registry as sandbox_registry
from autograder.sandbox.limits import GRADING
from autograder.worker.client import WorkerClient

FRESH = 5  # fresh examples per sentence
FRESH_FIRST = 101  # independent examples 101 .. 105: never the grader's own (1 and 2)
SHOWN = ("visible", "after_due_date")  # the visibilities whose facts and mistakes students read
# Kinds of test whose failure shows that a function's outputs are wrong ("wrong" claims).
VALUE_KINDS = ("values", "gradcheck", "truncate_full", "truncate_chunks", "carousel")


@dataclass
class Verdict:
    """One sentence of the feedback and whether it held on every fresh example."""

    test: str
    function: str
    what: str  # "fact:<kind>", "mistake" or "claim:<claim>"
    sentence: str
    true: bool
    why: str = ""  # for a false sentence: where it failed

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def check(submission: Path, results: Mapping[str, Any], *, sandbox: str = "process") -> List[Verdict]:
    """Verify every sentence of ``results`` (the grade of ``submission``) on fresh examples."""
    if not any(_says_something(t) for t in results.get("tests", [])):
        return []  # no fact, mistake or claim to check: no worker needed
    rubric = {t.full_name: t for t in load_rubric()}
    active = pack.current()
    mode = sandbox_registry.resolve_mode(sandbox)
    verdicts: List[Verdict] = []
    with WorkerClient(Path(submission), sandbox_mode=mode, limits=GRADING, call_seconds=GRADING.call_seconds) as client:
        client.load_modules({m: active.module_functions.get(m, ()) for m in active.graded_modules})
        grader = Grader(client)
        for test in results.get("tests", []):
            extra = test.get("extra_data") or {}
            rubric_test = rubric.get(test.get("name", ""))
            if rubric_test is None or not extra.get("function"):
                continue
            fn = function(extra["function"])
            shown = test.get("visibility") in SHOWN
            failing = _example(extra.get("example"))
            if shown and failing is not None:
                for record in extra.get("facts") or []:
                    verdicts.append(_check_fact(grader, fn, rubric_test, failing, record, extra))
                if extra.get("mistake"):
                    verdicts.append(_check_mistake(grader, fn, rubric_test, failing, extra))
            for claim in extra.get("claims") or []:
                verdicts.append(_check_claim(grader, test["name"], claim, results))
    return verdicts


def _says_something(test: Mapping[str, Any]) -> bool:
    extra = test.get("extra_data") or {}
    return bool(extra.get("claims") or (test.get("visibility") in SHOWN and (extra.get("facts") or extra.get("mistake"))))


def _example(record: Optional[Mapping[str, Any]]) -> Optional[Example]:
    if not record:
        return None
    fields = dict(record)
    fields["dims"] = tuple((str(k), int(v)) for k, v in fields["dims"])
    return Example(**fields)


def _fact(record: Mapping[str, Any]) -> localize.Fact:
    """A fact from its results.json record (``localize.Fact.as_dict`` plus its sentence)."""
    detail = {k: tuple(v) if isinstance(v, list) else v for k, v in record.items()
              if k not in ("kind", "function", "outputs", "sentence")}
    return localize.Fact(record["kind"], record["function"], tuple(record.get("outputs") or ()),
                         tuple(sorted(detail.items())))


def _fresh_examples(fn: Function, test: RubricTest, failing: Example) -> List[Example]:
    return [localize.independent_example(fn, failing, k, test.kind, test.profile)
            for k in range(FRESH_FIRST, FRESH_FIRST + FRESH)]


def _mode(extra: Mapping[str, Any]) -> Mode:
    judged = extra.get("judged_with") or {}
    return Mode(serve=tuple(judged.get("serve") or ()), serve_forward=bool(judged.get("serve_forward")))


def _judged(fn: Function, grader: Grader, extra: Mapping[str, Any]) -> Any:
    """(student, expected) producers judging the outputs the failing test judged, the way it judged them."""
    student, expect = explain.rerun(fn, grader, _mode(extra)), explain.reference_expect(fn)
    names = set((extra.get("outputs") or {}).keys())
    if names:
        student, expect = explain.restricted(student, names), explain.restricted(expect, names)
    return student, expect


def _check_fact(grader: Grader, fn: Function, test: RubricTest, failing: Example, record: Mapping[str, Any],
                extra: Mapping[str, Any]) -> Verdict:
    fact = _fact(record)
    verdict = Verdict(test.full_name, fn.name, f"fact:{fact.kind}", str(record.get("sentence", "")), True)
    make = explain.inputs_like(fn, test, {})
    student, expect = _judged(fn, grader, extra)
    for ex in _fresh_examples(fn, test, failing):
        problem = _fact_fails(grader, fn, test, fact, ex, make, student, expect, _mode(extra))
        if problem:
            verdict.true, verdict.why = False, f"{problem} (fresh example {_sizes(ex)})"
            break
    return verdict


def _fact_fails(grader: Grader, fn: Function, test: RubricTest, fact: localize.Fact, ex: Example, make: Any,
                student: Any, expect: Any, mode: Mode) -> str:
    """Why ``fact`` does not hold on the fresh example ``ex`` ("" when it does)."""
    if fact.kind in localize.BREAKING_KINDS:
        found = explain.breaks(grader, fn, make(ex), ex, explain.judged_alone(mode))
        return "" if found == fact else f"it breaks otherwise there ({found.kind if found else 'it runs'})"
    if fact.kind in localize.PROPERTY_FACTS:
        return _property_fails(grader, fn, test, fact, ex)
    return localize.fails(fn, fact, ex, student, expect, make)


def _property_fails(grader: Grader, fn: Function, test: RubricTest, fact: localize.Fact, ex: Example) -> str:
    """Why a property test's failure is not the same on ``ex`` ("" when it is)."""
    check = kinds()[str(fact.get("check"))]
    grader.profile, grader.kind = test.profile, test.kind
    grader.client.clear_handles()
    try:
        check(grader, fn, ex)
    except CheckFailed as exc:
        same = (exc.output or None) == (fact.outputs[0] if fact.outputs else None)
        return "" if same else f"it fails otherwise there ({exc.message.splitlines()[0][:120]})"
    except Exception as exc:  # noqa: BLE001 - set aside there: the sentence is not shown to hold
        return f"it could not be judged there ({type(exc).__name__})"
    return "the test passes there"


def _check_mistake(grader: Grader, fn: Function, test: RubricTest, failing: Example, extra: Mapping[str, Any]) -> Verdict:
    key = str(extra["mistake"])
    verdict = Verdict(test.full_name, fn.name, "mistake", str(extra.get("mistake_sentence", key)), True)
    make = explain.inputs_like(fn, test, {})
    student, expect = _judged(fn, grader, extra)
    for ex in _fresh_examples(fn, test, failing):
        case = localize.case(fn, ex, student, expect, make)
        if case is None or not case.wrong:
            verdict.true, verdict.why = False, f"it is {'right' if case else 'not run'} on fresh example {_sizes(ex)}"
            break
        if key not in {m.key for m in explain.diagnose(fn.name, case.inputs, case.actual)}:
            verdict.true, verdict.why = False, f"the mistake does not explain fresh example {_sizes(ex)}"
            return verdict
    if localize.has_sides(fn):  # a claim about the code holds on the other side of max_norm too
        mistake = next((m for m in _catalogue(fn.name) if m.key == key), None)
        for k in range(FRESH_FIRST + FRESH, FRESH_FIRST + FRESH + 2):
            ex = localize.independent_example(fn, failing, k, test.kind, test.profile, other_side=True)
            case = localize.case(fn, ex, student, expect, make)
            if mistake is None or case is None or not explain.reproduces(mistake, case):
                verdict.true, verdict.why = False, f"the mistake does not reproduce fresh example {_sizes(ex)} (other side)"
                break
    return verdict


def _catalogue(function_name: str) -> List[Any]:
    """The pack's catalogued mistakes of one function (what ``diagnose`` chooses from)."""
    catalogue = pack.current().mistakes
    return list(catalogue(function_name)) if catalogue is not None else []


def _check_claim(grader: Grader, test_name: str, claim: Mapping[str, Any], results: Mapping[str, Any]) -> Verdict:
    name, kind = str(claim.get("function")), str(claim.get("claim"))
    sentence = {"wrong": f"{name} is wrong", "cache": f"the cache of {name} is wrong",
                "inplace": f"{name} changes its inputs in place"}.get(kind, f"{name}: {kind}")
    verdict = Verdict(test_name, name, f"claim:{kind}", sentence, True)
    kinds = {"wrong": VALUE_KINDS, "cache": ("cache",), "inplace": ("inplace",)}.get(kind, ())
    if _lost_in(results, _with_parts(name), kinds):
        return verdict
    if kind == "wrong" and _wrong_on_fresh(grader, function(name)):
        return verdict
    verdict.true = False
    verdict.why = f"{name} (and the parts it is built from) lose no point in their {'/'.join(kinds)} tests" + (
        ", and it is right on fresh examples" if kind == "wrong" else "")
    return verdict


def _with_parts(name: str) -> List[str]:
    found, todo = [name], list(function(name).parts)
    while todo:
        part = todo.pop(0)
        if part not in found:
            found.append(part)
            todo.extend(function(part).parts)
    return found


def _lost_in(results: Mapping[str, Any], functions: Iterable[str], kinds: Iterable[str]) -> bool:
    functions, kinds = set(functions), set(kinds)
    return any(float(t.get("score", 0)) < float(t.get("max_score", 0))
               and (t.get("extra_data") or {}).get("function") in functions
               and (t.get("extra_data") or {}).get("kind") in kinds for t in results.get("tests", []))


def _wrong_on_fresh(grader: Grader, fn: Function) -> bool:
    """Whether ``fn`` alone (its own scenario on fresh general examples of each cell) is wrong somewhere."""
    student, expect = explain.rerun(fn, grader), explain.reference_expect(fn)
    make = explain.inputs_like(fn, RubricTest(fn.name, "values", "values", 0.0, "general", 0, "hidden"), {})
    templates = {ex.cell: ex for ex in boundary_examples(fn, "general")}
    for template in templates.values():
        for k in range(FRESH_FIRST, FRESH_FIRST + FRESH):
            ex = localize.independent_example(fn, template, k, "values", "general")
            if localize.passes(fn, ex, student, expect, make) is False:
                return True
    return False


def _sizes(ex: Example) -> str:
    return ", ".join(f"{k}={v}" for k, v in ex.dims) + f", cell={ex.cell}"


def summary(verdicts: List[Verdict]) -> Dict[str, Any]:
    """How many sentences were checked, and the false ones."""
    false = [v.as_dict() for v in verdicts if not v.true]
    return {"sentences": len(verdicts), "false": false}


__all__ = ["Verdict", "check", "summary", "FRESH"]
