"""Write the results: Gradescope results.json, and the Markdown feedback (jinja2 template).

The feedback groups the failed tests by function: a table of the function's outputs with ✓/✗ per
failed test, then each test's message, its verified facts and the likely mistake as prose, and the
failing input in a code block once per function (a later test with the same input refers back).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from autograder.feedback import messages

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|!])")  # what Python-Markdown (with tables) lets a backslash escape


def write_results(results: Dict[str, Any], path: Path) -> None:
    """results.json with a stable key order (sorted) and indent 2, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _points(value: float) -> str:
    return f"{value:g}"


def prose(text: str) -> str:
    """Text (a message that may quote student code) escaped for Markdown prose."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def code_block(text: str) -> str:
    """A fenced code block for any text (the fence is longer than any backtick run inside)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _short(test: Dict[str, Any], function: str) -> str:
    name = str(test.get("name", ""))
    return name[len(function) + 2:] if name.startswith(f"{function}: ") else name


def function_sections(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Per function with a failed test: its points, the ✓/✗ table and one entry per failed test."""
    sections: Dict[str, Dict[str, Any]] = {}
    scores = results.get("extra_data", {}).get("functions", {})
    for test in results.get("tests", []):
        if test.get("status") == "passed":
            continue
        extra = test.get("extra_data") or {}
        function = extra.get("function") or str(test.get("name", "")).split(":", 1)[0]
        entry = scores.get(function, {})
        section = sections.setdefault(function, {"name": function, "score": entry.get("score"),
                                                 "max_score": entry.get("max_score"), "tests": [], "columns": [],
                                                 "rows": []})
        section["tests"].append(_test_entry(test, function, section["tests"]))
    for section in sections.values():
        columns = [t for t in section["tests"] if t["outputs"]]
        names: List[str] = []
        for t in columns:
            names.extend(n for n in t["outputs"] if n not in names)
        section["columns"] = [t["short"] for t in columns]
        section["rows"] = [(n, [messages.check_mark(t["outputs"].get(n)) for t in columns]) for n in names]
    return list(sections.values())


def _test_entry(test: Dict[str, Any], function: str, earlier: List[Dict[str, Any]]) -> Dict[str, Any]:
    extra = test.get("extra_data") or {}
    short = _short(test, function)
    entry: Dict[str, Any] = {"short": short, "score": test.get("score", 0), "max_score": test.get("max_score", 0),
                             "outputs": extra.get("outputs") or {}, "lines": [], "block": None, "note": None}
    if "message" not in extra:  # results from elsewhere: the output as it is
        entry["block"] = code_block(str(test.get("output", "")))
        return entry
    message = str(extra["message"])
    given = extra.get("input") or {}
    key = (message, given.get("dump"), given.get("header"))
    same = next((e for e in earlier if e.get("key") == key), None)
    entry["key"] = key
    if same is not None:
        entry["note"] = messages.SAME_FAILURE.format(test=same["short"])
        return entry
    if "\n" in message or len(message) > 400:
        entry["message_block"] = code_block(message)
    else:
        entry["message"] = prose(message)
    entry["lines"] = [f["sentence"] for f in extra.get("facts") or []]
    if extra.get("mistake_sentence"):
        entry["mistake"] = prose(str(extra["mistake_sentence"]))
    if given.get("dump"):
        seen = next((e for e in earlier if e.get("dump") == given["dump"]), None)
        if seen is not None:
            entry["note"] = messages.SAME_INPUT.format(test=seen["short"])
        else:
            entry["header"] = prose(str(given["header"]))
            entry["block"] = code_block(str(given["dump"]))
            entry["dump"] = given["dump"]
    elif given.get("header"):
        entry["header"] = prose(str(given["header"]))
    return entry


def feedback_markdown(results: Dict[str, Any]) -> str:
    """The feedback page: the points per function, then what to fix (per function with a failed test:
    how it was judged, its ✓/✗ table, each failed test); at the end, how the functions with full marks
    were judged where something they depend on is wrong, and how the submission ran (the sandbox,
    problems with its files, what it printed)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined  # here: a grading without feedback never needs it

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["points"] = _points
    functions = results.get("extra_data", {}).get("functions", {})
    failed = [t for t in results["tests"] if t["status"] != "passed"]
    total = sum(t["max_score"] for t in results["tests"])
    sections = function_sections(results)
    notes = dependency_notes(results)
    for section in sections:
        section["notes"] = [messages.dependency_note(note, tests) for note, tests in notes.pop(section["name"], [])]
    full_marks = [{"name": name, "entry": functions.get(name, {}),
                   "notes": [messages.dependency_line(note, tests) for note, tests in found]}
                  for name, found in notes.items()]  # the functions left have no failed test
    lead, run, printed_line, printed = output_parts(results)
    return env.get_template("feedback.md.j2").render(results=results, functions=functions, failed=failed,
                                                     total=total, sections=sections, likely=messages.LIKELY,
                                                     formative_range=formative_range(results),
                                                     full_marks=full_marks, lead=lead, run=run,
                                                     printed_line=printed_line, printed=printed)


def formative_range(results: Dict[str, Any]) -> str:
    """"88" or "88–94" for a formative run (the student CI: judged points up to judged plus not-judged
    points); "" for a grade."""
    extra = results.get("extra_data") or {}
    if not extra.get("formative"):
        return ""
    low, high = extra.get("formative_range") or (results["score"], results["score"])
    return _points(low) if high == low else f"{_points(low)}–{_points(high)}"


def dependency_notes(results: Dict[str, Any]) -> Dict[str, List[Tuple[str, Optional[List[str]]]]]:
    """function -> how it was judged because a function it depends on is wrong: each different note
    its tests carry (a test's note is in its output too, for Gradescope), with the tests it is about
    when they carry several (None: one note for all), Markdown escaped."""
    found: Dict[str, Dict[str, List[str]]] = {}
    for test in results.get("tests", []):
        extra = test.get("extra_data") or {}
        note, function = extra.get("note"), extra.get("function")
        if note and function:
            found.setdefault(function, {}).setdefault(str(note), []).append(_short(test, function))
    return {function: [(prose(" ".join(note.removeprefix(messages.NOTE_PREFIX).split())),  # one paragraph
                        [prose(t) for t in tests] if len(groups) > 1 else None) for note, tests in groups.items()]
            for function, groups in found.items()}


def output_parts(results: Dict[str, Any]) -> Tuple[str, List[str], str, str]:
    """The results' top-level output as parts of the page: (what stays at the top: a formative run's
    notice, its first line; the paragraphs for the end: the sandbox and problems with the files; the
    line that introduces the student's prints; the prints, a code block), Markdown escaped."""
    before, printed_line, printed = messages.split_printed(str(results.get("output") or ""))
    lines = [line for line in before.split("\n") if line.strip()]
    lead = prose(lines.pop(0)) if lines and (results.get("extra_data") or {}).get("formative") else ""
    return (lead, [prose(line) for line in lines], prose(printed_line) if printed_line else "",
            code_block(printed) if printed_line else "")
