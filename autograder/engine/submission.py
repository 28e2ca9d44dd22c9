"""Load and validate a submission directory without running any of it.

Each graded module is read and ``compile()``d in the grader (compiling executes nothing), so a
SyntaxError is reported with its file and line, and the top-level names it defines are read from
the AST, so a missing function is named before the worker starts ("step_backward is missing").
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Set

MAX_SOURCE_BYTES = 2 * 1024 * 1024


@dataclass
class ModuleCheck:
    module: str
    problem: Optional[str] = None  # why nothing in this module can be graded
    defined: Optional[Set[str]] = None  # top-level names; None when they cannot be known statically
    missing: Set[str] = field(default_factory=set)


def inspect_module(directory: Path, module: str, required: tuple) -> ModuleCheck:
    path = directory / f"{module}.py"
    check = ModuleCheck(module)
    if path.is_symlink():  # never follow it: the grader would read (and quote) a file of its own machine
        check.problem = f"{module}.py is a symbolic link; submit the file itself"
        return check
    if not path.is_file():
        check.problem = f"{module}.py is missing from the submission"
        return check
    try:
        data = path.read_bytes()
        if len(data) > MAX_SOURCE_BYTES:
            check.problem = f"{module}.py is larger than {MAX_SOURCE_BYTES // 1024} KiB"
            return check
        source = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        check.problem = f"{module}.py cannot be read as UTF-8 text: {exc}"
        return check
    try:
        tree = compile(source, f"{module}.py", "exec", ast.PyCF_ONLY_AST | ast.PyCF_TYPE_COMMENTS, dont_inherit=True)
        compile(tree, f"{module}.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        check.problem = f"SyntaxError in {module}.py, line {exc.lineno}: {exc.msg}" + (f"\n    {line}" if line else "")
        return check
    except (ValueError, RecursionError, MemoryError) as exc:
        check.problem = f"{module}.py cannot be compiled: {exc}"
        return check
    check.defined = _top_level_names(tree)
    if check.defined is not None:
        check.missing = {name for name in required if name not in check.defined}
    return check


def _top_level_names(tree: ast.Module) -> Optional[Set[str]]:
    """Names a module defines at top level; None if it star-imports (names unknowable statically)."""
    names: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "setattr", "exec"):
            return None  # names made dynamically: let the worker say what exists
    return names


def inspect(directory: Path, required: Dict[str, tuple]) -> Dict[str, ModuleCheck]:
    """Check every graded module of a submission directory (which must exist); ``required`` maps each
    graded module to the functions it must define."""
    return {module: inspect_module(directory, module, names) for module, names in required.items()}
