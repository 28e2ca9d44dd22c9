"""Similarity of a class's submissions, with known solutions, for a TA to look at (never a verdict).

``compare_class(SUBMISSIONS, against=[...])`` is what ``python -m autograder similarity`` runs:

- every student (found as :func:`autograder.classroom.batch.discover` finds them) becomes one document: the
  graded modules, in a fixed order, one after the other; nothing else in the folder is read;
- every ``--against`` path is one known solution (a folder laid out as a student's, or a bare
  ``.py`` file), or a folder of them (each subfolder or ``.py`` file in it one solution, as a set
  of cloned public solutions comes); known solutions are compared with every student, never
  with each other;
- each document is tokenized and fingerprinted by copydetect (pygments tokens, every name
  replaced by one letter, comments, docstrings and whitespace dropped, strings collapsed, see
  :func:`normalise`; k-grams of tokens),
  after removing every k-gram of the released skeleton (its docstrings, signatures and helpers)
  as boilerplate;
- a pair's similarity, per side, is the share of that side's remaining tokens that lie in a
  k-gram the other side also has (copydetect's measure);
- the side-by-side view highlights only code the two sides share that was not handed out: never
  a comment, a docstring or whitespace (no tokens), nor text of the released skeleton (its
  signatures, imports and helpers: the characters its k-grams cover), which is shown dimmed
  (:func:`shown_regions`).

We use copydetect's :class:`~copydetect.CodeFingerprint` (tokens, k-gram hashes, boilerplate)
and :func:`~copydetect.compare_files` (shared regions) rather than its ``CopyDetector``: the
detector compares files, not submissions (one module of one student with another module of
another), cannot keep known solutions from being compared with each other, reads files from disk
with no place to report a binary or unreadable one, and opens a web browser. Its fingerprinting
and comparison are what we need, used on our own pairing; :func:`measure` computes
``compare_files``' numbers with whole-array numpy for speed (tests check they agree).

Tokens are copydetect's: characters of the normalised code, so a name counts as one and ``@`` as
one, while ``np.zeros_like(`` counts as five (``V.V(`` plus the opening bracket's own one).
"""
from __future__ import annotations

import io
import itertools
import multiprocessing
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from autograder.classroom.batch import IGNORED_FOLDERS, BatchInputError, _module_dir, discover
from autograder.classroom.jobs import SYMLINK, module_files, read_modules
from autograder.engine import pack

# Shortest run of normalised code, in tokens, that counts as shared. copydetect's default (25):
# long enough that ``V = V.V(V)`` idioms every solution has do not count on their own.
NOISE_TOKENS = 25
# Winnowing window 1 keeps every k-gram: the numbers do not depend on Python's per-process hash
# seed, so a rerun (or a parallel run) gives the same report, and the cost is small at this size.
WINDOW = 1
# Pairs below this similarity (on both sides) are left out of the report.
FLOOR = 0.25
VIEWS = 200  # pairs shown side by side (the first, in rank order); every pair is listed
MAX_BYTES = 1_000_000  # a graded module larger than this is left out (listed), not tokenized
KNOWN_PREFIX = "known:"


class SimilarityInputError(BatchInputError):
    """The comparison cannot start: no such submissions folder or known solution."""


@dataclass(frozen=True)
class Document:
    """One side of a comparison: a student's graded modules, or a known solution.

    ``text`` is the modules one after the other, each under a ``# ==== name ====`` comment line
    (dropped by tokenization), so a highlighted region can be shown in its file.
    """

    id: str
    text: str
    known: bool = False
    files: Tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Problem:
    """Input that could not be compared (in whole or part), and why."""

    id: str
    reason: str


@dataclass
class Pair:
    """A compared pair above the floor. ``b`` is the known solution when one side is.

    ``similarity_a`` is the share (0..1) of a's tokens that it shares with b, and conversely;
    ``tokens`` the number of a's tokens in shared regions. ``slices_a``/``slices_b`` are the regions
    to highlight, as (2, M) arrays of character offsets into each document's ``text`` (starts,
    ends): the shared code that was not handed out (:func:`shown_regions`).
    """

    a: str
    b: str
    similarity_a: float
    similarity_b: float
    tokens: int
    b_known: bool
    slices_a: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((2, 0), dtype=int))
    slices_b: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((2, 0), dtype=int))

    @property
    def score(self) -> float:
        """What pairs are ranked by: the larger of the two sides' similarities."""
        return max(self.similarity_a, self.similarity_b)


