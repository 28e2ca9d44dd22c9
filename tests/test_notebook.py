"""The lecture notebook: current with its builder, released without solutions or hidden tests,
runs end to end on the reference solutions, and nbgrader autogrades the solution with full marks.

The last two execute the notebook (about 15 s each on 2 cores) and are marked ``notebook``.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.authoring import release
from autograder.authoring.markers import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, has_markers
from autograder.authoring.notebooks import cell_kinds, release_notebook, solution_notebook
from autograder.paths import REPO_ROOT
from autograder.packs.rnn_lstm import ASSIGNMENT, SOURCE_DIR

SOURCE_NB = SOURCE_DIR / f"{ASSIGNMENT}.ipynb"
NOTEBOOK_NAME = SOURCE_NB.name


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_notebook", REPO_ROOT / "tools" / "build_notebook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_committed_notebook_matches_its_builder():
    builder = _load_builder()
    assert SOURCE_NB.read_text(encoding="utf-8") == builder.render(), "run: .venv/bin/python tools/build_notebook.py"


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
    for grade_id in ("window-features", "chunked-bptt", "growth-factor", "gate-contrast"):
        assert f"{grade_id.replace('-', '_')}: visible tests passed" in text
    assert "the LSTM learns the long-range dependency and the vanilla RNN does not" in text
    # The numbers quoted in prose are computed: the experiment's accuracies are printed.
    finals = dict(re.findall(r"^(LSTM, forget bias 3|vanilla RNN)\s+final accuracy ([0-9.]+)", text, flags=re.M))
    assert float(finals["LSTM, forget bias 3"]) >= 0.9 and float(finals["vanilla RNN"]) <= 0.4, finals


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

    source_points = sum(m["points"] for m in _nbgrader_meta(nbformat.read(str(SOURCE_NB), as_version=4)).values()
                        if m["grade"] and not m["solution"])
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {}
        for student in ("perfect", "blank"):
            nb = gb.find_submission_notebook(NOTEBOOK_NAME[: -len(".ipynb")], ASSIGNMENT, student)
            auto = {g.name: (g.auto_score, g.max_score) for g in nb.grades if g.cell.cell_type == "code"}
            scores[student] = auto
    assert len(scores["perfect"]) == 4
    assert sum(m for _, m in scores["perfect"].values()) == source_points
    assert all(score == max_score for score, max_score in scores["perfect"].values()), scores["perfect"]
    assert all(score == 0 for score, _ in scores["blank"].values()), scores["blank"]
