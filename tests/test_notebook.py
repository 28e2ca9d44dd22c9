"""The lecture notebook: in sync with its jupytext text file and with valid nbgrader metadata (and
the checker that says so catches each kind of breakage), released without solutions or hidden
tests, runs end to end on the reference solutions, and nbgrader autogrades the solution with full marks.

The last two execute the notebook (about 70 s of CPU each, one notebook run for the first and two
for the second; minutes of wall time on a loaded machine) and are marked ``notebook``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from autograder.authoring import notebooks, release
from autograder.authoring.markers import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, has_markers
from autograder.authoring.notebooks import cell_kinds, check_pair, paired_text_path, release_notebook, solution_notebook
from autograder.packs.rnn_lstm import ASSIGNMENT, RELEASE_DIR, SOLUTIONS_DIR, SOURCE_DIR
from autograder.paths import REPO_ROOT

SOURCE_NB = SOURCE_DIR / f"{ASSIGNMENT}.ipynb"
NOTEBOOK_NAME = SOURCE_NB.name
# The notebook's jupytext twin (jupytext.toml pairs source///ipynb with notebooks///py:percent).
TEXT_FILE = REPO_ROOT / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.py"


def _regions(text: str, begin: str, end: str) -> List[str]:
    """The lines strictly inside every begin/end region of ``text``."""
    inside, lines = False, []
    for line in text.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def _index(grade_id: str) -> int:
    """The index of the cell with this grade_id in the committed notebook."""
    cells = nbformat.read(str(SOURCE_NB), as_version=4).cells
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells].index(grade_id)


def _header_line(text: str, inside: str) -> int:
    """The line number (from 1) of the '# %%' line of the cell of the text file that contains ``inside``."""
    before = text[: text.index(inside)]
    return before[: before.rindex("# %%")].count("\n") + 1


def _nbgrader_meta(nb) -> Dict[str, dict]:
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata}


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(str(SOURCE_NB), as_version=4)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    dst = tmp_path_factory.mktemp("release") / NOTEBOOK_NAME
    release_notebook(SOURCE_NB, dst)
    return dst


@pytest.fixture(scope="module")
def solution_tree(tmp_path_factory) -> Path:
    """The reference tree (modules, training.py, solution notebook) built from source/."""
    tree = tmp_path_factory.mktemp("solutions") / ASSIGNMENT
    release.build_tree(SOURCE_DIR, tree, release=False)
    return tree


# --------------------------------------------------------------------------------------------
# Fast checks
# --------------------------------------------------------------------------------------------


def test_committed_notebook_and_its_text_file_are_in_sync_and_valid():
    assert paired_text_path(SOURCE_NB) == TEXT_FILE
    assert check_pair(SOURCE_NB) == [], "fix the problems, then: .venv/bin/jupytext --sync source/rnn_lstm/rnn_lstm.ipynb"
    # Read directly with jupytext as well (not through the checker): every cell's type, source and
    # nbgrader metadata round-trip exactly.
    source_nb, text_nb = nbformat.read(str(SOURCE_NB), as_version=4), jupytext.read(str(TEXT_FILE))
    assert [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in text_nb.cells] == \
        [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in source_nb.cells]
    # The pairing lives in jupytext.toml, not in the notebook (whose metadata reaches the students'
    # copy), and the text file, which holds the solutions, is outside every tree a release copies.
    assert "jupytext" not in source_nb.metadata
    for tree in (SOURCE_DIR, RELEASE_DIR, SOLUTIONS_DIR):
        assert tree not in TEXT_FILE.parents
    for notebook in (RELEASE_DIR / NOTEBOOK_NAME, SOLUTIONS_DIR / NOTEBOOK_NAME):
        with pytest.raises(ValueError, match="no jupytext configuration pairs it"):
            paired_text_path(notebook)


def test_check_command(capsys):
    assert notebooks.main(["check"]) == 0
    assert "ok:" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# The checker on a broken copy of the pair
# --------------------------------------------------------------------------------------------


@pytest.fixture
def pair(tmp_path):
    """A copy of the notebook and its text file, checked clean before a test breaks it."""
    nb, text = tmp_path / NOTEBOOK_NAME, tmp_path / TEXT_FILE.name
    shutil.copy2(SOURCE_NB, nb)
    shutil.copy2(TEXT_FILE, text)
    assert check_pair(nb, text) == []
    return nb, text


def _cell(nb, grade_id: str):
    return next(cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _edit_both(pair, edit: Callable) -> None:
    """Change the notebook, then write the text file from it: the pair stays in sync."""
    nb_path, text_path = pair
    nb = nbformat.read(str(nb_path), as_version=4)
    edit(nb)
    nbformat.write(nb, str(nb_path))
    jupytext.write(nb, str(text_path), fmt="py:percent")


def _duplicate_id(nb):
    _cell(nb, "test-chunked-bptt").metadata.nbgrader["grade_id"] = "test-window-features"


def _add_hidden_tests(nb):
    _cell(nb, "window-features").source += "\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"


def _markdown_solution_not_graded(nb):
    meta = _cell(nb, "answer-gates").metadata.nbgrader
    meta["grade"] = False
    del meta["points"]


BROKEN_METADATA = {
    # name: (edit, grade_id of the broken cell in the committed notebook, what the message says)
    "duplicate grade_id": (_duplicate_id, "test-chunked-bptt", f"duplicate grade_id 'test-window-features': cell {_index('test-window-features')} has it too"),
    "graded cell without points": (lambda nb: _cell(nb, "test-growth-factor").metadata.nbgrader.pop("points"),
                                   "test-growth-factor", "graded cell (autograded tests) without points"),
    "manual answer without points": (lambda nb: _cell(nb, "answer-vanishing").metadata.nbgrader.pop("points"),
                                     "answer-vanishing", "graded cell (manually graded answer) without points"),
    "points on a solution cell": (lambda nb: _cell(nb, "window-features").metadata.nbgrader.update(points=1),
                                  "window-features", "points 1 on a cell that is not graded (autograded answer)"),
    "points on a read-only cell": (lambda nb: _cell(nb, "setup").metadata.nbgrader.update(points=2),
                                   "setup", "points 2 on a cell that is not graded (read-only)"),
    "zero points": (lambda nb: _cell(nb, "answer-gates").metadata.nbgrader.update(points=0),
                    "answer-gates", "points must be a number > 0, not 0"),
    "unlocked test cell": (lambda nb: _cell(nb, "test-gate-contrast").metadata.nbgrader.update(locked=False),
                           "test-gate-contrast", "autograded tests cells must have locked true"),
    "unlocked read-only cell": (lambda nb: _cell(nb, "setup").metadata.nbgrader.update(locked=False),
                                "setup", "nbgrader metadata with no role (not graded, no solution, not locked)"),
    "locked solution cell": (lambda nb: _cell(nb, "chunked-bptt").metadata.nbgrader.update(locked=True),
                             "chunked-bptt", "autograded answer cells must have locked false"),
    "markdown solution cell that is not graded": (_markdown_solution_not_graded, "answer-gates",
                                                  "autograded answer cells must be code cells, not markdown"),
    "old schema": (lambda nb: _cell(nb, "answer-gates").metadata.nbgrader.update(schema_version=2),
                   "answer-gates", "schema_version is 2, nbgrader needs 3"),
    "release-only key": (lambda nb: _cell(nb, "test-chunked-bptt").metadata.nbgrader.update(checksum="0" * 32),
                         "test-chunked-bptt", "'checksum' is written by nbgrader into the student version only"),
    "task that is also graded": (lambda nb: _cell(nb, "answer-bidirectional").metadata.nbgrader.update(task=True),
                                 "answer-bidirectional", "a task cell cannot also be a grade or solution cell"),
    "hidden tests in a solution cell": (_add_hidden_tests, "window-features",
                                        "hidden-test markers in a cell that is not a grade cell (autograded answer)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_METADATA))
def test_checker_names_the_cell_with_broken_metadata(pair, case):
    edit, grade_id, message = BROKEN_METADATA[case]
    index = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.read(str(SOURCE_NB), as_version=4).cells].index(grade_id)
    _edit_both(pair, edit)
    problems = check_pair(*pair)
    assert problems, case
    # Only the broken cell is blamed, by index and grade_id, in the notebook (the pair is still in sync).
    shown = nbformat.read(str(pair[0]), as_version=4).cells[index].metadata["nbgrader"]["grade_id"]
    assert all(p.startswith(f"{pair[0]}: cell {index} '{shown}' (") for p in problems), problems
    assert any(message in p for p in problems), problems


def _replace_in_text(pair, old: str, new: str, count: int = 1) -> None:
    text = pair[1].read_text(encoding="utf-8")
    assert old in text
    pair[1].write_text(text.replace(old, new, count), encoding="utf-8")


def test_checker_finds_a_text_file_out_of_sync(pair):
    line = _header_line(pair[1].read_text(encoding="utf-8"), "\n# ## 1 Sequential data\n")
    _replace_in_text(pair, "\n# ## 1 Sequential data\n", "\n# ## 1 Sequential data, edited\n")
    _replace_in_text(pair, '"grade_id": "test-window-features", "locked": true, "points": 2,',
                     '"grade_id": "test-window-features", "locked": true, "points": 5,')
    problems = check_pair(*pair)
    assert len(problems) == 2, problems
    assert all(p.startswith(f"{pair[1]}: out of sync with {pair[0]}: ") for p in problems), problems
    edited, points = problems
    assert "cell 2 (markdown, id 'md-002', starts '## 1 Sequential data')" in edited
    assert f"line {line}" in edited and "rnn_lstm.py '## 1 Sequential data, edited'" in edited
    assert f"cell {_index('test-window-features')} 'test-window-features'" in points and "points 2 in rnn_lstm.ipynb, 5 in rnn_lstm.py" in points


def test_checker_finds_cells_missing_from_either_file(pair):
    text = pair[1].read_text(encoding="utf-8")
    start = text.index("# %% [markdown]\n# ## 1 Sequential data")
    end = text.index("# %%", start + 1)
    shortened = text[:start] + text[end:] + "\n# %%\nextra = 1\n"
    pair[1].write_text(shortened, encoding="utf-8")
    cells = len(nbformat.read(str(SOURCE_NB), as_version=4).cells)       # one cell out, one in
    problems = check_pair(*pair)
    assert len(problems) == 2, problems
    assert "cell 2 (markdown, id 'md-002', starts '## 1 Sequential data') of rnn_lstm.ipynb is not in rnn_lstm.py" in problems[0]
    assert (f"cell {cells - 1} (code, line {_header_line(shortened, 'extra = 1')}, starts 'extra = 1') of rnn_lstm.py "
            "is not in rnn_lstm.ipynb") in problems[1]


def test_checker_checks_the_metadata_of_a_text_file_edited_alone(pair):
    # An instructor gives a second cell the same grade_id in the text file and does not sync.
    line = _header_line(pair[1].read_text(encoding="utf-8"), '"grade_id": "test-chunked-bptt"')
    index = _index("test-chunked-bptt")
    _replace_in_text(pair, '"grade_id": "test-chunked-bptt"', '"grade_id": "test-window-features"')
    problems = check_pair(*pair)
    assert any(p.startswith(f"{pair[1]}: out of sync") and "grade_id 'test-chunked-bptt' in rnn_lstm.ipynb, "
               "'test-window-features' in rnn_lstm.py" in p for p in problems), problems
    assert f"{pair[1]}: cell {index} 'test-window-features' (code, line {line}, starts " in "\n".join(problems)
    assert any(p.startswith(f"{pair[1]}: cell {index}") and "duplicate grade_id 'test-window-features'" in p for p in problems)
    assert not any(p.startswith(f"{pair[0]}: ") for p in problems), "the notebook itself is valid"


def test_checker_refuses_a_cell_that_the_text_form_cannot_hold(pair):
    # A line "# %%" inside a code cell would become a cell boundary in the text file.
    _edit_both(pair, lambda nb: _cell(nb, "window-features").__setitem__("source", _cell(nb, "window-features").source + "\n# %%\nx = 1"))
    problems = check_pair(*pair)
    assert problems and problems[0].startswith(
        f"{pair[0]}: jupytext's py:percent form does not keep it exactly: cell {_index('window-features')} 'window-features'")


def test_checker_reports_a_missing_text_file_and_the_command_fails(pair, capsys):
    pair[1].unlink()
    problems = check_pair(*pair)
    assert len(problems) == 1 and problems[0].startswith(f"{pair[1]}: cannot read the text version of rnn_lstm.ipynb")
    assert notebooks.main(["check", str(pair[0]), str(pair[1])]) == 1
    err = capsys.readouterr().err
    assert problems[0] in err and f"jupytext --sync {pair[0]}" in err


def test_source_has_every_kind_of_nbgrader_cell(source_nb):
    kinds = dict(cell_kinds(source_nb))
    assert sorted(kinds.values()).count("tests") >= 3
    assert sorted(kinds.values()).count("answer") == 3
    assert "solution" in kinds.values()
    meta = _nbgrader_meta(source_nb)
    for grade_id, kind in kinds.items():
        assert meta[grade_id]["schema_version"] == 3
        if kind in ("tests", "answer"):
            assert meta[grade_id]["points"] > 0, grade_id
    tests_with_hidden = [c for c in source_nb.cells if BEGIN_HIDDEN in c.source]
    assert tests_with_hidden and all(c.metadata["nbgrader"]["grade"] for c in tests_with_hidden)


def test_release_has_no_solution_and_no_hidden_test(source_nb, released):
    text = released.read_text(encoding="utf-8")
    for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN):
        assert marker not in text
    secret_lines, all_lines = [], []
    for cell in source_nb.cells:
        secret_lines += _regions(cell.source, BEGIN_SOLUTION, END_SOLUTION)
        secret_lines += _regions(cell.source, BEGIN_HIDDEN, END_HIDDEN)
        all_lines += cell.source.split("\n")
    # A line that also appears outside the regions (e.g. a call repeated in a visible test) is public.
    public = {line.strip() for line in all_lines} - {line.strip() for line in secret_lines}
    public |= {line.strip() for line in all_lines if all_lines.count(line) > secret_lines.count(line)}
    secret_lines = [line.strip() for line in secret_lines if len(line.strip()) > 12 and line.strip() not in public]
    assert len(secret_lines) > 20  # the check below has something to look for
    release_sources = "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
    leaked = [line for line in secret_lines if line in release_sources]
    assert not leaked, leaked


def test_release_keeps_nbgrader_metadata_and_stubs(source_nb, released):
    nb = nbformat.read(str(released), as_version=4)
    assert _nbgrader_meta(nb).keys() == _nbgrader_meta(source_nb).keys()
    for grade_id, meta in _nbgrader_meta(nb).items():
        original = _nbgrader_meta(source_nb)[grade_id]
        for key in ("grade", "solution", "points"):
            assert meta.get(key) == original.get(key), (grade_id, key)
        assert "checksum" in meta, grade_id
        if meta["grade"] and not meta["solution"]:
            assert meta["locked"], grade_id
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    assert "raise NotImplementedError()" in by_id["window-features"].source
    assert by_id["answer-gates"].source == "YOUR ANSWER HERE"
    # The visible part of every test cell is kept.
    assert "window_features: visible tests passed" in by_id["test-window-features"].source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_solution_notebook_keeps_solutions_and_hidden_tests_without_markers(source_nb, tmp_path):
    dst = tmp_path / NOTEBOOK_NAME
    solution_notebook(SOURCE_NB, dst)
    nb = nbformat.read(str(dst), as_version=4)
    assert len(nb.cells) == len(source_nb.cells)
    for before, after in zip(source_nb.cells, nb.cells):
        assert not has_markers(after.source)
        for line in _regions(before.source, BEGIN_SOLUTION, END_SOLUTION) + _regions(before.source, BEGIN_HIDDEN, END_HIDDEN):
            assert line in after.source.split("\n")
        assert after.metadata.get("nbgrader") == before.metadata.get("nbgrader")
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None


def _notebook_with(cells) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nbformat.writes(nb)


def test_bad_notebooks_give_a_clear_error_naming_the_file(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ this is not json", encoding="utf-8")
    unmarked = tmp_path / "unmarked.ipynb"
    # Solution markers in a cell without nbgrader metadata: nbgrader refuses to release it.
    unmarked.write_text(_notebook_with([nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")]), encoding="utf-8")
    unbalanced = tmp_path / "unbalanced.ipynb"
    unbalanced.write_text(_notebook_with([nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")]), encoding="utf-8")
    cases = [(release_notebook, broken), (solution_notebook, broken), (release_notebook, unmarked), (solution_notebook, unbalanced)]
    for convert, path in cases:
        with pytest.raises(ValueError, match=re.escape(str(path))):
            convert(path, tmp_path / "out.ipynb")
    assert not (tmp_path / "out.ipynb").exists()
    with pytest.raises(ValueError, match="missing.ipynb"):
        release_notebook(tmp_path / "missing.ipynb", tmp_path / "out.ipynb")


# --------------------------------------------------------------------------------------------
# Executing the notebook
# --------------------------------------------------------------------------------------------


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


@pytest.mark.notebook
def test_source_notebook_runs_end_to_end_on_the_reference_solutions(solution_tree):
    nb = nbformat.read(str(SOURCE_NB), as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(solution_tree)}}).execute()

    images = [out for cell in nb.cells for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    assert len(images) >= 3
    text = "\n".join(_outputs_text(cell) for cell in nb.cells)
    solutions = [grade_id for grade_id, kind in cell_kinds(nb) if kind == "solution"]
    assert len(solutions) == 7
    for grade_id in solutions:
        assert f"{grade_id.replace('-', '_')}: visible tests passed" in text
    # Every claim of the prose is asserted by a cell (tests/test_notebook_claims.py), and the notebook
    # ran without an error, so every assert held: the numbers the asserts check are printed too.
    assert "growth factor per step: RNN 0.859, LSTM cell path 0.953 (mean f 0.950), with a tanh on the cell 0.892, LSTM full 1.083" in text
    assert re.search(r"^T = 50, LSTM +accuracy at step 600 per seed: 1\.000, 1\.000, 1\.000", text, flags=re.M), text


def _nbgrader(course: Path, *args: str) -> None:
    # nbgrader runs the `alembic` executable to create its gradebook: it must be on PATH.
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


COURSE_CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "rnn-lstm-notebook-test"
c.Execute.timeout = 300
"""


