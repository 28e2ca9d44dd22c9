"""Run by tests/test_sandbox_user.py AS AN ORDINARY USER: the grader side of a bwrap sandbox.

Usage: python user_driver.py SUBMISSION_DIR REQUEST_JSON. Prints one JSON line: the grader's uid,
the bwrap probe, the inside report of inside_probe.py, the uid the worker has outside, and the
worker processes still alive after bwrap alone was killed (they must die with it).
"""
import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil

from autograder.sandbox import bwrap as sandbox_bwrap
from autograder.sandbox import launch as sandbox

submission = Path(sys.argv[1])
request = sys.argv[2]
probe = (Path(__file__).resolve().parent / "inside_probe.py").read_text(encoding="utf-8")
result = {"grader_uid": os.getuid(), "bwrap": list(sandbox.bwrap_status()), "mode": sandbox.resolve_mode("auto")}

proc = sandbox.launch([sys.executable, "-I", "-c", probe, request], submission=submission, mode="bwrap")
out, err = proc.communicate(timeout=60)
sandbox.kill(proc)
result["returncode"] = proc.returncode
result["stderr"] = err.decode(errors="replace")[-2000:]
result["report"] = json.loads(out.decode().strip().splitlines()[-1]) if proc.returncode == 0 else None

proc = sandbox.launch([sys.executable, "-I", "-c", "import time; time.sleep(60)"], submission=submission, mode="bwrap")
deadline = time.monotonic() + 10
workers = []
while time.monotonic() < deadline and not workers:
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
               if p.cmdline()[:1] == [sandbox_bwrap.current_runtime().inner_executable]]
    time.sleep(0.05)
result["worker_uids"] = sorted({p.uids().real for p in workers})
os.killpg(proc.pid, signal.SIGKILL)  # bwrap only: --die-with-parent must take the worker along
proc.wait()
time.sleep(0.5)
result["alive_after_bwrap_killed"] = [p.pid for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
sandbox.kill(proc)
print(json.dumps(result))
