"""An AST mutator for the pack's reference modules (grading and the report: :mod:`mutation_report`).

Ours rather than mutmut: mutmut rewrites a package in place and runs its pytest suite per mutant
(with a trampoline in the mutated code), while here each mutant must be a plain submission
directory for the real grader, and the operators worth having are specific (transposes, slice
steps, reversed(), activations).

A *mutant* is the reference submission with one small change in one graded module: an operator
swap (+ <-> -, * <-> /, @ -> *, ** -> *), a dropped term (a + b -> a), a removed transpose
(W.T -> W), a changed constant (1.0 -> 0.0 / 2.0, 0 -> 1, n -> n +- 1), a shifted slice bound
(a[i:j] -> a[i + 1:j]), a shifted index (x[:, t] -> x[:, t - 1]) or range bound (range(T) ->
range(T - 1)), a removed slice step (x[:, ::-1] -> x[:, :]), a removed reversed(), a
removed activation (np.tanh(a) -> a), a swapped reduction (sum -> mean, zeros -> ones), a flipped
comparison (> <-> >=, == <-> !=, is <-> is not), and <-> or, a removed unary minus or not, or a
dropped statement. Only function bodies are mutated (no docstrings, annotations or imports).

Each mutant has a stable id ``module.function:line:column: operator: original -> mutated`` (the
position in the reference file; source as ``ast.unparse`` prints it, a tiny node shown with its
enclosing expression). A mutant is *killed* when the grader gives it less than full marks.
Survivors are either equivalent (listed with a reason in the pack's ``mutation_equivalents.toml``)
or grader bugs.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from autograder.engine import pack

# --- what a mutation is -----------------------------------------------------------------------

Make = Callable[[ast.AST], ast.AST]

BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
               ast.MatMult: ast.Mult, ast.Pow: ast.Mult}
COMPARE_FLIPS = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Eq: ast.NotEq,
                 ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
# Calls that can be removed, leaving their first argument (an activation or a conversion forgotten).
UNWRAPPABLE_CALLS = {"tanh", "sigmoid", "sqrt", "exp", "float", "array", "reversed", "square"}
NAME_SWAPS = {"sum": "mean", "mean": "sum", "zeros": "ones", "zeros_like": "ones_like", "ones": "zeros"}
DROPPABLE_STATEMENTS = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.Raise, ast.If)


def _called_name(node: ast.Call) -> Optional[str]:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _constant_values(value: object) -> List[object]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return []
    if isinstance(value, float):
        return [0.0, 2.0] if value == 1.0 else [1.0] if value == 0.0 else [0.0, value * 2]
    return [1] if value == 0 else [0, 2] if value == 1 else [value - 1, value + 1]


def _plus_one(expr: ast.expr) -> ast.expr:
    return ast.BinOp(left=copy.deepcopy(expr), op=ast.Add(), right=ast.Constant(1))


def _minus_one(expr: ast.expr) -> ast.expr:
    return ast.BinOp(left=copy.deepcopy(expr), op=ast.Sub(), right=ast.Constant(1))


def _shift_element(n: ast.Subscript, k: int) -> ast.Subscript:
    elements = list(n.slice.elts)
    elements[k] = _minus_one(elements[k])
    return ast.Subscript(n.value, ast.Tuple(elements, ast.Load()), n.ctx)


def mutations_of(node: ast.AST, loop_vars: frozenset = frozenset()) -> Iterator[Tuple[str, Make]]:
    """(operator name, node -> replacement node) for every mutation that applies to ``node``.

    ``loop_vars``: the names bound by ``for`` loops of the enclosing function, the only indices
    an index shift applies to (``x[:, t]``, ``cache[t]``; not a boolean mask ``z[pos]``).
    """
    if isinstance(node, ast.BinOp):
        if type(node.op) in BINOP_SWAPS:
            new_op = BINOP_SWAPS[type(node.op)]
            yield "binop swap", lambda n, new_op=new_op: ast.BinOp(n.left, new_op(), n.right)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            yield "drop right term", lambda n: n.left
            if isinstance(node.op, ast.Add):
                yield "drop left term", lambda n: n.right
    elif isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.ctx, ast.Load):
        yield "transpose removal", lambda n: n.value
    elif isinstance(node, ast.Constant):
        for value in _constant_values(node.value):
            yield "constant change", lambda n, value=value: ast.Constant(value)
    elif isinstance(node, ast.Slice):
        if node.lower is not None:
            yield "slice bound shift", lambda n: ast.Slice(_plus_one(n.lower), n.upper, n.step)
        if node.upper is not None:
            yield "slice bound shift", lambda n: ast.Slice(n.lower, _plus_one(n.upper), n.step)
        if node.step is not None:
            yield "slice step removal", lambda n: ast.Slice(n.lower, n.upper, None)
    elif isinstance(node, ast.Subscript):  # an off-by-one time index: x[:, t] -> x[:, t - 1]
        if isinstance(node.slice, ast.Name) and node.slice.id in loop_vars:
            yield "index shift", lambda n: ast.Subscript(n.value, _minus_one(n.slice), n.ctx)
        elif isinstance(node.slice, ast.Tuple):
            for k, element in enumerate(node.slice.elts):
                if isinstance(element, ast.Name) and element.id in loop_vars:
                    yield "index shift", lambda n, k=k: _shift_element(n, k)
    elif isinstance(node, ast.Call):
        name = _called_name(node)
        if name == "range":  # an off-by-one loop bound: range(T) -> range(T - 1)
            for k, arg in enumerate(node.args):
                if not isinstance(arg, (ast.Constant, ast.UnaryOp)):
                    yield "range bound shift", lambda n, k=k: ast.Call(
                        n.func, [_minus_one(a) if i == k else a for i, a in enumerate(n.args)], n.keywords)
        if name in UNWRAPPABLE_CALLS and node.args and not isinstance(node.args[0], ast.Starred):
            yield f"{name}() removal", lambda n: n.args[0]
        if name in NAME_SWAPS:
            new = NAME_SWAPS[name]

            def swap(n: ast.AST, new: str = new) -> ast.AST:
                n = copy.deepcopy(n)
                if isinstance(n.func, ast.Attribute):
                    n.func.attr = new
                else:
                    n.func.id = new
                return n

            yield "call swap", swap
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE_FLIPS:
        flipped = COMPARE_FLIPS[type(node.ops[0])]
        yield "comparison flip", lambda n, flipped=flipped: ast.Compare(n.left, [flipped()], n.comparators)
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield "and/or swap", lambda n, other=other: ast.BoolOp(other(), n.values)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        yield "unary removal", lambda n: n.operand
    if isinstance(node, DROPPABLE_STATEMENTS):
        yield "statement dropped", lambda n: ast.Pass()


# --- walking the module -----------------------------------------------------------------------


def _function_body(fn: ast.FunctionDef) -> List[ast.stmt]:
    body = fn.body
    has_docstring = body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
        and isinstance(body[0].value.value, str)
    return body[1:] if has_docstring else body


def _sites(tree: ast.Module) -> Iterator[Tuple[int, str, frozenset, ast.AST]]:
    """(index in the module body, function name, its loop variables, node) for every node of every
    top-level function body but variable annotations (never evaluated), in a fixed order."""
    for index, fn in enumerate(tree.body):
        if isinstance(fn, ast.FunctionDef):
            body = _function_body(fn)
            nodes = [node for statement in body for node in ast.walk(statement)]
            annotations = {id(sub) for node in nodes if isinstance(node, ast.AnnAssign) for sub in ast.walk(node.annotation)}
            loop_vars = frozenset(name.id for node in nodes if isinstance(node, ast.For)
                                  for name in ast.walk(node.target) if isinstance(name, ast.Name))
            for node in nodes:
                if id(node) not in annotations:
                    yield index, fn.name, loop_vars, node


# ast.unparse of Python 3.10 parenthesizes tuple targets ("(a, b) = c", "for (k, v) in"); 3.11+ does not.
# Mutant ids and sources are normalized to the 3.11+ form so that they, and the report's fingerprint,
# are the same on every claimed Python (the two forms are the same code).
_INSIDE = r"((?:[^()\n]|\([^()\n]*\))*)"  # a target, with one level of inner parentheses: "(a, b), c[f(i)]"
_TUPLE_ASSIGN = re.compile(r"^(\s*)\(" + _INSIDE + r"\) = ", re.MULTILINE)
_TUPLE_FOR = re.compile(r"(^|\s)for \(" + _INSIDE + r"\) in ", re.MULTILINE)


def unparse(node: ast.AST) -> str:
    """``ast.unparse(node)``, as Python 3.11+ writes it on every claimed Python."""
    text = ast.unparse(node)
    if sys.version_info < (3, 11):
        text = _TUPLE_FOR.sub(r"\1for \2 in ", _TUPLE_ASSIGN.sub(r"\1\2 = ", text))
    return text


def _short(node: ast.AST) -> str:
    text = unparse(node)
    first = text.splitlines()[0] if text else text
    return first + (" ..." if "\n" in text else "")


@dataclass(frozen=True)
class Mutant:
    """One mutant: which module and function it changes, where, and the whole mutated module."""

    module: str
    function: str
    line: int
    column: int
    operator: str
    original: str
    mutated: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.module}.{self.function}:{self.line}:{self.column}: {self.operator}: {self.original} -> {self.mutated}"


def _context(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> ast.AST:
    """The node to show for a mutation: the node itself, or for a tiny one (a constant, a slice) the
    nearest enclosing expression long enough to say where it is (``t % chunk == 0``, not ``0``)."""
    context = node
    while (len(unparse(context)) < 12 and not isinstance(context, (ast.stmt, ast.keyword))
           and isinstance(parents.get(context), (ast.expr, ast.keyword))):
        context = parents[context]
    return context


def mutants_of_module(module: str, text: str) -> List[Mutant]:
    """Every mutant of one module's source text, without duplicates or no-op changes.

    A mutation changes one top-level function, so the module is unparsed statement by statement
    and only the changed function is unparsed again for each mutant.
    """
    tree = ast.parse(text)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    pieces = [unparse(statement) for statement in tree.body]
    seen = set(pieces)
    mutants = []
    for index, function, loop_vars, node in list(_sites(tree)):
        for operator, make in mutations_of(node, loop_vars):
            replacement = make(node)
            context = _context(node, parents)
            original = _short(context)
            function_text, mutated = _replace_andunparse(tree.body[index], node, replacement, context, parents)
            if function_text in seen:
                continue
            seen.add(function_text)
            if isinstance(replacement, ast.Pass):
                mutated = "<dropped>"
            source = "\n\n".join(pieces[:index] + [function_text] + pieces[index + 1:]) + "\n"
            mutants.append(Mutant(module, function, node.lineno, node.col_offset, operator, original, mutated, source))
    return mutants


def _replace_andunparse(function: ast.AST, node: ast.AST, replacement: ast.AST, context: ast.AST,
                         parents: Dict[ast.AST, ast.AST]) -> Tuple[str, str]:
    """(function source, context source) with ``node`` swapped for ``replacement``; then restored."""
    parent = parents[node]
    field, index = _field_of(parent, node)
    if index is None:
        setattr(parent, field, replacement)
    else:
        getattr(parent, field)[index] = replacement
    try:
        shown = replacement if context is node else context
        return unparse(function), _short(shown)
    finally:
        if index is None:
            setattr(parent, field, node)
        else:
            getattr(parent, field)[index] = node


def _field_of(parent: ast.AST, child: ast.AST) -> Tuple[str, Optional[int]]:
    for field, value in ast.iter_fields(parent):
        if value is child:
            return field, None
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is child:
                    return field, index
    raise LookupError("node not among its parent's fields")


def reference_sources(solutions: Optional[Path] = None) -> Dict[str, str]:
    """module name -> source text of the pack's graded reference modules."""
    solutions = pack.current().reference_dir if solutions is None else solutions
    return {name: (solutions / f"{name}.py").read_text(encoding="utf-8") for name in pack.current().graded_modules}


