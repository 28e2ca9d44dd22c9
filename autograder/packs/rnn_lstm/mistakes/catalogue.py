"""Every mistake of the catalogue, in catalogue order (one entry per mistake and graded function)."""
from __future__ import annotations

from typing import List

from autograder.packs.rnn_lstm.mistakes import deep, flow, lstm, rnn
from autograder.packs.rnn_lstm.mistakes.model import Mistake

MISTAKES: List[Mistake] = [*rnn.MISTAKES, *lstm.MISTAKES, *deep.MISTAKES, *flow.MISTAKES]


def mistakes_for(function: str) -> List[Mistake]:
    """The mistakes listed under one graded function, in catalogue order."""
    return [m for m in MISTAKES if m.function == function]
