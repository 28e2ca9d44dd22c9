"""A stand-in for the single-submission grader (autograder.engine.grade / autograder.feedback.report), for batch tests.

It honours the interface that batch grading codes to: ``grade_submission(path, *, sandbox)`` returns
a results.json dict whose tests are named ``"<function>: ..."`` with per-test ``extra_data``, and
``extra_data.functions`` and ``extra_data.sandbox`` (the mode that ran). It grades by reading the source (no student code runs): a graded
function earns its points when it is defined and does not raise NotImplementedError; a ``# BUG``
comment in its body fails its second test with the mistake ``"bug-comment"``. Markers in
rnn_layers.py simulate a broken grader: ``STANDIN_RAISE`` raises, ``STANDIN_EXIT`` kills the
grading process, ``STANDIN_SLEEP`` hangs for a minute; and a slow one: ``STANDIN_HANG_WHILE FLAG
PIDFILE`` waits (at most a minute) while the file FLAG exists, with a child process of its own
(like a sandboxed worker) whose pid it writes to PIDFILE, then grades.

Holds no tests itself; its name only follows the repository's test-file ownership pattern.
"""
from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path
from typing import Any, Dict

from autograder.sandbox.launch import resolve_mode

MODULE_OF = {
    "rnn_layers": ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"),
    "lstm_layers": ("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"),
    "deep_layers": ("stacked_forward", "stacked_backward", "bidirectional_forward", "bidirectional_backward"),
    "gradient_flow": ("hidden_grad_norms", "clip_grad_norm"),
}
POINTS = (3.0, 2.0)  # "values" and "edge shapes" tests of every function


def _functions(path: Path) -> Dict[str, ast.FunctionDef]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _implemented(node: ast.FunctionDef) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Raise) and "NotImplementedError" in ast.unparse(sub):
            return False
    return True


def grade_submission(submission: Path, *, sandbox: str = "auto") -> Dict[str, Any]:
    submission = Path(submission)
    rnn = submission / "rnn_layers.py"
    marker = rnn.read_text(encoding="utf-8", errors="replace") if rnn.is_file() else ""
    if "STANDIN_RAISE" in marker:
        raise RuntimeError("stand-in grader raised on purpose")
    if "STANDIN_EXIT" in marker:
        os._exit(3)
    if "STANDIN_SLEEP" in marker:  # like a grader waiting on a sandboxed worker of its own
        import subprocess
        import sys

        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        Path(marker.split("STANDIN_SLEEP ")[1].split()[0]).write_text(str(child.pid))
        time.sleep(60)
    if "STANDIN_HANG_WHILE" in marker:
        import subprocess
        import sys

        flag, pid_file = marker.split("STANDIN_HANG_WHILE ")[1].split()[:2]
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        Path(pid_file).write_text(str(child.pid))
        deadline = time.monotonic() + 60
        while Path(flag).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child.kill()
        child.wait()
    tests, functions = [], {}
    for module, names in MODULE_OF.items():
        path = submission / f"{module}.py"
        defined = _functions(path)
        source = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        for name in names:
            node = defined.get(name)
            ok = node is not None and _implemented(node)
            bug = ok and "# BUG" in (ast.get_source_segment(source, node) or "")
            earned = 0.0
            for (label, points), passed in zip(zip(("values", "edge shapes"), POINTS), (ok, ok and not bug)):
                earned += points if passed else 0.0
                tests.append({
                    "name": f"{name}: {label}", "score": points if passed else 0.0, "max_score": points,
                    "status": "passed" if passed else "failed", "output": "" if passed else f"{name} is wrong",
                    "visibility": "visible",
                    "extra_data": {"function": name, "mistakes": ["bug-comment"] if (bug and label == "edge shapes") else []},
                })
            functions[name] = {"score": earned, "max_score": sum(POINTS)}
    return {
        "score": sum(t["score"] for t in tests), "execution_time": 0.01, "output": "stand-in", "tests": tests,
        "extra_data": {"sandbox": resolve_mode(sandbox), "functions": functions, "examples": {}},
    }


def feedback_markdown(results: Dict[str, Any]) -> str:
    rows = "\n".join(f"| {t['name']} | {t['score']:g}/{t['max_score']:g} |" for t in results["tests"])
    return f"# Feedback\n\nScore: {results['score']:g}\n\n| test | points |\n|---|---|\n{rows}\n"


def write_results(results: Dict[str, Any], path: Path) -> None:
    Path(path).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
