"""Where the grader's answers and examples come from: the seam between the engine's rules and its data.

The engine's orchestration (:mod:`autograder.engine.hidden_tests`, :mod:`autograder.engine.dependencies`,
:mod:`autograder.engine.grade`) asks an *oracle* for everything that is not the student's:

- ``expected(fn, inputs)``: the reference outputs of a scenario (inputs made from an example);
- ``trace(fn, inputs)``: the part calls a correct composite makes on those inputs, with their results;
- ``serve_part(key, args, kwargs)``: a graded part answered for the worker while a composite runs (its
  arguments come from the student's composite);
- ``backward_at_outputs(fn, inputs, forward, truncate)``: a backward's reference outputs at the student's
  own forward outputs;
- ``examples(fn, kind, profile, count)``: the examples a test judges, or None for the marking draws
  (derandomized Hypothesis and the boundary examples, :mod:`autograder.engine.strategies`).

The real grade uses :class:`ReferenceOracle` (the reference solutions, the marking draws). The student
CI (:mod:`autograder.integrations.student_ci`) uses an oracle of stored answers to other examples: where
the answer it needs is not stored (an input only the student's code determines), it records a
:class:`NotJudged` and the test is shown as not judged here, never guessed.
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from autograder.engine.spec import Function


class NotJudged(Exception):
    """The oracle has no answer for this input: the example cannot be judged here.

    ``fix`` names the function whose mistake makes the grader need that answer (fix it first)."""

    def __init__(self, fix: str, what: str = "") -> None:
        super().__init__(what or f"needs the reference where your {fix} is wrong")
        self.fix, self.what = fix, what


class ReferenceOracle:
    """The real grade's oracle: the reference solutions, the marking draws."""

    def __init__(self) -> None:
        self.misses: List[NotJudged] = []  # never filled here; the stored oracle records its misses

    def expected(self, fn: Function, inputs: Mapping[str, Any]) -> Dict[str, np.ndarray]:
        from autograder.engine import reference

        return reference.expected(fn, inputs)

    def trace(self, fn: Function, inputs: Mapping[str, Any]) -> Tuple[Any, List[Tuple[Function, tuple, dict, Any]]]:
        from autograder.engine import reference

        return reference.trace(fn, inputs)

    def serve_part(self, key: str, args: list, kwargs: dict) -> Any:
        from autograder.engine import reference

        return reference.serve_part(key, args, kwargs)

    def backward_at_outputs(self, fn: Function, inputs: Mapping[str, Any], forward: Mapping[str, np.ndarray],
                            truncate: Any = None) -> Optional[Dict[str, np.ndarray]]:
        from autograder.engine import pack

        at_outputs = pack.current().backward_at_outputs
        return at_outputs(fn, inputs, forward, truncate) if at_outputs else None

    def examples(self, fn: Function, kind: str, profile: str, count: int) -> Optional[Sequence[Any]]:
        """The fixed examples of a test, or None: the marking draws (Hypothesis, then boundary examples)."""
        return None

    def localizes(self) -> bool:
        """Whether failures are localized and diagnosed (needs the reference at the student's inputs)."""
        return True


_current: List[Any] = [ReferenceOracle()]


def current() -> Any:
    """The oracle in use (the reference, unless :func:`using` put another in place)."""
    return _current[-1]


@contextlib.contextmanager
def using(oracle: Any) -> Iterator[Any]:
    """Grade with ``oracle`` inside the block."""
    _current.append(oracle)
    try:
        yield oracle
    finally:
        _current.pop()
