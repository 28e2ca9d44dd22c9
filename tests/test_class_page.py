"""The class page OUT/index.html: every student, their points, flags and a working link to their feedback.

The stand-in grader (test_batch_standin.py) checks what goes on the page and when; the example
class, graded for real, is rendered in headless Chromium (test_feedback_browser.py's helpers): every
student is on it, each feedback link opens that student's feedback, the table sorts, and it fits
1280 px. Skips, saying why, only where no Chromium is installed.
"""
from __future__ import annotations

import argparse
import subprocess
import xml.etree.ElementTree as etree
from pathlib import Path
from typing import Dict, List
from urllib.parse import unquote, urljoin, urlparse

import pytest
from test_batch import SOLUTIONS, SPEC, _class, _copy, _rows
from test_feedback_browser import BROWSERS, _dom, _text, browser, headless

from autograder.classroom import class_page
from autograder.classroom.batch import discover, grade_all
from autograder.classroom.jobs import JobResult
from autograder.classroom.summary import flags

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "submissions"
EXAMPLE_STUDENTS = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


def _page(out: Path) -> str:
    return (out / "index.html").read_text(encoding="utf-8")


def _links(html: str) -> Dict[str, str]:
    """student -> the href of their feedback link in the students' table (parsed from our own HTML)."""
    table = html.split('<table id="class"', 1)[1].split("</table>", 1)[0]
    body = etree.fromstring("<tbody>" + table.split("<tbody>", 1)[1].split("</tbody>", 1)[0] + "</tbody>")
    found = {}
    for row in body.iter("tr"):
        anchor = next(iter(row[0].iter("a")), None)
        found[row.get("data-student")] = anchor.get("href") if anchor is not None else None
    return found


# --------------------------------------------------------------------------- with the stand-in grader


def test_grade_all_writes_a_page_with_every_student_and_their_feedback(tmp_path):
    subs = _class(tmp_path)  # alice, bob (skeleton: 0), carol (nbgrader layout), dave (misnamed)
    out = tmp_path / "out"
    grade_all(subs, out, jobs=2, spec=SPEC, progress=False)
    html = _page(out)
    links = _links(html)
    assert sorted(links) == ["alice", "bob", "carol", "dave"]
    for student, href in links.items():
        target = out / unquote(href)
        assert target.is_file() and target == out / student / "feedback.html", student
    rows = _rows(out)
    assert {s: r["feedback"] for s, r in rows.items()} == {s: f"{s}/feedback.html" for s in links}
    # dave's files are misnamed: he is told why in a feedback file, and flagged for the TA
    told = (out / "dave" / "feedback.md").read_text(encoding="utf-8")
    assert "could not be graded" in told and "no graded module found" in told and "rnn.py" in told
    attention = html.split('id="attention"', 1)[1].split("<h2", 1)[0]
    assert "dave" in attention and "not graded" in attention and "bob" in attention and "0 points" in attention
    assert "alice" not in attention and "carol" not in attention
    assert 'id="interrupted"' not in html and "similarity-link" not in html


def test_the_page_and_the_gradebook_are_the_same_bytes_on_a_rerun(tmp_path):
    subs = _class(tmp_path)
    out = tmp_path / "out"
    grade_all(subs, out, jobs=2, spec=SPEC, progress=False)
    first = {name: (out / name).read_bytes() for name in ("index.html", "gradebook.csv", "summary.md")}
    again = grade_all(subs, out, jobs=2, spec=SPEC, progress=False)
    assert again.cached == 3 and again.graded == 0
    assert {name: (out / name).read_bytes() for name in first} == first
    forced = grade_all(subs, out, jobs=2, spec=SPEC, progress=False, force=True)
    assert forced.graded == 3
    assert {name: (out / name).read_bytes() for name in first} == first


def test_a_misnamed_submission_in_nbgrader_layout_names_the_files_inside(tmp_path):
    subs = tmp_path / "submitted"
    inner = subs / "erin" / "rnn_lstm"
    inner.mkdir(parents=True)
    (inner / "rnn.py").write_text("x = 1\n")
    (inner / "lstm.py").write_text("y = 2\n")
    _copy(SOLUTIONS, subs / "alice" / "rnn_lstm")
    erin = discover(subs)[0][1]
    assert erin.id == "erin" and erin.module_dir is None
    assert "found: rnn_lstm/lstm.py, rnn_lstm/rnn.py" in erin.problem, erin.problem
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False)
    assert "rnn_lstm/rnn.py" in (out / "erin" / "feedback.md").read_text(encoding="utf-8")
    assert "Feedback for erin" in (out / "erin" / "feedback.html").read_text(encoding="utf-8")
    assert _rows(out)["erin"]["feedback"] == "erin/feedback.html"


