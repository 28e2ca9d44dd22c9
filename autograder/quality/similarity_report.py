"""Write a :class:`~autograder.quality.similarity.SimilarityReport`: similarity.csv, similarity.html, a summary.md section.

Every output says at the top that it is no verdict: a high similarity is where to look, and the
TA judges from the highlighted code (a shared textbook formula, an idea discussed together and a
copy can all look alike).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import List, Optional

import numpy as np
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from autograder.classroom.summary import plural
from autograder.quality.similarity import SimilarityReport

CSV_FILE = "similarity.csv"
HTML_FILE = "similarity.html"
CSV_COLUMNS = ("rank", "id_a", "id_b", "similarity_a", "similarity_b", "overlapping_tokens", "b_is_known_solution")
SUMMARY_PAIRS = 5
NOT_A_VERDICT = ("This report shows similarity, never a verdict: similar code is not proof of copying. "
                 "Look at the highlighted regions and judge each pair yourself.")
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def csv_text(report: SimilarityReport) -> str:
    """One row per pair above the floor, ranked; similarities are shares in [0, 1]."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rank, pair in enumerate(report.pairs, start=1):
        writer.writerow([rank, pair.a, pair.b, f"{pair.similarity_a:.3f}", f"{pair.similarity_b:.3f}", pair.tokens,
                         "yes" if pair.b_known else "no"])
    return buffer.getvalue()


def _highlighted(text: str, marked: np.ndarray, given: Optional[np.ndarray] = None) -> Markup:
    """``text`` HTML-escaped, the ``marked`` slices in ``<mark>`` and the ``given`` ones (the released
    skeleton's text) in ``<span class="given">``; marked wins where both are."""
    state = np.zeros(len(text), dtype=np.int8)
    for slices, value in ((given, 1), (marked, 2)):
        if slices is not None:
            for start, end in np.asarray(slices, dtype=int).T:
                state[max(0, start):max(0, end)] = value
    parts = []
    edges = np.flatnonzero(np.diff(state)) + 1
    for start, end in zip(np.concatenate([[0], edges]), np.concatenate([edges, [len(text)]])):
        chunk = escape(text[start:end])
        kind = state[start] if end > start else 0
        parts.append(f"<mark>{chunk}</mark>" if kind == 2 else f'<span class="given">{chunk}</span>' if kind == 1 else str(chunk))
    return Markup("".join(parts))


def html_text(report: SimilarityReport) -> str:
    """The ranked pairs and, for the first ``report.views`` of them, a side-by-side view (one page, no scripts)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    views = []
    for rank, pair in enumerate(report.pairs[:report.views], start=1):
        views.append({"rank": rank, "pair": pair,
                      "left": _highlighted(report.documents[pair.a].text, pair.slices_a, report.given.get(pair.a)),
                      "right": _highlighted(report.documents[pair.b].text, pair.slices_b, report.given.get(pair.b))})
    students = sum(1 for d in report.documents.values() if not d.known)
    return env.get_template("similarity.html.j2").render(
        plural=plural, report=report, views=views, max_views=report.views, not_a_verdict=NOT_A_VERDICT,
        students=students, known=len(report.documents) - students)


def write_report(report: SimilarityReport, out: Path) -> List[Path]:
    """Write OUT/similarity.csv and OUT/similarity.html (creating OUT); returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / CSV_FILE, csv_text(report))
    _write_atomic(out / HTML_FILE, html_text(report))
    return [out / CSV_FILE, out / HTML_FILE]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def summary_section(report: SimilarityReport, link: str = HTML_FILE) -> str:
    """A short Markdown section for summary.md: counts, the top pairs, where the evidence is."""
    lines = ["## Similarity", "", NOT_A_VERDICT, ""]
    students = sum(1 for d in report.documents.values() if not d.known)
    known = len(report.documents) - students
    lines.append(f"{plural(students, 'submission')} compared with each other" + (f" and with {plural(known, 'known solution')}" if known else "")
                 + f": {plural(len(report.pairs), 'pair')} at or above {report.floor:.0%} similarity "
                 f"(full list: [{link}]({link}), {CSV_FILE}).")
    if report.pairs:
        lines += ["", "| pair | similarity | shared tokens |", "|---|---:|---:|"]
        for pair in report.pairs[:SUMMARY_PAIRS]:
            other = f"{pair.b} (known solution)" if pair.b_known else pair.b
            lines.append(f"| {_cell(pair.a)} / {_cell(other)} | {pair.similarity_a:.0%} / {pair.similarity_b:.0%} | {pair.tokens} |")
    if report.problems:
        lines += ["", f"Not compared, in whole or part ({len(report.problems)}):", ""]
        lines += [f"- **{_cell(p.id)}**: {_cell(p.reason)}" for p in report.problems]
    return "\n".join(lines) + "\n"


def append_to_summary(summary: Path, section: str) -> None:
    """Add ``section`` at the end of an existing summary.md (grade-all writes it first)."""
    text = summary.read_text(encoding="utf-8") if summary.is_file() else ""
    _write_atomic(summary, text.rstrip("\n") + "\n\n" + section if text else section)
