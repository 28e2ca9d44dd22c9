"""What the student-CI bundle holds: the modules ``python -m autograder.student_ci`` imports, nothing else.

The bundle is readable by students (their CI downloads it), so it is an allow-list, derived from
the code itself so that it stays right when the code changes:

- the modules: the import graph of :data:`ROOTS` and the active pack, every ``import`` statement
  followed (at module level and inside functions; not under ``if TYPE_CHECKING``), except into the
  staff-only modules (:func:`staff_only`): the explanation path (localization, counterfactuals,
  explanations), the pack's ``Pack.staff_only`` parts (reference maths of its facts, its mistakes
  catalogue). The student CI never calls into them, and none of them is imported at module level
  from what is bundled (:func:`modules` refuses a bundle that would fail on import);
- the data files those modules read (:data:`DATA`, the pack's rubric);
- ``requirements.txt``: the distributions those modules import, each pinned to the course's
  version (``constraints.txt``, shipped too for their dependencies), so the CI installs only them.

Everything else (solutions/, similarity, classroom, authoring, quality, mutation tools, compiled
files) is left out by not being reached. ``tests/test_bundle.py`` searches the zip for the
solutions' formulas.
"""
from __future__ import annotations

import ast
import importlib.metadata
import re
import stat
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Set, Tuple

from autograder.engine import pack
from autograder.paths import REPO_ROOT