def test_a_reserved_folder_name_is_not_handed_back_over_the_class_files(tmp_path):
    subs = _class(tmp_path)
    _copy(SOLUTIONS, subs / "index.html")
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False)
    assert _rows(out)["index.html"]["status"] == "error" and _rows(out)["index.html"]["feedback"] == ""
    assert (out / "index.html").is_file() and "The class at a glance" in _page(out)


def test_student_ids_are_quoted_in_links(tmp_path):
    subs = tmp_path / "subs"
    _copy(SOLUTIONS, subs / "ann #1 50%")
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False)
    href = _links(_page(out))["ann #1 50%"]
    assert href == "ann%20%231%2050%25/feedback.html" and (out / unquote(href)).is_file()


def _results(score: float, outputs: List[str]) -> dict:
    return {"score": score, "tests": [{"name": f"rnn_forward: t{i}", "score": 0.0, "max_score": 1.0, "output": text,
                                       "extra_data": {"function": "rnn_forward"}} for i, text in enumerate(outputs)]}


def test_flags_name_what_a_ta_should_look_at():
    def labels(outcome: JobResult) -> List[str]:
        return [f.label for f in flags(outcome)]

    assert labels(JobResult("a", "k", results=_results(3.0, ["h is wrong: max abs error 0.3"]))) == []
    assert labels(JobResult("b", "k", results=_results(0.0, ["rnn_forward raised NotImplementedError"]))) == ["0 points"]
    loops = _results(2.0, ["rnn_forward did not return within 10 s (an infinite loop?)", "x",
                           "importing rnn_layers.py did not finish within 20 s"])
    assert labels(JobResult("c", "k", results=loops)) == ["timeout"]
    assert "2 tests ran out of time" in str(flags(JobResult("c", "k", results=loops))[0])
    ended = _results(0.0, ["lstm_forward ended the worker process (exit status 0; sys.exit/os._exit, a crash, or too much memory?)"])
    assert labels(JobResult("d", "k", results=ended)) == ["0 points", "ended the worker"]
    assert labels(JobResult("e", "k", error="grading took longer than 900 s and was stopped")) == ["not graded", "timeout"]
    assert labels(JobResult("f", "", error="no graded module found")) == ["not graded"]


def test_the_page_lists_mistakes_with_their_sentence_and_students():
    def with_mistake(key: str, sentence: str) -> dict:
        results = _results(3.0, ["wrong"])
        results["tests"][0]["extra_data"].update(mistake=key, mistake_sentence=sentence)
        return results

    outcomes = [JobResult("zoe", "k", results=with_mistake("rnn.no_tanh", "The tanh is missing.")),
                JobResult("amy", "k", results=with_mistake("rnn.no_tanh", "The tanh is missing.")),
                JobResult("bo", "k", results=with_mistake("rnn.h0_ignored", "h0 is ignored.")),
                JobResult("cy", "", error="no graded module found")]
    html = class_page.page_html(outcomes, handed_back=["cy"])
    table = html.split('id="mistake-table"', 1)[1].split("</table>", 1)[0]
    first, second = table.split('<tr class="mistake"')[1:]
    assert "The tanh is missing." in first and "rnn.no_tanh" in first and first.index("zoe") < first.index("amy")
    assert '<a href="zoe/feedback.html">zoe</a>' in first and "h0 is ignored." in second
    assert '<a href="cy/feedback.html">the feedback that says so</a>' in html


def test_similarity_links_the_report_from_the_page(tmp_path):
    from autograder.cli.grade_all import add_similarity

    subs = _class(tmp_path)
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False)
    before = _page(out)
    add_similarity(argparse.Namespace(submissions=subs, out=out, jobs=1, against=[]))
    after = _page(out)
    assert "similarity-link" not in before and 'href="similarity.html"' in after and (out / "similarity.html").is_file()
    assert _links(after) == _links(before)


def test_the_similarity_command_into_a_graded_folder_links_its_report(tmp_path):
    from test_similarity import main

    subs = _class(tmp_path)
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False)
    assert main(["similarity", str(subs), "--out", str(out), "--jobs", "1"]) == 0
    assert 'href="similarity.html"' in _page(out)
    assert main(["similarity", str(subs), "--out", str(tmp_path / "alone"), "--jobs", "1"]) == 0
    assert not (tmp_path / "alone" / "index.html").exists()  # no class there: no page


# --------------------------------------------------------------------------- the example class, in Chromium