@dataclass
class SimilarityReport:
    """The result of :func:`compare_class`; ``pairs`` is ranked, highest score first."""

    documents: Dict[str, Document]
    pairs: List[Pair]
    problems: List[Problem]
    compared: int
    floor: float
    noise_tokens: int
    seconds: float = 0.0
    views: int = VIEWS  # the first ``views`` pairs carry their shared regions
    # The released skeleton's text in each document shown side by side, as (2, M) slices (see Pair).
    given: Dict[str, np.ndarray] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading


def _decode(owner: str, name: str, data: bytes, problems: List[Problem]) -> Optional[str]:
    """The text of one module, or None with the reason appended to ``problems``."""
    if data.startswith(SYMLINK):
        problems.append(Problem(owner, f"{name} is a symbolic link; not followed, left out"))
    elif len(data) > MAX_BYTES:
        problems.append(Problem(owner, f"{name} is larger than {MAX_BYTES // 1_000_000} MB; left out"))
    elif b"\0" in data:
        problems.append(Problem(owner, f"{name} is a binary file, not Python source; left out"))
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problems.append(Problem(owner, f"{name} is not UTF-8 text (byte {exc.start}); left out"))
    return None


def make_document(owner: str, files: Dict[str, bytes], problems: List[Problem], known: bool = False,
                  source: str = "") -> Optional[Document]:
    """A :class:`Document` from module bytes by file name, or None (and a problem) if nothing is left."""
    parts, names = [], []
    for name, data in files.items():
        text = _decode(owner, name, data, problems)
        if text is not None and text.strip():
            parts.append(f"# ==== {name} ====\n{text.rstrip()}\n")
            names.append(name)
    if not parts:
        if files:
            problems.append(Problem(owner, "empty submission: no graded module with any code; not compared"))
        return None
    return Document(owner, "\n".join(parts), known, tuple(names), source)


def read_students(submissions: Path, exclude: Iterable[Path] = ()) -> Tuple[List[Document], List[Problem]]:
    """One document per student in ``submissions`` (as grade-all finds them), and the problems met.

    Raises :class:`BatchInputError` when the folder is missing or holds no student folder.
    """
    students, warnings = discover(Path(submissions), exclude=exclude)
    problems = [Problem("(submissions folder)", w) for w in warnings]
    documents = []
    for student in students:
        if student.module_dir is None:
            problems.append(Problem(student.id, f"{student.problem}; not compared"))
            continue
        try:
            files = read_modules(student.module_dir)
        except OSError as exc:
            problems.append(Problem(student.id, f"cannot read the submission: {exc.strerror or exc}; not compared"))
            continue
        document = make_document(student.id, files, problems, source=str(student.module_dir))
        if document is not None:
            documents.append(document)
    return documents, problems


SEARCH_DEPTH = 4  # how deep a known solution's graded modules may sit in its folder (a cloned repository)


def find_module_dir(folder: Path, depth: int = SEARCH_DEPTH) -> Optional[Path]:
    """The shallowest folder in ``folder`` (itself included, at most ``depth`` levels down, hidden
    folders skipped) holding a graded module; the first in name order among equals; or None."""
    level = [folder]
    for _ in range(depth + 1):
        for candidate in level:
            if any((candidate / name).is_file() for name in module_files()):
                return candidate
        level = [child for candidate in level for child in sorted(candidate.iterdir())
                 if child.is_dir() and not child.name.startswith(".") and child.name not in IGNORED_FOLDERS]
    return None


