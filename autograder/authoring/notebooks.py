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

The source notebook has a jupytext twin, a percent-format text file (``jupytext.toml`` pairs
``source/<assignment>/<name>.ipynb`` with ``notebooks/<assignment>/<name>.py``), so an instructor
edits either one and runs ``jupytext --sync``. :func:`check_pair` (``python -m autograder.authoring.notebooks
check``) verifies that the two hold the same cells and that the nbgrader metadata is valid
(:func:`metadata_problems`); every problem names the cell.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode

from autograder.authoring.markers import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MarkerError,
    has_markers,
    solution_text,
)
from autograder.engine import pack

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


def _kind(meta: Dict[str, Any]) -> Optional[str]:
    """The create-assignment cell type of nbgrader metadata, None for a combination nbgrader rejects."""
    grade, solution, task = (meta.get(key) is True for key in ("grade", "solution", "task"))
    if task:
        return None if grade or solution else "task"
    if grade:
        return "answer" if solution else "tests"
    return "solution" if solution else "readonly"


def cell_kinds(nb: NotebookNode) -> List[Tuple[str, str]]:
    """(grade_id, kind) of every nbgrader cell: "solution", "tests", "answer", "task" or "readonly"."""
    return [(cell.metadata["nbgrader"]["grade_id"], _kind(cell.metadata["nbgrader"]))
            for cell in nb.cells if cell.get("metadata", {}).get("nbgrader")]


# --------------------------------------------------------------------------------------------
# The nbgrader metadata of a source notebook
# --------------------------------------------------------------------------------------------

SCHEMA_VERSION = 3
# Keys an instructor's source cell may carry (nbgrader's v3 schema); checksum and cell_type are
# written by nbgrader into the student version only.
SOURCE_KEYS = {"schema_version", "grade", "solution", "locked", "task", "grade_id", "points"}
RELEASE_ONLY_KEYS = {"checksum", "cell_type"}
GRADED_KINDS = ("tests", "answer", "task")
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
# What nbgrader's create-assignment toolbar writes for each cell type: cell types allowed, locked.
KIND_RULES = {
    "tests": (("code",), True, "autograded tests"),
    "answer": (("code", "markdown"), False, "manually graded answer"),
    "task": (("markdown",), True, "manually graded task"),
    "solution": (("code",), False, "autograded answer"),
    "readonly": (("code", "markdown", "raw"), True, "read-only"),
}


def _first_line(source: str) -> str:
    line = next((line.strip() for line in source.split("\n") if line.strip()), "")
    return line if len(line) <= 40 else line[:37] + "..."


def cell_name(index: int, cell: NotebookNode, line: Optional[int] = None) -> str:
    """How messages name a cell: its index, grade_id or id, type, where it is and how it starts."""
    meta = cell.get("metadata", {}).get("nbgrader")
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    where = [cell.get("cell_type", "?")]
    if cell.get("id") and cell.get("id") != grade_id:
        where.append(f"id {cell['id']!r}")
    if line is not None:
        where.append(f"line {line}")
    where.append(f"starts {_first_line(cell.get('source', ''))!r}")
    return f"cell {index}" + (f" {grade_id!r}" if grade_id else "") + f" ({', '.join(where)})"


