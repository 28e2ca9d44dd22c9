"""Measuring the grader itself: mutation testing and its report, benchmarks, similarity."""