def known_paths(paths: Sequence[Path]) -> Tuple[List[Tuple[str, Path]], List[Problem]]:
    """``(name, path)`` of every known solution the ``--against`` paths give, and the problems met.

    A folder holding graded modules (at its top or in ``<assignment>/``), or a ``.py`` file, is one
    solution named after it. Any other folder is a collection: each of its subfolders (its graded
    modules found by :func:`find_module_dir`) and ``.py`` files is one solution, named
    ``<folder>/<entry>``; a subfolder without any graded module is a problem, listed. Raises
    :class:`SimilarityInputError` for a path that does not exist, is another kind of file, or is
    a folder giving no solution at all.
    """
    found: List[Tuple[str, Path]] = []
    problems: List[Problem] = []
    for path in map(Path, paths):
        name = path.resolve().name or str(path)
        if path.is_file() and path.suffix == ".py" or path.is_dir() and _module_dir(path) is not None:
            found.append((name, path))
        elif path.is_dir():
            given = 0
            for entry in sorted(path.iterdir()):
                if entry.name.startswith(".") or entry.name in IGNORED_FOLDERS:
                    continue
                if entry.is_file() and entry.suffix == ".py" or entry.is_dir() and find_module_dir(entry) is not None:
                    found.append((f"{name}/{entry.name}", entry))
                    given += 1
                elif entry.is_dir():
                    problems.append(Problem(KNOWN_PREFIX + f"{name}/{entry.name}",
                                            f"--against {path}: {entry.name}/ holds no graded module "
                                            f"({', '.join(module_files())}); not compared"))
            if not given:
                raise SimilarityInputError(
                    f"--against {path}: no graded module ({', '.join(module_files())}) in it, and no subfolder or "
                    ".py file holding one (give a known solution, or a folder with one known solution per subfolder or .py file)")
        elif path.exists():
            raise SimilarityInputError(f"--against {path}: expected a folder of modules, a .py file, or a folder of those")
        else:
            raise SimilarityInputError(f"--against {path}: no such file or folder")
    return found, problems


def read_known(paths: Sequence[Path]) -> Tuple[List[Document], List[Problem]]:
    """One document per known solution of :func:`known_paths`.

    Ids are ``known:<name>`` (with ``-2``, ``-3`` ... when names repeat). Raises
    :class:`SimilarityInputError` as :func:`known_paths` does.
    """
    documents: List[Document] = []
    found, problems = known_paths(paths)
    taken: Dict[str, int] = {}
    for name, path in found:
        taken[name] = taken.get(name, 0) + 1
        owner = KNOWN_PREFIX + name + (f"-{taken[name]}" if taken[name] > 1 else "")
        if path.is_dir():
            module_dir = _module_dir(path) or find_module_dir(path)
            assert module_dir is not None  # known_paths checked
            try:
                files = read_modules(module_dir)
            except OSError as exc:
                problems.append(Problem(owner, f"cannot read {path}: {exc.strerror or exc}; not compared"))
                continue
        else:
            try:
                files = {path.name: path.read_bytes()}
            except OSError as exc:
                problems.append(Problem(owner, f"cannot read {path}: {exc.strerror or exc}; not compared"))
                continue
        document = make_document(owner, files, problems, known=True, source=str(path))
        if document is not None:
            documents.append(document)
    return documents, problems


def skeleton_text(release: Optional[Path] = None) -> str:
    """The released skeleton's graded modules, one after the other (the boilerplate); ``release``
    defaults to the active pack's student release."""
    release = release if release is not None else pack.current().release_dir
    assert release is not None, "the pack has no student release"
    return "\n".join((release / name).read_text(encoding="utf-8") for name in module_files() if (release / name).is_file())


# --------------------------------------------------------------------------- comparing


def boilerplate_hashes(text: str, noise_tokens: int = NOISE_TOKENS) -> np.ndarray:
    """Every k-gram hash of ``text`` (copydetect's boilerplate list)."""
    from copydetect import CodeFingerprint

    if not text.strip():
        return np.array([], dtype=np.int64)
    hashes = CodeFingerprint("skeleton.py", noise_tokens, 1, language="python", fp=io.StringIO(normalise(text)[0])).hashes
    return np.unique(np.array(sorted(hashes)))


# A docstring as pygments' Python lexer finds one (a triple-quoted string that starts a line), or
# an ``@`` directly followed by a name.
_NORMALISE = re.compile(r'^[ \t]*[rRuUbB]{0,2}("""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\')|@(?=\w)', re.MULTILINE)