def metadata_problems(nb: NotebookNode, label: str, lines: Optional[Sequence[int]] = None) -> List[str]:
    """Every way the nbgrader metadata of ``nb`` breaks nbgrader's rules; each names the cell.

    ``label`` names the file; ``lines`` (optional) is the line where each cell starts in it.
    """
    problems: List[str] = []
    seen: Dict[str, str] = {}
    for index, cell in enumerate(nb.cells):
        name = cell_name(index, cell, lines[index] if lines else None)

        def problem(text: str, name: str = name) -> None:
            problems.append(f"{label}: {name}: {text}")

        meta = cell.get("metadata", {}).get("nbgrader")
        source = cell.get("source", "")
        if meta is None:
            if BEGIN_SOLUTION in source or END_SOLUTION in source or BEGIN_HIDDEN in source or END_HIDDEN in source:
                problem("nbgrader markers in a cell without nbgrader metadata (make it a solution or test cell)")
            continue
        if not isinstance(meta, dict):
            problem(f"nbgrader metadata is not a mapping: {meta!r}")
            continue
        if meta.get("schema_version") != SCHEMA_VERSION:
            problem(f"schema_version is {meta.get('schema_version')!r}, nbgrader needs {SCHEMA_VERSION}")
        for key in sorted(set(meta) & RELEASE_ONLY_KEYS):
            problem(f"{key!r} is written by nbgrader into the student version only: remove it from the source")
        for key in sorted(set(meta) - SOURCE_KEYS - RELEASE_ONLY_KEYS):
            problem(f"unknown nbgrader key {key!r}")
        for key in ("grade", "solution", "locked"):
            if not isinstance(meta.get(key), bool):
                problem(f"{key!r} must be true or false, not {meta.get(key)!r}")
        if "task" in meta and not isinstance(meta["task"], bool):
            problem(f"'task' must be true or false, not {meta['task']!r}")
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str) or not GRADE_ID.match(grade_id):
            problem(f"grade_id {grade_id!r} is missing or not made of letters, digits, '-' and '_'")
        elif grade_id in seen:
            problem(f"duplicate grade_id {grade_id!r}: {seen[grade_id]} has it too")
        else:
            seen[grade_id] = f"cell {index}"

        kind = _kind(meta)
        if kind is None:
            problem("a task cell cannot also be a grade or solution cell")
            continue
        cell_types, locked, title = KIND_RULES[kind]
        if cell.get("cell_type") not in cell_types:
            problem(f"{title} cells must be {' or '.join(cell_types)} cells, not {cell.get('cell_type')}")
        if kind == "readonly" and meta.get("locked") is False:
            problem("nbgrader metadata with no role (not graded, no solution, not locked): make it read-only "
                    "(locked true) or remove the metadata")
        elif isinstance(meta.get("locked"), bool) and meta["locked"] is not locked:
            problem(f"{title} cells must have locked {str(locked).lower()}")
        points = meta.get("points")
        if kind in GRADED_KINDS:
            if "points" not in meta:
                problem(f"graded cell ({title}) without points")
            elif isinstance(points, bool) or not isinstance(points, (int, float)) or not points > 0:
                problem(f"points must be a number > 0, not {points!r}")
        elif "points" in meta:
            problem(f"points {points!r} on a cell that is not graded ({title}); only autograded tests, "
                    "manually graded answers and tasks carry points")
        if (BEGIN_SOLUTION in source or END_SOLUTION in source) and kind not in ("solution", "answer"):
            problem(f"solution markers in a cell that is not a solution cell ({title}); nbgrader clears them only there")
        if (BEGIN_HIDDEN in source or END_HIDDEN in source) and kind not in ("tests", "answer"):
            problem(f"hidden-test markers in a cell that is not a grade cell ({title}); nbgrader removes them only there")
    return problems


# --------------------------------------------------------------------------------------------
# The jupytext pair: the source notebook and its percent-format text file
# --------------------------------------------------------------------------------------------

TEXT_FORMAT = "py:percent"


def source_notebook() -> Path:
    """The active pack's lecture notebook (``source/<pack>/<pack>.ipynb``)."""
    active = pack.current()
    assert active.source_dir is not None, f"the {active.name} pack has no source/ tree"
    return active.source_dir / f"{active.name}.ipynb"

MAX_DIFFERENCES = 20


def _jupytext_config(notebook: Path):
    from jupytext.config import load_jupytext_config

    return load_jupytext_config(str(Path(notebook).absolute()))


def paired_text_path(notebook: Optional[Path] = None) -> Path:
    """The percent-format file that jupytext (``jupytext.toml`` above ``notebook``) pairs with it."""
    from jupytext.paired_paths import paired_paths

    notebook = Path(notebook if notebook is not None else source_notebook()).absolute()
    config = _jupytext_config(notebook)
    formats = config.default_formats(str(notebook)) if config else None
    if formats:
        for path, fmt in paired_paths(str(notebook), "ipynb", formats):
            if fmt.get("extension") == ".py" and fmt.get("format_name") == "percent":
                return Path(path)
    raise ValueError(f"{notebook}: no jupytext configuration pairs it with a {TEXT_FORMAT} file (see jupytext.toml)")


def _compared_metadata(cell: NotebookNode, nbgrader_only: bool) -> Dict[str, Any]:
    """The cell metadata compared: nbgrader's alone, or all but jupytext's record of blank lines."""
    from jupytext.cell_metadata import _JUPYTEXT_CELL_METADATA

    meta = cell.get("metadata", {})
    if nbgrader_only:
        return {"nbgrader": meta.get("nbgrader")}
    return {key: value for key, value in meta.items() if key not in _JUPYTEXT_CELL_METADATA}