@pytest.mark.notebook
def test_nbgrader_autogrades_the_solution_with_full_marks(tmp_path, solution_tree):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(COURSE_CONFIG, encoding="utf-8")
    for path in SOURCE_DIR.glob("*.py"):
        shutil.copy2(path, course / "source" / ASSIGNMENT / path.name)
    shutil.copy2(SOURCE_NB, course / "source" / ASSIGNMENT / NOTEBOOK_NAME)
    _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    released_nb = course / "release" / ASSIGNMENT / NOTEBOOK_NAME
    assert BEGIN_HIDDEN not in released_nb.read_text(encoding="utf-8")

    # "perfect" submits the reference solution; "blank" the untouched release (a control that must
    # score zero on the notebook's own tests). Both come with the reference modules.
    for student, notebook in (("perfect", solution_tree / NOTEBOOK_NAME), ("blank", released_nb)):
        submission = course / "submitted" / student / ASSIGNMENT
        submission.mkdir(parents=True)
        for path in solution_tree.glob("*.py"):
            shutil.copy2(path, submission / path.name)
        shutil.copy2(notebook, submission / NOTEBOOK_NAME)
        (submission / "timestamp.txt").write_text("2026-01-01 00:00:00 UTC", encoding="utf-8")
        _nbgrader(course, "autograde", ASSIGNMENT, "--student", student, "--force")

    autograded = nbformat.read(str(course / "autograded" / "perfect" / ASSIGNMENT / NOTEBOOK_NAME), as_version=4)
    hidden_ran = [c for c in autograded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test-window-features"]
    assert "_expected = np.zeros" in hidden_ran[0].source, "autograde should run the hidden tests"
    # The new exercises' hidden tests are Hypothesis properties; autograde restores and runs them.
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in autograded.cells}
    for grade_id, prop in (("test-unrolled-backward", "_check_unrolled_backward()"), ("test-cell-grad-norms", "_check_cell_grad_norms()"),
                           ("test-hand-wired-lstm", "_check_hand_wired()")):
        assert "from hypothesis import" in by_id[grade_id].source and prop in by_id[grade_id].source, grade_id
        assert not any(out.get("output_type") == "error" for out in by_id[grade_id].outputs), grade_id

    source_points = sum(m["points"] for m in _nbgrader_meta(nbformat.read(str(SOURCE_NB), as_version=4)).values()
                        if m["grade"] and not m["solution"])
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {}
        for student in ("perfect", "blank"):
            nb = gb.find_submission_notebook(NOTEBOOK_NAME[: -len(".ipynb")], ASSIGNMENT, student)
            auto = {g.name: (g.auto_score, g.max_score) for g in nb.grades if g.cell.cell_type == "code"}
            scores[student] = auto
    assert len(scores["perfect"]) == 7
    assert sum(m for _, m in scores["perfect"].values()) == source_points
    assert all(score == max_score for score, max_score in scores["perfect"].values()), scores["perfect"]
    assert all(score == 0 for score, _ in scores["blank"].values()), scores["blank"]