@pytest.fixture(scope="module")
def example_class(tmp_path_factory) -> Path:
    if browser() is None:
        pytest.skip(f"no Chromium installed (looked for {', '.join(BROWSERS)}): "
                    "`apt-get install chromium` (Debian) to render the class page in a browser")
    from autograder.cli.grade_all import add_similarity

    out = tmp_path_factory.mktemp("class") / "out"
    report = grade_all(EXAMPLES, out, jobs=2, progress=False)
    assert [o.student for o in report.outcomes] == EXAMPLE_STUDENTS
    add_similarity(argparse.Namespace(submissions=EXAMPLES, out=out, jobs=2, against=[]))
    return out


def _probe(page: Path, script: str, width: int = 1280) -> etree.Element:
    """The DOM of ``page`` after ``script`` ran in it (a copy beside it, so relative links still resolve)."""
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", f"<script>{script}</script></body>"), encoding="utf-8")
    done = subprocess.run(headless(f"--window-size={width},1000", "--dump-dom", probe.as_uri()), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "<body" in done.stdout, done.stderr[-2000:]
    body = done.stdout[done.stdout.index("<body"):done.stdout.index("</body>") + len("</body>")]
    return etree.fromstring(body.replace("&nbsp;", " "))


@pytest.mark.slow
def test_every_student_of_the_example_class_is_on_the_page_with_a_working_feedback_link(example_class):
    page = example_class / "index.html"
    dom = _dom(page)
    rows = [tr for tr in dom.iter("tr") if tr.get("class", "").startswith("student")]
    assert sorted(tr.get("data-student") for tr in rows) == EXAMPLE_STUDENTS
    for tr in rows:
        student = tr.get("data-student")
        anchor = next(a for a in tr.iter("a") if a.get("class") == "feedback")
        assert _text(anchor) == student
        url = urljoin(page.as_uri(), anchor.get("href"))
        target = Path(unquote(urlparse(url).path))
        assert target == example_class / student / "feedback.html" and target.is_file(), student
        opened = subprocess.run(headless("--dump-dom", url), capture_output=True, text=True, timeout=120)
        assert opened.returncode == 0 and f"<title>Feedback for {student}</title>" in opened.stdout, student
    by_student = {tr.get("data-student"): tr for tr in rows}
    assert "ended the worker" in _text(by_student["hostile"]) and "0 points" in _text(by_student["skeleton"])
    assert "not graded" in _text(by_student["misnamed_files"])
    assert not [f for f in by_student["perfect"].iter("span") if f.get("class") == "flag"]
    gradebook = {row["student"]: row for row in _rows(example_class).values()}
    assert {s: r["feedback"] for s, r in gradebook.items()} == {s: f"{s}/feedback.html" for s in EXAMPLE_STUDENTS}
    links = {a.get("id"): a.get("href") for a in dom.iter("a") if a.get("id")}
    assert links.get("similarity-link") == "similarity.html" and (example_class / "similarity.html").is_file()
    mistakes = next(t for t in dom.iter("table") if t.get("id") == "mistake-table")
    text = _text(mistakes)
    assert "dprev_c is missing the forget gate" in text and "lstm_dprev_c_missing_f" in text
    assert all(a.get("href").endswith("/feedback.html") for a in mistakes.iter("a"))
    bars = [g for g in dom.iter() if str(g.tag).rpartition("}")[2] == "g" and g.get("class") == "bar"]  # SVG, any namespace
    assert len(bars) == 14 and all(0 <= float(g.get("data-pass-rate")) <= 1 for g in bars)


@pytest.mark.slow
def test_the_example_class_page_sorts_by_total_and_fits_1280_px(example_class):
    dom = _probe(example_class / "index.html",
                 "var th = document.querySelectorAll('#class th')[1]; th.click(); th.click();"
                 "document.body.dataset.order = Array.prototype.map.call(document.querySelectorAll('#class tbody tr'),"
                 " function (r) { return r.dataset.student; }).join(',');"
                 "document.body.dataset.width = document.documentElement.scrollWidth;")
    order = dom.get("data-order").split(",")
    scores = {s: float(r["score"]) for s, r in _rows(example_class).items()}
    assert order == sorted(EXAMPLE_STUDENTS, key=lambda s: -scores[s])  # descending; ties keep the student order
    assert int(dom.get("data-width")) <= 1280


def test_rebuilding_the_page_from_the_folder_gives_the_same_page(tmp_path):
    subs = _class(tmp_path)
    out = tmp_path / "out"
    grade_all(subs, out, jobs=1, spec=SPEC, progress=False)
    written = _page(out)
    (out / "index.html").unlink()
    assert class_page.rebuild_class_page(out) == out / "index.html"
    assert _page(out) == written
    assert class_page.rebuild_class_page(tmp_path / "nothing-here") is None