def generate_mutants(sources: Optional[Dict[str, str]] = None) -> List[Mutant]:
    """All mutants of the graded reference modules, in a fixed order (module, then source order)."""
    sources = reference_sources() if sources is None else sources
    return list(_generate(tuple(sources[name] for name in pack.current().graded_modules)))


@lru_cache(maxsize=4)
def _generate(texts: Tuple[str, ...]) -> Tuple[Mutant, ...]:
    return tuple(m for name, text in zip(pack.current().graded_modules, texts) for m in mutants_of_module(name, text))


def fingerprint(sources: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """What a mutation report was computed from: sha256 of the reference modules, and of the
    mutator's output (every mutant's id and source), which changes whenever the mutator's behaviour
    does (but not for an edited comment in this file)."""
    sources = reference_sources() if sources is None else sources
    reference = hashlib.sha256("".join(f"{n}\n{sources[n]}" for n in pack.current().graded_modules).encode()).hexdigest()
    digest = hashlib.sha256()
    for m in generate_mutants(sources):
        digest.update(f"{m.id}\n{m.source}\n".encode())
    return {"reference_sha256": reference, "mutants_sha256": digest.hexdigest()}


def write_submission(mutant: Mutant, dest: Path, sources: Optional[Dict[str, str]] = None) -> Path:
    """Write the submission directory of one mutant (the mutated module plus the other three)."""
    sources = reference_sources() if sources is None else sources
    dest.mkdir(parents=True, exist_ok=True)
    for name in pack.current().graded_modules:
        text = mutant.source if name == mutant.module else sources[name]
        (dest / f"{name}.py").write_text(text, encoding="utf-8")
    return dest
