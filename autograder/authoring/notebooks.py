"""Release and solution versions of an nbgrader source notebook, made by nbgrader itself.

- :func:`release_notebook` runs the preprocessors of ``nbgrader generate_assignment``
  (:class:`nbgrader.converters.GenerateAssignment`), in nbgrader's order, on one notebook: cells
  are locked, solutions replaced by nbgrader's stubs, outputs cleared, checksums computed, hidden
  tests and mark schemes removed, and the cell metadata checked. Only ``SaveCells`` is left out:
  it records the cells in an nbgrader gradebook, which the course's own ``nbgrader
  generate_assignment`` run does (see ``nbgrader_config.py``); nothing else depends on it.
- :func:`solution_notebook` keeps every cell and its nbgrader metadata (so the notebook can be
  submitted and autograded), removes the marker lines (keeping the solutions and hidden tests, as
  :func:`autograder.authoring.markers.solution_text` does for ``.py`` files) and clears the outputs.

Both raise ``ValueError`` naming the notebook when it is not a valid nbgrader notebook.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple, Type

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode

from autograder.authoring.markers import MarkerError, has_markers, solution_text

NBFORMAT_VERSION = 4


def release_preprocessors() -> List[Type[Preprocessor]]:
    """nbgrader's generate_assignment preprocessors, in its order, without the gradebook step."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import SaveCells

    default = GenerateAssignment.class_traits()["preprocessors"].make_dynamic_default()
    return [cls for cls in default if cls is not SaveCells]


def _read(src: Path) -> NotebookNode:
    """Read and validate a notebook, including its nbgrader cell metadata."""
    from nbgrader.nbgraderformat import ValidationError, reads

    try:
        text = Path(src).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{src}: cannot read the notebook: {exc}") from exc
    try:
        return reads(text, as_version=NBFORMAT_VERSION)
    except ValidationError as exc:
        raise ValueError(f"{src}: invalid nbgrader cell metadata: {exc.message}") from exc
    except Exception as exc:  # nbformat raises several types (NotJSONError, ValidationError, ...)
        raise ValueError(f"{src}: not a valid Jupyter notebook: {exc}") from exc


def _write(nb: NotebookNode, dst: Path) -> None:
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(dst))


def _resources(src: Path) -> Dict[str, Any]:
    return {"metadata": {"name": Path(src).stem, "path": str(Path(src).parent)}, "unique_key": Path(src).stem}


def release_notebook(src: Path, dst: Path) -> None:
    """Write the student version of the nbgrader source notebook ``src`` to ``dst``."""
    nb = _read(src)
    resources = _resources(src)
    for cls in release_preprocessors():
        try:
            nb, resources = cls().preprocess(nb, resources)
        except Exception as exc:  # nbgrader reports bad cells with RuntimeError / ValueError
            raise ValueError(f"{src}: nbgrader {cls.__name__} failed: {exc}") from exc
    _write(nb, dst)


def _solution_cell(cell: NotebookNode, name: str) -> NotebookNode:
    if has_markers(cell.source):
        try:
            cell.source = solution_text(cell.source, name)
        except MarkerError as exc:
            raise ValueError(str(exc)) from exc
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    return cell


def solution_notebook(src: Path, dst: Path) -> None:
    """Write the reference version of ``src`` to ``dst``: markers removed, all code kept, no outputs."""
    nb = _read(src)
    nb.cells = [_solution_cell(cell, f"{src} cell {index} ({cell.get('id', '?')})") for index, cell in enumerate(nb.cells)]
    _write(nb, dst)


def cell_kinds(nb: NotebookNode) -> List[Tuple[str, str]]:
    """(grade_id, kind) of every nbgrader cell: "solution", "tests", "answer" or "readonly"."""
    kinds = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if not meta:
            continue
        if meta.get("grade") and meta.get("solution"):
            kind = "answer"
        elif meta.get("grade"):
            kind = "tests"
        elif meta.get("solution"):
            kind = "solution"
        else:
            kind = "readonly"
        kinds.append((meta["grade_id"], kind))
    return kinds
