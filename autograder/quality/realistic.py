"""The realistic corpus: bugs a student wrote, graded like the mutants (``make mutation``).

The corpus (``tests/realistic/``) was written by someone who saw only the student release: a correct
submission of their own (``base/``), correct submissions in other styles (``correct/<name>/``, each
the graded modules in full), and single bugs (``bugs/<name>/``: the one module that differs from
``base/`` and a ``bug.toml`` with ``function``, ``module``, ``kind``, ``truth`` and ``wrong_outputs``,
false when the outputs are right and the bug only changes an input in place).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

from autograder.engine import pack
from autograder.paths import REPO_ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli is the same parser, backported
    import tomli as tomllib

CORPUS = REPO_ROOT / "tests" / "realistic"


class CorpusError(Exception):
    """The corpus folder is not laid out as this module expects (the message names the problem)."""


@dataclass(frozen=True)
class Bug:
    """One bug of the corpus: its module replaces the base's."""

    name: str
    function: str
    module: str  # the file name of the graded module it replaces
    kind: str
    truth: str
    wrong_outputs: bool
    folder: Path


def _graded_files() -> List[str]:
    return [f"{m}.py" for m in pack.current().graded_modules]


def base(corpus: Path = CORPUS) -> Path:
    folder = corpus / "base"
    missing = [f for f in _graded_files() if not (folder / f).is_file()]
    if missing:
        raise CorpusError(f"{folder} lacks {', '.join(missing)}")
    return folder


def bugs(corpus: Path = CORPUS) -> List[Bug]:
    """Every bug of the corpus, by name."""
    found = []
    for folder in sorted(p for p in (corpus / "bugs").iterdir() if p.is_dir()):
        meta_path = folder / "bug.toml"
        try:
            meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CorpusError(f"{meta_path}: {exc}") from exc
        missing = [k for k in ("function", "module", "kind", "truth", "wrong_outputs") if k not in meta]
        if missing:
            raise CorpusError(f"{meta_path} lacks {', '.join(missing)}")
        if not (folder / meta["module"]).is_file():
            raise CorpusError(f"{folder} has no {meta['module']} (named in its bug.toml)")
        found.append(Bug(folder.name, str(meta["function"]), str(meta["module"]), str(meta["kind"]),
                         str(meta["truth"]), bool(meta["wrong_outputs"]), folder))
    return found


def correct(corpus: Path = CORPUS) -> List[Path]:
    """The correct submissions in other styles."""
    return sorted(p for p in (corpus / "correct").iterdir() if p.is_dir())


def assemble(dest: Path, modules: Dict[str, Path]) -> Path:
    """A submission folder at ``dest``: the base's graded modules, with ``modules`` (file name -> file)
    replacing some of them."""
    dest.mkdir(parents=True, exist_ok=True)
    source = base()
    for name in _graded_files():
        shutil.copyfile(modules.get(name, source / name), dest / name)
    return dest


def submission(bugs_: Sequence[Bug], dest: Path) -> Path:
    """The base with every bug of ``bugs_`` (at most one per module) in place, at ``dest``."""
    modules: Dict[str, Path] = {}
    for bug in bugs_:
        if bug.module in modules:
            raise CorpusError(f"two bugs in {bug.module}: a combination takes one bug per module")
        modules[bug.module] = bug.folder / bug.module
    return assemble(dest, modules)


__all__ = ["Bug", "CorpusError", "CORPUS", "base", "bugs", "correct", "assemble", "submission"]
