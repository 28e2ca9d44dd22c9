"""``python -m autograder.student_ci``: the command released student repositories run in CI.

Their workflow (``.github/workflows/feedback.yml``) names this module, so it stays here while the
code lives in :mod:`autograder.integrations.student_ci`.
"""
import sys

from autograder.integrations.student_ci import main

if __name__ == "__main__":
    sys.exit(main())