def _cell_key(cell: NotebookNode, nbgrader_only: bool) -> str:
    meta = _compared_metadata(cell, nbgrader_only)
    return json.dumps([cell.get("cell_type"), cell.get("source", ""), meta], sort_keys=True)


def _cell_differences(left: NotebookNode, right: NotebookNode, sides: Tuple[str, str], nbgrader_only: bool) -> str:
    """What differs between two cells, in words."""
    out = []
    if left.cell_type != right.cell_type:
        out.append(f"cell type {left.cell_type} in {sides[0]}, {right.cell_type} in {sides[1]}")
    if left.source != right.source:
        a, b = left.source.split("\n"), right.source.split("\n")
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        out.append(f"source differs from its line {at + 1}: {sides[0]} {a[at] if at < len(a) else '<end>'!r}, "
                   f"{sides[1]} {b[at] if at < len(b) else '<end>'!r}")
    lmeta, rmeta = (_compared_metadata(cell, nbgrader_only) for cell in (left, right))
    lgrader, rgrader = lmeta.pop("nbgrader", None) or {}, rmeta.pop("nbgrader", None) or {}
    if lgrader != rgrader and not (lgrader and rgrader):
        out.append(f"nbgrader metadata {lgrader or 'none'} in {sides[0]}, {rgrader or 'none'} in {sides[1]}")
    elif lgrader != rgrader:
        keys = sorted(k for k in set(lgrader) | set(rgrader) if lgrader.get(k, "<none>") != rgrader.get(k, "<none>"))
        out.append("nbgrader metadata differs: " + ", ".join(
            f"{k} {lgrader.get(k, '<none>')!r} in {sides[0]}, {rgrader.get(k, '<none>')!r} in {sides[1]}" for k in keys))
    if lmeta != rmeta:
        out.append(f"cell metadata differs: {lmeta!r} in {sides[0]}, {rmeta!r} in {sides[1]}")
    return "; ".join(out)


def _compare_cells(left: NotebookNode, right: NotebookNode, sides: Tuple[str, str], nbgrader_only: bool,
                   right_lines: Optional[Sequence[int]] = None) -> List[str]:
    """Cells added, removed or changed between ``left`` and ``right``, each named."""
    def lname(i: int) -> str:
        return cell_name(i, left.cells[i])

    def rname(j: int) -> str:
        return cell_name(j, right.cells[j], right_lines[j] if right_lines else None)

    keys = [[_cell_key(cell, nbgrader_only) for cell in nb.cells] for nb in (left, right)]
    out: List[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, keys[0], keys[1], autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        pairs = list(zip(range(i1, i2), range(j1, j2))) if tag == "replace" else []
        for i, j in pairs:
            out.append(f"{lname(i)} of {sides[0]} vs {rname(j)} of {sides[1]}: "
                       f"{_cell_differences(left.cells[i], right.cells[j], sides, nbgrader_only)}")
        out.extend(f"{lname(i)} of {sides[0]} is not in {sides[1]}" for i in range(i1 + len(pairs), i2))
        out.extend(f"{rname(j)} of {sides[1]} is not in {sides[0]}" for j in range(j1 + len(pairs), j2))
    if len(out) > MAX_DIFFERENCES:
        out = out[:MAX_DIFFERENCES] + [f"... and {len(out) - MAX_DIFFERENCES} more differences"]
    return out


def _cell_lines(text: str, cells: int) -> Optional[List[int]]:
    """The line of each cell's ``# %%`` header, when there is one per cell."""
    lines = [number for number, line in enumerate(text.split("\n"), 1) if line.startswith("# %%")]
    return lines if len(lines) == cells else None


class _Pair:
    """The source notebook and its text file, both read (``ValueError`` naming the file otherwise)."""

    def __init__(self, notebook: Path, text: Path) -> None:
        import jupytext

        self.notebook, self.text = Path(notebook), Path(text)
        self.config = _jupytext_config(self.notebook)
        try:
            self.nb = nbformat.read(str(self.notebook), as_version=NBFORMAT_VERSION)
        except Exception as exc:  # OSError, NotJSONError, nbformat's ValidationError, ...
            raise ValueError(f"{self.notebook}: not a readable Jupyter notebook: {exc}") from exc
        try:
            source = self.text.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{self.text}: cannot read the text version of {self.notebook.name} ({exc}); "
                             f"create it with: jupytext --sync {self.notebook}") from exc
        try:
            self.text_nb = jupytext.reads(source, fmt=TEXT_FORMAT, config=self.config)
        except Exception as exc:  # jupytext raises several types on a malformed header or cell marker
            raise ValueError(f"{self.text}: jupytext cannot read it as {TEXT_FORMAT}: {exc}") from exc
        self.text_lines = _cell_lines(source, len(self.text_nb.cells))
        for cell in self.text_nb.cells:  # a text file has no cell ids: jupytext made these up
            cell.pop("id", None)

    def sync_problems(self) -> List[str]:
        import jupytext

        # The notebook as its text file holds it: what jupytext --sync writes, read back.
        represented = jupytext.reads(jupytext.writes(self.nb, fmt=TEXT_FORMAT, config=self.config),
                                     fmt=TEXT_FORMAT, config=self.config)
        for index, cell in enumerate(represented.cells):  # name the cells as the notebook does
            cell.pop("id", None)
            if len(represented.cells) == len(self.nb.cells) and self.nb.cells[index].get("id"):
                cell["id"] = self.nb.cells[index]["id"]
        problems = [f"{self.notebook}: jupytext's {TEXT_FORMAT} form does not keep it exactly: {difference}"
                    for difference in _compare_cells(self.nb, represented, ("the notebook", "its text form"), nbgrader_only=True)]
        if problems:  # fix this first: the cells of the pair cannot be matched up
            return problems
        sides = (self.notebook.name, self.text.name)
        problems += [f"{self.text}: out of sync with {self.notebook}: {difference}"
                     for difference in _compare_cells(represented, self.text_nb, sides, nbgrader_only=False,
                                                      right_lines=self.text_lines)]
        kernels = [nb.metadata.get("kernelspec") for nb in (represented, self.text_nb)]
        if kernels[0] != kernels[1]:
            problems.append(f"{self.text}: out of sync with {self.notebook}: kernelspec {kernels[0]!r} in {sides[0]}, "
                            f"{kernels[1]!r} in {sides[1]}")
        return problems


