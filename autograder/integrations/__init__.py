"""Gradescope's bundle, the student CI and nbgrader's exporter."""
