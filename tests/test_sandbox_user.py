"""The bwrap sandbox when the grader is an ORDINARY USER (TAs' machines), not root (CI here).

As root, a fixture creates a system user (``useradd``) and runs tests/hostile/user_driver.py as
that user (``setpriv``). The Python runtime or the repository may live below a directory that
user cannot enter (pyenv in /root, mode 700; a CI clone there): then the driver runs in a private
mount namespace (``unshare``) in which that directory is replaced by a world-searchable tmpfs
holding only those entries, which is what an ordinary user's own installation looks like. When the tests already run as an
ordinary user, tests/test_sandbox.py covers this case and this module is skipped.
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.packs.rnn_lstm import SOLUTIONS_DIR
from autograder.paths import REPO_ROOT
from autograder.sandbox import bwrap as sandbox_bwrap
from autograder.sandbox import launch as sandbox

USER = "agsandbox"
HERE = Path(__file__).resolve().parent
DRIVER = HERE / "hostile" / "user_driver.py"


def ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    if shutil.which("useradd") is None:
        pytest.skip("cannot create an ordinary user: useradd is not installed")
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                   check=True, capture_output=True)
    return pwd.getpwnam(USER)


def first_closed_ancestor(path: Path) -> Path | None:
    """The first directory above ``path`` that others cannot search (e.g. /root), if any."""
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & 0o001:
            return parent
    return None


def needed_paths() -> list[Path]:
    """What the grader running as another user must reach: the runtime, the venv, the repository."""
    return [Path(os.path.realpath(p)) for p in (sys.base_prefix, sys.prefix, REPO_ROOT)]


def as_user_command(user: pwd.struct_passwd, argv: list[str], env: dict[str, str], hold: Path) -> list[str]:
    """``argv`` as ``user``. Each closed directory above a needed path (pyenv's /root, a CI clone in
    /root) is replaced, in a private mount namespace only, by a world-searchable tmpfs holding just
    the needed entries (bind mounts of the originals): the host's view does not change."""
    run = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "env", "-i",
           *[f"{k}={v}" for k, v in env.items()], *argv]
    return reveal_runtime_command(run, hold)


def reveal_runtime_command(run: list[str], hold: Path) -> list[str]:
    """``run`` in a private mount namespace where each closed directory above a needed path is a
    world-searchable tmpfs holding just the needed entries (``run`` itself unchanged if none is)."""
    entries: dict[Path, set[Path]] = {}
    for path in needed_paths():
        closed = first_closed_ancestor(path)
        if closed is not None:
            entry = closed / path.relative_to(closed).parts[0]  # e.g. /root/.pyenv
            if any(not os.stat(p).st_mode & 0o001 for p in path.parents if p.is_relative_to(entry)):
                pytest.skip(f"{path} is below more than one closed directory; cannot show it to another user")
            entries.setdefault(closed, set()).add(entry)
    if not entries:
        return run
    steps = []
    for number, (closed, children) in enumerate(sorted(entries.items())):
        held = []
        for index, child in enumerate(sorted(children)):
            keep = hold / f"{number}-{index}"
            steps += [f"mkdir -p {shlex.quote(str(keep))}", f"mount --bind {shlex.quote(str(child))} {shlex.quote(str(keep))}"]
            held.append((keep, child))
        steps.append(f"mount -t tmpfs -o mode=755,size=1m tmpfs {shlex.quote(str(closed))}")
        for keep, child in held:
            steps += [f"mkdir -p {shlex.quote(str(child))}", f"mount --bind {shlex.quote(str(keep))} {shlex.quote(str(child))}"]
    script = " && ".join(steps + [f"exec {shlex.join(run)}"])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


