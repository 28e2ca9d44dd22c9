"""The catalogue of common mistakes, each a variant of the reference, and :func:`diagnose`.

When a student's outputs on a failing input equal a variant's, the feedback names that mistake
in one sentence. One entry per (mistake, graded function): a mistake in a step function is also
listed under the sequence function that calls it (see :func:`model.listed`).
"""
from __future__ import annotations

from typing import List

from autograder.packs.rnn_lstm.mistakes import deep, flow, lstm, rnn
from autograder.packs.rnn_lstm.mistakes.diagnose import diagnose
from autograder.packs.rnn_lstm.mistakes.model import Mistake

MISTAKES: List[Mistake] = [*rnn.MISTAKES, *lstm.MISTAKES, *deep.MISTAKES, *flow.MISTAKES]


def mistakes_for(function: str) -> List[Mistake]:
    """The mistakes listed under one graded function, in catalogue order."""
    return [m for m in MISTAKES if m.function == function]


__all__ = ["Mistake", "MISTAKES", "diagnose", "mistakes_for"]
