"""The layout and wording of the feedback page, on the example class's kept results (tests/golden/).

"What to fix" comes right after the table of points; a note on how a function was judged (where
something it depends on is wrong) is under that function's heading, or, for a function with full
marks, in a compact list after the last function; the sandbox paragraph and the student's prints
come last. The page of each example student is checked in a browser by test_feedback_browser.py.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

from autograder.feedback import messages
from autograder.feedback.report import feedback_markdown, prose

GOLDEN = Path(__file__).resolve().parent / "golden"
STUDENTS = sorted(p.stem for p in GOLDEN.glob("*.json"))


def kept(student: str) -> Dict[str, Any]:
    return json.loads((GOLDEN / f"{student}.json").read_text(encoding="utf-8"))


def headings(page: str) -> List[str]:
    """The page's lines that are headings (outside code blocks)."""
    found, fence = [], None
    for line in page.split("\n"):
        run = re.match(r"^(`{3,})", line)
        if run and (fence is None or run.group(1).startswith(fence)):
            fence = None if fence else run.group(1)
        elif fence is None and line.startswith("#"):
            found.append(line)
    return found


@pytest.mark.parametrize("student", STUDENTS)
def test_what_to_fix_follows_the_table_of_points(student: str) -> None:
    results = kept(student)
    page = feedback_markdown(results)
    blocks = page.split("\n\n")
    table = next(i for i, b in enumerate(blocks) if b.startswith("| function | points |"))
    after = blocks[table + 1]
    if any(t["status"] != "passed" for t in results["tests"]):
        assert after == "## What to fix" and headings(page)[1] == after, (after, headings(page))
    else:
        assert after == "Every test passed." and "## What to fix" not in headings(page), (after, headings(page))


@pytest.mark.parametrize("student", STUDENTS)
def test_each_note_is_in_its_functions_section_or_in_the_list_at_the_end(student: str) -> None:
    results = kept(student)
    page = feedback_markdown(results)
    fix = page.find("## What to fix")
    full = page.find("## Full marks, judged where what they depend on is right")
    sections = {m.group(1): m.start() for m in re.finditer(r"^### `(\w+)`", page, re.M)}
    starts = sorted(sections.values()) + [full if full >= 0 else len(page)]
    noted = {t["extra_data"]["function"] for t in results["tests"] if (t.get("extra_data") or {}).get("note")}
    for test in results["tests"]:
        note = (test.get("extra_data") or {}).get("note")
        if not note:
            continue
        assert note in test["output"]  # Gradescope shows each test's output, with its note
        function = test["extra_data"]["function"]
        text = prose(" ".join(note.removeprefix(messages.NOTE_PREFIX).split()))
        where = [m.start() for m in re.finditer(re.escape(text), page)]
        assert where, (function, text)
        if function in sections:  # under its heading, before its table and tests
            begin = sections[function]
            end = min(s for s in starts if s > begin)
            assert all(begin < w < end for w in where), (function, text)
            own = page[begin:end]
            assert re.search(r"^> \*\*Note[:*]", own, re.M), own[:500]
            assert own.find("> **Note") < own.find("####"), own[:500]
        else:  # full marks: in the list after the last section
            assert all(w > full > fix for w in where), (function, text)
            assert f"- `{function}` (" in page[full:]
    if full >= 0:
        assert noted - set(sections), "a list of full-mark notes without a function of full marks"


@pytest.mark.parametrize("student", STUDENTS)
def test_the_sandbox_paragraph_and_the_prints_come_last(student: str) -> None:
    results = kept(student)
    page = feedback_markdown(results)
    last = headings(page)[-1]
    assert last == "## How your code ran", headings(page)
    run = page[page.index(last):]
    before, printed_line, printed = messages.split_printed(results["output"])
    for line in before.split("\n"):  # the sandbox's description, problems with the files
        assert prose(line) in run
    assert page.index(prose(before.split("\n")[0])) > page.rfind("### ")
    if printed_line:  # the student's prints, as a code block: nothing in them is Markdown
        assert f"{printed_line}\n\n```\n{printed}\n```" in run


def test_prints_cannot_make_headings_and_a_formative_notice_stays_on_top() -> None:
    results = kept("rnn_forward_ignores_h0")
    results["output"] = ("FORMATIVE FEEDBACK, not your grade: 4 fixed examples.\nSandbox: process.\n"
                         + messages.printed_output(30, "## What to fix\n<b>x</b>"))
    results["extra_data"]["formative"] = True
    page = feedback_markdown(results)
    assert page.index("FORMATIVE FEEDBACK, not your grade") < page.index("| function | points |")
    assert headings(page).count("## What to fix") == 1 and page.index("## What to fix") < page.index("Sandbox: process.")
    assert "```\n## What to fix\n<b>x</b>\n```" in page


def _with_notes(results: Dict[str, Any], function: str, notes: Dict[str, str]) -> Dict[str, Any]:
    """``results`` with the note of each test of ``function`` set (short test name -> note)."""
    for test in results["tests"]:
        short = test["name"].removeprefix(f"{function}: ")
        if test["extra_data"]["function"] == function:
            test["extra_data"].pop("note", None)
            if short in notes:
                test["extra_data"]["note"] = notes[short]
    return results


def test_one_note_for_several_tests_and_several_notes_named_by_their_tests() -> None:
    results = kept("lstm_gate_order_ifog")  # lstm_step_backward fails; stacked_forward has full marks
    names = {t["name"].split(": ", 1)[1] for t in results["tests"] if t["name"].startswith("lstm_step_backward: ")}
    _with_notes(results, "lstm_step_backward", {n: "Note: judged on inputs_A." for n in names})
    _with_notes(results, "stacked_forward", {"forward values (both cells)": "Note: one.",
                                             "realistic sizes": "Note: two.", "no in-place modification": "Note: one."})
    page = feedback_markdown(results)
    section = page[page.index("### `lstm_step_backward`"):]
    assert section.split("\n\n")[1] == "> **Note:** judged on inputs\\_A."
    end = page[page.index("## Full marks"):]
    assert ("- `stacked_forward` (7 / 7):\n    - on *forward values (both cells)*, *no in-place modification*: one.\n"
            "    - on *realistic sizes*: two.\n") in end


def test_a_note_of_several_lines_stays_one_paragraph_of_its_note() -> None:
    results = _with_notes(kept("lstm_gate_order_ifog"), "lstm_forward",
                          {"forward values": "Note: first line.\nNot judged, and not charged: a second line."})
    page = feedback_markdown(results)
    assert "- `lstm_forward` (7 / 7): first line. Not judged, and not charged: a second line.\n" in page
