"""The grading engine: load a submission, draw examples from a pack's spec, check, score."""
