"""Every claim of the lecture notebook is checked by a code cell after it.

The convention (the notebook's introduction states it to students):

- A markdown sentence that states a number or a comparison ends with a claim tag, an HTML comment
  that Jupyter does not render: ``The RNN's factor is below 0.9. <!-- claim: rnn-scale-1-decays -->``.
  The tag belongs to the sentence just before it.
- A later code cell asserts it: an ``assert`` statement whose message starts with the id in
  brackets, ``assert factor < 0.9, "[rnn-scale-1-decays] ..."`` (an f-string message works too).
- A sentence that only restates earlier results (the conclusions, a model answer) points to their
  claims instead, ``<!-- see claim: far-lstm, far-matched -->``: each must be tagged in an earlier
  sentence (and so asserted), so no second assert repeats a check that cannot fail once the first passed.

What counts as a sentence that states a number or a comparison (:func:`claim_reasons`), outside
code spans (settings such as ```T = 40``` are written as code) and display math (formulas):

- a digit in the prose, except a section or question number, a year in parentheses (a citation) and
  the number of a numbered list item;
- inline math that states a value: ``\\approx``, or a decimal number, e.g. ``$0.73^{36} \\approx 10^{-5}$``;
- a word of comparison: ``than``, ``more``, ``less``, ``larger``, ``faster``, ``most``, ``grows``,
  ``vanishes``, ``twice``, ``half`` ... (:data:`COMPARISON_WORDS`).

Every markdown cell of the source notebook is read, solution cells included (the model answers are
shown to TAs), so the student release, whose markdown is a subset, is covered too. Whether each
assert holds is decided by executing the notebook (tests/test_notebook.py); this file checks that
each claim has one, statically, in seconds.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import nbformat
import pytest

from autograder.packs.rnn_lstm import ASSIGNMENT, SOURCE_DIR

SOURCE_NB = SOURCE_DIR / f"{ASSIGNMENT}.ipynb"

TAG = re.compile(r"<!--\s*claim:\s*([A-Za-z0-9_-]+)\s*-->")
SEE = re.compile(r"<!--\s*see claims?:\s*([A-Za-z0-9_-]+(?:\s*,\s*[A-Za-z0-9_-]+)*)\s*-->")
SENTINEL = re.compile(r"\u27e6(=?[A-Za-z0-9_-]+)\u27e7")      # "=id": a reference to an earlier claim
COMPARISON_WORDS = (
    "than", "more", "less", "fewer", "larger", "largest", "smaller", "smallest", "higher", "highest",
    "lower", "lowest", "faster", "fastest", "slower", "slowest", "better", "best", "worse", "worst",
    "greater", "bigger", "longer", "shorter", "most", "least", "twice", "half", "double", "outperforms?",
    "beats?", "grows?", "shrinks?", "decays?", "vanish(?:es)?", "explodes?", "increases?", "decreases?",
    "dominates?",
)
# Set phrases that contain a comparison word but compare nothing.
NOT_COMPARISONS = re.compile(r"\bleast[- ]squares\b|\bno longer\b", re.IGNORECASE)
COMPARISON = re.compile(r"\b(?:" + "|".join(COMPARISON_WORDS) + r")\b", re.IGNORECASE)
# Digits that are references, not values: section and question numbers, years of citations.
REFERENCES = re.compile(r"\b(?:sections?|questions?)\s+\d+(?:\.\d+)?|\((?:19|20)\d\d\)", re.IGNORECASE)


@dataclass(frozen=True)
class Sentence:
    cell: int
    text: str          # as written, tags removed
    claims: Tuple[str, ...]     # "=id" for a reference to an earlier claim (``see claim``)


def _visible_text(markdown: str) -> str:
    """The prose of a markdown cell: headings dropped, tags turned into sentinels."""
    lines = [line for line in markdown.split("\n") if not line.lstrip().startswith("#")]
    text = "\n".join(lines)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)                  # display math: formulas
    text = re.sub(r"^\s*(?:[-*]|\d+\.)\s+", "\n\n", text, flags=re.M)   # list items start a paragraph
    text = SEE.sub(lambda m: " ".join(f" \u27e6={ref.strip()}\u27e7 " for ref in m.group(1).split(",")), text)
    return TAG.sub(lambda m: f" \u27e6{m.group(1)}\u27e7 ", text)


def sentences(markdown: str, cell: int = 0) -> List[Sentence]:
    """The sentences of a markdown cell, each with the claim tags that follow it."""
    found: List[Sentence] = []
    for paragraph in re.split(r"\n\s*\n", _visible_text(markdown)):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        # A sentence ends at . ! ? followed by a space and a capital, a math or markup opener, or a tag.
        parts = re.split(r"(?<=[.!?:;)])\s+(?=[A-Z(*$`\u27e6])", paragraph)
        pieces: List[List[str]] = []
        for part in parts:
            leading = re.match(r"^((?:\u27e6=?[A-Za-z0-9_-]+\u27e7\s*)+)(.*)$", part)
            if leading and pieces:          # tags right after a sentence belong to it
                pieces[-1].append(leading.group(1))
                part = leading.group(2)
            if part.strip():
                pieces.append([part])
        for piece in pieces:
            joined = " ".join(piece)
            claims = tuple(SENTINEL.findall(joined))
            found.append(Sentence(cell, " ".join(SENTINEL.sub(" ", joined).split()), claims))
    return found


def _math_states_a_value(math: str) -> bool:
    return "\\approx" in math or re.search(r"\d\.\d", math) is not None


def claim_reasons(sentence: str) -> List[str]:
    """Why a sentence states a number or a comparison (empty: it does not)."""
    reasons = []
    math_values = [m for m in re.findall(r"\$([^$]+)\$", sentence) if _math_states_a_value(m)]
    if math_values:
        reasons.append(f"a value in math: ${math_values[0]}$")
    prose = re.sub(r"`[^`]*`", " ", sentence)
    prose = re.sub(r"\$[^$]*\$", " ", prose)
    prose = REFERENCES.sub(" ", prose)
    digit = re.search(r"\d+(?:[.,]\d+)*%?", prose)
    if digit:
        reasons.append(f"the number {digit.group(0)!r}")
    word = COMPARISON.search(NOT_COMPARISONS.sub(" ", prose))
    if word:
        reasons.append(f"the comparison {word.group(0)!r}")
    return reasons


def asserted_claims(code: str) -> Dict[str, int]:
    """{claim id: number of asserts} of a code cell: asserts whose message starts with "[id]"."""
    try:
        tree = ast.parse(code)
    except SyntaxError:      # a cell with IPython magics: drop them and try again
        tree = ast.parse("\n".join(line for line in code.split("\n") if not line.lstrip().startswith(("%", "!"))))
    ids: Dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is not None:
            first: Optional[ast.AST] = node.msg
            if isinstance(first, ast.JoinedStr) and first.values:
                first = first.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                match = re.match(r"\[([A-Za-z0-9_-]+)\]", first.value)
                if match:
                    ids[match.group(1)] = ids.get(match.group(1), 0) + 1
    return ids


def problems(nb) -> List[str]:
    """Every untagged claim, every claim without a later asserting cell, every duplicate tag."""
    found, seen = [], {}
    asserted_after: List[Dict[str, int]] = [{} for _ in nb.cells]   # asserts in cells after index i
    running: Dict[str, int] = {}
    for index in range(len(nb.cells) - 1, -1, -1):
        asserted_after[index] = dict(running)
        cell = nb.cells[index]
        if cell.cell_type == "code":
            for claim, count in asserted_claims(cell.source).items():
                running[claim] = running.get(claim, 0) + count
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for sentence in sentences(cell.source, index):
            reasons = claim_reasons(sentence.text)
            if reasons and not sentence.claims:
                found.append(f"cell {index}: states {', '.join(reasons)} but has no claim tag: {sentence.text!r}")
            for claim in sentence.claims:
                if claim.startswith("="):
                    if claim[1:] not in seen:
                        found.append(f"cell {index}: refers to claim {claim[1:]!r}, which no earlier sentence states: {sentence.text!r}")
                    continue
                if claim in seen:
                    found.append(f"cell {index}: claim {claim!r} is tagged twice (first in cell {seen[claim]})")
                seen[claim] = index
                if claim not in asserted_after[index]:
                    found.append(f"cell {index}: claim {claim!r} has no assert '[{claim}] ...' in a later code cell: {sentence.text!r}")
    return found


# --------------------------------------------------------------------------------------------
# The notebook
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(str(SOURCE_NB), as_version=4)


def test_every_claim_of_the_notebook_has_a_tag_and_a_later_assert(source_nb):
    assert problems(source_nb) == []


def test_the_notebook_states_claims_and_checks_them(source_nb):
    tagged = [s for i, c in enumerate(source_nb.cells) if c.cell_type == "markdown" for s in sentences(c.source, i) if s.claims]
    # The listing: every claim with the reason it counts, as a reviewer would read it.
    listed = [(s.claims, claim_reasons(s.text)) for s in tagged]
    assert len(listed) >= 40, len(listed)
    assert sum(1 for _, reasons in listed if reasons) >= 35
    asserted = set()
    for cell in source_nb.cells:
        if cell.cell_type == "code":
            asserted |= set(asserted_claims(cell.source))
    tags = {claim for s in tagged for claim in s.claims if not claim.startswith("=")}
    # Every bracketed assert answers a tag (no stale checks left behind when a sentence goes).
    assert asserted == tags, (sorted(asserted - tags), sorted(tags - asserted))


# --------------------------------------------------------------------------------------------
# The detector on small cases
# --------------------------------------------------------------------------------------------


def _nb(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbformat.v4.new_code_cell(c) for c in cells]
    return nb


@pytest.mark.parametrize("text, kind", [
    ("The RNN reaches an accuracy of 0.9.", "number"),
    ("The LSTM learns faster than the RNN.", "comparison"),
    ("Its gradient vanishes.", "comparison"),
    ("Along the cell path $0.73^{36} \\approx 10^{-5}$ is left.", "math"),
    ("It is right half the time.", "comparison"),
])
def test_a_claim_without_a_tag_is_reported(text, kind):
    assert claim_reasons(text), text
    found = problems(_nb(f"md:{text}", "x = 1"))
    assert len(found) == 1 and "has no claim tag" in found[0] and repr(text) in found[0]


@pytest.mark.parametrize("text", [
    "Section 3 shows how, and Question 2 asks why.",
    "This is the carousel of Hochreiter and Schmidhuber (1997).",
    "We train for `T = 40` steps with $W_h$ scaled by $s$ and $h_{t-1}$ as input.",
    "1. Sequential data",
    "The layer reads its input and the previous state.",
])
def test_settings_formulas_and_references_are_not_claims(text):
    assert claim_reasons(sentences(text)[0].text) == [], text


def test_a_tagged_claim_needs_an_assert_in_a_later_cell_naming_it():
    claim = "md:The RNN reaches 0.9. <!-- claim: rnn-acc --> It is slow."
    assert problems(_nb("assert True, '[rnn-acc] before the claim'", claim, "acc = 0.95"))[0].endswith("'The RNN reaches 0.9.'")
    assert problems(_nb(claim, "assert acc > 0.9, '[other] not this claim'")) != []
    assert problems(_nb(claim, "assert acc > 0.9  # [rnn-acc] a comment is not a message")) != []
    assert problems(_nb(claim, "y = 2", "assert acc > 0.9, f'[rnn-acc] {acc}'")) == []
    assert problems(_nb(claim, "%matplotlib inline\nassert acc > 0.9, '[rnn-acc]'")) == []


def test_a_tag_belongs_to_the_sentence_before_it():
    (first, second) = sentences("It grows by 1.2 per step. <!-- claim: a --> Then it shrinks by 0.5.")
    assert first.claims == ("a",) and second.claims == ()
    assert problems(_nb("md:It grows by 1.2 per step. <!-- claim: a --> Then it shrinks by 0.5.", "assert g, '[a]'"))[0].startswith(
        "cell 0: states the number '0.5'")
    # Inside a sentence, a tag closes a clause: the text after it needs a tag of its own.
    clauses = sentences("Freezing i costs 0.2; <!-- claim: b --> freezing f costs 0.1. <!-- claim: c -->")
    assert [(c.text, c.claims) for c in clauses] == [("Freezing i costs 0.2;", ("b",)), ("freezing f costs 0.1.", ("c",))]


def test_a_claim_tagged_twice_is_reported():
    found = problems(_nb("md:It is 1. <!-- claim: a -->", "md:It is 2. <!-- claim: a -->", "assert x, '[a]'"))
    assert any("tagged twice" in p for p in found)


def test_removing_a_tag_from_the_notebook_is_caught(source_nb):
    broken = nbformat.from_dict(source_nb)
    cell = next(c for c in broken.cells if c.cell_type == "markdown" and "claim: rnn-scale-1-decays" in c.source)
    cell.source = cell.source.replace("<!-- claim: rnn-scale-1-decays -->", "")
    found = problems(broken)
    assert len(found) == 1 and "below 0.9" in found[0] and "has no claim tag" in found[0]


def test_a_sentence_can_point_to_an_earlier_claim_instead_of_asserting_again():
    earlier = "md:The RNN reaches 0.9. <!-- claim: rnn-acc -->"
    restated = "md:In short, the RNN reached 0.9. <!-- see claim: rnn-acc, other -->"
    found = problems(_nb(earlier, "assert acc > 0.9, '[rnn-acc]'", "md:Another is 2. <!-- claim: other -->",
                         "assert b, '[other]'", restated))
    assert found == []
    # A reference to a claim that no earlier sentence states (or a later one only) is reported.
    found = problems(_nb(restated, earlier, "assert acc > 0.9, '[rnn-acc]'"))
    assert any("refers to claim 'rnn-acc'" in p for p in found) and any("refers to claim 'other'" in p for p in found)
