"""The autograder: one engine that grades assignment packs (this course's: ``packs/rnn_lstm``).

A submission flows through the subpackages in this order (ARCHITECTURE.md):
load (``engine.submission``) → run in sandbox (``sandbox``, ``worker``) → check
(``engine.hidden_tests``, ``engine.checks``) → score (``engine.score``) → report (``feedback``).
``cli`` has one module per command, ``classroom`` grades a class, ``authoring`` makes the student
release, ``integrations`` holds Gradescope and the student CI, ``quality`` measures the grader.
"""
__version__ = "0.1.0"