def sync_problems(notebook: Path, text: Path) -> List[str]:
    """How the notebook and its text file differ (cell types, sources, cell metadata; never outputs).

    Also refuses a notebook whose cells jupytext's text form cannot hold exactly (a line ``# %%``
    inside a cell would split it), so the pair round-trips every source and all nbgrader metadata.
    """
    try:
        return _Pair(notebook, text).sync_problems()
    except ValueError as exc:
        return [str(exc)]


def check_pair(notebook: Optional[Path] = None, text: Optional[Path] = None) -> List[str]:
    """Problems with the source notebook and its text file; an empty list when all is well.

    The two are in sync (:func:`sync_problems`) and the notebook's nbgrader metadata is valid
    (:func:`metadata_problems`); when the text file differs, its metadata is checked too.
    ``notebook`` defaults to the active pack's, ``text`` to the file jupytext pairs with it.
    """
    notebook = notebook if notebook is not None else source_notebook()
    try:
        pair = _Pair(notebook, paired_text_path(notebook) if text is None else text)
    except ValueError as exc:
        return [str(exc)]
    problems = pair.sync_problems()
    out_of_sync = bool(problems)
    problems += metadata_problems(pair.nb, str(pair.notebook))
    if out_of_sync:
        problems += metadata_problems(pair.text_nb, str(pair.text), pair.text_lines)
    return problems


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.authoring.notebooks",
                                     description="The source notebook and its jupytext text file.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="the .ipynb and its text file are in sync and the nbgrader metadata is valid")
    check.add_argument("notebook", nargs="?", type=Path, help="default: source/<pack>/<pack>.ipynb")
    check.add_argument("text", nargs="?", type=Path, help="default: the file jupytext.toml pairs with the notebook")
    args = parser.parse_args(argv)
    args.notebook = args.notebook or source_notebook()
    problems = check_pair(args.notebook, args.text)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s). Fix them in either file, then sync the pair: jupytext --sync {args.notebook}",
              file=sys.stderr)
        return 1
    nb = nbformat.read(str(args.notebook), as_version=NBFORMAT_VERSION)
    text = args.text or paired_text_path(args.notebook)
    print(f"ok: {args.notebook} and {text} hold the same {len(nb.cells)} cells; "
          f"the metadata of its {len(cell_kinds(nb))} nbgrader cells is valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
