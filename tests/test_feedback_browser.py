"""The feedback of a buggy example student, rendered in a real browser (headless Chromium).

It checks what a student sees: per function a table of the outputs with ✓/✗, the verified facts as
a list and the likely mistake as a paragraph (not at the end of a scrolling code block), the
failing input once per function; and, for several example students, that "What to fix" is on the
first screen of a 1280 x 900 px window. Skips, saying why, only where no Chromium is installed; CI
installs Debian's ``chromium`` (.ci/run as root, and .github/workflows/ci.yml).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as etree
from pathlib import Path
from typing import List, Optional

import pytest

from autograder.engine.grade import grade_submission
from autograder.feedback.html import markdown_to_html
from autograder.feedback.report import feedback_markdown
from autograder.paths import REPO_ROOT

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
STUDENT = REPO_ROOT / "examples" / "submissions" / "lstm_dprev_c_missing_f"


def browser() -> Optional[str]:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def headless(*args: str) -> List[str]:
    return [browser() or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
            f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}", *args]


def _need_browser() -> None:
    if browser() is None:
        pytest.skip(f"no Chromium installed (looked for {', '.join(BROWSERS)}): "
                    "`apt-get install chromium` (Debian) to render the feedback in a browser")


def feedback_page(student: Path, folder: Path) -> Path:
    """The HTML feedback page of ``student`` (graded in process mode), as grade-all writes it."""
    results = grade_submission(student, sandbox="process")
    path = folder / "feedback.html"
    path.write_text(markdown_to_html(feedback_markdown(results), title="Feedback"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    _need_browser()
    return feedback_page(STUDENT, tmp_path_factory.mktemp("feedback"))


def _dom(page: Path) -> etree.Element:
    done = subprocess.run(headless("--dump-dom", page.as_uri()), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "<body" in done.stdout, done.stderr[-2000:]
    body = done.stdout[done.stdout.index("<body"):done.stdout.index("</body>") + len("</body>")]
    return etree.fromstring(body.replace("&nbsp;", " "))


def _text(element: etree.Element) -> str:
    return "".join(element.itertext()).strip()


def test_feedback_page_shows_the_output_table_facts_and_mistake_as_prose(page):
    dom = _dom(page)
    heads = [_text(h) for h in dom.iter("h3")]
    assert any(h.startswith("lstm_step_backward") for h in heads), heads
    section = _section(dom, "lstm_step_backward")
    tables = [t for t in section if t.tag == "table"]
    assert tables, "no table of outputs under lstm_step_backward"
    rows = {_text(tr[0]): [_text(td) for td in tr[1:]] for tr in tables[0].iter("tr") if tr[0].tag == "td"}
    assert set(rows) == {"dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"}
    assert "✗" in rows["dprev_c"] and all(mark == "✓" for mark in rows["dx"] if mark), rows
    facts = [_text(li) for ul in section if ul.tag == "ul" for li in ul]
    assert any("`dprev_c`" not in f and "dprev_c" in f and "is wrong" in f for f in facts), facts
    prose = [_text(p) for p in section if p.tag == "p"]
    assert any(p.startswith("Likely mistake:") and "forget gate" in p for p in prose), prose
    codes = [_text(pre) for pre in section if pre.tag == "pre"]
    # each failing input once for the function (the realistic-sizes test fails on an input of its own)
    assert codes and len(codes) == len(set(codes)) and all("dnext_c: shape" in c for c in codes), codes
    assert not any("Likely mistake" in c for c in codes)


def _section(dom: etree.Element, function: str) -> List[etree.Element]:
    """The elements after the <h3> of ``function`` up to the next <h3>."""
    body = list(dom)
    start = next(i for i, e in enumerate(body) if e.tag == "h3" and _text(e).startswith(function))
    end = next((i for i in range(start + 1, len(body)) if body[i].tag == "h3"), len(body))
    return body[start + 1:end]


def measure(page: Path, script: str, width: int, height: int, folder: Path) -> str:
    """What ``script`` (JavaScript run once the page is laid out) puts in ``document.title``, with the
    page rendered in a ``width`` x ``height`` px window."""
    probe = folder / f"probe-{page.parent.name}.html"
    html = page.read_text(encoding="utf-8")
    probe.write_text(html.replace("</body>", f"<script>{script}</script></body>"), encoding="utf-8")
    done = subprocess.run(headless(f"--window-size={width},{height}", "--dump-dom", probe.as_uri()),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split("<title>", 1)[1].split("</title>", 1)[0]


def test_feedback_page_fits_the_window(page, tmp_path):
    """Nothing scrolls sideways at 900 px: the page's scroll width is the window's."""
    title = measure(page, "document.title = 'W' + document.documentElement.scrollWidth;", 900, 1200, tmp_path)
    assert int(title[1:]) <= 900, title


# Where "What to fix" is, in px from the top of the page: top and bottom of its heading ("none" if absent).
WHAT_TO_FIX = ("var h = Array.from(document.querySelectorAll('h2')).find(e => e.textContent.trim() == 'What to fix');"
               "var r = h && h.getBoundingClientRect();"
               "document.title = r ? Math.round(r.top + window.scrollY) + ' ' + Math.round(r.bottom + window.scrollY)"
               " : 'none';")
FIRST_SCREEN = (1280, 900)  # a laptop's window: "What to fix" is seen without scrolling
SHOWN_EARLY = ("lstm_gate_order_ifog", "stacked_grads_reversed", "skeleton", "hostile")


@pytest.mark.parametrize("student", SHOWN_EARLY)
def test_what_to_fix_is_on_the_first_screen(student, tmp_path):
    """At 1280 px, the "What to fix" heading ends within the first 900 px of the page: above it only the
    title and the table of points (each dependency note is in its function's section, the sandbox
    paragraph and the student's prints at the end)."""
    _need_browser()
    folder = tmp_path / student
    folder.mkdir()
    page = feedback_page(REPO_ROOT / "examples" / "submissions" / student, folder)
    where = measure(page, WHAT_TO_FIX, *FIRST_SCREEN, tmp_path)
    assert where != "none", f"no 'What to fix' heading in the feedback of {student}"
    top, bottom = map(int, where.split())
    print(f"{student}: 'What to fix' at {top}-{bottom} px")
    assert bottom <= FIRST_SCREEN[1], f"{student}: 'What to fix' at {top}-{bottom} px, below the first {FIRST_SCREEN[1]} px"
