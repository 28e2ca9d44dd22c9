"""The layout of the grading package (ARCHITECTURE.md): an engine that knows no assignment, packs that
say everything about one, no import cycle, and a top level that shows the pipeline."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

from autograder.engine import pack

PACKAGE = Path(__file__).resolve().parent.parent / "autograder"
MAX_TOP_LEVEL_MODULES = 12


def _modules() -> Dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("autograder",) + path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, name: str, known: Set[str]) -> Set[str]:
    """The autograder modules ``path`` imports anywhere (functions too), except under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
               for child in node.body for n in ast.walk(child)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # ``from P import m``: the submodule P.m when there is one, else a name of P's __init__
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import cycle of ``graph`` (module -> modules it imports), or [] (Tarjan-free DFS)."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _import_graph() -> Dict[str, Set[str]]:
    modules = _modules()
    return {name: _imports(path, name, set(modules)) for name, path in modules.items()}


def test_the_package_has_no_import_cycle():
    assert _cycle(_import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_the_engine_imports_no_pack():
    for name, targets in _import_graph().items():
        if not name.startswith("autograder.packs"):
            assert not [t for t in targets if t == "autograder.packs" or t.startswith("autograder.packs.")], name


def test_outside_its_pack_no_file_names_an_assignments_function():
    rnn = pack.load("rnn_lstm")
    names = [f.name for f in rnn.functions] + list(rnn.graded_modules) + list(rnn.extra_modules) + ["cell_functions"]
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    offenders = []
    for path in sorted(PACKAGE.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.is_relative_to(rnn.folder):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{path.relative_to(PACKAGE)}:{n + 1}: {m.group(0)}" for n, line in enumerate(text.splitlines())
                      for m in [pattern.search(line)] if m]
    assert offenders == []


def test_the_top_level_is_small():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    # the entry points, where the repository is, and the command released student repositories run
    assert top == ["__init__.py", "__main__.py", "paths.py", "student_ci.py"]


def test_spec_holds_types_only():
    """spec.py is the vocabulary packs describe their functions in: it imports no module of the package
    (the lookup of a pack's function by name lives in pack.py), so no cycle, not even a lazy one."""
    modules = _modules()
    assert _imports(modules["autograder.engine.spec"], "autograder.engine.spec", set(modules)) == set()
    tree = ast.parse(modules["autograder.engine.spec"].read_text(encoding="utf-8"))
    lazy = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
            and "autograder" in ast.unparse(n)]
    assert lazy == []
