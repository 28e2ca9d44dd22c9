"""The rnn_lstm autograder: release generation, hidden tests, sandboxed grading and reports.

The flow from a submission to a grade follows the modules:
load (``submission``) → run in sandbox (``sandbox``, ``worker``) → check (``checks``) →
score (``score``) → report (``report``).
"""
__version__ = "0.1.0"