def normalise(text: str) -> Tuple[str, np.ndarray]:
    """``text`` prepared for copydetect, and for each of its characters the index it came from in ``text``.

    Two things copydetect's pygments filter would otherwise get wrong:

    - docstrings are dropped: copydetect keeps one as a string token, so a removed docstring
      would break every k-gram across it;
    - ``a@b`` lexes as a decorator ``@b``, kept verbatim, while ``a @ b`` is an operator and a
      name: a space is put after every ``@`` so the two spellings give the same tokens.

    A regular expression, not a second pass of the lexer: lexing is most of the time a
    comparison takes, and the two agree on what a docstring is.
    """
    parts: List[str] = []
    origin: List[np.ndarray] = []
    done = 0
    for match in _NORMALISE.finditer(text):
        parts.append(text[done:match.start()])
        origin.append(np.arange(done, match.start()))
        if match.group(1) is None:  # "@" -> "@ "
            parts.append("@ ")
            origin.append(np.array([match.start(), match.start()]))
        done = match.end()
    parts.append(text[done:])
    origin.append(np.arange(done, len(text)))
    return "".join(parts), np.concatenate(origin).astype(int)


@dataclass
class Fingerprint:
    """copydetect's CodeFingerprint of a normalised document, and where its characters came from.

    ``hashes``/``starts``: every kept k-gram's hash and start (in the normalised tokens), as
    arrays, sorted by hash, for :func:`measure`; ``unique`` the distinct hashes.
    """

    code: Any
    positions: np.ndarray
    hashes: np.ndarray
    starts: np.ndarray
    unique: np.ndarray


def fingerprint(document: Document, boilerplate: np.ndarray, noise_tokens: int = NOISE_TOKENS) -> Fingerprint:
    """The fingerprint of a document (Python tokens, no docstrings), boilerplate k-grams removed."""
    from copydetect import CodeFingerprint

    text, positions = normalise(document.text)
    code = CodeFingerprint(f"{document.id}.py", noise_tokens, WINDOW, boilerplate=boilerplate,
                           language="python", fp=io.StringIO(text))
    hashes = np.array([h for h, where in code.hash_idx.items() for _ in where], dtype=np.int64)
    starts = np.array([i for where in code.hash_idx.values() for i in where], dtype=np.int64)
    order = np.argsort(hashes, kind="stable")
    return Fingerprint(code, positions, hashes[order], starts[order], np.unique(hashes))


def measure(first: Fingerprint, second: Fingerprint) -> Tuple[int, float, float]:
    """``(tokens, similarity_first, similarity_second)``: the numbers of copydetect's ``compare_files``.

    Computed with whole-array numpy operations: ``compare_files`` builds one array per shared
    k-gram, about 7 ms for a pair of near-copies, 35 s for the 5,000 pairs of a 100-student class.
    :func:`compare` (copydetect itself) gives the same numbers and the regions to highlight.
    """
    from copydetect.utils import get_copied_slices

    shared = np.intersect1d(first.unique, second.unique, assume_unique=True)
    if shared.size == 0:
        return 0, 0.0, 0.0
    result = []
    for side in (first, second):
        found = np.minimum(np.searchsorted(shared, side.hashes), shared.size - 1)
        starts = side.starts[shared[found] == side.hashes]
        slices = get_copied_slices(starts, side.code.k)
        tokens = int(np.sum(slices[1] - slices[0]))
        result.append((tokens, tokens / side.code.token_coverage if side.code.token_coverage else 0.0))
    return result[0][0], float(result[0][1]), float(result[1][1])