@pytest.fixture(scope="module")
def user_run():
    if os.geteuid() != 0:
        pytest.skip(f"the tests already run as an ordinary user (uid {os.getuid()}); test_sandbox.py covered it")
    if not sandbox.bwrap_status()[0]:
        pytest.skip(f"bubblewrap does not work on this machine: {sandbox.bwrap_status()[1]}")
    for tool in ("setpriv", "unshare", "mount"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (util-linux) is needed to run the grader as another user")
    user = ensure_user()
    base = Path(tempfile.mkdtemp(prefix="sandbox-user-test-"))
    try:
        os.chmod(base, 0o755)
        hold = base / "hold"
        hold.mkdir()
        submission = base / "submission"
        submission.mkdir()
        (submission / "rnn_layers.py").write_text("X = 1\n")
        os.chown(submission, user.pw_uid, user.pw_gid)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        tag = secrets.token_hex(4)
        request = {
            "paths": [str(REPO_ROOT), str(SOLUTIONS_DIR / "rnn_layers.py"), "/root", "/home", str(base / "hold")],
            "write": [f"/tmp/forged-{tag}.json", "/submission/forged.json", "/forged.json"],
            "port": listener.getsockname()[1],
            "secret_names": ["GRADER_SECRET"],
            "public": "1.1.1.1",
        }
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "GRADER_SECRET": "s3cr3t-" + tag,
               "HOME": str(base)}
        command = as_user_command(user, [sys.executable, str(DRIVER), str(submission), json.dumps(request)], env, hold)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        try:
            listener.accept()
            reached = True
        except OSError:
            reached = False
        listener.close()
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["listener_reached"] = reached
        result["forged_on_host"] = Path(f"/tmp/forged-{tag}.json").exists()
        yield user, result
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_ordinary_user_gets_bwrap_and_runs_numpy_inside(user_run) -> None:
    user, result = user_run
    assert result["grader_uid"] == user.pw_uid
    assert result["bwrap"] == [True, ""] and result["mode"] == "bwrap"
    assert result["returncode"] == 0, result["stderr"]
    assert result["report"]["sum"] == 45.0


def test_ordinary_user_worker_is_confined(user_run) -> None:
    _, result = user_run
    report = result["report"]
    assert report["uid"] == sandbox_bwrap.SANDBOX_UID  # inside; outside it stays the grader's user
    assert not any(report["exists"].values()) and not any(report["readable"].values())
    assert [path for path, ok in report["written"].items() if ok is True] == [path for path in report["written"]
                                                                            if path.startswith("/tmp/")]
    assert not result["forged_on_host"]
    assert report["loopback"] != "connected" and not result["listener_reached"]
    assert report["public"] != "connected"
    assert report["secrets_seen"] == []
    assert report["cap_eff"] == "0000000000000000" and report["nested_userns"] == -1
    assert report["fds"] == [0, 1, 2]


def test_ordinary_user_worker_keeps_its_uid_outside_and_dies_with_bwrap(user_run) -> None:
    user, result = user_run
    assert result["worker_uids"] == [user.pw_uid]
    assert result["alive_after_bwrap_killed"] == []


def test_ordinary_user_grades_a_cheating_submission_with_the_cli(user_run) -> None:
    """The real CLI as the ordinary user, sandbox "auto": the user can read solutions/ on the host,
    the submission tries to copy them, and inside the sandbox it cannot."""
    user, _ = user_run
    import importlib.util
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    spec = importlib.util.spec_from_file_location("hostile_corpus_user", HERE / "hostile" / "corpus.py")
    corpus = importlib.util.module_from_spec(spec)
    sys.modules["hostile_corpus_user"] = corpus
    spec.loader.exec_module(corpus)  # type: ignore[union-attr]
    assert os.access(SOLUTIONS_DIR / "gradient_flow.py", os.R_OK)  # so copying is possible outside the sandbox
    base = Path(tempfile.mkdtemp(prefix="sandbox-user-cli-"))
    try:
        os.chmod(base, 0o755)
        hold = base / "hold"
        hold.mkdir()
        context = {"repo": REPO_ROOT, "port": 9, "decoy": base / "decoy", "other": base / "other",
                   "results": base / "out" / "results.json", "tag": "user"}
        submission = corpus.build("read_reference", SOLUTIONS_DIR, base / "submission", context)
        out = base / "out"
        out.mkdir()
        for path in (submission, *submission.iterdir(), out):
            os.chown(path, user.pw_uid, user.pw_gid)
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "HOME": str(out)}
        argv = [sys.executable, "-m", "autograder", "grade", str(submission), "--results", str(out / "results.json"),
                "--sandbox", "auto"]
        done = subprocess.run(as_user_command(user, argv, env, hold), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        results = json.loads((out / "results.json").read_text())
        with open(REPO_ROOT / "autograder" / "packs" / "rnn_lstm" / "rubric.toml", "rb") as handle:
            clip_points = sum(t["points"] for t in tomllib.load(handle)["clip_grad_norm"]["tests"])
        assert results["extra_data"]["sandbox"] == "bwrap"
        assert results["score"] == 100 - clip_points
        assert "BREACH" not in json.dumps(results)
    finally:
        shutil.rmtree(base, ignore_errors=True)
