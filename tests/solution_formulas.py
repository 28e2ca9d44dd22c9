"""The solutions' formulas as normalized ASTs, to search a bundle for them (tests/test_bundle.py).

A formula is an expression with ``@``, ``.T``, ``tanh`` or ``exp`` and at least two operations
(``x.T @ da``, ``o * np.tanh(next_c)``; a lone ``np.tanh(a)`` is too common to mean anything).
Normalized so that writing it differently in the ways that do not change it still matches:

- operands are renamed in order of first appearance: a name, an attribute (``case.x``) or an entry
  by a constant key (``inputs["Wx"]``) is ``v0``, ``v1``, ...; so ``da @ Wx.T`` and
  ``g @ case["W"].T`` are the same formula;
- numbers compare by value (``1`` and ``1.0``), calls by the function's last name (``np.tanh``
  and ``numpy.tanh``);
- formulas split over statements are joined: in each function a name assigned once from a formula
  is also replaced by that formula where it is read (one level), so ``t = np.tanh(c); h = o * t``
  also yields ``o * np.tanh(c)``.
"""
from __future__ import annotations

import ast
import copy
from typing import Any, Dict

MARKS = ("tanh", "exp")
MIN_OPERATIONS = 2


def _operand(node: ast.AST) -> bool:
    """A variable-like operand: a name, an attribute path (not ``.T``), an entry by a constant key."""
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute) and node.attr != "T":
        return _operand(node.value)
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return _operand(node.value)
    return False


def _marked(node: ast.AST) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult):
            return True
        if (isinstance(n, ast.Attribute) and n.attr in ("T",) + MARKS) or (isinstance(n, ast.Name) and n.id in MARKS):
            return True
    return False


def _operations(node: ast.AST) -> int:
    return sum(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Call)) or (isinstance(n, ast.Attribute) and n.attr == "T")
               for n in ast.walk(node))


def normalize(node: ast.AST) -> Any:
    """A hashable form of an expression, with operands renamed v0, v1, ... in order of appearance."""
    names: Dict[str, str] = {}

    def norm(n: Any) -> Any:
        if isinstance(n, ast.Call):
            f = n.func
            called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else norm(f)
            return ("call", called, tuple(norm(a) for a in n.args),
                    tuple(sorted((k.arg or "**", norm(k.value)) for k in n.keywords)))
        if isinstance(n, ast.Attribute) and n.attr == "T":
            return ("T", norm(n.value))
        if isinstance(n, ast.AST) and _operand(n):
            return names.setdefault(ast.dump(n), f"v{len(names)}")
        if isinstance(n, ast.Constant):
            value = n.value
            return ("const", float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value))
        if isinstance(n, ast.AST):
            return (type(n).__name__,) + tuple(norm(v) for name, v in ast.iter_fields(n) if name != "ctx")
        if isinstance(n, list):
            return tuple(norm(v) for v in n)
        return n

    return norm(node)


class _Inline(ast.NodeTransformer):
    def __init__(self, definitions: Dict[str, ast.expr]) -> None:
        self.definitions = definitions

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.definitions:
            return copy.deepcopy(self.definitions[node.id])
        return node


def _joined(function: ast.AST) -> ast.AST:
    """``function`` with each name assigned once from a formula replaced by that formula where read."""
    counts: Dict[str, int] = {}
    definitions: Dict[str, ast.expr] = {}
    for n in ast.walk(function):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            counts[n.id] = counts.get(n.id, 0) + 1
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) and _marked(n.value):
            definitions[n.targets[0].id] = n.value
    once = {name: value for name, value in definitions.items() if counts.get(name) == 1}
    return _Inline(once).visit(copy.deepcopy(function)) if once else function


def formulas(source: str) -> Dict[Any, str]:
    """normalized formula -> its text, for every formula of ``source`` (functions also joined)."""
    tree = ast.parse(source)
    trees = [tree] + [_joined(f) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
    found: Dict[Any, str] = {}
    for root in trees:
        for node in ast.walk(root):
            if isinstance(node, ast.expr) and not _operand(node) and _marked(node) and _operations(node) >= MIN_OPERATIONS:
                found.setdefault(normalize(node), ast.unparse(node))
    return found