def _to_original(slices: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Slices (starts; ends) in normalised text -> the same regions in the original text."""
    if slices.size == 0 or positions.size == 0:
        return np.zeros((2, 0), dtype=int)
    starts = positions[np.clip(slices[0], 0, positions.size - 1)]
    ends = positions[np.clip(slices[1] - 1, 0, positions.size - 1)] + 1
    return np.vstack([starts, ends]).astype(int)


def compare(first: Fingerprint, second: Fingerprint) -> Tuple[int, float, float, np.ndarray, np.ndarray]:
    """``(tokens, similarity_first, similarity_second, slices_first, slices_second)`` of two fingerprints.

    Slices are (2, M) arrays of starts and ends, character offsets into each original text.
    """
    from copydetect import compare_files

    tokens, (sim1, sim2), (slices1, slices2) = compare_files(first.code, second.code)
    return (int(tokens), float(sim1), float(sim2),
            _to_original(np.asarray(slices1), first.positions), _to_original(np.asarray(slices2), second.positions))


def code_mask(text: str) -> np.ndarray:
    """For each character of ``text``, whether it belongs to a token copydetect compares: not
    whitespace, not a comment, not a docstring (pygments' Python lexer, on :func:`normalise`'s text)."""
    from pygments.lexers import PythonLexer
    from pygments.token import Comment, Text

    normal, positions = normalise(text)
    mask = np.zeros(len(text), dtype=bool)
    for index, kind, value in PythonLexer().get_tokens_unprocessed(normal):
        if value and kind not in Text and kind not in Comment:
            mask[positions[index:index + len(value)]] = True
    return mask


def given_slices(print_: Fingerprint, boilerplate: np.ndarray) -> np.ndarray:
    """Where a document holds text of the released skeleton: the characters covered by its k-grams
    that are boilerplate (which its fingerprint left out), as (2, M) slices of the original text."""
    from copydetect.utils import get_copied_slices, hashed_kgrams

    code = print_.code
    if boilerplate.size == 0 or len(code.filtered_code) < code.k:
        return np.zeros((2, 0), dtype=int)
    starts = np.flatnonzero(np.isin(np.asarray(hashed_kgrams(code.filtered_code, code.k)), boilerplate))
    if starts.size == 0:
        return np.zeros((2, 0), dtype=int)
    slices = get_copied_slices(starts, code.k).astype(int)
    slices[1] -= 1  # last characters, not ends: an end would map past the whitespace (and docstring) after it
    if len(code.offsets) > 0:  # filtered -> normalised text, as copydetect's compare_files maps slices
        offsets = np.asarray(code.offsets)
        slices = slices + offsets[:, 1][np.clip(np.searchsorted(offsets[:, 0], slices), 0, offsets.shape[0] - 1)]
    slices[1] += 1
    return _to_original(slices, print_.positions)


def _mask(slices: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    for start, end in np.asarray(slices, dtype=int).T:
        mask[max(0, start):max(0, end)] = True
    return mask


def _slices(mask: np.ndarray) -> np.ndarray:
    """The runs of True in ``mask`` as (2, M) slices."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.vstack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)]).astype(int)


def shown_regions(text: str, shared: np.ndarray, given: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """What the side-by-side view marks in ``text``: the ``shared`` slices, and the ``given`` ones
    (the skeleton's), each less whitespace, comments and docstrings (:func:`code_mask`); shared
    less given. Returns (shared, given) as (2, M) slices."""
    code = code_mask(text)
    handed_out = _mask(given, len(text)) & code
    return _slices(_mask(shared, len(text)) & code & ~handed_out), _slices(handed_out)


def pairs_to_compare(documents: Sequence[Document]) -> List[Tuple[int, int]]:
    """Index pairs: every two students, and every student with every known solution (known second)."""
    students = [i for i, d in enumerate(documents) if not d.known]
    known = [i for i, d in enumerate(documents) if d.known]
    return list(itertools.combinations(students, 2)) + [(s, k) for s in students for k in known]


# Set in the parent before forking, read by the workers (fork shares them, and the hash seed).
_SHARED: Dict[str, object] = {}


def _fingerprint_one(index: int) -> Fingerprint:
    return fingerprint(_SHARED["documents"][index], _SHARED["boilerplate"], _SHARED["noise"])  # type: ignore[index]


def _compare_chunk(chunk: Sequence[Tuple[int, int]]) -> List[Tuple[int, int, int, float, float]]:
    prints, floor = _SHARED["prints"], _SHARED["floor"]
    found = []
    for i, j in chunk:
        tokens, sim_i, sim_j = measure(prints[i], prints[j])  # type: ignore[index]
        if tokens and max(sim_i, sim_j) >= floor:  # type: ignore[operator]
            found.append((i, j, tokens, sim_i, sim_j))
    return found


def _pool(jobs: int) -> Optional[object]:
    """A fork pool of ``jobs`` workers, or None to work here (one job, or no fork on this system).

    Fork, not spawn: a worker must share this process's hash seed (copydetect hashes k-grams with
    Python's ``hash``) and sees the fingerprints without pickling them.
    """
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork").Pool(jobs)


def compare_documents(documents: Sequence[Document], *, boilerplate: np.ndarray, floor: float = FLOOR,
                      noise_tokens: int = NOISE_TOKENS, jobs: int = 1, views: int = VIEWS,
                      given: Optional[Dict[str, np.ndarray]] = None) -> Tuple[List[Pair], int]:
    """The pairs of :func:`pairs_to_compare` whose score reaches ``floor``, ranked; and how many were compared.

    The first ``views`` pairs carry the regions to highlight (``slices_a``, ``slices_b``:
    :func:`shown_regions`); the rest have empty slices (they are listed, not shown side by side).
    ``given``, when passed, receives the skeleton text of each document shown (:func:`given_slices`).
    """
    todo = pairs_to_compare(documents)
    _SHARED.update(documents=list(documents), boilerplate=boilerplate, noise=noise_tokens, floor=floor)
    try:
        pool = _pool(min(jobs, max(1, len(todo))))
        if pool is None:
            prints = [_fingerprint_one(i) for i in range(len(documents))]
            _SHARED["prints"] = prints
            found = _compare_chunk(todo)
        else:
            with pool:  # type: ignore[attr-defined]
                prints = pool.map(_fingerprint_one, range(len(documents)))  # type: ignore[attr-defined]
            _SHARED["prints"] = prints
            size = max(1, len(todo) // (jobs * 8))
            with _pool(jobs) as pool:  # type: ignore[union-attr] - a fresh fork sees the prints
                chunks = pool.map(_compare_chunk, [todo[k:k + size] for k in range(0, len(todo), size)])
            found = [hit for chunk in chunks for hit in chunk]
        found.sort(key=lambda f: (-max(f[3], f[4]), -f[2], documents[f[0]].id, documents[f[1]].id))
        pairs = []
        handed_out: Dict[int, np.ndarray] = {}
        shown: Dict[int, np.ndarray] = {}
        for rank, (i, j, tokens, sim_i, sim_j) in enumerate(found):
            pair = Pair(documents[i].id, documents[j].id, sim_i, sim_j, tokens, documents[j].known)
            if rank < views:
                _, _, _, shared_i, shared_j = compare(prints[i], prints[j])  # type: ignore[arg-type]
                for k in (i, j):
                    if k not in handed_out:
                        handed_out[k] = given_slices(prints[k], boilerplate)  # type: ignore[arg-type]
                pair.slices_a, shown[i] = shown_regions(documents[i].text, shared_i, handed_out[i])
                pair.slices_b, shown[j] = shown_regions(documents[j].text, shared_j, handed_out[j])
            pairs.append(pair)
        if given is not None:
            given.update({documents[k].id: slices for k, slices in shown.items()})
    finally:
        _SHARED.clear()
    return pairs, len(todo)


def compare_class(submissions: Path, *, against: Sequence[Path] = (), exclude: Iterable[Path] = (),
                  floor: float = FLOOR, noise_tokens: int = NOISE_TOKENS, jobs: int = 1,
                  skeleton: Optional[str] = None, views: int = VIEWS) -> SimilarityReport:
    """Compare every student in ``submissions`` with every other and with each known solution.

    ``skeleton``: the boilerplate text (default: the released skeleton's graded modules).
    Raises :class:`BatchInputError` (or its subclass :class:`SimilarityInputError`) on bad
    arguments, before any work; bad submissions are listed in ``problems`` instead.
    """
    if not 0 < floor <= 1:
        raise SimilarityInputError(f"the floor must be in (0, 1], got {floor}")
    start = time.perf_counter()
    known, known_problems = read_known(against)
    students, problems = read_students(Path(submissions), exclude=exclude)
    documents = students + known
    boilerplate = boilerplate_hashes(skeleton_text() if skeleton is None else skeleton, noise_tokens)
    given: Dict[str, np.ndarray] = {}
    pairs, compared = compare_documents(documents, boilerplate=boilerplate, floor=floor, noise_tokens=noise_tokens,
                                        jobs=max(1, jobs), views=views, given=given)
    return SimilarityReport({d.id: d for d in documents}, pairs, problems + known_problems, compared, floor,
                            noise_tokens, time.perf_counter() - start, views, given)


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
