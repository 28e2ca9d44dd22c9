"""Process mode with the worker's kernel confinement (Landlock + seccomp, autograder/sandbox/confine.py),
graded as ROOT and as an ORDINARY USER (issue 13's "done when").

tests/hostile/confined_driver.py is the grader side: it starts tests/hostile/confined_probe.py
through the real worker start-up (the confinement prelude) in process mode, and grades three hostile
submissions of tests/hostile/corpus.py (network, read_reference, vandal) with the real grader. The
driver runs as root (this test process's user on CI) and, through ``setpriv``, as an ordinary user
(tests/test_sandbox_user.py's helpers). Every file the worker must not read is readable by that
user outside the sandbox (the control), every file it must not change is writable by that user,
and the listeners on 127.0.0.1 see nothing.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomli is the same parser, backported
    import tomli as tomllib
from pathlib import Path
from typing import Dict, Optional

import pytest

from autograder.packs.rnn_lstm import SOLUTIONS_DIR
from autograder.paths import REPO_ROOT
from autograder.sandbox import confine

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "hostile" / "confined_driver.py"
GRADED = ("network", "read_reference", "vandal")
_spec = importlib.util.spec_from_file_location("hostile_corpus_confined", HERE / "hostile" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules["hostile_corpus_confined"] = corpus
_spec.loader.exec_module(corpus)  # type: ignore[union-attr]


def _requirements() -> None:
    missing = [f"{p}: {why}" for p, (works, why) in confine.status().items() if not works]
    if missing:
        pytest.skip(f"this kernel cannot confine the worker: {'; '.join(missing)}")


def _hashes(root: Path) -> Dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def _run(as_user: bool) -> Dict:
    _requirements()
    user = None
    if as_user:
        if os.geteuid() != 0:
            pytest.skip(f"the tests already run as an ordinary user (uid {os.getuid()}): the root run covers it")
        for tool in ("setpriv", "unshare", "mount"):
            if shutil.which(tool) is None:
                pytest.skip(f"{tool} (util-linux) is needed to run the grader as another user")
        from test_sandbox_user import ensure_user

        user = ensure_user()
    base = Path(tempfile.mkdtemp(prefix="sandbox-confined-test-"))
    tcp, udp = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        os.chmod(base, 0o755)
        (base / "hold").mkdir()
        submission, other, home, decoy = base / "submission", base / "other", base / "home", base / "decoy"
        for folder in (submission, other, home, decoy):
            folder.mkdir()
        (submission / "rnn_layers.py").write_text("VALUE = 42\n")
        (other / "rnn_layers.py").write_text("ANOTHER STUDENT\n")
        (home / "notes.txt").write_text("A HOME FILE\n")
        for name in ("delete_me.txt", "write_me.txt"):
            (decoy / name).write_text("DECOY\n")
        corpus.copy_tree(SOLUTIONS_DIR, decoy / "solutions")
        tag = secrets.token_hex(4)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(8)
        tcp.setblocking(False)
        udp.bind(("127.0.0.1", 0))
        udp.setblocking(False)
        context = {"repo": REPO_ROOT, "port": tcp.getsockname()[1], "decoy": decoy, "other": other,
                   "results": base / "results.json", "tag": tag}
        hostile = [corpus.build(name, SOLUTIONS_DIR, base / "graded" / name, context) for name in GRADED]
        if user is not None:
            for path in [base, *base.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)  # so the control can read and the worker could write
        before = _hashes(base)
        request = {"submission": str(submission), "own": str(submission / "rnn_layers.py"),
                   "tcp_port": tcp.getsockname()[1], "udp_port": udp.getsockname()[1],
                   "read": [str(SOLUTIONS_DIR / "gradient_flow.py"), str(other / "rnn_layers.py"),
                            str(home / "notes.txt"), "/etc/passwd", str(decoy / "solutions" / "rnn_layers.py")],
                   "list": ["/", str(base), str(home), "/etc"],
                   "delete": [str(decoy / "delete_me.txt")],
                   "write": [str(decoy / "write_me.txt"), str(base / f"forged-{tag}.json"), f"/tmp/forged-{tag}.json"],
                   "grade": [str(p) for p in hostile]}
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": str(home)}
        argv = [sys.executable, str(DRIVER), json.dumps(request)]
        if user is not None:
            from test_sandbox_user import as_user_command

            argv = as_user_command(user, argv, env, base / "hold")
        else:
            argv = ["env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["expected_uid"] = user.pw_uid if user is not None else os.getuid()
        result["changed"] = sorted(k for k in set(before) | set(_hashes(base))
                                   if before.get(k) != _hashes(base).get(k) and not k.startswith("hold"))
        result["forged_tmp"] = Path(f"/tmp/forged-{tag}.json").exists()
        result["tcp_reached"] = _accepted(tcp)
        result["udp_reached"] = _received(udp)
        return result
    finally:
        tcp.close()
        udp.close()
        Path(f"/tmp/forged-{tag}.json").unlink(missing_ok=True) if "tag" in locals() else None
        shutil.rmtree(base, ignore_errors=True)


def _accepted(listener: socket.socket) -> bool:
    try:
        listener.accept()[0].close()
        return True
    except BlockingIOError:
        return False


def _received(sock: socket.socket) -> Optional[bytes]:
    try:
        return sock.recv(100)
    except BlockingIOError:
        return None


@pytest.fixture(scope="module")
def as_root() -> Dict:
    if os.geteuid() != 0:
        pytest.skip(f"the tests run as uid {os.getuid()}; the ordinary-user run below is this one")
    return _run(as_user=False)


@pytest.fixture(scope="module")
def as_user() -> Dict:
    return _run(as_user=True)


def _lost(name: str) -> float:
    with open(REPO_ROOT / "autograder" / "packs" / "rnn_lstm" / "rubric.toml", "rb") as handle:
        rubric = tomllib.load(handle)
    hostile = corpus.CORPUS[name]
    return sum(t["points"] for fn in hostile.lost for t in rubric[fn]["tests"] if t["kind"] not in hostile.kept_kinds)


def _check(result: Dict) -> None:
    assert result["returncode"] == 0, result["stderr"]
    report = result["report"]
    assert result["grader_uid"] == result["expected_uid"]
    assert result["available"] == ["landlock", "seccomp"]
    assert "Kernel confinement: Landlock" in result["describe"] and "seccomp:" in result["describe"]
    assert "MISSING" not in result["describe"]
    # network: no socket but AF_UNIX, nothing reached the listeners
    assert (report["tcp"], report["udp"], report["tcp6"]) == ("PermissionError",) * 3
    assert report["unix_socket"] is True
    assert not result["tcp_reached"] and result["udp_reached"] is None
    # reads outside the runtime and the submission: the control reads them, the worker cannot
    assert all(ok is True for ok in result["control"].values()), result["control"]
    assert [p for p, ok in report["read"].items() if ok is True] == []
    assert [p for p, ok in report["list"].items() if ok is True] == []
    assert report["own"] == "VALUE = 42\n" and report["numpy_sum"] == 45.0
    # writes and deletes outside its temporary folder change nothing; inside it they work
    assert [p for p, ok in {**report["delete"], **report["write"]}.items() if ok is True] == []
    assert result["changed"] == [] and not result["forged_tmp"]
    assert report["tmp_write"] is True
    # no processes, no programs, no signal to the grader
    assert report["fork"] == "PermissionError" and report["exec"] == "PermissionError"
    assert report["signal_grader"] == "PermissionError"


def _check_graded(result: Dict) -> None:
    for name in GRADED:
        graded = result["graded"][name]
        assert not graded["breach"], name
        assert graded["score"] == pytest.approx(100 - _lost(name)), (name, graded)


def test_confined_process_mode_as_root(as_root: Dict) -> None:
    _check(as_root)


def test_confined_process_mode_as_root_grades_hostile_submissions_right(as_root: Dict) -> None:
    _check_graded(as_root)


def test_confined_process_mode_as_an_ordinary_user(as_user: Dict) -> None:
    _check(as_user)


def test_confined_process_mode_as_an_ordinary_user_grades_hostile_submissions_right(as_user: Dict) -> None:
    _check_graded(as_user)
