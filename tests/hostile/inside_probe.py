"""Run INSIDE a sandbox (as ``python -I -c <this file's text> JSON``): try what a hostile submission
would try, and print one JSON line of what happened. The test decides what is allowed.

argv[1] is a JSON object: ``paths`` (host paths to look for), ``write`` (paths to try to create),
``port`` (a port the grader listens on at 127.0.0.1), ``secret_names`` (env variables to look for),
``public`` (an address on the internet to try).
"""
import ctypes
import json
import os
import socket
import sys

request = json.loads(sys.argv[1])
report = {"uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(), "env": sorted(os.environ)}

report["exists"] = {p: os.path.lexists(p) for p in request["paths"]}
readable = {}
for path in request["paths"]:
    try:
        with open(path, "rb") as handle:
            handle.read(16)
        readable[path] = True
    except OSError:
        readable[path] = False
report["readable"] = readable

written = {}
for path in request["write"]:
    try:
        with open(path, "w") as handle:
            handle.write('{"score": 100}')
        written[path] = True
    except OSError as exc:
        written[path] = exc.__class__.__name__
report["written"] = written


def connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=3):
            return "connected"
    except OSError as exc:
        return exc.__class__.__name__


report["loopback"] = connect("127.0.0.1", request["port"])
report["public"] = connect(request["public"], 80)
try:
    socket.getaddrinfo("pypi.org", 443)
    report["dns"] = "resolved"
except OSError as exc:
    report["dns"] = exc.__class__.__name__

pid1_environ = b""
try:
    with open("/proc/1/environ", "rb") as handle:
        pid1_environ = handle.read()
except OSError:
    pass
report["secrets_seen"] = [name for name in request["secret_names"]
                          if name in os.environ or name.encode() in pid1_environ]

status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
report["cap_eff"] = status["CapEff"].strip()
report["no_new_privs"] = status.get("NoNewPrivs", "").strip()
libc = ctypes.CDLL(None, use_errno=True)
report["nested_userns"] = libc.unshare(0x10000000)  # CLONE_NEWUSER: -1 when refused


def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


report["fds"] = [fd for fd in range(1024) if is_open(fd)]
report["root_entries"] = sorted(os.listdir("/"))
import numpy  # noqa: E402 - the runtime must work after all that

report["numpy"] = numpy.__version__
report["sum"] = float(numpy.arange(10.0).sum())
print(json.dumps(report))
