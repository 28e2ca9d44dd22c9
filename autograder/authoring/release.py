"""Generate the student release and the reference solutions from ``source/`` (the single source).

``source/<pack>`` → ``assignments/<pack>`` (solutions replaced by stubs, hidden tests removed)
and ``solutions/<pack>`` (markers removed, everything kept). Python files go through
:mod:`autograder.authoring.markers`; notebooks through :mod:`autograder.authoring.notebooks` (nbgrader itself); every
other file is copied byte for byte. Both trees are built in a temporary folder first, so a marker
error in ``source/`` leaves the committed trees as they were.
"""
from __future__ import annotations

import filecmp
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from autograder.authoring.markers import has_markers, release_text, solution_text
from autograder.engine import pack

IGNORED_NAMES = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".hypothesis", ".DS_Store"}
# Files that exist only for the instructor: never released, never in solutions.
INSTRUCTOR_ONLY_SUFFIXES = (".pyc",)

Transform = Callable[[Path, Path, bool], None]


def _python_file(src: Path, dst: Path, release: bool) -> None:
    text = src.read_text(encoding="utf-8")
    name = str(src)
    dst.write_text(release_text(text, name) if release else solution_text(text, name), encoding="utf-8")


def _notebook_file(src: Path, dst: Path, release: bool) -> None:
    from autograder.authoring.notebooks import release_notebook, solution_notebook

    (release_notebook if release else solution_notebook)(src, dst)


def _plain_file(src: Path, dst: Path, release: bool) -> None:
    if src.suffix in {".md", ".txt", ".toml", ".cfg", ".yml", ".yaml"} and has_markers(src.read_text(encoding="utf-8", errors="replace")):
        raise ValueError(f"{src}: nbgrader markers are only processed in .py and .ipynb files")
    shutil.copy2(src, dst)


TRANSFORMS: Dict[str, Transform] = {".py": _python_file, ".ipynb": _notebook_file}


def _source_files(source: Path) -> List[Path]:
    files = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part in IGNORED_NAMES for part in rel.parts) or path.suffix in INSTRUCTOR_ONLY_SUFFIXES:
            continue
        if path.is_file():
            files.append(path)
    return files


def build_tree(source: Path, dest: Path, release: bool) -> None:
    """Write the release (``release=True``) or the solutions of ``source`` into ``dest`` (created)."""
    for src in _source_files(source):
        dst = dest / src.relative_to(source)
        dst.parent.mkdir(parents=True, exist_ok=True)
        TRANSFORMS.get(src.suffix, _plain_file)(src, dst, release)


def _trees(source: Optional[Path], release_dir: Optional[Path], solutions_dir: Optional[Path]) -> Tuple[Path, Path, Path]:
    """The three trees, the active pack's where not given."""
    active = pack.current()
    found = (source or active.source_dir, release_dir or active.release_dir, solutions_dir or active.reference_dir)
    if found[0] is None or found[1] is None:
        raise ValueError(f"the {active.name} pack has no source/ tree to release")
    return found  # type: ignore[return-value]


def generate(source: Optional[Path] = None, release_dir: Optional[Path] = None, solutions_dir: Optional[Path] = None) -> None:
    """Regenerate both trees (default: the active pack's); on any error the existing trees are left untouched."""
    source, release_dir, solutions_dir = _trees(source, release_dir, solutions_dir)
    if not source.is_dir():
        raise FileNotFoundError(f"source folder not found: {source}")
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        staged = {release_dir: Path(tmp) / "release", solutions_dir: Path(tmp) / "solutions"}
        build_tree(source, staged[release_dir], release=True)
        build_tree(source, staged[solutions_dir], release=False)
        for final, built in staged.items():
            if final.exists():
                shutil.rmtree(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(built, final)


def differences(expected: Path, actual: Path) -> List[str]:
    """Relative paths that differ between two trees (missing, extra or changed files)."""
    out: List[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        out.extend(f"missing: {prefix}{name}" for name in cmp.left_only if name not in IGNORED_NAMES)
        out.extend(f"extra: {prefix}{name}" for name in cmp.right_only if name not in IGNORED_NAMES)
        out.extend(f"changed: {prefix}{name}" for name in cmp.diff_files)
        for name, sub in cmp.subdirs.items():
            if name not in IGNORED_NAMES:
                walk(sub, f"{prefix}{name}/")

    if not actual.is_dir():
        return [f"missing tree: {actual}"]
    cmp = filecmp.dircmp(expected, actual, ignore=sorted(IGNORED_NAMES))
    # dircmp compares shallowly by stat; compare contents for an honest answer.
    walk(cmp, "")
    for rel in [p.relative_to(expected) for p in _source_files(expected)]:
        other = actual / rel
        if other.is_file() and not filecmp.cmp(expected / rel, other, shallow=False):
            line = f"changed: {rel.as_posix()}"
            if line not in out:
                out.append(line)
    return sorted(set(out))


def check(source: Optional[Path] = None, release_dir: Optional[Path] = None, solutions_dir: Optional[Path] = None) -> List[str]:
    """Regenerate into a temporary folder and list how the committed trees differ from it."""
    source, release_dir, solutions_dir = _trees(source, release_dir, solutions_dir)
    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        fresh_release, fresh_solutions = Path(tmp) / "release", Path(tmp) / "solutions"
        build_tree(source, fresh_release, release=True)
        build_tree(source, fresh_solutions, release=False)
        return [f"assignments: {d}" for d in differences(fresh_release, release_dir)] + [
            f"solutions: {d}" for d in differences(fresh_solutions, solutions_dir)
        ]
