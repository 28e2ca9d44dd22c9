"""Run by tests/test_sandbox_confined.py as root or AS AN ORDINARY USER: the grader side of process
mode with the worker's kernel confinement (Landlock and seccomp, autograder/sandbox/confine.py).

Usage: python confined_driver.py REQUEST_JSON (see confined_probe.py; plus ``submission``, and
``grade``: folders of hostile submissions to grade with the real grader). Prints one JSON line:
the protections, the control (the same reads unconfined, by this grader's user), the probe's
report from inside a confined worker start-up, and per graded submission its score and whether
"BREACH" appears in its results.
"""
import dataclasses
import json
import os
import sys
from pathlib import Path

from autograder.engine import grade
from autograder.sandbox import confine
from autograder.sandbox import launch as sandbox

request = json.loads(sys.argv[1])
probe = (Path(__file__).resolve().parent / "confined_probe.py").read_text(encoding="utf-8")
result = {"grader_uid": os.getuid(), "available": confine.available(), "describe": sandbox.describe("process")}
control = {}
for path in request["read"]:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        control[path] = True
    except OSError as exc:
        control[path] = type(exc).__name__
result["control"] = control

request["grader_pid"] = os.getpid()
proc = sandbox.launch([sys.executable, "-I", "-c", confine.bootstrap_prelude() + probe, json.dumps(request),
                       request["submission"]], submission=Path(request["submission"]), mode="process")
out, err = proc.communicate(timeout=120)
sandbox.kill(proc)
result["returncode"] = proc.returncode
result["stderr"] = err.decode(errors="replace")[-2000:]
result["report"] = json.loads(out.decode().strip().splitlines()[-1]) if proc.returncode == 0 else None

fast = [dataclasses.replace(t, examples=min(t.examples, 2)) for t in grade.load_rubric()]
grade.load_rubric = lambda *a, **k: list(fast)
graded = {}
for folder in request["grade"]:
    results = grade.grade_submission(Path(folder), sandbox="process")
    text = json.dumps(results)
    graded[Path(folder).name] = {"score": results["score"], "breach": "BREACH" in text,
                                 "failed": sorted({t["name"].split(":")[0] for t in results["tests"]
                                                   if t["status"] != "passed"})}
result["graded"] = graded
print(json.dumps(result))
