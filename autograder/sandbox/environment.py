"""The environment a worker starts with (both backends): nothing of the grader's own."""
from __future__ import annotations

from typing import Dict, Optional

from autograder.sandbox import confine


def clean_environment(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """A minimal environment, plus ``extra``: no secrets of the grader's reach the worker."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.update(extra or {})
    return env


def confinement_request() -> Dict[str, str]:
    """The variable that asks the worker for every kernel protection that works here
    (``AUTOGRADER_CONFINE``, read by :func:`autograder.sandbox.confine.confine_worker`)."""
    return {confine.ENV: ",".join(confine.available())}
