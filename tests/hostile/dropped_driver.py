"""Run by tests/test_sandbox_dropped.py AS ROOT, in a mount namespace where uid 65534 can reach the
runtime: a process-mode worker and what it can do after dropping privileges.

Usage: python dropped_driver.py REQUEST_JSON, with ``submission`` (root-owned, mode 0700/0600),
``closed`` and ``open`` (a decoy file in a root-owned 0700 directory, and one in a 0755 directory:
the control that shows a read would be seen), ``processes`` (the worker's process limit) and
``forks`` (how many forks the worker tries). Prints one JSON line.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

from autograder.sandbox import drop as sandbox_drop
from autograder.sandbox import launch as sandbox

WORKER = r'''
import json, os, resource, signal, sys, time
request = json.loads(sys.argv[1])
report = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
          "cwd": os.getcwd(), "own_file": open("rnn_layers.py").read()}
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
report["no_new_privs"] = status.get("NoNewPrivs", "").strip()
for key in ("closed", "open"):
    try:
        report[key] = open(request[key]).read()
    except OSError as exc:
        report[key] = type(exc).__name__
for key in ("root_pid", "parent"):
    pid = request["root_pid"] if key == "root_pid" else os.getppid()
    try:
        os.kill(pid, signal.SIGKILL if key == "root_pid" else 0)
        report["kill_" + key] = "sent"
    except OSError as exc:
        report["kill_" + key] = type(exc).__name__
report["nproc_limit"] = resource.getrlimit(resource.RLIMIT_NPROC)[0]
children, error = [], None
for _ in range(request["forks"]):
    try:
        pid = os.fork()
    except OSError as exc:
        error = type(exc).__name__
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
report["forked"], report["fork_error"] = len(children), error
for pid in children:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
import numpy
report["numpy_sum"] = float(numpy.arange(10.0).sum())
print(json.dumps(report))
'''

request = json.loads(sys.argv[1])
result = {"drop_status": list(sandbox_drop.drop_status()), "describe": sandbox.describe("process")}
victim = subprocess.Popen(["sleep", "60"])  # a process of root's
request["root_pid"] = victim.pid
submission = Path(request["submission"])
limits = sandbox.Limits(processes=request["processes"])
proc = sandbox.launch([sys.executable, "-I", "-c", WORKER, json.dumps(request)], submission=submission,
                      mode="process", limits=limits)
out, err = proc.communicate(timeout=120)
sandbox.kill(proc)
result["returncode"] = proc.returncode
result["stderr"] = err.decode(errors="replace")[-2000:]
result["report"] = json.loads(out.decode().strip().splitlines()[-1]) if proc.returncode == 0 else None
result["copy_removed"] = bool(result["report"]) and not os.path.exists(result["report"]["cwd"])
result["root_process_alive"] = victim.poll() is None
victim.kill()
victim.wait()
print(json.dumps(result))
