"""Run INSIDE a confined process-mode worker start-up (autograder/sandbox/confine.py's prelude first): try
what a hostile submission would, print one JSON line. argv: REQUEST_JSON SUBMISSION_DIR.

The request: ``tcp_port``/``udp_port`` (listeners of the test on 127.0.0.1), ``read`` (files that
must stay unreadable), ``list`` (folders that must stay unlistable), ``delete`` and ``write``
(files that must not change), ``grader_pid`` (a process to signal), ``own`` (a file of the submission).
"""
import json
import os
import socket
import sys

request = json.loads(sys.argv[1])
report = {"uid": os.getuid()}


def attempt(action):
    try:
        result = action()
        return True if result is None else result
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__


def tcp():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        sock.connect(("127.0.0.1", request["tcp_port"]))
        sock.sendall(b"stolen answers")


def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"stolen answers", ("127.0.0.1", request["udp_port"]))


def unix():
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()


report["tcp"] = attempt(tcp)
report["udp"] = attempt(udp)
report["tcp6"] = attempt(lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close())
report["unix_socket"] = attempt(unix)
report["read"] = {p: attempt(lambda p=p: open(p, "rb").read(1) and None) for p in request["read"]}
report["list"] = {p: attempt(lambda p=p: os.listdir(p) and None) for p in request["list"]}
report["delete"] = {p: attempt(lambda p=p: os.remove(p)) for p in request["delete"]}
report["write"] = {p: attempt(lambda p=p: open(p, "a").write("vandal") and None) for p in request["write"]}
report["own"] = attempt(lambda: open(request["own"]).read())
tmp = os.path.join(os.environ["TMPDIR"], "scratch.txt")
report["tmp_write"] = attempt(lambda: open(tmp, "w").write("ok") and None)
report["signal_grader"] = attempt(lambda: os.kill(request["grader_pid"], 0))
report["fork"] = attempt(lambda: os.fork() == 0 and os._exit(0))
report["exec"] = attempt(lambda: os.execv("/bin/true", ["true"]))
import numpy  # noqa: E402 - the runtime must still work

report["numpy_sum"] = float(numpy.arange(10.0).sum())
print(json.dumps(report))
