"""The record of one common mistake, and how a mistake is listed under several graded functions."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence


@dataclass(frozen=True)
class Mistake:
    """A common mistake, written as a variant of the reference.

    - ``key``: unique id, ``"<area>.<what>"``; a copy listed under a downstream function gets
      ``"@<function>"`` appended (``"rnn.tanh_grad_forgot_square@rnn_backward"``).
    - ``function``: the graded function whose failing test this mistake explains.
    - ``sentence``: one sentence for the student: what is wrong and how to fix it.
    - ``overrides``: ``"module.function"`` -> variant with that function's exact signature, reading and
      writing the reference cache format.
    """

    key: str
    function: str
    sentence: str
    overrides: Dict[str, Callable]


def listed(key: str, function: str, sentence: str, overrides: Dict[str, Callable],
           also: Sequence[str] = ()) -> List[Mistake]:
    """The mistake under ``function``, plus one copy under each downstream function in ``also``.

    A mistake inside a step function also shows in the sequence function that calls it (a wrong
    ``rnn_step_backward`` makes ``rnn_backward`` wrong too), so it is listed there as well, with
    the same sentence and overrides: one entry per (mistake, function) keeps ``function`` a plain
    string that the grader can filter on.
    """
    first = Mistake(key, function, sentence, dict(overrides))
    return [first] + [Mistake(f"{key}@{other}", other, sentence, dict(overrides)) for other in also]
