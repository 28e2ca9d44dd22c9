"""The grading engine: load a submission, draw examples from a pack's spec, check, score."""

# The grading function, as the "module:function" string jobs, bundles and benchmarks import it by
# (a string so that a job can name it in another process or on another machine).
GRADE_ENTRY_POINT = "autograder.engine.grade:grade_submission"