ROOTS = ("autograder.student_ci",)
# Never called by the student CI: localization and the explanations built on it.
EXPLAIN_PATH = ("autograder.engine.explain", "autograder.engine.localize", "autograder.engine.counterfactual")
# Files beside the code that bundled modules read (the pack's rubric is added by data_files()).
DATA = ("autograder/feedback/templates/feedback.md.j2",)
# Modules the sandbox installs under these names itself (autograder/sandbox/confine.py, worker/program.py).
SANDBOX_ALIAS = "_ag_"
ZIP_DATE = (2020, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same zip


def zip_info(name: str, executable: bool = False) -> zipfile.ZipInfo:
    """A zip entry with a fixed date and plain file modes (reproducible bundles)."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((stat.S_IFREG | (0o755 if executable else 0o644)) << 16)
    return info


@dataclass(frozen=True)
class Import:
    """One import statement's target, as seen from a module."""

    name: str  # absolute dotted name (for ``from a import b`` both ``a`` and ``a.b`` are listed)
    in_function: bool  # inside a function body: runs only when that function is called


def module_path(name: str, repo: Path = REPO_ROOT) -> Optional[Path]:
    """The file of module ``name`` in ``repo`` (None: not a module of this repository)."""
    base = repo.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def imports(name: str, repo: Path = REPO_ROOT) -> List[Import]:
    """Every import statement of module ``name`` (relative ones made absolute)."""
    path = module_path(name, repo)
    assert path is not None, name
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: List[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # for type checkers only
            if isinstance(child, ast.Import):
                found.extend(Import(a.name, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(parts + ([child.module] if child.module else []))
                found.append(Import(base, in_function))
                found.extend(Import(f"{base}.{a.name}", in_function) for a in child.names)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def pack_module(active: Optional[pack.Pack] = None) -> str:
    """The module of the active built-in pack (autograder/packs/<name>)."""
    active = active or pack.current()
    return f"autograder.packs.{active.folder.name}"


def staff_only(active: Optional[pack.Pack] = None) -> Tuple[str, ...]:
    """The modules the student CI never imports (and the bundle never holds), with their submodules."""
    active = active or pack.current()
    return EXPLAIN_PATH + tuple(f"{pack_module(active)}.{part}" for part in active.staff_only)


def _is_under(name: str, prefixes: Tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def modules(repo: Path = REPO_ROOT, active: Optional[pack.Pack] = None) -> Dict[str, Path]:
    """module -> file, for every module of this repository the student CI may import."""
    active = active or pack.current()
    left_out = staff_only(active)
    found: Dict[str, Path] = {}
    at_start: Set[str] = set()  # the modules imported when the CI starts (module-level imports all the way)
    # (module, the chain of module-level imports that reached it, or None once a function's import is on it)
    stack: List[Tuple[str, Optional[Tuple[str, ...]]]] = [(r, (r,)) for r in ROOTS + (pack_module(active),)]
    while stack:
        name, chain = stack.pop()
        path = module_path(name, repo)
        if path is None:
            continue  # a name imported from a module (``from a import b``), or not this repository's
        if _is_under(name, left_out):
            if chain is not None:
                raise ValueError(f"the student CI would import {name} when it starts ({' -> '.join(chain)}), "
                                 f"but the student-CI bundle leaves it out: import it inside the function that needs it")
            continue
        if name in at_start or (name in found and chain is None):
            continue
        found[name] = path
        if chain is not None:
            at_start.add(name)
        parents = name.split(".")
        stack.extend((".".join(parents[:i]), chain) for i in range(1, len(parents)))
        for target in imports(name, repo):
            if target.name.split(".")[0] == "autograder":
                stack.append((target.name, None if chain is None or target.in_function else chain + (target.name,)))
    return dict(sorted(found.items()))


def third_party(found: Mapping[str, Path], repo: Path = REPO_ROOT) -> Set[str]:
    """The top-level names of the packages (not the standard library) that ``found`` imports."""
    names = set()
    for name in found:
        for target in imports(name, repo):
            top = target.name.split(".")[0]
            if top and top != "autograder" and top != "__future__" and top not in sys.stdlib_module_names \
                    and not top.startswith(SANDBOX_ALIAS):
                names.add(top)
    return names


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(;.*)?$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _course_requirements(repo: Path) -> Dict[str, Tuple[str, str]]:
    """canonical name -> (name as written, marker) of the course's requirements.txt."""
    found = {}
    for line in (repo / "requirements.txt").read_text(encoding="utf-8").splitlines():
        match = _REQUIREMENT.match(line.split("#", 1)[0]) if line.split("#", 1)[0].strip() else None
        if match:
            found[_canonical(match.group(1))] = (match.group(1), (match.group(3) or "").lstrip(";").strip())
    return found


def _pins(repo: Path) -> Dict[str, str]:
    """canonical name -> version, from the course's constraints.txt."""
    pins = {}
    for line in (repo / "constraints.txt").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if match:
            pins[_canonical(match.group(1))] = match.group(2)
    return pins


def distributions(top_names: Set[str], repo: Path = REPO_ROOT) -> List[str]:
    """The course's requirements that provide ``top_names``, sorted (canonical names)."""
    course = _course_requirements(repo)
    installed = importlib.metadata.packages_distributions()
    wanted = set()
    for top in sorted(top_names):
        candidates = [_canonical(d) for d in installed.get(top, ())] + [_canonical(top)]
        hit = next((c for c in candidates if c in course), None)
        if hit is None:
            raise ValueError(f"the student CI imports {top!r}, which no line of requirements.txt provides")
        wanted.add(hit)
    return sorted(wanted)


def requirements_text(found: Mapping[str, Path], repo: Path = REPO_ROOT) -> str:
    """The bundle's requirements.txt: what ``found`` imports, pinned to the course's versions."""
    course, pins = _course_requirements(repo), _pins(repo)
    lines = ["# What the student CI (python -m autograder.student_ci) imports, pinned to the course's versions;",
             "# constraints.txt (the course's) pins their dependencies. Generated by autograder/integrations/student_bundle.py."]
    for canonical in distributions(third_party(found, repo), repo):
        written, marker = course[canonical]
        if canonical not in pins:
            raise ValueError(f"{written} is not pinned in constraints.txt (run `make constraints`)")
        lines.append(f"{written}=={pins[canonical]}" + (f" ; {marker}" if marker else ""))
    return "\n".join(lines) + "\n"


def data_files(repo: Path = REPO_ROOT, active: Optional[pack.Pack] = None) -> List[Tuple[str, Path]]:
    """(name in the zip, file) of the data the bundled modules read."""
    active = active or pack.current()
    names = list(DATA) + [active.rubric.resolve().relative_to(repo.resolve()).as_posix()]
    return [(n, repo / n) for n in names]


def contents(repo: Path = REPO_ROOT) -> Iterator[Tuple[str, bytes]]:
    """(name in the zip, bytes) of every file of the bundle but the stored examples, sorted by name."""
    found = modules(repo)
    files = {path.relative_to(repo).as_posix(): path for path in found.values()}
    files.update(data_files(repo))
    files["constraints.txt"] = repo / "constraints.txt"
    entries = {name: path.read_bytes() for name, path in files.items()}
    entries["requirements.txt"] = requirements_text(found, repo).encode()
    yield from sorted(entries.items())


def write_bundle(out: Path, data: Mapping[str, bytes], repo: Path = REPO_ROOT) -> List[str]:
    """Write the student-CI zip to ``out`` (atomically): :func:`contents` and ``data`` (the stored
    examples, name in the zip -> bytes). Returns the names it holds."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    names = []
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, payload in list(contents(repo)) + sorted(data.items()):
            archive.writestr(zip_info(name), payload)
            names.append(name)
    tmp.replace(out)
    return names
