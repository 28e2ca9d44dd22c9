"""The reference's answers to the inputs a function's tests run, kept on disk beside the recorded draws.

Every grading judges the same recorded draws (:mod:`autograder.engine.draws`), so it would compute
the reference's answer to the same inputs again each time. :func:`kept` keeps them: one file per
graded function under ``<cache>/reference_answers`` (``AUTOGRADER_CACHE`` or ``.cache``, the folder
of the draws), named by a hash of what the answers depend on (the pack, the function, the
reference's source, numpy's version), each answer keyed by a hash of its inputs' content
(:func:`digest`). An answer not kept yet is computed and added; a file that cannot be read or
written only costs time.

Who may read them: the answers to the marking draws are a lookup table for anyone who can read
them, so they are kept where the reference is. Gradescope's ``setup.sh`` records them with the draws
(``python -m autograder draws``) inside the bundle's folder, which ``run_autograder`` closes to all
but root, as it does the reference; the student-CI bundle never carries them (it holds no
``.cache``, and leaves out any ``reference_answers`` folder: ``tests/test_bundle.py``).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np

from autograder.engine import pack
from autograder.paths import REPO_ROOT

FOLDER = "reference_answers"  # (the student-CI bundle leaves out any folder of this name)
ANSWERS_DIR = Path(os.environ.get("AUTOGRADER_CACHE") or REPO_ROOT / ".cache") / FOLDER

Named = Dict[str, np.ndarray]
# Answers kept per function at most: a class's gradings add the inputs their rejected examples drew,
# so a file would otherwise grow with every kind of bug; past this, new answers are computed each time.
MAX_KEPT = 2000


class _Unhashable(Exception):
    """An input whose content :func:`digest` does not know how to hash: its answer is not kept."""


def _feed(value: Any, h: Any) -> None:
    """Feed ``value``'s type, structure and content to the hash ``h``."""
    if isinstance(value, np.ndarray):
        h.update(b"a" + str(value.dtype).encode() + repr(value.shape).encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        h.update(b"d%d" % len(value))
        for key in sorted(value, key=repr):
            _feed(key, h)
            _feed(value[key], h)
    elif isinstance(value, (list, tuple)):
        h.update((b"l" if isinstance(value, list) else b"t") + b"%d" % len(value))
        for item in value:
            _feed(item, h)
    elif value is None or isinstance(value, (bool, int, float, str, np.generic)):
        h.update(type(value).__name__.encode() + b":" + repr(value).encode() + b";")
    else:
        raise _Unhashable(type(value).__name__)


def digest(function: str, inputs: Any) -> str:
    """A hash of the function's name and its inputs' content (arrays by dtype, shape and bytes)."""
    h = hashlib.blake2b(function.encode() + b"\0", digest_size=20)
    _feed(inputs, h)
    return h.hexdigest()


_sources: Dict[str, str] = {}


def _reference_hash() -> str:
    active = pack.current()
    if active.name not in _sources:
        files = sorted(active.reference_dir.glob("*.py"))
        _sources[active.name] = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    return _sources[active.name]


def path_for(function: str) -> Path:
    """The file of ``function``'s answers (its name changes with the reference's code and numpy)."""
    parts = [pack.current().name, function, _reference_hash(), np.__version__]
    return ANSWERS_DIR / (hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32] + ".npz")


class Answers:
    """The kept answers of one function: :meth:`get` answers from them or computes and adds."""

    def __init__(self, path: Optional[Path]) -> None:
        self.path = path
        self.known: Dict[str, Named] = _load(path) if path is not None else {}
        self.added = 0

    def get(self, function: str, inputs: Any, compute: Callable[[], Named]) -> Named:
        try:
            key = digest(function, inputs)
        except _Unhashable:
            return compute()
        found = self.known.get(key)
        if found is None:
            found = compute()
            if len(self.known) < MAX_KEPT:
                self.known[key] = found
                self.added += 1
        return {name: value.copy() for name, value in found.items()}

    def save(self) -> None:
        """Write the answers if some were added (atomically; a cache that cannot be written costs time only)."""
        if self.path is None or not self.added:
            return
        index, chunks, offset = {}, [], 0
        for key, named in self.known.items():
            entry = []
            for name, value in named.items():
                flat = np.asarray(value, dtype=np.float64).ravel()
                entry.append([name, list(value.shape), offset])
                chunks.append(flat)
                offset += flat.size
            index[key] = entry
        data = np.concatenate(chunks) if chunks else np.zeros(0)
        header = np.frombuffer(json.dumps(index).encode("utf-8"), dtype=np.uint8)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("wb", dir=self.path.parent, suffix=".tmp", delete=False) as out:
                np.savez(out, index=header, data=data)
            os.replace(out.name, self.path)
        except OSError:
            pass
        self.added = 0


def _load(path: Path) -> Dict[str, Named]:
    try:
        with np.load(path, allow_pickle=False) as stored:
            index = json.loads(bytes(stored["index"]).decode("utf-8"))
            data = stored["data"]
        known: Dict[str, Named] = {}
        for key, entry in index.items():
            named = {}
            for name, shape, offset in entry:
                size = int(np.prod(shape, dtype=np.int64))
                if offset < 0 or offset + size > data.size:
                    raise ValueError("an answer outside the data")
                named[str(name)] = data[offset:offset + size].reshape(shape)
            known[str(key)] = named
        return known
    except Exception:  # noqa: BLE001 - damaged or foreign: computed again
        return {}


_current: Optional[Answers] = None


def current() -> Optional[Answers]:
    """The answers kept for the function being graded (None: compute every answer)."""
    return _current


@contextmanager
def kept(function: str) -> Iterator[Answers]:
    """Within it, :func:`autograder.engine.reference.expected` answers from ``function``'s kept answers
    (and adds those it computes); they are written when it ends."""
    global _current
    saved, _current = _current, Answers(path_for(function))
    try:
        yield _current
    finally:
        answers, _current = _current, saved
        answers.save()
