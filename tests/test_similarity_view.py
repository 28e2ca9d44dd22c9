"""Similarity for a TA: a folder of known solutions, highlights that show only shared code that was not
handed out, and a page that fits 1280 px in headless Chromium (test_feedback_browser.py's helpers)."""
from __future__ import annotations

import ast
import io
import shutil
import subprocess
import tokenize
from pathlib import Path
from typing import List, Set

import numpy as np
import pytest
from test_feedback_browser import BROWSERS, browser, headless
from test_similarity import main

from autograder.packs.rnn_lstm import RELEASE_DIR, SOLUTIONS_DIR
from autograder.quality.similarity import SimilarityInputError, compare_class, read_known
from autograder.quality.similarity_report import write_report

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "submissions"
GRADE_DATA = REPO / "tests" / "grade_data"
MODULES = ("rnn_layers.py", "lstm_layers.py", "deep_layers.py", "gradient_flow.py")


def _collection(root: Path) -> Path:
    """A folder of known solutions as a TA gets them: one cloned repository per subfolder, a bare file."""
    known = root / "public"
    shutil.copytree(SOLUTIONS_DIR, known / "sol-a", ignore=shutil.ignore_patterns("__pycache__", "tests", "*.ipynb"))
    nested = known / "sol-b" / "homework" / "rnn_lstm"  # deeper in its repository
    nested.mkdir(parents=True)
    for name in MODULES:
        shutil.copy(EXAMPLES / "written_differently" / name, nested / name)
    (known / "sol-b" / "README.md").write_text("my solution\n")
    shutil.copy(GRADE_DATA / "written_differently_rnn.py", known / "sol-c.py")
    (known / "not-a-solution").mkdir()
    (known / "not-a-solution" / "notes.txt").write_text("nothing here\n")
    (known / "LICENSE").write_text("MIT\n")
    return known


def test_against_a_folder_of_known_solutions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    known = _collection(tmp_path)
    documents, problems = read_known([known])
    assert [d.id for d in documents] == ["known:public/sol-a", "known:public/sol-b", "known:public/sol-c.py"]
    assert all(d.known for d in documents) and documents[1].source.endswith("sol-b")
    assert [p.id for p in problems] == ["known:public/not-a-solution"] and "holds no graded module" in problems[0].reason

    out = tmp_path / "out"
    assert main(["similarity", str(EXAMPLES), "--out", str(out), "--against", str(known), "--jobs", "2"]) == 0
    rows = (out / "similarity.csv").read_text(encoding="utf-8").splitlines()[1:]
    pairs = {(r.split(",")[1], r.split(",")[2]): float(r.split(",")[3]) for r in rows}
    assert pairs[("perfect", "known:public/sol-a")] == 1.0
    assert pairs[("written_differently", "known:public/sol-b")] == 1.0
    assert not any(a.startswith("known:") for a, _ in pairs)  # known solutions are never compared with each other
    assert "not-a-solution" in capsys.readouterr().err


def test_a_folder_with_no_solution_in_it_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "README.md").write_text("x\n")
    with pytest.raises(SimilarityInputError, match="no subfolder or .py file holding one"):
        read_known([tmp_path / "empty"])
    with pytest.raises(SimilarityInputError, match="expected a folder of modules, a .py file"):
        read_known([tmp_path / "empty" / "README.md"])


def _not_code(text: str) -> np.ndarray:
    """Characters of ``text`` outside Python's tokens (whitespace), in comments, or in docstrings
    (tokenize and ast, not the pygments lexer the report uses)."""
    lines = text.splitlines(keepends=True)
    starts = np.cumsum([0] + [len(line) for line in lines])
    mask = np.ones(len(text), dtype=bool)
    layout = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type not in layout:
            mask[starts[tok.start[0] - 1] + tok.start[1]:starts[tok.end[0] - 1] + tok.end[1]] = False
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.FunctionDef)) and ast.get_docstring(node) is not None:
            first = node.body[0]
            mask[starts[first.lineno - 1] + first.col_offset:starts[first.end_lineno - 1] + first.end_col_offset] = True  # type: ignore[operator]
    return mask


def _chars(slices: np.ndarray, size: int) -> Set[int]:
    return {i for start, end in np.asarray(slices).T for i in range(start, min(end, size))}


def test_highlights_show_shared_code_never_comments_docstrings_or_the_release(tmp_path: Path) -> None:
    """A student who kept the release's docstrings and comments, with a known solution that has them too:
    nothing handed out is highlighted, and shared code still is."""
    student = tmp_path / "class" / "kept_the_docstrings"
    shutil.copytree(SOLUTIONS_DIR, student, ignore=shutil.ignore_patterns("__pycache__", "tests", "*.ipynb"))
    other = tmp_path / "class" / "another"
    shutil.copytree(SOLUTIONS_DIR, other, ignore=shutil.ignore_patterns("__pycache__", "tests", "*.ipynb"))
    report = compare_class(tmp_path / "class", jobs=1)
    (pair,) = report.pairs
    signatures: List[str] = [f"def {n.name}(" for name in MODULES
                             for n in ast.parse((RELEASE_DIR / name).read_text()).body if isinstance(n, ast.FunctionDef)]
    for side, slices in ((pair.a, pair.slices_a), (pair.b, pair.slices_b)):
        text = report.documents[side].text
        marked = _chars(slices, len(text))
        given = _chars(report.given[side], len(text))
        layout = set(np.flatnonzero(_not_code(text)).tolist())
        assert len(marked) > 1000, "shared code is highlighted"
        assert not marked & layout, "a comment, docstring or whitespace is highlighted"
        assert not marked & given
        for signature in signatures:  # the handed-out signatures are shown as given, not as shared
            at = text.index(signature)
            assert set(range(at, at + len(signature))) - layout <= given, signature
    # the measure is copydetect's: two copies of the reference are 100% alike, with or without highlights
    assert pair.similarity_a == pair.similarity_b == 1.0


def test_the_similarity_page_fits_1280_px(tmp_path: Path) -> None:
    if browser() is None:
        pytest.skip(f"no Chromium installed (looked for {', '.join(BROWSERS)}): "
                    "`apt-get install chromium` (Debian) to render the similarity page in a browser")
    klass = tmp_path / "class"
    shutil.copytree(EXAMPLES, klass)
    wide = klass / "long_lines" / "rnn_layers.py"  # a copy with a line far wider than half the page
    wide.parent.mkdir()
    wide.write_text((SOLUTIONS_DIR / "rnn_layers.py").read_text(encoding="utf-8").replace(
        "import numpy as np", "import numpy as np  # " + "a very long comment " * 20), encoding="utf-8")
    report = compare_class(klass, against=[_collection(tmp_path)], jobs=2)
    assert any(len(line) > 300 for line in report.documents["long_lines"].text.splitlines())
    write_report(report, tmp_path / "out")
    page = tmp_path / "out" / "similarity.html"
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", "<script>document.title = 'W' + document.documentElement.scrollWidth;</script></body>"), encoding="utf-8")
    done = subprocess.run(headless("--window-size=1280,1000", "--dump-dom", probe.as_uri()), capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    title = done.stdout.split("<title>", 1)[1].split("</title>", 1)[0]
    assert int(title[1:]) <= 1280, title
    assert done.stdout.count('<pre class="code">') >= 2 and "<mark>" in done.stdout and 'class="given"' in done.stdout
