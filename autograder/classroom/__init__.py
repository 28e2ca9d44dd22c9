"""Grading a class: jobs, local and Dask runners, the gradebook and its summary."""
