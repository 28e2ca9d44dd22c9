"""The catalogue of common mistakes, each a variant of the reference, and :func:`diagnose`.

When a student's outputs on a failing input equal a variant's, the feedback names that mistake
in one sentence. One entry per (mistake, graded function): a mistake in a step function is also
listed under the sequence function that calls it (see :func:`model.listed`).
"""
from __future__ import annotations

from autograder.packs.rnn_lstm.mistakes.catalogue import MISTAKES, mistakes_for
from autograder.packs.rnn_lstm.mistakes.diagnose import diagnose
from autograder.packs.rnn_lstm.mistakes.model import Mistake

__all__ = ["Mistake", "MISTAKES", "diagnose", "mistakes_for"]
